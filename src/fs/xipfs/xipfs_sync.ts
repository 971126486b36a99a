/**
 * Durability of the live xipfs: fsync and sync.
 *
 * Memory device (DAX or not): the device region IS the image, so what
 * "durable" means is "in the host image file". The Machine gives the mount
 * an `imagePath`; every change made through the filesystem marks its device
 * block dirty in the shared SB_INFO bitmap (balloc.ts markBlockDirty; the mm
 * layer marks blocks on DAX write faults with the same call). fsync takes
 * SB_INFO.syncLock, test-and-clears each dirty bit, writes those blocks in place
 * into the image file (pwrite at block * 4096, contiguous blocks in one
 * write) and fdatasyncs. So:
 *   - every change that completed before fsync was called, by any thread, is
 *     in the image file when fsync returns (the bits were set before we
 *     cleared them; a block written meanwhile is set again and goes next time);
 *   - a change made after fsync started may or may not be in it; it is
 *     durable after the next fsync, or after the Machine's atomic save at exit;
 *   - fsync writes every dirty block of the device, not only the file's
 *     (Linux's ext2 does the same for its metadata); the superblock goes too,
 *     with state "dirty", so an image taken after a crash says it was not
 *     unmounted cleanly;
 *   - stores through a writable DAX mapping after the fault that marked the
 *     block: to catch them without write-protecting PTEs (Linux's
 *     dax_writeback_mapping_range + pfn_mkclean), fsync of an inode with any
 *     VMA on its i_mmap list re-marks all of its blocks.
 * Without an imagePath there is no host file to make anything durable in;
 * fsync returns 0 and the Machine's save at exit is the only persistence.
 *
 * Bio-only device: data pages are written back (writebackMapping), metadata
 * pages too (metacache.ts), then the device is flushed (fdatasync).
 *
 * @module
 */

import { ISLOT, SB_INFO, XIPFS_STATE_CLEAN } from "../../abi/layout/mod.ts";
import { describeHostError, fileIdentity, imagePwrite, imageSync } from "../../hw/image_file.ts";
import { EIO } from "../../abi/errno.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { PAGE_SIZE } from "../../abi/types.ts";
import { mutexLock, mutexUnlock } from "../../sync/mutex.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { markBlockDirty } from "./balloc.ts";
import { fileAops } from "./getblock.ts";
import { isDax } from "./icache.ts";
import { writebackMapping } from "../pagecache/pagecache.ts";
import { bmapWalk } from "./xipfs_bmap.ts";
import { type InodeRef, islotBase, sbInfoWord, type XipCtx } from "./xipfs_ctx.ts";
import { superGet } from "./xipfs_format.ts";

/** Dirty blocks written into the image by this thread's fsyncs (tests). */
let blocksWritten = 0;
export const syncBlocksWritten = (): number => blocksWritten;

/** Why this thread's last syncDirtyBlocks failed (one phrase), for unmount's message. */
let lastError = "";
export const syncLastError = (): string => lastError;

/**
 * Write every dirty device block into the host image file and fdatasync it.
 * Caller holds no lock; takes SB_INFO.syncLock (a leaf, unchecked: it has no
 * class in LOCK_ORDER and nothing is taken under it), so the writes of two
 * syncs never interleave and the image sees them in one order.
 *
 * Order, so that a crash at any point leaves an image fsck can repair
 * without losing what an earlier sync made durable: the superblock is
 * written dirty and flushed at mount (mountXipfs) before anything else;
 * a sync writes its blocks and flushes once; when the superblock says
 * clean (unmount), every other block is written and flushed first and the
 * superblock last, flushed again, as ext2's put_super does.
 *
 * @returns 0, or -EIO (the bits of blocks not written are set again;
 *   syncLastError says why)
 */
export function syncDirtyBlocks(c: XipCtx): number {
  if (c.mdev === null || c.imagePath === null) return 0;
  const lock = sbInfoWord(c, "syncLock");
  mutexLock(c.k32, lock, LockClass.NONE);
  let file: Deno.FsFile | null = null;
  const words = Math.ceil(Math.min(c.vol.sb.totalBlocks, c.mdev.blocks) / 32);
  const base = c.sbInfo + SB_INFO.dirty;
  try {
    file = Deno.openSync(c.imagePath, { write: true });
    // The path must still name the file the Machine locked: blocks of this
    // device written into a file renamed over it would corrupt that file
    // (qemu keeps its descriptor; a Worker cannot share the main thread's).
    if (c.imageIdentity !== null && fileIdentity(file.statSync()) !== c.imageIdentity) {
      return fail("another file has replaced it on the host; not writing into that one");
    }
    const superLast = superGet(c.vol, "state") === XIPFS_STATE_CLEAN &&
      (Atomics.load(c.k32, base) & 1) !== 0;
    if (superLast) Atomics.and(c.k32, base, ~1);
    for (let wi = 0; wi < words; wi++) {
      if (Atomics.load(c.k32, base + wi) === 0) continue;
      const bits = Atomics.exchange(c.k32, base + wi, 0);
      for (let bit = 0; bit < 32;) {
        if ((bits & (1 << bit)) === 0) {
          bit++;
          continue;
        }
        let n = 1;
        while (bit + n < 32 && (bits & (1 << (bit + n))) !== 0) n++;
        const b = wi * 32 + bit;
        const err = writeBlocks(file, c.mdev.bytes, b, n);
        if (err !== null) {
          Atomics.or(c.k32, base + wi, bits); // try again next time; later words were not cleared
          if (superLast) Atomics.or(c.k32, base, 1);
          return fail(err);
        }
        blocksWritten += n;
        bit += n;
      }
    }
    imageSync(file);
    if (superLast) {
      const err = writeBlocks(file, c.mdev.bytes, 0, 1);
      if (err !== null) {
        Atomics.or(c.k32, base, 1);
        return fail(err);
      }
      blocksWritten++;
      imageSync(file);
    }
    return 0;
  } catch (e) {
    // Only the host's errors become -EIO; a broken invariant stays a panic.
    if (e instanceof KernelPanic) throw e;
    return fail(describeHostError(e));
  } finally {
    file?.close();
    mutexUnlock(c.k32, lock);
  }
}

function fail(why: string): number {
  lastError = why;
  return -EIO;
}

/** pwrite blocks [b, b + n) of `bytes` at the same place in `file`; null, or why it failed. */
function writeBlocks(file: Deno.FsFile, bytes: Uint8Array, b: number, n: number): string | null {
  try {
    imagePwrite(file, b * PAGE_SIZE, bytes.subarray(b * PAGE_SIZE, (b + n) * PAGE_SIZE));
    return null;
  } catch (e) {
    return describeHostError(e);
  }
}

/**
 * Make `ip`'s data, and the metadata needed to reach it, durable (see the
 * module comment for exactly what). Entry: a reference to `ip`, no lock of
 * it held.
 *
 * @returns 0 or -errno
 */
export function fsync(c: XipCtx, ip: InodeRef): number {
  if (!isDax(c, ip)) {
    const n = writebackMapping(c.mem, ip.slot, fileAops(c));
    if (n < 0) return n;
  } else if (Atomics.load(c.k32, islotBase(c, ip.slot) + ISLOT.iMmap) !== 0) {
    bmapWalk(c.vol, ip.ino, (b, _ib, _k, valid) => {
      if (valid) markBlockDirty(c, b);
    });
  }
  return syncFs(c);
}

/**
 * Write everything dirty that this device keeps outside the host file: on a
 * memory device the dirty blocks into the image; on a bio device the
 * metadata pages, then flush. File data in the page cache is the caller's
 * (fsync, unmount).
 *
 * Entry: no page lock held. A memory device takes and drops SB_INFO.syncLock
 * (syncDirtyBlocks); a bio device takes each dirty metadata page's lock in
 * turn (writebackMapping).
 *
 * @returns 0 or -errno
 */
export function syncFs(c: XipCtx): number {
  if (c.meta !== null) return c.meta.sync();
  return syncDirtyBlocks(c);
}
