/**
 * shmem: memory-backed inodes (Linux's mm/shmem.c), the store behind
 * MAP_SHARED|MAP_ANONYMOUS, System V shared memory and the tmpfs on
 * /dev/shm. A shmem inode has no blocks and no backing store: its data is
 * the page-cache pages of its own mapping, which are created zero-filled
 * on first touch and stay until the inode is truncated or freed.
 *
 * Where a shmem inode lives (src/abi/layout/ipc.ts):
 * - an inode-cache slot, claimed with icacheClaimSlot and flagged
 *   IFLAG_SHMEM: its i_count, i_rwsem, invalidate_lock and i_mmap list,
 *   and the page-cache mapping id (the slot number), exactly as an xipfs
 *   inode's, so the page cache, rmap, truncate's unmap, fork and
 *   checkInvariants treat both alike;
 * - the SHMI record of the same slot number: size, mode, links, times.
 * Inode numbers come from SHMEM_INO_BASE up and are never reused within a
 * boot (a handle's (ino, slot) never names a later inode).
 *
 * Pages: shmemGetPage finds a page or inserts a fresh zeroed one (Linux's
 * shmem_get_folio with SGP_CACHE). Every shmem page is uptodate and dirty
 * from birth; the page cache's shrinker never evicts it, because
 * xipfs's aopsFor answers null for a shmem mapping (no swap, as a Linux
 * machine without swap keeps shmem resident). So "reclaim" never loses
 * data and a read fault of a hole allocates, as shmem_fault does.
 *
 * References (i_count): open files, VMAs (VmOperations open/close), the
 * tmpfs link (one while nlink > 0), a System V segment's id. The last
 * iput frees the pages and the slot (shmemIput).
 *
 * Locks: i_rwsem (write, truncate) then invalidate_lock (truncate, read in
 * faults) then the page lock, as for any file; the ICACHE lock around
 * reference changes. Nothing here holds a lock across a return to the
 * caller.
 *
 * @module
 */

import {
  inodeLock,
  inodeLockShared,
  inodeUnlock,
  inodeUnlockShared,
  invalidateLock,
  invalidateLockShared,
  invalidateUnlock,
  invalidateUnlockShared,
} from "./xipfs/xipfs_locks.ts";
import { asErrno, EFBIG, EINVAL, ENOMEM, ENOSPC, type Errno, isErr } from "../abi/errno.ts";
import { IFLAG_SHMEM, ISLOT } from "../abi/layout/mod.ts";
import {
  SHMEM_INO_BASE,
  SHMEM_INO_RANGE,
  SHMEM_KIND_TMPFS,
  SHMHDR,
  SHMI,
  shmiBase,
} from "../abi/layout/ipc.ts";
import { KernelPanic } from "../abi/panic.ts";
import { ACCESS_WRITE } from "../abi/sv32.ts";
import { asIno, type Ino, type InodeSlot, PAGE_SIZE, type Pfn, type VmaId } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { copyUserPage, VM_FAULT_DONE_COW, VM_FAULT_NOPAGE, VM_FAULT_OOM } from "../mm/fault.ts";
import { VM_FAULT_SIGBUS } from "../mm/fault.ts";
import { allocFrameReclaim } from "../mm/frame_alloc.ts";
import {
  clearPageFlag,
  pageMapcount,
  PG_dirty,
  PG_uptodate,
  putPage,
  setPageFlag,
} from "../mm/memmap.ts";
import { rmapAddVma, rmapLockVma, rmapRemoveVma, rmapUnlockVma } from "../mm/rmap.ts";
import { unmapMappingRange } from "../mm/rmap.ts";
import { VM_SHARED, vmaFlags, type VmFault, type VmOperations } from "../mm/vma.ts";
import { withNoKill } from "../sync/mod.ts";
import { sizePages, vmaInode } from "./dax_fault.ts";
import { nowSecs } from "./dax.ts";
import { mapLockedPage } from "./pagecache/filemap_fault.ts";
import { icacheClaimSlot, icacheDrop, icacheFreeSlot, icacheGrab, ihold } from "./xipfs/icache.ts";
import {
  addToPageCacheLocked,
  deleteFromPageCache,
  findGetPage,
  lockPage,
  pageView,
  truncateInodePages,
  unlockPage,
} from "./pagecache/pagecache.ts";
import { pageIs } from "./pagecache/pagecache_page.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs/xipfs_ctx.ts";

/** Internal: shmemGetPage lost an insert race and looks again. */
const RETRY = -0x7fff_0000;

/** Largest shmem file (Linux's MAX_LFS_FILESIZE on 32 bits: 2^44 - 1; xip keeps pgoff in 31 bits). */
export const SHMEM_MAX_BYTES = 0x7fff_ffff * PAGE_SIZE;

/**
 * Live shmem inodes, all kinds together: half the inode cache, so that
 * shared memory can never starve xipfs of inode slots. Past it, creating
 * one fails with -ENOSPC (tmpfs's nr_inodes, System V's SHMMNI).
 */
export const SHMEM_MAX_INODES = 256;

/** Whether inode number `ino` is a shmem inode. */
export const shmemOwns = (ino: number): boolean =>
  ino >= SHMEM_INO_BASE && ino < SHMEM_INO_BASE + SHMEM_INO_RANGE;

/** Whether icache slot `slot` holds a shmem inode. */
export const isShmemSlot = (c: XipCtx, slot: InodeSlot): boolean =>
  (Atomics.load(c.k32, islotBase(c, slot) + ISLOT.flags) & IFLAG_SHMEM) !== 0;

/** This thread's handle on the inode cache shmem inodes live in (per thread, like the VmOperations). */
let threadCtx: XipCtx | null = null;

/**
 * Make `c` this thread's shmem context (installFileMm does, in every
 * thread that mounts or attaches the file system).
 */
export function shmemAttach(c: XipCtx): void {
  threadCtx = c;
}

/**
 * This thread's shmem context, for the kernel's callers (mmap of shared
 * anonymous memory, System V shm).
 *
 * @throws KernelPanic when the thread has no mounted file system
 */
export function shmemCtx(): XipCtx {
  if (threadCtx === null) throw new KernelPanic("shmemCtx", "no file system in this thread");
  return threadCtx;
}

const hdr = (c: XipCtx): number => c.mem.layout.ipc.base;
const rec = (c: XipCtx, slot: InodeSlot): number => shmiBase(c.mem.layout.ipc.base, slot);

/** Word `f` of `ip`'s SHMI record. */
export const shmiGet = (c: XipCtx, ip: InodeRef, f: keyof typeof SHMI): number =>
  Atomics.load(c.k32, rec(c, ip.slot) + SHMI[f]);
/** Set word `f` of `ip`'s SHMI record. */
export const shmiSet = (c: XipCtx, ip: InodeRef, f: keyof typeof SHMI, v: number): void =>
  void Atomics.store(c.k32, rec(c, ip.slot) + SHMI[f], v);

/** i_size of `ip`. No lock needed (one 64-bit atomic load). */
export function shmemSize(c: XipCtx, ip: InodeRef): number {
  return Number(Atomics.load(c.mem.k64, (rec(c, ip.slot) + SHMI.size) / 2));
}

function setSize(c: XipCtx, ip: InodeRef, size: number): void {
  Atomics.store(c.mem.k64, (rec(c, ip.slot) + SHMI.size) / 2, BigInt(size));
}

/** Word index of `ip`'s i_rwsem. */
export const shmemIRwsem = (c: XipCtx, ip: InodeRef): number =>
  islotBase(c, ip.slot) + ISLOT.iRwsem;

/**
 * Make a shmem inode of `kind` (SHMEM_KIND_*) with `mode` and `size`,
 * holding one reference for the caller (Linux's shmem_get_inode). Any
 * thread; entry as iget (it may evict a cached xipfs inode for its slot).
 *
 * @returns the inode, or -ENOSPC (SHMEM_MAX_INODES live, or no inode
 *   number left), -ENFILE (no inode-cache slot)
 */
export function shmemInodeNew(
  c: XipCtx,
  kind: number,
  mode: number,
  size = 0,
): InodeRef | number {
  const k = c.k32;
  if (Atomics.add(k, hdr(c) + SHMHDR.nrInodes, 1) >= SHMEM_MAX_INODES) {
    Atomics.sub(k, hdr(c) + SHMHDR.nrInodes, 1);
    return -ENOSPC;
  }
  const n = Atomics.add(k, hdr(c) + SHMHDR.lastIno, 1) + 1;
  if (n >= SHMEM_INO_RANGE) {
    Atomics.sub(k, hdr(c) + SHMHDR.nrInodes, 1);
    return -ENOSPC;
  }
  const ino = asIno(SHMEM_INO_BASE + n);
  const slot = icacheClaimSlot(c, ino, IFLAG_SHMEM);
  if (isErr(slot)) {
    Atomics.sub(k, hdr(c) + SHMHDR.nrInodes, 1);
    return slot;
  }
  const ip: InodeRef = { slot, ino };
  const r = rec(c, slot);
  k.fill(0, r, r + SHMI.sysvIdx + 1);
  const now = nowSecs();
  shmiSet(c, ip, "mode", mode);
  shmiSet(c, ip, "nlink", 1);
  shmiSet(c, ip, "atime", now);
  shmiSet(c, ip, "mtime", now);
  shmiSet(c, ip, "ctime", now);
  shmiSet(c, ip, "kind", kind);
  setSize(c, ip, size);
  return ip;
}

/**
 * Take a reference on shmem inode `ino` by number. Entry: nothing ranked
 * inside INODE_CACHE held (TMPFS may be: tmpfsUnmount); takes and drops the
 * inode-cache lock (icacheGrab).
 *
 * @returns the inode, or null when it is gone (or being freed)
 */
export function shmemIget(c: XipCtx, ino: Ino): InodeRef | null {
  const slot = icacheGrab(c, ino);
  return slot === 0 ? null : { slot, ino };
}

/** Another reference on an inode the caller holds one on. */
export function shmemIhold(c: XipCtx, ip: InodeRef): void {
  ihold(c, ip);
}

/**
 * Drop a reference. The last one frees the inode: its pages go back to
 * the allocator (every PTE mapping them is gone, since VMAs hold
 * references) and the slot is freed. Entry: no lock of the inode held.
 */
export function shmemIput(c: XipCtx, ip: InodeRef): void {
  if (!icacheDrop(c, ip)) return;
  withNoKill(() => {
    const dropped = truncateInodePages(c.mem, ip.slot, 0);
    accountPages(c, ip, -dropped);
    c.k32.fill(0, rec(c, ip.slot), rec(c, ip.slot) + SHMI.sysvIdx + 1);
    icacheFreeSlot(c, ip.slot);
    Atomics.sub(c.k32, hdr(c) + SHMHDR.nrInodes, 1);
  });
}

/** Count `delta` pages in `ip` and in the machine-wide gauges. */
function accountPages(c: XipCtx, ip: InodeRef, delta: number): void {
  if (delta === 0) return;
  Atomics.add(c.k32, rec(c, ip.slot) + SHMI.pages, delta);
  Atomics.add(c.k32, hdr(c) + SHMHDR.nrPages, delta);
  if (shmiGet(c, ip, "kind") === SHMEM_KIND_TMPFS) {
    Atomics.add(c.k32, hdr(c) + SHMHDR.tmpfsPages, delta);
  }
}

/** Pages every shmem inode holds right now (stats, tests). */
export const shmemPages = (mem: Memory): number =>
  Atomics.load(mem.k32, mem.layout.ipc.base + SHMHDR.nrPages);

/** Live shmem inodes (tests, checks). */
export const shmemInodes = (mem: Memory): number =>
  Atomics.load(mem.k32, mem.layout.ipc.base + SHMHDR.nrInodes);

/**
 * The tmpfs on /dev/shm may hold half of RAM (Linux's default size=50%).
 * Other shmem (anonymous shared, System V) is bounded only by RAM, as
 * Linux's internal shm_mnt is.
 */
const tmpfsLimitPages = (mem: Memory): number => Math.floor(mem.layout.config.ramFrames / 2);

/**
 * Page `pgoff` of `ip` with a reference for the caller: the cached one, or
 * when `create`, a new zeroed page inserted now (shmem_get_folio). Entry:
 * no page lock, nothing ranked below PAGE_LOCK held (it may reclaim).
 *
 * @returns the pfn, -1 for a hole when !create, -ENOMEM (no frame),
 *   -ENOSPC (the tmpfs is full)
 */
export function shmemGetPage(
  c: XipCtx,
  ip: InodeRef,
  pgoff: number,
  create: boolean,
): Pfn | Errno | -1 {
  const mem = c.mem;
  for (;;) {
    const found = findGetPage(mem, ip.slot, pgoff);
    if (found !== -1) return found;
    if (!create) return -1;
    if (
      shmiGet(c, ip, "kind") === SHMEM_KIND_TMPFS &&
      Atomics.load(c.k32, hdr(c) + SHMHDR.tmpfsPages) >= tmpfsLimitPages(mem)
    ) {
      return asErrno(-ENOSPC);
    }
    const got = withNoKill((): Pfn | Errno | typeof RETRY => {
      const pfn = allocFrameReclaim(mem, { zero: true });
      if (isErr(pfn)) return pfn;
      const page = pfn;
      setPageFlag(mem, page, PG_uptodate);
      setPageFlag(mem, page, PG_dirty);
      lockPage(mem, page); // a fresh frame: nobody else can hold it
      const lost = addToPageCacheLocked(mem, page, ip.slot, pgoff) < 0;
      unlockPage(mem, page);
      if (lost) {
        clearPageFlag(mem, page, PG_dirty);
        putPage(mem, page);
        return RETRY; // someone else inserted one: find theirs
      }
      accountPages(c, ip, 1);
      return pfn;
    });
    if (got !== RETRY) return got;
  }
}

/**
 * Copy [pos, pos + dst.length) clamped to i_size into `dst`; holes read as
 * zeros (they are not filled in). Takes i_rwsem for read.
 *
 * @returns bytes read (0 at or past EOF)
 */
export function shmemRead(c: XipCtx, ip: InodeRef, pos: number, dst: Uint8Array): number {
  inodeLockShared(c, ip);
  try {
    const size = shmemSize(c, ip);
    if (pos >= size) return 0;
    const n = Math.min(dst.length, size - pos);
    for (let done = 0; done < n;) {
      const at = pos + done;
      const inPage = at % PAGE_SIZE;
      const len = Math.min(n - done, PAGE_SIZE - inPage);
      const pfn = shmemGetPage(c, ip, Math.floor(at / PAGE_SIZE), false);
      if (pfn === -1 || isErr(pfn)) dst.fill(0, done, done + len);
      else {
        const page = pfn;
        dst.set(pageView(c.mem, page).subarray(inPage, inPage + len), done);
        putPage(c.mem, page);
      }
      done += len;
    }
    shmiSet(c, ip, "atime", nowSecs());
    return n;
  } finally {
    inodeUnlockShared(c, ip);
  }
}

/**
 * Write `src` at `pos` (at i_size when `append`), creating pages and
 * extending i_size. Takes i_rwsem for write.
 *
 * @returns [bytes written or -errno (-ENOSPC, -ENOMEM, -EFBIG), the position
 *   the write started at]; a write cut short returns what it wrote
 */
export function shmemWrite(
  c: XipCtx,
  ip: InodeRef,
  pos: number,
  src: Uint8Array,
  append = false,
): [number, number] {
  inodeLock(c, ip);
  try {
    if (append) pos = shmemSize(c, ip);
    if (src.length === 0) return [0, pos];
    if (pos >= SHMEM_MAX_BYTES) return [-EFBIG, pos];
    const n = Math.min(src.length, SHMEM_MAX_BYTES - pos);
    let done = 0;
    while (done < n) {
      const at = pos + done;
      const inPage = at % PAGE_SIZE;
      const len = Math.min(n - done, PAGE_SIZE - inPage);
      const pfn = shmemGetPage(c, ip, Math.floor(at / PAGE_SIZE), true);
      if (pfn === -1 || isErr(pfn)) {
        if (done === 0) return [pfn, pos];
        break;
      }
      pageView(c.mem, pfn).set(src.subarray(done, done + len), inPage);
      putPage(c.mem, pfn);
      done += len;
    }
    if (pos + done > shmemSize(c, ip)) setSize(c, ip, pos + done);
    const now = nowSecs();
    shmiSet(c, ip, "mtime", now);
    shmiSet(c, ip, "ctime", now);
    return [done, pos];
  } finally {
    inodeUnlock(c, ip);
  }
}

/**
 * Set i_size to `size` (shmem_setattr): growing adds a hole; shrinking
 * unmaps the pages past the end from every process (private COW copies
 * too), drops them, and zeroes the tail of the last partial page. Pages
 * past the end that fallocate(KEEP_SIZE) made go too, as Linux's do.
 * Takes i_rwsem, then invalidate_lock, for write.
 *
 * @returns 0, -EINVAL (negative), -EFBIG
 */
export function shmemTruncate(c: XipCtx, ip: InodeRef, size: number): number {
  if (!Number.isInteger(size) || size < 0) return -EINVAL;
  if (size > SHMEM_MAX_BYTES) return -EFBIG;
  inodeLock(c, ip);
  invalidateLock(c, ip);
  try {
    const old = shmemSize(c, ip);
    setSize(c, ip, size);
    const keep = sizePages(size);
    if (size < old || shmiGet(c, ip, "pages") > keep) {
      withNoKill(() => {
        unmapMappingRange(c.mem, ip.slot, keep, 0, true);
        accountPages(c, ip, -truncateInodePages(c.mem, ip.slot, keep));
      });
    }
    if (size < old && size % PAGE_SIZE !== 0) zeroRange(c, ip, size, PAGE_SIZE - size % PAGE_SIZE);
    const now = nowSecs();
    shmiSet(c, ip, "mtime", now);
    shmiSet(c, ip, "ctime", now);
    return 0;
  } finally {
    invalidateUnlock(c, ip);
    inodeUnlock(c, ip);
  }
}

/**
 * Drop pages [from, to) of `ip` from the cache (Linux's
 * truncate_inode_pages_range for shmem_undo_range), after unmapping them
 * from every process. Entry: invalidate_lock held for write (no fault
 * maps the range meanwhile), no page lock.
 *
 * @returns pages dropped
 */
function dropPages(c: XipCtx, ip: InodeRef, from: number, to: number): number {
  const mem = c.mem;
  if (to <= from) return 0;
  return withNoKill(() => {
    unmapMappingRange(mem, ip.slot, from, to - from, true);
    let n = 0;
    for (let pg = from; pg < to; pg++) {
      const pfn = findGetPage(mem, ip.slot, pg);
      if (pfn === -1) continue;
      lockPage(mem, pfn);
      if (pageIs(mem, pfn, ip.slot, pg)) {
        if (pageMapcount(mem, pfn) > 0) unmapMappingRange(mem, ip.slot, pg, 1, true);
        clearPageFlag(mem, pfn, PG_dirty);
        deleteFromPageCache(mem, pfn);
        n++;
      }
      unlockPage(mem, pfn);
      putPage(mem, pfn);
    }
    accountPages(c, ip, -n);
    return n;
  });
}

/**
 * Deallocate [off, off + len) keeping i_size (fallocate PUNCH_HOLE |
 * KEEP_SIZE, shmem_fallocate): whole pages are dropped, the partial edges
 * zeroed. Takes i_rwsem, then invalidate_lock, for write.
 *
 * @returns 0
 */
export function shmemPunchHole(c: XipCtx, ip: InodeRef, off: number, len: number): number {
  inodeLock(c, ip);
  invalidateLock(c, ip);
  try {
    const end = off + len;
    const first = sizePages(off), last = Math.floor(end / PAGE_SIZE);
    if (first > last) zeroRange(c, ip, off, len); // inside one page
    else {
      if (off % PAGE_SIZE !== 0) zeroRange(c, ip, off, first * PAGE_SIZE - off);
      dropPages(c, ip, first, last);
      if (end % PAGE_SIZE !== 0) zeroRange(c, ip, last * PAGE_SIZE, end - last * PAGE_SIZE);
    }
    shmiSet(c, ip, "mtime", nowSecs());
    return 0;
  } finally {
    invalidateUnlock(c, ip);
    inodeUnlock(c, ip);
  }
}

/** Zero [at, at + len) inside one page, if the page exists (a hole is zero already). */
function zeroRange(c: XipCtx, ip: InodeRef, at: number, len: number): void {
  const pfn = shmemGetPage(c, ip, Math.floor(at / PAGE_SIZE), false);
  if (pfn === -1 || isErr(pfn)) return;
  const page = pfn;
  withNoKill(() => lockPage(c.mem, page));
  pageView(c.mem, page).fill(0, at % PAGE_SIZE, at % PAGE_SIZE + len);
  withNoKill(() => {
    unlockPage(c.mem, page);
    putPage(c.mem, page);
  });
}

/**
 * Allocate the pages of [off, off + len) (fallocate mode 0 or KEEP_SIZE),
 * growing i_size unless `keepSize`. On failure the pages this call made
 * are dropped again (shmem_fallocate's undo). Takes i_rwsem, then (only to
 * undo) invalidate_lock, for write.
 *
 * @returns 0, -ENOSPC, -ENOMEM, -EFBIG
 */
export function shmemFallocate(
  c: XipCtx,
  ip: InodeRef,
  off: number,
  len: number,
  keepSize: boolean,
): number {
  if (off + len > SHMEM_MAX_BYTES) return -EFBIG;
  inodeLock(c, ip);
  try {
    const made: number[] = [];
    for (let pg = Math.floor(off / PAGE_SIZE); pg < sizePages(off + len); pg++) {
      const had = findGetPage(c.mem, ip.slot, pg);
      if (had !== -1) {
        putPage(c.mem, had);
        continue;
      }
      const pfn = shmemGetPage(c, ip, pg, true);
      if (pfn === -1 || isErr(pfn)) {
        invalidateLock(c, ip);
        for (const m of made) dropPages(c, ip, m, m + 1);
        invalidateUnlock(c, ip);
        return pfn;
      }
      putPage(c.mem, pfn);
      made.push(pg);
    }
    if (!keepSize && off + len > shmemSize(c, ip)) setSize(c, ip, off + len);
    return 0;
  } finally {
    inodeUnlock(c, ip);
  }
}

// ---------------------------------------------------------------------------
// mapping

/** Run `body` under `ip`'s invalidate_lock (read). Entry: mmap_lock held for reading. */
function withInvalidate(c: XipCtx, ip: InodeRef, body: () => number): number {
  invalidateLockShared(c, ip);
  try {
    return body();
  } finally {
    invalidateUnlockShared(c, ip);
  }
}

/**
 * The shmem fault handler (shmem_fault): find or create the page, then
 * map it as filemapFault does (the whole decision under the page lock and
 * invalidate_lock, so truncate's unmap never misses a page mapped after
 * it). Shmem pages are always dirty, so a shared write needs no
 * page_mkwrite. Entry: mmap_lock held for reading.
 *
 * @returns VM_FAULT_NOPAGE (mapped, or a race lost: retry),
 *   VM_FAULT_DONE_COW, VM_FAULT_SIGBUS (past EOF, tmpfs full), VM_FAULT_OOM
 */
export function shmemFault(c: XipCtx, vmf: VmFault): number {
  const { mem } = vmf;
  const ip = vmaInode(c, vmf.vma);
  return withInvalidate(c, ip, () => {
    if (vmf.pgoff >= sizePages(shmemSize(c, ip))) return VM_FAULT_SIGBUS;
    // From the reference to the lock, no kill point (the rule of lockPage).
    const pfn = withNoKill(() => {
      const got = shmemGetPage(c, ip, vmf.pgoff, true);
      if (got !== -1 && !isErr(got)) lockPage(mem, got);
      return got;
    });
    if (pfn === -1 || isErr(pfn)) return pfn === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
    const page = pfn;
    try {
      if (!pageIs(mem, page, ip.slot, vmf.pgoff)) return VM_FAULT_NOPAGE;
      if (vmf.pgoff >= sizePages(shmemSize(c, ip))) return VM_FAULT_SIGBUS;
      if (vmf.cowPage !== 0) {
        copyUserPage(mem, vmf.cowPage, page);
        return VM_FAULT_DONE_COW;
      }
      const write = vmf.access === ACCESS_WRITE && (vmaFlags(mem, vmf.vma) & VM_SHARED) !== 0;
      mapLockedPage(vmf, page, write);
      return VM_FAULT_NOPAGE;
    } finally {
      unlockPage(mem, page);
      putPage(mem, page);
    }
  });
}

/**
 * The VmOperations of shmem mappings (VMOPS_SHMEM). The VMA holds a
 * reference on the inode (open: ihold; close: shmemIput), as a Linux VMA
 * holds its struct file; for MAP_SHARED|MAP_ANONYMOUS that reference is what
 * keeps the memory alive, across fork and until the last unmap. Entry: any
 * lock state; building the table takes no lock. Each op keeps its own
 * contract: fault as shmemFault (mmap_lock held for reading), open and close
 * as rmapAddVma and rmapRemoveVma (mmap_lock held for writing; the i_mmap
 * lock), close's shmemIput after the i_mmap lock is dropped.
 */
export function shmemVmOps(c: XipCtx): VmOperations<XipCtx> {
  return {
    name: "shmem",
    ctx: c,
    fault: shmemFault,
    open(mem: Memory, v: VmaId, after?: VmaId) {
      ihold(c, vmaInode(c, v));
      rmapAddVma(mem, v, after); // fork: right after the parent's VMA
    },
    close(mem: Memory, v: VmaId) {
      const ip = vmaInode(c, v);
      rmapRemoveVma(mem, v);
      shmemIput(c, ip);
    },
    lockRmap: rmapLockVma,
    unlockRmap: rmapUnlockVma,
    // Nothing to write back: msync of shmem is a no-op (shmem has no ->writepage target).
    msync: () => 0,
  };
}

/**
 * Check `ip` is a shmem inode, for callers that reach one by slot.
 *
 * @throws KernelPanic when the slot holds something else
 */
export function assertShmem(c: XipCtx, ip: InodeRef, where: string): void {
  if (!isShmemSlot(c, ip.slot) || !shmemOwns(ip.ino)) {
    throw new KernelPanic(where, `slot ${ip.slot} (inode ${ip.ino}) is not shmem`);
  }
}
