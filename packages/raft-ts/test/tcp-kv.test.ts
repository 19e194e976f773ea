import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startKvServer } from 'raft-ts';
import type { Endpoint } from 'raft-ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function call(port: number, method: string, path: string, body = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body: method === 'GET' ? undefined : body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('the example KV server over TCP', () => {
  it('three processes-worth of members elect a leader over loopback TCP and serve put, linearizable get and cas', async () => {
    const base = 17520;
    const root = fs.mkdtempSync(join(tmpdir(), 'raft-kv-'));
    cleanups.push(() => Promise.resolve(fs.rmSync(root, { recursive: true, force: true })));
    const peers = new Map<number, Endpoint>([1, 2, 3].map((i) => [i, { host: '127.0.0.1', port: base + i }]));
    for (const id of [1, 2, 3]) {
      const srv = await startKvServer({ id, peers, httpPort: base + 5 + id, dataDir: join(root, String(id)), tickMs: 5 });
      cleanups.push(srv.close);
    }
    let leader = 0;
    for (let i = 0; i < 400 && leader === 0; i++) {
      for (const id of [1, 2, 3]) {
        const s = await call(base + 5 + id, 'GET', '/status');
        if (s.json['role'] === 'leader') leader = id;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(leader).toBeGreaterThan(0);
    const port = base + 5 + leader;
    expect((await call(port, 'PUT', '/kv/a', 'one')).status).toBe(200);
    const follower = [1, 2, 3].find((id) => id !== leader) ?? 0;
    expect(await call(base + 5 + follower, 'PUT', '/kv/a', 'x')).toMatchObject({ status: 421, json: { error: 'notLeader', leader } });
    expect((await call(base + 5 + follower, 'GET', '/kv/a')).json).toEqual({ value: 'one' });
    expect((await call(port, 'POST', '/cas/a', JSON.stringify({ expect: 'one', value: 'two' }))).json).toMatchObject({ ok: true, before: 'one' });
    expect((await call(port, 'POST', '/cas/a', JSON.stringify({ expect: 'one', value: 'three' }))).json).toMatchObject({ ok: false, before: 'two' });
    expect((await call(base + 5 + follower, 'GET', '/kv/a')).json).toEqual({ value: 'two' });
  });
});
