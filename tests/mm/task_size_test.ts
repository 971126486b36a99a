import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { mmAlloc, mmapReadLock, mmapReadUnlock, mmPut, TASK_SIZE } from "../../src/mm/mm.ts";
import { doBrk, doMmap, doMprotect, doMunmap, setBrkStart } from "../../src/mm/mmap.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { findVma, vmaEnd, vmaStart } from "../../src/mm/vma.ts";
import { boot, userLoad, userStore } from "./_mm_helpers.ts";

const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;
const TOP = TASK_SIZE - P;

function vmaAt(mem: ReturnType<typeof boot>, mm: MmId, va: number): [number, number] | null {
  mmapReadLock(mem, mm);
  try {
    const v = findVma(mem, mm, asVirt(va));
    return v === 0 ? null : [vmaStart(mem, v), vmaEnd(mem, v)];
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

Deno.test("doMmap() maps the last user page: the VMA ends exactly at TASK_SIZE and reads back unsigned", () => {
  const mem = boot();
  const free0 = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  switchMm(mem, asTaskSlot(1), mm);
  assert.equal(doMmap(mem, mm, TOP, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), TOP);
  assert.deepEqual(vmaAt(mem, mm, TOP), [TOP, TASK_SIZE]);
  assert.deepEqual(vmaAt(mem, mm, TASK_SIZE - 1), [TOP, TASK_SIZE]);
  assert.equal(vmaAt(mem, mm, TASK_SIZE), null, "nothing ends above TASK_SIZE");
  userStore(mem, mm, TASK_SIZE - 1, 0x5a);
  assert.equal(userLoad(mem, mm, TASK_SIZE - 1), 0x5a);
  // A second mapping just below merges or sits next to it; the order stays sorted.
  assert.equal(doMmap(mem, mm, TOP - P, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), TOP - P);
  assert.equal(vmaAt(mem, mm, TOP - P)![1] > TOP - P, true);
  assert.equal(doMprotect(mem, mm, TOP, P, PROT_READ), 0);
  assert.equal(doMmap(mem, mm, TOP, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), -12);
  assert.equal(doMunmap(mem, mm, TOP - P, 2 * P), 0);
  assert.equal(vmaAt(mem, mm, TOP), null);
  switchMm(mem, asTaskSlot(1), 0);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free0);
});

Deno.test("doBrk() can move the break to TASK_SIZE and back; brk(0) reads it unsigned", () => {
  const mem = boot();
  const free0 = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  switchMm(mem, asTaskSlot(1), mm);
  setBrkStart(mem, mm, TOP - P);
  assert.equal(doBrk(mem, mm, TASK_SIZE), TASK_SIZE);
  assert.equal(doBrk(mem, mm, 0), TASK_SIZE, "the current break, not a negative number");
  assert.deepEqual(vmaAt(mem, mm, TOP), [TOP - P, TASK_SIZE]);
  userStore(mem, mm, TASK_SIZE - 8, 1);
  assert.equal(doBrk(mem, mm, TASK_SIZE + P), TASK_SIZE, "past TASK_SIZE is refused");
  assert.equal(doBrk(mem, mm, TOP), TOP, "shrinks");
  assert.deepEqual(vmaAt(mem, mm, TOP - P), [TOP - P, TOP]);
  switchMm(mem, asTaskSlot(1), 0);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free0);
});
