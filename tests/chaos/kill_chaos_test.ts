/**
 * Chaos: Workers killed the hard way at random moments and at random kill
 * points while counters, compute, fsx, a threaded compute and a forking
 * process run (tools/stress/_kill_chaos.ts).
 * Seeded: XIP_SEED replays the same victims, kill points and fsx operations
 * (terminate() at a random moment also depends on timing).
 */

import assert from "node:assert/strict";
import { formatKillChaos, runKillChaos } from "../../tools/stress/_kill_chaos.ts";

// The page-cache run also perturbs the schedule (DEBUG_PERTURB); both run under `deno task stress --kill`.
for (const [dax, perturb] of [["always", false], ["never", true]] as const) {
  Deno.test(`Workers killed at random points (dax=${dax}${perturb ? ", perturbed" : ""}): survivors correct, fsync'd data kept, invariants and fsck clean`, async () => {
    const seed = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    const rep = await runKillChaos({ seed, dax, rounds: 3, fsxOps: 200, perturb });
    const text = formatKillChaos(rep);
    if (rep.problems.length > 0) console.error(`kill_chaos_test failed with XIP_SEED=${seed}`);
    assert.deepEqual(rep.problems, [], text);
    // The kills must really land, or this test checks nothing.
    assert.ok(rep.killed >= 2, `only ${rep.killed} victims were stopped mid-run\n${text}`);
    assert.ok(rep.durableRecords > 0, `no durable log records to check\n${text}`);
  });
}
