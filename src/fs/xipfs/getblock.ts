/**
 * getBlock: the live block map of xipfs (the get_block callback of the XIP
 * documents), plus block freeing and the page-cache address-space ops that
 * sit on it.
 *
 * The contract the seeds set for get_block, and how it is kept here:
 * - a block it returns is never uninitialised: with `create`, a new block is
 *   zeroed before its pointer is stored, so no other thread can reach it
 *   while it still holds a previous owner's bytes; new indirect blocks too;
 * - simultaneous calls on one hole (a fault racing a write, two Workers
 *   faulting) give one block: create takes the inode's block-map lock
 *   (BLOCK_MAP) and looks the pointer up again under it, so the loser sees
 *   the winner's block and neither allocates nor zeroes anything (the Linux
 *   bug "dax: fix race between simultaneous faults" cannot happen);
 * - a lookup of a mapped block takes no lock at all: pointers are published
 *   with Atomics.store after the zeroing and read with Atomics.load, so a
 *   reader that sees a pointer sees the zeroed block behind it.
 *
 * Lock order: the caller may hold i_rwsem, invalidate_lock, a DAX entry or
 * page lock; getBlock takes the block-map lock inside those, and the block
 * allocator below it takes no lock (balloc.ts).
 *
 * @module
 */

import { bmapLock, bmapUnlock } from "./xipfs_locks.ts";
import { IFLAG_DAX, ISLOT, XIP_FL_EOFBLOCKS, XIPFS_PTRS_PER_BLOCK } from "../../abi/layout/mod.ts";
import { EFBIG, EIO, ENOSPC, EUCLEAN } from "../../abi/errno.ts";
import { unmapMappingRange } from "../../mm/rmap.ts";
import { badblockFirst } from "../../hw/badblocks.ts";
import { setPoison } from "./xipfs_poison.ts";
import {
  asBlock,
  asIno,
  asInodeSlot,
  type BlockNo,
  blockToSector,
  type Ino,
  PAGE_SIZE,
} from "../../abi/types.ts";
import { withNoKill } from "../../sync/current.ts";
import {
  allocBlock,
  allocBlockRun,
  freeBlock,
  freeMappedBlock,
  markBlockDirty,
  markInodeDirty,
  markRangeDirty,
} from "./balloc.ts";
import type { AddressSpaceOps } from "../pagecache/pagecache.ts";
import {
  BMAP_DIND_FIRST,
  BMAP_IND_FIRST,
  BMAP_MAX_BLOCKS,
  bmapPath,
  bmapTruncate,
  bmapWalk,
  SLOT_DIND,
  SLOT_IND,
} from "./xipfs_bmap.ts";
import {
  blockOff,
  blockPtrValid,
  inodeBlock,
  inodeGet,
  inodeGetSize,
  inodePtrOff,
  inodeSet,
} from "./xipfs_format.ts";

/** Blocks of a 4 MiB megapage: the largest extent-size hint. */
const HPAGE_BLOCKS = 1024;
import { type InodeRef, islotBase, type XipCtx } from "./xipfs_ctx.ts";

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Word index (in c.i32) of entry `i` of indirect block `b`. */
const indWord = (c: XipCtx, b: number, i: number): number => blockOff(c.vol, b) / 4 + i;

/**
 * Where the pointer for `iblock` lives: its word in c.i32 and the block that
 * holds that word (for dirty tracking). Follows existing indirect blocks
 * only.
 *
 * @returns the location; 0 when an indirect block on the way is a hole;
 *   -EFBIG past the largest file; -EUCLEAN for a corrupt pointer
 */
export function ptrLocate(
  c: XipCtx,
  ino: Ino,
  iblock: number,
): { w: number; blk: number } | number {
  const path = bmapPath(iblock);
  if (path === null) return -EFBIG;
  let w = inodePtrOff(c.vol, ino, path.slot) / 4;
  let blk = inodeBlock(c.vol.sb, ino);
  for (const i of path.idx) {
    const p = Atomics.load(c.i32, w) >>> 0;
    if (p === 0) return 0;
    if (!blockPtrValid(c.vol.sb, p)) return -EUCLEAN;
    w = indWord(c, p, i);
    blk = p;
  }
  return { w, blk };
}

/** Load a pointer word and check it: the block, 0, or -EUCLEAN. */
function loadPtr(c: XipCtx, w: number): number {
  const b = Atomics.load(c.i32, w) >>> 0;
  return blockPtrValid(c.vol.sb, b) ? b : -EUCLEAN;
}

/**
 * Look up file block `iblock` of inode `ino` without any lock and without
 * allocating (the fast path of getBlock; the DAX read path calls it per
 * block, so it builds no path object).
 *
 * @returns the device block, 0 for a hole, -EFBIG or -EUCLEAN
 */
export function bmapLookupFast(c: XipCtx, ino: Ino, iblock: number): BlockNo {
  if (iblock < BMAP_IND_FIRST) {
    if (!(iblock >= 0)) return asBlock(-EFBIG);
    return asBlock(loadPtr(c, inodePtrOff(c.vol, ino, iblock) / 4));
  }
  if (iblock < BMAP_DIND_FIRST) {
    const ind = loadPtr(c, inodePtrOff(c.vol, ino, SLOT_IND) / 4);
    if (ind <= 0) return asBlock(ind);
    return asBlock(loadPtr(c, indWord(c, ind, iblock - BMAP_IND_FIRST)));
  }
  if (iblock < BMAP_MAX_BLOCKS) {
    const r = iblock - BMAP_DIND_FIRST;
    const dind = loadPtr(c, inodePtrOff(c.vol, ino, SLOT_DIND) / 4);
    if (dind <= 0) return asBlock(dind);
    const ind = loadPtr(c, indWord(c, dind, r >>> 10));
    if (ind <= 0) return asBlock(ind);
    return asBlock(loadPtr(c, indWord(c, ind, r & (XIPFS_PTRS_PER_BLOCK - 1))));
  }
  return asBlock(-EFBIG);
}

/**
 * Word index (in c.i32) of the pointer for `iblock`, without allocating.
 * @returns the word, -1 when an indirect block on the way is a hole, -2
 *   when iblock is out of range or a pointer on the way is corrupt
 */
function ptrWordFast(c: XipCtx, ino: Ino, iblock: number): number {
  if (iblock < BMAP_IND_FIRST) return iblock >= 0 ? inodePtrOff(c.vol, ino, iblock) / 4 : -2;
  if (iblock < BMAP_DIND_FIRST) {
    const ind = loadPtr(c, inodePtrOff(c.vol, ino, SLOT_IND) / 4);
    return ind > 0 ? indWord(c, ind, iblock - BMAP_IND_FIRST) : ind === 0 ? -1 : -2;
  }
  if (iblock >= BMAP_MAX_BLOCKS) return -2;
  const r = iblock - BMAP_DIND_FIRST;
  const dind = loadPtr(c, inodePtrOff(c.vol, ino, SLOT_DIND) / 4);
  if (dind <= 0) return dind === 0 ? -1 : -2;
  const ind = loadPtr(c, indWord(c, dind, r >>> 10));
  if (ind <= 0) return ind === 0 ? -1 : -2;
  return indWord(c, ind, r & (XIPFS_PTRS_PER_BLOCK - 1));
}

/** Pointers left in the pointer array (direct slots or one indirect block) from `iblock` on. */
function ptrsLeftInArray(iblock: number): number {
  if (iblock < BMAP_IND_FIRST) return BMAP_IND_FIRST - iblock;
  if (iblock < BMAP_DIND_FIRST) return BMAP_DIND_FIRST - iblock;
  return XIPFS_PTRS_PER_BLOCK - ((iblock - BMAP_DIND_FIRST) & (XIPFS_PTRS_PER_BLOCK - 1));
}

/**
 * How many file blocks from `iblock` on (at most `maxN`) continue the run
 * that starts there: device blocks b, b+1, ... when `b` (iblock's block) is
 * non-zero, or holes when it is 0. Scans each pointer array in place, so a
 * 1 MiB read costs a few lookups, not 256. No lock; same visibility rules
 * as bmapLookupFast.
 *
 * @returns the run length, >= 1
 */
export function bmapRun(c: XipCtx, ino: Ino, iblock: number, b: number, maxN: number): number {
  let n = 1;
  while (n < maxN) {
    const next = iblock + n;
    const limit = Math.min(maxN - n, ptrsLeftInArray(next));
    const w = ptrWordFast(c, ino, next);
    if (w === -1) {
      if (b !== 0) break;
      n += limit; // a missing indirect block: all holes
      continue;
    }
    if (w < 0) break;
    let k = 0;
    if (b === 0) {
      while (k < limit && Atomics.load(c.i32, w + k) === 0) k++;
    } else {
      const want = b + n;
      while (k < limit && (Atomics.load(c.i32, w + k) >>> 0) === want + k) k++;
    }
    n += k;
    if (k < limit) break;
  }
  return n;
}

/**
 * Zero new data blocks [b, b + n) before anyone can reach them: through
 * directAccess on a memory device (the only route from a file block to
 * device memory), with bio writes of zeros on a bio-only device.
 *
 * @returns 0 or -errno
 */
function zeroNewBlocks(c: XipCtx, b: BlockNo, n: number): number {
  if (c.mdev !== null) {
    const da = c.mdev.directAccess(blockToSector(b), n * PAGE_SIZE);
    if (typeof da === "number") return da;
    if (da.avail < n * PAGE_SIZE) return -EIO;
    c.mdev.bytes.fill(0, da.kaddr, da.kaddr + n * PAGE_SIZE);
    clearPoison(c, b, n);
    return 0;
  }
  for (let i = 0; i < n; i++) {
    const w = c.dev.bioWrite(asBlock(b + i), ZERO_PAGE);
    if (w < 0) return w;
  }
  return 0;
}

/**
 * Allocate and zero a metadata block (indirect, directory). Any lock may
 * be held (getBlock's caller holds the block-map lock, the namespace
 * operations theirs); takes the HWPOISON lock (a leaf) only when the block
 * was poisoned.
 *
 * @returns it or -errno
 */
export function allocMetaBlock(c: XipCtx): BlockNo {
  const b = allocBlock(c);
  if (b < 0) return b;
  const off = blockOff(c.vol, b);
  c.vol.dev.fill(0, off, off + PAGE_SIZE);
  if (c.mdev !== null) clearPoison(c, b, 1);
  markBlockDirty(c, b);
  return b;
}

/**
 * Blocks [b, b + n) were just overwritten whole with zeros: their poison,
 * if any, is gone (the zeroing is pmem's dax_zero_page_range, which clears
 * poison). Cheap when the device has none. Any lock may be held; takes the
 * HWPOISON lock (a leaf) only when some block is poisoned.
 */
export function clearPoison(c: XipCtx, b: number, n: number): void {
  if (badblockFirst(c.mem, b, n) >= 0) setPoison(c, b, n, false);
}

/**
 * Map file block `iblock` of inode `ip` to a device block; with `create`,
 * fill a hole with a new zeroed block (and any missing indirect blocks).
 * An inode with an extent-size hint (XINODE.extsize) fills a hole in a
 * wholly unallocated extent by allocating the whole extent, aligned
 * (extentFill); a DAX process that mapped the zero page anywhere in it
 * loses that PTE. Entry: the caller holds a reference to `ip` and may hold
 * i_rwsem, invalidate_lock and a DAX-entry or page lock; not the block-map
 * lock. Exit: the same. Takes the block-map lock only to allocate.
 *
 * @returns the block (> 0); 0 for a hole when !create; -EFBIG past the
 *   largest file, -ENOSPC, -EUCLEAN (corrupt map) or a device error
 */
export function getBlock(c: XipCtx, ip: InodeRef, iblock: number, create: boolean): BlockNo {
  const b = bmapLookupFast(c, ip.ino, iblock);
  if (b !== 0 || !create) return b;
  const ext = { first: -1, n: 0 };
  bmapLock(c, ip);
  let nb: BlockNo;
  try {
    nb = getBlockLocked(c, ip.ino, iblock, ext);
  } finally {
    bmapUnlock(c, ip);
  }
  // The rest of a new extent was holes too: no DAX zero-page PTE may stay
  // on it (the caller takes care of `iblock` itself, as for one block).
  const base = islotBase(c, ip.slot);
  if (
    ext.n > 0 && (Atomics.load(c.k32, base + ISLOT.flags) & IFLAG_DAX) !== 0 &&
    Atomics.load(c.k32, base + ISLOT.iMmap) !== 0
  ) {
    unmapMappingRange(c.mem, ip.slot, ext.first, ext.n);
  }
  return nb;
}

/**
 * The slot of `iblock`'s pointer, creating the indirect blocks on the way
 * (zeroed before they are linked; counted in i_blocks). Caller holds the
 * block-map lock.
 *
 * @returns the word (in c.i32) and the block holding it, or -EFBIG,
 *   -EUCLEAN, -ENOSPC
 */
export function ptrSlotCreate(
  c: XipCtx,
  ino: Ino,
  iblock: number,
): { w: number; blk: number } | number {
  const path = bmapPath(iblock);
  if (path === null) return -EFBIG;
  let w = inodePtrOff(c.vol, ino, path.slot) / 4;
  let blk = inodeBlock(c.vol.sb, ino);
  for (const i of path.idx) {
    let p = Atomics.load(c.i32, w) >>> 0;
    if (p === 0) {
      const m = allocMetaBlock(c);
      if (m < 0) return m;
      p = m;
      Atomics.store(c.i32, w, p); // zeroed: safe to publish
      markBlockDirty(c, blk);
      inodeSet(c.vol, ino, "blocks", inodeGet(c.vol, ino, "blocks") + 1);
      markInodeDirty(c, ino);
    } else if (!blockPtrValid(c.vol.sb, p)) return -EUCLEAN;
    w = indWord(c, p, i);
    blk = p;
  }
  return { w, blk };
}

/** getBlock(create) under the block-map lock; `ext` receives an extent it allocated. */
function getBlockLocked(
  c: XipCtx,
  ino: Ino,
  iblock: number,
  ext: { first: number; n: number },
): BlockNo {
  // Somebody may have filled the hole while we waited for the lock.
  const again = bmapLookupFast(c, ino, iblock);
  if (again !== 0) return again;
  const fromExtent = extentFill(c, ino, iblock, ext);
  if (fromExtent !== 0) return fromExtent;
  const slot = ptrSlotCreate(c, ino, iblock);
  if (typeof slot === "number") return asBlock(slot);
  const nb = allocBlock(c);
  if (nb < 0) return nb;
  const err = zeroNewBlocks(c, nb, 1);
  if (err < 0) {
    freeBlock(c, nb);
    return asBlock(err);
  }
  Atomics.store(c.i32, slot.w, nb); // publish only after the zeroing
  markBlockDirty(c, nb);
  markBlockDirty(c, slot.blk);
  inodeSet(c.vol, ino, "blocks", inodeGet(c.vol, ino, "blocks") + 1);
  markInodeDirty(c, ino);
  return nb;
}

/**
 * With an extent-size hint E, fill the hole at `iblock` by allocating its
 * whole extent [g, g + E) (g = iblock rounded down to E) as one aligned run
 * (balloc.ts allocBlockRun), zeroed, when every block of the extent is a
 * hole (XFS's extent-size allocation; holes are zeroed blocks rather than
 * unwritten extents). Blocks past EOF set XIP_FL_EOFBLOCKS. Caller holds
 * the block-map lock.
 *
 * @returns the block for `iblock`; 0 when the hint does not apply (no hint,
 *   a partly allocated extent, no aligned run free: allocate one block);
 *   or -errno (what was linked before it stays linked)
 */
function extentFill(
  c: XipCtx,
  ino: Ino,
  iblock: number,
  ext: { first: number; n: number },
): BlockNo {
  const e = inodeGet(c.vol, ino, "extsize");
  if (e <= 1 || e > HPAGE_BLOCKS || (e & (e - 1)) !== 0) return asBlock(0);
  const g = iblock - (iblock % e);
  if (g + e > BMAP_MAX_BLOCKS) return asBlock(0);
  for (let i = 0; i < e; i++) if (bmapLookupFast(c, ino, g + i) !== 0) return asBlock(0);
  const b0 = allocBlockRun(c, e);
  if (b0 < 0) return asBlock(0);
  const err = zeroNewBlocks(c, b0, e);
  let linked = 0;
  for (; err === 0 && linked < e; linked++) {
    const slot = ptrSlotCreate(c, ino, g + linked);
    if (typeof slot === "number") break;
    Atomics.store(c.i32, slot.w, b0 + linked);
    markBlockDirty(c, slot.blk);
  }
  for (let i = linked; i < e; i++) freeBlock(c, asBlock(b0 + i));
  inodeSet(c.vol, ino, "blocks", inodeGet(c.vol, ino, "blocks") + linked);
  if ((g + linked) * PAGE_SIZE > inodeGetSize(c.vol, ino)) {
    inodeSet(c.vol, ino, "flags", inodeGet(c.vol, ino, "flags") | XIP_FL_EOFBLOCKS);
  }
  markInodeDirty(c, ino);
  markRangeDirty(c, b0, linked);
  ext.first = g;
  ext.n = linked;
  if (err < 0) return asBlock(err);
  return asBlock(iblock - g < linked ? b0 + (iblock - g) : -ENOSPC);
}

/**
 * Free every block of `ip` at or past file block `firstIblock` (indirect
 * blocks that become empty too). Caller holds i_rwsem and invalidate_lock
 * for write and has unmapped and dropped the cached pages of the range (or
 * holds the last reference). Takes the block-map lock; frees after
 * dropping it.
 *
 * @returns 0, or -EUCLEAN when the map holds a corrupt pointer
 */
export function truncateBlocks(c: XipCtx, ip: InodeRef, firstIblock: number): number {
  // Blocks unlinked from the map must reach the bitmap: no kill point between.
  return withNoKill(() => truncateBlocksNoKill(c, ip, firstIblock));
}

function truncateBlocksNoKill(c: XipCtx, ip: InodeRef, firstIblock: number): number {
  const freed: BlockNo[] = [];
  let rc: number;
  bmapLock(c, ip);
  try {
    // The indirect blocks whose entries are cleared must reach the image too.
    bmapWalk(c.vol, ip.ino, (b, _ib, kind, valid) => {
      if (kind !== "data" && valid) markBlockDirty(c, b);
    });
    rc = bmapTruncate(c.vol, ip.ino, firstIblock, (b) => freed.push(b));
    markInodeDirty(c, ip.ino);
  } finally {
    bmapUnlock(c, ip);
  }
  for (const b of freed) if (freeMappedBlock(c, b) < 0) rc = -EUCLEAN;
  return rc;
}

/**
 * Free the blocks of `ip` for file blocks [first, end) and leave holes.
 * Indirect blocks stay even when they become empty (they are freed by a
 * later truncate). Same locking as truncateBlocks.
 *
 * @returns the number of blocks freed, or -EUCLEAN
 */
export function freeBlockRange(c: XipCtx, ip: InodeRef, first: number, end: number): number {
  // Blocks unlinked from the map must reach the bitmap: no kill point between.
  return withNoKill(() => freeBlockRangeNoKill(c, ip, first, end));
}

function freeBlockRangeNoKill(c: XipCtx, ip: InodeRef, first: number, end: number): number {
  const freed: BlockNo[] = [];
  let rc = 0;
  bmapLock(c, ip);
  try {
    for (let ib = first; ib < end; ib++) {
      const loc = ptrLocate(c, ip.ino, ib);
      if (loc === 0) continue;
      if (typeof loc === "number") {
        rc = loc;
        break;
      }
      const b = Atomics.load(c.i32, loc.w) >>> 0;
      if (b === 0) continue;
      if (!blockPtrValid(c.vol.sb, b)) {
        rc = -EUCLEAN;
        break;
      }
      Atomics.store(c.i32, loc.w, 0);
      markBlockDirty(c, loc.blk);
      freed.push(asBlock(b));
    }
    if (freed.length > 0) {
      inodeSet(c.vol, ip.ino, "blocks", inodeGet(c.vol, ip.ino, "blocks") - freed.length);
      markInodeDirty(c, ip.ino);
    }
  } finally {
    bmapUnlock(c, ip);
  }
  for (const b of freed) if (freeMappedBlock(c, b) < 0 && rc === 0) rc = -EUCLEAN;
  return rc < 0 ? rc : freed.length;
}

/**
 * The address-space ops of xipfs regular files for the page cache (Linux's
 * ext2_aops over get_block), for files that are not DAX. The mapping id is
 * the inode-cache slot. readpage fills a hole with zeros without allocating;
 * writepage allocates (getBlock create) and writes the page with bio.
 *
 * Entry: for both ops, the page locked (PAGE_LOCK held) when the page cache
 * calls them (readCachePage, writebackMapping), or i_rwsem held with no page
 * lock for O_DIRECT (defaultDirectIO). readpage takes no lock
 * (bmapLookupFast); writepage takes and drops the block-map lock to fill a
 * hole. Building the table takes no lock.
 */
export function fileAops(c: XipCtx): AddressSpaceOps {
  const inoOf = (mapping: number): Ino =>
    asIno(Atomics.load(c.k32, islotBase(c, mapping) + ISLOT.ino));
  return {
    readpage(mapping, pgoff, frame) {
      const b = bmapLookupFast(c, inoOf(mapping), pgoff);
      if (b < 0) return b;
      if (b === 0) {
        frame.fill(0);
        return PAGE_SIZE;
      }
      return c.dev.bioRead(b, frame);
    },
    writepage(mapping, pgoff, frame) {
      const b = getBlock(c, { slot: asInodeSlot(mapping), ino: inoOf(mapping) }, pgoff, true);
      if (b < 0) return b;
      const n = c.dev.bioWrite(b, frame);
      if (n >= 0) markBlockDirty(c, b);
      return n;
    },
  };
}
