/**
 * The physical machine's memory: the two SharedArrayBuffers of layout/mod.ts and
 * the typed views every thread indexes them through.
 *
 * The main thread calls `createMemory` once; it allocates both buffers,
 * writes the header and puts the memmap and the frame allocator in their
 * boot state (every RAM frame free, every struct page zeroed with no links).
 * A Worker is handed the two buffers and calls `attachMemory`, which
 * recomputes the layout from the header and refuses a buffer that does not
 * match it.
 *
 * Physical memory is a shared `WebAssembly.Memory` whose `.buffer` is the
 * SharedArrayBuffer every typed view indexes. The Memory object itself is
 * what a process Worker is handed, because translated guest code (src/hw/jit)
 * imports it as its memory 0: one translation then reads and writes the very
 * frames the interpreter does. A wasm32 memory holds at most 4 GiB, which is
 * the limit on RAM plus device (MAX_PHYS_FRAMES).
 *
 * @module
 */

import {
  computeLayout,
  FALLOC,
  fallocBitmapWords,
  type KernelLayout,
  type LayoutConfig,
  memmapFrames,
  PAGE,
  PAGE_WORDS,
  physBytes,
  readLayout,
  VMSTAT,
  WASM_PAGE_BYTES,
  writeHeader,
} from "../abi/layout/mod.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { ImageError } from "./image.ts";
import { JitShared } from "./jit/shared.ts";

/** One thread's handle on physical memory and the kernel tables. */
export interface Memory {
  layout: KernelLayout;
  /** RAM frames then device frames; byte offset = pfn * PAGE_SIZE. */
  phys: SharedArrayBuffer;
  /**
   * The shared WebAssembly.Memory whose buffer is `phys`; null in a thread
   * that was handed only the buffer (such a thread cannot run translated code).
   */
  physMemory: WebAssembly.Memory | null;
  /**
   * The translator's shared state (code generations, marks, products), when
   * the machine translates guest code (Machine.boot's `jit`); else null.
   */
  jit: JitShared | null;
  /** The kernel tables (layout/mod.ts), in 32-bit words. */
  kernel: SharedArrayBuffer;
  /** All of `phys`. */
  u8: Uint8Array;
  /** All of `kernel`, in words. */
  k32: Int32Array;
  /** All of `kernel`, in 64-bit units (stats). */
  k64: BigInt64Array;
}

/** Options of `createMemory`. */
export interface CreateMemoryOptions {
  /**
   * Bytes to place at the start of the device region, e.g. a loaded xipfs
   * image. Its length must be a multiple of PAGE_SIZE and at most the
   * device's size; the rest of the device stays zero.
   */
  image?: Uint8Array;
}

/**
 * The largest frame count (RAM plus device) a config may ask for: 4 GiB, the
 * most a wasm32 memory holds (Sv32 PTEs could name 2^22 frames).
 */
export const MAX_PHYS_FRAMES = 1 << 20;

function checkConfig(cfg: LayoutConfig): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 0;
  if (!ok(cfg.ramFrames) || !ok(cfg.deviceFrames) || !ok(cfg.maxTasks) || cfg.maxTasks < 2) {
    throw new Error(
      `createMemory: bad config (ramFrames=${cfg.ramFrames}, deviceFrames=${cfg.deviceFrames}, maxTasks=${cfg.maxTasks})`,
    );
  }
  if (cfg.ramFrames + cfg.deviceFrames > MAX_PHYS_FRAMES) {
    throw new Error(
      `createMemory: ${
        cfg.ramFrames + cfg.deviceFrames
      } frames exceed the limit of ${MAX_PHYS_FRAMES} (4 GiB, one wasm32 memory)`,
    );
  }
}

function views(
  layout: KernelLayout,
  physMemory: WebAssembly.Memory | null,
  phys: SharedArrayBuffer,
  kernel: SharedArrayBuffer,
): Memory {
  return {
    layout,
    phys,
    physMemory,
    jit: null,
    kernel,
    u8: new Uint8Array(phys),
    k32: new Int32Array(kernel),
    k64: new BigInt64Array(kernel),
  };
}

/**
 * Put every struct page in its boot state: no flags, no references, no
 * mapping, links at -1. A fresh SharedArrayBuffer is already zero, so only
 * the link words need writing.
 */
function initMemmap(mem: Memory): void {
  const { k32, layout } = mem;
  const n = memmapFrames(layout.config);
  for (let i = 0, w = layout.memmap.base; i < n; i++, w += PAGE_WORDS) {
    k32[w + PAGE.next] = -1;
    k32[w + PAGE.prev] = -1;
  }
}

/**
 * Put the frame allocator in its boot state: every RAM frame free. The bits
 * past the last RAM frame in the final bitmap word are set (in use) so that
 * the allocator never hands them out.
 */
function initFrameAlloc(mem: Memory): void {
  const { k32, layout } = mem;
  const r = layout.config.ramFrames;
  const f = layout.falloc.base;
  k32[f + FALLOC.freeFrames] = r;
  k32[f + FALLOC.peakUsed] = 0;
  const words = fallocBitmapWords(layout.config);
  const tail = r % 32;
  if (tail !== 0) k32[f + FALLOC.bitmap + words - 1] = ~((1 << tail) - 1);
}

/**
 * Allocate and initialise physical memory and the kernel tables for `cfg`.
 * Main thread only, once per machine, before any Worker sees the buffers.
 *
 * @throws Error for an impossible config; ImageError when `opts.image` does not fit the device
 */
export function createMemory(cfg: LayoutConfig, opts: CreateMemoryOptions = {}): Memory {
  checkConfig(cfg);
  const image = opts.image;
  if (image !== undefined) {
    if (image.length % PAGE_SIZE !== 0) {
      throw new ImageError(`image of ${image.length} bytes is not a multiple of ${PAGE_SIZE}`);
    }
    if (image.length > cfg.deviceFrames * PAGE_SIZE) {
      throw new ImageError(
        `image of ${image.length} bytes does not fit a device of ${cfg.deviceFrames} frames`,
      );
    }
  }
  const layout = computeLayout(cfg);
  const pages = physBytes(cfg) / WASM_PAGE_BYTES;
  const physMemory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const mem = views(
    layout,
    physMemory,
    physMemory.buffer as SharedArrayBuffer,
    new SharedArrayBuffer(layout.bytes),
  );
  writeHeader(mem.k32, layout);
  initMemmap(mem);
  initFrameAlloc(mem);
  if (image !== undefined) mem.u8.set(image, cfg.ramFrames * PAGE_SIZE);
  return mem;
}

/**
 * Build this thread's views of buffers another thread created (a Worker
 * calls this with what the Machine posted to it: the physical memory as the
 * shared WebAssembly.Memory, or as its buffer alone, and the translator's
 * buffer when the machine has one). Touches no shared state.
 *
 * @throws Error naming what is wrong when the buffers are not a machine's memory
 */
export function attachMemory(
  physical: WebAssembly.Memory | SharedArrayBuffer,
  kernel: SharedArrayBuffer,
  jit: WebAssembly.Memory | null = null,
): Memory {
  const physMemory = physical instanceof WebAssembly.Memory ? physical : null;
  const phys = physMemory !== null ? physMemory.buffer : physical;
  if (!(phys instanceof SharedArrayBuffer) || !(kernel instanceof SharedArrayBuffer)) {
    throw new Error("attachMemory: both buffers must be SharedArrayBuffers");
  }
  if (kernel.byteLength % 8 !== 0) {
    throw new Error(`attachMemory: kernel buffer of ${kernel.byteLength} bytes is malformed`);
  }
  const layout = readLayout(new Int32Array(kernel));
  if (layout === null) {
    throw new Error("attachMemory: kernel buffer has no valid header or does not match its size");
  }
  const want = physBytes(layout.config);
  if (phys.byteLength !== want) {
    throw new Error(
      `attachMemory: physical buffer is ${phys.byteLength} bytes, the header says ${want}`,
    );
  }
  const mem = views(layout, physMemory, phys, kernel);
  if (jit !== null) {
    mem.jit = JitShared.attach(jit);
    if (mem.jit.layout.frames !== layout.config.ramFrames + layout.config.deviceFrames) {
      throw new Error("attachMemory: the translator buffer is for another machine");
    }
  }
  return mem;
}

/** A stat counter's name, e.g. "bioReadBytes". */
export type StatName = keyof typeof VMSTAT;
/** A stat counter's index, e.g. VMSTAT.bioReadBytes. */
export type StatId = (typeof VMSTAT)[StatName];

/**
 * Add `n` to a machine-wide counter. Atomic; no lock needed. Hot callers pass
 * a precomputed bigint to skip the conversion.
 */
export function statAdd(mem: Memory, stat: StatId, n: number | bigint): void {
  Atomics.add(mem.k64, mem.layout.stats.base / 2 + stat, typeof n === "bigint" ? n : BigInt(n));
}

/** Current value of a machine-wide counter (exact below 2^53). */
export function statRead(mem: Memory, stat: StatId): number {
  return Number(Atomics.load(mem.k64, mem.layout.stats.base / 2 + stat));
}
