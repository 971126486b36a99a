/**
 * Every shared-memory layout of xip, declared once.
 *
 * There are two SharedArrayBuffers.
 *
 * Physical memory, addressed in bytes (`PhysAddr`) and frames (`Pfn`). RAM
 * and the memory device are two regions of one buffer, so that the hart's
 * TLB hit is a single typed-array access whichever kind of frame a PTE names:
 *
 * ```
 *  pfn 0                         R                              R+M
 *  +-----------------------------+-------------------------------+
 *  | RAM frames                  | memory device (xipfs image)   |
 *  | anon, page cache, page      | device pfn D = R + block no.  |
 *  | tables, COW copies          | saved as the image            |
 *  +-----------------------------+-------------------------------+
 *  byte offset = pfn * PAGE_SIZE
 * ```
 *
 * Kernel tables, addressed in 32-bit words (an index into an Int32Array):
 *
 * ```
 *  word 0
 *  +--------+-------+---------+-------------------+-------------------+-----------+
 *  | header | stats | scratch | tasks: one record | memmap: one       | frame     |
 *  |        | (i64) | (tests) | a host thread:    | struct page a RAM | allocator |
 *  |        |       |         | held-lock stack   | frame (+ device   | (bitmap,  |
 *  |        |       |         |                   | with memmap=dev.) | counters) |
 *  +--------+-------+---------+-------------------+-------------------+-----------+
 * ```
 *
 * Each region starts on a 64-byte boundary (16 words) so that unrelated
 * regions never share a cache line. Records are described by `as const`
 * objects of word offsets; the code indexes `base + FIELD.name`, never a
 * bare number.
 *
 * @module
 */

import { PAGE_SIZE } from "./types.ts";

/** Region alignment, in words (64 bytes). */
export const REGION_ALIGN_WORDS = 16;

/** What the layout depends on. */
export interface LayoutConfig {
  /** RAM frames (R). */
  readonly ramFrames: number;
  /** Memory-device frames (M). */
  readonly deviceFrames: number;
  /** Whether device frames get struct pages (ZONE_DEVICE-like). */
  readonly deviceMemmap: boolean;
  /** Host threads that may take kernel locks: the main thread plus Workers. */
  readonly maxTasks: number;
}

// ---------------------------------------------------------------------------
// header: identifies the buffer and echoes the configuration.

export const KERNEL_MAGIC = 0x5849_5031; // "XIP1"

export const HEADER = {
  magic: 0,
  ramFrames: 1,
  deviceFrames: 2,
  deviceMemmap: 3, // 0 or 1
  maxTasks: 4,
  /** DEBUG_* bits (src/sync/debug.ts): lockdep, schedule perturbation. */
  debug: 5,
  /** Word index of the tasks region, so src/sync finds held-lock stacks from the buffer alone. */
  tasksBase: 6,
  /**
   * Threads sleeping on some bit lock (src/sync/bitlock.ts). A bit unlock
   * calls Atomics.notify only when this is non-zero; notify costs ~60 ns.
   */
  bitWaiters: 7,
} as const;
export const HEADER_WORDS = 16;

// ---------------------------------------------------------------------------
// stats: machine-wide counters, 64-bit, indexed in BigInt64 units from
// `stats.base / 2` (the region is 2-word aligned like every region). They
// are bumped with Atomics.add and read by machine.stats().

export const STAT = {
  faultDax: 0,
  faultFileMinor: 1,
  faultFileMajor: 2,
  faultCow: 3,
  faultAnon: 4,
  faultZero: 5,
  copiedPagecacheFill: 6,
  copiedCow: 7,
  copiedRead: 8,
  copiedWrite: 9,
  /** Bytes copied by the block device's bio path, both directions. */
  bioReadBytes: 10,
  bioWriteBytes: 11,
  instret: 12,
} as const;
export const STAT_COUNT = 32; // room for the counters later layers add

// ---------------------------------------------------------------------------
// scratch: words with no owner, for the tests and benchmarks of src/sync and
// for the Machine's own one-off handshakes. Kernel code never uses it.

export const SCRATCH_WORDS = 4096;

// ---------------------------------------------------------------------------
// tasks: one record per host thread. The task id (Tid) is the record's index;
// Tid 0 is never used, so an owner word of 0 means "not held".
//
// The held-lock stack is how every lock records its holder, readers and bit
// locks included: src/sync pushes an entry before it takes a lock and pops it
// after it releases. When a Worker dies, the Machine walks the dead task's
// stack and releases what it held (see src/sync/recover.ts).

export const TASK = {
  /** TASK_FREE, TASK_LIVE or TASK_DEAD. */
  state: 0,
  /** Number of entries on the held-lock stack. */
  depth: 1,
  /** 1 while the task sleeps on a bit lock (counted in HEADER.bitWaiters), for recovery. */
  bitWait: 2,
  /** Set to 1 by the task's own thread when it notices it was killed (src/sync/task.ts). */
  killAck: 3,
  /** First held-lock entry. */
  held: 16,
} as const;

export const TASK_FREE = 0;
export const TASK_LIVE = 1;
export const TASK_DEAD = 2;

/**
 * A held-lock entry: the lock's word index and a packed descriptor.
 * Entry i starts at `held + i * HELD_ENTRY_WORDS`.
 */
export const HELD = {
  /** Word index of the lock (for a bit lock: of its flags word). */
  word: 0,
  /** class << 16 | kind << 8 | subclass << 4 | mode (see src/sync/held.ts). */
  desc: 1,
  /** HELD_ACQUIRING while the lock is being taken, HELD_HELD once it is. */
  state: 2,
  /** Bit number for bit locks, -1 otherwise. */
  bit: 3,
} as const;
export const HELD_ENTRY_WORDS = 4;
export const HELD_MAX = 56;
export const TASK_WORDS = TASK.held + HELD_MAX * HELD_ENTRY_WORDS; // 240

// ---------------------------------------------------------------------------
// memmap: struct page, one per frame that has one (`pfnValid`).
// RAM frames always do; device frames only with deviceMemmap. The record for
// pfn p is at `memmap.base + memmapIndex(p) * PAGE_WORDS`.

export const PAGE = {
  /** PG_* bits (src/mm/memmap.ts). PG_locked is a bit lock. */
  flags: 0,
  /** References: mappings that are refcounted, pins, the page cache. */
  refcount: 1,
  /** PTEs that map the frame. */
  mapcount: 2,
  /** Owning inode number for page-cache pages; 0 for anonymous or free. */
  mapping: 3,
  /** Page offset in the file (page-cache pages). */
  index: 4,
  /** Free-list or LRU link (a pfn, -1 for none). */
  next: 5,
  prev: 6,
  private: 7,
} as const;
export const PAGE_WORDS = 8;

// ---------------------------------------------------------------------------
// frame allocator: a bitmap of RAM frames, one bit per frame (1 = in use),
// plus counters. Words are allocated with Atomics, so no lock is needed.

export const FALLOC = {
  /** Frames currently free. */
  freeFrames: 0,
  /** High-water mark of frames in use. */
  peakUsed: 1,
  /** First bitmap word. */
  bitmap: 16,
} as const;

// ---------------------------------------------------------------------------

/** A placed region: `words` 32-bit words starting at word `base`. */
export interface Region {
  readonly name: string;
  readonly base: number;
  readonly words: number;
}

/** The computed placement of every kernel-table region. */
export interface KernelLayout {
  readonly config: LayoutConfig;
  readonly header: Region;
  readonly stats: Region;
  readonly scratch: Region;
  readonly tasks: Region;
  readonly memmap: Region;
  readonly falloc: Region;
  /** All regions in address order, for checks and dumps. */
  readonly regions: readonly Region[];
  /** Total size of the kernel-table buffer, in bytes. */
  readonly bytes: number;
}

/** Frames that have a struct page. */
export function memmapFrames(cfg: LayoutConfig): number {
  return cfg.ramFrames + (cfg.deviceMemmap ? cfg.deviceFrames : 0);
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Place every region for `cfg`. Pure: the same config gives the same layout. */
export function computeLayout(cfg: LayoutConfig): KernelLayout {
  const specs: [keyof Omit<KernelLayout, "config" | "regions" | "bytes">, number][] = [
    ["header", HEADER_WORDS],
    ["stats", STAT_COUNT * 2],
    ["scratch", SCRATCH_WORDS],
    ["tasks", cfg.maxTasks * TASK_WORDS],
    ["memmap", memmapFrames(cfg) * PAGE_WORDS],
    ["falloc", FALLOC.bitmap + Math.ceil(cfg.ramFrames / 32)],
  ];
  const placed: Record<string, Region> = {};
  const regions: Region[] = [];
  let next = 0;
  for (const [name, words] of specs) {
    const r = { name, base: next, words };
    placed[name] = r;
    regions.push(r);
    next = alignUp(next + words, REGION_ALIGN_WORDS);
  }
  return {
    config: cfg,
    header: placed.header!,
    stats: placed.stats!,
    scratch: placed.scratch!,
    tasks: placed.tasks!,
    memmap: placed.memmap!,
    falloc: placed.falloc!,
    regions,
    bytes: next * 4,
  };
}

/** Bytes of the physical-memory buffer: RAM then device. */
export function physBytes(cfg: LayoutConfig): number {
  return (cfg.ramFrames + cfg.deviceFrames) * PAGE_SIZE;
}

/** Word index of task `tid`'s record. */
export const taskBase = (l: KernelLayout, tid: number): number => l.tasks.base + tid * TASK_WORDS;

/**
 * Write the header of a fresh kernel-table buffer. Called once, by the thread
 * that creates the buffer, before any other thread sees it.
 */
export function writeHeader(k32: Int32Array, l: KernelLayout): void {
  const h = l.header.base;
  k32[h + HEADER.magic] = KERNEL_MAGIC;
  k32[h + HEADER.ramFrames] = l.config.ramFrames;
  k32[h + HEADER.deviceFrames] = l.config.deviceFrames;
  k32[h + HEADER.deviceMemmap] = l.config.deviceMemmap ? 1 : 0;
  k32[h + HEADER.maxTasks] = l.config.maxTasks;
  k32[h + HEADER.tasksBase] = l.tasks.base;
}

/**
 * Recompute the layout of a kernel-table buffer from its header, as a Worker
 * does when it is handed the buffer.
 *
 * @returns the layout, or null when the buffer does not start with a valid header
 */
export function readLayout(k32: Int32Array): KernelLayout | null {
  const h = 0; // the header region is always first
  if (k32.length < HEADER_WORDS || k32[h + HEADER.magic] !== KERNEL_MAGIC) return null;
  const l = computeLayout({
    ramFrames: k32[h + HEADER.ramFrames]!,
    deviceFrames: k32[h + HEADER.deviceFrames]!,
    deviceMemmap: k32[h + HEADER.deviceMemmap] === 1,
    maxTasks: k32[h + HEADER.maxTasks]!,
  });
  return l.bytes === k32.byteLength ? l : null;
}
