/**
 * The names a host's resolver answers, per network, and who may ask. Names are scoped: a
 * container sees only the names of the networks it is attached to, as with Docker's embedded DNS.
 * Pure data in, answers out; the server around it does the I/O.
 */

/** One name on one network and the IPv4 addresses it stands for. */
export interface NameRecord {
  network: string;
  name: string;
  addresses: readonly string[];
}

/** A container asking: known by its source address, attached to these networks. */
export interface DnsClient {
  address: string;
  networks: readonly string[];
}

/**
 * The sorted addresses one name stands for, shared by every client on the same networks, and
 * where its rotation stands: one object per (networks, name), made once per table.
 */
export interface AnswerSet {
  readonly addresses: readonly string[];
  /** Rotation position: the next A answer starts at addresses[turn % length]. */
  turn: number;
}

export type Lookup =
  | { kind: 'answer'; addresses: readonly string[] }
  /** a cluster name nobody holds: answer NXDOMAIN rather than leak the query upstream */
  | { kind: 'nxdomain' }
  /** not a cluster name, or an unknown client: the host's upstream servers answer */
  | { kind: 'forward' };

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * A name is the cluster's if it has a single label (a service, alias or task name) or is
 * `tasks.<service>`: Shoal answers those itself, NXDOMAIN included.
 */
export function isClusterName(name: string): boolean {
  const n = normalise(name);
  return !n.includes('.') || /^tasks\.[^.]+$/.test(n);
}

export class DnsTable {
  /** network → name → addresses (de-duplicated, in the order given) */
  readonly #names = new Map<string, Map<string, string[]>>();
  readonly #clients = new Map<string, { networks: readonly string[]; scope: string }>();
  /** The sorted answer per (client's networks, name), made once per table, not per query. */
  readonly #answers = new Map<string, AnswerSet>();
  /** Rotation positions carried over a replace, so a new table does not restart every rotation. */
  readonly #turns = new Map<string, number>();
  #version = 0;
  #records: readonly NameRecord[] = [];
  #clientList: readonly DnsClient[] = [];
  readonly #listeners = new Set<(records: readonly NameRecord[], clients: readonly DnsClient[]) => void>();

  /** Moves on every replace: whoever keeps answers derived from the table drops them then. */
  get version(): number {
    return this.#version;
  }

  /** Replaces everything: the resolver is rebuilt from each assignment, never patched by hand. */
  replace(records: readonly NameRecord[], clients: readonly DnsClient[]): void {
    this.#names.clear();
    this.#clients.clear();
    for (const [key, set] of this.#answers) this.#turns.set(key, set.turn % Math.max(1, set.addresses.length));
    this.#answers.clear();
    this.#version++;
    this.#records = records;
    this.#clientList = clients;
    for (const r of records) {
      let net = this.#names.get(r.network);
      if (!net) this.#names.set(r.network, (net = new Map<string, string[]>()));
      const key = normalise(r.name);
      const list = net.get(key) ?? [];
      for (const a of r.addresses) if (!list.includes(a)) list.push(a);
      net.set(key, list);
    }
    for (const c of clients) this.#clients.set(c.address, { networks: c.networks, scope: [...c.networks].sort().join(',') });
    for (const listener of this.#listeners) listener(records, clients);
  }

  /** What the last replace was given: a copy of the table elsewhere starts from it. */
  contents(): { records: readonly NameRecord[]; clients: readonly DnsClient[] } {
    return { records: this.#records, clients: this.#clientList };
  }

  /** Calls the listener after every replace, with what was given; returns how to stop. */
  onReplace(listener: (records: readonly NameRecord[], clients: readonly DnsClient[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The answer set for a client's question, without moving its rotation: what the resolver
   * keeps to answer the same question again without asking the table.
   */
  resolve(clientAddress: string, qname: string): AnswerSet | 'nxdomain' | 'forward' {
    const client = this.#clients.get(clientAddress);
    if (!client) return 'forward';
    const name = normalise(qname);
    const key = `${client.scope}|${name}`;
    let found = this.#answers.get(key);
    if (!found) {
      const all: string[] = [];
      for (const network of client.networks) {
        for (const a of this.#names.get(network)?.get(name) ?? []) if (!all.includes(a)) all.push(a);
      }
      if (all.length === 0) return isClusterName(name) ? 'nxdomain' : 'forward';
      // names nobody holds are not kept: any name can be asked, and most go upstream
      found = { addresses: all.sort(compareIpv4), turn: this.#turns.get(key) ?? 0 };
      this.#answers.set(key, found);
    }
    return found;
  }

  /**
   * Only an A query moves the rotation: resolvers ask A and AAAA together, and two steps per
   * lookup would hand a two-replica service the same first address every time.
   */
  lookup(clientAddress: string, qname: string, qtype = 'A'): Lookup {
    const found = this.resolve(clientAddress, qname);
    if (found === 'forward' || found === 'nxdomain') return { kind: found };
    const all = found.addresses;
    const start = found.turn % all.length;
    if (qtype === 'A') found.turn = start + 1;
    return { kind: 'answer', addresses: start === 0 ? all : [...all.slice(start), ...all.slice(0, start)] };
  }
}

function compareIpv4(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
