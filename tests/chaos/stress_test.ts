import assert from "node:assert/strict";
import { formatStress, runStress } from "../../tools/stress/_stress_runner.ts";

const SEED = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 1e9));

for (const mode of ["dax", "pagecache"] as const) {
  for (const perturb of [false, true]) {
    Deno.test(`stress: 3 Workers of mixed mm/fs operations agree with the model (${mode}${perturb ? ", DEBUG_PERTURB" : ""})`, async () => {
      const r = await runStress({
        seed: SEED,
        workers: 3,
        mode,
        perturb,
        ops: 1500,
        seconds: 6,
        stallMs: 20_000,
      });
      if (r.problems.length > 0) console.error(`${formatStress(r)}\nreplay: XIP_SEED=${SEED}`);
      assert.deepEqual(r.problems, [], `seed ${SEED}`);
      assert.ok(r.ops > 0, `seed ${SEED}: operations ran`);
      for (
        const op of [
          "own-map-write",
          "shared-map-read",
          "own-truncate",
          "churn-map-read",
          "churn-falloc",
          "exit",
        ]
      ) {
        assert.ok((r.counts[op] ?? 0) > 0, `seed ${SEED}: ${op} ran`);
      }
    });
  }
}

Deno.test("stress: under RAM pressure (100 frames, page cache) operations may fail with OOM but the machine stays consistent", async () => {
  const r = await runStress({
    seed: SEED,
    workers: 3,
    mode: "pagecache",
    perturb: false,
    ops: 2000,
    seconds: 6,
    ramFrames: 100,
    stallMs: 20_000,
  });
  if (r.problems.length > 0) console.error(`${formatStress(r)}\nreplay: XIP_SEED=${SEED}`);
  assert.deepEqual(r.problems, [], `seed ${SEED}`);
  assert.ok(r.ops > 0);
});

Deno.test("stress: the same seed replays the same operation sequence", async () => {
  const a = await runStress({
    seed: SEED,
    workers: 2,
    mode: "dax",
    perturb: false,
    ops: 300,
    seconds: 20,
  });
  const b = await runStress({
    seed: SEED,
    workers: 2,
    mode: "dax",
    perturb: true,
    ops: 300,
    seconds: 20,
  });
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  assert.equal(a.ops, 600);
  assert.deepEqual(a.counts, b.counts, `seed ${SEED}`);
});
