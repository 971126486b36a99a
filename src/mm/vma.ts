/**
 * Virtual memory areas (struct vm_area_struct) in the shared `vmas` table,
 * the per-mm sorted list, the per-inode i_mmap list (rmap), and the
 * VmOperations registry through which file systems plug in their faults.
 *
 * A VMA covers [start, end), page aligned, below TASK_SIZE. Its record is in
 * layout/mod.ts (VMA); slot 0 is never used so a link of 0 means "none".
 *
 * Locks: the mm list and every field but the rmap links are guarded by the
 * owning mm's mmap_lock (read to look, write to change). The rmap links are
 * guarded by the i_mmap lock of the inode whose head word they hang off;
 * that lock and the head's storage belong to the inode cache (src/fs).
 *
 * @module
 */

import { MM, mmBase, MMG, VMA, VMA_WORDS, vmaBase, VMAS_PER_TASK } from "../abi/layout/mod.ts";
import { asErrno, ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { type Access, ACCESS_EXEC, ACCESS_WRITE } from "../abi/sv32.ts";
import {
  asInodeSlot,
  asMmId,
  asVmaId,
  type InodeSlot,
  type MmId,
  PAGE_SHIFT,
  type Pfn,
  type Pte,
  type VirtAddr,
  type VmaId,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";

// VM_* flags, with Linux's values. VM_READ/WRITE/EXEC equal PROT_*, and
// each VM_MAYx is its VM_x shifted left by 4: what mprotect may turn on.
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_PFNMAP = 0x400;
/**
 * The mapping denies writes to its file (Linux's VM_DENYWRITE, before 5.15):
 * exec's text and data mappings, so the file cannot be opened for writing
 * while they exist (src/fs/write_access.ts).
 */
export const VM_DENYWRITE = 0x800;
export const VM_LOCKED = 0x2000;
/** MAP_SYNC: a write fault makes the file's metadata durable before mapping (DAX only). */
export const VM_SYNC = 0x0080_0000;
export const VM_MIXEDMAP = 0x1000_0000;
/** The access bits; VM_MAY* is this shifted by VM_MAY_SHIFT. */
export const VM_ACCESS = VM_READ | VM_WRITE | VM_EXEC;
export const VM_MAY_SHIFT = 4;

// ---------------------------------------------------------------------------
// Field accessors. Plain loads: the mmap_lock orders them.

const f = (mem: Memory, v: number, field: number): number =>
  mem.k32[vmaBase(mem.layout, v) + field]!;
const set = (mem: Memory, v: number, field: number, x: number): void => {
  mem.k32[vmaBase(mem.layout, v) + field] = x;
};

// Bounds are unsigned: a VMA may end exactly at TASK_SIZE (2^31), which an
// int32 word holds as -2^31; reading them back with >>> 0 keeps every
// comparison in address order.
export const vmaStart = (mem: Memory, v: VmaId): VirtAddr =>
  (f(mem, v, VMA.start) >>> 0) as VirtAddr;
export const vmaEnd = (mem: Memory, v: VmaId): VirtAddr => (f(mem, v, VMA.end) >>> 0) as VirtAddr;
export const vmaFlags = (mem: Memory, v: VmaId): number => f(mem, v, VMA.flags);
export const vmaFile = (mem: Memory, v: VmaId): InodeSlot => asInodeSlot(f(mem, v, VMA.file));
export const vmaPgoff = (mem: Memory, v: VmaId): number => f(mem, v, VMA.pgoff);
export const vmaOpsId = (mem: Memory, v: VmaId): number => f(mem, v, VMA.ops);
export const vmaMm = (mem: Memory, v: VmaId): MmId => asMmId(f(mem, v, VMA.mm));
export const vmaNext = (mem: Memory, v: VmaId): VmaId => asVmaId(f(mem, v, VMA.next));
export const vmaPrev = (mem: Memory, v: VmaId): VmaId => asVmaId(f(mem, v, VMA.prev));
export const vmaIsAnon = (mem: Memory, v: VmaId): boolean => f(mem, v, VMA.file) === 0;
/** File page offset that `va` (inside the VMA) maps. */
export const vmaPgoffOf = (mem: Memory, v: VmaId, va: VirtAddr): number =>
  vmaPgoff(mem, v) + ((va - vmaStart(mem, v)) >>> PAGE_SHIFT);
export const setVmaFlags = (mem: Memory, v: VmaId, flags: number): void =>
  set(mem, v, VMA.flags, flags);

/** Does VMA flags `flags` allow `access`? (riscv: write implies read, as Linux's access_error). */
export function vmaAllows(flags: number, access: Access): boolean {
  if (access === ACCESS_WRITE) return (flags & VM_WRITE) !== 0;
  if (access === ACCESS_EXEC) return (flags & VM_EXEC) !== 0;
  return (flags & (VM_READ | VM_WRITE)) !== 0;
}

// ---------------------------------------------------------------------------
// Slot allocation: claim a free record with compareExchange on its `used`
// word, so no lock is needed and two mms can allocate at once.

const vmaSlots = (mem: Memory): number => mem.layout.config.maxTasks * VMAS_PER_TASK;

/**
 * Claim a free VMA slot and fill it. Entry: mmap_lock of `mm` held for
 * writing. The VMA is not linked anywhere yet.
 *
 * @returns the slot, or -ENOMEM when the table is full
 */
export function vmaAlloc(
  mem: Memory,
  mm: MmId,
  start: VirtAddr,
  end: VirtAddr,
  flags: number,
  file: InodeSlot | 0,
  pgoff: number,
  ops: number,
): VmaId | Errno {
  const k32 = mem.k32;
  const n = vmaSlots(mem);
  const hintW = mem.layout.mmg.base + MMG.vmaHint;
  let s = Atomics.load(k32, hintW) % n;
  for (let tried = 0; tried < n; tried++, s = s + 1 === n ? 1 : s + 1) {
    if (s === 0) continue;
    const b = vmaBase(mem.layout, s);
    if (Atomics.compareExchange(k32, b + VMA.used, 0, 1) !== 0) continue;
    Atomics.store(k32, hintW, s + 1);
    k32.fill(0, b + 1, b + VMA_WORDS);
    k32[b + VMA.mm] = mm;
    k32[b + VMA.start] = start;
    k32[b + VMA.end] = end;
    k32[b + VMA.flags] = flags;
    k32[b + VMA.file] = file;
    k32[b + VMA.pgoff] = pgoff;
    k32[b + VMA.ops] = ops;
    return asVmaId(s);
  }
  return asErrno(-ENOMEM);
}

/** Return a slot that is on no list. */
export function vmaFree(mem: Memory, v: VmaId): void {
  const b = vmaBase(mem.layout, v);
  if (Atomics.exchange(mem.k32, b + VMA.used, 0) !== 1) {
    throw new KernelPanic("vmaFree", `slot ${v} is not in use`);
  }
}

/** Free VMA slots (a snapshot, for tests and stats). */
export function vmaFreeSlots(mem: Memory): number {
  let free = 0;
  for (let s = 1; s < vmaSlots(mem); s++) {
    if (Atomics.load(mem.k32, vmaBase(mem.layout, s) + VMA.used) === 0) free++;
  }
  return free;
}

// ---------------------------------------------------------------------------
// The mm's list, sorted by start. Entry for every function: mmap_lock held
// (read for lookups, write for changes).

/** First VMA of `mm`, 0 when none. */
export const vmaFirst = (mem: Memory, mm: MmId): VmaId =>
  asVmaId(mem.k32[mmBase(mem.layout, mm) + MM.vmaHead]!);

/**
 * The first VMA that ends above `va` (Linux's find_vma): it contains `va`
 * or is the next one above it.
 *
 * @returns the slot, or 0 when every VMA ends at or below `va`
 */
export function findVma(mem: Memory, mm: MmId, va: VirtAddr): VmaId {
  for (let v = vmaFirst(mem, mm); v !== 0; v = vmaNext(mem, v)) {
    if (vmaEnd(mem, v) > va) return v;
  }
  return asVmaId(0);
}

/** The first VMA that overlaps [start, end), or 0. */
export function findVmaIntersection(
  mem: Memory,
  mm: MmId,
  start: VirtAddr,
  end: VirtAddr,
): VmaId {
  const v = findVma(mem, mm, start);
  return v !== 0 && vmaStart(mem, v) < end ? v : asVmaId(0);
}

/** Insert `v` into its mm's list in address order. Entry: mmap_lock held for writing. */
export function vmaLink(mem: Memory, mm: MmId, v: VmaId): void {
  const k32 = mem.k32;
  const head = mmBase(mem.layout, mm) + MM.vmaHead;
  const start = vmaStart(mem, v);
  let prev = asVmaId(0);
  let next = vmaFirst(mem, mm);
  while (next !== 0 && vmaStart(mem, next) < start) {
    prev = next;
    next = vmaNext(mem, next);
  }
  if (
    (prev !== 0 && vmaEnd(mem, prev) > start) ||
    (next !== 0 && vmaStart(mem, next) < vmaEnd(mem, v))
  ) {
    throw new KernelPanic("vmaLink", `vma [0x${start.toString(16)}, ...) overlaps a neighbour`);
  }
  set(mem, v, VMA.prev, prev);
  set(mem, v, VMA.next, next);
  if (prev === 0) k32[head] = v;
  else set(mem, prev, VMA.next, v);
  if (next !== 0) set(mem, next, VMA.prev, v);
  k32[mmBase(mem.layout, mm) + MM.vmaCount]!++;
}

/** Take `v` off its mm's list. Entry: mmap_lock held for writing. */
export function vmaUnlink(mem: Memory, mm: MmId, v: VmaId): void {
  const k32 = mem.k32;
  const prev = f(mem, v, VMA.prev);
  const next = f(mem, v, VMA.next);
  if (prev === 0) k32[mmBase(mem.layout, mm) + MM.vmaHead] = next;
  else set(mem, prev, VMA.next, next);
  if (next !== 0) set(mem, next, VMA.prev, prev);
  set(mem, v, VMA.next, 0);
  set(mem, v, VMA.prev, 0);
  k32[mmBase(mem.layout, mm) + MM.vmaCount]!--;
}

/**
 * Run `fn` with the i_mmap lock of file VMA `v` held (through its
 * VmOperations), so rmap walkers (unmapMappingRange) never see its start,
 * end and pgoff half-changed. Anonymous VMAs are on no rmap: `fn` just runs.
 */
function withRmapLocked(mem: Memory, v: VmaId, fn: () => void): void {
  const ops = vmaFile(mem, v) !== 0 ? vmOps(vmaOpsId(mem, v)) : undefined;
  ops?.lockRmap?.(mem, v);
  try {
    fn();
  } finally {
    ops?.unlockRmap?.(mem, v);
  }
}

/**
 * Split `v` at `at` (strictly inside it): `v` keeps [start, at) and a new
 * VMA gets [at, end) with the same flags and file, pgoff advanced. The new
 * one is linked and, for a file, announced to its VmOperations.open (which
 * puts it on i_mmap) *before* `v` shrinks, so an rmap walker always finds
 * every page covered. Entry: mmap_lock held for writing; no i_mmap lock.
 *
 * @returns the new VMA's slot, or -ENOMEM (nothing changed)
 */
export function splitVma(mem: Memory, mm: MmId, v: VmaId, at: VirtAddr): VmaId | Errno {
  const start = vmaStart(mem, v);
  const end = vmaEnd(mem, v);
  if (at <= start || at >= end || at % (1 << PAGE_SHIFT) !== 0) {
    throw new KernelPanic("splitVma", `0x${at.toString(16)} is not inside the vma`);
  }
  const n = vmaAlloc(
    mem,
    mm,
    at,
    end,
    vmaFlags(mem, v),
    vmaFile(mem, v),
    vmaPgoffOf(mem, v, at),
    vmaOpsId(mem, v),
  );
  if (isErr(n)) return n;
  if (vmaFile(mem, n) !== 0) vmOps(vmaOpsId(mem, n))?.open?.(mem, n);
  withRmapLocked(mem, v, () => set(mem, v, VMA.end, at));
  vmaLink(mem, mm, n);
  return n;
}

/**
 * Move the end of `v` (brk, munmap of its tail). Entry: mmap_lock held for
 * writing; when shrinking a file VMA, the pages past the new end are already
 * unmapped.
 */
export function vmaSetEnd(mem: Memory, v: VmaId, end: VirtAddr): void {
  withRmapLocked(mem, v, () => set(mem, v, VMA.end, end));
}

/**
 * Move the start of `v` up to `start` (munmap of its head), advancing pgoff
 * so the remaining pages still map the same file pages. Its list position
 * does not change. Entry: mmap_lock held for writing; the pages below the
 * new start are already unmapped.
 */
export function vmaSetStart(mem: Memory, v: VmaId, start: VirtAddr): void {
  withRmapLocked(mem, v, () => {
    set(mem, v, VMA.pgoff, vmaPgoffOf(mem, v, start));
    set(mem, v, VMA.start, start);
  });
}

/**
 * Merge `v` with the VMAs just before and after it when they are anonymous,
 * adjacent and have the same flags (Linux's vma_merge, anonymous case only:
 * file VMAs are never merged, which keeps i_mmap simple). The page tables
 * do not change. Entry: mmap_lock held for writing.
 *
 * @returns the VMA that now covers `v`'s range
 */
export function vmaMergeAnon(mem: Memory, mm: MmId, v: VmaId): VmaId {
  const mergeable = (a: VmaId, b: VmaId): boolean =>
    vmaEnd(mem, a) === vmaStart(mem, b) && vmaFile(mem, a) === 0 && vmaFile(mem, b) === 0 &&
    vmaFlags(mem, a) === vmaFlags(mem, b);
  const prev = vmaPrev(mem, v);
  if (prev !== 0 && mergeable(prev, v)) {
    set(mem, prev, VMA.end, vmaEnd(mem, v));
    vmaUnlink(mem, mm, v);
    vmaFree(mem, v);
    v = prev;
  }
  const next = vmaNext(mem, v);
  if (next !== 0 && mergeable(v, next)) {
    set(mem, v, VMA.end, vmaEnd(mem, next));
    vmaUnlink(mem, mm, next);
    vmaFree(mem, next);
  }
  return v;
}

// ---------------------------------------------------------------------------
// i_mmap: the VMAs of every mm that map one inode, a doubly linked list
// whose head is one word owned by the inode cache. Entry for every
// function: that inode's i_mmap lock held (LockClass.I_MMAP).

/** Put `v` at the front of the i_mmap list whose head is word `head`. */
export function immapInsert(mem: Memory, head: number, v: VmaId): void {
  const first = mem.k32[head]!;
  set(mem, v, VMA.rmapPrev, 0);
  set(mem, v, VMA.rmapNext, first);
  if (first !== 0) set(mem, first, VMA.rmapPrev, v);
  mem.k32[head] = v;
}

/**
 * Put `v` on the i_mmap list whose head is word `head` right after `after`
 * (which is on it). fork puts a child's VMA after its parent's, so an rmap
 * walk (truncate) that meets the two visits the parent first: a PTE that
 * fork copies after the walk zapped the parent's cannot have existed, and
 * one copied before is zapped when the walk reaches the child (Linux's
 * vma_interval_tree_insert_after).
 */
export function immapInsertAfter(mem: Memory, head: number, after: VmaId, v: VmaId): void {
  const next = f(mem, after, VMA.rmapNext);
  if (next === 0 && f(mem, after, VMA.rmapPrev) === 0 && mem.k32[head] !== after) {
    throw new KernelPanic("immapInsertAfter", `vma ${after} is not on the list`);
  }
  set(mem, v, VMA.rmapPrev, after);
  set(mem, v, VMA.rmapNext, next);
  set(mem, after, VMA.rmapNext, v);
  if (next !== 0) set(mem, next, VMA.rmapPrev, v);
}

/** Take `v` off the i_mmap list whose head is word `head`. */
export function immapRemove(mem: Memory, head: number, v: VmaId): void {
  const prev = f(mem, v, VMA.rmapPrev);
  const next = f(mem, v, VMA.rmapNext);
  if (prev === 0) {
    if (mem.k32[head] !== v) throw new KernelPanic("immapRemove", `vma ${v} is not on the list`);
    mem.k32[head] = next;
  } else set(mem, prev, VMA.rmapNext, next);
  if (next !== 0) set(mem, next, VMA.rmapPrev, prev);
  set(mem, v, VMA.rmapNext, 0);
  set(mem, v, VMA.rmapPrev, 0);
}

/** Every VMA on the i_mmap list at `head`, in list order. */
export function immapList(mem: Memory, head: number): VmaId[] {
  const out: VmaId[] = [];
  for (let v = mem.k32[head]!; v !== 0; v = f(mem, v, VMA.rmapNext)) out.push(asVmaId(v));
  return out;
}

// ---------------------------------------------------------------------------
// VmOperations: how a file mapping faults. A VMA records the registry id of
// its operations (VMA.ops); each thread registers the same table at module
// load, because functions cannot live in shared memory.

/** Fault flags, as Linux's FAULT_FLAG_*. */
export const FAULT_FLAG_WRITE = 0x1;

/** What a fault handler is told, and what it hands back (Linux's struct vm_fault). */
export interface VmFault {
  readonly mem: Memory;
  readonly mm: MmId;
  readonly vma: VmaId;
  /** The faulting address, rounded down to its page. */
  readonly address: VirtAddr;
  /** File page offset of `address`. */
  readonly pgoff: number;
  readonly access: Access;
  /** FAULT_FLAG_*. */
  readonly flags: number;
  /** physWords index of the leaf PTE; the value seen when the fault began. */
  readonly ptw: number;
  readonly origPte: Pte;
  /**
   * For a write fault on a private file mapping: a fresh RAM frame the
   * handler may copy into itself (then it returns VM_FAULT_DONE_COW), as
   * DAX does while it holds its entry lock. 0 otherwise.
   */
  readonly cowPage: Pfn | 0;
  /**
   * Set by `fault` when it returns 0: a pfnValid frame holding the data,
   * with one reference that passes to the caller (filemap's way). -1 when
   * the handler installed the PTE itself (VM_FAULT_NOPAGE, DAX's way).
   */
  page: Pfn | -1;
}

/**
 * A file system's mapping operations (Linux's vm_operations_struct plus the
 * file's ->mmap). Every callback runs with the mm's mmap_lock held (read in
 * faults, write in mmap/munmap/split).
 */
export interface VmOperations<C = unknown> {
  readonly name: string;
  /**
   * The file system's own context (its XipCtx, its page-cache context),
   * handed back as the first argument of fault, hugeFault and pageMkwrite,
   * so that the registry holds plain functions and a fault needs no
   * closure (Linux reaches it through vmf->vma->vm_file).
   */
  readonly ctx: C;
  /**
   * Bring in the page at vmf.pgoff. Either install the PTE itself (with
   * insertMixed, re-checking pte_same under the page-table lock) and return
   * VM_FAULT_NOPAGE, or set vmf.page and return 0, or for a private write
   * fill vmf.cowPage and return VM_FAULT_DONE_COW, or return an error
   * (VM_FAULT_SIGBUS past EOF, VM_FAULT_OOM).
   */
  fault(ctx: C, vmf: VmFault): number;
  /**
   * Map the 4 MiB around vmf.address with one megapage (Linux's
   * ->huge_fault at PMD order; huge_memory.ts calls it only where a
   * megapage may go). vmf.address is 4 MiB aligned, vmf.ptw is the root
   * entry's word and vmf.origPte its value: 0, or a read-only megapage a
   * shared write wants writable. Returns VM_FAULT_NOPAGE (in place, or
   * another Worker won), VM_FAULT_FALLBACK (use 4 KiB PTEs) or an error.
   */
  hugeFault?(ctx: C, vmf: VmFault): number;
  /**
   * A page of a shared mapping is about to become writable (page_mkwrite):
   * allocate blocks, mark it dirty. 0 to go on, or VM_FAULT_* error bits.
   */
  pageMkwrite?(ctx: C, vmf: VmFault): number;
  /**
   * Flags beyond LEGACY_MAP_MASK this file accepts with
   * MAP_SHARED_VALIDATE (Linux's FOP_MMAP_SYNC): MAP_SYNC or 0. Its ->mmap
   * may still refuse the VMA (a page-cache file with VM_SYNC).
   */
  readonly mmapSupportedFlags?: number;
  /**
   * The file's ->mmap: check and adjust the new VMA's flags (DAX adds
   * VM_MIXEDMAP). Runs before the VMA exists.
   *
   * @returns the flags to use, or a negative errno (-ENODEV, -EACCES, ...)
   */
  mmap?(mem: Memory, file: MmapFile, vmFlags: number): number;
  /**
   * A VMA of this file now exists (mmap, split or fork): put it on i_mmap
   * (taking the i_mmap lock), right after `after` when given (fork: the
   * parent's VMA, see immapInsertAfter). A split calls it before the old
   * VMA shrinks, so for a moment the two overlap on i_mmap; a walker must
   * tolerate that (zapping a PTE twice is harmless).
   */
  open?(mem: Memory, vma: VmaId, after?: VmaId): void;
  /**
   * Take / release the i_mmap lock of the VMA's file. mm holds it while it
   * changes a file VMA's start, end or pgoff in place, so that rmap walkers
   * (unmapMappingRange) read consistent bounds.
   */
  lockRmap?(mem: Memory, vma: VmaId): void;
  unlockRmap?(mem: Memory, vma: VmaId): void;
  /** The VMA is going away (munmap, exit): take it off i_mmap. */
  close?(mem: Memory, vma: VmaId): void;
  /** msync over [start, end) of the VMA; 0 or a negative errno. */
  msync?(mem: Memory, vma: VmaId, start: VirtAddr, end: VirtAddr, flags: number): number;
}

/** The file being mapped, as the syscall layer describes it to doMmap. */
export interface MmapFile {
  /** Inode-cache slot (stored in VMA.file); nonzero. */
  readonly slot: InodeSlot;
  /** Registry id of its VmOperations (stored in VMA.ops); 0 = cannot be mapped (-ENODEV). */
  readonly ops: number;
  /** f_mode: whether the descriptor was opened for reading and for writing. */
  readonly readable: boolean;
  readonly writable: boolean;
  /** exec maps it: the VMA gets VM_DENYWRITE. Never from mmap(2). */
  readonly denyWrite?: boolean;
}

/** Registry ids. Anonymous memory has none. */
export const VMOPS_NONE = 0;
export const VMOPS_DAX = 1;
export const VMOPS_FILEMAP = 2;
/** The [vdso] special mapping (src/kernel/vdso.ts): no file, faults in one shared page. */
export const VMOPS_VDSO = 3;
/** shmem mappings (src/fs/shmem.ts): MAP_SHARED|MAP_ANONYMOUS, System V shm, tmpfs files. */
export const VMOPS_SHMEM = 4;
/** System V shared memory (src/kernel/ipc_shm.ts): shmem faults, attach counting. */
export const VMOPS_SYSV_SHM = 5;
/** Ids from here up are free for tests. */
export const VMOPS_TEST = 8;
const VMOPS_MAX = 16;

const registry: (VmOperations | undefined)[] = new Array(VMOPS_MAX);

/** Register `ops` under `id` in this thread. Call at module load in every thread. */
export function registerVmOps<C>(id: number, ops: VmOperations<C>): void {
  if (id <= VMOPS_NONE || id >= VMOPS_MAX) {
    throw new KernelPanic("registerVmOps", `id ${id} out of range`);
  }
  registry[id] = ops;
}

/** The operations registered under `id` in this thread, if any. */
export function vmOps(id: number): VmOperations | undefined {
  return registry[id];
}
