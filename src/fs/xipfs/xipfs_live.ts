/**
 * The live, mounted xipfs: one XipFs object per thread over shared state.
 *
 * The main thread mounts (mountXipfs); each Worker attaches (attachXipfs)
 * to the same memory and a device handle of its own, with no
 * re-initialisation. All state that matters is shared: the device (on a
 * memory device the image itself, no copy), the inode cache and mount
 * state in the kernel tables, and the page cache. The object only holds
 * this thread's views; every method is a thin call into the module that
 * does the work:
 *
 * ```
 *  icache.ts        iget / iput / isDax (inode cache, orphans)
 *  balloc.ts        lock-free block and inode allocators, dirty tracking
 *  getblock.ts      getBlock (the seeds' get_block), block freeing, page-cache aops
 *  dax.ts           daxRead / daxWrite (dax_iomap_rw)
 *  xipfs_truncate.ts  truncate, punchHole, xipTruncatePage, the unmap hook
 *  xipfs_falloc.ts    fallocate: allocate, zero, collapse and insert ranges
 *  xipfs_fsxattr.ts   FS_IOC_FS[GS]ETXATTR: the extent-size hint
 *  xipfs_live_ns.ts lookup, create, mkdir, unlink, rmdir, rename, symlink, readdir
 *  xipfs_sync.ts    fsync, sync (durability in the host image)
 *  metacache.ts     metadata of a bio-only device in the page cache
 * ```
 *
 * Mount options, as Linux's: dax=always (every regular file is S_DAX;
 * refused on a device without directAccess), dax=never (none is),
 * dax=inode (files with XIP_FL_DAX are). A device without directAccess is
 * mounted in page-cache mode: dax=inode and dax=never both mean no DAX.
 *
 * @module
 */

import {
  inodeLock,
  inodeLockShared,
  inodeUnlock,
  inodeUnlockShared,
  invalidateLockShared,
  invalidateUnlockShared,
} from "./xipfs_locks.ts";
import {
  ICACHE_SLOTS,
  IFLAG_SHMEM,
  ISLOT,
  SB_INFO,
  SB_INFO_DAX_ALWAYS,
  SB_INFO_DAX_INODE,
  SB_INFO_DAX_NEVER,
  SB_INFO_MOUNTED,
  SB_INFO_UNMOUNTED,
  XIPFS_BLOCK_SIZE,
  XIPFS_STATE_CLEAN,
  XIPFS_STATE_DIRTY,
} from "../../abi/layout/mod.ts";
import { EBUSY, errnoName } from "../../abi/errno.ts";
import { asBlock, type BlockNo, type Ino } from "../../abi/types.ts";
import { type BlockDevice, MemDevice } from "../../hw/device.ts";
import type { Memory } from "../../hw/memory.ts";
import {
  blocksAllocated,
  blocksFreed,
  freeBlockCount,
  freeInodeCount,
  markBlockDirty,
  markInodeDirty,
} from "./balloc.ts";
import { daxAppend, daxRead, daxWrite, nowSecs } from "../dax.ts";
import { fileAops, getBlock } from "./getblock.ts";
import { icacheShrink, icount, iget, ihold, iput, isDax, slotInode } from "./icache.ts";
import { MetaCache, XIPFS_META_MAPPING } from "./metacache.ts";
import type { AddressSpaceOps } from "../pagecache/pagecache.ts";
import { fsync, syncFs, syncLastError } from "./xipfs_sync.ts";
import { punchHole, truncate, xipTruncatePage } from "./xipfs_truncate.ts";
import { xipfsFallocate } from "./xipfs_falloc.ts";
import { type FsxAttr, getFsxattr, setFsxattr } from "./xipfs_fsxattr.ts";
import { hwpoisonLoad, setPoison } from "./xipfs_poison.ts";
import * as ns from "./xipfs_live_ns.ts";
import {
  inodeGet,
  inodeGetSize,
  inodeSet,
  inodeSetSize,
  openVolume,
  superGet,
  superSet,
  type XipVol,
} from "./xipfs_format.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs_ctx.ts";

export type { InodeRef } from "./xipfs_ctx.ts";
export type { ReaddirEntry } from "./xipfs_live_ns.ts";
export { setUnmapMappingRangeHook, type UnmapMappingRangeHook } from "./xipfs_truncate.ts";
export { XIPFS_MAX_BYTES } from "../dax.ts";

/** The dax= mount option. */
export type DaxOption = "always" | "never" | "inode";

/** Options of mountXipfs. */
export interface MountOptions {
  dax: DaxOption;
  /** Host image file fsync writes into (memory device); without it fsync persists nothing. */
  imagePath?: string;
  /** fileIdentity the file at imagePath must have (src/hw/image_file.ts); absent: not checked. */
  imageIdentity?: string;
}

/** Options of attachXipfs. */
export interface AttachOptions {
  /** The same imagePath the mount was given, so this thread's fsync can write it. */
  imagePath?: string;
  /** The same imageIdentity the mount was given. */
  imageIdentity?: string;
}

/** What getattr reports (struct stat, reduced). */
export interface XipStat {
  ino: Ino;
  mode: number;
  size: number;
  nlink: number;
  /** st_blocks: 512-byte units allocated, indirect blocks included. */
  blocks: number;
  blksize: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  /** S_DAX (statx's STATX_ATTR_DAX). */
  dax: boolean;
}

const DAX_MODES: Record<DaxOption, number> = {
  never: SB_INFO_DAX_NEVER,
  always: SB_INFO_DAX_ALWAYS,
  inode: SB_INFO_DAX_INODE,
};

/** Build this thread's context; `{ error }` when the device holds no valid xipfs. */
function buildCtx(
  mem: Memory,
  dev: BlockDevice,
  imagePath: string | null,
  imageIdentity: string | null,
): XipCtx | { error: string } {
  const k32 = mem.k32;
  const sbInfo = mem.layout.xipfs.base;
  const icache = mem.layout.icache.base;
  const common = { mem, k32, dev, icache, sbInfo, imagePath, imageIdentity };
  if (dev instanceof MemDevice) {
    const o = openVolume(dev.bytes);
    if (!o.ok) return { error: o.error };
    const i32 = new Int32Array(mem.phys, dev.bytes.byteOffset, dev.bytes.byteLength / 4);
    return { ...common, mdev: dev, vol: o.vol, i32, meta: null };
  }
  const block0 = new Uint8Array(XIPFS_BLOCK_SIZE);
  const r = dev.bioRead(asBlock(0), block0);
  if (r < 0) return { error: `cannot read the superblock: ${errnoName(r)}` };
  const o = openVolume(block0, dev.blocks * XIPFS_BLOCK_SIZE);
  if (!o.ok) return { error: o.error };
  const meta = new MetaCache(mem, dev, sbInfo + SB_INFO.metaGen);
  const vol: XipVol = {
    dev: mem.u8,
    view: new DataView(mem.phys),
    sb: o.vol.sb,
    blockBase: (b) => meta.base(b),
  };
  return { ...common, mdev: null, vol, i32: new Int32Array(mem.phys), meta };
}

/**
 * Mount the xipfs on `dev` (main thread, once). Validates the superblock,
 * marks the filesystem dirty in it (clean again at unmount), and sets up the
 * shared mount state. `dax: "always"` on a device without directAccess is
 * refused, as Linux refuses DAX on a block device that cannot do it.
 *
 * Entry: no lock held; nothing else uses the mount yet. With an imagePath it
 * takes and drops the image's sync lock (syncFs) to write the dirty
 * superblock; nothing else is locked.
 *
 * @returns the filesystem, or `{ error }` with one line saying why not
 */
export function mountXipfs(
  mem: Memory,
  dev: BlockDevice,
  opts: MountOptions,
): XipFs | { error: string } {
  const mode = DAX_MODES[opts.dax];
  if (mode === undefined) return { error: `unknown dax mode "${opts.dax}"` };
  const k32 = mem.k32;
  const sbInfo = mem.layout.xipfs.base;
  if (Atomics.load(k32, sbInfo + SB_INFO.state) === SB_INFO_MOUNTED) {
    return { error: "already mounted" };
  }
  if (opts.dax === "always" && !(dev instanceof MemDevice)) {
    return {
      error: `dax=always: the ${dev.kind} device has no directAccess (DAX needs CPU-addressable ` +
        `storage); mount it with dax=never`,
    };
  }
  const c = buildCtx(mem, dev, opts.imagePath ?? null, opts.imageIdentity ?? null);
  if ("error" in c) return c;
  if (!(dev instanceof MemDevice) && opts.imagePath !== undefined) {
    return { error: "imagePath is for a memory device; a bio device is its own image" };
  }
  for (const f of ["allocs", "frees", "inodeFrees", "metaGen"] as const) {
    Atomics.store(k32, sbInfo + SB_INFO[f], 0);
  }
  Atomics.store(k32, sbInfo + SB_INFO.rotor, c.vol.sb.dataStart);
  Atomics.store(k32, sbInfo + SB_INFO.inoRotor, 0);
  Atomics.store(k32, sbInfo + SB_INFO.daxMode, mode);
  Atomics.store(k32, sbInfo + SB_INFO.bio, c.meta === null ? 0 : 1);
  superSet(c.vol, "state", XIPFS_STATE_DIRTY);
  superSet(c.vol, "mountCount", superGet(c.vol, "mountCount") + 1);
  superSet(c.vol, "writeTime", nowSecs());
  markBlockDirty(c, 0);
  if (c.mdev !== null) hwpoisonLoad(c); // the device's poison list, kept in the image
  // The image must say "dirty" before any other block of it is written in
  // place, so that a crash from here on is seen (xipfs_sync.ts).
  if (opts.imagePath !== undefined && syncFs(c) < 0) {
    return { error: `cannot write the image: ${syncLastError()}` };
  }
  Atomics.store(k32, sbInfo + SB_INFO.state, SB_INFO_MOUNTED);
  return new XipFs(c);
}

/**
 * Attach this thread (a Worker) to the filesystem another thread mounted on
 * the same memory, through this thread's own handle on the same device.
 * Touches no shared state.
 *
 * @returns the filesystem, or `{ error }` (not mounted, device mismatch, bad image)
 */
export function attachXipfs(
  mem: Memory,
  dev: BlockDevice,
  opts: AttachOptions = {},
): XipFs | { error: string } {
  const sbInfo = mem.layout.xipfs.base;
  if (Atomics.load(mem.k32, sbInfo + SB_INFO.state) !== SB_INFO_MOUNTED) {
    return { error: "not mounted" };
  }
  const bio = Atomics.load(mem.k32, sbInfo + SB_INFO.bio) === 1;
  if (bio === dev instanceof MemDevice) {
    return { error: `the filesystem was mounted on a ${bio ? "bio" : "memory"} device` };
  }
  const c = buildCtx(mem, dev, opts.imagePath ?? null, opts.imageIdentity ?? null);
  return "error" in c ? c : new XipFs(c);
}

/** One thread's handle on the mounted xipfs. Every call needs this thread's task set (src/sync). */
export class XipFs {
  /** Page-cache ops for this filesystem's regular files (mapping id = icache slot). */
  readonly aops: AddressSpaceOps;

  constructor(readonly ctx: XipCtx) {
    this.aops = fileAops(ctx);
    // A bio write of a whole poisoned block clears it (pmem_do_write): keep the image's list too.
    if (ctx.mdev !== null) ctx.mdev.poisonCleared = (b) => setPoison(ctx, b, 1, false);
  }

  get mem(): Memory {
    return this.ctx.mem;
  }
  get vol(): XipVol {
    return this.ctx.vol;
  }
  get dev(): BlockDevice {
    return this.ctx.dev;
  }
  /** The dax= option of the mount. */
  get daxMode(): DaxOption {
    const m = Atomics.load(this.ctx.k32, this.ctx.sbInfo + SB_INFO.daxMode);
    return m === SB_INFO_DAX_ALWAYS ? "always" : m === SB_INFO_DAX_INODE ? "inode" : "never";
  }
  /** The root directory's inode number. */
  get rootIno(): Ino {
    return this.ctx.vol.sb.rootIno;
  }

  // --- inode cache -------------------------------------------------------

  /** See icache.ts iget. @returns a reference, -ENOENT or -ENFILE */
  iget(ino: Ino): InodeRef | number {
    return iget(this.ctx, ino);
  }
  /** Another reference to a held inode. */
  ihold(ip: InodeRef): void {
    ihold(this.ctx, ip);
  }
  /** Drop a reference; the last one of an unlinked inode frees it. */
  iput(ip: InodeRef): void {
    iput(this.ctx, ip);
  }
  /** S_DAX: mount option and inode flag. */
  isDax(ip: InodeRef): boolean {
    return isDax(this.ctx, ip);
  }
  /** i_count (tests). */
  icount(ip: InodeRef): number {
    return icount(this.ctx, ip);
  }
  /** The inode whose page-cache mapping id is `mapping`, or null. */
  inodeOfMapping(mapping: number): InodeRef | null {
    return slotInode(this.ctx, mapping);
  }
  /**
   * Word index in mem.k32 of a lock or field of `ip`'s slot, for the mm
   * layer (invalidateLock, iMmapLock, iMmap, ...).
   */
  islotWord(ip: InodeRef, field: keyof typeof ISLOT): number {
    return islotBase(this.ctx, ip.slot) + ISLOT[field];
  }

  // --- locks the VFS and mm take around their own work -------------------

  /** i_rwsem for write (Linux inode_lock). */
  inodeLock(ip: InodeRef): void {
    inodeLock(this.ctx, ip);
  }
  inodeUnlock(ip: InodeRef): void {
    inodeUnlock(this.ctx, ip);
  }
  /** i_rwsem for read (Linux inode_lock_shared). */
  inodeLockShared(ip: InodeRef): void {
    inodeLockShared(this.ctx, ip);
  }
  inodeUnlockShared(ip: InodeRef): void {
    inodeUnlockShared(this.ctx, ip);
  }
  /** invalidate_lock for read: faults, and page-cache fills (filemap_invalidate_lock_shared). */
  invalidateLockShared(ip: InodeRef): void {
    invalidateLockShared(this.ctx, ip);
  }
  invalidateUnlockShared(ip: InodeRef): void {
    invalidateUnlockShared(this.ctx, ip);
  }

  // --- blocks and data ---------------------------------------------------

  /** The seeds' get_block; see getblock.ts. */
  getBlock(ip: InodeRef, iblock: number, create: boolean): BlockNo {
    return getBlock(this.ctx, ip, iblock, create);
  }
  /** DAX read (i_rwsem read). @returns bytes or -errno */
  daxRead(ip: InodeRef, pos: number, dst: Uint8Array): number {
    return daxRead(this.ctx, ip, pos, dst);
  }
  /** DAX write (i_rwsem write). @returns bytes or -errno */
  daxWrite(ip: InodeRef, pos: number, src: Uint8Array): number {
    return daxWrite(this.ctx, ip, pos, src);
  }
  /** DAX append at i_size read under i_rwsem (write). @returns [bytes or -errno, start position] */
  daxAppend(ip: InodeRef, src: Uint8Array): [number, number] {
    return daxAppend(this.ctx, ip, src);
  }
  /** Set the file size, freeing or leaving holes (i_rwsem + invalidate_lock write). */
  truncate(ip: InodeRef, newSize: number): number {
    return truncate(this.ctx, ip, newSize);
  }
  /** Deallocate a byte range, keeping the size. */
  punchHole(ip: InodeRef, off: number, len: number): number {
    return punchHole(this.ctx, ip, off, len);
  }
  /** FS_IOC_FSGETXATTR (xipfs_fsxattr.ts). */
  getFsxattr(ip: InodeRef): FsxAttr {
    return getFsxattr(this.ctx, ip);
  }
  /** FS_IOC_FSSETXATTR: the extent-size hint (xipfs_fsxattr.ts). @returns 0 or -EINVAL */
  setFsxattr(ip: InodeRef, a: FsxAttr): number {
    return setFsxattr(this.ctx, ip, a);
  }
  /** fallocate's other modes (xipfs_falloc.ts); the VFS checked the arguments. */
  fallocate(ip: InodeRef, mode: number, off: number, len: number): number {
    return xipfsFallocate(this.ctx, ip, mode, off, len);
  }
  /** Zero from `size` to the end of its block. Caller holds i_rwsem and invalidate_lock (write). */
  xipTruncatePage(ip: InodeRef, size: number): number {
    return xipTruncatePage(this.ctx, ip, size);
  }
  /**
   * Set i_size (and mtime/ctime) without freeing anything: the page-cache
   * write path's i_size_write after it copied past EOF. Caller holds
   * i_rwsem for write. Use truncate to shrink.
   */
  setSize(ip: InodeRef, size: number): void {
    inodeSetSize(this.ctx.vol, ip.ino, size);
    const t = nowSecs();
    inodeSet(this.ctx.vol, ip.ino, "mtime", t);
    inodeSet(this.ctx.vol, ip.ino, "ctime", t);
    markInodeDirty(this.ctx, ip.ino);
  }
  /** i_size (no lock: a racing writer may be seen before or after). */
  size(ip: InodeRef): number {
    return inodeGetSize(this.ctx.vol, ip.ino);
  }
  /** Record that device block `b` changed (the mm layer calls this on DAX write faults). */
  markBlockDirty(b: number): void {
    markBlockDirty(this.ctx, b);
  }

  // --- namespace ---------------------------------------------------------

  lookup(dir: InodeRef, name: string): Ino | number {
    return ns.lookup(this.ctx, dir, name);
  }
  create(dir: InodeRef, name: string, mode: number, flags?: number): Ino | number {
    return ns.create(this.ctx, dir, name, mode, flags);
  }
  mkdir(dir: InodeRef, name: string, mode: number): Ino | number {
    return ns.mkdir(this.ctx, dir, name, mode);
  }
  /** A socket node (mknod S_IFSOCK); -EPERM for any other type. */
  mknod(dir: InodeRef, name: string, mode: number): Ino | number {
    return ns.mknod(this.ctx, dir, name, mode);
  }
  rmdir(dir: InodeRef, name: string): number {
    return ns.rmdir(this.ctx, dir, name);
  }
  link(ip: InodeRef, dir: InodeRef, name: string): number {
    return ns.link(this.ctx, ip, dir, name);
  }
  unlink(dir: InodeRef, name: string): number {
    return ns.unlink(this.ctx, dir, name);
  }
  rename(
    oldDir: InodeRef,
    oldName: string,
    newDir: InodeRef,
    newName: string,
    noReplace = false,
  ): number {
    return ns.rename(this.ctx, oldDir, oldName, newDir, newName, noReplace);
  }
  symlink(dir: InodeRef, name: string, target: string): Ino | number {
    return ns.symlink(this.ctx, dir, name, target);
  }
  readlink(ip: InodeRef): string | number {
    return ns.readlink(this.ctx, ip);
  }
  readdir(dir: InodeRef, cookie: number, max?: number): ns.ReaddirEntry[] | number {
    return ns.readdir(this.ctx, dir, cookie, max);
  }
  /** stat of a held inode. No lock: fields are read one by one. */
  getattr(ip: InodeRef): XipStat {
    const v = this.ctx.vol;
    const g = (f: Parameters<typeof inodeGet>[2]) => inodeGet(v, ip.ino, f);
    return {
      ino: ip.ino,
      mode: g("mode"),
      size: inodeGetSize(v, ip.ino),
      nlink: g("links"),
      blocks: g("blocks") * (XIPFS_BLOCK_SIZE / 512),
      blksize: XIPFS_BLOCK_SIZE,
      uid: g("uid"),
      gid: g("gid"),
      atime: g("atime"),
      mtime: g("mtime"),
      ctime: g("ctime"),
      dax: this.isDax(ip),
    };
  }

  // --- durability and lifetime -------------------------------------------

  /** Make `ip`'s data durable (xipfs_sync.ts says exactly what). */
  fsync(ip: InodeRef): number {
    return fsync(this.ctx, ip);
  }
  /** Ops for any mapping this fs owns, for page-cache eviction. */
  aopsFor = (mapping: number): AddressSpaceOps | null => {
    if (mapping === XIPFS_META_MAPPING) return this.ctx.meta?.aops ?? null;
    if (mapping <= 0 || mapping >= ICACHE_SLOTS) return null;
    // A shmem inode's pages have no backing store: never written back, never evicted.
    const flags = Atomics.load(this.ctx.k32, islotBase(this.ctx, mapping) + ISLOT.flags);
    return (flags & IFLAG_SHMEM) !== 0 ? null : this.aops;
  };
  /** Blocks allocated / freed since mount, all threads (tests). */
  blocksAllocated(): number {
    return blocksAllocated(this.ctx);
  }
  blocksFreed(): number {
    return blocksFreed(this.ctx);
  }
  freeBlocks(): number {
    return freeBlockCount(this.ctx);
  }
  /** statfs(2) counts: data blocks and inodes, total and free (ext2 reports the same). */
  statfsCounts(): { blocks: number; bfree: number; files: number; ffree: number } {
    const sb = this.ctx.vol.sb;
    return {
      blocks: sb.totalBlocks - sb.dataStart,
      bfree: freeBlockCount(this.ctx),
      files: sb.inodeCount,
      ffree: freeInodeCount(this.ctx),
    };
  }

  /**
   * Unmount (main thread, after every Worker is done): write back cached
   * inodes' pages, mark the superblock clean, write what is dirty to the
   * image (memory device with imagePath) or the device (bio). Refused while
   * an inode is still referenced.
   *
   * @returns 0, -EBUSY, or a writeback error
   */
  unmount(): number {
    const c = this.ctx;
    const busy = icacheShrink(c);
    if (busy > 0) return -EBUSY;
    superSet(c.vol, "state", XIPFS_STATE_CLEAN);
    superSet(c.vol, "writeTime", nowSecs());
    markBlockDirty(c, 0);
    const rc = syncFs(c);
    Atomics.store(c.k32, c.sbInfo + SB_INFO.state, SB_INFO_UNMOUNTED);
    this.detach();
    return rc;
  }

  /** Drop this thread's private pins (a Worker leaving). The mount goes on. */
  detach(): void {
    this.ctx.meta?.release();
  }
}
