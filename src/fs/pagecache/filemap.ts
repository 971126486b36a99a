/**
 * The page-cache read/write path for files that are not DAX (Linux's
 * mm/filemap.c generic_file_read_iter / generic_perform_write, reduced),
 * writeback, SEEK_DATA/SEEK_HOLE's view of the cache, and the O_DIRECT hook.
 * Pages move between the cache and the device through the filesystem's
 * address-space ops (`fs.aops`: getBlock plus bio).
 *
 * Page p of a file is file block p (block size = PAGE_SIZE), so a pgoff is
 * an iblock. A cached page past i_size never exists: truncate drops them,
 * and writes extend i_size before they return.
 *
 * Locks: reads run under the inode's i_rwsem for read, writes under it for
 * write (the VFS takes it; truncate is the filesystem's). Page locks are taken here, one at
 * a time, below i_rwsem.
 *
 * @module
 */

import { EINVAL, type Errno, isErr } from "../../abi/errno.ts";
import { VMSTAT } from "../../abi/layout/mod.ts";
import { PAGE_SIZE, type Pfn } from "../../abi/types.ts";
import { statAdd } from "../../hw/memory.ts";
import { codeWritten } from "../../hw/jit/shared.ts";
import { allocFrame, withReclaim } from "../../mm/frame_alloc.ts";
import { PG_dirty, PG_uptodate, putPage, setPageFlag, testPageFlag } from "../../mm/memmap.ts";
import {
  addToPageCacheLocked,
  findGetPage,
  lockPage,
  pageView,
  readCachePage,
  setPageDirty,
  shrinkPageCache,
  unlockPage,
  writebackMapping,
} from "./pagecache.ts";
import type { VfsFs, VInode } from "../vfs_fs.ts";

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
/**
 * Copy [pos, pos + dst.length) of `ip`, clamped to i_size, from the page
 * cache into `dst`, reading missing pages in through readpage.
 *
 * Entry: i_rwsem held for read (vfs doRead), no page lock and nothing ranked
 * inside PAGE_LOCK. readCachePage takes and drops the page-cache index lock,
 * and on a miss the new page's lock (and may write back and reclaim other
 * pages under their locks); returns with i_rwsem still held and nothing
 * else.
 *
 * @returns the bytes copied (0 at or past EOF), or -errno when nothing was
 *   copied
 */
export function filemapRead(fs: VfsFs, ip: VInode, pos: number, dst: Uint8Array): number {
  const mem = fs.mem;
  const size = fs.size(ip);
  if (pos >= size || dst.length === 0) return 0;
  const end = Math.min(size, pos + dst.length);
  const aops = fs.aops;
  let done = 0;
  while (pos + done < end) {
    const p = pos + done;
    const pgoff = Math.floor(p / PAGE_SIZE);
    const off = p - pgoff * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, end - p);
    const pfn = readCachePage(mem, ip.slot, pgoff, aops, undefined, fs.aopsLookup);
    if (isErr(pfn)) return done > 0 ? done : pfn;
    const base = pfn * PAGE_SIZE + off;
    dst.set(mem.u8.subarray(base, base + n), done);
    putPage(mem, pfn);
    done += n;
  }
  statAdd(mem, VMSTAT.copiedRead, done);
  return done;
}

/**
 * Get page `pgoff` of `ip` locked and uptodate for a write that covers
 * [off, off + n) of it (Linux's write_begin). A page the write overwrites
 * entirely, or one wholly at or past EOF, is not read from the device: it
 * starts as zeros.
 *
 * @returns the locked page with a reference, or -errno
 */
function writeBegin(
  fs: VfsFs,
  ip: VInode,
  pgoff: number,
  off: number,
  n: number,
  size: number,
): Pfn | Errno {
  const mem = fs.mem;
  const fresh = (off === 0 && n === PAGE_SIZE) || pgoff * PAGE_SIZE >= size;
  for (;;) {
    const cached = fresh ? findGetPage(mem, ip.slot, pgoff) : -1;
    if (!fresh || cached !== -1) {
      // Must be read, or is cached already (readCachePage then just finds it).
      const pfn = readCachePage(mem, ip.slot, pgoff, fs.aops, undefined, fs.aopsLookup);
      if (cached !== -1) putPage(mem, cached);
      if (isErr(pfn)) return pfn;
      lockPage(mem, pfn);
      return pfn;
    }
    // As readCachePage does: reclaim (writing dirty pages back) while that frees frames.
    const pfn = withReclaim(
      mem,
      () => allocFrame(mem),
      (m, nr) => shrinkPageCache(m, nr, fs.aopsLookup),
    );
    if (isErr(pfn)) return pfn;
    lockPage(mem, pfn);
    if (addToPageCacheLocked(mem, pfn, ip.slot, pgoff) < 0) {
      unlockPage(mem, pfn);
      putPage(mem, pfn);
      continue; // someone cached it meanwhile
    }
    pageView(mem, pfn).set(ZERO_PAGE);
    codeWritten(mem, pfn * PAGE_SIZE, PAGE_SIZE);
    setPageFlag(mem, pfn, PG_uptodate);
    return pfn;
  }
}

/**
 * Copy `src` into the page cache of `ip` at `pos`, dirtying each page, and
 * extend i_size to the end of the write. Caller holds i_rwsem for write.
 * No block is allocated here: writeback does it (delayed allocation).
 *
 * @returns the bytes written, or -errno when nothing was written
 */
export function filemapWrite(fs: VfsFs, ip: VInode, pos: number, src: Uint8Array): number {
  const mem = fs.mem;
  let size = fs.size(ip);
  let done = 0;
  let err = 0;
  while (done < src.length) {
    const p = pos + done;
    const pgoff = Math.floor(p / PAGE_SIZE);
    const off = p - pgoff * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, src.length - done);
    const pfn = writeBegin(fs, ip, pgoff, off, n, size);
    if (isErr(pfn)) {
      err = pfn;
      break;
    }
    mem.u8.set(src.subarray(done, done + n), pfn * PAGE_SIZE + off);
    codeWritten(mem, pfn * PAGE_SIZE + off, n);
    setPageDirty(mem, pfn);
    // i_size covers the page before it is unlocked (Linux's write_end):
    // eviction, while the rest of this write allocates frames, may write
    // the page back, and a block past i_size is one truncate never frees.
    if (p + n > size) {
      fs.setSize(ip, p + n);
      size = p + n;
    }
    unlockPage(mem, pfn);
    putPage(mem, pfn);
    done += n;
  }
  statAdd(mem, VMSTAT.copiedWrite, done);
  return done > 0 ? done : err;
}

/**
 * Write back every dirty cached page of `ip` (Linux's
 * filemap_write_and_wait). Caller holds no page lock.
 *
 * @returns pages written, or the first -errno
 */
export function filemapWriteback(fs: VfsFs, ip: VInode, from = 0, to = Infinity): number {
  return writebackMapping(fs.mem, ip.slot, fs.aops, { from, to });
}

/**
 * Whether file block `iblock` of `ip` holds data for SEEK_DATA/SEEK_HOLE: a
 * mapped block, or a dirty cached page not yet written back. A clean cached
 * page over a hole (a read of the hole) is still a hole, so both modes
 * answer alike.
 *
 * Entry: i_rwsem held for read (vfs seekDataHole), no page lock. Takes no
 * lock: getBlock without create, findGetPage and putPage are lock-free.
 *
 * @returns true or false, or getBlock's negative errno
 */
export function filemapBlockHasData(fs: VfsFs, ip: VInode, iblock: number): boolean | number {
  const b = fs.getBlock(ip, iblock, false);
  if (b < 0) return b;
  if (b > 0) return true;
  if (fs.isDax(ip)) return false;
  const pfn = findGetPage(fs.mem, ip.slot, iblock);
  if (pfn === -1) return false;
  const dirty = testPageFlag(fs.mem, pfn, PG_dirty);
  putPage(fs.mem, pfn);
  return dirty;
}

// ---------------------------------------------------------------------------
// O_DIRECT

/** Direction of a direct I/O. */
export type DirectRw = "read" | "write";

/**
 * The O_DIRECT transfer of a non-DAX file (Linux's ->direct_IO). The
 * default below copies between the device and the kernel buffer with bio;
 * the mm layer replaces it (setDirectIO) with the get_user_pages path.
 * Entry: i_rwsem held, read for "read" and write for "write".
 */
export type DirectIO = (
  fs: VfsFs,
  ip: VInode,
  rw: DirectRw,
  pos: number,
  buf: Uint8Array,
) => number;

/** Alignment O_DIRECT requires of position and length: the block size. */
export const DIO_ALIGN = PAGE_SIZE;

/**
 * Default O_DIRECT: aligned requests only (else -EINVAL, as Linux). A read
 * first writes back cached dirty pages of the range so it sees them; a write
 * writes them back first, goes to the device, then copies the new bytes into
 * any page still cached so the cache never serves stale data (Linux
 * invalidates instead). Holes read as zeros; a read stops at EOF.
 *
 * Entry: i_rwsem held, read for "read" and write for "write" (DirectIO); no
 * page lock. Takes each dirty page's lock in turn to write it back and each
 * cached page's lock to update it, and writepage's getBlock takes the
 * block-map lock to fill holes; returns with i_rwsem still held and nothing
 * else.
 *
 * @returns bytes transferred, or -errno when none were
 */
export function defaultDirectIO(
  fs: VfsFs,
  ip: VInode,
  rw: DirectRw,
  pos: number,
  buf: Uint8Array,
): number {
  if (pos % DIO_ALIGN !== 0 || buf.length % DIO_ALIGN !== 0) return -EINVAL;
  const first = pos / PAGE_SIZE;
  const nblocks = buf.length / PAGE_SIZE;
  const wb = filemapWriteback(fs, ip, first, first + nblocks);
  if (wb < 0) return wb;
  if (rw === "read") {
    const size = fs.size(ip);
    if (pos >= size) return 0;
    const want = Math.min(buf.length, size - pos);
    const blocks = Math.ceil(want / PAGE_SIZE);
    for (let i = 0; i < blocks; i++) {
      const r = fs.aops.readpage(
        ip.slot,
        first + i,
        buf.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE),
      );
      if (r < 0) return i > 0 ? i * PAGE_SIZE : r;
    }
    return want;
  }
  let done = 0;
  for (let i = 0; i < nblocks; i++) {
    const chunk = buf.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    const r = fs.aops.writepage(ip.slot, first + i, chunk);
    if (r < 0) {
      if (done === 0) return r;
      break;
    }
    const pfn = findGetPage(fs.mem, ip.slot, first + i);
    if (pfn !== -1) {
      lockPage(fs.mem, pfn);
      pageView(fs.mem, pfn).set(chunk);
      codeWritten(fs.mem, pfn * PAGE_SIZE, PAGE_SIZE);
      unlockPage(fs.mem, pfn);
      putPage(fs.mem, pfn);
    }
    done += PAGE_SIZE;
  }
  if (pos + done > fs.size(ip)) fs.setSize(ip, pos + done);
  return done;
}

let directIOImpl: DirectIO = defaultDirectIO;

/** Replace the O_DIRECT implementation (the mm layer's get_user_pages path). */
export function setDirectIO(fn: DirectIO): void {
  directIOImpl = fn;
}

/** Run the current O_DIRECT implementation. Same contract as DirectIO. */
export function directIO(
  fs: VfsFs,
  ip: VInode,
  rw: DirectRw,
  pos: number,
  buf: Uint8Array,
): number {
  return directIOImpl(fs, ip, rw, pos, buf);
}
