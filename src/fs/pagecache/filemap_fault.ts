/**
 * Page-cache faults (Linux's filemap_fault and the page_mkwrite of a
 * block-based file system), for files that are not DAX: the page is found
 * in the page cache or read in (a 4 KiB copy from the device, counted as a
 * major fault), then mapped.
 *
 * The handler maps the page itself and returns VM_FAULT_NOPAGE, instead of
 * handing it back for finish_fault, so that the whole decision — page still
 * in the cache, still inside i_size, PTE still empty — is made under the
 * page lock and invalidate_lock. Truncate needs that: it unmaps and then
 * drops pages, and truncateInodePages refuses a page that is mapped, so a
 * fault must never map a page after truncate's unmap has passed it.
 *
 * ```
 * filemapFault: invalidate_lock(read) → i_size check → readCachePage
 *   (minor: found; major: read in) → lock page → still (mapping, pgoff)?
 *   still inside i_size? →
 *     private write: copy into vmf.cowPage → DONE_COW
 *     shared write:  getBlock(create) for backing, setPageDirty, map writable
 *     read:          map read-only (a later write goes through filemapMkwrite)
 * ```
 *
 * @module
 */

import { invalidateLockShared, invalidateUnlockShared } from "../xipfs/xipfs_locks.ts";
import { ENOMEM, isErr } from "../../abi/errno.ts";
import { ACCESS_WRITE, pfnToPte, PTE_A, PTE_D, PTE_U, PTE_V, pteToPfn } from "../../abi/sv32.ts";
import { asPte, type Pfn } from "../../abi/types.ts";
import {
  copyUserPage,
  VM_FAULT_DONE_COW,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
} from "../../mm/fault.ts";
import { countFault, FAULT_KIND } from "../../mm/fault_ring.ts";
import { getPage, putPage } from "../../mm/memmap.ts";
import { accountMap, ptlLock, ptlUnlock } from "../../mm/mm.ts";
import { physWords, pteLoad, vmPteBits } from "../../mm/pgtable.ts";
import { VM_SHARED, vmaFlags, type VmFault } from "../../mm/vma.ts";
import { withNoKill } from "../../sync/mod.ts";
import { sizePages, vmaInode } from "../dax_fault.ts";
import { getBlock } from "../xipfs/getblock.ts";
import {
  type AddressSpaceOps,
  type AopsLookup,
  lockPage,
  readCachePage,
  type ReadPageInfo,
  setPageDirty,
  unlockPage,
} from "./pagecache.ts";
import { pageIs } from "./pagecache_page.ts";
import { inodeGetSize } from "../xipfs/xipfs_format.ts";
import { type InodeRef, type XipCtx } from "../xipfs/xipfs_ctx.ts";

/** What the page-cache fault path needs from the file system. */
export interface FilemapCtx {
  readonly c: XipCtx;
  readonly aops: AddressSpaceOps;
  /** For writing back other mappings' dirty pages when RAM runs out. */
  readonly aopsFor: AopsLookup | null;
}

/** Run `body` under invalidate_lock (read). Entry: mmap_lock held for reading. */
function withInvalidate(c: XipCtx, ip: InodeRef, body: () => number): number {
  invalidateLockShared(c, ip);
  try {
    return body();
  } finally {
    invalidateUnlockShared(c, ip);
  }
}

/**
 * Map locked page `pfn` at the faulting address if the PTE is still what
 * the fault saw; the PTE gets a reference of its own, so the caller still
 * drops the one it locked the page with (the rule of lockPage).
 * Entry: page lock held.
 */
export function mapLockedPage(vmf: VmFault, pfn: Pfn, writable: boolean): void {
  const { mem, mm } = vmf;
  const ptw = vmf.ptw;
  const bits = PTE_V | PTE_U | PTE_A | (writable ? PTE_D : 0) |
    vmPteBits(vmaFlags(mem, vmf.vma), writable);
  ptlLock(mem, mm);
  const won = Atomics.compareExchange(
    physWords(mem),
    ptw,
    vmf.origPte | 0,
    pfnToPte(pfn, bits) | 0,
  ) === (vmf.origPte | 0);
  if (won) {
    getPage(mem, pfn);
    accountMap(mem, mm, pfn, true);
  }
  ptlUnlock(mem, mm);
}

/**
 * The page-cache fault handler (VmOperations.fault of non-DAX files).
 * Entry: mmap_lock held for reading, nothing else. Takes invalidate_lock
 * (read) and the page lock; getBlock (shared writes) nests inside.
 *
 * @returns VM_FAULT_NOPAGE (mapped, or a race lost: retry), VM_FAULT_DONE_COW,
 *   VM_FAULT_SIGBUS (past EOF, read error, ENOSPC), VM_FAULT_OOM
 */
export function filemapFault(f: FilemapCtx, vmf: VmFault): number {
  const { c } = f;
  const { mem } = vmf;
  const ip = vmaInode(c, vmf.vma);
  return withInvalidate(c, ip, () => {
    if (vmf.pgoff >= sizePages(inodeGetSize(c.vol, ip.ino))) return VM_FAULT_SIGBUS;
    const info: ReadPageInfo = { major: false };
    // From the reference to the lock, no kill point: a task that dies
    // holding the page lock has that one reference dropped for it (lockPage).
    const pfn = withNoKill(() => {
      const got = readCachePage(mem, ip.slot, vmf.pgoff, f.aops, info, f.aopsFor);
      if (!isErr(got)) lockPage(mem, got);
      return got;
    });
    if (isErr(pfn)) return pfn === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
    countFault(mem, info.major ? FAULT_KIND.fileMajor : FAULT_KIND.fileMinor, vmf.address, pfn);
    const page = pfn;
    try {
      // Truncated or evicted between the lookup and the lock: let the hart retry.
      if (!pageIs(mem, page, ip.slot, vmf.pgoff)) return VM_FAULT_NOPAGE;
      if (vmf.pgoff >= sizePages(inodeGetSize(c.vol, ip.ino))) return VM_FAULT_SIGBUS;
      if (vmf.cowPage !== 0) {
        copyUserPage(mem, vmf.cowPage, page);
        return VM_FAULT_DONE_COW;
      }
      const write = vmf.access === ACCESS_WRITE &&
        (vmaFlags(mem, vmf.vma) & VM_SHARED) !== 0;
      if (write) {
        const b = getBlock(c, ip, vmf.pgoff, true);
        if (b < 0) return b === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
        setPageDirty(mem, page);
      }
      mapLockedPage(vmf, page, write);
      return VM_FAULT_NOPAGE;
    } finally {
      unlockPage(mem, page);
      putPage(mem, page);
    }
  });
}

/**
 * A read-only PTE of a shared page-cache mapping is written (page_mkwrite):
 * make sure the page still belongs to the file and lies inside i_size,
 * allocate its backing block (so writeback cannot fail with ENOSPC later),
 * and dirty it. The caller (do_wp_page) then makes the PTE writable if it
 * is unchanged. Entry: mmap_lock held for reading.
 *
 * @returns 0 to go on, VM_FAULT_NOPAGE (the PTE changed: retry),
 *   VM_FAULT_SIGBUS, VM_FAULT_OOM
 */
export function filemapMkwrite(f: FilemapCtx, vmf: VmFault): number {
  const { c } = f;
  const { mem, mm } = vmf;
  const ip = vmaInode(c, vmf.vma);
  return withInvalidate(c, ip, () => {
    // Pin the page through its PTE: MADV_DONTNEED (mmap_lock read) may zap it.
    // From the reference to the lock, no kill point (the rule of lockPage).
    const page = pteToPfn(asPte(vmf.origPte));
    const same = withNoKill(() => {
      ptlLock(mem, mm);
      const still = pteLoad(physWords(mem), vmf.ptw) === asPte(vmf.origPte);
      if (still) getPage(mem, page);
      ptlUnlock(mem, mm);
      if (still) lockPage(mem, page);
      return still;
    });
    if (!same) return VM_FAULT_NOPAGE;
    try {
      if (!pageIs(mem, page, ip.slot, vmf.pgoff)) return VM_FAULT_NOPAGE;
      if (vmf.pgoff >= sizePages(inodeGetSize(c.vol, ip.ino))) return VM_FAULT_SIGBUS;
      const b = getBlock(c, ip, vmf.pgoff, true);
      if (b < 0) return b === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
      setPageDirty(mem, page);
      return 0;
    } finally {
      unlockPage(mem, page);
      putPage(mem, page);
    }
  });
}
