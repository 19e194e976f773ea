import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, decodeApiResponse, okResponse, type ApiResponse } from '@shoal/core';
import { ApiServer, Store, coordinatorStatusSubject, leaderApiSubject, type Bus, type BusMessage } from '@shoal/coordinator';

// A follower forwards writes to the leader. When that leader dies with the write in flight, its
// answer never comes: the follower must say so as soon as another leader is known and the first
// is gone, not after the forward's 12 s timeout (vitest gives up after 5 s, so a follower that
// waits fails here), so that the client sends the write again with the same request id (the
// store answers it once: request-dedup.test.ts). A replaced leader that is alive (it handed the
// lead over) answers itself.

/** The bus as a follower sees it: its API subscription, forwards that `answer` settles, and each old leader's status subject, answered while `alive`. */
class FollowerBus implements Bus {
  readonly subs = new Map<string, (m: BusMessage) => void>();
  forwarded: string[] = [];
  probed: string[] = [];
  alive = false;
  constructor(private readonly answer: (subject: string) => Promise<Uint8Array>) {}
  subscribe(subject: string, handler: (m: BusMessage) => void): () => void {
    this.subs.set(subject, handler);
    return () => this.subs.delete(subject);
  }
  publish(): void {}
  request(subject: string): Promise<Uint8Array> {
    if (subject !== leaderApiSubject('t')) {
      this.probed.push(subject);
      // NATS says "no responders" at once for a process that is gone
      return this.alive ? Promise.resolve(new Uint8Array(0)) : Promise.reject(new Error('503'));
    }
    this.forwarded.push(subject);
    return this.answer(subject);
  }
  send(verb: string, body: unknown): Promise<ApiResponse> {
    const handler = this.subs.get('shoal.t.api.>');
    if (!handler) throw new Error('not served');
    const data = new TextEncoder().encode(JSON.stringify({ v: PROTOCOL_VERSION, kind: 'api.request', id: 'r1', verb, body }));
    return new Promise((resolve) => handler({ subject: `shoal.t.api.${verb}`, data, respond: (d) => resolve(decodeApiResponse(JSON.parse(new TextDecoder().decode(d)))) }));
  }
}

const backend = { store: new Store(), propose: () => Promise.reject(new Error('a follower proposes nothing')) };

describe('a write forwarded to a leader that is replaced', () => {
  it('tells the client to send it again (leader_changed) once another leader is known and the first is gone, without waiting for the timeout', async () => {
    let leader = 1;
    // the dead leader never answers
    const bus = new FollowerBus(() => new Promise<Uint8Array>(() => undefined));
    new ApiServer({ cluster: 't', bus, backend, leading: () => false, leaderId: () => leader }).start();
    const reply = bus.send('service.scale', { service: 'web', replicas: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(bus.forwarded).toEqual([leaderApiSubject('t')]);
    leader = 3;
    const r = await reply;
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('leader_changed');
    expect(r.error.message).toContain('coordinator 3');
    expect(r.error.todo).toContain('same request id');
    // it asked the old leader, which did not answer
    expect(bus.probed).toEqual([coordinatorStatusSubject('t', 1)]);
    // the client sends it again, not this follower: one retry loop, where the request id lives
    expect(bus.forwarded).toHaveLength(1);
  });

  it('waits for a replaced leader that is still alive: it handed the lead over and answers the write itself', async () => {
    let leader = 1;
    let answerIt: (reply: Uint8Array) => void = () => undefined;
    const bus = new FollowerBus(() => new Promise<Uint8Array>((resolve) => (answerIt = resolve)));
    bus.alive = true;
    new ApiServer({ cluster: 't', bus, backend, leading: () => false, leaderId: () => leader }).start();
    const reply = bus.send('node.demote', { node: 'c1' });
    await new Promise((r) => setTimeout(r, 100));
    // the leader demotes itself: the lead moves first, the answer comes after
    leader = 2;
    await new Promise((r) => setTimeout(r, 300));
    expect(bus.probed.length).toBeGreaterThan(0);
    answerIt(new TextEncoder().encode(JSON.stringify(okResponse('r1', { role: 'standby' }))));
    expect(await reply).toMatchObject({ ok: true, body: { role: 'standby' } });
    expect(bus.forwarded).toHaveLength(1);
  });

  it('passes the answer on while the leader stays the same', async () => {
    const bus = new FollowerBus(async () => {
      await new Promise((r) => setTimeout(r, 150));
      return new TextEncoder().encode(JSON.stringify(okResponse('r1', { scaled: true })));
    });
    new ApiServer({ cluster: 't', bus, backend, leading: () => false, leaderId: () => 2 }).start();
    const r = await bus.send('service.scale', { service: 'web', replicas: 2 });
    expect(r).toMatchObject({ ok: true, body: { scaled: true } });
  });

  it('keeps waiting for a leader while none is known, as before', async () => {
    let known = 0;
    let tries = 0;
    const bus = new FollowerBus(() => {
      tries++;
      // "no responders" until a leader listens, then its answer
      if (known === 0) return Promise.reject(new Error('503'));
      return Promise.resolve(new TextEncoder().encode(JSON.stringify(okResponse('r1', { scaled: true }))));
    });
    new ApiServer({ cluster: 't', bus, backend, leading: () => false, leaderId: () => known }).start();
    const reply = bus.send('service.scale', { service: 'web', replicas: 2 });
    await new Promise((r) => setTimeout(r, 500));
    known = 2;
    const r = await reply;
    expect(r.ok).toBe(true);
    expect(tries).toBeGreaterThan(1);
  });
});
