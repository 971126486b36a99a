/**
 * MAP_SYNC and CPU-cache persistence for DAX files.
 *
 * Two halves, as Linux splits them:
 *
 * 1. Synchronous faults (fs/dax.c's dax_fault_is_synchronous,
 *    VM_FAULT_NEEDDSYNC and dax_finish_sync_fault). A write fault on a
 *    MAP_SYNC mapping must not make a page writable while the metadata
 *    that reaches its block (the inode, the indirect blocks on the way, the
 *    block bitmap, the zeroed block itself when it is new) is only in
 *    memory: a store that the application then makes durable with a cache
 *    flush would sit in a block the image does not yet give the file.
 *    daxSyncNeeded says whether any of those blocks is dirty; the fault
 *    handler then drops its locks, daxFinishSyncFault makes the file system
 *    durable in the host image (fsync's syncFs) and maps the page writable.
 *
 * 2. Data (pmem's arch_wb_cache_pmem + wmb_pmem: CLWB on each line, then
 *    SFENCE). The hart's Zicbom cbo.clean and cbo.flush hand the physical
 *    address of a 64-byte line to persistLine, which writes the line of
 *    device memory into the host image and fdatasyncs it before the
 *    instruction retires; the FENCE after it is then an ordinary fence. So
 *    a guest makes a store durable with a cache-block flush and a fence, no
 *    fsync or msync, as on a machine with persistent memory, where the host
 *    image file is the persistence domain. Lines of RAM are not persistent
 *    and are ignored.
 *
 * Without a host image (a snapshot run) there is nothing to make durable:
 * both halves do nothing.
 *
 * @module
 */

import { EIO } from "../abi/errno.ts";
import { fileIdentity, imagePwrite, imageSync } from "../hw/image_file.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { LockClass } from "../sync/lockdep.ts";
import { bmapPath } from "./xipfs/xipfs_bmap.ts";
import { blockOff, inodeBlock, inodePtrOff } from "./xipfs/xipfs_format.ts";
import { syncFs } from "./xipfs/xipfs_sync.ts";
import { type InodeRef, sbInfoWord, type XipCtx } from "./xipfs/xipfs_ctx.ts";

/** Linux's VM_FAULT_NEEDDSYNC: map the page only after the metadata is durable. */
export const VM_FAULT_NEEDDSYNC = 0x2000;
/** Bytes of a cache block (Zicbom's cache-block size here, and pmem's line). */
export const CACHE_LINE = 64;

/** Whether device block `b`'s dirty bit is set (it changed since the last sync). */
function blockDirty(c: XipCtx, b: number): boolean {
  return (Atomics.load(c.k32, sbInfoWord(c, "dirty") + (b >>> 5)) & (1 << (b & 31))) !== 0;
}

/** Bits of the block bitmap one bitmap block holds. */
const BITS_PER_BLOCK = PAGE_SIZE * 8;

/**
 * Whether a write fault of `ip` at `pgoff`, backed by block `b`, must make
 * the file system durable before it maps the page writable: some block of
 * the metadata that reaches `b`, or `b` itself, changed since the last
 * sync (Linux's IOMAP_F_DIRTY, the inode needing fdatasync). When none did,
 * waits for a sync in flight (it may have cleared their bits and not yet
 * reached the disk). Entry: invalidate_lock and the DAX entry held; takes
 * SB_INFO.syncLock briefly.
 */
export function daxSyncNeeded(c: XipCtx, ip: InodeRef, pgoff: number, b: number): boolean {
  if (c.imagePath === null || c.mdev === null) return false;
  const meta = [
    inodeBlock(c.vol.sb, ip.ino),
    b,
    c.vol.sb.blockBitmapStart + Math.floor(b / BITS_PER_BLOCK),
  ];
  const path = bmapPath(pgoff);
  if (path !== null) {
    let w = inodePtrOff(c.vol, ip.ino, path.slot) / 4;
    for (const i of path.idx) {
      const p = Atomics.load(c.i32, w) >>> 0;
      if (p === 0) break;
      meta.push(p);
      w = blockOff(c.vol, p) / 4 + i;
    }
  }
  if (meta.some((m) => blockDirty(c, m))) return true;
  const lock = sbInfoWord(c, "syncLock");
  mutexLock(c.k32, lock, LockClass.NONE);
  mutexUnlock(c.k32, lock);
  return false;
}

/**
 * daxSyncNeeded for a megapage write fault: blocks [b, b + n) at file
 * pages [pgoff, pgoff + n). Entry: invalidate_lock and the PMD-range lock
 * held; takes SB_INFO.syncLock briefly.
 */
export function daxSyncNeededRange(
  c: XipCtx,
  ip: InodeRef,
  pgoff: number,
  b: number,
  n: number,
): boolean {
  for (let i = 0; i < n; i++) if (blockDirty(c, b + i)) return true;
  return daxSyncNeeded(c, ip, pgoff + n - 1, b + n - 1) || daxSyncNeeded(c, ip, pgoff, b);
}

/**
 * The first half of dax_finish_sync_fault: make the metadata (and every
 * other dirty block) durable in the host image, as vfs_fsync_range does.
 * Entry: no lock of the inode held (the fault dropped them); mmap_lock
 * held for reading.
 *
 * @returns 0 or -EIO
 */
export function daxSyncMetadata(c: XipCtx): number {
  return syncFs(c);
}

/** Lines this thread's cbo.clean/cbo.flush wrote into the host image (tests, stats). */
let linesPersisted = 0;
export const persistedLines = (): number => linesPersisted;

/**
 * Zicbom cbo.clean / cbo.flush of physical address `pa` (pmem's CLWB of one
 * line): write the 64-byte line holding it into the host image and
 * fdatasync, before the instruction retires. Lines of RAM hold nothing
 * persistent and are ignored, as is everything without a host image. The
 * write is synchronous rather than queued for the next FENCE: a later
 * FENCE then has nothing left to wait for, so it stays an ordinary fence
 * in both hart tiers (the translator compiles FENCE to nothing), and the
 * guest's "cbo.flush; fence" still means "durable once the fence
 * retires". Holds SB_INFO.syncLock, so a concurrent fsync and this never
 * interleave their writes. Entry: no lock held.
 *
 * @returns 0 (also for RAM or no image), or -EIO when the host write fails
 */
export function persistLine(c: XipCtx, pa: number): number {
  const cfg = c.mem.layout.config;
  const first = cfg.ramFrames * PAGE_SIZE;
  if (pa < first || pa >= first + cfg.deviceFrames * PAGE_SIZE) return 0;
  if (c.imagePath === null || c.mdev === null) return 0;
  const off = (pa - first) & ~(CACHE_LINE - 1);
  const lock = sbInfoWord(c, "syncLock");
  mutexLock(c.k32, lock, LockClass.NONE);
  let f: Deno.FsFile | null = null;
  try {
    // Opened for each line, as syncDirtyBlocks opens for each sync: the
    // writes go through imagePwrite/imageSync, so an image write log
    // (tests/crash) records them in the one order SB_INFO.syncLock gives.
    f = Deno.openSync(c.imagePath, { write: true });
    // As syncDirtyBlocks: never into a file renamed over the locked image.
    if (c.imageIdentity !== null && fileIdentity(f.statSync()) !== c.imageIdentity) return -EIO;
    imagePwrite(f, off, c.mdev.bytes.subarray(off, off + CACHE_LINE));
    imageSync(f);
    linesPersisted++;
    return 0;
  } catch {
    return -EIO;
  } finally {
    f?.close();
    mutexUnlock(c.k32, lock);
  }
}

/** The file system whose image this thread's cache-block writes go to (installFileMm). */
let persistCtx: XipCtx | null = null;

/** Set this thread's file system for persistPhys (once per thread, at mount or attach). */
export function setPersistCtx(c: XipCtx | null): void {
  persistCtx = c;
}

/**
 * The hart's cache-block hook (HartEnv.cacheBlock): persistLine on this
 * thread's file system. Entry: no lock held.
 *
 * @returns 0 (also with no file system), or -EIO
 */
export const persistPhys = (pa: number): number =>
  persistCtx === null ? 0 : persistLine(persistCtx, pa);
