/**
 * machine.chaosKill: a process killed the hard way at a lock operation made
 * while it holds a given lock class dies right there (exit 137, the message
 * naming what it held), and the Machine puts back everything: its locks,
 * the page reference that comes with a page lock, its frames and mm. The
 * machine's invariants and fsck stay clean and the next process runs.
 */

import assert from "node:assert/strict";
import { LockClass } from "../../src/sync/lockdep.ts";
import { computeOutput } from "../guest/_expected.ts";
import { makeTree, run, withMachine } from "../integration/_machine.ts";

const tree = makeTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

const COMPUTE = ["/bin/compute", "compute", "2"];
// fsx truncates, punches holes and writes through shared mappings into holes.
const FSX = ["/bin/fsx", "fsx", "/f", "7", "200", "/log"];

// [dax, class, program, kill at the N-th lock operation made while holding the class]
const CASES: [dax: "always" | "never", cls: LockClass, argv: string[], points?: number][] = [
  ["always", LockClass.MMAP_LOCK, COMPUTE],
  ["always", LockClass.INVALIDATE_LOCK, COMPUTE],
  ["always", LockClass.DAX_ENTRY, COMPUTE],
  ["always", LockClass.PAGE_TABLE, COMPUTE],
  ["never", LockClass.INVALIDATE_LOCK, COMPUTE],
  ["never", LockClass.PAGE_LOCK, COMPUTE],
  ["never", LockClass.PAGE_TABLE, COMPUTE],
  ["always", LockClass.I_RWSEM, FSX],
  ["always", LockClass.I_MMAP, FSX],
  ["always", LockClass.BLOCK_MAP, FSX],
  ["never", LockClass.I_RWSEM, FSX],
  ["never", LockClass.I_MMAP, FSX],
  ["never", LockClass.BLOCK_MAP, FSX],
  ["always", LockClass.FILE_TABLE, FSX],
  ["never", LockClass.FILE_TABLE, FSX],
  ["never", LockClass.PAGE_CACHE, FSX],
  // Truncate's unmapMappingRange holding i_mmap: at most its unlock may be a kill point.
  ["always", LockClass.I_MMAP, FSX, 2],
  ["never", LockClass.I_MMAP, FSX, 2],
  ["never", LockClass.I_MMAP, FSX, 5],
];

for (const [dax, cls, [path, ...argv], points = 1] of CASES) {
  const name = LockClass[cls];
  Deno.test(`chaosKill() stops ${argv[0]} at its lock operation ${points} holding ${name} (dax=${dax}); the machine recovers everything`, async () => {
    await withMachine(tree, { dax, maxProcs: 4, warm: 2 }, async (m) => {
      const p = m.spawn(path!, argv, { stdout: () => {} });
      assert.ok(m.chaosKill(p.pid, points, cls));
      const s = await p.wait();
      assert.equal(s.code, 137, s.message);
      assert.match(s.message ?? "", new RegExp(`holding .*\\b${name}\\b`));
      assert.deepEqual(m.checkInvariants({ fsck: true }), []);
      const again = await run(m, "/bin/compute", ["compute", "2"]);
      assert.equal(again.code, 0, again.message);
      assert.equal(again.stdout, computeOutput(2));
      assert.deepEqual(m.checkInvariants({ fsck: true }), []);
    });
  });
}
