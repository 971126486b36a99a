import assert from "node:assert/strict";
import { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { asInodeSlot, type MmId, PAGE_SIZE, type VmaId } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap, doMprotect, doMunmap } from "../../src/mm/mmap.ts";
import {
  immapInsert,
  immapList,
  immapRemove,
  registerVmOps,
  vmaEnd,
  vmaPgoff,
  vmaStart,
  VMOPS_TEST,
} from "../../src/mm/vma.ts";
import { LockClass, mutexLock, mutexUnlock } from "../../src/sync/mod.ts";
import { boot } from "./_mm_helpers.ts";

// A file whose i_mmap head and lock live in scratch words, as the inode cache's will.
const OPS_RMAP = VMOPS_TEST + 4;
let headWord = 0;
let lockWord = 0;
const events: string[] = [];
registerVmOps(OPS_RMAP, {
  name: "test-rmap",
  ctx: null,
  fault: () => 0x2,
  open(mem: Memory, v: VmaId) {
    mutexLock(mem.k32, lockWord, LockClass.I_MMAP);
    immapInsert(mem, headWord, v);
    mutexUnlock(mem.k32, lockWord);
    events.push("open");
  },
  close(mem: Memory, v: VmaId) {
    mutexLock(mem.k32, lockWord, LockClass.I_MMAP);
    immapRemove(mem, headWord, v);
    mutexUnlock(mem.k32, lockWord);
    events.push("close");
  },
  lockRmap(mem: Memory) {
    mutexLock(mem.k32, lockWord, LockClass.I_MMAP);
  },
  unlockRmap(mem: Memory) {
    mutexUnlock(mem.k32, lockWord);
  },
});

const P = PAGE_SIZE;
const file = { slot: asInodeSlot(9), ops: OPS_RMAP, readable: true, writable: true };

/** The i_mmap list as [start, end, pgoff] per VMA, sorted. */
const rmap = (mem: Memory) =>
  immapList(mem, headWord).map((v) => [vmaStart(mem, v), vmaEnd(mem, v), vmaPgoff(mem, v)])
    .sort((a, b) => a[0]! - b[0]!);

Deno.test("i_mmap holds every VMA of a file through mmap, split, munmap and exit", () => {
  const mem = boot();
  headWord = mem.layout.scratch.base + 16;
  lockWord = mem.layout.scratch.base + 32;
  events.length = 0;
  const a = 0x3000_0000;
  const mm1 = mmAlloc(mem) as MmId;
  const mm2 = mmAlloc(mem) as MmId;
  assert.equal(doMmap(mem, mm1, a, 8 * P, PROT_READ, MAP_SHARED | MAP_FIXED, file, 10), a);
  assert.equal(
    doMmap(mem, mm2, a, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, file, 0),
    a,
  );
  assert.equal(immapList(mem, headWord).length, 2, "both processes' VMAs");
  // Split by mprotect: three VMAs of mm1, pgoff following the addresses.
  assert.equal(doMprotect(mem, mm1, a + 2 * P, 2 * P, PROT_READ | PROT_WRITE), 0);
  assert.deepEqual(rmap(mem).filter((r) => r[2]! >= 10), [
    [a, a + 2 * P, 10],
    [a + 2 * P, a + 4 * P, 12],
    [a + 4 * P, a + 8 * P, 14],
  ]);
  // Trim the head of the last one and punch out the middle one.
  assert.equal(doMunmap(mem, mm1, a + 2 * P, 3 * P), 0);
  assert.deepEqual(rmap(mem).filter((r) => r[2]! >= 10), [
    [a, a + 2 * P, 10],
    [a + 5 * P, a + 8 * P, 15],
  ]);
  mmPut(mem, mm1);
  assert.deepEqual(rmap(mem), [[a, a + 2 * P, 0]], "only mm2's VMA is left");
  mmPut(mem, mm2);
  assert.deepEqual(immapList(mem, headWord), []);
  assert.equal(
    events.filter((e) => e === "open").length,
    events.filter((e) => e === "close").length,
  );
  assert.equal(Atomics.load(mem.k32, lockWord), 0, "i_mmap lock released");
});
