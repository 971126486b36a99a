/**
 * Regression test from the stress harness (tests/chaos, seed 600, page
 * cache, 4 Workers): truncate panicked in truncateInodePages ("page ... is
 * still mapped 1 times") while another process was in the middle of a
 * munmap or exit. Those clear the PTEs first and drop the mapcount only
 * after their TLB shootdown (tlbFinishMmu), and truncate takes no lock
 * that waits for them; so a page truncate's own unmap found unmapped can
 * still show mapcount 1 for a moment. This test stops a munmap at that
 * point (single-threaded, the interleaving the Workers hit) and truncates.
 */

import assert from "node:assert/strict";
import { takeOverDeadTask } from "../sync/_helpers.ts";
import { MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { finishTruncate } from "../../src/fs/xipfs/xipfs_truncate.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { taskChaosArm, TaskKilled } from "../../src/sync/current.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { mmAlloc, mmPut, ptlLock, ptlUnlock, tlbFinishMmu } from "../../src/mm/mm.ts";
import { newGather, unmapRange } from "../../src/mm/pgtable.ts";
import { userLoad, userStore } from "../mm/_mm_helpers.ts";
import { fileMachine, mapAt, newFile } from "./_mmfile.ts";

const A = 0x4000_0000;
const P = PAGE_SIZE;

Deno.test("truncate() of a page-cache file copes with a page whose unmap is waiting for its TLB flush", () => {
  const m = fileMachine({ dax: "never" });
  const f = newFile(m, "f", 4 * P);
  const mm = mmAlloc(m.mem) as MmId;
  mapAt(m, mm, f, A, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED);
  userStore(m.mem, mm, A + 2 * P, 7);
  userLoad(m.mem, mm, A + 3 * P);
  // munmapLocked's first half: the PTEs are cleared and gathered...
  const g = newGather();
  ptlLock(m.mem, mm);
  unmapRange(m.mem, mm, asVirt(A), asVirt(A + 4 * P), g);
  ptlUnlock(m.mem, mm);
  // ...and before its tlbFinishMmu, another Worker truncates the file.
  assert.equal(m.fs.truncate(f, P), 0);
  tlbFinishMmu(m.mem, mm, g);
  m.fs.iput(f);
  mmPut(m.mem, mm);
  assert.deepEqual(checkInvariants(m.mem), []);
});

for (const dax of ["always", "never"] as const) {
  Deno.test(`a truncate killed at any lock operation while it holds i_mmap leaves no zapped page behind (dax=${dax})`, () => {
    let kills = 0;
    for (let points = 1; points <= 4; points++) {
      const m = fileMachine({ dax });
      const k = m.mem.k32;
      const f = newFile(m, "f", 4 * P);
      const mm = mmAlloc(m.mem) as MmId;
      mapAt(m, mm, f, A, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED);
      for (let i = 0; i < 4; i++) userStore(m.mem, mm, A + i * P, i + 1);
      taskChaosArm(k, asTaskSlot(1), points, LockClass.I_MMAP);
      try {
        m.fs.truncate(f, P);
      } catch (e) {
        if (!(e instanceof TaskKilled)) throw e;
        kills++;
        takeOverDeadTask(k, asTaskSlot(1)); // the Machine's part, from another task
        assert.equal(finishTruncate(m.fs.ctx, asTaskSlot(1)), 0);
      }
      assert.equal(m.fs.getattr(f).size, P, `points ${points}`);
      m.fs.iput(f);
      mmPut(m.mem, mm);
      assert.deepEqual(checkInvariants(m.mem), [], `killed at lock operation ${points}`);
    }
    assert.ok(kills >= 1, "no truncate was killed");
  });
}

Deno.test("an mmap killed at any lock operation while it holds mmap_lock leaves every VMA whole (linked and on i_mmap, or gone)", () => {
  let kills = 0;
  for (let points = 1; points <= 4; points++) {
    const m = fileMachine({ dax: "never" });
    const k = m.mem.k32;
    const f = newFile(m, "f", 4 * P);
    const mm = mmAlloc(m.mem) as MmId;
    taskChaosArm(k, asTaskSlot(1), points, LockClass.MMAP_LOCK);
    try {
      mapAt(m, mm, f, A, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED);
      taskChaosArm(k, asTaskSlot(1), 0); // survived: disarm before the teardown below
    } catch (e) {
      if (!(e instanceof TaskKilled)) throw e;
      kills++;
      takeOverDeadTask(k, asTaskSlot(1));
    }
    mmPut(m.mem, mm); // the Machine's teardown of the dead process's mm
    m.fs.iput(f);
    assert.deepEqual(checkInvariants(m.mem), [], `killed at lock operation ${points}`);
  }
  assert.ok(kills >= 1, "no mmap was killed");
});
