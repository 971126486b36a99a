/**
 * A power cut at any write never loses fsync'd data (xfstests generic/482
 * with dm-log-writes, tests/crash/_log_writes.ts): fsx guests run on a
 * Machine whose every pwrite and fdatasync on the image file is recorded;
 * every prefix that ends at a flush, and a seeded sample of torn prefixes,
 * is replayed onto the original image, repaired with fsck -y, checked
 * clean and mounted, and every LOG record fsx reported durable before the
 * cut must be there, byte for byte. The long form is `deno task stress
 * --crash`.
 */

import assert from "node:assert/strict";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { checkCrashPoints, crashPoints, formatCrash, replay } from "./_log_writes.ts";
import { fsxOracle, recordFsxRun } from "./_fsx_crash.ts";

const SEED = Number(Deno.env.get("XIP_SEED") ?? 20240611);

for (const dax of ["always", "never"] as const) {
  Deno.test(`crash consistency: fsx under dax=${dax}, every flush point and torn points: lost 0, unrepairable 0`, async () => {
    const run = await recordFsxRun({ dax, guests: 2, ops: 240, seed: SEED, size: 4 << 20 });
    const writes = run.records.filter((r) => r.kind === "write").length;
    const flushes = run.records.filter((r) => r.kind === "flush").length;
    assert.ok(flushes >= 10, `only ${flushes} flushes recorded`);
    assert.ok(run.durable >= 40, `only ${run.durable} durable records`);
    const points = crashPoints(run.records, 80, SEED);
    const r = checkCrashPoints(run.base, run.records, points, fsxOracle);
    const line = `${formatCrash(r)}; ${writes} block writes, ${flushes} flushes; ` +
      `seed ${SEED} (XIP_SEED), fsx seeds ${run.seeds.join(" ")}`;
    console.log(line);
    assert.deepEqual(r.problems, [], line);
    assert.equal(r.lost, 0);
    assert.equal(r.unrepairable, 0);
    assert.ok(r.repaired > 0, "some crash points needed repair (else nothing was tested)");
  });
}

Deno.test("the oracle sees a lost durable record", async () => {
  // A check that cannot fail proves nothing: cut the LOG of a finished run
  // and the oracle must say so.
  const run = await recordFsxRun({
    dax: "always",
    guests: 1,
    ops: 64,
    seed: SEED + 1,
    size: 4 << 20,
  });
  const points = crashPoints(run.records, 0, SEED);
  const end = points.at(-1)!;
  const marks = run.records.filter((r) => r.kind === "mark").map((r) =>
    (r as { label: string }).label
  );
  const img = replay(run.base, run.records, end);
  assert.deepEqual(fsxOracle(img, marks), []);
  const o = openVolume(img);
  assert.ok(o.ok);
  const b = bmapLookup(o.vol, namei(o.vol, "/log0", true), 0);
  img.fill(0xee, b * 4096, b * 4096 + 16); // record 0 damaged
  assert.equal(fsxOracle(img, marks).length, 1);
});
