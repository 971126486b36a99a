/**
 * The memory device: a block device whose storage is a region of physical
 * memory, like Linux's brd (RAM disk) or pmem. It is what makes XIP possible,
 * because every block is also a frame the CPU can address directly.
 *
 * Two ways in, as in Linux:
 *
 * - the bio path (`bioRead`/`bioWrite`) copies whole 4 KiB blocks between
 *   the device and a caller's buffer; the page cache fills itself this way,
 *   and the copies are counted in VMSTAT.bioReadBytes/bioWriteBytes;
 * - `directAccess(sector, size)` (Linux's later ->direct_access, with a
 *   size) translates a sector to the frame that holds it and hands back
 *   where it is, so DAX maps or copies it with no bio at all.
 *
 * Device block b is device frame b, at pfn `firstPfn + b`: the device region
 * of `mem.phys` is contiguous, so one call can describe the rest of the
 * device. The mapping never changes while the device exists (the
 * byte-accessible-at-all-times requirement of direct_access).
 *
 * @module
 */

import { EINVAL, EIO, ERANGE } from "../abi/errno.ts";
import { VMSTAT } from "../abi/layout/mod.ts";
import {
  asPfn,
  type BlockNo,
  PAGE_SIZE,
  type Pfn,
  type Sector,
  SECTOR_SHIFT,
  SECTORS_PER_PAGE,
} from "../abi/types.ts";
import { type Memory, statAdd } from "./memory.ts";
import { saveImageBytes } from "./image.ts";
import { badblockSet, badblockTest } from "./badblocks.ts";
import { codeWritten } from "./jit/shared.ts";

export { ImageError, imageFileSize, loadImage, MAX_IMAGE_BYTES, readImageInto } from "./image.ts";

/** PAGE_SIZE as the bigint the stats counters add. */
const PAGE_BYTES = BigInt(PAGE_SIZE);

/** Where a directAccess request landed. */
export interface DirectAccess {
  /** Frame holding the requested sector. */
  pfn: Pfn;
  /** Byte offset of the sector in the device's `bytes` view. */
  kaddr: number;
  /** Bytes addressable from `kaddr` on: min(size, bytes left on the device). */
  avail: number;
}

/** A block device of 4 KiB blocks (Linux's block_device plus its ops, reduced). */
export interface BlockDevice {
  readonly kind: string;
  /** Size in 4 KiB blocks. */
  readonly blocks: number;
  /** Copy block `block` into `dst` at `dstOff`. Returns bytes copied or -errno. */
  bioRead(block: BlockNo, dst: Uint8Array, dstOff?: number): number;
  /** Copy a block from `src` at `srcOff` to block `block`. Returns bytes copied or -errno. */
  bioWrite(block: BlockNo, src: Uint8Array, srcOff?: number): number;
  /** Make written blocks durable. Returns 0 or -errno. */
  flush(): number;
  /** Translate a sector to directly addressable memory; absent when the device cannot. */
  directAccess?(sector: Sector, size: number): DirectAccess | number;
}

/**
 * The memory device over the device region of `mem.phys`. Every thread that
 * attached the memory builds its own MemDevice over the same frames; it holds
 * no state of its own beyond views.
 */
export class MemDevice implements BlockDevice {
  readonly kind = "memdev";
  readonly blocks: number;
  /** Device frames (equal to `blocks`: one block is one frame). */
  readonly frames: number;
  /** Pfn of device block 0. */
  readonly firstPfn: Pfn;
  /** The device region only: byte 0 is block 0. Shares memory with `mem.u8`. */
  readonly bytes: Uint8Array;

  constructor(readonly mem: Memory) {
    const cfg = mem.layout.config;
    this.frames = cfg.deviceFrames;
    this.blocks = cfg.deviceFrames;
    this.firstPfn = asPfn(cfg.ramFrames);
    this.bytes = new Uint8Array(mem.phys, cfg.ramFrames * PAGE_SIZE, cfg.deviceFrames * PAGE_SIZE);
  }

  /** -EIO for a block off the device (the block layer's end-of-device check), else 0. */
  #checkBlock(block: BlockNo): number {
    return Number.isInteger(block) && block >= 0 && block < this.blocks ? 0 : -EIO;
  }

  /**
   * Copy device block `block` into `dst[dstOff .. dstOff+4096)`. No lock
   * needed; a concurrent bioWrite of the same block may be seen half done,
   * as with a real device, so callers serialise through the page lock.
   *
   * @returns PAGE_SIZE, -EIO for a block past the end or a poisoned one,
   *   -EINVAL when dst is too short
   */
  bioRead(block: BlockNo, dst: Uint8Array, dstOff = 0): number {
    const bad = this.#checkBlock(block);
    if (bad !== 0) return bad;
    if (badblockTest(this.mem, block)) return -EIO; // pmem_do_read: a bad sector in the range
    if (!Number.isInteger(dstOff) || dstOff < 0 || dstOff + PAGE_SIZE > dst.length) return -EINVAL;
    const off = block * PAGE_SIZE;
    dst.set(this.bytes.subarray(off, off + PAGE_SIZE), dstOff);
    statAdd(this.mem, VMSTAT.bioReadBytes, PAGE_BYTES);
    return PAGE_SIZE;
  }

  /**
   * Copy `src[srcOff .. srcOff+4096)` to device block `block`. Same rules as bioRead.
   *
   * @returns PAGE_SIZE, -EIO for a block past the end, -EINVAL when src is too short
   */
  bioWrite(block: BlockNo, src: Uint8Array, srcOff = 0): number {
    const bad = this.#checkBlock(block);
    if (bad !== 0) return bad;
    if (!Number.isInteger(srcOff) || srcOff < 0 || srcOff + PAGE_SIZE > src.length) return -EINVAL;
    this.bytes.set(src.subarray(srcOff, srcOff + PAGE_SIZE), block * PAGE_SIZE);
    // A whole-block write clears poison, as pmem_do_write's pmem_clear_poison.
    if (badblockTest(this.mem, block)) this.clearPoison(block);
    codeWritten(this.mem, this.bytes.byteOffset + block * PAGE_SIZE, PAGE_SIZE);
    statAdd(this.mem, VMSTAT.bioWriteBytes, PAGE_BYTES);
    return PAGE_SIZE;
  }

  /**
   * Who keeps the list of poisoned blocks up to date when a write clears
   * one (xipfs sets it: the list lives in its image); without it only the
   * device's bitmap is cleared. Per thread, like the object.
   */
  poisonCleared: ((block: number) => void) | null = null;

  /** Clear block `block`'s poison, through poisonCleared when set. */
  clearPoison(block: number): void {
    if (this.poisonCleared !== null) this.poisonCleared(block);
    else badblockSet(this.mem, block, 1, false);
  }

  /**
   * Nothing is cached between the caller and the device, so there is nothing
   * to flush: durability on the host comes from saveImage. Returns 0.
   */
  flush(): number {
    return 0;
  }

  /**
   * Translate `sector` (512-byte units from the start of the device) to the
   * frame that holds it, and say how many bytes from there the caller may
   * address directly.
   *
   * `size` is a byte count, any positive integer; it need not be a multiple
   * of PAGE_SIZE. The answer's `avail` is min(size, bytes from the sector to
   * the end of the device): never more than asked, never rounded, and less
   * only at the end of the device. The frames stay at this address for the
   * device's life, so the result may be cached and mapped into processes.
   * No lock is needed on entry.
   *
   * @returns the DirectAccess; -EINVAL when the sector is not page-aligned
   *   (sector % 8 != 0), negative or not an integer, or when size is not a
   *   positive integer; -ERANGE when the sector is at or past the end of the device
   */
  directAccess(sector: Sector, size: number): DirectAccess | number {
    if (!Number.isInteger(sector) || sector < 0 || sector % SECTORS_PER_PAGE !== 0) return -EINVAL;
    if (!Number.isInteger(size) || size <= 0) return -EINVAL;
    const kaddr = sector * (1 << SECTOR_SHIFT);
    const left = this.bytes.length - kaddr;
    if (left <= 0) return -ERANGE;
    return {
      pfn: asPfn(this.firstPfn + kaddr / PAGE_SIZE),
      kaddr,
      avail: size < left ? size : left,
    };
  }
}

/**
 * Save the device's contents to `path` atomically (temporary file in the
 * same directory, fsync, rename). No Worker may write the device meanwhile.
 *
 * @throws ImageError naming the path and the cause
 */
export function saveImage(device: MemDevice, path: string): void {
  saveImageBytes(device.bytes, path);
}
