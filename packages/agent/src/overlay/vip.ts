import type { Kernel } from '../kernel.js';

export interface Vip {
  address: string;
  backends: readonly string[];
}

const TABLE = 'shoal_vip';

/**
 * The nftables ruleset that makes a service's virtual IP work inside one container: new
 * connections to the VIP are DNATed to the service's tasks in turn (conntrack keeps each
 * connection on its task and rewrites the replies). A VIP without tasks refuses at once rather
 * than leaving clients to time out. These kernels have no IPVS, which Swarm uses instead.
 */
export function vipRuleset(vips: readonly Vip[]): string {
  const nat: string[] = [];
  const refuse: string[] = [];
  for (const v of [...vips].sort((a, b) => a.address.localeCompare(b.address))) {
    const backends = [...new Set(v.backends)].sort();
    if (backends.length === 0) {
      refuse.push(`    ip daddr ${v.address} reject`);
    } else if (backends.length === 1) {
      nat.push(`    ip daddr ${v.address} dnat to ${backends[0]}`);
    } else {
      const map = backends.map((b, i) => `${i} : ${b}`).join(', ');
      nat.push(`    ip daddr ${v.address} dnat to numgen inc mod ${backends.length} map { ${map} }`);
    }
  }
  return [
    // declare, delete, re-create: the whole set changes in one transaction
    `table ip ${TABLE}`,
    `delete table ip ${TABLE}`,
    `table ip ${TABLE} {`,
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...nat,
    '  }',
    '  chain refuse {',
    '    type filter hook output priority 0; policy accept;',
    ...refuse,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Programs the VIP rules into containers' network namespaces, only when they change. */
export class VipProgrammer {
  readonly #programmed = new Map<number, string>();

  constructor(private readonly kernel: Kernel) {}

  async program(pid: number, vips: readonly Vip[]): Promise<boolean> {
    const rules = vipRuleset(vips);
    if (this.#programmed.get(pid) === rules) return false;
    await this.kernel.run(['nsenter', '-t', String(pid), '-n', 'nft', '-f', '-'], rules);
    this.#programmed.set(pid, rules);
    return true;
  }

  /** A container whose network namespace was just made: it holds no rules, so none to remove. */
  fresh(pid: number): void {
    this.#programmed.set(pid, vipRuleset([]));
  }

  /** Forgets containers that are gone (their namespace took the rules with it). */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of this.#programmed.keys()) if (!pids.has(pid)) this.#programmed.delete(pid);
  }
}
