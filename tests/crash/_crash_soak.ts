/**
 * The long form of the crash-consistency test (`deno task stress --crash`):
 * rounds of recorded fsx runs in both DAX modes, more guests and ops than
 * the short form, every flush point and many torn points of each, until
 * the time is up. Prints one line per round and the totals; any lost or
 * unrepairable point stops it with status 1.
 *
 * @module
 */

import { checkCrashPoints, crashPoints, type CrashReport, formatCrash } from "./_log_writes.ts";
import { fsxOracle, recordFsxRun } from "./_fsx_crash.ts";

/** Options of runCrashSoak. */
export interface CrashSoakOptions {
  seconds: number;
  seed: number;
  guests: number;
  ops: number;
  /** Torn points per round. */
  torn: number;
  /** Where the lines go. */
  log: (line: string) => void;
}

/** Run rounds until `seconds` pass; the totals (problems of the first bad round included). */
export async function runCrashSoak(o: CrashSoakOptions): Promise<CrashReport & { rounds: number }> {
  const end = Date.now() + o.seconds * 1000;
  const total = {
    flushPoints: 0,
    tornPoints: 0,
    lost: 0,
    unrepairable: 0,
    repaired: 0,
    problems: [] as string[],
    rounds: 0,
  };
  let seed = o.seed;
  while (Date.now() < end) {
    for (const dax of ["always", "never"] as const) {
      const run = await recordFsxRun({ dax, guests: o.guests, ops: o.ops, seed, size: 8 << 20 });
      const r = checkCrashPoints(
        run.base,
        run.records,
        crashPoints(run.records, o.torn, seed),
        fsxOracle,
      );
      total.rounds++;
      for (const k of ["flushPoints", "tornPoints", "lost", "unrepairable", "repaired"] as const) {
        total[k] += r[k];
      }
      o.log(
        `round ${total.rounds} dax=${dax} seed ${seed} (fsx ${run.seeds.join(" ")}): ${
          formatCrash(r)
        }`,
      );
      if (r.problems.length > 0) {
        total.problems.push(...r.problems.map((p) => `seed ${seed} dax=${dax}: ${p}`));
        return total;
      }
    }
    seed++;
  }
  return total;
}
