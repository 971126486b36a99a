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
 *  | icache  | in-memory inodes of the live xipfs (src/fs/icache.ts)        |
 *  | xipfs   | mount state, allocator counters, dirty-block bitmap          |
 *  | files   | open-file table and per-process fd tables                    |
 *  | procs   | process table: next pid, one record a task slot              |
 *  | daxent  | DAX entry locks, hashed by (inode, pgoff)                    |
 *  | daxpmd  | DAX PMD-range locks (rwsems), hashed by (inode, pgoff / 1024)|
 *  | devmap  | one bit a device frame: ever mapped into a process (stats)   |
 *  | flocks  | POSIX record locks (layout_locks.ts, src/fs/locks.ts)        |
 *  | hwpoison| one bit a device frame: poisoned (memory failure)            |
 *  | signal  | dispositions, pending sets, masks, queues (signal_layout.ts) |
 *  | pipes   | pipe records: ring pages, readers, writers (layout_pipe.ts)  |
 *  | fring   | fault ring and per-task counters for the live view           |
 *  | ipc     | shmem inodes, tmpfs entries, System V IPC (layout_ipc.ts)    |
 *  | console | fds 0-2: input rings and output state (layout_console.ts)    |
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

import { flocksWords } from "./layout_locks.ts";
import { signalWords } from "./signal_layout.ts";
import { ipcParts } from "./layout_ipc.ts";
import { PAGE_SIZE } from "./types.ts";
import { pipesWords } from "./layout_pipe.ts";
import { fringWords } from "./layout_fring.ts";
import { consoleWords } from "./layout_console.ts";

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
  /** DAX faults that mapped a 4 MiB megapage (src/mm/huge_memory.ts). */
  faultDaxPmd: 13,
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
  /**
   * Chaos testing (src/sync/held.ts chaosPoint): when non-zero, the number of
   * lock operations left before the task kills itself; 0 is off.
   */
  chaosAt: 4,
  /** With chaosAt: count only operations made while holding this LockClass (0: any). */
  chaosClass: 5,
  /**
   * What a task holds that no lock records, so that the Machine can put it
   * back if the task dies (src/sync/task.ts taskNote). fileRef: the open
   * file (index + 1) whose reference the running fd syscall holds (fdget).
   */
  fileRef: 6,
  /**
   * A shrinking truncate in flight (Linux keeps such an inode on the orphan
   * list): TRUNC_NONE or TRUNC_SIZE, and the inode-cache slot. A task that
   * dies between setting i_size and freeing the blocks past it leaves this
   * set, and the Machine finishes the truncate.
   */
  truncOp: 7,
  truncSlot: 11,
  /** First held-lock entry. */
  held: 16,
} as const;

/**
 * TLB shootdown words of a task (src/mm/tlb.ts, docs/ARCHITECTURE.md §5). A task
 * publishes where it runs so that code which weakens PTEs knows whom to
 * wait for. Written by the task itself, read by flushers.
 */
export const TASK_TLB = {
  /** TLB_MODE_IDLE, TLB_MODE_KERNEL or TLB_MODE_USER. */
  mode: 8,
  /** The mm slot the task runs (0: none). */
  mm: 9,
  /** The mm TLB generation the task has flushed to; also the ack futex word. */
  gen: 10,
} as const;

export const TASK_FREE = 0;
export const TASK_LIVE = 1;
export const TASK_DEAD = 2;

/** TASK.truncOp values. */
export const TRUNC_NONE = 0;
export const TRUNC_SIZE = 1;

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
// plus counters. Words are allocated with Atomics, so no lock is needed
// (src/mm/frame_alloc.ts). Frame p is bit p % 32 of bitmap word p / 32; the
// bits past the last RAM frame are set at boot so they are never handed out.

export const FALLOC = {
  /** Frames currently free (reserved first by allocFrame, so it never goes below 0). */
  freeFrames: 0,
  /** High-water mark of frames in use. */
  peakUsed: 1,
  /** First bitmap word; the counters above sit alone on their cache line. */
  bitmap: 16,
} as const;

/** Bitmap words for `cfg`'s RAM frames. */
export const fallocBitmapWords = (cfg: LayoutConfig): number => Math.ceil(cfg.ramFrames / 32);

// ---------------------------------------------------------------------------
// pcache: the page-cache index (src/fs/pagecache_index.ts). An open-addressing
// hash table keyed by (mapping, pgoff), linear probing, one slot per
// PCACHE_SLOT_WORDS words after a header. Lookups read it with Atomics and no
// lock; inserts, deletes and rebuilds take the mutex at PCACHE.lock.
//
// ```
//  +------------------------------+---------+---------+-----+---------------+
//  | header: lock, counters, seq  | slot 0  | slot 1  | ... | slot S-1      |
//  +------------------------------+---------+---------+-----+---------------+
//  slot: [ mapping | pgoff | pfn | (pad) ]   mapping 0 = empty, -1 = deleted
// ```
//
// S is a power of two, at least twice the RAM frames, so the live load factor
// never passes 1/2 (a page-cache page is a RAM frame). A zeroed region is an
// empty index with its lock free, so the region needs no boot-time setup.

export const PCACHE = {
  /** The index's writer lock, a src/sync mutex of up to PCACHE_LOCK_WORDS words. */
  lock: 0,
  /** Live entries (pages in the cache). */
  nrPages: 8,
  /** Slots holding a deletion marker. */
  tombstones: 9,
  /** Rebuild sequence: odd while the table is being rebuilt in place. */
  seq: 10,
  /** Next slot the eviction clock looks at. */
  clockHand: 11,
  /** Rebuilds done, for tests and stats. */
  rebuilds: 13,
  /** First slot. */
  slots: 16,
} as const;
export const PCACHE_LOCK_WORDS = 8;

export const PCACHE_SLOT = {
  /** Mapping id (> 0), PCACHE_EMPTY or PCACHE_TOMBSTONE. */
  mapping: 0,
  /** Page offset in the file. */
  pgoff: 1,
  /** RAM frame holding the page. */
  pfn: 2,
} as const;
export const PCACHE_SLOT_WORDS = 4;
export const PCACHE_EMPTY = 0;
export const PCACHE_TOMBSTONE = -1;

/** Slots of the page-cache index for `cfg`: a power of two >= 2 * RAM frames, at least 64. */
export function pcacheSlots(cfg: LayoutConfig): number {
  let n = 64;
  while (n < 2 * cfg.ramFrames) n *= 2;
  return n;
}
// mm global (src/mm/mm.ts): machine-wide virtual-memory state.

export const MMG = {
  /** The shared zero page's pfn + 1, written at boot by mmBoot (0 before). */
  zeroPfn: 0,
  /** Where the next VMA-slot search starts (a hint, races are harmless). */
  vmaHint: 1,
  /** Gauges, in frames: page-table pages, anonymous pages in use. */
  pagetableFrames: 2,
  anonFrames: 3,
  /** The [vdso] page's pfn + 1 (src/kernel/vdso.ts fills it), written at boot by mmBoot. */
  vdsoPfn: 4,
} as const;
export const MMG_WORDS = 16;

// ---------------------------------------------------------------------------
// mms: one address space (struct mm_struct) per slot. Slot 0 is never used,
// so an mm word of 0 means "none". There are as many slots as tasks.
//
// Guarded by: state/users atomics; vmaHead, vmaCount, brk*, mmapBase by
// mmapLock; PTEs (in RAM frames) by pageTableLock; counters are atomics.

export const MM = {
  /** MM_FREE, MM_LIVE or MM_DYING. */
  state: 0,
  /** References (mmget/mmput); the mm is torn down when it drops to 0. */
  users: 1,
  /** Pfn of the Sv32 root page-table page (what satp names). */
  root: 2,
  /** TLB generation, bumped by every flushTlbMm. */
  tlbGen: 3,
  /** rwsem (RWSEM_WORDS = 4 words). */
  mmapLock: 4,
  /** mutex (MUTEX_WORDS = 2 words). */
  pageTableLock: 8,
  /** First VMA slot of the sorted list (0: none). */
  vmaHead: 10,
  vmaCount: 11,
  brkStart: 12,
  brk: 13,
  /** Top of the area searched top-down for mmap without a fixed address. */
  mmapBase: 14,
  /** Resident pages, anonymous and file-backed; page-table frames. */
  rssAnon: 15,
  rssFile: 16,
  ptFrames: 17,
  /** Start of the [vdso] mapping (the sigreturn trampoline, src/kernel/vdso.ts); 0: none. */
  vdso: 18,
} as const;
export const MM_WORDS = 32;
export const MM_FREE = 0;
export const MM_LIVE = 1;
export const MM_DYING = 2;

// ---------------------------------------------------------------------------
// vmas: struct vm_area_struct slots, shared by all mms. Slot 0 is never used.
// A VMA covers [start, end) (page aligned, below TASK_SIZE, so the words
// stay non-negative). It sits on its mm's list sorted by start, and a file
// VMA also on its inode's i_mmap list (the rmap). Guarded by the owning mm's
// mmapLock, except the rmap links, which the inode's i_mmap lock guards.

export const VMA = {
  /** 0 free, 1 used (claimed with compareExchange). */
  used: 0,
  /** Owning mm slot. */
  mm: 1,
  start: 2,
  end: 3,
  /** VM_* bits (src/mm/vma.ts). */
  flags: 4,
  /** Inode-cache slot of the mapped file; 0 for anonymous memory. */
  file: 5,
  /** File offset of `start`, in pages. */
  pgoff: 6,
  /** VmOperations registry id (src/mm/vma.ts); 0 for anonymous. */
  ops: 7,
  /** mm list links (VMA slots, 0: none). */
  next: 8,
  prev: 9,
  /** i_mmap list links (VMA slots, 0: none). */
  rmapNext: 10,
  rmapPrev: 11,
} as const;
export const VMA_WORDS = 16;
/** VMA slots per task slot. */
export const VMAS_PER_TASK = 128;

// ---------------------------------------------------------------------------
// icache: the inode cache of the live xipfs (src/fs/icache.ts), Linux's
// inode hash plus the struct inodes themselves. One record (a slot) per
// inode in memory; the slot number is also the inode's page-cache mapping id,
// so slot 0 is never used (mapping 0 means "empty" in the page-cache index).
//
// ```
//  +---------------------------+--------+--------+-----+---------------------+
//  | header: lock, counters    | slot 1 | slot 2 | ... | slot ICACHE_SLOTS-1 |
//  +---------------------------+--------+--------+-----+---------------------+
//  slot: [ ino | count | state | flags | (pad) | i_mmap head | (pad) (pad) |
//          i_rwsem (4) | invalidate_lock (4) | block-map lock (2) |
//          i_mmap lock (2) | (pad to 32 words) ]
// ```
//
// There is no nrpages word: the page-cache index is one table for every
// mapping and is the only authority on which pages an inode has (the inode
// cache asks it when it evicts). ino, count and state change only under the
// header lock (INODE_CACHE);
// the locks inside a slot are src/sync primitives (all-zero = unlocked), so
// a zeroed region is an empty cache with no set-up.

export const ICACHE = {
  /** Mutex (INODE_CACHE class) guarding slot ino/count/state. */
  lock: 0,
  /** Slots in use (ACTIVE or FREEING; CACHED slots are counted too). */
  nrInodes: 4,
  /** Slots reclaimed from cached inodes (icache eviction), for tests. */
  reclaims: 5,
  /** First slot record (slot 0's place; slot 0 itself is never handed out). */
  slots: 16,
} as const;
/** Slots in the inode cache, slot 0 included (unused). */
export const ICACHE_SLOTS = 512;

/** Word offsets of an inode-cache slot (struct inode, reduced). */
export const ISLOT = {
  /** Inode number, 0 when the slot is free. */
  ino: 0,
  /** i_count: references (open files, mappings, calls in flight). */
  count: 1,
  /** ISTATE_*. */
  state: 2,
  /** IFLAG_* bits (S_DAX ...), fixed while the slot holds the inode. */
  flags: 3,
  /** Head of the VMAs mapping the inode (Linux i_mmap). Owned by src/mm; 0 = empty. */
  iMmap: 5,
  /** i_rwsem: write(), truncate, directory changes (I_RWSEM class). */
  iRwsem: 8,
  /** invalidate_lock: read in faults, write in truncate/punch-hole (INVALIDATE_LOCK). */
  invalidateLock: 12,
  /** The block-map lock: getBlock(create) and block freeing (BLOCK_MAP). */
  bmapLock: 16,
  /** Lock of the i_mmap list (I_MMAP). */
  iMmapLock: 18,
  /**
   * i_writecount: > 0 the opens for writing, < 0 the denials of exec
   * (src/fs/write_access.ts); 0 when neither.
   */
  writecount: 20,
} as const;
export const ISLOT_WORDS = 32;
export const ISTATE_FREE = 0;
/** In use: count > 0. */
export const ISTATE_ACTIVE = 1;
/** count 0, still linked and possibly with cached pages: reusable by iget or reclaim. */
export const ISTATE_CACHED = 2;
/** Being torn down (last iput of an unlinked inode, or reclaim): iget waits. */
export const ISTATE_FREEING = 3;
/** The inode is S_DAX: read/write/fault go straight to the device. */
export const IFLAG_DAX = 1 << 0;
/** A shmem inode (src/fs/shmem.ts): no blocks, never written back or evicted. */
export const IFLAG_SHMEM = 1 << 1;

// ---------------------------------------------------------------------------
// xipfs: the mounted filesystem's shared state (src/fs/xipfs_live.ts),
// Linux's struct super_block reduced, plus one dirty bit per device block.
//
// ```
//  +------------------------------------------------+--------------------------+
//  | header: mount state, dax mode, counters, rename | dirty bitmap: 1 bit per  |
//  | lock, metadata-cache generation                 | device frame (memdev)    |
//  +------------------------------------------------+--------------------------+
// ```
//
// A block's dirty bit is set whenever the block changes through the live
// filesystem (DAX writes, new blocks, metadata); fsync writes dirty blocks
// into the host image file and clears them. Bit b is bit b & 31 of word b >> 5.

export const XFS = {
  /** XFS_UNMOUNTED or XFS_MOUNTED. */
  state: 0,
  /** XFS_DAX_* mount option. */
  daxMode: 1,
  /** Blocks allocated since mount (getBlock, directories, indirect blocks). */
  allocs: 2,
  /** Blocks freed since mount. */
  frees: 3,
  /** Next-fit hint of the block allocator (a block number). */
  rotor: 4,
  /** Next-fit hint of the inode allocator (an inode number). */
  inoRotor: 5,
  /** 0 for a memory device, 1 for a bio-only device (metadata in the page cache). */
  bio: 6,
  /** Inodes freed since mount (last iput of unlinked inodes). */
  inodeFrees: 7,
  /** Mutex serialising cross-directory renames (Linux s_vfs_rename_mutex). */
  renameLock: 8,
  /** Mutex serialising fsync's write of dirty blocks into the host image. */
  syncLock: 10,
  /** Bumped whenever a metadata block leaves the metadata cache (bio devices). */
  metaGen: 12,
  /** First word of the dirty bitmap. */
  dirty: 16,
} as const;
export const XFS_UNMOUNTED = 0;
export const XFS_MOUNTED = 1;
export const XFS_DAX_NEVER = 0;
export const XFS_DAX_ALWAYS = 1;
export const XFS_DAX_INODE = 2;

/** Words of the dirty bitmap: one bit per device frame. */
export const xfsDirtyWords = (cfg: LayoutConfig): number => Math.ceil(cfg.deviceFrames / 32);
// files: the open-file table (Linux's struct file), shared machine-wide, and
// one fd table per process (Linux's files_struct), so that any thread, the
// Machine's main thread included, can close a dead process's files.
//
// ```
//  +--------------------+-------------------------------+---------------------------------+
//  | header: lock,      | open files: FILES_MAX records | fd tables: FDT_MAX tables of    |
//  | counters           | of FILE_WORDS                 | FDT_HEADER_WORDS + FDT_FDS words|
//  +--------------------+-------------------------------+---------------------------------+
//  open file: [ refcount | ino | islot | flags | pos (i64, 2 words) | (pad) (pad) ]
//  fd table:  [ lock (2) | inUse | cwd | nrOpen | nofile | nofileMax | (pad...) | fd 0 | ... ]
//  fd word:   0 = closed, else (open-file index + 1) | FDT_CLOEXEC_BIT
// ```
//
// An open file's refcount is 0 when the record is free. Its position is one
// 64-bit word (Atomics on the BigInt64 view), so it is never seen torn. The
// header lock (FILE_TABLE class) is held only to claim a free record; a fd
// table's own lock only to install or clear fd words (both are leaves).

export const FILES = {
  /** Mutex (src/sync, up to FILES_LOCK_WORDS) guarding the claim of a free open-file record. */
  lock: 0,
  /** Open-file records in use. */
  nrFiles: 8,
  /**
   * Last id handed to a procfs inode reference (src/fs/procfs.ts): the islot
   * of a procfs open file, unique machine-wide so any thread can key a
   * snapshot buffer by it.
   */
  procfsSeq: 9,
  /** An rwsem (4 words) standing in for the i_rwsem of every procfs inode. */
  procfsRwsem: 12,
  /** First open-file record; FILE_WORDS apart. Even, so pos stays 8-byte aligned. */
  records: 16,
} as const;
export const FILES_LOCK_WORDS = 8;

/** Word offsets of an open-file record (Linux's struct file). */
export const FILE = {
  /** References: fds (across all tables) naming it, plus in-flight calls. 0 = free. */
  refcount: 0,
  /** Inode number. */
  ino: 1,
  /** Inode-cache slot of the inode (the page-cache mapping id). */
  islot: 2,
  /** O_* flags of the open (access mode, O_APPEND, O_DIRECT, ...). */
  flags: 3,
  /** File position, an i64 over two words: BigInt64 index (base + pos) / 2. */
  pos: 4,
} as const;
export const FILE_WORDS = 8;
/** Open files machine-wide (Linux's file-max, small). */
export const FILES_MAX = 1024;

/** Word offsets of a fd table's header. */
export const FDT = {
  /** Mutex guarding the fd words of this table. */
  lock: 0,
  /** Users: the processes (threads, with CLONE_FILES) sharing the table; 0 = free. */
  inUse: 2,
  /** Inode number of the current directory. */
  cwd: 3,
  /** Open fds. */
  nrOpen: 4,
  /**
   * RLIMIT_NOFILE of the owning process, soft and hard: no fd at or above
   * the soft limit is installed (written under `lock`; at most FDT_FDS).
   */
  nofile: 5,
  nofileMax: 6,
  /** First fd word. */
  fds: 16,
} as const;
export const FDT_HEADER_WORDS = FDT.fds;
/** Fds per process (RLIMIT_NOFILE). */
export const FDT_FDS = 256;
export const FDT_WORDS = FDT_HEADER_WORDS + FDT_FDS;
/** Set in a fd word when the fd is close-on-exec. */
export const FDT_CLOEXEC_BIT = 1 << 30;
/** Fd tables: one per task, so every process a task can run has one. */
export const fdtMax = (cfg: LayoutConfig): number => cfg.maxTasks;

/** Words of the files region for `cfg`. */
export const filesWords = (cfg: LayoutConfig): number =>
  FILES.records + FILES_MAX * FILE_WORDS + fdtMax(cfg) * FDT_WORDS;

/** Word index of the first fd table in a files region at `base`. */
export const fdtBase = (filesBase: number, fdt: number): number =>
  filesBase + FILES.records + FILES_MAX * FILE_WORDS + fdt * FDT_WORDS;

/** Word index of open-file record `idx` in a files region at `base`. */
export const fileBase = (filesBase: number, idx: number): number =>
  filesBase + FILES.records + idx * FILE_WORDS;

// ---------------------------------------------------------------------------
// procs: the process table (src/kernel/proc.ts). A header, then one record
// per task slot: a process runs on exactly one task (its Worker), so the
// record of the process on task `tid` is slot `tid`. Slot 0 is never used.
// A slot is claimed with compareExchange, by the Machine at spawn or by a
// parent's Worker at fork, and freed once both the parent (wait) and the
// Machine (the Worker retired) are done with the zombie. The Worker fills
// in the mm and fd table and the exit status. Every word is accessed with
// Atomics: the main thread reads them while the Worker runs.

export const PROCS_HDR = {
  /** The last pid handed out (pids start at 1 and are never reused within a boot). */
  lastPid: 0,
  /** Processes alive (running or exiting, not yet reaped). */
  live: 1,
  /**
   * tasklist_lock (a src/sync mutex, TASK_TABLE class, MUTEX_WORDS): guards
   * the parent links (PROC.parent, PROC.parentSlot) and the moves to
   * ZOMBIE and REAPED, so that exit, reparenting and wait agree on who
   * reaps whom (src/kernel/exit.ts).
   */
  tasklistLock: 2,
  /**
   * The Machine's doorbell: a counter a Worker bumps (and notifies) after
   * it leaves a new child in a slot with PROC.start = START_PENDING. The
   * main thread waits on it with Atomics.waitAsync, never blocking.
   */
  doorbell: 4,
  /**
   * Tickets of the events Workers report to the Machine by message
   * (console output, exit), taken as they happen, so the Machine can
   * deliver them in that order (src/kernel/out_order.ts).
   */
  outSeq: 5,
} as const;
export const PROCS_HDR_WORDS = 16;

export const PROC = {
  /** PROC_FREE, PROC_RUNNING, PROC_EXITING or PROC_ZOMBIE. */
  state: 0,
  /** The guest-visible process id. */
  pid: 1,
  /** The task (Worker) that runs it; equals the slot. */
  tid: 2,
  /** Its mm slot (0: none yet, or already released). */
  mm: 3,
  /** Parent pid (0: the Machine). */
  parent: 4,
  /** exit_group status (0..255) once a zombie. */
  exitCode: 5,
  /** The signal that killed it (0: it exited). */
  exitSignal: 6,
  // Word 7 held a 31-bit pending-signal word; signals live in the `signal` region now.
  /** Index of its fd table in the vfs layer + 1 (0: none). */
  fdTable: 8,
  /** physical word index + 1 of the futex word it sleeps on (0: not in a futex wait). */
  futexWord: 9,
  /** Teardown progress, PROC_TD_* bits, so the Machine finishes what a dead Worker left. */
  teardown: 10,
  /** Slot of the parent (0: the Machine, also after reparenting). Under tasklistLock. */
  parentSlot: 11,
  /**
   * Thread-group id: the pid of the group's leader (getpid). A process's
   * first thread has tgid = pid; each thread (clone with CLONE_THREAD) has
   * a pid of its own (its tid) and its leader's tgid.
   */
  tgid: 12,
  /**
   * The slot of the CLONE_VFORK child this process waits for (0: none).
   * The child clears it, and notifies, when it execs or exits (Linux's
   * vfork_done completion).
   */
  vforkChild: 13,
  /** Process group id (inherited at fork; setpgid). */
  pgid: 14,
  /**
   * PROC_DONE_* bits: who is finished with a zombie's slot. The slot is
   * freed once the parent has reaped it (state PROC_REAPED) and the
   * Machine has retired the Worker that ran it (PROC_DONE_MACHINE).
   */
  done: 15,
  /** Session id (inherited at fork; setsid). */
  sid: 16,
  /** START_*: whether a cloned child still waits for the Machine to give it a Worker. */
  start: 17,
  /** Signal the parent gets when the process exits (clone's CSIGNAL byte; SIGCHLD after fork). */
  childSig: 18,
  /** Slot of the thread-group leader (the slot itself for a leader). */
  leader: 19,
  /** User address whose word is cleared and futex-woken at exit (CLONE_CHILD_CLEARTID). */
  clearTid: 20,
  /**
   * On a leader: GROUP_EXIT_SET | status once a thread called exit_group,
   * the status the whole group reports (Linux's group_exit_code).
   */
  groupExit: 22,
  /**
   * On a leader that exited while other threads of its group still run:
   * 1 until the last of them exits, which reports the group to the parent
   * (Linux's delay_group_leader); wait skips such a zombie meanwhile.
   */
  delay: 23,
  /** set_robust_list: the user address of the robust-list head, and its length. */
  robustHead: 24,
  robustLen: 25,
  /**
   * The task's PR_MCE_KILL policy (Linux's PF_MCE_PROCESS / PF_MCE_EARLY):
   * MCE_KILL_DEFAULT, MCE_KILL_LATE or MCE_KILL_EARLY; inherited at fork.
   */
  mceKill: 26,
  /**
   * The register frame a cloned child starts from, written by the parent
   * before it rings the doorbell: word 0 is the pc, words 1..31 x1..x31.
   */
  frame: 32,
} as const;
export const PROC_WORDS = 64;
export const PROC_FREE = 0;
export const PROC_RUNNING = 1;
export const PROC_EXITING = 2;
export const PROC_ZOMBIE = 3;
/** A zombie whose status the parent collected; the slot waits for PROC_DONE_MACHINE. */
export const PROC_REAPED = 4;
/** PROC.done: the Machine has retired the process's Worker (or torn it down itself). */
export const PROC_DONE_MACHINE = 1;
/** PROC.groupExit: set once exit_group fixed the group's status (in the low byte). */
export const GROUP_EXIT_SET = 0x100;
/** PROC.start: nothing to start (spawned by the Machine, or already started). */
export const START_NONE = 0;
/** PROC.start: a child made by clone, its frame written, waiting for a Worker. */
export const START_PENDING = 1;
/** PROC.start: the Machine took the child and is giving it a Worker. */
export const START_TAKEN = 2;
/** Teardown steps done (PROC.teardown): the mm was released; the files were closed. */
export const PROC_TD_MM = 1;
export const PROC_TD_FILES = 2;

/** PROC.mceKill: the system default (vm.memory_failure_early_kill = 0: late). */
export const MCE_KILL_DEFAULT = 0;
/** PROC.mceKill: killed when it touches poisoned memory (BUS_MCEERR_AR). */
export const MCE_KILL_LATE = 1;
/** PROC.mceKill: killed as soon as memory it maps is poisoned (BUS_MCEERR_AO). */
export const MCE_KILL_EARLY = 2;

/** Word index of process slot `slot`'s record. */
export const procBase = (l: KernelLayout, slot: number): number =>
  l.procs.base + PROCS_HDR_WORDS + slot * PROC_WORDS;

// ---------------------------------------------------------------------------
// daxent: DAX entry locks (src/fs/dax_fault.ts), Linux's locked DAX entries
// in i_pages reduced to their lock. One word per hash bucket of (inode slot,
// pgoff); bit 0 is a src/sync bit lock (LockClass.DAX_ENTRY). Two entries
// that hash alike share a lock: that only over-serialises, it cannot
// deadlock, because a task never holds two DAX entries at once.

/** Entry-lock words (a power of two). */
export const DAXENT_WORDS = 1024;
/** The lock bit in an entry word. */
export const DAXENT_LOCK_BIT = 0;

// ---------------------------------------------------------------------------
// daxpmd: the locks that make a DAX entry cover a 4 MiB range, as Linux's
// xarray holds either one PMD entry or PTE entries for it
// (src/fs/dax_pmd.ts). One rwsem (RWSEM_WORDS = 4 words) per hash bucket
// of (inode slot, pgoff >> 10), LockClass.DAX_PMD: a 4 KiB fault holds its
// range's lock for reading around its DAX entry, a megapage fault holds it
// for writing, so the two never work on one range at once. Two ranges that
// hash alike only serialise each other; a task holds at most one.

/** PMD-range locks (a power of two). */
export const DAXPMD_LOCKS = 256;
/** Words per PMD-range lock (src/sync rwsem). */
export const DAXPMD_LOCK_WORDS = 4;

// ---------------------------------------------------------------------------
// devmap: one bit per device frame, set (Atomics.or, never cleared) when a
// PTE first maps that frame into a process: the device frames a run ever
// mapped (stats `device.mapped_frames`, docs/stats.schema.json), whoever unmapped or
// tore them down later. Frame ramFrames + d is bit d & 31 of word d >> 5.

/** Words of the devmap bitmap: one bit per device frame. */
export const devmapWords = (cfg: LayoutConfig): number => Math.ceil(cfg.deviceFrames / 32);

// ---------------------------------------------------------------------------
// hwpoison: the memory device's poisoned blocks (src/hw/badblocks.ts),
// Linux's badblocks of a pmem namespace: one bit per device block, set by
// memory failure (machine.poison, madvise(MADV_HWPOISON), a list loaded at
// mount) and cleared by a write of the whole block. The bits change under
// `lock` (a src/sync mutex, a leaf), which also guards the copy of the list
// xipfs keeps in its image (XPOISON); tests read them with Atomics.
//
// ```
//  +--------------------------------+-----------------------------------+
//  | lock (2) | count | (pad)        | bitmap: 1 bit per device frame    |
//  +--------------------------------+-----------------------------------+
// ```

export const HWPOISON = {
  /** Mutex guarding the bitmap and the image's list. */
  lock: 0,
  /** Poisoned blocks (the bitmap's population count). */
  count: 4,
  /** First bitmap word: block b is bit b & 31 of word b >> 5. */
  bitmap: 16,
} as const;

// ---------------------------------------------------------------------------

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
  /** Machine-wide 64-bit counters (STAT). */
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
  /** The mounted xipfs's shared state (XFS). */
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
  /** POSIX record locks (FLOCKS, FLOCK in layout_locks.ts). */
  readonly flocks: Region;
  /** Poisoned device blocks (HWPOISON). */
  readonly hwpoison: Region;
  /** Signal state: sighands, groups, tasks, the real-time queue (signal_layout.ts). */
  readonly signal: Region;
  /** Pipe records: ring pages, readers, writers (layout_pipe.ts). */
  readonly pipes: Region;
  /** The fault ring and per-task counters (layout_fring.ts). */
  readonly fring: Region;
  /** Shared memory and IPC: shmem inodes, tmpfs, System V IPC (layout_ipc.ts). */
  readonly ipc: Region;
  /** The consoles behind fds 0-2 (layout_console.ts). */
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

/** Place every region for `cfg`. Pure: the same config gives the same layout. */
export function computeLayout(cfg: LayoutConfig): KernelLayout {
  const specs: [keyof Omit<KernelLayout, "config" | "regions" | "bytes">, number][] = [
    ["header", HEADER_WORDS],
    ["stats", STAT_COUNT * 2],
    ["scratch", SCRATCH_WORDS],
    ["tasks", cfg.maxTasks * TASK_WORDS],
    ["memmap", memmapFrames(cfg) * PAGE_WORDS],
    ["falloc", FALLOC.bitmap + fallocBitmapWords(cfg)],
    ["pcache", PCACHE.slots + pcacheSlots(cfg) * PCACHE_SLOT_WORDS],
    ["mmg", MMG_WORDS],
    ["mms", cfg.maxTasks * MM_WORDS],
    ["vmas", cfg.maxTasks * VMAS_PER_TASK * VMA_WORDS],
    ["icache", ICACHE.slots + ICACHE_SLOTS * ISLOT_WORDS],
    ["xipfs", XFS.dirty + xfsDirtyWords(cfg)],
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

// ===========================================================================
// xipfs: the on-device format of the memory device (ext2-like).
//
// Unlike the kernel tables above, the device is addressed in bytes and in
// 4 KiB blocks (block size = PAGE_SIZE, as DAX requires: a block is a frame,
// so a file block can be mapped into a process as it is). Every multi-byte
// field is little-endian; every field offset below is a multiple of 4 so that
// an Int32Array over the device may index `byteOffset / 4` as well.
//
// ```
//  block 0     1                 b+1               i+1              t+1                 N
//  +-------+-----------------+------------------+-----------------+--------------------+
//  | super | block bitmap    | inode bitmap     | inode table     | data blocks        |
//  | block | b blocks, 1 bit | i blocks, 1 bit  | t blocks,       | files, directories,|
//  |       | per block,      | per inode,       | 32 inodes of    | symlink targets,   |
//  |       | 1 = in use      | 1 = in use       | 128 B per block | indirect blocks    |
//  +-------+-----------------+------------------+-----------------+--------------------+
//  block number 0 is the superblock, so a block pointer of 0 means "hole"
// ```
//
// Inode numbers start at 1 (XIPFS_ROOT_INO is the root directory); inode n
// lives in slot n-1 of the table and owns bit n-1 of the inode bitmap, so an
// inode number of 0 can mean "no inode" in directory entries.

/** "XIPF", little-endian in the first four bytes of block 0. */
export const XIPFS_MAGIC = 0x4650_4958;
export const XIPFS_VERSION = 1;
export const XIPFS_BLOCK_SIZE = 4096; // bytes, = PAGE_SIZE
export const XIPFS_ROOT_INO = 1;

/**
 * Superblock fields, byte offsets into block 0. The fields before `checksum`
 * describe the geometry and never change after mkfs; `checksum` is a CRC-32
 * over bytes [0, checksum). The fields after it change while the filesystem
 * is mounted (counters, state) and are not covered, so that a Worker killed
 * between an allocation and a sync cannot leave an image that fails to mount;
 * fsck recounts them instead (ext2 treats its free counts as hints too).
 */
export const XSUPER = {
  magic: 0,
  version: 4,
  /** Bytes per block: XIPFS_BLOCK_SIZE. */
  blockSize: 8,
  /** Blocks in the filesystem, metadata included. */
  totalBlocks: 12,
  /** Inodes in the table (numbers 1..inodeCount). */
  inodeCount: 16,
  /** Bytes per inode record: XIPFS_INODE_SIZE. */
  inodeSize: 20,
  blockBitmapStart: 24, // block number
  blockBitmapBlocks: 28,
  inodeBitmapStart: 32, // block number
  inodeBitmapBlocks: 36,
  inodeTableStart: 40, // block number
  inodeTableBlocks: 44,
  /** First block that may hold file data. */
  dataStart: 48,
  rootIno: 52,
  /** Seconds since the epoch at mkfs. */
  createdAt: 56,
  /** CRC-32 (IEEE) of bytes [0, checksum). */
  checksum: 60,
  // --- dynamic fields, not covered by the checksum ---
  freeBlocks: 64,
  freeInodes: 68,
  /** XIPFS_STATE_CLEAN or XIPFS_STATE_DIRTY (set at mount, cleared at unmount). */
  state: 72,
  mountCount: 76,
  /** Seconds since the epoch of the last write of the superblock. */
  writeTime: 80,
} as const;
/** Bytes of block 0 the superblock uses; the rest of the block is zero. */
export const XSUPER_BYTES = 128;

/**
 * The device's poison list, kept in block 0 past the superblock so that it
 * persists with the image (src/fs/xipfs_poison.ts): a magic (0 when there
 * is no poison), the number of runs, then XPOISON_MAX_RUNS runs of
 * (first block u32, blocks u32). Not covered by the superblock checksum.
 */
export const XPOISON = {
  magic: 2048,
  count: 2052,
  runs: 2056,
} as const;
/** "XPSN", little-endian. */
export const XPOISON_MAGIC = 0x4e53_5058;
/** Runs that fit between XPOISON.runs and the end of block 0. */
export const XPOISON_MAX_RUNS = 255;
export const XIPFS_STATE_CLEAN = 1;
export const XIPFS_STATE_DIRTY = 2;

/**
 * Inode record fields, byte offsets into a XIPFS_INODE_SIZE record.
 * `block` holds XIPFS_NDIR direct pointers, then `indirect` (a block of 1024
 * pointers) and `dindirect` (a block of 1024 indirect blocks): 12 + 1024 +
 * 1024² blocks, about 4 GiB. A symlink whose target fits in the 56 bytes
 * from `block` to `dindirect` inclusive stores it there (a "fast symlink",
 * as ext2 does); a longer target lives in one data block at `block[0]`.
 */
export const XINODE = {
  /** S_IFMT type bits and permission bits, as Linux's st_mode. 0 = free. */
  mode: 0,
  uid: 4,
  gid: 8,
  /** Hard links: directory entries naming the inode (for directories, + "." + each child's ".."). */
  links: 12,
  /** File size in bytes, low and high 32 bits. */
  sizeLo: 16,
  sizeHi: 20,
  atime: 24, // seconds
  mtime: 28,
  ctime: 32,
  /** XIP_FL_* bits. */
  flags: 36,
  /** Blocks allocated to the inode, indirect blocks included (st_blocks / 8). */
  blocks: 40,
  generation: 44,
  /** XIPFS_NDIR direct block pointers, 4 bytes each. */
  block: 48,
  indirect: 96,
  dindirect: 100,
  /**
   * Extent-size hint, in blocks (XFS's di_extsize, FS_IOC_FSSETXATTR's
   * fsx_extsize / 4096): 0 for none, else a power of two up to 1024. A
   * hole in a wholly unallocated extent is filled by allocating the whole
   * extent at once, aligned so that its first frame is a multiple of the
   * extent size (src/fs/getblock.ts): 1024 gives 4 MiB megapages.
   */
  extsize: 104,
} as const;
export const XIPFS_INODE_SIZE = 128; // bytes
export const XIPFS_NDIR = 12;
/** Block pointers per indirect block. */
export const XIPFS_PTRS_PER_BLOCK = XIPFS_BLOCK_SIZE / 4;
/** Longest symlink target stored inline in the inode. */
export const XIPFS_SYMLINK_INLINE_MAX = XINODE.dindirect + 4 - XINODE.block; // 56 bytes
/** The inode is DAX-capable: mapped straight from the device under dax=inode (FS_DAX_FL). */
export const XIP_FL_DAX = 0x0200_0000;
/**
 * The inode may own blocks past i_size (fallocate KEEP_SIZE, extent
 * preallocation), as ext4's EXT4_EOFBLOCKS_FL: fsck accepts them.
 */
export const XIP_FL_EOFBLOCKS = 0x0040_0000;

/**
 * Directory entry, at any 4-byte-aligned offset of a directory block.
 * Entries never cross a block; the last entry of a block extends its recLen
 * to the end of the block. A removed entry is merged into the previous one's
 * recLen, or, when it is first in its block, keeps its recLen with ino = 0.
 *
 * ```
 *  0        4         6         7        8
 * +--------+---------+---------+--------+------------------------+
 * |  ino   | recLen  | nameLen |  type  | name (nameLen bytes)   |
 * |  u32   |  u16    |   u8    |   u8   | padded to 4 bytes      |
 * +--------+---------+---------+--------+------------------------+
 * ```
 */
export const XDIRENT = {
  ino: 0,
  recLen: 4,
  nameLen: 6,
  type: 7,
  name: 8,
} as const;
export const XIPFS_NAME_MAX = 255;
/** Directory entry types (ext2's EXT2_FT_*). */
export const XFT_UNKNOWN = 0;
export const XFT_REG = 1;
export const XFT_DIR = 2;
/** A socket's name (bind on a path). */
export const XFT_SOCK = 6;
export const XFT_SYMLINK = 7;

/** A run of blocks on the device. */
export interface BlockRegion {
  readonly name: string;
  /** First block. */
  readonly start: number;
  /** Length in blocks. */
  readonly blocks: number;
}

/** Where mkfs puts each region of an xipfs image. */
export interface XipfsLayout {
  readonly totalBlocks: number;
  readonly inodeCount: number;
  readonly superblock: BlockRegion;
  readonly blockBitmap: BlockRegion;
  readonly inodeBitmap: BlockRegion;
  readonly inodeTable: BlockRegion;
  readonly data: BlockRegion;
  /** All regions in block order. */
  readonly regions: readonly BlockRegion[];
}

const XIPFS_BITS_PER_BLOCK = XIPFS_BLOCK_SIZE * 8;

/**
 * Place the regions of an image of `totalBlocks` blocks with `inodeCount`
 * inodes. Pure. The data region may be empty (or "negative": blocks < 1)
 * when the device is too small; mkfs refuses such a layout.
 */
export function computeXipfsLayout(totalBlocks: number, inodeCount: number): XipfsLayout {
  const bbBlocks = Math.ceil(totalBlocks / XIPFS_BITS_PER_BLOCK);
  const ibBlocks = Math.ceil(inodeCount / XIPFS_BITS_PER_BLOCK);
  const itBlocks = Math.ceil((inodeCount * XIPFS_INODE_SIZE) / XIPFS_BLOCK_SIZE);
  const superblock = { name: "superblock", start: 0, blocks: 1 };
  const blockBitmap = { name: "block bitmap", start: 1, blocks: bbBlocks };
  const inodeBitmap = { name: "inode bitmap", start: 1 + bbBlocks, blocks: ibBlocks };
  const inodeTable = { name: "inode table", start: inodeBitmap.start + ibBlocks, blocks: itBlocks };
  const dataStart = inodeTable.start + itBlocks;
  const data = { name: "data", start: dataStart, blocks: totalBlocks - dataStart };
  return {
    totalBlocks,
    inodeCount,
    superblock,
    blockBitmap,
    inodeBitmap,
    inodeTable,
    data,
    regions: [superblock, blockBitmap, inodeBitmap, inodeTable, data],
  };
}
