import assert from "node:assert/strict";
import {
  computeLayout,
  MM,
  MM_WORDS,
  MMG,
  MMG_WORDS,
  TASK,
  TASK_TLB,
  VMA,
  VMA_WORDS,
  VMAS_PER_TASK,
} from "../../src/abi/layout/mod.ts";
import { MUTEX_WORDS, RWSEM_WORDS } from "../../src/sync/mod.ts";

Deno.test("mm records keep their fields inside the record and leave room for the locks", () => {
  for (
    const [name, rec, words] of [["MM", MM, MM_WORDS], ["VMA", VMA, VMA_WORDS], [
      "MMG",
      MMG,
      MMG_WORDS,
    ]] as const
  ) {
    const offs = Object.values(rec);
    assert.ok(offs.every((o) => o >= 0 && o < words), `${name} field outside the record`);
    assert.equal(new Set(offs).size, offs.length, `${name} fields overlap`);
  }
  assert.ok(MM.pageTableLock - MM.mmapLock >= RWSEM_WORDS);
  assert.ok(MM.vmaHead - MM.pageTableLock >= MUTEX_WORDS);
  for (const w of Object.values(TASK_TLB)) {
    assert.ok(w > TASK.depth && w < TASK.held, "TASK_TLB words sit in the free words 2..15");
  }
});

Deno.test("computeLayout() sizes the mm tables to the task count", () => {
  const l = computeLayout({ ramFrames: 64, deviceFrames: 8, deviceMemmap: false, maxTasks: 5 });
  assert.equal(l.mms.words, 5 * MM_WORDS);
  assert.equal(l.vmas.words, 5 * VMAS_PER_TASK * VMA_WORDS);
  assert.equal(l.mmg.words, MMG_WORDS);
  assert.ok(l.regions.includes(l.mms) && l.regions.includes(l.vmas) && l.regions.includes(l.mmg));
});
