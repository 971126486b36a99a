/**
 * The product arena: translations shared between Workers as wasm bytes, so
 * that N processes running the same frame pay for one translation, not N
 * (v86 has one thread and no such thing; QEMU's TB cache is shared by the
 * vCPU threads of one process, which is what this is for Workers).
 *
 * A product is published under the frame's codeGen word and carries the 4
 * KiB the frame held when it was translated, and the entry set it started
 * blocks at (entries.ts). Another Worker that wants the same frame at the
 * same generation takes it only if the frame still holds those bytes and
 * the product starts a block at every entry that Worker knows of, then
 * compiles and instantiates the bytes itself (V8 compiles per isolate; see
 * bench/REPORT.md for what that costs).
 *
 * The arena is a ring (layout/jit.ts): a writer reserves [head, head + n)
 * with a compare-and-swap on JITH.ring, wrapping to 0 with the next epoch
 * when the end is reached, writes the record, and only then points
 * dir[pfn] at it. A reader checks, before and after copying, that no writer
 * of a later epoch has reserved the record's space; a record that fails is
 * a miss, never an error. No lock: a Worker killed mid-publish leaves a
 * reserved record nobody points at.
 *
 * @module
 */

import {
  ENTRY_SET_WORDS,
  JITH,
  JREC,
  JREC_HEADER_BYTES,
  JREC_MAGIC,
} from "../../abi/layout/jit.ts";
import { entriesCover } from "./entries.ts";
import type { JitShared } from "./shared.ts";

/** What a product says besides its wasm bytes. */
export interface ProductInfo {
  /** The words the translation starts blocks at (every leader, recorded or found by the sweep). */
  entries: Int32Array;
  /** Translations of the frame at this generation before this one. */
  rounds: number;
}

/** A product found in the arena. */
export interface Product extends ProductInfo {
  wasm: Uint8Array<ArrayBuffer>;
}

const FRAME_BYTES = 4096;
const EPOCH_SHIFT = 24;
const HEAD_MASK = (1 << EPOCH_SHIFT) - 1;

/** Is a record of epoch `epoch` at arena offset `off` still intact, given the ring state `ring`? */
function intact(ring: number, epoch: number, off: number): boolean {
  const cur = ring >>> EPOCH_SHIFT, head = (ring & HEAD_MASK) * 16;
  if (cur === epoch) return true;
  return cur === ((epoch + 1) & 0xff) && off >= head;
}

/**
 * Publish a translation of frame `pfn` made from `words` under codeGen word
 * `gen`, with the entry set and round count of `info`. Lock-free; any thread.
 *
 * @returns false when the arena is too small to hold it (nothing is written)
 */
export function publishProduct(
  j: JitShared,
  pfn: number,
  gen: number,
  tlbEntries: number,
  words: Int32Array,
  wasm: Uint8Array,
  info: ProductInfo,
): boolean {
  const l = j.layout;
  const total = Math.ceil((JREC_HEADER_BYTES + FRAME_BYTES + wasm.length) / 16) * 16;
  if (total > l.arenaBytes || l.arenaBytes / 16 > HEAD_MASK) return false;
  let off: number, epoch: number;
  for (;;) {
    const r = Atomics.load(j.i32, JITH.ring);
    const cur = r >>> EPOCH_SHIFT, head = (r & HEAD_MASK) * 16;
    if (head + total <= l.arenaBytes) {
      off = head;
      epoch = cur;
    } else {
      off = 0;
      epoch = (cur + 1) & 0xff;
    }
    const next = (epoch << EPOCH_SHIFT) | ((off + total) / 16);
    if (Atomics.compareExchange(j.i32, JITH.ring, r, next) === r) break;
  }
  const at = l.arena + off;
  const h = new Int32Array(j.sab, at, JREC_HEADER_BYTES / 4);
  h[JREC.magic / 4] = 0; // not a record until the header is complete
  h[JREC.epoch / 4] = epoch;
  h[JREC.pfn / 4] = pfn;
  h[JREC.gen / 4] = gen;
  h[JREC.tlbEntries / 4] = tlbEntries;
  h[JREC.wasmBytes / 4] = wasm.length;
  h[JREC.total / 4] = total;
  h[JREC.rounds / 4] = info.rounds;
  h.set(info.entries.subarray(0, ENTRY_SET_WORDS), JREC.entries / 4);
  new Int32Array(j.sab, at + JREC_HEADER_BYTES, FRAME_BYTES / 4).set(words);
  j.u8.set(wasm, at + JREC_HEADER_BYTES + FRAME_BYTES);
  Atomics.store(h, JREC.magic / 4, JREC_MAGIC);
  Atomics.store(j.i32, l.dir + pfn, off / 16 + 1);
  return true;
}

/**
 * Has any translation of frame `pfn` been published (at any generation, and
 * maybe overwritten since)? One load: a cheap test before findProduct.
 */
export function productPublished(j: JitShared, pfn: number): boolean {
  return Atomics.load(j.i32, j.layout.dir + pfn) !== 0;
}

/**
 * The published translation of frame `pfn` at codeGen word `gen` for
 * `tlbEntries`, if one exists, is intact, was made from exactly `words`
 * (the frame's bytes as the caller read them after marking it), and starts
 * a block at every entry of `need`. Lock-free; any thread.
 *
 * @returns a private copy of its bytes, entry set and rounds, or null
 */
export function findProduct(
  j: JitShared,
  pfn: number,
  gen: number,
  tlbEntries: number,
  words: Int32Array,
  need: Int32Array,
): Product | null {
  const l = j.layout;
  const d = Atomics.load(j.i32, l.dir + pfn);
  if (d === 0) return null;
  const off = (d - 1) * 16;
  if (off + JREC_HEADER_BYTES + FRAME_BYTES > l.arenaBytes) return null;
  const at = l.arena + off;
  const h = new Int32Array(j.sab, at, JREC_HEADER_BYTES / 4);
  if (Atomics.load(h, JREC.magic / 4) !== JREC_MAGIC) return null;
  const epoch = h[JREC.epoch / 4]!;
  const n = h[JREC.wasmBytes / 4]!;
  if (
    !intact(Atomics.load(j.i32, JITH.ring), epoch, off) || h[JREC.pfn / 4] !== pfn ||
    h[JREC.gen / 4] !== gen || h[JREC.tlbEntries / 4] !== tlbEntries || n <= 0 ||
    off + JREC_HEADER_BYTES + FRAME_BYTES + n > l.arenaBytes
  ) return null;
  const src = new Int32Array(j.sab, at + JREC_HEADER_BYTES, FRAME_BYTES / 4);
  for (let i = 0; i < FRAME_BYTES / 4; i++) if (src[i] !== words[i]) return null;
  const entries = h.slice(JREC.entries / 4, JREC.entries / 4 + ENTRY_SET_WORDS);
  if (!entriesCover(entries, need)) return null;
  const rounds = h[JREC.rounds / 4]!;
  const start = at + JREC_HEADER_BYTES + FRAME_BYTES;
  const wasm = new Uint8Array(n);
  wasm.set(j.u8.subarray(start, start + n));
  // A writer that wrapped around may have overwritten the record while we copied it.
  if (!intact(Atomics.load(j.i32, JITH.ring), epoch, off)) return null;
  return { wasm, entries, rounds };
}

/**
 * Claim the translation of frame `pfn` at codeGen word `gen` (mark set, so
 * never 0), so that other Workers wait for its product instead of
 * translating the frame too (QEMU's vCPU threads take tb_lock for this;
 * Workers only need the hint). Lock-free; any thread.
 *
 * @returns true when the caller holds the claim now; false when another
 *   Worker holds it for `gen` (or took it a moment ago)
 */
export function claimFrame(j: JitShared, pfn: number, gen: number): boolean {
  const i = j.layout.claim + pfn;
  const c = Atomics.load(j.i32, i);
  if (c === gen) return false;
  return Atomics.compareExchange(j.i32, i, c, gen) === c;
}

/** True when some Worker holds a claim on frame `pfn` for codeGen word `gen`. */
export function frameClaimed(j: JitShared, pfn: number, gen: number): boolean {
  return j.i32[j.layout.claim + pfn] === gen;
}

/**
 * Drop a claim on frame `pfn` for `gen` after its product is published (or
 * could not be): a no-op when the word holds another claim by then.
 */
export function releaseFrame(j: JitShared, pfn: number, gen: number): void {
  Atomics.compareExchange(j.i32, j.layout.claim + pfn, gen, 0);
}
