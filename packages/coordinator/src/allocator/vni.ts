import { ShoalError } from '@shoal/core';

/** VXLAN network identifiers are 24-bit; 0 is reserved and the low range is left to people. */
export const VNI_MIN = 4096;
export const VNI_MAX = 0xffffff;

/**
 * Hands out VNIs from VNI_MIN upward, never one that is held, and reuses freed ones lowest first
 * so that a long-lived cluster does not walk the whole range.
 */
export class VniPool {
  readonly #held = new Set<number>();
  #next = VNI_MIN;

  constructor(held: Iterable<number> = []) {
    for (const vni of held) this.reserve(vni);
  }

  /** Marks a VNI taken (rebuilding the pool from the store, or a user's explicit choice). */
  reserve(vni: number): void {
    if (!Number.isInteger(vni) || vni < 1 || vni > VNI_MAX) {
      throw new ShoalError('invalid_vni', `VNI ${vni} is outside 1–${VNI_MAX}`, 'choose a whole number in that range');
    }
    if (this.#held.has(vni)) {
      throw new ShoalError('vni_in_use', `VNI ${vni} is already held by another network`, 'choose another VNI or let Shoal pick one');
    }
    this.#held.add(vni);
  }

  allocate(): number {
    for (let vni = this.#next; vni <= VNI_MAX; vni++) {
      if (!this.#held.has(vni)) {
        this.#held.add(vni);
        this.#next = vni + 1;
        return vni;
      }
    }
    throw new ShoalError('vni_exhausted', `all VNIs from ${VNI_MIN} to ${VNI_MAX} are held`, 'remove unused overlay networks');
  }

  release(vni: number): void {
    if (this.#held.delete(vni) && vni >= VNI_MIN && vni < this.#next) this.#next = vni;
  }

  has(vni: number): boolean {
    return this.#held.has(vni);
  }

  get size(): number {
    return this.#held.size;
  }
}
