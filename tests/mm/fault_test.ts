import assert from "node:assert/strict";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import {
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_D,
  PTE_R,
  PTE_SPECIAL,
  PTE_U,
  PTE_W,
  PTE_X,
} from "../../src/abi/sv32.ts";
import {
  asInodeSlot,
  asPfn,
  asPte,
  asVirt,
  type MmId,
  PAGE_SIZE,
  type Pfn,
} from "../../src/abi/types.ts";
import { type Memory, statRead } from "../../src/hw/memory.ts";
import {
  handleMmFault,
  STACK_GUARD_GAP,
  STACK_LIMIT,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  vmNormalPage,
} from "../../src/mm/fault.ts";
import { allocFrame, freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  pageMapcount,
  pageRefcount,
  pfnValid,
  PG_dirty,
  putPage,
  testPageFlag,
} from "../../src/mm/memmap.ts";
import { mmAlloc, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMmap, doMprotect, vmaDump } from "../../src/mm/mmap.ts";
import { copyToUser } from "../../src/mm/uaccess.ts";
import { findVma } from "../../src/mm/vma.ts";
import { boot, fillFrame, pfnAt, pteAt, softAccess, userLoad, userStore } from "./_mm_helpers.ts";
import { cachePages, dax, daxPfn, mkwriteCalls, OPS_DAX, OPS_PAGES } from "./_test_vmops.ts";

const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const RW = PROT_READ | PROT_WRITE;

function anonMap(mem: Memory, mm: MmId, pages: number, prot = RW, flags = ANON): number {
  const a = doMmap(mem, mm, 0, pages * PAGE_SIZE, prot, flags);
  assert.ok(a > 0, `mmap failed: ${a}`);
  return a;
}

const stats = (mem: Memory) => ({
  anon: statRead(mem, VMSTAT.faultAnon),
  zero: statRead(mem, VMSTAT.faultZero),
  cow: statRead(mem, VMSTAT.faultCow),
  copied: statRead(mem, VMSTAT.copiedCow),
});

Deno.test("handleMmFault() maps the zero page read-only, special, on an anonymous read", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 4);
  const free = freeFrameCount(mem);
  assert.equal(handleMmFault(mem, mm, asVirt(a + 5), ACCESS_READ), 0);
  const pte = pteAt(mem, mm, a);
  assert.equal(pfnAt(mem, mm, a), zeroPfn(mem));
  assert.equal(pte & PTE_W, 0);
  assert.ok((pte & PTE_SPECIAL) !== 0 && (pte & PTE_U) !== 0);
  assert.equal(freeFrameCount(mem), free - 1, "only the level-0 table was allocated");
  assert.deepEqual(stats(mem), { anon: 0, zero: 1, cow: 0, copied: 0 });
  assert.equal(vmNormalPage(mem, findVma(mem, mm, asVirt(a)), asPte(pte)), null);
  assert.equal(userLoad(mem, mm, a + 100), 0);
  mmPut(mem, mm);
});

Deno.test("handleMmFault() gives a zeroed private frame on an anonymous write", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 2);
  // Dirty a frame, free it, so a non-zeroing allocator would hand back garbage.
  const junk = allocFrame(mem) as Pfn;
  fillFrame(mem, junk, 0xaa);
  putPage(mem, junk);
  assert.equal(handleMmFault(mem, mm, asVirt(a), ACCESS_WRITE), 0);
  const pfn = asPfn(pfnAt(mem, mm, a));
  const pte = pteAt(mem, mm, a);
  assert.ok((pte & PTE_W) !== 0 && (pte & PTE_D) !== 0 && (pte & PTE_SPECIAL) === 0);
  assert.ok(mem.u8.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE).every((b) => b === 0));
  assert.equal(pageRefcount(mem, pfn), 1);
  assert.equal(pageMapcount(mem, pfn), 1);
  assert.deepEqual(stats(mem), { anon: 1, zero: 0, cow: 0, copied: 0 });
  mmPut(mem, mm);
});

Deno.test("handleMmFault() upgrades the zero page to a private frame on a later write", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 1);
  const z = zeroPfn(mem);
  const zeroRefs = pageRefcount(mem, z);
  assert.equal(userLoad(mem, mm, a), 0);
  assert.equal(pfnAt(mem, mm, a), z);
  userStore(mem, mm, a + 7, 42);
  const pfn = pfnAt(mem, mm, a);
  assert.notEqual(pfn, z);
  assert.equal(userLoad(mem, mm, a + 7), 42);
  assert.equal(mem.u8[z * PAGE_SIZE + 7], 0, "the zero page stays zero");
  assert.equal(pageRefcount(mem, z), zeroRefs, "the zero page is never refcounted by mappings");
  assert.equal(pageMapcount(mem, z), 0);
  assert.deepEqual(stats(mem), { anon: 1, zero: 1, cow: 0, copied: 0 });
  mmPut(mem, mm);
});

Deno.test("handleMmFault() returns SIGSEGV for no vma, a forbidden access, or kernel space", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const ro = anonMap(mem, mm, 1, PROT_READ);
  const rw = anonMap(mem, mm, 1, RW);
  const none = anonMap(mem, mm, 1, 0);
  const cases: [string, number, typeof ACCESS_READ | typeof ACCESS_WRITE | typeof ACCESS_EXEC][] = [
    ["unmapped", 0x2000, ACCESS_READ],
    ["write to PROT_READ", ro, ACCESS_WRITE],
    ["exec of PROT_READ|PROT_WRITE", rw, ACCESS_EXEC],
    ["read of PROT_NONE", none, ACCESS_READ],
    ["above TASK_SIZE", 0x9000_0000, ACCESS_READ],
  ];
  for (const [what, va, acc] of cases) {
    assert.equal(handleMmFault(mem, mm, asVirt(va), acc), VM_FAULT_SIGSEGV, what);
  }
  assert.equal(handleMmFault(mem, mm, asVirt(rw), ACCESS_READ), 0);
  mmPut(mem, mm);
});

Deno.test("handleMmFault() returns VM_FAULT_OOM when no frame is left", () => {
  const mem = boot({ ramFrames: 16 });
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 32);
  let r = 0;
  let n = 0;
  for (; n < 32 && r === 0; n++) {
    r = handleMmFault(mem, mm, asVirt(a + n * PAGE_SIZE), ACCESS_WRITE);
  }
  assert.equal(r, VM_FAULT_OOM);
  assert.equal(freeFrameCount(mem), 0);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), 16 - 2, "all but the zero page and the [vdso] page come back");
});

Deno.test("doWpPage() reuses an exclusive anonymous page instead of copying", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 1);
  userStore(mem, mm, a, 1);
  const pfn = pfnAt(mem, mm, a);
  assert.equal(doMprotect(mem, mm, a, PAGE_SIZE, PROT_READ), 0);
  assert.equal(pteAt(mem, mm, a) & PTE_W, 0);
  assert.equal(doMprotect(mem, mm, a, PAGE_SIZE, RW), 0);
  assert.equal(pteAt(mem, mm, a) & PTE_W, 0, "mprotect does not add W; the write fault decides");
  const before = stats(mem);
  userStore(mem, mm, a, 2);
  assert.equal(pfnAt(mem, mm, a), pfn, "same frame");
  assert.deepEqual(stats(mem), before, "no copy, no new fault counted");
  assert.equal(userLoad(mem, mm, a), 2);
  mmPut(mem, mm);
});

/** A page-cache stand-in file of `n` pages filled with 0x10 + pgoff. */
function makeCacheFile(mem: Memory, n: number): Pfn[] {
  cachePages.clear();
  const out: Pfn[] = [];
  for (let i = 0; i < n; i++) {
    const p = allocFrame(mem) as Pfn;
    fillFrame(mem, p, 0x10 + i);
    cachePages.set(i, p);
    out.push(p);
  }
  return out;
}

const testFile = (ops: number, writable = true) => ({
  slot: asInodeSlot(7),
  ops,
  readable: true,
  writable,
});

Deno.test("doWpPage() copies a page-cache page on a private write, source untouched", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const pages = makeCacheFile(mem, 2);
  const a = doMmap(mem, mm, 0, 2 * PAGE_SIZE, RW, MAP_PRIVATE, testFile(OPS_PAGES), 0);
  assert.ok(a > 0);
  assert.equal(userLoad(mem, mm, a), 0x10);
  assert.equal(pfnAt(mem, mm, a), pages[0]);
  assert.equal(pageRefcount(mem, pages[0]!), 2, "cache + mapping");
  assert.equal(pageMapcount(mem, pages[0]!), 1);
  assert.equal(pteAt(mem, mm, a) & PTE_W, 0, "private file pages map read-only");
  userStore(mem, mm, a + 1, 0x99);
  assert.notEqual(pfnAt(mem, mm, a), pages[0]);
  assert.equal(userLoad(mem, mm, a + 1), 0x99);
  assert.equal(userLoad(mem, mm, a + 2), 0x10, "copied contents");
  assert.equal(mem.u8[pages[0]! * PAGE_SIZE + 1], 0x10, "source untouched");
  assert.equal(pageRefcount(mem, pages[0]!), 1, "mapping reference dropped");
  assert.equal(pageMapcount(mem, pages[0]!), 0);
  assert.deepEqual(stats(mem), { anon: 0, zero: 0, cow: 1, copied: PAGE_SIZE });
  // First touch is a write: doCowFault copies without mapping the cache page.
  userStore(mem, mm, a + PAGE_SIZE, 0x77);
  assert.equal(userLoad(mem, mm, a + PAGE_SIZE + 1), 0x11);
  assert.equal(pageRefcount(mem, pages[1]!), 1);
  assert.equal(pageMapcount(mem, pages[1]!), 0);
  assert.deepEqual(stats(mem), { anon: 0, zero: 0, cow: 2, copied: 2 * PAGE_SIZE });
  mmPut(mem, mm);
  for (const p of pages) putPage(mem, p);
});

Deno.test("a shared file write fault calls pageMkwrite and dirties the page", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const pages = makeCacheFile(mem, 2);
  mkwriteCalls.length = 0;
  const a = doMmap(mem, mm, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, testFile(OPS_PAGES), 0);
  assert.equal(userLoad(mem, mm, a), 0x10);
  assert.equal(pteAt(mem, mm, a) & PTE_W, 0, "read-only until page_mkwrite");
  userStore(mem, mm, a, 0x55);
  assert.deepEqual(mkwriteCalls, [0]);
  assert.equal(pfnAt(mem, mm, a), pages[0], "shared: written in place");
  assert.equal(mem.u8[pages[0]! * PAGE_SIZE], 0x55);
  assert.ok(testPageFlag(mem, pages[0]!, PG_dirty));
  userStore(mem, mm, a + PAGE_SIZE, 0x66); // first touch is a write
  assert.deepEqual(mkwriteCalls, [0, 1]);
  assert.equal(mem.u8[pages[1]! * PAGE_SIZE], 0x66);
  assert.equal(stats(mem).cow, 0);
  mmPut(mem, mm);
  for (const p of pages) {
    assert.equal(pageRefcount(mem, p), 1);
    putPage(mem, p);
  }
});

Deno.test("a file fault the file system cannot satisfy is SIGBUS", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  makeCacheFile(mem, 1);
  const a = doMmap(mem, mm, 0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, testFile(OPS_PAGES), 0);
  assert.equal(handleMmFault(mem, mm, asVirt(a + PAGE_SIZE), ACCESS_READ), VM_FAULT_SIGBUS);
  mmPut(mem, mm);
  for (const p of cachePages.values()) putPage(mem, p);
});

function daxSetup(memmap: boolean) {
  const mem = boot({ deviceMemmap: memmap });
  dax.base = mem.layout.config.ramFrames;
  dax.size = 8;
  for (let i = 0; i < dax.size; i++) fillFrame(mem, daxPfn(i), 0xd0 + i);
  return mem;
}

Deno.test("insertMixed() maps a device frame without struct page as special, never refcounted", () => {
  const mem = daxSetup(false);
  const free = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(
    mem,
    mm,
    0,
    4 * PAGE_SIZE,
    PROT_READ | PROT_EXEC,
    MAP_SHARED,
    testFile(OPS_DAX, false),
    0,
  );
  assert.ok(a > 0);
  assert.equal(handleMmFault(mem, mm, asVirt(a + PAGE_SIZE), ACCESS_EXEC), 0);
  const pte = pteAt(mem, mm, a + PAGE_SIZE);
  assert.equal(pfnAt(mem, mm, a + PAGE_SIZE), daxPfn(1));
  assert.ok((pte & PTE_SPECIAL) !== 0 && (pte & PTE_X) !== 0);
  assert.equal(pfnValid(mem, daxPfn(1)), false);
  assert.equal(vmNormalPage(mem, findVma(mem, mm, asVirt(a)), asPte(pte)), null);
  assert.equal(userLoad(mem, mm, a + PAGE_SIZE), 0xd1);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free, "no frame leaked");
});

Deno.test("insertMixed() refcounts a device frame that has a struct page (device memmap)", () => {
  const mem = daxSetup(true);
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, testFile(OPS_DAX, false), 0);
  assert.equal(userLoad(mem, mm, a + 2 * PAGE_SIZE), 0xd2);
  const pte = pteAt(mem, mm, a + 2 * PAGE_SIZE);
  assert.equal(pte & PTE_SPECIAL, 0);
  assert.equal(pageRefcount(mem, daxPfn(2)), 1);
  assert.equal(pageMapcount(mem, daxPfn(2)), 1);
  assert.equal(vmNormalPage(mem, findVma(mem, mm, asVirt(a)), asPte(pte)), daxPfn(2));
  mmPut(mem, mm);
  assert.equal(pageRefcount(mem, daxPfn(2)), 0, "back to idle after exit");
  assert.equal(pageMapcount(mem, daxPfn(2)), 0);
});

Deno.test("COW of a private DAX mapping copies from a device frame with no struct page", () => {
  const mem = daxSetup(false);
  const free = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 4 * PAGE_SIZE, RW, MAP_PRIVATE, testFile(OPS_DAX, false), 0);
  // Read first: maps the device frame read-only, special.
  assert.equal(userLoad(mem, mm, a + 3), 0xd0);
  assert.equal(pfnAt(mem, mm, a), daxPfn(0));
  // Write: doWpPage copies from the device pfn.
  userStore(mem, mm, a + 3, 0x01);
  const copy = pfnAt(mem, mm, a);
  assert.ok(copy < mem.layout.config.ramFrames, "now a RAM frame");
  assert.equal(userLoad(mem, mm, a + 3), 0x01);
  assert.equal(userLoad(mem, mm, a + 4), 0xd0, "rest copied from the device");
  assert.equal(mem.u8[daxPfn(0) * PAGE_SIZE + 3], 0xd0, "device frame untouched");
  assert.equal(pageRefcount(mem, asPfn(copy)), 1);
  assert.equal(pageMapcount(mem, asPfn(copy)), 1);
  // First touch is a write: the handler copies into cowPage (DONE_COW).
  userStore(mem, mm, a + PAGE_SIZE, 0x02);
  assert.equal(userLoad(mem, mm, a + PAGE_SIZE + 1), 0xd1);
  assert.equal(mem.u8[daxPfn(1) * PAGE_SIZE], 0xd1);
  assert.deepEqual(stats(mem), { anon: 0, zero: 0, cow: 2, copied: 2 * PAGE_SIZE });
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free, "both copies and the tables were freed");
});

Deno.test("a shared DAX write maps the device frame writable in place", () => {
  const mem = daxSetup(false);
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, testFile(OPS_DAX, true), 0);
  assert.equal(userLoad(mem, mm, a), 0xd0);
  userStore(mem, mm, a, 0xee); // read-only special PTE → wpPageShared
  userStore(mem, mm, a + PAGE_SIZE, 0xef); // first touch write → insertMixed(writable)
  assert.equal(mem.u8[daxPfn(0) * PAGE_SIZE], 0xee);
  assert.equal(mem.u8[daxPfn(1) * PAGE_SIZE], 0xef);
  assert.equal(pfnAt(mem, mm, a), daxPfn(0));
  assert.equal(stats(mem).cow, 0);
  mmPut(mem, mm);
});

Deno.test("softAccess() needs no fault for a present, permitted PTE", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 1);
  userStore(mem, mm, a, 5);
  const before = stats(mem);
  assert.ok(softAccess(mem, mm, a, ACCESS_WRITE) >= 0);
  assert.deepEqual(stats(mem), before);
  mmPut(mem, mm);
});

Deno.test("handleMmFault() grows a VM_GROWSDOWN stack, within the limit and the guard gap", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const P = PAGE_SIZE;
  const top = 0x6000_0000;
  const flags = ANON | MAP_FIXED | MAP_GROWSDOWN;
  assert.equal(doMmap(mem, mm, top - 4 * P, 4 * P, RW, flags), top - 4 * P);
  userStore(mem, mm, top - 10 * P, 3);
  assert.equal(vmaDump(mem, mm).at(-1)![0], top - 10 * P, "stack grew to the fault");
  assert.equal(userLoad(mem, mm, top - 10 * P), 3);
  // copyToUser grows it too.
  assert.equal(copyToUser(mem, mm, asVirt(top - 12 * P), Uint8Array.of(1)), 0);
  assert.equal(vmaDump(mem, mm).at(-1)![0], top - 12 * P);
  // Past the 8 MiB limit: SIGSEGV.
  assert.equal(
    handleMmFault(mem, mm, asVirt(top - STACK_LIMIT - P), ACCESS_WRITE),
    VM_FAULT_SIGSEGV,
  );
  // A mapping below: the stack keeps STACK_GUARD_GAP away from it.
  const below = top - 64 * P - STACK_GUARD_GAP;
  assert.equal(doMmap(mem, mm, below, P, RW, ANON | MAP_FIXED), below);
  assert.equal(handleMmFault(mem, mm, asVirt(top - 64 * P), ACCESS_WRITE), VM_FAULT_SIGSEGV);
  assert.equal(
    handleMmFault(mem, mm, asVirt(top - 63 * P), ACCESS_WRITE),
    0,
    "just outside the gap",
  );
  // A VMA without VM_GROWSDOWN never grows.
  assert.equal(handleMmFault(mem, mm, asVirt(below - P), ACCESS_READ), VM_FAULT_SIGSEGV);
  mmPut(mem, mm);
});

Deno.test("a PROT_WRITE-only mapping maps readable leaves (riscv has no write-only PTE)", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = anonMap(mem, mm, 2, PROT_WRITE);
  assert.equal(userLoad(mem, mm, a), 0);
  assert.ok((pteAt(mem, mm, a) & PTE_R) !== 0, "zero page mapped R");
  userStore(mem, mm, a + PAGE_SIZE, 1);
  const pte = pteAt(mem, mm, a + PAGE_SIZE);
  assert.equal(pte & (PTE_R | PTE_W), PTE_R | PTE_W);
  assert.equal(doMprotect(mem, mm, a, 2 * PAGE_SIZE, PROT_WRITE), 0);
  assert.ok((pteAt(mem, mm, a) & PTE_R) !== 0, "mprotect(PROT_WRITE) keeps R");
  mmPut(mem, mm);
});
