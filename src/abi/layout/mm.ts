/**
 * mm globals, mm_struct records and vm_area_struct slots.
 * See mod.ts for the map of every region.
 *
 * @module
 */

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
