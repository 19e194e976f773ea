import { readFileSync } from 'node:fs';
import type { HostLoad } from '@shoal/core';

/** Jiffies the CPUs spent busy and in all, from the first line of /proc/stat. */
export interface CpuSample {
  busy: number;
  total: number;
}

/** `cpu  user nice system idle iowait irq softirq steal …`: idle and iowait are the idle time. */
export function parseProcStat(text: string): CpuSample | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Memory in use is what the kernel says is not available (MemTotal − MemAvailable), in bytes. */
export function parseMeminfo(text: string): { usedBytes: number; totalBytes: number } | undefined {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (total === undefined || available === undefined) return undefined;
  return { usedBytes: Math.max(0, total - available), totalBytes: total };
}

/** The share of the CPUs busy between two samples, 0–100; 0 when no time passed. */
export function cpuPercent(prev: CpuSample, now: CpuSample): number {
  const total = now.total - prev.total;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (now.busy - prev.busy)) / total));
}

/**
 * The host's load for heartbeats: two small reads of /proc per sample (no Docker call), the CPU
 * share over the time since the previous sample. Undefined where /proc does not say (not Linux).
 */
export class HostLoadMeter {
  #prev: CpuSample | undefined;

  constructor(private readonly read: (path: string) => string = (p) => readFileSync(p, 'utf8')) {}

  sample(containers: number): HostLoad | undefined {
    try {
      const cpu = parseProcStat(this.read('/proc/stat'));
      const mem = parseMeminfo(this.read('/proc/meminfo'));
      if (!cpu || !mem) return undefined;
      // the first sample has nothing before it: the share since boot is the best it can say
      const prev = this.#prev ?? { busy: 0, total: 0 };
      this.#prev = cpu;
      return { cpuPercent: Math.round(cpuPercent(prev, cpu) * 10) / 10, memoryUsedBytes: mem.usedBytes, memoryTotalBytes: mem.totalBytes, containers };
    } catch {
      return undefined;
    }
  }
}
