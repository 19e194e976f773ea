/** A secondary index: one key to a set of object keys, kept sorted on read for determinism. */
export class MultiMap {
  readonly #sets = new Map<string, Set<string>>();

  add(key: string, value: string): void {
    let set = this.#sets.get(key);
    if (!set) this.#sets.set(key, (set = new Set()));
    set.add(value);
  }

  delete(key: string, value: string): void {
    const set = this.#sets.get(key);
    if (!set) return;
    set.delete(value);
    if (set.size === 0) this.#sets.delete(key);
  }

  get(key: string): string[] {
    return [...(this.#sets.get(key) ?? [])].sort();
  }

  clear(): void {
    this.#sets.clear();
  }
}
