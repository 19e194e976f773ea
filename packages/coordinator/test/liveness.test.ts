import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@shoal/core';
import { Dispatcher, HeardNodes, Store, type Bus, type BusMessage, type Command } from '@shoal/coordinator';
import { entry, node } from './fixtures.js';
import { until } from './harness.js';

// Who the leader may blame for silence: only nodes it could have heard. A leader whose own NATS
// link is down, that just took office, or that hears from nobody at all declares no node down.

const PERIOD = 1000;
const enc = new TextEncoder();

class LinkBus implements Bus {
  readonly subs = new Map<string, (m: BusMessage) => void>();
  /** The dispatcher's own handlers, kept after its timer is stopped. */
  dispatcher = new Map<string, (m: BusMessage) => void>();
  /** undefined: the link is down */
  up: number | undefined = 0;
  subscribe(subject: string, handler: (m: BusMessage) => void): () => void {
    this.subs.set(subject, handler);
    return () => this.subs.delete(subject);
  }
  publish(): void {}
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('none'));
  }
  linkUpSince(): number | undefined {
    return this.up;
  }
  /** Whether a round trip to the server works now; `onProbe` runs while it is asked. */
  probeOk = true;
  onProbe: (() => void) | undefined;
  probe(): Promise<boolean> {
    this.onProbe?.();
    return Promise.resolve(this.probeOk);
  }
  heartbeat(nodeId: string, sessionId: string): void {
    const hs = new Set([this.dispatcher.get('shoal.t.node.*.hb'), this.subs.get('shoal.t.node.*.hb')].filter((h) => h !== undefined));
    if (hs.size === 0) throw new Error('not served');
    for (const h of hs) h({ subject: `shoal.t.node.${nodeId}.hb`, data: enc.encode(JSON.stringify({ v: PROTOCOL_VERSION, kind: 'node.hb', nodeId, sessionId, appliedSeq: 0 })), respond: () => undefined });
  }
}

/**
 * A store with three ready nodes (as a previous leader left it) and a dispatcher on a clock the
 * test moves; `heard`, what this coordinator heard before it led.
 */
function setup(o: { clock?: { now: number }; bus?: LinkBus; heard?: HeardNodes; beforeApply?: (c: Command, store: Store) => void } = {}): { store: Store; bus: LinkBus; d: Dispatcher; clock: { now: number }; proposed: Command[]; logs: string[] } {
  const store = new Store();
  for (const id of ['n1', 'n2', 'n3']) {
    const r = store.apply({ op: 'create', kind: 'node', object: node(id) }, entry(store.index + 1));
    if (!r.ok) throw r.error;
  }
  const bus = o.bus ?? new LinkBus();
  const clock = o.clock ?? { now: 0 };
  const proposed: Command[] = [];
  const logs: string[] = [];
  const d = new Dispatcher({
    cluster: 't',
    store,
    bus,
    now: () => clock.now,
    heartbeatPeriodMs: PERIOD,
    ...(o.heard ? { heard: o.heard } : {}),
    propose: (c) => {
      proposed.push(c);
      // what commits between the writer's read and its entry (another write to the same object)
      o.beforeApply?.(c, store);
      const r = store.apply(c, entry(store.index + 1));
      return r.ok ? Promise.resolve() : Promise.reject(r.error);
    },
    log: (msg) => logs.push(msg),
  });
  const before = new Map(bus.subs);
  d.start();
  // the test drives the checks on its own clock: the dispatcher's timer goes, its handlers stay
  const handlers = new Map(bus.subs);
  d.stop();
  for (const [s, h] of before) bus.subs.set(s, h);
  bus.dispatcher = new Map([...handlers].filter(([s]) => !before.has(s) || before.get(s) !== handlers.get(s)));
  return { store, bus, d, clock, proposed, logs };
}

/** Moves the clock in the dispatcher's own check steps (a jump would look like a stalled leader). */
async function advance(d: Dispatcher, clock: { now: number }, ms: number, each?: () => void): Promise<void> {
  const end = clock.now + ms;
  let nextBeat = clock.now;
  while (clock.now < end) {
    clock.now = Math.min(end, clock.now + 50);
    if (each && clock.now >= nextBeat) {
      each();
      nextBeat += PERIOD;
    }
    await d.checkLiveness();
  }
}

const states = (store: Store): Record<string, string> => Object.fromEntries(store.list('node').map((n) => [n.id, n.status.state]));

describe('the leader judges silence only while it could hear', () => {
  it('a new leader gives every node a full deadline from taking office, then declares only the silent one down', async () => {
    const { store, bus, d, clock } = setup();
    // n1 and n2 heartbeat (under the old leader's session: the new one takes them over); n3 is gone
    const beat = (): void => {
      bus.heartbeat('n1', 'old');
      bus.heartbeat('n2', 'old');
    };
    await advance(d, clock, 2900, beat);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'ready' });
    await advance(d, clock, 300, beat);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'down' });
  });

  it('declares nobody down while its own link is down, and counts a full deadline again from the reconnect', async () => {
    const { store, bus, d, clock } = setup();
    await advance(d, clock, 1000, () => ['n1', 'n2', 'n3'].forEach((n) => bus.heartbeat(n, 'old')));
    bus.up = undefined;
    await advance(d, clock, 10_000);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'ready' });
    bus.up = clock.now;
    const beat = (): void => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old'));
    await advance(d, clock, 2900, beat);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'ready' });
    await advance(d, clock, 300, beat);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'down' });
  });

  it('hearing from no node at all, suspects its own link and declares none down', async () => {
    const { store, d, clock, logs } = setup();
    await advance(d, clock, 10_000);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'ready' });
    expect(logs.filter((l) => l.startsWith('no node heard from'))).toHaveLength(1);
  });

  it('a down node that heartbeats is marked ready by one write, however many heartbeats arrive meanwhile, and a conflict is resolved once, quietly', async () => {
    let raced = false;
    // the first write marking n3 ready meets a label written between its read and its commit
    const beforeApply = (c: Command, store: Store): void => {
      if (raced || c.op !== 'update' || c.kind !== 'node' || c.object.id !== 'n3' || c.object.status.state !== 'ready') return;
      raced = true;
      const n3 = store.get('node', 'n3');
      if (!n3) throw new Error('no n3');
      const r = store.apply({ op: 'update', kind: 'node', object: { ...n3, spec: { ...n3.spec, labels: { zone: 'a' } } } }, entry(store.index + 1));
      if (!r.ok) throw r.error;
    };
    const { store, bus, d, clock, proposed, logs } = setup({ beforeApply });
    await advance(d, clock, 3200, () => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old')));
    expect(states(store).n3).toBe('down');
    const before = proposed.length;
    for (let i = 0; i < 200; i++) bus.heartbeat('n3', 'old');
    await until('n3 marked ready', () => store.get('node', 'n3')?.status.state === 'ready');
    const writes = proposed.slice(before).filter((c) => c.op === 'update' && c.kind === 'node' && c.object.id === 'n3');
    // the refused one, and the one made again from a fresh read: not one per heartbeat
    expect(raced).toBe(true);
    expect(writes).toHaveLength(2);
    expect(store.get('node', 'n3')).toMatchObject({ status: { state: 'ready' }, spec: { labels: { zone: 'a' } } });
    expect(logs.filter((l) => l.includes('not marked ready'))).toEqual([]);
  });

  it('a new leader that heard the nodes as a follower counts the dead one\'s silence from its last heartbeat, not from taking office', async () => {
    const clock = { now: 0 };
    const bus = new LinkBus();
    // the follower's listener, started long before it leads, heard every node until n3 fell silent
    const heard = new HeardNodes(bus, 't', () => clock.now);
    heard.start();
    const listen = bus.subs.get('shoal.t.node.*.hb');
    const beat = (n: string): void => listen?.({ subject: `shoal.t.node.${n}.hb`, data: new Uint8Array(), respond: () => undefined });
    for (clock.now = 0; clock.now <= 5000; clock.now += 1000) ['n1', 'n2', 'n3'].forEach(beat);
    // n3 last heard at 5000; the old leader died with it, and this coordinator leads from 6000
    clock.now = 6000;
    const { store, d } = setup({ clock, bus, heard });
    const beats = (): void => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old'));
    await advance(d, clock, 1900, beats);
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'ready' });
    await advance(d, clock, 300, beats);
    // at 8200, 3.2 s after n3's last heartbeat and only 2.2 s after taking office
    expect(states(store)).toEqual({ n1: 'ready', n2: 'ready', n3: 'down' });
  });

  it('blames no one while a round trip to its own server does not complete (a dead server not yet found stale)', async () => {
    const { store, bus, d, clock } = setup();
    bus.probeOk = false;
    await advance(d, clock, 6000, () => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old')));
    expect(states(store).n3).toBe('ready');
    bus.probeOk = true;
    await advance(d, clock, 100, () => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old')));
    expect(states(store).n3).toBe('down');
  });

  it('does not declare down a node heard while the check was under way', async () => {
    const { store, bus, d, clock } = setup();
    // n3's heartbeat lands while the leader probes its link, just past n3's deadline
    bus.onProbe = () => bus.heartbeat('n3', 'old');
    await advance(d, clock, 6000, () => ['n1', 'n2'].forEach((n) => bus.heartbeat(n, 'old')));
    expect(states(store).n3).toBe('ready');
  });
});
