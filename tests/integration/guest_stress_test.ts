/**
 * Guest programs as the stress workload: K fsx processes (guest/bin/fsx.c)
 * at once on one Machine, each on its own file with its own seed, checking
 * every byte it reads (pread, loads through MAP_SHARED and MAP_PRIVATE
 * maps, the size) against a model it keeps, through pwrite, ftruncate,
 * fallocate punch-hole, msync, fsync and COW. Once with DAX (stores reach
 * the device frames), once through the page cache. Afterwards every LOG
 * holds exactly the records fsx reported durable, and the invariants and
 * fsck are clean.
 *
 * Seeded: XIP_SEED replays the same fsx seeds (printed on failure).
 */

import assert from "node:assert/strict";
import { rng } from "../../tools/fuzz/_rng.ts";
import { fsxLogRecords, lastDurable, readGuestFile, verifyFsxLog } from "./_fsx_log.ts";
import { makeTree, run, withMachine } from "./_machine.ts";

const tree = makeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

/** fsx processes at once, and ops each. */
const K = 6, OPS = 1500;

for (const dax of ["always", "never"] as const) {
  Deno.test(`${K} fsx processes (dax=${dax}) read back exactly what the model says; logs and fsck clean`, async () => {
    const seed = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    const random = rng(seed);
    const seeds = Array.from({ length: K }, () => 1 + Math.floor(random() * 0xffff_fffe));
    try {
      await withMachine(tree, { dax, maxProcs: K, warm: K }, async (m) => {
        const rs = await Promise.all(
          seeds.map((s, i) =>
            run(m, "/bin/fsx", ["fsx", `/fsx${i}`, `${s}`, `${OPS}`, `/fsx${i}.log`])
          ),
        );
        rs.forEach((r, i) => {
          const what = `fsx ${i} (seed ${seeds[i]})`;
          assert.equal(
            r.code,
            0,
            `${what}: ${r.message ?? ""}\n${r.stdout.slice(-400)}${r.stderr}`,
          );
          assert.match(r.stdout, new RegExp(`^fsx: ${OPS} ops ok$`, "m"), what);
          const log = verifyFsxLog(readGuestFile(m, `/fsx${i}.log`));
          assert.deepEqual(log, { records: fsxLogRecords(OPS) }, `${what}: LOG`);
          assert.equal(lastDurable(r.stdout), log.records - 1, `${what}: last durable record`);
        });
        // Every kind of operation really ran (the map ones need a live map inside the file).
        const ran = new Map<string, number>();
        for (const r of rs) {
          const line = /^fsx: ran (.*)$/m.exec(r.stdout)?.[1] ?? "";
          for (const [, k, n] of line.matchAll(/(\w+)=(\d+)/g)) {
            ran.set(k!, (ran.get(k!) ?? 0) + Number(n));
          }
        }
        const kinds = ["write", "read", "truncate", "punch", "map", "mapstore", "mapload"];
        kinds.push("msync", "munmap", "private", "fsync", "verify");
        for (const k of kinds) assert.ok((ran.get(k) ?? 0) > 0, `no ${k} ran: ${[...ran]}`);
        const s = m.stats();
        if (dax === "always") assert.ok(s.faults.dax > 0, "shared maps fault device frames");
        else assert.ok(s.faults.file_major + s.faults.file_minor > 0, "page-cache faults");
        assert.ok(s.faults.cow > 0, "MAP_PRIVATE stores copied pages");
        assert.deepEqual(m.checkInvariants({ fsck: true }), [], "invariants and fsck");
      });
    } catch (e) {
      console.error(
        `guest_stress_test (dax=${dax}) failed with XIP_SEED=${seed}: fsx seeds ${seeds}`,
      );
      throw e;
    }
  });
}

Deno.test("verifyFsxLog counts intact records and names a damaged or torn one", async () => {
  await withMachine(tree, { dax: "always", maxProcs: 1, warm: 1 }, async (m) => {
    const r = await run(m, "/bin/fsx", ["fsx", "/f", "7", "80", "/f.log"]);
    assert.equal(r.code, 0, r.stdout);
    const log = readGuestFile(m, "/f.log");
    assert.deepEqual(verifyFsxLog(log), { records: 10 });
    assert.equal(lastDurable(r.stdout), 9);
    assert.deepEqual(verifyFsxLog(log.subarray(0, 16 * 4 + 5)), {
      records: 4,
      problem: "5 bytes of a torn record after record 3",
    });
    for (
      const [at, what] of [[16 * 6, "bad magic"], [16 * 6 + 4, "sequence"], [
        16 * 6 + 9,
        "bad sequence check",
      ], [16 * 6 + 13, "bad checksum"]] as const
    ) {
      const bad = log.slice();
      bad[at]! ^= 0x40;
      const c = verifyFsxLog(bad);
      assert.equal(c.records, 6, what);
      assert.match(c.problem ?? "", new RegExp(`^record 6 at byte 96: ${what}`), what);
    }
    assert.deepEqual(verifyFsxLog(new Uint8Array(0)), { records: 0 });
    assert.equal(lastDurable("fsx: 3 ops ok\n"), -1);
  });
});
