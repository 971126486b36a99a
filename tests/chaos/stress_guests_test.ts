import assert from "node:assert/strict";
import { formatGuests, runStressWithGuests } from "../../tools/stress/_stress_guests.ts";
import { formatStress } from "../../tools/stress/_stress_runner.ts";

const SEED = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 1e9));

for (const mode of ["dax", "pagecache"] as const) {
  Deno.test(`stress --guests: rounds of 2 fsx guests and 2 direct-call Workers share one Machine (${mode})`, async () => {
    const r = await runStressWithGuests({
      seed: SEED,
      workers: 2,
      mode,
      perturb: false,
      ops: 1000,
      seconds: 4,
      stallMs: 20_000,
      guests: 2,
      guestOps: 400,
    });
    const report = `${formatStress(r)}\n${formatGuests(r)}\nreplay: XIP_SEED=${SEED}`;
    if (r.problems.length > 0) console.error(report);
    assert.deepEqual(r.problems, [], report);
    assert.ok(r.guestRounds >= 1, report);
    assert.equal(r.guestOps, r.guestRounds * 2 * 400, `${report}: every fsx finished`);
    assert.ok(r.ops > 0, `${report}: the Workers ran`);
    assert.equal(new Set(r.guestSeeds).size, 2 * r.guestRounds, "distinct fsx seeds");
  });
}
