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
 *    address of a 64-byte line to the process's PersistQueue; the next FENCE
 *    drains it: every queued line of device memory is written into the host
 *    image, then the image is fdatasynced. So a guest makes a store durable
 *    with a cache-block flush and a fence, no fsync or msync, as on a
 *    machine with persistent memory, where the host image file is the
 *    persistence domain. Lines of RAM are not persistent and are ignored.
 *
 * Without a host image (a snapshot run) there is nothing to make durable:
 * both halves do nothing.
 *
 * @module
 */

import { ISLOT, XFS } from "../abi/layout.ts";
import { EIO } from "../abi/errno.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { LockClass } from "../sync/lockdep.ts";
import { bmapPath } from "./xipfs_bmap.ts";
import { blockOff, inodeBlock, inodePtrOff } from "./xipfs_format.ts";
import { syncFs } from "./xipfs_sync.ts";
import { type InodeRef, islotBase, xfsWord, type XipCtx } from "./xipfs_ctx.ts";

/** Linux's VM_FAULT_NEEDDSYNC: map the page only after the metadata is durable. */
export const VM_FAULT_NEEDDSYNC = 0x2000;
/** Bytes of a cache block (Zicbom's cache-block size here, and pmem's line). */
export const CACHE_LINE = 64;

/** Whether device block `b`'s dirty bit is set (it changed since the last sync). */
function blockDirty(c: XipCtx, b: number): boolean {
  return (Atomics.load(c.k32, xfsWord(c, "dirty") + (b >>> 5)) & (1 << (b & 31))) !== 0;
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
 * XFS.syncLock briefly.
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
  const lock = xfsWord(c, "syncLock");
  mutexLock(c.k32, lock, LockClass.NONE);
  mutexUnlock(c.k32, lock);
  return false;
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

/** Whether the inode's mapping may have a MAP_SYNC VMA (cheap test for the fault path). */
export const inodeMapped = (c: XipCtx, ip: InodeRef): boolean =>
  Atomics.load(c.k32, islotBase(c, ip.slot) + ISLOT.iMmap) !== 0;

/** This thread's open handle on each host image, for the persistence writes. */
const imageFiles = new Map<string, Deno.FsFile>();

function imageFile(path: string): Deno.FsFile {
  let f = imageFiles.get(path);
  if (f === undefined) {
    f = Deno.openSync(path, { write: true });
    imageFiles.set(path, f);
  }
  return f;
}

/**
 * The cache lines a process cleaned or flushed (Zicbom cbo.clean/flush)
 * and has not fenced yet, by device byte offset: the write-pending queue
 * of a pmem platform, one per process.
 */
export class PersistQueue {
  readonly #lines = new Set<number>();
  readonly #first: number;
  readonly #end: number;

  constructor(readonly c: XipCtx) {
    const cfg = c.mem.layout.config;
    this.#first = cfg.ramFrames * PAGE_SIZE;
    this.#end = (cfg.ramFrames + cfg.deviceFrames) * PAGE_SIZE;
  }

  /** Lines waiting for a fence. */
  get pending(): number {
    return this.#lines.size;
  }

  /**
   * cbo.clean or cbo.flush of physical address `pa`: queue its line if it
   * is device memory (RAM holds nothing persistent). Any thread state.
   */
  note(pa: number): void {
    if (pa < this.#first || pa >= this.#end) return;
    this.#lines.add((pa - this.#first) & ~(CACHE_LINE - 1));
  }

  /**
   * FENCE: write every queued line into the host image (adjacent lines in
   * one write) and fdatasync it. Holds XFS.syncLock, so a concurrent fsync
   * and this never interleave their writes. Entry: no lock held.
   *
   * @returns 0 (also with nothing queued or no host image), or -EIO
   */
  drain(): number {
    if (this.#lines.size === 0) return 0;
    const lines = [...this.#lines].sort((a, b) => a - b);
    this.#lines.clear();
    const { c } = this;
    if (c.imagePath === null || c.mdev === null) return 0;
    const lock = xfsWord(c, "syncLock");
    mutexLock(c.k32, lock, LockClass.NONE);
    try {
      const f = imageFile(c.imagePath);
      for (let i = 0; i < lines.length;) {
        let j = i + 1;
        while (j < lines.length && lines[j] === lines[j - 1]! + CACHE_LINE) j++;
        const off = lines[i]!, len = (j - i) * CACHE_LINE;
        persistWrite(f, off, c.mdev.bytes.subarray(off, off + len));
        i = j;
      }
      persistSync(f);
      return 0;
    } catch {
      return -EIO;
    } finally {
      mutexUnlock(c.k32, lock);
    }
  }
}

/** pwrite `src` (a view of shared memory) at `off` of the image. @throws the host error */
function persistWrite(f: Deno.FsFile, off: number, src: Uint8Array): void {
  const buf = src.slice(); // Deno writes from plain buffers
  f.seekSync(off, Deno.SeekMode.Start);
  for (let done = 0; done < buf.length;) {
    const w = f.writeSync(buf.subarray(done));
    if (w <= 0) throw new Error("short write");
    done += w;
  }
}

/** fdatasync the image. @throws the host error */
function persistSync(f: Deno.FsFile): void {
  f.syncDataSync();
}

/** The XFS word the persistence writes serialise on (for tests). */
export const persistLockWord = (c: XipCtx): number => c.xfs + XFS.syncLock;
