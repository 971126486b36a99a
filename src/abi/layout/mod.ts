/**
 * Every shared-memory layout of xip, declared once.
 *
 * There are two SharedArrayBuffers.
 *
 * Physical memory, addressed in bytes (`PhysAddr`) and frames (`Pfn`). RAM
 * and the memory device are two regions of one buffer, so that the hart's
 * TLB hit is a single typed-array access whichever kind of frame a PTE names.
 * The buffer is a shared `WebAssembly.Memory` (at most 4 GiB, wasm32), so
 * that translated guest code (src/hw/jit) addresses it as its memory 0:
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
 * Kernel tables, addressed in 32-bit words (an index into an Int32Array),
 * regions in address order:
 *
 * ```
 *  word 0
 *  +---------+--------------------------------------------------------------+
 *  | header  | magic, configuration echo, debug bits, tasks base            |
 *  | stats   | machine-wide 64-bit counters (faults, bytes copied, instret) |
 *  | scratch | words with no owner, for tests and benchmarks of src/sync    |
 *  | tasks   | one record a host thread: held-lock stack, TLB mode and gen  |
 *  | memmap  | one struct page a RAM frame (+ a device frame, memmap=device)|
 *  | falloc  | frame allocator: free count, peak, bitmap                    |
 *  | pcache  | page-cache index, (mapping, pgoff) -> RAM pfn (src/fs)       |
 *  | mmg     | mm globals: zero page, VMA hint, gauges (src/mm/mm.ts)       |
 *  | mms     | one mm_struct a task slot: root, locks, TLB gen, VMA list    |
 *  | vmas    | vm_area_struct slots shared by all mms (src/mm/vma.ts)       |
 *  | icache  | in-memory inodes of the live xipfs (src/fs/xipfs/icache.ts)        |
 *  | xipfs   | mount state, allocator counters, dirty-block bitmap          |
 *  | files   | open-file table and per-process fd tables                    |
 *  | procs   | process table: next pid, one record a task slot              |
 *  | daxent  | DAX entry locks, hashed by (inode, pgoff)                    |
 *  | daxpmd  | DAX PMD-range locks (rwsems), hashed by (inode, pgoff / 1024)|
 *  | devmap  | one bit a device frame: ever mapped into a process (stats)   |
 *  | flocks  | POSIX record locks (layout/locks.ts, src/fs/locks.ts)        |
 *  | hwpoison| one bit a device frame: poisoned (memory failure)            |
 *  | signal  | dispositions, pending sets, masks, queues (layout/signal.ts) |
 *  | pipes   | pipe records: ring pages, readers, writers (layout/pipe.ts)  |
 *  | fring   | fault ring and per-task counters for the live view           |
 *  | ipc     | shmem inodes, tmpfs entries, System V IPC (layout/ipc.ts)    |
 *  | console | fds 0-2: input rings and output state (layout/console.ts)    |
 *  +---------+--------------------------------------------------------------+
 * ```
 *
 * Each region starts on a 64-byte boundary (16 words) so that unrelated
 * regions never share a cache line. Records are described by `as const`
 * objects of word offsets; the code indexes `base + FIELD.name`, never a
 * bare number.
 *
 * @module
 */

import { type LayoutConfig, REGION_ALIGN_WORDS } from "./config.ts";
import { HEADER, HEADER_WORDS, KERNEL_MAGIC, SCRATCH_WORDS } from "./header.ts";
import { VMSTAT_COUNT } from "./vmstat.ts";
import { TASK_WORDS } from "./task.ts";
import { FALLOC, fallocBitmapWords, PAGE_WORDS } from "./memmap.ts";
import { PCACHE, PCACHE_SLOT_WORDS, pcacheSlots } from "./pcache.ts";
import { MM_WORDS, MMG_WORDS, VMA_WORDS, VMAS_PER_TASK } from "./mm.ts";
import { ICACHE, ICACHE_SLOTS, ISLOT_WORDS } from "./icache.ts";
import { SB_INFO, sbInfoDirtyWords } from "./sb_info.ts";
import { filesWords } from "./files.ts";
import { PROC_WORDS, PROCS_HDR_WORDS } from "./proc.ts";
import { DAXENT_WORDS, DAXPMD_LOCK_WORDS, DAXPMD_LOCKS, devmapWords } from "./dax.ts";
import { HWPOISON } from "./hwpoison.ts";
import { flocksWords } from "./locks.ts";
import { signalWords } from "./signal.ts";
import { ipcParts } from "./ipc.ts";
import { PAGE_SIZE } from "../types.ts";
import { pipesWords } from "./pipe.ts";
import { fringWords } from "./fring.ts";
import { consoleWords } from "./console.ts";
import { KernelPanic } from "../panic.ts";
import { LOCKED_RECORDS } from "./lock_fields.ts";
import { lockWordProblems } from "./lock_words.ts";

export * from "./config.ts";
export * from "./header.ts";
export * from "./vmstat.ts";
export * from "./task.ts";
export * from "./memmap.ts";
export * from "./pcache.ts";
export * from "./mm.ts";
export * from "./icache.ts";
export * from "./sb_info.ts";
export * from "./files.ts";
export * from "./proc.ts";
export * from "./dax.ts";
export * from "./hwpoison.ts";
export * from "./xipfs.ts";

/** A placed region: `words` 32-bit words starting at word `base`. */
export interface Region {
  /** The region's name, as in the map at the top of this module. */
  readonly name: string;
  /** Index of its first word. */
  readonly base: number;
  /** Its size in 32-bit words. */
  readonly words: number;
}

/** The computed placement of every kernel-table region. */
export interface KernelLayout {
  /** What the layout was computed for. */
  readonly config: LayoutConfig;
  /** Magic, configuration echo, debug bits. */
  readonly header: Region;
  /** Machine-wide 64-bit counters (VMSTAT). */
  readonly stats: Region;
  /** Words with no owner, for tests and benchmarks. */
  readonly scratch: Region;
  /** One record per host thread (TASK): held-lock stack, TLB words. */
  readonly tasks: Region;
  /** One struct page per RAM frame (PAGE), and per device frame with a device memmap. */
  readonly memmap: Region;
  /** The frame allocator (FALLOC). */
  readonly falloc: Region;
  /** The page-cache index (PCACHE). */
  readonly pcache: Region;
  /** mm globals (MMG). */
  readonly mmg: Region;
  /** One mm_struct per task slot (MM). */
  readonly mms: Region;
  /** vm_area_struct slots (VMA). */
  readonly vmas: Region;
  /** In-memory inodes (ICACHE, ISLOT). */
  readonly icache: Region;
  /** The mounted xipfs's shared state (SB_INFO). */
  readonly xipfs: Region;
  /** Open files and fd tables (FILES, FILE, FDT). */
  readonly files: Region;
  /** The process table (PROCS_HDR, PROC). */
  readonly procs: Region;
  /** DAX entry locks (DAXENT). */
  readonly daxent: Region;
  /** DAX PMD-range locks (rwsems). */
  readonly daxpmd: Region;
  /** Device frames ever mapped, one bit each. */
  readonly devmap: Region;
  /** POSIX record locks (FLOCKS, FLOCK in layout/locks.ts). */
  readonly flocks: Region;
  /** Poisoned device blocks (HWPOISON). */
  readonly hwpoison: Region;
  /** Signal state: sighands, groups, tasks, the real-time queue (layout/signal.ts). */
  readonly signal: Region;
  /** Pipe records: ring pages, readers, writers (layout/pipe.ts). */
  readonly pipes: Region;
  /** The fault ring and per-task counters (layout/fring.ts). */
  readonly fring: Region;
  /** Shared memory and IPC: shmem inodes, tmpfs, System V IPC (layout/ipc.ts). */
  readonly ipc: Region;
  /** The consoles behind fds 0-2 (layout/console.ts). */
  readonly console: Region;
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

let lockWordsChecked = false;

/**
 * Every lock field of every record has its lock's words to itself
 * (lock_words.ts); checked at the first layout computation in each thread.
 *
 * @throws KernelPanic naming each lock field that does not fit
 */
function checkLockWords(): void {
  if (lockWordsChecked) return;
  const problems = lockWordProblems(LOCKED_RECORDS);
  if (problems.length > 0) throw new KernelPanic("computeLayout", problems.join("; "));
  lockWordsChecked = true;
}

/**
 * Place every region for `cfg`. Pure: the same config gives the same layout.
 *
 * @throws KernelPanic when a record's lock field is too small for its lock (a broken build)
 */
export function computeLayout(cfg: LayoutConfig): KernelLayout {
  checkLockWords();
  const specs: [keyof Omit<KernelLayout, "config" | "regions" | "bytes">, number][] = [
    ["header", HEADER_WORDS],
    ["stats", VMSTAT_COUNT * 2],
    ["scratch", SCRATCH_WORDS],
    ["tasks", cfg.maxTasks * TASK_WORDS],
    ["memmap", memmapFrames(cfg) * PAGE_WORDS],
    ["falloc", FALLOC.bitmap + fallocBitmapWords(cfg)],
    ["pcache", PCACHE.slots + pcacheSlots(cfg) * PCACHE_SLOT_WORDS],
    ["mmg", MMG_WORDS],
    ["mms", cfg.maxTasks * MM_WORDS],
    ["vmas", cfg.maxTasks * VMAS_PER_TASK * VMA_WORDS],
    ["icache", ICACHE.slots + ICACHE_SLOTS * ISLOT_WORDS],
    ["xipfs", SB_INFO.dirty + sbInfoDirtyWords(cfg)],
    ["files", filesWords(cfg)],
    ["procs", PROCS_HDR_WORDS + cfg.maxTasks * PROC_WORDS],
    ["daxent", DAXENT_WORDS],
    ["daxpmd", DAXPMD_LOCKS * DAXPMD_LOCK_WORDS],
    ["devmap", devmapWords(cfg)],
    ["flocks", flocksWords(cfg)],
    ["hwpoison", HWPOISON.bitmap + devmapWords(cfg)],
    ["signal", signalWords(cfg)],
    ["pipes", pipesWords()],
    ["fring", fringWords(cfg)],
    ["ipc", ipcParts(cfg, ICACHE_SLOTS).words],
    ["console", consoleWords(cfg.maxTasks)],
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
    pcache: placed.pcache!,
    mmg: placed.mmg!,
    mms: placed.mms!,
    vmas: placed.vmas!,
    icache: placed.icache!,
    xipfs: placed.xipfs!,
    files: placed.files!,
    procs: placed.procs!,
    daxent: placed.daxent!,
    daxpmd: placed.daxpmd!,
    devmap: placed.devmap!,
    flocks: placed.flocks!,
    hwpoison: placed.hwpoison!,
    signal: placed.signal!,
    pipes: placed.pipes!,
    fring: placed.fring!,
    ipc: placed.ipc!,
    console: placed.console!,
    regions,
    bytes: next * 4,
  };
}

/** Bytes in a WebAssembly memory page: physical memory is one shared wasm memory. */
export const WASM_PAGE_BYTES = 65536;

/**
 * Bytes of the physical-memory buffer: RAM then device, rounded up to whole
 * 64 KiB WebAssembly pages (src/hw/memory.ts). The tail past the last device
 * frame, under 64 KiB, is never a frame: no pfn names it.
 */
export function physBytes(cfg: LayoutConfig): number {
  const bytes = (cfg.ramFrames + cfg.deviceFrames) * PAGE_SIZE;
  return Math.ceil(bytes / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
}

/** Word index of mm slot `mm`'s record. */
export const mmBase = (l: KernelLayout, mm: number): number => l.mms.base + mm * MM_WORDS;
/** Word index of VMA slot `v`'s record. */
export const vmaBase = (l: KernelLayout, v: number): number => l.vmas.base + v * VMA_WORDS;

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
