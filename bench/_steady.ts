/**
 * Steady state for the exec measurements of the report (_report_tiers.ts,
 * _report_machine.ts): a machine that translates (tier 1, "auto") runs a
 * short program first interpreted (a fresh Worker translates only after
 * COLD_INSNS interpreted instructions, several runs of `compute 1`), then
 * translates its hottest frames, and a frame whose heat grows slowly a run
 * or two later. V8 then runs each new frame function as Liftoff code until
 * it has been called enough, and compiles it again with TurboFan in the
 * background: measured 2026-12-07 (`compute 1`, a machine per DAX mode,
 * 15 runs each after its translations held), the first 5-8 runs of each
 * took 7-12 ms and the rest 4-5 ms. Runs timed in the middle of that
 * measure the warm-up, not the exec: the median of 15 such runs put DAX
 * exec at 0.70-1.25 of page-cache exec from one try to the next, the
 * median of 41 runs after warmJit at 0.988-1.008 (6 tries, load 2-5).
 * Idling between warm-up and the timed runs made the first runs after it
 * slower, not faster.
 *
 * @module
 */

import type { Machine } from "../src/kernel/machine.ts";

/** Runs at most spent warming one machine until its translations hold (warmJit). */
const MAX_WARM_RUNS = 24;

/** Runs after that, for V8's tier-up of the frame functions (warmJit). */
const TIER_UP_RUNS = 12;

/**
 * Run `once` on `m` until its count of translations has held for 2 runs in
 * a row (every hot frame of the program translated), at most MAX_WARM_RUNS
 * times, then TIER_UP_RUNS more; once when `m` does not translate (its page
 * cache and Worker warm).
 *
 * @returns the runs made
 */
export async function warmJit(m: Machine, once: () => Promise<unknown>): Promise<number> {
  if (m.mem.jit === null) {
    await once();
    return 1;
  }
  let last = -1, held = 0, k = 0;
  while (k < MAX_WARM_RUNS && held < 2) {
    await once();
    k++;
    const n = m.stats().jit.translations;
    held = n > 0 && n === last ? held + 1 : 0;
    last = n;
  }
  for (let t = 0; t < TIER_UP_RUNS; t++) await once();
  return k + TIER_UP_RUNS;
}

/** Machine indices 0..n-1 in the order of round `r`: ABBA, so that none always runs first. */
export function turnOrder(n: number, r: number): number[] {
  const order = [...Array(n).keys()];
  return (r & 1) === 0 ? order : order.reverse();
}
