import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '@shoal/cli';
import { CONNECT_TIMEOUT_MS } from '../src/client.js';

/** A server that accepts TCP and never says a word: what a NATS server on a stalled host looks like. */
async function silentServer(): Promise<{ server: Server; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { server, url: `nats://127.0.0.1:${addr.port}`, sockets };
}

describe('ApiClient.open', () => {
  const silent: Awaited<ReturnType<typeof silentServer>>[] = [];
  beforeAll(async () => {
    silent.push(await silentServer(), await silentServer());
  });
  afterAll(async () => {
    for (const s of silent) {
      for (const c of s.sockets) c.destroy();
      await new Promise((r) => s.server.close(r));
    }
  });

  it('gives up on each server that does not answer after its short connect timeout, then says which it tried', async () => {
    const natsUrl = silent.map((s) => s.url).join(',');
    const start = Date.now();
    const err = await ApiClient.open({ natsUrl, cluster: 'c1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - start;
    expect(err).toMatchObject({ code: 'unreachable', what: `cannot reach NATS at ${natsUrl} (each server tried for ${CONNECT_TIMEOUT_MS / 1000} s)` });
    // two servers, one dial each: not nats.js's 20 s default, nor several rounds
    expect(took).toBeGreaterThanOrEqual(2 * CONNECT_TIMEOUT_MS - 100);
    expect(took).toBeLessThan(2 * CONNECT_TIMEOUT_MS + 1500);
    // each was dialled once
    expect(silent.map((s) => s.sockets.length)).toEqual([1, 1]);
  });
});
