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

const CASES: [dax: "always" | "never", cls: LockClass][] = [
  ["always", LockClass.MMAP_LOCK],
  ["always", LockClass.INVALIDATE_LOCK],
  ["always", LockClass.DAX_ENTRY],
  ["always", LockClass.PAGE_TABLE],
  ["never", LockClass.INVALIDATE_LOCK],
  ["never", LockClass.PAGE_LOCK],
  ["never", LockClass.PAGE_TABLE],
];

for (const [dax, cls] of CASES) {
  const name = LockClass[cls];
  Deno.test(`chaosKill() stops a process holding ${name} (dax=${dax}); the machine recovers everything`, async () => {
    await withMachine(tree, { dax, maxProcs: 4, warm: 2 }, async (m) => {
      const p = m.spawn("/bin/compute", ["compute", "2"], { stdout: () => {} });
      assert.ok(m.chaosKill(p.pid, 1, cls));
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
