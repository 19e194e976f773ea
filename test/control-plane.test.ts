import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '@shoal/core';
import { Allocator, Dispatcher, Store, allocatePass, natsBus, orchestrate, schedulePass, type Command } from '@shoal/coordinator';
import { LeaderHarness } from './support/leader.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';
import { overlayNetwork, testService as service } from './support/specs.js';

// The coordinator's leader components — orchestrator, allocator, scheduler, dispatcher — over
// a real nats-server with real agents on two lab hosts. Only Raft is left out: each proposal is
// applied to the store at once, as a single coordinator's log would.

class Leader {
  readonly store = new Store();
  readonly allocator = new Allocator();
  #ids = 0;
  #running = false;
  #again = false;

  propose(command: Command): Promise<void> {
    const r = this.store.apply(command, { index: this.store.index + 1, at: new Date().toISOString() });
    if (!r.ok) return Promise.reject(r.error);
    this.kick();
    return Promise.resolve();
  }

  /** The leader's loop: after every change, orchestrate, allocate and schedule until quiet. */
  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    queueMicrotask(() => {
      try {
        do {
          this.#again = false;
          const at = new Date().toISOString();
          const apply = (commands: Command[]): void => {
            if (commands.length === 0) return;
            const r = this.store.apply({ op: 'batch', commands: commands.flatMap((c) => (c.op === 'batch' ? c.commands : [c])) }, { index: this.store.index + 1, at });
            if (r.ok) this.#again = true;
          };
          for (const b of orchestrate(this.store, { now: Date.now(), newId: () => `t${++this.#ids}` }).batches) apply(b);
          apply(allocatePass(this.store, this.allocator, at).commands);
          apply(schedulePass(this.store, at).commands);
        } while (this.#again);
      } finally {
        this.#running = false;
      }
    });
  }

  running(service: string): Task[] {
    const svc = this.store.serviceByName(service);
    return svc ? this.store.tasksOfService(svc.id).filter((t) => t.desiredState === 'running' && t.status.state === 'running') : [];
  }
}

describe('control plane on the lab: leader components, dispatcher, real agents', () => {
  const h = new LeaderHarness('cptest', 'cp', 14225);
  const leader = new Leader();
  let dispatcher: Dispatcher;

  /** The short container ids (container hostnames) of a service's running tasks. */
  const names = (svc: string): string[] => leader.running(svc).map((t) => (t.status.containerId ?? '').slice(0, 12)).sort();

  async function fromClient(cmd: string): Promise<string> {
    const client = leader.running('client')[0];
    const host = h.lab.state.hosts.find((x) => x.address === leader.store.get('node', client?.nodeId ?? '')?.address)?.name ?? 'h1';
    return (await h.inTask(host, client?.id ?? '', cmd)).out;
  }

  beforeAll(async () => {
    await requireLabMachine();
    await h.start(2, { answer: false });
    dispatcher = new Dispatcher({ cluster: 'cp', store: leader.store, bus: natsBus(h.nc), propose: (c) => leader.propose(c), heartbeatPeriodMs: 500, missedHeartbeats: 4 });
    dispatcher.start();
    await eventually('both nodes ready in the store', () => (leader.store.list('node').filter((n) => n.status.state === 'ready').length === 2 ? true : undefined), 60_000);
  });

  afterAll(async () => {
    dispatcher?.stop();
    await h.stop();
  });

  it('runs a service across both hosts from nothing but the desired state', async () => {
    await leader.propose({ op: 'create', kind: 'network', object: overlayNetwork('net-front', 'front') });
    await leader.propose({ op: 'create', kind: 'service', object: service('svc-web', 'web', 4, ['front']) });
    await leader.propose({ op: 'create', kind: 'service', object: service('svc-client', 'client', 1, ['front'], 'dnsrr') });
    await eventually('4 web and 1 client running', () => (leader.running('web').length === 4 && leader.running('client').length === 1 ? true : undefined), 120_000);
    const nodes = new Set(leader.running('web').map((t) => t.nodeId));
    expect(nodes.size).toBe(2); // spread over both hosts
  });

  it("reaches every replica through the service's name and VIP, across hosts", async () => {
    const vip = leader.store.serviceByName('web')?.vips[0]?.address;
    expect(await fromClient('nslookup web')).toContain(vip);
    const seen = new Set<string>();
    for (let i = 0; i < 12 && seen.size < 4; i++) seen.add(await fromClient('nc -w 2 web 7000'));
    expect([...seen].sort()).toEqual(names('web'));
  });

  it('when a host dies, its tasks run again on the other and the VIP serves only live ones', async () => {
    const client = leader.running('client')[0];
    // kill the host that does not run the client, so the client can keep asking
    const victimNode = leader.store.list('node').find((n) => n.id !== client?.nodeId);
    const victim = h.lab.state.hosts.find((x) => x.address === victimNode?.address)?.name ?? 'h2';
    await h.lab.kill(victim);
    await eventually('the dead node marked down', () => (leader.store.get('node', victimNode?.id ?? '')?.status.state === 'down' ? true : undefined), 30_000);
    await eventually('4 web running on the survivor', () => {
      const web = leader.running('web');
      return web.length === 4 && web.every((t) => t.nodeId === client?.nodeId) ? true : undefined;
    }, 120_000);
    const live = names('web');
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await fromClient('nc -w 2 web 7000'));
    expect([...seen].sort()).toEqual(live);
  });
});
