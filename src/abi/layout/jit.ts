/**
 * The translator's shared buffer (src/hw/jit): one shared WebAssembly.Memory
 * a machine (its buffer a SharedArrayBuffer), made at boot when the machine
 * translates guest code, handed to every Worker beside the two buffers of
 * layout/mod.ts. It is a wasm memory so that the dispatcher of translated code
 * reads codeGen[] itself. Declared here, once, like every shared layout;
 * addressed in 32-bit words unless a comment says bytes.
 *
 * ```
 *  word 0      32               32 + F             32 + 2F          32 + 3F
 *  +-----------+----------------+------------------+----------------+------------------------+
 *  | header    | codeGen[pfn]   | dir[pfn]         | claim[pfn]     | entry sets: ENTRY_SLOTS |
 *  | JITH      | one word a     | one word a frame:| the codeGen    | slots of ENTRY_SLOT_    |
 *  |           | frame, RAM     | the newest record| word a Worker  | WORDS, direct-mapped on |
 *  |           | then device    | + 1, or 0        | is translating | the pfn (ESLOT)         |
 *  |           |                |                  | it for, or 0   |                         |
 *  +-----------+----------------+------------------+----------------+------------------------+
 *  then, from the next 64 KiB page to the end: the product arena, a ring of records
 *  [ JREC header | the frame's entry set | the frame's bytes when translated | wasm bytes ]
 *  F = RAM frames + device frames
 * ```
 *
 * codeGen[pfn] is `generation << 1 | mark`. The mark (CODEGEN_MARK) says some
 * hart translated the frame's current content: its stores must take the slow
 * path, and a write into it must bump the generation. A bump adds
 * CODEGEN_ONE and clears the mark, so every translation keyed by the old word
 * is dead at once, in every Worker. No lock guards these words: they change
 * only by Atomics read-modify-write (src/hw/jit/shared.ts).
 *
 * claim[pfn] is a hint, not a lock: a Worker about to translate a frame that
 * no product covers stores the frame's codeGen word there, and clears it
 * once it has published; another Worker that finds the claim for the same
 * word interprets the frame meanwhile and installs the product afterwards,
 * instead of translating the frame too. A claim whose holder died is
 * ignored after a while (src/hw/jit/cache.ts).
 *
 * An entry set is the words of one frame at which harts were seen to arrive
 * (tier 0 at a change of frame, tier 1 at a word its translation had no
 * block for), 1024 bits for the frame's generation (codeGen >>> 1): every
 * translation of the frame starts a block at each of them, so another
 * Worker does not rediscover them, and a bump forgets them with the
 * translations. The sets are hints: any set of block starts translates
 * correctly, so a slot taken over by another frame, or a bit set for the
 * wrong frame in a race, costs speed, never correctness
 * (src/hw/jit/entries.ts).
 *
 * The arena is a ring: writers reserve space with a compare-and-swap on
 * JITH.ring (epoch << 24 | head in 16-byte units); a reader validates a
 * record against the ring state before and after it copies it, because a
 * writer that wrapped around may be overwriting it (src/hw/jit/cache.ts).
 *
 * @module
 */

/** "XIPJ", little-endian in word 0. */
export const JIT_MAGIC = 0x4a50_4958;

/** Header words. Counters are 32-bit and wrap; times are 64-bit, at even word indices. */
export const JITH = {
  magic: 0,
  /** F: frames covered by codeGen and dir (RAM plus device). */
  frames: 1,
  /** Byte offset of the arena from the buffer's start, and its size in bytes. */
  arenaOffset: 2,
  arenaBytes: 3,
  /**
   * Bumped whenever a frame is newly marked as code. A hart that sees it
   * change empties its store TLB, so no store TLB keeps an entry for a frame
   * marked after the entry was filled (QEMU's tlb_protect_code).
   */
  markEpoch: 4,
  /** The ring's allocation state: epoch << 24 | head / 16. */
  ring: 5,
  /** Frames translated, by every Worker. */
  translations: 6,
  /** Translations installed from a product another Worker published. */
  sharedInstalls: 7,
  /** Bumps of a marked frame: translations made dead by a write, a reuse or a free. */
  invalidations: 8,
  /** Products made but not published (larger than the arena). */
  unpublished: 9,
  /** Nanoseconds spent discovering, laying out and emitting (64-bit, all Workers). */
  emitNs: 10,
  /** Nanoseconds spent compiling and instantiating (64-bit, all Workers). */
  compileNs: 12,
  /** When Workers translate: JIT_MODE_AUTO or JIT_MODE_EAGER. */
  mode: 14,
  /** "auto": interpreted instructions in a frame before it is translated. */
  hotInsns: 15,
  /** Arrivals of translated code at a word its translation has no block for. */
  entryMisses: 16,
  /** Translations made again to give such a word, recorded since, a block of its own. */
  retranslations: 17,
} as const;

/** JITH.mode values. */
export const JIT_MODE_AUTO = 1;
export const JIT_MODE_EAGER = 2;
export const JIT_HEADER_WORDS = 32;

/** The mark bit of a codeGen word. */
export const CODEGEN_MARK = 1;
/** What a bump adds to a codeGen word (the generation is bits 1..31). */
export const CODEGEN_ONE = 2;

/** Entry-set slots (a power of two): the slot of frame pfn is pfn & (ENTRY_SLOTS - 1). */
export const ENTRY_SLOTS = 1024;
/** Words of one entry-set slot. */
export const ENTRY_SLOT_WORDS = 36;
/** Word offsets within an entry-set slot. */
export const ESLOT = {
  /** pfn + 1 of the frame the slot holds; 0 when empty, -1 while being taken over. */
  key: 0,
  /** The frame's generation (codeGen >>> 1) the set belongs to. */
  gen: 1,
  /** The set: 32 words, bit w of word w >> 5 for frame word w. */
  bits: 4,
} as const;
/** Words of one entry set (1024 bits). */
export const ENTRY_SET_WORDS = 32;

/**
 * A product record in the arena, byte offsets from its start. The record is
 * JREC_HEADER_BYTES (the header, then the entry set the translation was
 * made with), then PAGE_SIZE bytes of the frame as translated, then
 * `wasmBytes` bytes of the module; it is padded to 16 bytes.
 */
export const JREC = {
  magic: 0,
  /** The ring epoch the record was written in (0..255). */
  epoch: 4,
  pfn: 8,
  /** The codeGen word the translation is valid for (mark set). */
  gen: 12,
  /** The TLB size the code was emitted for (its mask and offsets are constants in it). */
  tlbEntries: 16,
  wasmBytes: 20,
  /** Record bytes including the padding. */
  total: 24,
  /** Translations of the frame at this generation before this one (the retranslation bound). */
  rounds: 28,
  /** The words the translation starts blocks at, as an entry set (ENTRY_SET_WORDS words). */
  entries: 32,
} as const;
export const JREC_HEADER_BYTES = 32 + 4 * ENTRY_SET_WORDS;
/** "JREC" */
export const JREC_MAGIC = 0x4345_524a;

/** Default arena size. Pages of a SharedArrayBuffer cost nothing until written. */
export const JIT_ARENA_BYTES = 32 * 1024 * 1024;

/** Placement of the regions for `frames` frames and an arena of `arenaBytes`. */
export interface JitLayout {
  readonly frames: number;
  /** Word index of codeGen[0]. */
  readonly gen: number;
  /** Word index of dir[0]. */
  readonly dir: number;
  /** Word index of claim[0]. */
  readonly claim: number;
  /** Word index of the first entry-set slot. */
  readonly entries: number;
  /** Byte offset of the arena. */
  readonly arena: number;
  readonly arenaBytes: number;
  /** Total bytes of the buffer: whole 64 KiB wasm pages (the arena starts at a page and is whole pages). */
  readonly bytes: number;
}

/** Place the regions. Pure. */
export function jitLayout(frames: number, arenaBytes: number = JIT_ARENA_BYTES): JitLayout {
  const gen = JIT_HEADER_WORDS;
  const dir = gen + frames;
  const claim = dir + frames;
  const entries = claim + frames;
  const arena = Math.ceil(((entries + ENTRY_SLOTS * ENTRY_SLOT_WORDS) * 4) / 65536) * 65536;
  const bytes = arena + Math.ceil(Math.max(0, arenaBytes) / 65536) * 65536;
  return { frames, gen, dir, claim, entries, arena, arenaBytes: bytes - arena, bytes };
}
