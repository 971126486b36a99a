/**
 * The live block and inode allocators of xipfs, and dirty-block tracking.
 *
 * Lock-free, like src/mm/frame_alloc.ts: an allocation first reserves one
 * unit from the superblock's free count (a compare-and-swap that never lets
 * it go below 0), then claims a clear bit of the on-disk bitmap with a
 * compare-and-swap on its 32-bit word. Because every claimed bit was paid
 * for by a reservation, a reserving thread is guaranteed a clear bit
 * somewhere; a free clears the bit before it gives the unit back. So no
 * lock is taken and these may be called under any lock (the BLOCK_ALLOC
 * rank of docs/ARCHITECTURE.md §3 is never held). The bitmap bits are the ones the
 * offline tools read (xipfs_format.ts): bit n is bit n & 31 of LE word n >> 5.
 *
 * A next-fit rotor (SB_INFO.rotor) starts each search where the last one ended,
 * so one writer's blocks come out contiguous and DAX copies run long.
 *
 * Dirty tracking: every block changed through the live filesystem is marked
 * (markBlockDirty), so fsync knows what to write into the host image. On a
 * memory device that is a bit in the shared SB_INFO dirty bitmap; on a bio-only
 * device metadata blocks are page-cache pages and get PG_dirty instead.
 *
 * @module
 */

import { XIPFS_BLOCK_SIZE, XIPFS_INODE_SIZE, XSUPER } from "../../abi/layout/mod.ts";
import { ENOSPC, EUCLEAN } from "../../abi/errno.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { codeFrameReused } from "../../hw/jit/shared.ts";
import { asBlock, asIno, type BlockNo, type Ino } from "../../abi/types.ts";
import { blockOff, inodeBlock, inodeOff } from "./xipfs_format.ts";
import { sbInfoWord, type XipCtx } from "./xipfs_ctx.ts";

const BITS_PER_BLOCK = XIPFS_BLOCK_SIZE * 8;

/** Word index (in c.i32) of the bitmap word holding bit `n` of the bitmap at block `start`. */
function bitmapWord(c: XipCtx, start: number, n: number): number {
  return blockOff(c.vol, start + Math.floor(n / BITS_PER_BLOCK)) / 4 +
    ((n % BITS_PER_BLOCK) >>> 5);
}

/** Word index (in c.i32) of a dynamic superblock counter. */
const superWord = (c: XipCtx, f: "freeBlocks" | "freeInodes"): number =>
  (blockOff(c.vol, 0) + XSUPER[f]) / 4;

/**
 * Record that device block `b` changed, so the next fsync writes it. Any
 * thread, any lock; atomic.
 */
export function markBlockDirty(c: XipCtx, b: number): void {
  if (c.meta !== null) {
    c.meta.markDirty(b);
    return;
  }
  const w = sbInfoWord(c, "dirty") + (b >>> 5);
  const bit = 1 << (b & 31);
  if ((c.k32[w]! & bit) === 0) Atomics.or(c.k32, w, bit);
}

/** markBlockDirty for blocks [first, first + n). */
export function markRangeDirty(c: XipCtx, first: number, n: number): void {
  for (let b = first; b < first + n; b++) markBlockDirty(c, b);
}

/** Mark the inode-table block holding `ino` dirty. */
export const markInodeDirty = (c: XipCtx, ino: Ino): void =>
  markBlockDirty(c, inodeBlock(c.vol.sb, ino));

/** Take one unit from a free counter; false when it is 0. */
function reserve(c: XipCtx, w: number): boolean {
  for (;;) {
    const v = Atomics.load(c.i32, w);
    if (v <= 0) return false;
    if (Atomics.compareExchange(c.i32, w, v, v - 1) === v) return true;
  }
}

/**
 * Claim a clear bit n, lo <= n < hi, of the bitmap at block `start`,
 * searching from `hint` and wrapping. The caller holds a reservation, so a
 * clear bit exists; a few passes cover bits that move under the search.
 *
 * @returns the bit, or -1 when none was found (a counter/bitmap mismatch)
 */
function claimBit(c: XipCtx, start: number, lo: number, hi: number, hint: number): number {
  const firstWord = lo >>> 5;
  const lastWord = (hi - 1) >>> 5;
  const nWords = lastWord - firstWord + 1;
  let wi = hint >= lo && hint < hi ? hint >>> 5 : firstWord;
  for (let step = 0; step < nWords * 4; step++) {
    const base = wi * 32;
    // Bits of this word that name a valid unit.
    let valid = -1;
    if (base < lo) valid &= -1 << (lo - base);
    if (hi - base < 32) valid &= (1 << (hi - base)) - 1;
    const w = bitmapWord(c, start, base);
    for (;;) {
      const v = Atomics.load(c.i32, w);
      const free = ~v & valid;
      if (free === 0) break;
      const bit = 31 - Math.clz32(free & -free);
      if (Atomics.compareExchange(c.i32, w, v, v | (1 << bit)) === v) return base + bit;
    }
    wi = wi === lastWord ? firstWord : wi + 1;
  }
  return -1;
}

/**
 * Allocate a data block: reserve it in the superblock's free count and mark
 * it in use in the bitmap. The block's contents are NOT zeroed here: the
 * caller (getBlock, allocMetaBlock) zeroes it before linking it anywhere.
 * Any lock may be held; takes none.
 *
 * @returns the block, or -ENOSPC
 */
export function allocBlock(c: XipCtx): BlockNo {
  const sw = superWord(c, "freeBlocks");
  if (!reserve(c, sw)) return asBlock(-ENOSPC);
  const { sb } = c.vol;
  const rotor = sbInfoWord(c, "rotor");
  const b = claimBit(c, sb.blockBitmapStart, sb.dataStart, sb.totalBlocks, c.k32[rotor]!);
  if (b < 0) {
    Atomics.add(c.i32, sw, 1);
    return asBlock(-ENOSPC);
  }
  c.k32[rotor] = b + 1; // a hint: a plain store is enough
  Atomics.add(c.k32, sbInfoWord(c, "allocs"), 1);
  blockReused(c, b);
  markBlockDirty(c, sb.blockBitmapStart + Math.floor(b / BITS_PER_BLOCK));
  markBlockDirty(c, 0);
  return asBlock(b);
}

/**
 * Allocate `n` contiguous data blocks (n a power of two up to 1024) whose
 * first block's frame is a multiple of `n`: an extent for an inode with an
 * extent-size hint (XFS's xfs_bmap_extsize_align + an aligned allocation),
 * so that a 1024-block extent can be mapped with one 4 MiB megapage. The
 * frame of block b is `ramFrames + b` on a memory device; on a bio-only
 * device there are no frames and the block number itself is aligned.
 * Reserves n units of the free count, then claims the run word by word
 * with compareExchange, backing out of a run another allocator got into
 * first. Contents are not zeroed (the caller zeroes before linking). Any
 * lock may be held; takes none.
 *
 * @returns the first block, or -ENOSPC when no aligned free run exists
 */
export function allocBlockRun(c: XipCtx, n: number): BlockNo {
  if (n < 1 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new KernelPanic("allocBlockRun", `run of ${n} blocks`);
  }
  const sw = superWord(c, "freeBlocks");
  if (!reserveN(c, sw, n)) return asBlock(-ENOSPC);
  const { sb } = c.vol;
  const phase = c.mdev === null ? 0 : (n - (c.mem.layout.config.ramFrames % n)) % n;
  let b = sb.dataStart + ((phase - (sb.dataStart % n) + n) % n);
  for (; b + n <= sb.totalBlocks; b += n) {
    if (claimRun(c, sb.blockBitmapStart, b, n)) {
      Atomics.add(c.k32, sbInfoWord(c, "allocs"), n);
      for (let m = b; m < b + n; m++) blockReused(c, m);
      for (let m = b; m < b + n; m += BITS_PER_BLOCK - (m % BITS_PER_BLOCK)) {
        markBlockDirty(c, sb.blockBitmapStart + Math.floor(m / BITS_PER_BLOCK));
      }
      markBlockDirty(c, 0);
      return asBlock(b);
    }
  }
  Atomics.add(c.i32, sw, n);
  return asBlock(-ENOSPC);
}

/** Take `n` units from a free counter at once; false when fewer are left. */
function reserveN(c: XipCtx, w: number, n: number): boolean {
  for (;;) {
    const v = Atomics.load(c.i32, w);
    if (v < n) return false;
    if (Atomics.compareExchange(c.i32, w, v, v - n) === v) return true;
  }
}

/**
 * Claim bits [b, b + n) of the bitmap at block `start` if all are clear,
 * word by word; on a word with a bit already set, give back the words
 * claimed so far. @returns whether the whole run is now ours
 */
function claimRun(c: XipCtx, start: number, b: number, n: number): boolean {
  const claimed: [number, number][] = [];
  for (let m = b; m < b + n;) {
    const inWord = Math.min(32 - (m & 31), b + n - m);
    const mask = inWord === 32 ? -1 : ((1 << inWord) - 1) << (m & 31);
    const w = bitmapWord(c, start, m);
    let got = false;
    for (let v = Atomics.load(c.i32, w); (v & mask) === 0;) {
      const seen = Atomics.compareExchange(c.i32, w, v, v | mask);
      if (seen === v) {
        got = true;
        break;
      }
      v = seen; // another bit of the word changed: look again
    }
    if (!got) {
      for (const [cw, cm] of claimed) Atomics.and(c.i32, cw, ~cm);
      return false;
    }
    claimed.push([w, mask]);
    m += inWord;
  }
  return true;
}

/**
 * Free data block `b`. The caller has unlinked it from every block map and
 * made sure nobody reaches it any more (truncate: mappings unmapped under
 * invalidate_lock). On a bio-only device the block's metadata page, if
 * any, is dropped. Takes no lock.
 *
 * @throws KernelPanic when `b` is not an allocated data block (double free)
 */
export function freeBlock(c: XipCtx, b: BlockNo): void {
  const r = clearBlock(c, b);
  if (r === "range") throw new KernelPanic("freeBlock", `block ${b} is not a data block`);
  if (r === "free") throw new KernelPanic("freeBlock", `double free of block ${b}`);
}

/**
 * Free data block `b` that an on-disk block map named (truncate, punch
 * hole, eviction). A block outside the data area or already free in the
 * bitmap is on-disk corruption (two maps share it, or the bitmap is
 * damaged), not a kernel bug: as Linux's ext2_free_blocks does ("bit
 * already cleared"), change nothing and report it. Takes no lock.
 *
 * @returns 0, or -EUCLEAN
 */
export function freeMappedBlock(c: XipCtx, b: BlockNo): number {
  return clearBlock(c, b) === "ok" ? 0 : -EUCLEAN;
}

/**
 * Block `b` changes hands: on a memory device it is the frame RAM frames +
 * b, whose translated code (src/hw/jit) dies with it.
 */
function blockReused(c: XipCtx, b: number): void {
  if (c.mdev !== null) codeFrameReused(c.mem, c.mem.layout.config.ramFrames + b);
}

/** Clear `b`'s bitmap bit and count it free; what was wrong, if anything. */
function clearBlock(c: XipCtx, b: BlockNo): "ok" | "range" | "free" {
  const { sb } = c.vol;
  if (b < sb.dataStart || b >= sb.totalBlocks) return "range";
  if (c.meta !== null) c.meta.forget(b);
  blockReused(c, b);
  const w = bitmapWord(c, sb.blockBitmapStart, b);
  const bit = 1 << (b & 31);
  if ((Atomics.and(c.i32, w, ~bit) & bit) === 0) return "free";
  Atomics.add(c.i32, superWord(c, "freeBlocks"), 1);
  Atomics.add(c.k32, sbInfoWord(c, "frees"), 1);
  markBlockDirty(c, sb.blockBitmapStart + Math.floor(b / BITS_PER_BLOCK));
  markBlockDirty(c, 0);
  return "ok";
}

/**
 * Allocate an inode and zero its record. Takes no lock.
 *
 * @returns the inode number, or -ENOSPC
 */
export function allocInode(c: XipCtx): Ino {
  const sw = superWord(c, "freeInodes");
  if (!reserve(c, sw)) return asIno(-ENOSPC);
  const { sb } = c.vol;
  const rotor = sbInfoWord(c, "inoRotor");
  const bit = claimBit(c, sb.inodeBitmapStart, 0, sb.inodeCount, c.k32[rotor]!);
  if (bit < 0) {
    Atomics.add(c.i32, sw, 1);
    return asIno(-ENOSPC);
  }
  c.k32[rotor] = bit + 1;
  const ino = asIno(bit + 1);
  const off = inodeOff(c.vol, ino);
  c.vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
  markBlockDirty(c, sb.inodeBitmapStart + Math.floor(bit / BITS_PER_BLOCK));
  markInodeDirty(c, ino);
  markBlockDirty(c, 0);
  return ino;
}

/**
 * Free inode `ino` and zero its record. The caller has freed its blocks
 * and holds the last reference (icache FREEING). Takes no lock.
 *
 * @throws KernelPanic when the inode is not allocated
 */
export function freeInode(c: XipCtx, ino: Ino): void {
  const { sb } = c.vol;
  const off = inodeOff(c.vol, ino);
  c.vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
  const n = ino - 1;
  const w = bitmapWord(c, sb.inodeBitmapStart, n);
  const bit = 1 << (n & 31);
  if ((Atomics.and(c.i32, w, ~bit) & bit) === 0) {
    throw new KernelPanic("freeInode", `double free of inode ${ino}`);
  }
  Atomics.add(c.i32, superWord(c, "freeInodes"), 1);
  Atomics.add(c.k32, sbInfoWord(c, "inodeFrees"), 1);
  markBlockDirty(c, sb.inodeBitmapStart + Math.floor(n / BITS_PER_BLOCK));
  markInodeDirty(c, ino);
  markBlockDirty(c, 0);
}

/** Blocks allocated since mount (all threads). */
export const blocksAllocated = (c: XipCtx): number => Atomics.load(c.k32, sbInfoWord(c, "allocs"));

/** Blocks freed since mount (all threads). */
export const blocksFreed = (c: XipCtx): number => Atomics.load(c.k32, sbInfoWord(c, "frees"));

/** The superblock's free-block count right now. */
export const freeBlockCount = (c: XipCtx): number =>
  Atomics.load(c.i32, superWord(c, "freeBlocks"));

/** The superblock's free-inode count right now. */
export const freeInodeCount = (c: XipCtx): number =>
  Atomics.load(c.i32, superWord(c, "freeInodes"));
