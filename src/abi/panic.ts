/**
 * KernelPanic: a broken invariant. It is never an expected failure (those
 * return a negative errno); it means the kernel's own state is wrong. The
 * message starts with the function that noticed, as xv6's panic("mappages:
 * remap") does.
 *
 * @module
 */

/** Thrown when a kernel invariant is broken. */
export class KernelPanic extends Error {
  /** Always "KernelPanic". */
  override name = "KernelPanic";
  /**
   * A panic found by `where`.
   *
   * @param where the function that detected the problem, e.g. "mapPages"
   * @param what what is wrong
   */
  constructor(readonly where: string, what: string) {
    super(`${where}: ${what}`);
  }
}

/**
 * Panic unless `cond` holds.
 *
 * @example
 * ```ts
 * kassert(pfn >= 0, "freeFrame", "negative pfn");
 * ```
 */
export function kassert(cond: unknown, where: string, what: string): asserts cond {
  if (!cond) throw new KernelPanic(where, what);
}
