import { describe, expect, it } from 'vitest';
import { HostLoadMeter, cpuPercent, parseMeminfo, parseProcStat } from '../src/host-load.js';

const STAT = (user: number, idle: number): string => `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n`;
const MEMINFO = 'MemTotal:       2048000 kB\nMemFree:         100000 kB\nMemAvailable:   1024000 kB\n';

describe('host load from /proc', () => {
  it('reads busy and total jiffies (iowait counts as idle) and memory not available as used', () => {
    expect(parseProcStat('cpu  10 1 5 100 20 2 3 4 0 0\n')).toEqual({ busy: 25, total: 145 });
    expect(parseProcStat('intr 5\n')).toBeUndefined();
    expect(parseMeminfo(MEMINFO)).toEqual({ usedBytes: 1024000 * 1024, totalBytes: 2048000 * 1024 });
    expect(parseMeminfo('MemTotal: 5 kB\n')).toBeUndefined();
  });

  it('gives the CPU share between two samples, and 0 when no time passed', () => {
    expect(cpuPercent({ busy: 10, total: 100 }, { busy: 40, total: 200 })).toBe(30);
    expect(cpuPercent({ busy: 10, total: 100 }, { busy: 10, total: 100 })).toBe(0);
  });

  it('samples over the time since the previous sample, with the container count it is given', () => {
    const files = { '/proc/stat': STAT(100, 900), '/proc/meminfo': MEMINFO };
    const meter = new HostLoadMeter((p) => files[p as keyof typeof files]);
    expect(meter.sample(2)).toEqual({ cpuPercent: 10, memoryUsedBytes: 1024000 * 1024, memoryTotalBytes: 2048000 * 1024, containers: 2 });
    files['/proc/stat'] = STAT(175, 925);
    expect(meter.sample(3)).toMatchObject({ cpuPercent: 75, containers: 3 });
  });

  it('says nothing where /proc cannot be read', () => {
    const meter = new HostLoadMeter(() => {
      throw new Error('ENOENT');
    });
    expect(meter.sample(0)).toBeUndefined();
  });
});
