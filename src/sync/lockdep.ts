/**
 * Lock classes and the one lock order of xip (docs/ARCHITECTURE.md §3), with the check
 * that enforces it when DEBUG_LOCKDEP is set.
 *
 * Every lock is taken with a class. A task may take a lock only if its class
 * ranks strictly above every class it already holds; two classes with the
 * same rank may never be held together. That rule is simpler than Linux
 * lockdep, which learns the order from what it sees: here the order is
 * declared once, below, and any acquisition against it panics at once, on
 * the first run, even when no other thread is there to deadlock with.
 *
 * Two locks of the same class (rename locking two inodes) are allowed when
 * the caller gives each a distinct, increasing `subclass`, as Linux's
 * mutex_lock_nested and I_MUTEX_PARENT/I_MUTEX_CHILD do. The caller then
 * promises an order among the instances (e.g. by inode number).
 *
 * Trylocks are not checked (they cannot deadlock, they fail) but they are
 * recorded, and later blocking acquisitions are checked against them, as
 * in Linux lockdep.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";

/** Lock classes. Numeric ids are arbitrary; order comes from LOCK_ORDER. */
export enum LockClass {
  /** No class: never order-checked. Kernel code should always pass a class. */
  NONE = 0,
  I_RWSEM,
  MMAP_LOCK,
  INVALIDATE_LOCK,
  DAX_ENTRY,
  PAGE_LOCK,
  BLOCK_MAP,
  BLOCK_ALLOC,
  I_MMAP,
  PAGE_TABLE,
  INODE_CACHE,
  PAGE_CACHE,
  FILE_TABLE,
  TASK_TABLE,
  PIPE,
  FRAME_ALLOC,
  TEST_A,
  TEST_B,
  TEST_C,
  SIGHAND,
  /** A DAX PMD-range lock (src/fs/dax_pmd.ts): read around a 4 KiB DAX entry, write for a megapage. */
  DAX_PMD,
  TMPFS,
  IPC,
  SOCK,
  /** A futex hash bucket (src/kernel/futex_q.ts, Linux's futex_hash_bucket lock). */
  FUTEX,
}

/**
 * The lock order, outermost first. Classes on one line share a rank and may
 * not nest in each other.
 *
 * - I_RWSEM .. FRAME_ALLOC follow docs/ARCHITECTURE.md §3 (mm/rmap.c, simplified).
 * - DAX_PMD: the 4 MiB range of a DAX fault, held around its DAX entry
 *   (read) or alone (write, a megapage fault), as one xarray entry covers
 *   a PMD range in Linux.
 * - DAX_ENTRY | PAGE_LOCK: a fault locks either the DAX entry or the page
 *   of one (inode, pgoff), never both.
 * - INODE_CACHE (the in-memory inode table, Linux's inode_hash_lock) comes
 *   after PAGE_TABLE: a struct page names its inode by number (PAGE.mapping),
 *   so rmap and dirtying code that holds a page lock, i_mmap or a page-table
 *   lock must be able to look the inode up. Nothing but PAGE_CACHE and the
 *   frame allocator may be taken under it.
 * - PAGE_CACHE (the page-cache / DAX-entry index, Linux's i_pages xa_lock)
 *   is taken under the page lock when a locked page is inserted (as
 *   filemap_add_folio does) and under the page-table lock when a PTE zap
 *   dirties a page. A DAX entry or page is locked *after* the index lock is
 *   dropped: look up under PAGE_CACHE, bitTryLock, and if busy drop PAGE_CACHE
 *   and waitOnBit, as fs/dax.c's wait_entry_unlocked does.
 * - FILE_TABLE, TASK_TABLE and PIPE are leaves (Linux's files->file_lock,
 *   tasklist_lock and pipe->mutex): held briefly to find or install a slot
 *   or move bytes through a pipe's ring, never across a call into mm or fs
 *   (a pipe copies to a kernel buffer, and allocates its pages with the
 *   lock dropped), and never together. They may be taken anywhere.
 * - SIGHAND (Linux's sighand->siglock) nests inside TASK_TABLE, as siglock
 *   nests in tasklist_lock: a sender finds the task, then locks its sighand.
 *   Nothing but the frame allocator is taken under it, and no two siglocks
 *   are ever held together (notifying a parent happens after the child's
 *   siglock is dropped).
 * - TMPFS (the tmpfs namespace lock, src/fs/tmpfs.ts: Linux's directory
 *   i_rwsem, one for every tmpfs directory at once) is taken by directory
 *   operations holding nothing; under it a new inode claims an icache slot
 *   (INODE_CACHE). The last reference of an unlinked inode is dropped
 *   after it is released, so no page lock is ever taken under it.
 * - IPC (System V IPC: one lock per kind, shm, sem and msg, src/kernel/
 *   ipc_*.ts; Linux's ipc_ids rwsem and kern_ipc_perm locks in one) is a
 *   leaf like FILE_TABLE: held to change semaphore values, queues and ids,
 *   never across a call into mm or fs (shmat maps with it dropped) and
 *   never two kinds together. Frames for message text are allocated
 *   before it is taken.
 * - SOCK (every AF_UNIX socket, src/kernel/unix_sock.ts: Linux's
 *   unix_state_lock and the receive queues' locks in one) is a leaf like
 *   PIPE: held to move bytes between a buffer and a receive ring or to
 *   change connection state, never across a path walk (bind and connect
 *   resolve the name first) or an allocation that may reclaim.
 * - FUTEX (a futex hash bucket, src/kernel/futex_q.ts: Linux's hb->lock)
 *   is a leaf like PIPE, taken with nothing held: the futex word is found
 *   (and faulted in, under mmap_lock) before, and under it only queue
 *   entries and the futex word itself are read and written. A requeue
 *   holds two buckets, the lower-numbered one first with subclass 0, as
 *   double_lock_hb does.
 * - FRAME_ALLOC is innermost: any of the above may need a frame.
 * - TEST_A < TEST_B < TEST_C are for the tests of src/sync only.
 */
const LOCK_ORDER: readonly (readonly LockClass[])[] = [
  [LockClass.I_RWSEM],
  [LockClass.TMPFS],
  [LockClass.MMAP_LOCK],
  [LockClass.INVALIDATE_LOCK],
  [LockClass.DAX_PMD],
  [LockClass.DAX_ENTRY, LockClass.PAGE_LOCK],
  [LockClass.BLOCK_MAP],
  [LockClass.BLOCK_ALLOC],
  [LockClass.I_MMAP],
  [LockClass.PAGE_TABLE],
  [LockClass.INODE_CACHE],
  [LockClass.PAGE_CACHE],
  [
    LockClass.FILE_TABLE,
    LockClass.TASK_TABLE,
    LockClass.PIPE,
    LockClass.IPC,
    LockClass.SOCK,
    LockClass.FUTEX,
  ],
  [LockClass.SIGHAND],
  [LockClass.FRAME_ALLOC],
  [LockClass.TEST_A],
  [LockClass.TEST_B],
  [LockClass.TEST_C],
];

const RANK: number[] = [];
LOCK_ORDER.forEach((group, rank) => {
  for (const c of group) RANK[c] = rank + 1;
});

/** Rank of `cls` in LOCK_ORDER (1 = outermost); 0 for NONE. */
export function lockRank(cls: LockClass): number {
  return RANK[cls] ?? 0;
}

/** Printable name of a class, e.g. "MMAP_LOCK". */
export function lockClassName(cls: number): string {
  return LockClass[cls] ?? `class#${cls}`;
}

/**
 * Whether a task holding (`heldCls`, `heldSub`) may block on (`cls`, `sub`).
 * Same class: only with a strictly larger subclass. Different classes: only
 * with a strictly larger rank. NONE on either side is never checked.
 */
export function lockOrderOk(
  heldCls: LockClass,
  heldSub: number,
  cls: LockClass,
  sub: number,
): boolean {
  if (heldCls === LockClass.NONE || cls === LockClass.NONE) return true;
  if (heldCls === cls) return sub > heldSub;
  return RANK[cls]! > RANK[heldCls]!;
}

/** Panic for an order violation, naming both classes. */
export function lockdepViolation(cls: LockClass, heldCls: LockClass): never {
  throw new KernelPanic(
    "lockdep",
    `${lockClassName(cls)} taken while holding ${lockClassName(heldCls)}`,
  );
}
