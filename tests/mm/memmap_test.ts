import assert from "node:assert/strict";
import { assertInvariants } from "../_invariants.ts";
import { type LayoutConfig, PAGE, PAGE_WORDS } from "../../src/abi/layout/mod.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asPfn, type Pfn } from "../../src/abi/types.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { allocFrame, freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  clearPageFlag,
  getPage,
  getPageUnlessZero,
  memmapIndex,
  pageAddMapcount,
  pageBase,
  pageFlags,
  pageFlagsWord,
  pageIndex,
  pageMapcount,
  pageMapping,
  pagePrivate,
  pageRefcount,
  pfnIsDevice,
  pfnIsRam,
  pfnValid,
  PG_anon,
  PG_dirty,
  PG_locked,
  PG_pagetable,
  PG_reserved,
  PG_uptodate,
  PG_writeback,
  putPage,
  setPageFlag,
  setPageIndex,
  setPageMapping,
  setPagePrivate,
  testPageFlag,
} from "../../src/mm/memmap.ts";
import type { RefJob, RefResult } from "./memmap_worker.ts";

const BASE = { ramFrames: 8, deviceFrames: 4, maxTasks: 2 };
const NONE: LayoutConfig = { ...BASE, deviceMemmap: false };
const DEVICE: LayoutConfig = { ...BASE, deviceMemmap: true };

function panics(fn: () => unknown, where: string): void {
  assert.throws(fn, (e) => e instanceof KernelPanic && e.where === where);
}

function allocated(mem: Memory): Pfn {
  const pfn = allocFrame(mem);
  assert.ok(pfn >= 0, `allocFrame failed with ${pfn}`);
  return pfn as Pfn;
}

// [pfn, valid without device memmap, valid with device memmap]
const VALID: [number, boolean, boolean][] = [
  [0, true, true],
  [7, true, true],
  [8, false, true], // first device frame
  [11, false, true], // last device frame
  [12, false, false], // past the device
  [-1, false, false],
  [2.5, false, false],
  [NaN, false, false],
];

for (const [pfn, none, dev] of VALID) {
  Deno.test(`pfnValid() of pfn ${pfn} is ${none} without and ${dev} with a device memmap`, () => {
    assert.equal(pfnValid(createMemory(NONE), asPfn(pfn)), none);
    assert.equal(pfnValid(createMemory(DEVICE), asPfn(pfn)), dev);
  });
}

Deno.test("pfnIsRam() and pfnIsDevice() split the physical space", () => {
  const mem = createMemory(NONE);
  assert.deepEqual(
    [0, 7, 8, 11, 12].map((p) => [pfnIsRam(mem, asPfn(p)), pfnIsDevice(mem, asPfn(p))]),
    [[true, false], [true, false], [false, true], [false, true], [false, false]],
  );
});

Deno.test("memmap accessors panic for a frame that has no struct page", () => {
  const mem = createMemory(NONE);
  const dev = asPfn(8);
  panics(() => memmapIndex(mem, dev), "memmapIndex");
  panics(() => pageFlags(mem, dev), "memmapIndex");
  panics(() => getPage(mem, dev), "memmapIndex");
  panics(() => putPage(mem, asPfn(99)), "memmapIndex");
  panics(() => pageFlagsWord(mem, asPfn(-1)), "memmapIndex");
});

Deno.test("pageBase() and pageFlagsWord() index distinct records inside the memmap", () => {
  const mem = createMemory(DEVICE);
  const seen = new Set<number>();
  for (let p = 0; p < 12; p++) {
    const b = pageBase(mem, asPfn(p));
    assert.equal(memmapIndex(mem, asPfn(p)), p);
    assert.ok(b >= mem.layout.memmap.base);
    assert.ok(b + PAGE_WORDS <= mem.layout.memmap.base + mem.layout.memmap.words);
    assert.equal(pageFlagsWord(mem, asPfn(p)), b + PAGE.flags);
    seen.add(b);
  }
  assert.equal(seen.size, 12);
});

Deno.test("setPageFlag()/clearPageFlag() report the old bit and leave other bits alone", () => {
  const mem = createMemory(NONE);
  const pfn = asPfn(3);
  const bits = [PG_locked, PG_uptodate, PG_dirty, PG_writeback, PG_reserved, PG_anon, PG_pagetable];
  assert.equal(new Set(bits).size, bits.length, "PG_* bits are distinct");
  for (const bit of bits) {
    assert.equal(setPageFlag(mem, pfn, bit), false);
    assert.equal(setPageFlag(mem, pfn, bit), true);
    assert.ok(testPageFlag(mem, pfn, bit));
  }
  assert.equal(pageFlags(mem, pfn), bits.reduce((a, b) => a | (1 << b), 0));
  assert.equal(clearPageFlag(mem, pfn, PG_dirty), true);
  assert.equal(clearPageFlag(mem, pfn, PG_dirty), false);
  assert.ok(!testPageFlag(mem, pfn, PG_dirty));
  assert.ok(testPageFlag(mem, pfn, PG_uptodate) && testPageFlag(mem, pfn, PG_writeback));
  assert.ok(!testPageFlag(mem, asPfn(4), PG_uptodate), "neighbour untouched");
  assert.equal(mem.k32[pageFlagsWord(mem, pfn)], pageFlags(mem, pfn));
});

Deno.test("getPage()/putPage() count references and free a RAM frame at zero", () => {
  const mem = createMemory(NONE);
  const pfn = allocated(mem);
  assert.equal(pageRefcount(mem, pfn), 1);
  assert.equal(freeFrameCount(mem), 7);
  assert.equal(getPage(mem, pfn), 2);
  assert.equal(getPageUnlessZero(mem, pfn), true);
  assert.equal(pageRefcount(mem, pfn), 3);
  assert.equal(putPage(mem, pfn), 2);
  assert.equal(putPage(mem, pfn), 1);
  setPageMapping(mem, pfn, 42);
  setPageIndex(mem, pfn, 7);
  setPagePrivate(mem, pfn, 9);
  setPageFlag(mem, pfn, PG_dirty);
  assert.equal(putPage(mem, pfn), 0);
  assert.equal(freeFrameCount(mem), 8, "the last putPage freed the frame");
  assert.deepEqual(
    [pageFlags(mem, pfn), pageMapping(mem, pfn), pageIndex(mem, pfn), pagePrivate(mem, pfn)],
    [0, 0, 0, 0],
    "freeing cleared the struct page",
  );
  assert.equal(getPageUnlessZero(mem, pfn), false);
  assert.equal(pageRefcount(mem, pfn), 0);
});

Deno.test("putPage() panics on underflow and getPage() on a free RAM frame", () => {
  const mem = createMemory(NONE);
  panics(() => putPage(mem, asPfn(2)), "putPage");
  assert.equal(pageRefcount(mem, asPfn(2)), 0, "the failed put left the count alone");
  panics(() => getPage(mem, asPfn(2)), "getPage");
  assert.equal(pageRefcount(mem, asPfn(2)), 0);
});

Deno.test("device frames with a memmap are refcounted from 0 and never freed", () => {
  const mem = createMemory(DEVICE);
  const pfn = asPfn(9);
  assert.equal(getPage(mem, pfn), 1);
  assert.equal(getPage(mem, pfn), 2);
  assert.equal(putPage(mem, pfn), 1);
  assert.equal(putPage(mem, pfn), 0);
  assert.equal(freeFrameCount(mem), 8, "the allocator never saw the device frame");
  panics(() => putPage(mem, pfn), "putPage");
});

Deno.test("pageAddMapcount() counts mappings and panics below zero", () => {
  const mem = createMemory(DEVICE);
  for (const pfn of [asPfn(1), asPfn(10)]) {
    assert.equal(pageAddMapcount(mem, pfn, 1), 1);
    assert.equal(pageAddMapcount(mem, pfn, 2), 3);
    assert.equal(pageAddMapcount(mem, pfn, -3), 0);
    panics(() => pageAddMapcount(mem, pfn, -1), "pageAddMapcount");
    assert.equal(pageMapcount(mem, pfn), 0);
  }
});

Deno.test("pageMapping()/pageIndex() read back what the setters wrote", () => {
  const mem = createMemory(NONE);
  const pfn = asPfn(5);
  setPageMapping(mem, pfn, 1234);
  setPageIndex(mem, pfn, 0x7fff_ffff);
  assert.equal(pageMapping(mem, pfn), 1234);
  assert.equal(pageIndex(mem, pfn), 0x7fff_ffff);
  assert.equal(pageMapping(mem, asPfn(4)), 0);
});

Deno.test("putPage() racing from 2 Workers frees each frame exactly once", async () => {
  const seed = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  const mem = createMemory({ ramFrames: 256, deviceFrames: 1, deviceMemmap: false, maxTasks: 3 });
  const pfns: number[] = [];
  // Few frames, so the two Workers hit the same refcount words often.
  for (let i = 0; i < 8; i++) {
    const pfn = allocated(mem); // refcount 1: worker 1's reference
    getPage(mem, pfn); // refcount 2: worker 2's reference
    pfns.push(pfn);
  }
  const workers: Worker[] = [];
  const gate = new SharedArrayBuffer(4);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const results = [1, 2].map((id) => {
      const w = new Worker(new URL("./memmap_worker.ts", import.meta.url).href, {
        type: "module",
      });
      workers.push(w);
      const done = new Promise<RefResult>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<RefResult>) => resolve(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`worker ${id} crashed: ${e.message}`));
        };
      });
      const job: RefJob = {
        phys: mem.phys,
        kernel: mem.kernel,
        pfns,
        seed: seed + id,
        rounds: 500_000,
        gate,
        parties: 2,
      };
      w.postMessage(job);
      return done;
    });
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("watchdog: no answer in 120000 ms")), 120_000);
    });
    const out = await Promise.race([Promise.all(results), watchdog]);
    let freed = 0;
    for (const r of out) {
      assert.ok(r.ok, `seed ${seed}: ${r.ok ? "" : r.error}`);
      freed += r.ok ? r.freedByMe : 0;
    }
    assert.equal(freed, 8, `seed ${seed}: frames freed ${freed} times in total`);
    assert.equal(freeFrameCount(mem), 256, `seed ${seed}`);
    assert.ok(pfns.every((p) => pageRefcount(mem, asPfn(p)) === 0), `seed ${seed}`);
    assertInvariants(mem, {}, `(seed ${seed})`);
  } catch (err) {
    console.error(`memmap refcount race failed; replay with XIP_SEED=${seed}`);
    throw err;
  } finally {
    clearTimeout(timer);
    for (const w of workers) w.terminate();
  }
});
