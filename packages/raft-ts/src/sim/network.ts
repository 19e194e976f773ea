import type { SeededRng } from '../core/rng.js';
import type { Message, NodeId } from '../core/types.js';

export interface NetworkFaults {
  /** Probability that a message is dropped. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Delivery delay is drawn from [1, maxDelay] sub-ticks; different delays reorder messages. */
  maxDelay: number;
}

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly msg: Message;
}

/**
 * A lossy, duplicating, reordering network with directed link cuts, so that both symmetric and
 * asymmetric partitions can be expressed. All its choices come from the simulation's RNG.
 */
export class SimNetwork {
  private queue: InFlight[] = [];
  private seq = 0;
  /** Directed links that drop everything: `${from}->${to}`. */
  readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly rng: SeededRng,
    public faults: NetworkFaults,
  ) {}

  send(now: number, msg: Message): void {
    this.sent++;
    if (this.rng.chance(this.faults.loss)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.push({ at: now + 1 + this.rng.int(this.faults.maxDelay), seq: this.seq++, msg });
    }
  }

  /** Messages due at `now`, in delivery order; cut links are applied at delivery time. */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.queue) (f.at <= now ? ready : later).push(f);
    this.queue = later;
    ready.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const out: Message[] = [];
    for (const f of ready) {
      if (this.cut.has(`${f.msg.from}->${f.msg.to}`)) this.dropped++;
      else out.push(f.msg);
    }
    return out;
  }

  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  /** Cuts every link between the two groups, in both directions. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut.add(`${x}->${y}`);
        this.cut.add(`${y}->${x}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  get pending(): number {
    return this.queue.length;
  }
}
