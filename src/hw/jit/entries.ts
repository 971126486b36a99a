/**
 * Entry sets: the words of a frame at which harts were seen to arrive, kept
 * in the translator's shared buffer (src/abi/layout/jit.ts), so that every
 * translation of the frame, in any Worker, starts a block at each of them.
 *
 * The linear sweep (discover.ts) finds the places control arrives at
 * statically; what it cannot see is an arrival through a register (a switch
 * through a jump table whose cases fall through, a computed goto, a resumed
 * trap, a signal return). Tier 0 notes the word it enters an untranslated
 * frame at (in its runtime, and here when it translates the frame); tier 1
 * records a word its translation had no block for. v86
 * keeps per-page entry points in `jit.rs` (`all_pages`' entry_points) for
 * the same purpose; QEMU needs none, because it translates from each pc it
 * reaches.
 *
 * A set belongs to a frame's generation (codeGen >>> 1): a bump forgets it
 * with the frame's translations. Sets are hints and every operation is
 * lock-free: a set holds extra bits after a race or a takeover only as extra
 * block starts, which translate correctly; a lost bit costs one more miss.
 *
 * @module
 */

import { ENTRY_SET_WORDS, ENTRY_SLOT_WORDS, ENTRY_SLOTS, ESLOT } from "../../abi/layout/jit.ts";
import type { JitShared } from "./shared.ts";

/** The generation of a codeGen word (the mark dropped). */
export const generationOf = (genWord: number): number => (genWord >>> 1) | 0;

/** ESLOT.key while a thread takes the slot over (never pfn + 1). */
const ESLOT_BUSY = -1;

function slotBase(j: JitShared, pfn: number): number {
  return j.layout.entries + (pfn & (ENTRY_SLOTS - 1)) * ENTRY_SLOT_WORDS;
}

/**
 * Record that a hart arrived at word `word` of frame `pfn` (any thread). A
 * slot that holds another frame, or an older generation of this one, is
 * taken over: emptied first, so a reader never takes its bits for this
 * frame's.
 *
 * @returns true when the set already held the word (it was recorded before)
 */
export function recordEntry(j: JitShared, pfn: number, word: number): boolean {
  const i32 = j.i32;
  const base = ownSlot(j, pfn);
  if (base < 0) return false;
  const at = base + ESLOT.bits + (word >>> 5), bit = 1 << (word & 31);
  return (Atomics.or(i32, at, bit) & bit) !== 0;
}

/** Record every word of entry set `set` as an arrival in frame `pfn` (any thread). */
export function recordEntries(j: JitShared, pfn: number, set: Int32Array): void {
  const base = ownSlot(j, pfn);
  if (base < 0) return;
  for (let k = 0; k < ENTRY_SET_WORDS; k++) {
    if (set[k] !== 0) Atomics.or(j.i32, base + ESLOT.bits + k, set[k]!);
  }
}

/**
 * The slot of frame `pfn` at its current generation, taken over if it
 * holds another frame or generation: emptied first, so that a reader never
 * takes its bits for this frame's.
 *
 * @returns the slot's word index, or -1 when another thread took it over first
 */
function ownSlot(j: JitShared, pfn: number): number {
  const i32 = j.i32;
  const base = slotBase(j, pfn);
  const gen = generationOf(j.genWord(pfn));
  const key = Atomics.load(i32, base + ESLOT.key);
  if (key === pfn + 1 && Atomics.load(i32, base + ESLOT.gen) === gen) return base;
  // A concurrent taker that changed the key first wins; this caller's arrivals are dropped. (Two
  // takers of a slot another left busy may both go on: the set is a hint.)
  if (Atomics.compareExchange(i32, base + ESLOT.key, key, ESLOT_BUSY) !== key) return -1;
  i32.fill(0, base + ESLOT.bits, base + ESLOT.bits + ENTRY_SET_WORDS);
  Atomics.store(i32, base + ESLOT.gen, gen);
  Atomics.store(i32, base + ESLOT.key, pfn + 1);
  return base;
}

/**
 * OR the entry set of frame `pfn` at codeGen word `genWord`'s generation
 * into `out` (ENTRY_SET_WORDS words). Any thread.
 *
 * @returns false when no slot holds a set for that frame and generation
 */
export function readEntries(j: JitShared, pfn: number, genWord: number, out: Int32Array): boolean {
  const i32 = j.i32;
  const base = slotBase(j, pfn);
  const gen = generationOf(genWord);
  if (Atomics.load(i32, base + ESLOT.key) !== pfn + 1) return false;
  if (Atomics.load(i32, base + ESLOT.gen) !== gen) return false;
  const bits = new Int32Array(ENTRY_SET_WORDS);
  for (let k = 0; k < ENTRY_SET_WORDS; k++) bits[k] = Atomics.load(i32, base + ESLOT.bits + k);
  // Taken over meanwhile: the bits may be another frame's.
  if (Atomics.load(i32, base + ESLOT.key) !== pfn + 1) return false;
  if (Atomics.load(i32, base + ESLOT.gen) !== gen) return false;
  for (let k = 0; k < ENTRY_SET_WORDS; k++) out[k] = out[k]! | bits[k]!;
  return true;
}

/** True when entry set `set` holds word `word`. */
export const hasEntry = (set: Int32Array, word: number): boolean =>
  ((set[word >>> 5]! >>> (word & 31)) & 1) !== 0;

/** Add word `word` to entry set `set`. */
export function addEntry(set: Int32Array, word: number): void {
  set[word >>> 5] = set[word >>> 5]! | (1 << (word & 31));
}

/** The entry set of the words `leader` marks (discover's leaders: where a translation starts blocks). */
export function leaderSet(leader: Uint8Array): Int32Array {
  const set = new Int32Array(ENTRY_SET_WORDS);
  for (let w = 0; w < leader.length; w++) if (leader[w] === 1) addEntry(set, w);
  return set;
}

/** True when every word of `sub` is in `sup`. */
export function entriesCover(sup: Int32Array, sub: Int32Array): boolean {
  for (let k = 0; k < ENTRY_SET_WORDS; k++) if ((sub[k]! & ~sup[k]!) !== 0) return false;
  return true;
}
