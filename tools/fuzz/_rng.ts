/**
 * Seeded randomness for the fuzzers and the stress harness. Every case
 * derives its own generator from (run seed, case index), so one case can
 * be replayed alone: `--seed S --case I`.
 */

/** mulberry32: small, fast, good enough for test input. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of case `i` of a run seeded `seed`. */
export function caseSeed(seed: number, i: number): number {
  let h = Math.imul(seed ^ 0x9e37_79b9, 0x85eb_ca6b) ^ Math.imul(i + 1, 0xc2b2_ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4_eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Helpers over one generator. */
export class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** A uniformly random unsigned 32-bit value. */
  u32(): number {
    return Math.floor(this.next() * 2 ** 32) >>> 0;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A value that tends to break bounds checks, sometimes derived from `near`. */
  interesting(near = 0): number {
    switch (this.int(10)) {
      case 0:
        return 0;
      case 1:
        return 0xffff_ffff;
      case 2:
        return 0x7fff_ffff;
      case 3:
        return 0x8000_0000;
      case 4:
        return this.pick([1, 4095, 4096, 4097, 0xfff, 0xffff_f000, 0x1000_0000]);
      case 5:
        return (near + this.pick([-1, 1, -4096, 4096, 8, -8])) >>> 0;
      case 6:
        return (near << 1) >>> 0;
      case 7:
        return (near ^ (1 << this.int(32))) >>> 0;
      case 8:
        return this.int(256);
      default:
        return this.u32();
    }
  }
}
