/**
 * The mmap family: mmap, munmap, mprotect, madvise, msync, brk. Each takes
 * mm.mmap_lock itself (write, except madvise and msync which read) and
 * returns a negative errno as Linux does. The syscall layer converts the
 * fd into an MmapFile and the riscv32 mmap offset (in 4 KiB units) into
 * `pgoff`.
 *
 * Anonymous memory is handled here in full. For files, everything the file
 * system decides goes through its VmOperations (vma.ts): ->mmap to check and
 * adjust flags, open/close to keep i_mmap, msync to write back.
 *
 * @module
 */

import {
  EACCES,
  EBADF,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
  EPERM,
  isErr,
} from "../abi/errno.ts";
import { MM, mmBase } from "../abi/layout/mod.ts";
import {
  LEGACY_MAP_MASK,
  MADV_DONTNEED,
  MADV_HWPOISON,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_DENYWRITE,
  MAP_EXECUTABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  MAP_UNINITIALIZED,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "./../abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../abi/sv32.ts";
import {
  asVirt,
  type InodeSlot,
  type MmId,
  PAGE_MASK,
  PAGE_SHIFT,
  PAGE_SIZE,
  pageRoundUp,
  type VirtAddr,
  type VmaId,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { handleMmFaultLocked } from "./fault.ts";
import {
  MMAP_MIN_ADDR,
  mmapReadLock,
  mmapReadUnlock,
  mmapWriteLock,
  mmapWriteUnlock,
  ptlLock,
  ptlUnlock,
  TASK_SIZE,
  tlbFinishMmu,
} from "./mm.ts";
import { freePgtables, newGather, PGDIR_SIZE, unmapRange } from "./pgtable.ts";
import { splitHugePmd, thpGetUnmappedArea } from "./huge_memory.ts";
import { madviseHwpoison } from "./madvise_hwpoison.ts";
import {
  findVma,
  findVmaIntersection,
  type MmapFile,
  splitVma,
  VM_ACCESS,
  VM_DENYWRITE,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_SYNC,
  VM_WRITE,
  vmaAlloc,
  vmaEnd,
  vmaFile,
  vmaFlags,
  vmaFree,
  vmaLink,
  vmaMergeAnon,
  vmaNext,
  vmaOpsId,
  vmaSetEnd,
  vmaSetStart,
  vmaStart,
  vmaUnlink,
  vmOps,
} from "./vma.ts";
export { doMprotect } from "./mprotect.ts";

export const PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;
/** Flags xip acts on or accepts; others are ignored as Linux does (or refused by MAP_SHARED_VALIDATE). */
const MAP_KNOWN = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE |
  MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK |
  MAP_FIXED_NOREPLACE | MAP_SYNC | MAP_UNINITIALIZED | MAP_HUGETLB;

export const aligned = (a: number): boolean => (a & PAGE_MASK) === 0;

/** VM_READ/WRITE/EXEC for PROT_* (the values coincide, as in Linux). */
export const protToVm = (prot: number): number => prot & VM_ACCESS;

// ---------------------------------------------------------------------------
// mmap

/**
 * Map `len` bytes at (or near) `addr` (Linux's do_mmap). Anonymous when
 * `file` is absent (MAP_ANONYMOUS); otherwise `file` says what the fd
 * allows and which VmOperations apply. MAP_POPULATE faults every page in
 * before returning. Entry: no lock held.
 *
 * @returns the mapped address, or -EINVAL (bad length, flags, misaligned
 *   MAP_FIXED), -ENOMEM (no room, no VMA slot), -EACCES (fd mode does not
 *   allow the mapping), -ENODEV (the file cannot be mapped), -EBADF (no
 *   file for a file mapping), -EEXIST (MAP_FIXED_NOREPLACE over a mapping),
 *   -EOVERFLOW (pgoff + len wraps), -EOPNOTSUPP (MAP_SHARED_VALIDATE with a
 *   flag the file does not support; MAP_SYNC on a file that is not DAX)
 */
export function doMmap(
  mem: Memory,
  mm: MmId,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  file?: MmapFile,
  pgoff = 0,
): number {
  addr >>>= 0;
  len >>>= 0;
  if (len === 0 || (prot & ~PROT_ALL) !== 0) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  // Flags nobody knows are ignored, as Linux does (MAP_SHARED_VALIDATE
  // checks them below); plain MAP_SHARED drops the non-legacy ones, MAP_SYNC
  // included (mmap(2): "silently ignored"), after Linux has acted on
  // MAP_FIXED_NOREPLACE.
  const asked = flags;
  if (type === MAP_SHARED) flags &= LEGACY_MAP_MASK | MAP_FIXED_NOREPLACE;
  flags &= MAP_KNOWN;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed && !aligned(addr)) return -EINVAL;
  const size = pageRoundUp(len);
  if (size > TASK_SIZE) return -ENOMEM;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  if (!anon && file === undefined) return -EBADF;

  let vmFlags = protToVm(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (type !== MAP_PRIVATE) vmFlags |= VM_SHARED | VM_MAYSHARE;
  if ((flags & MAP_GROWSDOWN) !== 0) vmFlags |= VM_GROWSDOWN;
  if ((flags & MAP_SYNC) !== 0) vmFlags |= VM_SYNC;
  let opsId = 0;
  let slot: InodeSlot | 0 = 0;
  // Anonymous memory has no MAP_SHARED_VALIDATE (Linux: -EINVAL).
  if (anon && type === MAP_SHARED_VALIDATE) return -EINVAL;
  if (!anon && file !== undefined) {
    const ops = vmOps(file.ops);
    if (file.ops === 0 || ops === undefined) return -ENODEV;
    if (type === MAP_SHARED_VALIDATE) {
      const ok = LEGACY_MAP_MASK | (ops.mmapSupportedFlags ?? 0);
      if ((asked & ~ok & ~MAP_FIXED_NOREPLACE & ~MAP_TYPE) !== 0) return -EOPNOTSUPP;
    }
    // Linux refuses an offset range that wraps; xip keeps pgoff in a 31-bit word.
    if (pgoff < 0 || pgoff + (size >>> PAGE_SHIFT) > 0x7fff_ffff) return -EOVERFLOW;
    if (!file.readable) return -EACCES;
    if (type !== MAP_PRIVATE) {
      if ((prot & PROT_WRITE) !== 0 && !file.writable) return -EACCES;
      if (!file.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    }
    if (ops.mmap !== undefined) {
      const r = ops.mmap(mem, file, vmFlags);
      if (r < 0) return r;
      vmFlags = r;
    }
    if (file.denyWrite) vmFlags |= VM_DENYWRITE;
    opsId = file.ops;
    slot = file.slot;
  } else pgoff = 0;

  mmapWriteLock(mem, mm);
  let start: number;
  try {
    start = mmapRegion(mem, mm, addr, size, flags, vmFlags, slot, pgoff, opsId);
  } finally {
    mmapWriteUnlock(mem, mm);
  }
  if (start >= 0 && (flags & MAP_POPULATE) !== 0) populate(mem, mm, start, size, vmFlags);
  return start;
}

/** Place and create the VMA. Entry: mmap_lock held for writing. */
function mmapRegion(
  mem: Memory,
  mm: MmId,
  addr: number,
  size: number,
  flags: number,
  vmFlags: number,
  file: InodeSlot | 0,
  pgoff: number,
  ops: number,
): number {
  let start: number;
  if ((flags & MAP_FIXED_NOREPLACE) !== 0) {
    if (addr < MMAP_MIN_ADDR || addr + size > TASK_SIZE) return -ENOMEM;
    if (findVmaIntersection(mem, mm, asVirt(addr), asVirt(addr + size)) !== 0) return -EEXIST;
    start = addr;
  } else if ((flags & MAP_FIXED) !== 0) {
    if (addr < MMAP_MIN_ADDR) return -EPERM; // Linux: mmap_min_addr refuses with EPERM
    if (addr + size > TASK_SIZE) return -ENOMEM;
    start = addr;
  } else {
    start = getUnmappedArea(mem, mm, addr, size);
    // A file that can take megapages gets a 4 MiB-congruent address
    // (thp_get_unmapped_area), unless the hint was free and taken.
    if (start >= 0 && start !== pageRoundUp(addr) && size >= PGDIR_SIZE && file !== 0) {
      if (vmOps(ops)?.hugeFault !== undefined) {
        const aligned = thpGetUnmappedArea((n) => getUnmappedArea(mem, mm, 0, n), size, pgoff);
        if (aligned >= 0) start = aligned;
      }
    }
    if (start < 0) return start;
  }
  // One slot for the new VMA, plus the worst case of a MAP_FIXED that splits one.
  const v = vmaAlloc(mem, mm, asVirt(start), asVirt(start + size), vmFlags, file, pgoff, ops);
  if (isErr(v)) return v;
  if ((flags & MAP_FIXED) !== 0) {
    const r = munmapLocked(mem, mm, start, size);
    if (r < 0) {
      vmaFree(mem, v);
      return r;
    }
  }
  vmaLink(mem, mm, v);
  if (file !== 0) vmOps(ops)?.open?.(mem, v);
  else vmaMergeAnon(mem, mm, v);
  return start;
}

/**
 * Find a free range of `size` bytes: the hint when it is free, else the
 * highest gap below mm.mmapBase (top-down, as Linux's default layout).
 * Entry: mmap_lock held.
 *
 * @returns the start, or -ENOMEM
 */
export function getUnmappedArea(mem: Memory, mm: MmId, hint: number, size: number): number {
  hint = pageRoundUp(hint);
  if (
    hint >= MMAP_MIN_ADDR && hint + size <= TASK_SIZE &&
    findVmaIntersection(mem, mm, asVirt(hint), asVirt(hint + size)) === 0
  ) {
    return hint;
  }
  const top = mem.k32[mmBase(mem.layout, mm) + MM.mmapBase]!;
  // Gaps between VMAs, walked upward; keep the highest that fits below top.
  let best = -ENOMEM;
  let gapStart = MMAP_MIN_ADDR;
  for (let v = findVma(mem, mm, asVirt(0));; v = vmaNext(mem, v)) {
    const gapEnd = Math.min(v === 0 ? TASK_SIZE : vmaStart(mem, v), top);
    if (gapEnd - gapStart >= size) best = gapEnd - size;
    if (v === 0 || vmaStart(mem, v) >= top) break;
    gapStart = Math.max(gapStart, vmaEnd(mem, v));
  }
  return best;
}

/** MAP_POPULATE: fault every page in, as mm_populate does; failures are ignored, as in Linux. */
function populate(mem: Memory, mm: MmId, start: number, size: number, vmFlags: number): void {
  // A private writable mapping is populated by write faults so COW is broken up front.
  const write = (vmFlags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
  if ((vmFlags & VM_ACCESS) === 0) return;
  mmapReadLock(mem, mm);
  try {
    for (let va = start; va < start + size; va += PAGE_SIZE) {
      if (handleMmFaultLocked(mem, mm, asVirt(va), write ? ACCESS_WRITE : ACCESS_READ) !== 0) break;
    }
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

// ---------------------------------------------------------------------------
// munmap

/**
 * Unmap [addr, addr + len) (Linux's do_munmap): VMAs that straddle a bound
 * are split (head, tail, or both for a hole in the middle), the pages are
 * unmapped, TLBs shot down, then frames and empty page tables released.
 * Entry: no lock held.
 *
 * @returns 0, -EINVAL (misaligned, zero length, outside user space), or
 *   -ENOMEM (a split needed a VMA slot; nothing was changed)
 */
export function doMunmap(mem: Memory, mm: MmId, addr: number, len: number): number {
  addr >>>= 0;
  len >>>= 0;
  if (!aligned(addr) || len === 0 || addr > TASK_SIZE || pageRoundUp(len) > TASK_SIZE - addr) {
    return -EINVAL;
  }
  mmapWriteLock(mem, mm);
  try {
    return munmapLocked(mem, mm, addr, pageRoundUp(len));
  } finally {
    mmapWriteUnlock(mem, mm);
  }
}

/**
 * Split VMAs so that none straddles `start` or `end`. Entry: mmap_lock
 * write. A split of one VMA at both bounds needs two slots; if the second
 * fails, the first split stays, which is harmless (same flags either side).
 *
 * @returns 0 or -ENOMEM
 */
export function splitAround(mem: Memory, mm: MmId, start: number, end: number): number {
  const first = findVma(mem, mm, asVirt(start));
  if (first !== 0 && vmaStart(mem, first) < start && vmaEnd(mem, first) > start) {
    const r = splitVmaHuge(mem, mm, first, start);
    if (r < 0) return r;
  }
  const last = findVma(mem, mm, asVirt(end - 1));
  if (last !== 0 && vmaStart(mem, last) < end && vmaEnd(mem, last) > end) {
    const r = splitVmaHuge(mem, mm, last, end);
    if (r < 0) return r;
  }
  return 0;
}

/**
 * splitVma, after splitting a megapage that straddles `at` (Linux's
 * vma_adjust_trans_huge): a megapage never spans two VMAs. Entry:
 * mmap_lock held for writing.
 *
 * @returns the new VMA or -ENOMEM
 */
function splitVmaHuge(mem: Memory, mm: MmId, v: VmaId, at: number): number {
  if (at % PGDIR_SIZE !== 0) splitHugePmd(mem, mm, at);
  return splitVma(mem, mm, v, asVirt(at));
}

/**
 * doMunmap with mmap_lock held for writing. VMAs that stick out of the
 * range are trimmed in place; only a hole in the middle of one VMA needs a
 * new slot (its upper part), so -ENOMEM can only happen before anything
 * changed. The pages are unmapped, shot down and released *before* any
 * VMA shrinks or leaves i_mmap, as Linux's unmap_region precedes
 * remove_vma: a truncate walking i_mmap meanwhile still finds every PTE.
 */
export function munmapLocked(mem: Memory, mm: MmId, start: number, size: number): number {
  const end = start + size;
  const first = findVmaIntersection(mem, mm, asVirt(start), asVirt(end));
  if (first === 0) return 0;
  if (vmaStart(mem, first) < start && vmaEnd(mem, first) > end) {
    const r = splitVmaHuge(mem, mm, first, end);
    if (r < 0) return r;
  }
  const g = newGather();
  ptlLock(mem, mm);
  unmapRange(mem, mm, asVirt(start), asVirt(end), g);
  freePgtables(mem, mm, asVirt(start), asVirt(end), g);
  ptlUnlock(mem, mm);
  tlbFinishMmu(mem, mm, g);
  for (let v = first; v !== 0 && vmaStart(mem, v) < end;) {
    const next = vmaNext(mem, v);
    const vs = vmaStart(mem, v);
    const ve = vmaEnd(mem, v);
    if (vs < start) vmaSetEnd(mem, v, asVirt(start));
    else if (ve > end) vmaSetStart(mem, v, asVirt(end));
    else removeVma(mem, mm, v);
    v = next;
  }
  return 0;
}

/** Close (leave i_mmap), unlink and free a VMA whose pages are gone. Entry: mmap_lock write. */
export function removeVma(mem: Memory, mm: MmId, v: VmaId): void {
  if (vmaFile(mem, v) !== 0) vmOps(vmaOpsId(mem, v))?.close?.(mem, v);
  vmaUnlink(mem, mm, v);
  vmaFree(mem, v);
}

// ---------------------------------------------------------------------------
// madvise, msync

/**
 * madvise(2). MADV_DONTNEED drops the pages of the range (anonymous memory
 * reads back as zeros, file memory refaults from the file); MADV_HWPOISON
 * injects memory failure (madvise_hwpoison.ts); NORMAL, RANDOM,
 * SEQUENTIAL and WILLNEED are accepted and ignored. Entry: no lock held;
 * takes mmap_lock for reading, as Linux does for DONTNEED.
 *
 * @returns 0, -EINVAL (misaligned, unknown advice, VM_LOCKED/VM_PFNMAP), -ENOMEM (a hole)
 */
export function doMadvise(
  mem: Memory,
  mm: MmId,
  addr: number,
  len: number,
  advice: number,
): number {
  addr >>>= 0;
  len >>>= 0;
  if (!aligned(addr)) return -EINVAL;
  const known = [
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_DONTNEED,
    MADV_HWPOISON,
  ];
  if (!known.includes(advice)) return -EINVAL;
  if (len === 0) return 0;
  const end = addr + pageRoundUp(len);
  if (end > TASK_SIZE || end <= addr) return -EINVAL;
  mmapReadLock(mem, mm);
  try {
    let at = addr;
    let hole = false;
    for (let v = findVma(mem, mm, asVirt(addr)); at < end; v = vmaNext(mem, v)) {
      if (v === 0) {
        hole = true;
        break;
      }
      if (vmaStart(mem, v) > at) hole = true;
      if (advice === MADV_DONTNEED && (vmaFlags(mem, v) & (VM_LOCKED | VM_PFNMAP)) !== 0) {
        return -EINVAL;
      }
      at = vmaEnd(mem, v);
    }
    if (advice === MADV_HWPOISON) {
      if (hole) return -ENOMEM;
      return madviseHwpoison(mem, mm, addr, end);
    }
    if (advice === MADV_DONTNEED) {
      // Page tables stay: concurrent faults (mmap_lock read) may be using them.
      const g = newGather();
      ptlLock(mem, mm);
      unmapRange(mem, mm, asVirt(addr), asVirt(end), g);
      ptlUnlock(mem, mm);
      tlbFinishMmu(mem, mm, g);
    }
    return hole ? -ENOMEM : 0;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * msync(2): for each shared file VMA in the range, ask its VmOperations to
 * write back (MS_SYNC waits for it). Anonymous and private VMAs need
 * nothing. Entry: no lock held.
 *
 * @returns 0, -EINVAL (misaligned, bad flags), -ENOMEM (a hole), or the file system's error
 */
export function doMsync(mem: Memory, mm: MmId, addr: number, len: number, flags: number): number {
  addr >>>= 0;
  len >>>= 0;
  if (!aligned(addr) || (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) !== 0) return -EINVAL;
  if ((flags & MS_ASYNC) !== 0 && (flags & MS_SYNC) !== 0) return -EINVAL;
  const end = addr + pageRoundUp(len);
  if (end < addr || end > TASK_SIZE) return -ENOMEM;
  if (end === addr) return 0;
  mmapReadLock(mem, mm);
  try {
    let at = addr;
    let hole = false;
    for (let v = findVma(mem, mm, asVirt(addr)); at < end; v = vmaNext(mem, v)) {
      if (v === 0) return -ENOMEM;
      if (vmaStart(mem, v) > at) hole = true;
      const s = Math.max(at, vmaStart(mem, v));
      const e = Math.min(end, vmaEnd(mem, v));
      if (
        (vmaFlags(mem, v) & VM_SHARED) !== 0 && vmaFile(mem, v) !== 0 && (flags & MS_SYNC) !== 0
      ) {
        const sync = vmOps(vmaOpsId(mem, v))?.msync;
        if (sync !== undefined) {
          const r = sync(mem, v, asVirt(s), asVirt(e), flags);
          if (r < 0) return r;
        }
      }
      at = vmaEnd(mem, v);
    }
    return hole ? -ENOMEM : 0;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

// ---------------------------------------------------------------------------
// brk

/** Set the start of the heap (exec, after loading). Entry: mmap_lock write or mm private. */
export function setBrkStart(mem: Memory, mm: MmId, start: number): void {
  const b = mmBase(mem.layout, mm);
  mem.k32[b + MM.brkStart] = start;
  mem.k32[b + MM.brk] = start;
}

/**
 * brk(2): move the end of the heap to `newBrk`. Growing extends the heap's
 * anonymous VMA (or creates it); shrinking unmaps. As Linux's syscall, it
 * returns the resulting break, which is the old one when the move fails
 * (below the start, into another mapping, out of memory). Entry: no lock.
 */
export function doBrk(mem: Memory, mm: MmId, newBrk: number): number {
  newBrk >>>= 0;
  const b = mmBase(mem.layout, mm);
  const k32 = mem.k32;
  mmapWriteLock(mem, mm);
  try {
    // Unsigned, as VMA bounds: the break may sit exactly at TASK_SIZE (2^31).
    const start = k32[b + MM.brkStart]! >>> 0;
    const old = k32[b + MM.brk]! >>> 0;
    if (newBrk < start || newBrk > TASK_SIZE) return old;
    const oldEnd = pageRoundUp(old);
    const newEnd = pageRoundUp(newBrk);
    if (newEnd < oldEnd) {
      if (munmapLocked(mem, mm, newEnd, oldEnd - newEnd) < 0) return old;
    } else if (newEnd > oldEnd) {
      if (findVmaIntersection(mem, mm, asVirt(oldEnd), asVirt(newEnd)) !== 0) return old;
      const heap = oldEnd > pageRoundUp(start) ? findVma(mem, mm, asVirt(oldEnd - 1)) : 0;
      if (heap !== 0 && vmaEnd(mem, heap) === oldEnd && vmaFile(mem, heap) === 0) {
        vmaSetEnd(mem, heap, asVirt(newEnd));
      } else {
        const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
        const v = vmaAlloc(mem, mm, asVirt(oldEnd), asVirt(newEnd), flags, 0, 0, 0);
        if (isErr(v)) return old;
        vmaLink(mem, mm, v);
      }
    }
    k32[b + MM.brk] = newBrk;
    return newBrk;
  } finally {
    mmapWriteUnlock(mem, mm);
  }
}

/** Test/debug view of an mm's VMAs: [start, end, flags] in address order. Entry: mmap_lock held or mm quiescent. */
export function vmaDump(mem: Memory, mm: MmId): [VirtAddr, VirtAddr, number][] {
  const out: [VirtAddr, VirtAddr, number][] = [];
  for (let v = findVma(mem, mm, asVirt(0)); v !== 0; v = vmaNext(mem, v)) {
    out.push([vmaStart(mem, v), vmaEnd(mem, v), vmaFlags(mem, v)]);
  }
  return out;
}
