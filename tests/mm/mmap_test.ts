import assert from "node:assert/strict";
import { EACCES, EBADF, EEXIST, EINVAL, ENODEV, ENOMEM, EOVERFLOW } from "../../src/abi/errno.ts";
import { MM, mmBase, VMAS_PER_TASK } from "../../src/abi/layout/mod.ts";
import {
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_ASYNC,
  MS_SYNC,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { PTE_R, PTE_V, PTE_W, PTE_X } from "../../src/abi/sv32.ts";
import { asInodeSlot, asVirt, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { handleMmFault, VM_FAULT_SIGSEGV } from "../../src/mm/fault.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { pageRefcount } from "../../src/mm/memmap.ts";
import { mmAlloc, mmField, mmGauges, mmPut, TASK_SIZE } from "../../src/mm/mm.ts";
import {
  doBrk,
  doMadvise,
  doMmap,
  doMprotect,
  doMsync,
  doMunmap,
  setBrkStart,
  vmaDump,
} from "../../src/mm/mmap.ts";
import { PTE_PROTNONE } from "../../src/mm/pgtable.ts";
import {
  registerVmOps,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  vmaFreeSlots,
  VMOPS_TEST,
} from "../../src/mm/vma.ts";
import { boot, pfnAt, pteAt, userLoad, userStore } from "./_mm_helpers.ts";

const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const RW = PROT_READ | PROT_WRITE;
const P = PAGE_SIZE;

// A mappable file whose msync calls are recorded.
const OPS_SYNC = VMOPS_TEST + 3;
const msyncs: [number, number, number][] = [];
registerVmOps(OPS_SYNC, {
  name: "test-msync",
  ctx: null,
  fault: () => 0x2, // SIGBUS: these tests never touch the pages
  msync(_mem, _vma, start, end, flags) {
    msyncs.push([start, end, flags]);
    return 0;
  },
});
const file = (writable: boolean, ops = OPS_SYNC) => ({
  slot: asInodeSlot(3),
  ops,
  readable: true,
  writable,
});

Deno.test("doMmap() rejects bad arguments with Linux's errno", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const cases: [string, () => number, number][] = [
    ["zero length", () => doMmap(mem, mm, 0, 0, RW, ANON), -EINVAL],
    ["no sharing type", () => doMmap(mem, mm, 0, P, RW, MAP_ANONYMOUS), -EINVAL],
    ["unknown prot bit", () => doMmap(mem, mm, 0, P, 0x40, ANON), -EINVAL],
    [
      "MAP_SHARED_VALIDATE of anonymous memory",
      () => doMmap(mem, mm, 0, P, RW, 3 | MAP_ANONYMOUS),
      -EINVAL,
    ],
    ["misaligned MAP_FIXED", () => doMmap(mem, mm, 0x10_0100, P, RW, ANON | MAP_FIXED), -EINVAL],
    ["longer than user space", () => doMmap(mem, mm, 0, TASK_SIZE + P, RW, ANON), -ENOMEM],
    [
      "MAP_FIXED past the top",
      () => doMmap(mem, mm, TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED),
      -ENOMEM,
    ],
    ["file mapping without a file", () => doMmap(mem, mm, 0, P, RW, MAP_SHARED), -EBADF],
    [
      "shared writable map of a read-only fd",
      () => doMmap(mem, mm, 0, P, RW, MAP_SHARED, file(false), 0),
      -EACCES,
    ],
    [
      "file opened write-only",
      () => doMmap(mem, mm, 0, P, PROT_READ, MAP_SHARED, { ...file(true), readable: false }, 0),
      -EACCES,
    ],
    [
      "file with no mmap",
      () => doMmap(mem, mm, 0, P, PROT_READ, MAP_SHARED, file(true, 0), 0),
      -ENODEV,
    ],
    [
      "unregistered operations",
      () => doMmap(mem, mm, 0, P, PROT_READ, MAP_SHARED, file(true, 15), 0),
      -ENODEV,
    ],
    [
      "offset that wraps",
      () => doMmap(mem, mm, 0, 2 * P, PROT_READ, MAP_SHARED, file(true), 0x7fff_ffff),
      -EOVERFLOW,
    ],
  ];
  for (const [what, call, want] of cases) assert.equal(call(), want, what);
  assert.deepEqual(vmaDump(mem, mm), [], "nothing was mapped");
  mmPut(mem, mm);
});

Deno.test("doMmap() maps a private writable map of a read-only fd, and a shared read-only one", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.ok(doMmap(mem, mm, 0, P, RW, MAP_PRIVATE, file(false), 0) > 0);
  const ro = doMmap(mem, mm, 0, P, PROT_READ, MAP_SHARED, file(false), 0);
  assert.ok(ro > 0);
  const flags = vmaDump(mem, mm).find(([s]) => s === ro)![2];
  assert.equal(
    flags & (VM_MAYWRITE | VM_SHARED),
    0,
    "a read-only fd cannot become shared-writable",
  );
  assert.equal(doMprotect(mem, mm, ro, P, RW), -EACCES);
  mmPut(mem, mm);
});

Deno.test("doMmap() places, honours hints and MAP_FIXED, refuses MAP_FIXED_NOREPLACE overlap", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 3 * P, RW, ANON);
  const b = doMmap(mem, mm, 0, P, PROT_READ, ANON);
  assert.ok(a > 0 && b > 0 && b + P <= a, "top-down placement");
  assert.equal(doMmap(mem, mm, 0x1000_0000, P, RW, ANON), 0x1000_0000, "a free hint is used");
  assert.equal(doMmap(mem, mm, 0x1000_0123, P, RW, ANON), 0x1000_1000, "a hint is rounded up");
  assert.equal(doMmap(mem, mm, a, P, RW, ANON | MAP_FIXED_NOREPLACE), -EEXIST);
  userStore(mem, mm, a + P, 9);
  // MAP_FIXED over the middle page replaces it: a fresh zero page there.
  assert.equal(doMmap(mem, mm, a + P, P, PROT_READ, ANON | MAP_FIXED), a + P);
  assert.equal(userLoad(mem, mm, a + P), 0);
  const around = vmaDump(mem, mm).filter(([s]) => s >= a && s < a + 3 * P).map((
    [s, e],
  ) => [s - a, e - a]);
  assert.deepEqual(around, [[0, P], [P, 2 * P], [2 * P, 3 * P]]);
  mmPut(mem, mm);
});

Deno.test("doMmap() with MAP_POPULATE faults every page in", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 4 * P, RW, ANON | MAP_POPULATE);
  for (let i = 0; i < 4; i++) assert.ok((pteAt(mem, mm, a + i * P) & PTE_W) !== 0);
  assert.equal(mmField(mem, mm, MM.rssAnon), 4);
  const r = doMmap(mem, mm, 0, 2 * P, PROT_READ, ANON | MAP_POPULATE);
  assert.ok((pteAt(mem, mm, r) & PTE_V) !== 0, "read-only populate maps the zero page");
  mmPut(mem, mm);
});

Deno.test("doMmap() and a splitting doMunmap() return -ENOMEM when the VMA table is full", () => {
  const mem = boot({ maxTasks: 2 });
  const mm = mmAlloc(mem) as MmId;
  const slots = vmaFreeSlots(mem);
  assert.equal(slots, 2 * VMAS_PER_TASK - 1);
  const big = 0x1000_0000;
  assert.equal(doMmap(mem, mm, big, 3 * P, RW, ANON | MAP_FIXED), big);
  for (let i = 1; i < slots; i++) {
    // Guard gaps keep the VMAs separate.
    assert.ok(doMmap(mem, mm, big + (i + 2) * 2 * P, P, RW, ANON | MAP_FIXED) > 0);
  }
  assert.equal(vmaFreeSlots(mem), 0);
  assert.equal(doMmap(mem, mm, 0, P, RW, ANON), -ENOMEM);
  assert.equal(doMunmap(mem, mm, big + P, P), -ENOMEM, "a hole in the middle needs a slot");
  assert.equal(vmaDump(mem, mm)[0]![1], big + 3 * P, "nothing changed");
  assert.equal(doMunmap(mem, mm, big + 6 * P, P), 0, "a whole vma needs no slot");
  assert.equal(doMunmap(mem, mm, big + P, P), 0, "with a slot free the split works");
  assert.deepEqual(vmaDump(mem, mm).slice(0, 2).map(([s, e]) => [s - big, e - big]), [[0, P], [
    2 * P,
    3 * P,
  ]]);
  mmPut(mem, mm);
  assert.equal(vmaFreeSlots(mem), slots);
});

const rel = (mem: Memory, mm: MmId, base: number) =>
  vmaDump(mem, mm).map(([s, e, f]) => [(s - base) / P, (e - base) / P, f & (VM_READ | VM_WRITE)]);

Deno.test("doMunmap() splits VMAs at head, middle and tail", () => {
  const table: [string, number, number, number[][]][] = [
    ["head", 0, 2, [[2, 8, 3]]],
    ["middle", 3, 2, [[0, 3, 3], [5, 8, 3]]],
    ["tail", 6, 2, [[0, 6, 3]]],
    ["all", 0, 8, []],
    ["beyond both ends", 0, 8, []],
  ];
  for (const [what, first, n, want] of table) {
    const mem = boot();
    const mm = mmAlloc(mem) as MmId;
    const free0 = freeFrameCount(mem);
    const a = doMmap(mem, mm, 0x2000_0000, 8 * P, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 8; i++) userStore(mem, mm, a + i * P, 0x40 + i);
    const start = what === "beyond both ends" ? a - 4 * P : a + first * P;
    const len = what === "beyond both ends" ? 16 * P : n * P;
    assert.equal(doMunmap(mem, mm, start, len), 0, what);
    assert.deepEqual(rel(mem, mm, a), want, what);
    for (let i = 0; i < 8; i++) {
      const gone = i >= first && i < first + n;
      if (gone) {
        assert.equal(pfnAt(mem, mm, a + i * P), -1, `${what}: page ${i} unmapped`);
        assert.equal(handleMmFault(mem, mm, asVirt(a + i * P), 2), VM_FAULT_SIGSEGV);
      } else assert.equal(userLoad(mem, mm, a + i * P), 0x40 + i, `${what}: page ${i} kept`);
    }
    assert.equal(mmField(mem, mm, MM.rssAnon), 8 - n, what);
    mmPut(mem, mm);
    assert.equal(freeFrameCount(mem), free0 + 1, `${what}: every frame back (root included)`);
  }
});

Deno.test("anonymous VMAs with equal flags merge after mmap and mprotect", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0x2000_0000, 2 * P, RW, ANON | MAP_FIXED);
  assert.equal(doMmap(mem, mm, a + 2 * P, 2 * P, RW, ANON | MAP_FIXED), a + 2 * P);
  assert.deepEqual(rel(mem, mm, a), [[0, 4, 3]], "adjacent mmaps merge");
  userStore(mem, mm, a + 3 * P, 5);
  assert.equal(doMprotect(mem, mm, a + P, 2 * P, PROT_READ), 0);
  assert.deepEqual(rel(mem, mm, a), [[0, 1, 3], [1, 3, 1], [3, 4, 3]]);
  assert.equal(doMprotect(mem, mm, a + P, 2 * P, RW), 0);
  assert.deepEqual(rel(mem, mm, a), [[0, 4, 3]], "restoring the protection merges back");
  assert.equal(userLoad(mem, mm, a + 3 * P), 5);
  assert.equal(doMmap(mem, mm, a + 4 * P, P, PROT_READ, ANON | MAP_FIXED), a + 4 * P);
  assert.equal(rel(mem, mm, a).length, 2, "different flags stay apart");
  mmPut(mem, mm);
});

Deno.test("doMunmap() rejects misalignment and zero length, accepts an empty range", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  assert.equal(doMunmap(mem, mm, 0x1001, P), -EINVAL);
  assert.equal(doMunmap(mem, mm, 0x1000, 0), -EINVAL);
  assert.equal(doMunmap(mem, mm, TASK_SIZE - P, 2 * P), -EINVAL);
  assert.equal(doMunmap(mem, mm, 0x3000_0000, P), 0);
  mmPut(mem, mm);
});

Deno.test("doMprotect() splits at head, middle and tail and rewrites PTEs", () => {
  const table: [string, number, number, number[][]][] = [
    ["head", 0, 2, [[0, 2, 1], [2, 6, 3]]],
    ["middle", 2, 2, [[0, 2, 3], [2, 4, 1], [4, 6, 3]]],
    ["tail", 4, 2, [[0, 4, 3], [4, 6, 1]]],
    ["whole", 0, 6, [[0, 6, 1]]],
  ];
  for (const [what, first, n, want] of table) {
    const mem = boot();
    const mm = mmAlloc(mem) as MmId;
    const a = doMmap(mem, mm, 0x2000_0000, 6 * P, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 6; i++) userStore(mem, mm, a + i * P, i + 1);
    assert.equal(doMprotect(mem, mm, a + first * P, n * P, PROT_READ), 0, what);
    assert.deepEqual(rel(mem, mm, a), want, what);
    for (let i = 0; i < 6; i++) {
      const ro = i >= first && i < first + n;
      const pte = pteAt(mem, mm, a + i * P);
      assert.equal((pte & PTE_W) !== 0, !ro, `${what}: page ${i} W`);
      assert.equal(userLoad(mem, mm, a + i * P), i + 1);
      if (ro) assert.equal(handleMmFault(mem, mm, asVirt(a + i * P), 4), VM_FAULT_SIGSEGV);
    }
    mmPut(mem, mm);
  }
});

Deno.test("doMprotect() errors: misaligned, unknown bits, holes; PROT_NONE keeps the frame", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0x2000_0000, 2 * P, RW, ANON | MAP_FIXED);
  assert.equal(doMprotect(mem, mm, a + 1, P, PROT_READ), -EINVAL);
  assert.equal(doMprotect(mem, mm, a, P, 0x80), -EINVAL);
  assert.equal(doMprotect(mem, mm, a, 3 * P, PROT_READ), -ENOMEM, "a hole after the vma");
  assert.deepEqual(rel(mem, mm, a), [[0, 2, 3]], "nothing changed on error");
  assert.equal(doMprotect(mem, mm, a, 0, PROT_READ), 0);
  userStore(mem, mm, a, 77);
  const pfn = pfnAt(mem, mm, a);
  assert.equal(doMprotect(mem, mm, a, P, 0), 0);
  const pte = pteAt(mem, mm, a);
  assert.equal(pte & (PTE_V | PTE_R | PTE_W | PTE_X), 0);
  assert.ok((pte & PTE_PROTNONE) !== 0);
  assert.equal(handleMmFault(mem, mm, asVirt(a), 2), VM_FAULT_SIGSEGV);
  assert.equal(pageRefcount(mem, pfn as Pfn), 1, "still mapped while PROT_NONE");
  assert.equal(doMprotect(mem, mm, a, P, PROT_READ | PROT_EXEC), 0);
  assert.equal(pfnAt(mem, mm, a), pfn);
  assert.equal(userLoad(mem, mm, a), 77);
  assert.ok((pteAt(mem, mm, a) & PTE_X) !== 0);
  mmPut(mem, mm);
});

Deno.test("doMadvise(MADV_DONTNEED) drops anonymous pages; they read back as zeros", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0x2000_0000, 4 * P, RW, ANON | MAP_FIXED);
  for (let i = 0; i < 4; i++) userStore(mem, mm, a + i * P, 0x30);
  const free = freeFrameCount(mem);
  assert.equal(doMadvise(mem, mm, a + P, 2 * P, MADV_DONTNEED), 0);
  assert.equal(freeFrameCount(mem), free + 2);
  assert.equal(userLoad(mem, mm, a + P), 0);
  assert.equal(userLoad(mem, mm, a), 0x30);
  assert.equal(userLoad(mem, mm, a + 3 * P), 0x30);
  assert.equal(doMadvise(mem, mm, a + 1, P, MADV_DONTNEED), -EINVAL);
  assert.equal(doMadvise(mem, mm, a, P, 99), -EINVAL);
  assert.equal(doMadvise(mem, mm, a, 8 * P, MADV_DONTNEED), -ENOMEM, "range runs past the vma");
  assert.equal(mmGauges(mem).anonFrames, mmField(mem, mm, MM.rssAnon));
  mmPut(mem, mm);
});

Deno.test("doMsync() checks its arguments and calls the file's msync on shared mappings", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  msyncs.length = 0;
  const a = doMmap(mem, mm, 0x2000_0000, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, file(true), 0);
  assert.equal(doMsync(mem, mm, a + 1, P, MS_SYNC), -EINVAL);
  assert.equal(doMsync(mem, mm, a, P, MS_SYNC | MS_ASYNC), -EINVAL);
  assert.equal(doMsync(mem, mm, a, P, 0x100), -EINVAL);
  assert.equal(doMsync(mem, mm, a, 4 * P, MS_SYNC), -ENOMEM);
  msyncs.length = 0;
  assert.equal(doMsync(mem, mm, a, 2 * P, MS_SYNC), 0);
  assert.deepEqual(msyncs, [[a, a + 2 * P, MS_SYNC]]);
  assert.equal(doMsync(mem, mm, a, 2 * P, MS_ASYNC), 0);
  assert.equal(msyncs.length, 1, "MS_ASYNC does not wait for writeback");
  mmPut(mem, mm);
});

Deno.test("doBrk() grows and shrinks the heap, refusing overlaps and going below start", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  const start = 0x0100_0000;
  setBrkStart(mem, mm, start);
  assert.equal(doBrk(mem, mm, 0), start, "brk(0) reports the current break");
  assert.equal(doBrk(mem, mm, start + 100), start + 100);
  userStore(mem, mm, start + 99, 1);
  assert.equal(doBrk(mem, mm, start + 3 * P), start + 3 * P);
  assert.equal(vmaDump(mem, mm).length, 1, "the heap vma is extended, not duplicated");
  userStore(mem, mm, start + 2 * P, 2);
  assert.equal(doBrk(mem, mm, start - P), start + 3 * P, "below start is refused");
  assert.equal(doBrk(mem, mm, start + P), start + P);
  assert.equal(handleMmFault(mem, mm, asVirt(start + 2 * P), 1), VM_FAULT_SIGSEGV);
  assert.equal(userLoad(mem, mm, start + 99), 1);
  // Something in the way: growth fails and returns the old break.
  assert.ok(doMmap(mem, mm, start + 4 * P, P, RW, ANON | MAP_FIXED) > 0);
  assert.equal(doBrk(mem, mm, start + 5 * P), start + P);
  assert.equal(mem.k32[mmBase(mem.layout, mm) + MM.brk], start + P);
  mmPut(mem, mm);
});

Deno.test("exitMmap() returns every frame, table and VMA slot", () => {
  const mem = boot();
  const free0 = freeFrameCount(mem);
  const slots0 = vmaFreeSlots(mem);
  const mm = mmAlloc(mem) as MmId;
  const a = doMmap(mem, mm, 0, 64 * P, RW, ANON);
  const b = doMmap(mem, mm, 0x0040_0000, 8 * P, PROT_READ, ANON | MAP_FIXED);
  const c = doMmap(mem, mm, 0x6000_0000, 3 * P, RW | PROT_EXEC, ANON | MAP_FIXED);
  for (let i = 0; i < 64; i += 3) userStore(mem, mm, a + i * P, i);
  for (let i = 0; i < 8; i++) userLoad(mem, mm, b + i * P);
  userStore(mem, mm, c, 1);
  assert.equal(doMprotect(mem, mm, a + 4 * P, 4 * P, PROT_READ), 0);
  assert.ok(mmGauges(mem).pagetableFrames >= 4);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free0);
  assert.equal(vmaFreeSlots(mem), slots0);
  assert.deepEqual(mmGauges(mem), { pagetableFrames: 0, anonFrames: 0 });
});
