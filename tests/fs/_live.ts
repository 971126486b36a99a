/** Test helper (not a test): a machine memory holding a fresh xipfs, mounted live. */
import { asTaskSlot, type TaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import assert from "node:assert/strict";
import { XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { asIno, type Pfn } from "../../src/abi/types.ts";
import { putPage } from "../../src/mm/memmap.ts";
import {
  lockPage,
  pageView,
  readCachePage,
  setPageDirty,
  unlockPage,
} from "../../src/fs/pagecache/pagecache.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import {
  type InodeRef,
  type MountOptions,
  mountXipfs,
  XipFs,
} from "../../src/fs/xipfs/xipfs_live.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";

export interface LiveFs {
  mem: Memory;
  dev: MemDevice;
  fs: XipFs;
  image: Uint8Array;
}

/** Options of freshLive. */
export interface FreshOptions {
  /** Image size in bytes (default 8 MiB). */
  sizeBytes?: number;
  /** Device frames (default: the image's blocks). */
  deviceFrames?: number;
  ramFrames?: number;
  inodes?: number;
  mount?: Partial<MountOptions>;
  /** mkfs sets XIP_FL_DAX on the root (default true). */
  daxFlag?: boolean;
  tid?: TaskSlot;
}

/** mkfs an image, load it into a fresh machine memory, make this thread task 1 and mount. */
export function freshLive(o: FreshOptions = {}): LiveFs {
  const sizeBytes = o.sizeBytes ?? 8 << 20;
  const image = mkfs({ sizeBytes, inodes: o.inodes, dax: o.daxFlag ?? true });
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 256,
    deviceFrames: o.deviceFrames ?? sizeBytes / 4096,
    deviceMemmap: false,
    maxTasks: 8,
  }, { image });
  setDebug(mem.k32, DEBUG_LOCKDEP, true); // every live-fs test checks the lock order
  const tid = o.tid ?? asTaskSlot(1);
  taskInit(mem.k32, tid);
  setCurrentTid(tid);
  const dev = new MemDevice(mem);
  const fs = mountXipfs(mem, dev, { dax: "always", ...o.mount });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  return { mem, dev, fs, image };
}

/** Little deterministic PRNG (mulberry32); tests print the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A new empty file in the root, referenced. */
export function newFile(fs: XipFs, name: string, flags?: number): InodeRef {
  const root = fs.iget(fs.rootIno);
  if (typeof root === "number") throw new Error(`iget root ${root}`);
  const ino = fs.create(root, name, 0o644, flags);
  fs.iput(root);
  if (ino < 0) throw new Error(`create ${name}: ${ino}`);
  const ip = fs.iget(asIno(ino));
  if (typeof ip === "number") throw new Error(`iget ${ip}`);
  return ip;
}

/** fsck the live device in place: clean, no errors. */
export function fsckClean(live: LiveFs): void {
  const res = fsck(live.dev.bytes.subarray(0, live.fs.vol.sb.totalBlocks * XIPFS_BLOCK_SIZE));
  assert.deepEqual(res.errors, []);
  assert.equal(res.status, 0);
}

/**
 * Write through the page cache as the VFS does for a file that is not DAX:
 * i_rwsem for write, find-or-read each page, copy, dirty, then i_size.
 */
export function pcWrite(live: LiveFs, ip: InodeRef, pos: number, data: Uint8Array): void {
  const { fs, mem } = live;
  fs.inodeLock(ip);
  try {
    for (let p = pos; p < pos + data.length;) {
      const pg = Math.floor(p / XIPFS_BLOCK_SIZE);
      const off = p - pg * XIPFS_BLOCK_SIZE;
      const n = Math.min(XIPFS_BLOCK_SIZE - off, pos + data.length - p);
      // Reserve the block now, as write_begin does, so ENOSPC shows here.
      if (fs.getBlock(ip, pg, true) < 0) throw new Error("getBlock");
      const pfn = readCachePage(mem, ip.slot, pg, fs.aops, undefined, fs.aopsFor);
      if (pfn < 0) throw new Error(`readCachePage ${pfn}`);
      lockPage(mem, pfn as Pfn);
      pageView(mem, pfn as Pfn).set(data.subarray(p - pos, p - pos + n), off);
      setPageDirty(mem, pfn as Pfn);
      unlockPage(mem, pfn as Pfn);
      putPage(mem, pfn as Pfn);
      p += n;
    }
    if (pos + data.length > fs.size(ip)) fs.setSize(ip, pos + data.length);
  } finally {
    fs.inodeUnlock(ip);
  }
}

/** Read through the page cache (holes and the tail past EOF read as zeros). */
export function pcRead(live: LiveFs, ip: InodeRef, pos: number, len: number): Uint8Array {
  const { fs, mem } = live;
  const end = Math.min(pos + len, fs.size(ip));
  const out = new Uint8Array(Math.max(0, end - pos));
  for (let p = pos; p < end;) {
    const pg = Math.floor(p / XIPFS_BLOCK_SIZE);
    const off = p - pg * XIPFS_BLOCK_SIZE;
    const n = Math.min(XIPFS_BLOCK_SIZE - off, end - p);
    fs.invalidateLockShared(ip);
    const pfn = readCachePage(mem, ip.slot, pg, fs.aops, undefined, fs.aopsFor);
    fs.invalidateUnlockShared(ip);
    if (pfn < 0) throw new Error(`readCachePage ${pfn}`);
    out.set(pageView(mem, pfn as Pfn).subarray(off, off + n), p - pos);
    putPage(mem, pfn as Pfn);
    p += n;
  }
  return out;
}
