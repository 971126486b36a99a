import assert from "node:assert/strict";
import { EEXIST, EIO, ENOMEM } from "../../src/abi/errno.ts";
import { type LayoutConfig, pcacheSlots, VMSTAT } from "../../src/abi/layout/mod.ts";
import { asTaskSlot, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { createMemory, type Memory, statRead } from "../../src/hw/memory.ts";
import { allocFrame, freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  pageAddMapcount,
  pageIndex,
  pageMapping,
  pageRefcount,
  PG_dirty,
  PG_uptodate,
  putPage,
  testPageFlag,
} from "../../src/mm/memmap.ts";
import { DEBUG_LOCKDEP, heldLocks, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import {
  type AddressSpaceOps,
  addToPageCacheLocked,
  findGetPage,
  lockPage,
  pagecacheFrames,
  pageView,
  readCachePage,
  type ReadPageInfo,
  setPageDirty,
  shrinkPageCache,
  truncateInodePages,
  unlockPage,
  writebackMapping,
} from "../../src/fs/pagecache/pagecache.ts";
import { pcacheIndexStats } from "../../src/fs/pagecache/pagecache_index.ts";

/** A fresh machine with `ramFrames` RAM frames; this thread is task 1. */
function boot(ramFrames = 64): Memory {
  const cfg: LayoutConfig = { ramFrames, deviceFrames: 4, deviceMemmap: false, maxTasks: 4 };
  const mem = createMemory(cfg);
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  setCurrentTid(asTaskSlot(1));
  taskInit(mem.k32, asTaskSlot(1));
  return mem;
}

/** Every page-cache entry point must return with no lock left held. */
function assertNoLocksHeld(mem: Memory): void {
  assert.deepEqual(heldLocks(mem.k32, asTaskSlot(1)), []);
}

/** The bytes file page (mapping, pgoff) holds on the fake disk until written. */
function stamp(mapping: number, pgoff: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i++) b[i] = (mapping * 31 + pgoff * 7 + i) & 0xff;
  new DataView(b.buffer).setUint32(0, mapping, true);
  new DataView(b.buffer).setUint32(4, pgoff, true);
  return b;
}

/** Fake storage for any mapping: pages start as stamp(); writes replace them. */
class FakeDisk implements AddressSpaceOps {
  reads = 0;
  writes = 0;
  failRead = false;
  failWrite = false;
  readonly pages = new Map<string, Uint8Array>();
  page(m: number, o: number): Uint8Array {
    return this.pages.get(`${m}:${o}`) ?? stamp(m, o);
  }
  readpage(m: number, o: number, frame: Uint8Array): number {
    if (this.failRead) return -EIO;
    this.reads++;
    frame.set(this.page(m, o));
    return PAGE_SIZE;
  }
  writepage(m: number, o: number, frame: Uint8Array): number {
    if (this.failWrite) return -EIO;
    this.writes++;
    this.pages.set(`${m}:${o}`, frame.slice());
    return PAGE_SIZE;
  }
}

/** Read a page in and drop the caller's reference, leaving only the cache's. */
function cachePage(mem: Memory, disk: FakeDisk, m: number, o: number): Pfn {
  const pfn = readCachePage(mem, m, o, disk);
  assert.ok(pfn >= 0, `readCachePage(${m}, ${o}) = ${pfn}`);
  putPage(mem, pfn as Pfn);
  return pfn as Pfn;
}

Deno.test("readCachePage() fills a page once, then finds it (major then minor)", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const info: ReadPageInfo = { major: false };
  const a = readCachePage(mem, 3, 10, disk, info);
  assert.ok(a >= 0);
  assert.equal(info.major, true);
  assert.deepEqual(pageView(mem, a as Pfn), stamp(3, 10));
  assert.ok(testPageFlag(mem, a as Pfn, PG_uptodate));
  assert.equal(pageMapping(mem, a as Pfn), 3);
  assert.equal(pageIndex(mem, a as Pfn), 10);
  assert.equal(pageRefcount(mem, a as Pfn), 2, "the cache's reference and ours");
  const b = readCachePage(mem, 3, 10, disk, info);
  assert.equal(b, a);
  assert.equal(info.major, false);
  assert.equal(disk.reads, 1);
  assert.equal(statRead(mem, VMSTAT.copiedPagecacheFill), PAGE_SIZE);
  assert.equal(pagecacheFrames(mem), 1);
  putPage(mem, a as Pfn);
  putPage(mem, b as Pfn);
  assert.equal(pageRefcount(mem, a as Pfn), 1);
  assertNoLocksHeld(mem);
});

Deno.test("readCachePage() keeps pages of different mappings and offsets apart", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const keys = [[1, 0], [1, 1], [2, 0], [2, 1], [1, 1000000], [7, 0x7fffffff]] as const;
  const pfns = keys.map(([m, o]) => cachePage(mem, disk, m, o));
  assert.equal(new Set(pfns).size, keys.length);
  keys.forEach(([m, o], i) => {
    const p = findGetPage(mem, m, o);
    assert.equal(p, pfns[i]);
    assert.deepEqual(pageView(mem, p as Pfn), stamp(m, o));
    putPage(mem, p as Pfn);
  });
  assert.equal(findGetPage(mem, 1, 2), -1);
  assert.equal(findGetPage(mem, 3, 0), -1);
  assertNoLocksHeld(mem);
});

Deno.test("readCachePage() returns the readpage error and caches nothing when the read fails", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const free = freeFrameCount(mem);
  disk.failRead = true;
  assert.equal(readCachePage(mem, 1, 0, disk), -EIO);
  assert.equal(pagecacheFrames(mem), 0);
  assert.equal(freeFrameCount(mem), free, "the frame went back");
  assert.equal(statRead(mem, VMSTAT.copiedPagecacheFill), 0);
  disk.failRead = false;
  const info = { major: false };
  const p = readCachePage(mem, 1, 0, disk, info);
  assert.ok(p >= 0);
  assert.equal(info.major, true);
  putPage(mem, p as Pfn);
  assertNoLocksHeld(mem);
});

Deno.test("findGetPage() takes a reference and returns -1 for an absent page", () => {
  const mem = boot();
  const disk = new FakeDisk();
  assert.equal(findGetPage(mem, 1, 0), -1);
  const pfn = cachePage(mem, disk, 1, 0);
  assert.equal(pageRefcount(mem, pfn), 1);
  assert.equal(findGetPage(mem, 1, 0), pfn);
  assert.equal(pageRefcount(mem, pfn), 2);
  putPage(mem, pfn);
  assertNoLocksHeld(mem);
});

Deno.test("addToPageCacheLocked() refuses a second page at the same offset with -EEXIST", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const first = cachePage(mem, disk, 4, 4);
  const pfn = allocFrame(mem) as Pfn;
  lockPage(mem, pfn);
  assert.equal(addToPageCacheLocked(mem, pfn, 4, 4), -EEXIST);
  assert.equal(pageMapping(mem, pfn), 0, "the loser's struct page is untouched");
  assert.equal(addToPageCacheLocked(mem, pfn, 4, 5), 0);
  unlockPage(mem, pfn);
  putPage(mem, pfn);
  assert.equal(findGetPage(mem, 4, 4), first);
  putPage(mem, first);
  assert.equal(pagecacheFrames(mem), 2);
  assertNoLocksHeld(mem);
});

Deno.test("writebackMapping() writes dirty pages of one mapping in range and cleans them", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const pages = [0, 1, 2, 3].map((o) => cachePage(mem, disk, 1, o));
  const other = cachePage(mem, disk, 2, 0);
  for (const p of [...pages, other]) {
    lockPage(mem, p);
    pageView(mem, p)[100] = 0xee;
    assert.equal(setPageDirty(mem, p), false);
    unlockPage(mem, p);
  }
  assert.equal(writebackMapping(mem, 1, disk, { from: 1, to: 3 }), 2);
  assert.deepEqual([0, 1, 2, 3].map((o) => testPageFlag(mem, pages[o]!, PG_dirty)), [
    true,
    false,
    false,
    true,
  ]);
  assert.equal(disk.page(1, 1)[100], 0xee);
  assert.equal(disk.page(1, 0)[100], stamp(1, 0)[100]);
  assert.equal(writebackMapping(mem, 1, disk), 2, "the rest of mapping 1");
  assert.equal(writebackMapping(mem, 1, disk), 0, "nothing left dirty");
  assert.ok(testPageFlag(mem, other, PG_dirty), "another mapping is untouched");
  assert.equal(disk.writes, 4);
  assertNoLocksHeld(mem);
});

Deno.test("writebackMapping() keeps a page dirty and returns the error when writepage fails", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const p = cachePage(mem, disk, 1, 0);
  setPageDirty(mem, p);
  disk.failWrite = true;
  assert.equal(writebackMapping(mem, 1, disk), -EIO);
  assert.ok(testPageFlag(mem, p, PG_dirty));
  disk.failWrite = false;
  assert.equal(writebackMapping(mem, 1, disk), 1);
  assert.ok(!testPageFlag(mem, p, PG_dirty));
  assertNoLocksHeld(mem);
});

Deno.test("truncateInodePages() drops pages at and after the offset, dirty ones unwritten", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const free = freeFrameCount(mem);
  for (let o = 0; o < 6; o++) cachePage(mem, disk, 9, o);
  cachePage(mem, disk, 8, 5);
  const p5 = findGetPage(mem, 9, 5) as Pfn;
  setPageDirty(mem, p5);
  putPage(mem, p5);
  assert.equal(truncateInodePages(mem, 9, 3), 3);
  for (let o = 0; o < 6; o++) {
    const p = findGetPage(mem, 9, o);
    assert.equal(p >= 0, o < 3, `pgoff ${o}`);
    if (p >= 0) putPage(mem, p as Pfn);
  }
  assert.equal(disk.writes, 0, "truncate discards dirty data");
  assert.equal(pagecacheFrames(mem), 4);
  assert.equal(truncateInodePages(mem, 9, 0), 3);
  assert.equal(truncateInodePages(mem, 8, 0), 1);
  assert.equal(freeFrameCount(mem), free, "every frame came back");
  assertNoLocksHeld(mem);
});

Deno.test("truncateInodePages() leaves a pinned page alive until its last reference goes", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const free = freeFrameCount(mem);
  const pin = readCachePage(mem, 1, 0, disk) as Pfn;
  assert.equal(truncateInodePages(mem, 1, 0), 1);
  assert.equal(findGetPage(mem, 1, 0), -1);
  assert.equal(pageMapping(mem, pin), 0);
  assert.equal(pageRefcount(mem, pin), 1, "only the pin is left");
  assert.deepEqual(pageView(mem, pin), stamp(1, 0), "the pinned bytes stay readable");
  assert.equal(freeFrameCount(mem), free - 1);
  putPage(mem, pin);
  assert.equal(freeFrameCount(mem), free);
  assertNoLocksHeld(mem);
});

Deno.test("truncateInodePages() drops a page whose mapcount lags an unmap still in flight", () => {
  // A munmap that cleared its PTE drops the mapcount only after its TLB
  // flush (tlbFinishMmu); truncate must not panic on that count (see
  // tests/fs/truncate_unmap_race_test.ts for the real interleaving).
  const mem = boot();
  const disk = new FakeDisk();
  const p = readCachePage(mem, 1, 0, disk) as Pfn;
  pageAddMapcount(mem, p, 1); // the unmap in flight
  assert.equal(truncateInodePages(mem, 1, 0), 1);
  assert.equal(findGetPage(mem, 1, 0), -1, "out of the cache");
  pageAddMapcount(mem, p, -1); // the unmap finishes
  putPage(mem, p);
  assertNoLocksHeld(mem);
});

Deno.test("shrinkPageCache() drops clean pages, writes dirty ones first, keeps mapped/locked/pinned", () => {
  const mem = boot();
  const disk = new FakeDisk();
  cachePage(mem, disk, 1, 0); // clean: dropped
  const dirty = cachePage(mem, disk, 1, 1);
  pageView(mem, dirty)[7] = 0x5a;
  setPageDirty(mem, dirty);
  const mapped = cachePage(mem, disk, 1, 2);
  pageAddMapcount(mem, mapped, 1);
  const pinned = readCachePage(mem, 1, 4, disk) as Pfn;
  const locked = cachePage(mem, disk, 1, 3);
  lockPage(mem, locked); // stands for another task's lock: shrink only trylocks

  assert.equal(shrinkPageCache(mem, 100, () => disk), 2);
  assert.equal(disk.writes, 1);
  assert.equal(disk.page(1, 1)[7], 0x5a, "the dirty page was written before it went");
  assert.equal(findGetPage(mem, 1, 0), -1);
  assert.equal(findGetPage(mem, 1, 1), -1);
  for (const [o, p] of [[2, mapped], [3, locked], [4, pinned]] as const) {
    assert.equal(findGetPage(mem, 1, o), p, `pgoff ${o} kept`);
    putPage(mem, p);
  }
  assert.equal(pagecacheFrames(mem), 3);
  pageAddMapcount(mem, mapped, -1);
  unlockPage(mem, locked);
  putPage(mem, pinned);
  assertNoLocksHeld(mem);
});

Deno.test("shrinkPageCache() keeps dirty pages when it has no ops to write them with", () => {
  const mem = boot();
  const disk = new FakeDisk();
  const p = cachePage(mem, disk, 1, 0);
  cachePage(mem, disk, 1, 1);
  setPageDirty(mem, p);
  assert.equal(shrinkPageCache(mem, 10, null), 1);
  assert.equal(shrinkPageCache(mem, 10, () => null), 0);
  assert.equal(findGetPage(mem, 1, 0), p);
  putPage(mem, p);
  assert.equal(disk.writes, 0);
  assertNoLocksHeld(mem);
});

Deno.test("shrinkPageCache() returns every frame when it drops the whole cache (no leak)", () => {
  const mem = boot(128);
  const disk = new FakeDisk();
  const total = freeFrameCount(mem);
  for (let m = 1; m <= 4; m++) {
    for (let o = 0; o < 25; o++) {
      const p = cachePage(mem, disk, m, o);
      if (o % 3 === 0) setPageDirty(mem, p);
    }
  }
  assert.equal(pagecacheFrames(mem), 100);
  assert.equal(freeFrameCount(mem), total - 100);
  assert.equal(shrinkPageCache(mem, Infinity, () => disk), 100);
  assert.equal(pagecacheFrames(mem), 0);
  assert.equal(freeFrameCount(mem), total);
  assert.equal(disk.writes, 4 * 9);
  assertNoLocksHeld(mem);
});

Deno.test("readCachePage() shrinks the cache when RAM is full, and returns -ENOMEM when it cannot", () => {
  const mem = boot(16);
  const disk = new FakeDisk();
  for (let o = 0; o < 16; o++) cachePage(mem, disk, 1, o);
  assert.equal(freeFrameCount(mem), 0);
  const p = readCachePage(mem, 2, 0, disk);
  assert.ok(p >= 0, `got ${p}`);
  assert.equal(freeFrameCount(mem) + pagecacheFrames(mem), 16);
  // Pin everything: nothing can be evicted any more.
  const pins: Pfn[] = [p as Pfn];
  for (let o = 0; o < 16; o++) {
    const q = findGetPage(mem, 1, o);
    if (q >= 0) pins.push(q as Pfn);
  }
  while (freeFrameCount(mem) > 0) pins.push(readCachePage(mem, 3, pins.length, disk) as Pfn);
  assert.equal(readCachePage(mem, 4, 0, disk), -ENOMEM);
  for (const q of pins) putPage(mem, q);
  assertNoLocksHeld(mem);
});

Deno.test("the page-cache index stays exact through churn that forces rebuilds", () => {
  const mem = boot(64);
  const disk = new FakeDisk();
  const live = new Map<number, Pfn>();
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let step = 0; step < 3000; step++) {
    const o = Math.floor(rand() * 400);
    if (live.has(o)) {
      assert.equal(truncateInodePages(mem, 5, o) >= 1, true);
      for (const k of [...live.keys()]) if (k >= o) live.delete(k);
    } else if (live.size < 40) {
      live.set(o, cachePage(mem, disk, 5, o));
    }
    if (step % 100 === 0) {
      for (const [k, p] of live) {
        assert.equal(findGetPage(mem, 5, k), p);
        putPage(mem, p);
      }
      assert.equal(pagecacheFrames(mem), live.size);
    }
  }
  assert.ok(pcacheSlots(mem.layout.config) >= 2 * 64);
  assert.ok(pcacheIndexStats(mem).rebuilds > 0, "churn should have rebuilt the index");
  assertNoLocksHeld(mem);
});
