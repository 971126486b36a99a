/**
 * The translator's shared state: per-frame code generations and marks, the
 * mark epoch, the counters, and the product arena's bytes (src/abi/layout/jit.ts).
 *
 * Linux/QEMU/v86 names: the mark is v86's `has_code` and QEMU's clean
 * DIRTY_MEMORY_CODE bit (a page with translation blocks, whose TLB entries
 * are NOTDIRTY so stores trap to the slow path); `noteChange` is v86's
 * `jit_dirty_page` / QEMU's `tb_invalidate_phys_page`, except that it
 * invalidates by bumping one generation word instead of walking lists of
 * blocks: every translation carries the word it was made for and is checked
 * against it once per entry.
 *
 * Ordering. A translator marks the frame (an Atomics read-modify-write)
 * before it reads the frame's bytes; a writer writes the bytes and then reads
 * the mark with a read-modify-write (`Atomics.or(.., 0)`, a full barrier).
 * So either the writer sees the mark and bumps the generation, killing the
 * translation, or the translator's mark comes later in the word's
 * modification order and its reads see the new bytes.
 *
 * @module
 */

import {
  CODEGEN_MARK,
  CODEGEN_ONE,
  JIT_ARENA_BYTES,
  JIT_MAGIC,
  JIT_MODE_AUTO,
  JIT_MODE_EAGER,
  JITH,
  type JitLayout,
  jitLayout,
} from "../../abi/layout/jit.ts";

/** When tier 1 translates a frame: "auto" once it is hot, "eager" at its first dispatch. */
export type JitMode = "auto" | "eager";

/** Interpreted instructions after which "auto" translates a frame. */
export const HOT_INSNS = 20_000;

/** One thread's handle on the translator's shared buffer. */
export class JitShared {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly i64: BigInt64Array;

  /** The buffer of `memory`. */
  readonly sab: SharedArrayBuffer;

  private constructor(readonly memory: WebAssembly.Memory, readonly layout: JitLayout) {
    const sab = memory.buffer as SharedArrayBuffer;
    this.sab = sab;
    this.i32 = new Int32Array(sab);
    this.u8 = new Uint8Array(sab);
    this.i64 = new BigInt64Array(sab, 0, Math.floor(layout.arena / 8));
  }

  /**
   * A fresh buffer for `frames` frames. Main thread, at boot.
   *
   * @param opts.arenaBytes product arena size; 0 shares no products between Workers
   */
  static create(
    frames: number,
    opts: { mode?: JitMode; hotInsns?: number; arenaBytes?: number } = {},
  ): JitShared {
    const l = jitLayout(frames, opts.arenaBytes ?? JIT_ARENA_BYTES);
    const pages = l.bytes / 65536;
    const j = new JitShared(
      new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }),
      l,
    );
    j.i32[JITH.magic] = JIT_MAGIC;
    j.i32[JITH.frames] = frames;
    j.i32[JITH.arenaOffset] = l.arena;
    j.i32[JITH.arenaBytes] = l.arenaBytes;
    j.i32[JITH.mode] = opts.mode === "eager" ? JIT_MODE_EAGER : JIT_MODE_AUTO;
    j.i32[JITH.hotInsns] = opts.hotInsns ?? HOT_INSNS;
    return j;
  }

  /** When this machine's Workers translate. */
  get mode(): JitMode {
    return this.i32[JITH.mode] === JIT_MODE_EAGER ? "eager" : "auto";
  }

  /** "auto": interpreted instructions in a frame before it is translated. */
  get hotInsns(): number {
    return this.i32[JITH.hotInsns]!;
  }

  /**
   * This thread's handle on a translator memory another thread created.
   *
   * @throws Error when it is not a translator memory
   */
  static attach(memory: WebAssembly.Memory): JitShared {
    const sab = memory instanceof WebAssembly.Memory ? memory.buffer : null;
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < 64) {
      throw new Error("JitShared.attach: not the translator's shared wasm memory");
    }
    const h = new Int32Array(sab, 0, 16);
    const l = jitLayout(h[JITH.frames]!, h[JITH.arenaBytes]!);
    if (
      h[JITH.magic] !== JIT_MAGIC || l.bytes !== sab.byteLength || l.arena !== h[JITH.arenaOffset]
    ) {
      throw new Error("JitShared.attach: the buffer's header does not match its size");
    }
    return new JitShared(memory, l);
  }

  /** The codeGen word of `pfn` (a plain read: callers compare it with a translation's key). */
  genWord(pfn: number): number {
    return this.i32[this.layout.gen + pfn]!;
  }

  /**
   * Mark frame `pfn` as code, before reading its bytes to translate them.
   *
   * @returns the codeGen word, mark set, that a translation of the bytes read
   *   after this call is valid for
   */
  markCode(pfn: number): number {
    const i = this.layout.gen + pfn;
    for (;;) {
      const w = Atomics.load(this.i32, i);
      if ((w & CODEGEN_MARK) !== 0) return w;
      if (Atomics.compareExchange(this.i32, i, w, w | CODEGEN_MARK) === w) {
        Atomics.add(this.i32, JITH.markEpoch, 1);
        return w | CODEGEN_MARK;
      }
    }
  }

  /** True when frame `pfn` is marked as code (a plain read, for the store TLB's fill). */
  isCode(pfn: number): boolean {
    return (this.i32[this.layout.gen + pfn]! & CODEGEN_MARK) !== 0;
  }

  /**
   * Frame `pfn`'s bytes changed, or the frame changes hands (allocated,
   * freed): if it is marked as code, bump its generation, which kills every
   * translation of it. Call after writing the bytes.
   *
   * @returns true when the frame was code (a translation died)
   */
  noteChange(pfn: number): boolean {
    const i = this.layout.gen + pfn;
    // The read-modify-write orders the caller's writes before the mark test.
    let w = Atomics.or(this.i32, i, 0);
    while ((w & CODEGEN_MARK) !== 0) {
      const seen = Atomics.compareExchange(this.i32, i, w, (w + CODEGEN_ONE) & ~CODEGEN_MARK);
      if (seen === w) {
        Atomics.add(this.i32, JITH.invalidations, 1);
        return true;
      }
      w = seen;
    }
    return false;
  }

  /** The mark epoch (JITH.markEpoch). */
  markEpoch(): number {
    return this.i32[JITH.markEpoch]!;
  }

  /** Add to a 32-bit counter of JITH. */
  count(word: number, n = 1): void {
    Atomics.add(this.i32, word, n);
  }

  /** Add nanoseconds to a 64-bit time of JITH (emitNs, compileNs). */
  addNs(word: number, ns: number): void {
    Atomics.add(this.i64, word / 2, BigInt(Math.round(ns)));
  }

  /** The translator's counters, for machine.stats(). */
  counters(): JitCounters {
    return {
      translations: Atomics.load(this.i32, JITH.translations),
      sharedInstalls: Atomics.load(this.i32, JITH.sharedInstalls),
      invalidations: Atomics.load(this.i32, JITH.invalidations),
      unpublished: Atomics.load(this.i32, JITH.unpublished),
      entryMisses: Atomics.load(this.i32, JITH.entryMisses),
      retranslations: Atomics.load(this.i32, JITH.retranslations),
      emitMs: Number(Atomics.load(this.i64, JITH.emitNs / 2)) / 1e6,
      compileMs: Number(Atomics.load(this.i64, JITH.compileNs / 2)) / 1e6,
    };
  }
}

/** What JitShared.counters reports. */
export interface JitCounters {
  translations: number;
  sharedInstalls: number;
  invalidations: number;
  unpublished: number;
  /** Arrivals in translated code at a word without a block (EXIT_MISS), by every Worker. */
  entryMisses: number;
  /** Translations made again (or installed again) for an entry recorded since. */
  retranslations: number;
  emitMs: number;
  compileMs: number;
}

/** What the kernel's write hooks need of a Memory: the translator's state, if the machine has one. */
export interface HasJit {
  readonly jit: JitShared | null;
}

/**
 * The kernel wrote physical bytes [pa, pa + len) (a write(), a page-cache
 * fill, copy_to_user, zeroing): every frame of the range that holds
 * translated code gets a new generation, so no hart runs a translation of
 * the old bytes again (QEMU's tb_invalidate_phys_range; Linux keeps the
 * icache coherent on these paths with flush_dcache_page and friends). Call
 * after writing. Costs one read-modify-write a frame; nothing when the
 * machine does not translate.
 */
export function codeWritten(mem: HasJit, pa: number, len: number): void {
  const j = mem.jit;
  if (j === null || len <= 0) return;
  const last = Math.floor((pa + len - 1) / 4096);
  for (let pfn = Math.floor(pa / 4096); pfn <= last; pfn++) j.noteChange(pfn);
}

/**
 * Frame `pfn` changes hands: allocated or freed (a RAM frame, or a device
 * block, pfn = RAM frames + block). Its translations die with it.
 */
export function codeFrameReused(mem: HasJit, pfn: number): void {
  mem.jit?.noteChange(pfn);
}
