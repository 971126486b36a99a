import assert from "node:assert/strict";
import { FALLOC, MM, mmBase, PAGE, VMA, vmaBase } from "../../src/abi/layout/mod.ts";
import { pfnToPte, PTE_A, PTE_R, PTE_SPECIAL, PTE_U, PTE_V, PTE_W } from "../../src/abi/sv32.ts";
import {
  asInodeSlot,
  asPfn,
  asVirt,
  type InodeSlot,
  type MmId,
  PAGE_SIZE,
  type Pfn,
  type VmaId,
} from "../../src/abi/types.ts";
import { daxBlockPfn } from "../../src/fs/dax_fault.ts";
import { findGetPage } from "../../src/fs/pagecache/pagecache.ts";
import { blockInUse, setBlockInUse } from "../../src/fs/xipfs/xipfs_format.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { allocFrame, freeFrame } from "../../src/mm/frame_alloc.ts";
import { pageBase, PG_locked, putPage } from "../../src/mm/memmap.ts";
import { mmapReadLock, mmapReadUnlock, mmPut } from "../../src/mm/mm.ts";
import { immapHeadWord } from "../../src/mm/rmap.ts";
import { getUserPages, unpinUserPages } from "../../src/mm/gup.ts";
import { physWords, walk } from "../../src/mm/pgtable.ts";
import { vmaAlloc, vmaFree } from "../../src/mm/vma.ts";
import { pfnAt, pteAt, userLoad } from "../mm/_mm_helpers.ts";
import { ANON, PRIV, SHARED, workload } from "./_invariants_workload.ts";

const P = PAGE_SIZE;
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

for (const dax of [true, false]) {
  const mode = dax ? "DAX" : "page cache";

  Deno.test(`checkInvariants() reports nothing after a realistic workload (${mode})`, () => {
    const w = workload(dax);
    assert.deepEqual(checkInvariants(w.m.mem, { fsck: true }), []);
    mmPut(w.m.mem, w.mm); // exitMmap
    assert.deepEqual(checkInvariants(w.m.mem, { fsck: true }), []);
  });

  Deno.test(`checkInvariants() reports a leaked frame (${mode})`, () => {
    const { m } = workload(dax);
    const pfn = allocFrame(m.mem) as Pfn;
    assert.deepEqual(checkInvariants(m.mem), [
      `frame ${pfn}: in use but in no class (leaked: flags 0x0 refcount 1 mapcount 0 mapping 0, 0 PTE(s))`,
      `frame ${pfn}: refcount 1, expected 0 (PTEs 0 + pins 0 + page cache 0 + kernel 0)`,
    ]);
    assert.deepEqual(checkInvariants(m.mem, { pins: new Map([[pfn, 1]]) }), []);
    freeFrame(m.mem, pfn);
    assert.deepEqual(checkInvariants(m.mem), []);
  });

  Deno.test(`checkInvariants() reports a bumped refcount and mapcount (${mode})`, () => {
    const { m, mm } = workload(dax);
    const pfn = pfnAt(m.mem, mm, ANON);
    const b = pageBase(m.mem, asPfn(pfn));
    Atomics.add(m.mem.k32, b + PAGE.refcount, 1);
    assert.deepEqual(checkInvariants(m.mem), [
      `frame ${pfn}: refcount 2, expected 1 (PTEs 1 + pins 0 + page cache 0 + kernel 0)`,
    ]);
    assert.deepEqual(checkInvariants(m.mem, { pins: new Map([[pfn, 1]]) }), [], "a declared pin");
    Atomics.sub(m.mem.k32, b + PAGE.refcount, 1);
    Atomics.add(m.mem.k32, b + PAGE.mapcount, 1);
    assert.deepEqual(checkInvariants(m.mem), [
      `frame ${pfn}: mapcount 2, expected 1 (PTEs mapping it)`,
    ]);
  });

  Deno.test(`checkInvariants() reports a PTE that maps a free frame (${mode})`, () => {
    const { m, mm } = workload(dax);
    const free = allocFrame(m.mem) as Pfn;
    freeFrame(m.mem, free);
    const va = ANON + 3 * P; // inside the VMA, never touched
    const w = walk(m.mem, mm, asVirt(va), true);
    const pte = pfnToPte(free, PTE_V | PTE_R | PTE_U | PTE_A | PTE_SPECIAL);
    Atomics.store(physWords(m.mem), w, pte);
    assert.deepEqual(checkInvariants(m.mem), [
      `frame ${free}: free in the frame allocator but mapped by 1 PTE(s)`,
      `mm ${mm} va ${hex(va)}: PTE ${hex(pte)} maps free frame ${free}`,
    ]);
    Atomics.store(physWords(m.mem), w, 0);
    assert.deepEqual(checkInvariants(m.mem), []);
  });

  Deno.test(`checkInvariants() reports a PTE outside every VMA (${mode})`, () => {
    const { m, mm } = workload(dax);
    const va = ANON + 4 * P; // the page munmap removed
    const pfn = pfnAt(m.mem, mm, ANON);
    const w = walk(m.mem, mm, asVirt(va), true);
    const pte = pfnToPte(asPfn(pfn), PTE_V | PTE_R | PTE_U | PTE_A);
    Atomics.store(physWords(m.mem), w, pte);
    const got = checkInvariants(m.mem);
    assert.ok(
      got.includes(`mm ${mm} va ${hex(va)}: PTE ${hex(pte)} maps frame ${pfn} outside any VMA`),
      got.join("\n"),
    );
    assert.ok(
      got.includes(
        `frame ${pfn}: refcount 1, expected 2 (PTEs 2 + pins 0 + page cache 0 + kernel 0)`,
      ),
    );
    assert.ok(got.includes(`frame ${pfn}: mapcount 1, expected 2 (PTEs mapping it)`));
  });

  Deno.test(`checkInvariants() reports a held lock both on the task and on the word (${mode})`, () => {
    const { m, mm } = workload(dax);
    mmapReadLock(m.mem, mm);
    const word = mmBase(m.mem.layout, mm) + MM.mmapLock;
    assert.deepEqual(checkInvariants(m.mem), [
      `lock: task 1 holds MMAP_LOCK rwsem for read at word ${word}`,
      `lock: mm ${mm} mmap_lock (rwsem at word ${word}) is held: 1 reader(s), writer task 0`,
    ]);
    mmapReadUnlock(m.mem, mm);
    assert.deepEqual(checkInvariants(m.mem), []);
  });

  Deno.test(`checkInvariants() reports a page left PG_locked (${mode})`, () => {
    const { m, mm } = workload(dax);
    const pfn = pfnAt(m.mem, mm, ANON + P);
    Atomics.or(m.mem.k32, pageBase(m.mem, asPfn(pfn)) + PAGE.flags, 1 << PG_locked);
    assert.deepEqual(checkInvariants(m.mem), [`lock: frame ${pfn} is PG_locked`]);
  });

  Deno.test(`checkInvariants() reports a frame-allocator counter that disagrees with its bitmap (${mode})`, () => {
    const { m } = workload(dax);
    const w = m.mem.layout.falloc.base + FALLOC.freeFrames;
    const free = Atomics.load(m.mem.k32, w);
    Atomics.sub(m.mem.k32, w, 1);
    assert.deepEqual(checkInvariants(m.mem), [
      `frame allocator: freeFrames is ${free - 1} but ${free} frames have a clear bit`,
    ]);
  });

  Deno.test(`checkInvariants() reports a leaked VMA slot and a broken i_mmap link (${mode})`, () => {
    const { m, mm } = workload(dax);
    const v = vmaAlloc(m.mem, mm, asVirt(0x5000_0000), asVirt(0x5000_1000), 3, 0, 0, 0) as VmaId;
    assert.deepEqual(checkInvariants(m.mem), [
      `vma ${v}: in use but on no live mm's list (leaked VMA)`,
    ]);
    vmaFree(m.mem, v);
    // Take the shared file VMA off its inode's i_mmap list behind the rmap's back.
    const shared = findVmaSlot(m.mem, mm, SHARED);
    const fileSlot = asInodeSlot(Atomics.load(m.mem.k32, vmaBase(m.mem.layout, shared) + VMA.file));
    const got = withImmapCleared(m.mem, fileSlot, () => checkInvariants(m.mem));
    assert.ok(
      got.includes(`vma ${shared}: maps inode slot ${fileSlot} but is not on its i_mmap list`),
      got.join("\n"),
    );
  });
}

function findVmaSlot(mem: Parameters<typeof checkInvariants>[0], mm: MmId, va: number): number {
  for (let v = mem.k32[mmBase(mem.layout, mm) + MM.vmaHead]!; v !== 0;) {
    const b = vmaBase(mem.layout, v);
    if (mem.k32[b + VMA.start]! <= va && va < mem.k32[b + VMA.end]!) return v;
    v = mem.k32[b + VMA.next]!;
  }
  throw new Error("no vma");
}

function withImmapCleared<T>(
  mem: Parameters<typeof checkInvariants>[0],
  slot: InodeSlot,
  fn: () => T,
): T {
  const head = immapHeadWord(mem, slot);
  const old = Atomics.exchange(mem.k32, head, 0);
  try {
    return fn();
  } finally {
    Atomics.store(mem.k32, head, old);
  }
}

Deno.test("checkInvariants() reports a device PTE whose block the bitmap marks free, and fsck agrees", () => {
  const { m, mm } = workload(true);
  const pfn = pfnAt(m.mem, mm, SHARED);
  const b = pfn - m.mem.layout.config.ramFrames;
  assert.ok(blockInUse(m.fs.vol, b));
  setBlockInUse(m.fs.vol, b, false);
  const pte = pteAt(m.mem, mm, SHARED);
  const got = checkInvariants(m.mem, { fsck: true });
  assert.equal(
    got[0],
    `mm ${mm} va ${hex(SHARED)}: PTE ${
      hex(pte)
    } maps device block ${b}, which the block bitmap marks free`,
  );
  assert.ok(got.length > 1 && got.slice(1).every((l) => l.startsWith("fsck: ")), got.join("\n"));
  setBlockInUse(m.fs.vol, b, true);
  assert.deepEqual(checkInvariants(m.mem, { fsck: true }), []);
});

Deno.test("checkInvariants() reports a device PTE left on a block its file no longer maps (stale mapping)", () => {
  const { m, mm, g } = workload(true);
  const gBlock = m.fs.getBlock(g, 0, false);
  const gPfn = daxBlockPfn(m.fs.ctx, gBlock) as Pfn;
  const w = walk(m.mem, mm, asVirt(SHARED), false);
  const p32 = physWords(m.mem);
  const old = Atomics.load(p32, w);
  const pte = pfnToPte(gPfn, old & 0x3ff);
  Atomics.store(p32, w, pte);
  const fIno = m.fs.vol.sb.rootIno + 1;
  const fBlock = (old >>> 10) - m.mem.layout.config.ramFrames;
  assert.deepEqual(checkInvariants(m.mem), [
    `mm ${mm} va ${hex(SHARED)}: PTE ${
      hex(pte)
    } maps device block ${gBlock} but inode ${fIno} maps block ${fBlock} at pgoff 0 (stale mapping)`,
  ]);
  Atomics.store(p32, w, old);
});

Deno.test("checkInvariants() reports a page-cache page whose struct page disagrees with the index", () => {
  const { m, g } = workload(false);
  const pfn = findGetPage(m.mem, g.slot, 1) as Pfn;
  assert.ok(pfn >= 0);
  putPage(m.mem, pfn);
  const b = pageBase(m.mem, pfn);
  Atomics.store(m.mem.k32, b + PAGE.index, 7);
  assert.deepEqual(checkInvariants(m.mem), [
    `frame ${pfn}: page-cache index says (mapping ${g.slot}, pgoff 1) but the struct page says (mapping ${g.slot}, index 7)`,
  ]);
  Atomics.store(m.mem.k32, b + PAGE.index, 1);
  assert.deepEqual(checkInvariants(m.mem), []);
});

Deno.test("checkInvariants() reports a private mapping that can write a page-cache page", () => {
  const { m, mm, f } = workload(false);
  const va = PRIV + P;
  assert.equal(pfnAt(m.mem, mm, va), -1, "not faulted by the workload");
  userLoad(m.mem, mm, va); // maps the cache page read-only
  const pfn = findGetPage(m.mem, f.slot, 1) as Pfn;
  assert.ok(pfn >= 0);
  putPage(m.mem, pfn);
  const w = walk(m.mem, mm, asVirt(va), false);
  const p32 = physWords(m.mem);
  const old = Atomics.load(p32, w);
  assert.equal(old >>> 10, pfn, "the private read maps the cache page itself");
  assert.deepEqual(checkInvariants(m.mem), []);
  Atomics.store(p32, w, old | PTE_W);
  assert.deepEqual(checkInvariants(m.mem), [
    `mm ${mm} va ${hex(va)}: PTE ${
      hex(old | PTE_W)
    } lets a private mapping write page-cache frame ${pfn}`,
  ]);
});

Deno.test("checkInvariants() counts gup pins the caller declares, and a pinned page truncated out of the cache is not a leak", () => {
  const { m, mm, f } = workload(false);
  const pins = getUserPages(m.mem, mm, SHARED, 1, false);
  assert.ok(Array.isArray(pins) && pins.length === 1);
  const pfn = pins[0]!;
  const pinned = new Map([[pfn as number, 1]]);
  assert.deepEqual(checkInvariants(m.mem), [
    `frame ${pfn}: refcount 3, expected 2 (PTEs 1 + pins 0 + page cache 1 + kernel 0)`,
  ]);
  assert.deepEqual(checkInvariants(m.mem, { pins: pinned }), []);
  // Truncate unmaps and drops the page from the cache; the pin keeps the frame.
  assert.equal(m.fs.truncate(f, 0), 0);
  assert.deepEqual(checkInvariants(m.mem, { pins: pinned }), []);
  unpinUserPages(m.mem, pins);
  assert.deepEqual(checkInvariants(m.mem), []);
});
