import { describe, expect, it } from 'vitest';
import { DnsTable, isClusterName } from '@shoal/agent';

function table(): DnsTable {
  const t = new DnsTable();
  t.replace(
    [
      { network: 'front', name: 'web', addresses: ['10.0.1.4', '10.0.1.2', '10.0.1.3'] },
      { network: 'front', name: 'tasks.web', addresses: ['10.0.1.2', '10.0.1.3', '10.0.1.4'] },
      // two services sharing an alias answer together
      { network: 'front', name: 'cache', addresses: ['10.0.1.10'] },
      { network: 'front', name: 'cache', addresses: ['10.0.1.11', '10.0.1.10'] },
      { network: 'back', name: 'db', addresses: ['10.0.2.5'] },
      { network: 'back', name: 'web', addresses: ['10.0.2.9'] },
    ],
    [
      { address: '10.0.1.2', networks: ['front'] },
      { address: '10.0.2.5', networks: ['back'] },
      { address: '10.0.1.20', networks: ['front', 'back'] },
    ],
  );
  return t;
}

describe('DnsTable', () => {
  it('answers a service name with every address, rotated by one on each query', () => {
    const t = table();
    expect(t.lookup('10.0.1.2', 'web')).toEqual({ kind: 'answer', addresses: ['10.0.1.2', '10.0.1.3', '10.0.1.4'] });
    expect(t.lookup('10.0.1.2', 'web')).toEqual({ kind: 'answer', addresses: ['10.0.1.3', '10.0.1.4', '10.0.1.2'] });
    expect(t.lookup('10.0.1.2', 'WEB.')).toEqual({ kind: 'answer', addresses: ['10.0.1.4', '10.0.1.2', '10.0.1.3'] });
  });

  it('answers only from the networks the asking container is on', () => {
    const t = table();
    expect(t.lookup('10.0.1.2', 'db')).toEqual({ kind: 'nxdomain' });
    expect(t.lookup('10.0.2.5', 'db')).toEqual({ kind: 'answer', addresses: ['10.0.2.5'] });
    expect(t.lookup('10.0.2.5', 'web')).toEqual({ kind: 'answer', addresses: ['10.0.2.9'] });
    // on both networks: both services called web
    expect(t.lookup('10.0.1.20', 'web')).toMatchObject({ kind: 'answer', addresses: expect.arrayContaining(['10.0.1.2', '10.0.2.9']) as string[] });
  });

  it('merges services that share an alias, without duplicates', () => {
    expect(table().lookup('10.0.1.2', 'cache')).toEqual({ kind: 'answer', addresses: ['10.0.1.10', '10.0.1.11'] });
  });

  it('says NXDOMAIN for unknown cluster names and forwards the rest, and everything for unknown clients', () => {
    const t = table();
    expect(t.lookup('10.0.1.2', 'nosuch')).toEqual({ kind: 'nxdomain' });
    expect(t.lookup('10.0.1.2', 'tasks.nosuch')).toEqual({ kind: 'nxdomain' });
    expect(t.lookup('10.0.1.2', 'deb.example.org')).toEqual({ kind: 'forward' });
    expect(t.lookup('192.0.2.1', 'web')).toEqual({ kind: 'forward' });
  });

  it('forgets everything not in the latest replace: a removed task is never answered again', () => {
    const t = table();
    t.replace([{ network: 'front', name: 'web', addresses: ['10.0.1.3'] }], [{ address: '10.0.1.2', networks: ['front'] }]);
    for (let i = 0; i < 5; i++) expect(t.lookup('10.0.1.2', 'web')).toEqual({ kind: 'answer', addresses: ['10.0.1.3'] });
    expect(t.lookup('10.0.2.5', 'db')).toEqual({ kind: 'forward' });
  });

  it('treats single labels and tasks.<service> as cluster names', () => {
    expect(isClusterName('web')).toBe(true);
    expect(isClusterName('tasks.web')).toBe(true);
    expect(isClusterName('web.example.org')).toBe(false);
  });
});

describe('DnsTable rotation', () => {
  it('moves only on A queries, so an A+AAAA pair still alternates a two-replica service', () => {
    const t = new DnsTable();
    t.replace([{ network: 'n', name: 'web', addresses: ['10.0.0.2', '10.0.0.3'] }], [{ address: '10.0.0.9', networks: ['n'] }]);
    const firsts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const a = t.lookup('10.0.0.9', 'web', 'A');
      t.lookup('10.0.0.9', 'web', 'AAAA');
      if (a.kind === 'answer') firsts.push(a.addresses[0] ?? '');
    }
    expect(firsts).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.2', '10.0.0.3']);
  });
});
