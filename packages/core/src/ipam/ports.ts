import { ShoalError } from '../errors.js';
import type { Port } from '../model/service.js';
import { DYNAMIC_PORT_RANGE } from '../model/service.js';

type Protocol = Port['protocol'];

export interface PortAllocatorState {
  /** `published/protocol` → the service holding it; sorted for stable serialisation. */
  taken: [string, string][];
}

const keyOf = (port: number, protocol: Protocol): string => `${port}/${protocol}`;

/**
 * Ingress ports are cluster-wide: every node listens on each one, so a published port and
 * protocol belongs to one service at a time. Ports published without a number get the lowest
 * free one of 30000–32767, as in Swarm. Host-mode ports are per node and not tracked here.
 */
export class PortAllocator {
  private readonly taken = new Map<string, string>();

  static fromState(state: PortAllocatorState): PortAllocator {
    const a = new PortAllocator();
    for (const [key, owner] of state.taken) {
      if (a.taken.has(key)) throw new ShoalError('port_taken', `published port ${key} is listed twice in the store`);
      a.taken.set(key, owner);
    }
    return a;
  }

  toState(): PortAllocatorState {
    return { taken: [...this.taken].sort(([a], [b]) => a.localeCompare(b)) };
  }

  ownerOf(port: number, protocol: Protocol): string | undefined {
    return this.taken.get(keyOf(port, protocol));
  }

  /**
   * Set a service's ingress ports: chosen numbers as asked, the others from the dynamic range;
   * ports it held before and no longer asks for are freed. To keep a dynamic port across an
   * update, pass the number it was given. All or nothing: on a conflict the service keeps what
   * it held, and the error names the holder.
   */
  assign(owner: string, ports: readonly Port[]): Port[] {
    const before = [...this.taken].filter(([, holder]) => holder === owner).map(([key]) => key);
    for (const key of before) this.taken.delete(key);
    const chosen: string[] = [];
    const fail = (err: ShoalError): never => {
      for (const key of chosen) this.taken.delete(key);
      for (const key of before) this.taken.set(key, owner);
      throw err;
    };
    // Numbers people chose go first, so a dynamic pick never lands on one of them.
    const fixed = ports.map((p): Port | undefined => {
      if (p.mode !== 'ingress' || p.published === undefined) return undefined;
      const key = keyOf(p.published, p.protocol);
      const holder = this.taken.get(key);
      if (holder === owner) fail(new ShoalError('port_taken', `port ${key} is published twice by ${owner}`, 'publish each port once'));
      if (holder !== undefined) {
        fail(new ShoalError('port_taken', `port ${key} is already published by ${holder}`, 'publish another port, or remove it from that service'));
      }
      chosen.push(key);
      this.taken.set(key, owner);
      return p;
    });
    return ports.map((p, i): Port => {
      if (p.mode !== 'ingress') return p;
      const done = fixed[i];
      if (done) return done;
      for (let n = DYNAMIC_PORT_RANGE.first; n <= DYNAMIC_PORT_RANGE.last; n++) {
        const key = keyOf(n, p.protocol);
        if (this.taken.has(key)) continue;
        this.taken.set(key, owner);
        chosen.push(key);
        return { ...p, published: n };
      }
      return fail(new ShoalError('port_exhausted', `no free ${p.protocol} port is left in ${DYNAMIC_PORT_RANGE.first}–${DYNAMIC_PORT_RANGE.last}`, 'publish ports with fixed numbers, or remove unused services'));
    });
  }

  /** Free every port a service holds, when it is removed or its ports change. */
  releaseAll(owner: string): number {
    let n = 0;
    for (const [key, holder] of this.taken) {
      if (holder === owner) {
        this.taken.delete(key);
        n++;
      }
    }
    return n;
  }
}
