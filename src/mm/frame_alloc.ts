/**
 * The frame allocator: hands out RAM frames, one at a time, to every Worker
 * at once, with no lock.
 *
 * Design: a bitmap in the kernel tables (layout/mod.ts FALLOC; 1 = in use) and a
 * free counter. allocFrame first reserves a frame by decrementing the counter
 * with a compare-and-swap that never takes it below 0, so exhaustion is
 * answered by one word (-ENOMEM) without scanning. Holding a reservation, it
 * scans the bitmap from this thread's cursor and claims a clear bit with
 * Atomics.compareExchange on its word; a lost race just retries on the value
 * it saw. freeFrame clears the bit (Atomics.and, whose old value catches a
 * double free) and then returns the reservation. So the counter never
 * exceeds the clear bits, and a reserving thread always finds one.
 *
 * The cursor is per thread (module state; every Worker has its own copy),
 * starts at a random word and stays on the word of the last success, so two
 * Workers mostly scan disjoint words and a free frame is usually found in
 * the first word tried. It is only a hint; correctness never depends on it.
 *
 * Why not a free list under a lock (Linux's zone->lock over free_area)?
 * bench/falloc_compare.ts runs both, interleaved, with the same memmap work
 * (bench/_freelist.ts is the free list: a LIFO through the memmap's `next`
 * words under a spinlock). 16384 frames, each thread churning a ring of 256
 * frames, ns per allocFrame+freeFrame pair, best / median of 15 rounds, on
 * the shared 2-core machine (load average 5-8 from other suites, so medians
 * swing by 1.5x between runs):
 *
 * ```
 *  threads          used   bitmap+CAS    free list+spinlock
 *  main thread       0%    196 / 309     156 / 213
 *  main thread      90%    115 / 280      85 / 171
 *  2 Workers         0%    224 / 235     178 / 244
 *  2 Workers        90%    215 / 237     170 / 212
 *  4 Workers (2 cores) 0%  281 / 397     385 / 562
 *  4 Workers (2 cores) 90% 327 / 442     257 / 518
 * ```
 *
 * The free list is up to 1.4x faster with one or two threads; with more
 * Workers than cores (what `xip run --procs 8` does) the bitmap's medians
 * are 1.2-1.4x better, because a spinlock holder can be preempted while the
 * others spin. Either costs a few hundred ns, against ~250 ns for one 4 KiB
 * copy and tens of microseconds for any cross-Worker wakeup, so speed does
 * not decide. Robustness does: the CAS bitmap has no lock, so a Worker that
 * is terminated mid-allocation cannot leave the allocator locked (it leaks
 * at most the one frame it was taking or giving back), it needs no lock
 * class or lockdep entry, it answers -ENOMEM exactly from one counter, and
 * its bit catches a double free for free. A lock-free free list (a Treiber
 * stack) would need an ABA tag packed next to a 22-bit pfn in one word.
 * The profile shows the cost is the Atomics builtins (V8 calls them, ~20-30
 * ns each), so the fast path does two compareExchanges per allocation and
 * one and + one add per free, and reads hints plainly.
 *
 * Linux names: allocFrame is alloc_page (with __GFP_ZERO for `zero`, and
 * set_page_refcounted), freeFrame is free_unref_page with its bad-page checks.
 *
 * @module
 */

import { asErrno, ENOMEM, type Errno } from "../abi/errno.ts";
import { FALLOC, fallocBitmapWords, PAGE } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asPfn, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { codeFrameReused } from "../hw/jit/shared.ts";
import { PG_CHECK_AT_FREE, ramPageBase } from "./memmap.ts";
import { withNoKill } from "./_sync.ts";

/** Options of allocFrame. */
export interface AllocOptions {
  /** Fill the frame with zeros before returning it (Linux __GFP_ZERO). */
  zero?: boolean;
}

/** This thread's scan start, a bitmap word index (taken modulo the bitmap size). */
let cursor = Math.floor(Math.random() * 0x10000);

/** Source for zeroing: Uint8Array.set from it is ~5x faster than fill(0) on a SAB view. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Passes over the whole bitmap after which a reserved frame is declared lost. */
const MAX_PASSES = 1000;

/**
 * Take one frame from the free counter.
 *
 * @returns the count before the reservation, or 0 when none was left
 */
function reserveFrame(k32: Int32Array, w: number): number {
  // A plain read is only a guess; the compareExchange decides.
  for (let c = k32[w]!; c > 0;) {
    const seen = Atomics.compareExchange(k32, w, c, c - 1);
    if (seen === c) return c;
    c = seen;
  }
  return 0;
}

/** Raise the high-water mark to `used` if it is lower. */
function notePeak(k32: Int32Array, w: number, used: number): void {
  for (let p = k32[w]!; p < used;) {
    const seen = Atomics.compareExchange(k32, w, p, used);
    if (seen === p) return;
    p = seen;
  }
}

/**
 * Claim a clear bit. The caller holds a reservation, so one exists.
 *
 * @returns the frame's pfn
 */
function claimBit(k32: Int32Array, bitmap: number, words: number): number {
  let w = cursor % words;
  for (let scanned = 0; scanned < words * MAX_PASSES; scanned++) {
    let old = k32[bitmap + w]!; // a guess; the compareExchange decides
    while (old !== -1) {
      const bit = ~old & (old + 1); // lowest clear bit
      const seen = Atomics.compareExchange(k32, bitmap + w, old, old | bit);
      if (seen === old) {
        cursor = w;
        return w * 32 + 31 - Math.clz32(bit);
      }
      old = seen;
    }
    w = w + 1 === words ? 0 : w + 1;
  }
  throw new KernelPanic("allocFrame", "reserved a frame but the bitmap has no clear bit");
}

/**
 * Allocate one RAM frame. Safe from any thread at any time; takes no lock
 * and may be called with any lock held (the allocator is a leaf).
 *
 * On return the frame's struct page has refcount 1 (the caller's reference;
 * drop it with putPage or freeFrame) and every other field clear. Its
 * contents are whatever the last user left, unless `opts.zero`.
 *
 * @returns the pfn, or -ENOMEM when every RAM frame is in use (never throws for that)
 * @throws KernelPanic when a frame marked free is still referenced (bad page state)
 */
export function allocFrame(mem: Memory, opts?: AllocOptions): Pfn | Errno {
  const { k32, layout } = mem;
  const f = layout.falloc.base;
  const before = reserveFrame(k32, f + FALLOC.freeFrames);
  if (before === 0) return asErrno(-ENOMEM);
  const cfg = layout.config;
  const pfn = asPfn(claimBit(k32, f + FALLOC.bitmap, fallocBitmapWords(cfg)));
  notePeak(k32, f + FALLOC.peakUsed, cfg.ramFrames - before + 1);

  // The compareExchange that claimed the bit ordered us after the freeFrame
  // that cleared it, so plain reads see the cleared struct page.
  const p = ramPageBase(mem, pfn);
  const refs = k32[p + PAGE.refcount]!;
  const maps = k32[p + PAGE.mapcount]!;
  if (refs !== 0 || maps !== 0) {
    throw new KernelPanic("allocFrame", `free pfn ${pfn} has refcount ${refs} mapcount ${maps}`);
  }
  // A plain store: the frame is ours alone until the caller publishes its
  // pfn, and that publication (a PTE store, a page-cache insert) is atomic.
  // Atomics are builtin calls in V8 (~20-30 ns each), so this fast path
  // keeps to the two compareExchanges it needs.
  k32[p + PAGE.refcount] = 1;
  codeFrameReused(mem, pfn); // translations of its last owner's code die with it
  if (opts?.zero) mem.u8.set(ZERO_PAGE, pfn * PAGE_SIZE);
  return pfn;
}

/**
 * Return a RAM frame to the allocator and clear its struct page. The caller
 * holds the last reference: refcount is 1 (the allocation's) or 0 (putPage
 * dropped it), and nothing maps the frame. The frame must not be touched
 * afterwards. Takes no lock.
 *
 * @throws KernelPanic on a device or out-of-range pfn, a double free, or a
 *   frame that is still mapped, referenced, locked or under writeback
 */
export function freeFrame(mem: Memory, pfn: Pfn): void {
  const { k32, layout } = mem;
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= layout.config.ramFrames) {
    throw new KernelPanic("freeFrame", `pfn ${pfn} is not a RAM frame`);
  }
  const f = layout.falloc.base;
  const word = f + FALLOC.bitmap + (pfn >>> 5);
  const bit = 1 << (pfn & 31);
  // The checks read plainly: they catch bugs, and the Atomics.and below is
  // the authoritative double-free check.
  if ((k32[word]! & bit) === 0) {
    throw new KernelPanic("freeFrame", `double free of pfn ${pfn}`);
  }
  const p = ramPageBase(mem, pfn);
  const refs = k32[p + PAGE.refcount]!;
  const maps = k32[p + PAGE.mapcount]!;
  const flags = k32[p + PAGE.flags]!;
  if (refs > 1 || refs < 0 || maps !== 0 || (flags & PG_CHECK_AT_FREE) !== 0) {
    throw new KernelPanic(
      "freeFrame",
      `bad page state pfn ${pfn}: refcount ${refs} mapcount ${maps} flags 0x${flags.toString(16)}`,
    );
  }
  codeFrameReused(mem, pfn);
  // Clear the struct page before the bit: once the bit is clear another
  // Worker may allocate the frame and set refcount to 1. The Atomics.and
  // publishes these plain stores to whoever claims the bit next.
  k32[p + PAGE.flags] = 0;
  k32[p + PAGE.refcount] = 0;
  k32[p + PAGE.mapping] = 0;
  k32[p + PAGE.index] = 0;
  k32[p + PAGE.private] = 0;
  k32[p + PAGE.next] = -1;
  k32[p + PAGE.prev] = -1;
  if ((Atomics.and(k32, word, ~bit) & bit) === 0) {
    throw new KernelPanic("freeFrame", `double free of pfn ${pfn} (racing free)`);
  }
  Atomics.add(k32, f + FALLOC.freeFrames, 1);
}

/** Gives frames back when none is free: (mem, how many) -> frames freed. */
export type ReclaimHook = (mem: Memory, nr: number) => number;

/** This thread's reclaim hook (module state, like the VmOperations registry). */
let reclaimHook: ReclaimHook | null = null;

/** Frames one direct-reclaim attempt asks for (Linux's SWAP_CLUSTER_MAX). */
const RECLAIM_BATCH = 32;

/**
 * Install the function allocFrameReclaim calls when RAM is exhausted: the
 * page cache's shrinker, installed by the file system (src/fs/file_vm_ops.ts),
 * since src/mm cannot import src/fs. Per thread; null removes it.
 */
export function setReclaimHook(hook: ReclaimHook | null): void {
  reclaimHook = hook;
}

/**
 * Direct reclaim rounds one allocation may run while they free something
 * (Linux's MAX_RECLAIM_RETRIES): Workers racing for the frames a round
 * frees could otherwise keep one of them failing while the cache still has
 * pages to give.
 */
const MAX_RECLAIM_ROUNDS = 16;

/**
 * Run `attempt`, an allocation that returns -ENOMEM when no frame is free,
 * with direct reclaim (Linux's __alloc_pages_slowpath, reduced): on -ENOMEM
 * the hook evicts clean page-cache pages and writes back dirty unmapped
 * ones, and the attempt is made again, as long as reclaim frees something
 * (at most MAX_RECLAIM_ROUNDS rounds), then once more after a round that
 * freed nothing (another thread may have freed frames). So the page cache
 * gives way before anonymous memory or a page table fails.
 * Entry: no lock ranked at or below PAGE_LOCK held (reclaim trylocks pages
 * and may write back through getBlock); mmap_lock may be held.
 *
 * @param reclaim what frees frames (default: this thread's reclaim hook);
 *   the page cache passes its own shrinker, with its writeback lookup
 * @returns what `attempt` last returned: -ENOMEM when reclaim could not help
 */
export function withReclaim<T extends number>(
  mem: Memory,
  attempt: () => T,
  reclaim: ReclaimHook | null = reclaimHook,
): T {
  for (let round = 0;; round++) {
    const r = attempt();
    if (r !== -ENOMEM || reclaim === null || round === MAX_RECLAIM_ROUNDS) return r;
    // Reclaim holds frozen and unindexed pages no lock records: no kill point inside.
    if (withNoKill(() => reclaim(mem, RECLAIM_BATCH)) === 0) return attempt();
  }
}

/**
 * allocFrame with direct reclaim when no frame is free (withReclaim).
 * Entry: as withReclaim.
 *
 * @returns the pfn, or -ENOMEM when reclaim found nothing to free either
 */
export function allocFrameReclaim(mem: Memory, opts?: AllocOptions): Pfn | Errno {
  const pfn = allocFrame(mem, opts);
  if (pfn !== -ENOMEM || reclaimHook === null) return pfn;
  return withReclaim(mem, () => allocFrame(mem, opts));
}

/** RAM frames free right now (a snapshot; it may change at once). */
export function freeFrameCount(mem: Memory): number {
  return Atomics.load(mem.k32, mem.layout.falloc.base + FALLOC.freeFrames);
}

/** The most RAM frames ever in use at once since boot. */
export function usedFramesPeak(mem: Memory): number {
  return Atomics.load(mem.k32, mem.layout.falloc.base + FALLOC.peakUsed);
}

/** RAM frames the allocator manages. */
export function totalFrames(mem: Memory): number {
  return mem.layout.config.ramFrames;
}
