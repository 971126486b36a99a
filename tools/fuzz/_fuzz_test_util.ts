/** Test helper (not a test): run a fuzzer briefly and fail with its report when a case failed or hung. */

import assert from "node:assert/strict";
import { formatSummary } from "./_fuzz_summary.ts";
import { runFuzz, type RunOptions } from "./_fuzz_runner.ts";

/**
 * The seed of the short runs in `deno task test`: XIP_SEED when set, else a
 * fixed one, so that CI is reproducible; `deno task fuzz` (tools/fuzz/fuzz.ts)
 * explores fresh seeds, and XIP_SEED=random gives one here.
 */
export const TEST_SEED = 20261206;

/** The run seed (see TEST_SEED); the report prints it when a case fails. */
export function testSeed(): number {
  const env = Deno.env.get("XIP_SEED");
  if (env === "random") return Math.floor(Math.random() * 1e9);
  return env !== undefined ? Number(env) : TEST_SEED;
}

/** Run, then assert no failure and no hang; the summary goes to stderr when anything is wrong. */
export async function fuzzBriefly(o: RunOptions, minKinds: number): Promise<void> {
  const s = await runFuzz(o);
  const report = formatSummary(o.fuzzer, s);
  if (s.failures.length > 0 || s.hangs.length > 0) {
    console.error(
      `${report}\nreplay: XIP_SEED=${o.seed} (or deno task fuzz --${o.fuzzer} N --seed ${o.seed})`,
    );
  }
  assert.equal(s.cases, o.cases, `seed ${o.seed}: every case ran`);
  assert.deepEqual(
    s.failures.map((f) => `case ${f.index}: ${f.problems[0]}`),
    [],
    `seed ${o.seed}`,
  );
  assert.deepEqual(s.hangs, [], `seed ${o.seed}: hung cases`);
  // The mutations must reach more than one code path, or the fuzzer is not fuzzing.
  assert.ok(Object.keys(s.kinds).length >= minKinds, `seed ${o.seed}: outcome kinds\n${report}`);
}
