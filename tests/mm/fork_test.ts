/**
 * dupMm / copyPageRange: seed 004's rule at fork (Linux's copy_present_pte
 * asking vm_normal_page), with and without a device memmap. Each PTE kind
 * is checked in both mms: what is mapped, which bits, and exactly which
 * counts moved; then both mms write, and every count returns to where it
 * started once both exit.
 */

import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { PTE_SPECIAL, PTE_W } from "../../src/abi/sv32.ts";
import { asInodeSlot, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { dupMm, type ForkStats } from "../../src/mm/fork.ts";
import {
  pageMapcount,
  pageRefcount,
  pfnValid,
  PG_anon,
  testPageFlag,
} from "../../src/mm/memmap.ts";
import { mmAlloc, mmField, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { MM } from "../../src/abi/layout/mod.ts";
import { boot, fillFrame, pfnAt, pteAt, userLoad, userStore } from "./_mm_helpers.ts";
import { dax, daxPfn, OPS_DAX } from "./_test_vmops.ts";

const RW = PROT_READ | PROT_WRITE;
const daxFile = { slot: asInodeSlot(7), ops: OPS_DAX, readable: true, writable: true };

function setup(memmap: boolean): Memory {
  const mem = boot({ deviceMemmap: memmap, maxTasks: 6 });
  dax.base = mem.layout.config.ramFrames;
  dax.size = 8;
  for (let i = 0; i < dax.size; i++) fillFrame(mem, daxPfn(i), 0xd0 + i);
  return mem;
}

/** refcount and mapcount of a frame that has a struct page; null for one that has none. */
const counts = (mem: Memory, pfn: Pfn | number): [number, number] | null =>
  pfnValid(mem, pfn as Pfn) ? [pageRefcount(mem, pfn as Pfn), pageMapcount(mem, pfn as Pfn)] : null;

for (const memmap of [false, true]) {
  const mode = memmap ? "with a device memmap" : "without a device memmap";

  Deno.test(`dupMm() follows vm_normal_page for every PTE kind, ${mode}`, () => {
    const mem = setup(memmap);
    const free = freeFrameCount(mem);
    const mm = mmAlloc(mem) as MmId;
    // A private DAX mapping (MIXEDMAP): page 0 read (the device frame), page 1
    // written (an anonymous COW copy inside the MIXEDMAP VMA).
    const priv = doMmap(mem, mm, 0, 4 * PAGE_SIZE, RW, MAP_PRIVATE, daxFile, 0);
    assert.equal(userLoad(mem, mm, priv), 0xd0);
    userStore(mem, mm, priv + PAGE_SIZE, 0x11);
    // A shared DAX mapping, written: the device frame, writable.
    const shr = doMmap(mem, mm, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, daxFile, 4);
    userStore(mem, mm, shr, 0x44);
    // Anonymous memory: one page written, one only read (the zero page).
    const anon = doMmap(mem, mm, 0, 2 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    userStore(mem, mm, anon, 0x55);
    assert.equal(userLoad(mem, mm, anon + PAGE_SIZE), 0);

    const dev0 = daxPfn(0), dev4 = daxPfn(4);
    const cow = pfnAt(mem, mm, priv + PAGE_SIZE), anonPfn = pfnAt(mem, mm, anon);
    assert.ok(testPageFlag(mem, cow as Pfn, PG_anon), "the COW copy is an anonymous page");
    const before = {
      dev0: counts(mem, dev0),
      dev4: counts(mem, dev4),
      cow: counts(mem, cow),
      anon: counts(mem, anonPfn),
      zero: counts(mem, zeroPfn(mem)),
    };
    assert.equal(before.dev0 === null, !memmap);
    const rss = [mmField(mem, mm, MM.rssAnon), mmField(mem, mm, MM.rssFile)];

    const stats: ForkStats = { ptes: 0, counted: 0, wrprotected: 0 };
    const child = dupMm(mem, mm, stats) as MmId;
    assert.ok(child > 0, `dupMm: ${child}`);
    assert.equal(stats.ptes, 5, "every present PTE copied");

    // Each PTE: the same frame in both, special exactly when it has no struct page.
    for (const va of [priv, priv + PAGE_SIZE, shr, anon, anon + PAGE_SIZE]) {
      const p = pteAt(mem, mm, va), c = pteAt(mem, child, va);
      assert.equal(pfnAt(mem, child, va), pfnAt(mem, mm, va), `same frame at 0x${va.toString(16)}`);
      assert.equal(c & PTE_SPECIAL, p & PTE_SPECIAL, `special bit copied at 0x${va.toString(16)}`);
    }
    const special = (va: number) => (pteAt(mem, child, va) & PTE_SPECIAL) !== 0;
    assert.equal(special(priv), !memmap, "a device frame is special iff it has no struct page");
    assert.equal(special(shr), !memmap);
    assert.equal(special(anon + PAGE_SIZE), true, "the zero page stays special");
    assert.equal(special(priv + PAGE_SIZE), false, "a COW'd page in a MIXEDMAP VMA is normal");

    // Counts: +1 reference and +1 mapcount for each normal page, nothing for the rest.
    const plusOne = (c: [number, number] | null) => c === null ? null : [c[0] + 1, c[1] + 1];
    assert.deepEqual(counts(mem, dev0), plusOne(before.dev0), "private device frame");
    assert.deepEqual(counts(mem, dev4), plusOne(before.dev4), "shared device frame");
    assert.deepEqual(counts(mem, cow), plusOne(before.cow), "COW copy in the MIXEDMAP VMA");
    assert.deepEqual(counts(mem, anonPfn), plusOne(before.anon), "anonymous page");
    assert.deepEqual(counts(mem, zeroPfn(mem)), before.zero, "the zero page is never counted");
    assert.equal(stats.counted, memmap ? 4 : 2);
    assert.deepEqual(
      [mmField(mem, child, MM.rssAnon), mmField(mem, child, MM.rssFile)],
      [rss[0], memmap ? rss[1] : 0],
      "the child's rss counts what it references",
    );

    // COW mappings lose W in both; the shared mapping keeps it.
    for (const va of [priv + PAGE_SIZE, anon]) {
      assert.equal(pteAt(mem, mm, va) & PTE_W, 0, "parent write-protected");
      assert.equal(pteAt(mem, child, va) & PTE_W, 0, "child write-protected");
    }
    assert.equal(stats.wrprotected, 2);
    assert.notEqual(pteAt(mem, child, shr) & PTE_W, 0, "a shared mapping stays writable");

    // The parent writes first: it copies; the child, now the only user, reuses in place.
    userStore(mem, mm, anon, 0x66);
    assert.notEqual(pfnAt(mem, mm, anon), anonPfn, "the parent got a copy");
    assert.equal(userLoad(mem, child, anon), 0x55, "the child still sees the old value");
    userStore(mem, child, anon, 0x77);
    assert.equal(pfnAt(mem, child, anon), anonPfn, "the child reused the page");
    assert.equal(userLoad(mem, mm, anon), 0x66);
    // A private DAX page: the child's write copies from the device, the parent keeps the frame.
    userStore(mem, child, priv, 0x88);
    assert.notEqual(pfnAt(mem, child, priv), dev0);
    assert.equal(pfnAt(mem, mm, priv), dev0);
    assert.equal(mem.u8[dev0 * PAGE_SIZE], 0xd0, "the device is untouched by a private write");
    // The shared page is one frame for both.
    userStore(mem, child, shr + 1, 0x99);
    assert.equal(userLoad(mem, mm, shr + 1), 0x99);

    mmPut(mem, child);
    assert.deepEqual(counts(mem, dev0), before.dev0);
    assert.deepEqual(counts(mem, dev4), before.dev4);
    mmPut(mem, mm);
    assert.equal(freeFrameCount(mem), free, "every frame back");
    if (memmap) {
      for (let i = 0; i < dax.size; i++) assert.deepEqual(counts(mem, daxPfn(i)), [0, 0]);
    }
  });
}

Deno.test("dupMm() leaves nothing behind when it runs out of page-table frames", () => {
  const mem = setup(false);
  const mm = mmAlloc(mem) as MmId;
  // Pages in many 4 MiB regions, so the child needs many tables.
  for (let i = 0; i < 8; i++) {
    const a = doMmap(mem, mm, 0x1000_0000 + i * 0x40_0000, PAGE_SIZE, RW, 0x32);
    userStore(mem, mm, a, i);
  }
  const free = freeFrameCount(mem);
  // Eat frames until only a few are left: not enough for the child's tables.
  const eat = doMmap(mem, mm, 0, (free - 5) * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < free - 5; i++) userStore(mem, mm, eat + i * PAGE_SIZE, 1);
  const left = freeFrameCount(mem);
  assert.ok(dupMm(mem, mm) < 0, "dupMm fails");
  assert.equal(freeFrameCount(mem), left, "the partial copy was torn down");
  mmPut(mem, mm);
});
