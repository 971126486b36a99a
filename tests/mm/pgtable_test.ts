import assert from "node:assert/strict";
import { MM, mmBase } from "../../src/abi/layout/mod.ts";
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, pteToPfn } from "../../src/abi/sv32.ts";
import { asPfn, asPte, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { mmAlloc, mmField, mmGauges, mmPut, ptlLock, ptlUnlock } from "../../src/mm/mm.ts";
import {
  freePgtables,
  freeTable,
  mapPages,
  newGather,
  PGDIR_SIZE,
  physWords,
  PTE_PROTNONE,
  pteClear,
  pteModify,
  ptePresent,
  unmapRange,
  walk,
  walkRoot,
} from "../../src/mm/pgtable.ts";
import { boot } from "./_mm_helpers.ts";

const VA = 0x1000_0000;

Deno.test("walk() allocates a level-0 table only when asked, once", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(walk(mem, mm, asVirt(VA), false), -1);
  assert.equal(mmField(mem, mm, MM.ptFrames), 1, "just the root");
  const w = walk(mem, mm, asVirt(VA), true);
  assert.ok(w >= 0);
  assert.equal(walk(mem, mm, asVirt(VA), true), w);
  assert.equal(walk(mem, mm, asVirt(VA + PAGE_SIZE), false), w + 1, "neighbouring entry");
  assert.equal(mmField(mem, mm, MM.ptFrames), 2);
  assert.equal(mmGauges(mem).pagetableFrames, 2);
  const root = mem.k32[mmBase(mem.layout, mm) + MM.root]!;
  assert.equal(walkRoot(mem, asPfn(root), asVirt(VA), 0), w, "the hart's lookup agrees");
  mmPut(mem, mm);
});

Deno.test("mapPages() maps consecutive frames and panics on a remap", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const flags = PTE_R | PTE_U;
  assert.equal(mapPages(mem, mm, asVirt(VA), 3, asPfn(100), flags), 0);
  const p32 = physWords(mem);
  for (let i = 0; i < 3; i++) {
    const pte = asPte(Atomics.load(p32, walk(mem, mm, asVirt(VA + i * PAGE_SIZE), false)));
    assert.equal(pteToPfn(pte), 100 + i);
    assert.equal(pte & 0x3ff, flags | PTE_V);
  }
  assert.throws(() => mapPages(mem, mm, asVirt(VA + PAGE_SIZE), 1, asPfn(7), flags), KernelPanic);
  // Clear them by hand: these frames were never counted.
  const g = newGather();
  ptlLock(mem, mm);
  assert.equal(unmapRange(mem, mm, asVirt(VA), asVirt(VA + 3 * PAGE_SIZE), g), 3);
  ptlUnlock(mem, mm);
  mmPut(mem, mm);
});

Deno.test("unmapRange() returns the old PTEs with the hart's A/D bits; freePgtables() frees empty tables", () => {
  const mem = boot();
  const free0 = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  const p32 = physWords(mem);
  const a = VA - 2 * PAGE_SIZE; // straddles two level-0 tables
  assert.equal(a % PGDIR_SIZE, PGDIR_SIZE - 2 * PAGE_SIZE);
  assert.equal(mapPages(mem, mm, asVirt(a), 4, asPfn(200), PTE_R | PTE_W | PTE_U), 0);
  assert.equal(mmField(mem, mm, MM.ptFrames), 3);
  // The hart sets D on one of them meanwhile.
  pteModify(p32, walk(mem, mm, asVirt(a + PAGE_SIZE), false), 0, PTE_A | PTE_D);
  const g = newGather();
  ptlLock(mem, mm);
  unmapRange(mem, mm, asVirt(a), asVirt(a + 3 * PAGE_SIZE), g);
  freePgtables(mem, mm, asVirt(a), asVirt(a + 3 * PAGE_SIZE), g);
  ptlUnlock(mem, mm);
  assert.deepEqual(g.ptes.map((p) => pteToPfn(p)), [200, 201, 202]);
  assert.ok((g.ptes[1]! & PTE_D) !== 0 && (g.ptes[0]! & PTE_D) === 0);
  assert.equal(g.tables.length, 1, "the second table still maps page 203");
  assert.equal(walk(mem, mm, asVirt(a), false), -1);
  assert.ok(walk(mem, mm, asVirt(a + 3 * PAGE_SIZE), false) >= 0);
  pteClear(p32, walk(mem, mm, asVirt(a + 3 * PAGE_SIZE), false));
  // The gathered table is the caller's to free after the shootdown.
  const g2 = newGather();
  g2.tables.push(...g.tables);
  ptlLock(mem, mm);
  freePgtables(mem, mm, asVirt(a), asVirt(a + 4 * PAGE_SIZE), g2);
  ptlUnlock(mem, mm);
  assert.equal(g2.tables.length, 2);
  for (const t of g2.tables) freeTable(mem, mm, t);
  assert.equal(mmField(mem, mm, MM.ptFrames), 1);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free0);
});

Deno.test("ptePresent() counts PROT_NONE leaves as mapped", () => {
  assert.equal(ptePresent(asPte(0)), false);
  assert.equal(ptePresent(asPte((5 << 10) | PTE_V | PTE_R)), true);
  assert.equal(ptePresent(asPte((5 << 10) | PTE_PROTNONE)), true);
  assert.equal(ptePresent(asPte((5 << 10) | PTE_V)), false, "a table pointer is not a leaf");
});
