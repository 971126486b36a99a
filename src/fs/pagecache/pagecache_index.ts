/**
 * The page-cache index: (mapping, pgoff) -> RAM pfn, in the `pcache` region
 * of the kernel tables (layout/mod.ts). It plays the part of Linux's i_pages
 * xarray, but one table serves every mapping.
 *
 * The table is open-addressed with linear probing. A slot holds
 * [mapping | pgoff | pfn]; a mapping word of PCACHE_EMPTY ends a probe chain
 * and PCACHE_TOMBSTONE marks a deleted entry that chains run through.
 *
 * Why a lookup needs no lock:
 * - Writers (insert, delete, rebuild) hold the index mutex, so they never
 *   race each other. A writer stores pgoff and pfn before it stores the
 *   mapping word, and a reader loads the mapping word first; Atomics are
 *   sequentially consistent, so a reader that sees a mapping sees at least
 *   the pgoff/pfn stored before it.
 * - Outside a rebuild a slot never goes back to EMPTY: a delete leaves a
 *   tombstone. An entry at slot j was inserted when every slot from its
 *   home to j was non-empty, and they stay non-empty, so a reader probing for
 *   a key that stays present cannot stop early.
 * - A reader may still see a slot half rewritten (a tombstone reused for
 *   another key). That only gives it a wrong candidate, which the caller
 *   rejects: findGetPage takes a reference and re-checks the struct page's
 *   mapping and index (Linux's speculative page-cache lookup).
 * - Tombstones pile up, so an insert that finds the table 3/4 used rebuilds
 *   it in place. That moves entries and can make a probe miss a present key,
 *   so the rebuild runs inside a sequence count (PCACHE.seq, odd while it
 *   runs) and a lookup that missed retries when the count moved. Hits need
 *   no such check: they are verified through the struct page.
 *
 * @module
 */

import { EEXIST } from "../../abi/errno.ts";
import {
  PCACHE,
  PCACHE_EMPTY,
  PCACHE_SLOT,
  PCACHE_SLOT_WORDS,
  PCACHE_TOMBSTONE,
  pcacheSlots,
} from "../../abi/layout/mod.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { asPfn, type Pfn } from "../../abi/types.ts";
import type { Memory } from "../../hw/memory.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../../sync/mutex.ts";

/** An entry copied out of the index. */
export interface PcacheEntry {
  mapping: number;
  pgoff: number;
  pfn: Pfn;
}

/** Word index of the pcache region's header field `f`. */
const hdr = (mem: Memory, f: number): number => mem.layout.pcache.base + f;

/** Slots in this memory's index. */
export const pcacheNrSlots = (mem: Memory): number => pcacheSlots(mem.layout.config);

/** Home slot of (mapping, pgoff): a multiplicative mix of both, masked. */
export function pcacheHash(mapping: number, pgoff: number, nrSlots: number): number {
  let h = Math.imul(mapping, 0x9e3779b1) ^ Math.imul(pgoff, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h & (nrSlots - 1);
}

/** Word index of slot `i`. */
const slotBase = (mem: Memory, i: number): number =>
  mem.layout.pcache.base + PCACHE.slots + i * PCACHE_SLOT_WORDS;

/**
 * Take the index's writer lock (class PAGE_CACHE, Linux's i_pages xa_lock).
 * Entry: nothing ranked inside PAGE_CACHE held (it nests inside the page
 * lock and the page-table lock, outside only the leaf locks and the siglock);
 * returns with it held.
 */
export function pcacheLock(mem: Memory): void {
  mutexLock(mem.k32, hdr(mem, PCACHE.lock), LockClass.PAGE_CACHE);
}

/** Release the index's writer lock. */
export function pcacheUnlock(mem: Memory): void {
  mutexUnlock(mem.k32, hdr(mem, PCACHE.lock));
}

/**
 * Find the pfn the index holds for (mapping, pgoff), with no lock.
 *
 * The answer is a candidate, not a fact: the slot may be rewritten at any
 * moment, so a caller must pin the page and re-check its mapping and index
 * (findGetPage does). A miss is exact at some instant during the call.
 *
 * @returns the candidate pfn, or -1 when the key is absent
 */
export function pcacheLookup(mem: Memory, mapping: number, pgoff: number): Pfn | -1 {
  const k32 = mem.k32;
  const seqIdx = hdr(mem, PCACHE.seq);
  const n = pcacheNrSlots(mem);
  for (;;) {
    const seq = Atomics.load(k32, seqIdx);
    if ((seq & 1) !== 0) {
      // A rebuild is moving entries; it ends with a notify on the seq word.
      Atomics.wait(k32, seqIdx, seq, 1);
      continue;
    }
    let i = pcacheHash(mapping, pgoff, n);
    for (let probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
      const s = slotBase(mem, i);
      const m = Atomics.load(k32, s + PCACHE_SLOT.mapping);
      if (m === PCACHE_EMPTY) break;
      if (m === mapping && Atomics.load(k32, s + PCACHE_SLOT.pgoff) === pgoff) {
        return asPfn(Atomics.load(k32, s + PCACHE_SLOT.pfn));
      }
    }
    if (Atomics.load(k32, seqIdx) === seq) return -1;
  }
}

/**
 * Find the slot of (mapping, pgoff). Caller holds the index lock.
 *
 * @returns the slot, or -1
 */
function findSlotLocked(mem: Memory, mapping: number, pgoff: number): number {
  const k32 = mem.k32;
  const n = pcacheNrSlots(mem);
  let i = pcacheHash(mapping, pgoff, n);
  for (let probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
    const s = slotBase(mem, i);
    const m = k32[s + PCACHE_SLOT.mapping]!;
    if (m === PCACHE_EMPTY) return -1;
    if (m === mapping && k32[s + PCACHE_SLOT.pgoff] === pgoff) return i;
  }
  return -1;
}

/** Write a live entry into slot `i`: pgoff and pfn first, the mapping word last (it publishes). */
function publishSlot(mem: Memory, i: number, mapping: number, pgoff: number, pfn: Pfn): void {
  const s = slotBase(mem, i);
  Atomics.store(mem.k32, s + PCACHE_SLOT.pgoff, pgoff);
  Atomics.store(mem.k32, s + PCACHE_SLOT.pfn, pfn);
  Atomics.store(mem.k32, s + PCACHE_SLOT.mapping, mapping);
}

/**
 * Insert (mapping, pgoff) -> pfn. Caller holds the index lock. May rebuild
 * the table when tombstones and entries fill 3/4 of it.
 *
 * @returns 0, or -EEXIST when the key is already present (nothing changes)
 */
export function pcacheInsertLocked(mem: Memory, mapping: number, pgoff: number, pfn: Pfn): number {
  if (!(mapping > 0) || !Number.isInteger(pgoff) || pgoff < 0) {
    throw new KernelPanic("pcacheInsertLocked", `bad key (${mapping}, ${pgoff})`);
  }
  const k32 = mem.k32;
  const n = pcacheNrSlots(mem);
  let i = pcacheHash(mapping, pgoff, n);
  let reuse = -1;
  for (let probes = 0;; probes++, i = (i + 1) & (n - 1)) {
    if (probes === n) {
      if (reuse < 0) throw new KernelPanic("pcacheInsertLocked", "index full");
      break;
    }
    const s = slotBase(mem, i);
    const m = k32[s + PCACHE_SLOT.mapping]!;
    if (m === PCACHE_EMPTY) break;
    if (m === PCACHE_TOMBSTONE) {
      if (reuse < 0) reuse = i;
    } else if (m === mapping && k32[s + PCACHE_SLOT.pgoff] === pgoff) {
      return -EEXIST;
    }
  }
  Atomics.add(k32, hdr(mem, PCACHE.nrPages), 1);
  if (reuse >= 0) {
    publishSlot(mem, reuse, mapping, pgoff, pfn);
    Atomics.sub(k32, hdr(mem, PCACHE.tombstones), 1);
    return 0;
  }
  publishSlot(mem, i, mapping, pgoff, pfn);
  const used = k32[hdr(mem, PCACHE.nrPages)]! + k32[hdr(mem, PCACHE.tombstones)]!;
  if (used * 4 > n * 3) pcacheRebuildLocked(mem);
  return 0;
}

/**
 * Delete (mapping, pgoff) if it maps to `pfn`. Caller holds the index lock.
 * The slot becomes a tombstone so that concurrent probes keep going.
 *
 * @returns true when the entry was there and is gone
 */
export function pcacheDeleteLocked(mem: Memory, mapping: number, pgoff: number, pfn: Pfn): boolean {
  const i = findSlotLocked(mem, mapping, pgoff);
  if (i < 0) return false;
  const s = slotBase(mem, i);
  if (mem.k32[s + PCACHE_SLOT.pfn] !== pfn) return false;
  Atomics.store(mem.k32, s + PCACHE_SLOT.mapping, PCACHE_TOMBSTONE);
  Atomics.sub(mem.k32, hdr(mem, PCACHE.nrPages), 1);
  Atomics.add(mem.k32, hdr(mem, PCACHE.tombstones), 1);
  return true;
}

/**
 * Rehash every live entry in place and drop the tombstones. Caller holds the
 * index lock. Lock-free readers see PCACHE.seq odd meanwhile and retry their
 * misses (see the module comment).
 */
export function pcacheRebuildLocked(mem: Memory): void {
  const k32 = mem.k32;
  const n = pcacheNrSlots(mem);
  const seqIdx = hdr(mem, PCACHE.seq);
  Atomics.add(k32, seqIdx, 1);
  const live: PcacheEntry[] = [];
  for (let i = 0; i < n; i++) {
    const s = slotBase(mem, i);
    const m = k32[s + PCACHE_SLOT.mapping]!;
    if (m > 0) {
      live.push({
        mapping: m,
        pgoff: k32[s + PCACHE_SLOT.pgoff]!,
        pfn: asPfn(k32[s + PCACHE_SLOT.pfn]!),
      });
    }
    Atomics.store(k32, s + PCACHE_SLOT.mapping, PCACHE_EMPTY);
  }
  for (const e of live) {
    let i = pcacheHash(e.mapping, e.pgoff, n);
    while (k32[slotBase(mem, i) + PCACHE_SLOT.mapping] !== PCACHE_EMPTY) i = (i + 1) & (n - 1);
    publishSlot(mem, i, e.mapping, e.pgoff, e.pfn);
  }
  Atomics.store(k32, hdr(mem, PCACHE.tombstones), 0);
  Atomics.add(k32, hdr(mem, PCACHE.rebuilds), 1);
  Atomics.add(k32, seqIdx, 1);
  Atomics.notify(k32, seqIdx);
}

/**
 * Copy out the live entries that `pred` accepts, under the index lock so
 * that the snapshot is exact (a lock-free scan could miss entries a rebuild
 * moves behind it). Entry: as pcacheLock (no PAGE_CACHE lock held); takes
 * and drops the index lock. `pred` runs under it and must take no lock.
 */
export function pcacheCollect(
  mem: Memory,
  pred: (mapping: number, pgoff: number) => boolean,
): PcacheEntry[] {
  const k32 = mem.k32;
  const n = pcacheNrSlots(mem);
  const out: PcacheEntry[] = [];
  pcacheLock(mem);
  try {
    for (let i = 0; i < n; i++) {
      const s = slotBase(mem, i);
      const m = k32[s + PCACHE_SLOT.mapping]!;
      if (m > 0 && pred(m, k32[s + PCACHE_SLOT.pgoff]!)) {
        out.push({
          mapping: m,
          pgoff: k32[s + PCACHE_SLOT.pgoff]!,
          pfn: asPfn(k32[s + PCACHE_SLOT.pfn]!),
        });
      }
    }
  } finally {
    pcacheUnlock(mem);
  }
  return out;
}

/**
 * Read slot `i` with no lock, for the eviction clock. Like pcacheLookup the
 * answer is only a candidate.
 *
 * @returns the entry, or null for an empty or deleted slot
 */
export function pcacheSlotPeek(mem: Memory, i: number): PcacheEntry | null {
  const s = slotBase(mem, i);
  const m = Atomics.load(mem.k32, s + PCACHE_SLOT.mapping);
  if (m <= 0) return null;
  return {
    mapping: m,
    pgoff: Atomics.load(mem.k32, s + PCACHE_SLOT.pgoff),
    pfn: asPfn(Atomics.load(mem.k32, s + PCACHE_SLOT.pfn)),
  };
}

/** Advance the eviction clock by one slot and return the slot it pointed at. Lock-free. */
export function pcacheClockTick(mem: Memory): number {
  return Atomics.add(mem.k32, hdr(mem, PCACHE.clockHand), 1) & (pcacheNrSlots(mem) - 1);
}

/** Pages in the index (page-cache frames). */
export function pcacheNrPages(mem: Memory): number {
  return Atomics.load(mem.k32, hdr(mem, PCACHE.nrPages));
}

/** Tombstones and rebuilds so far, for tests. */
export function pcacheIndexStats(mem: Memory): { tombstones: number; rebuilds: number } {
  return {
    tombstones: Atomics.load(mem.k32, hdr(mem, PCACHE.tombstones)),
    rebuilds: Atomics.load(mem.k32, hdr(mem, PCACHE.rebuilds)),
  };
}
