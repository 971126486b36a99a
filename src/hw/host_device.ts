/**
 * A block device backed by an image file on the host, reached only through
 * reads and writes (bio). It has no `directAccess`: its storage is not CPU
 * addressable, so it cannot offer direct_access, and xipfs mounts it in
 * page-cache mode only (Linux refuses DAX on a block device without
 * ->direct_access the same way).
 *
 * Every thread opens its own handle (`new HostFileDevice(path)`): a Deno file
 * handle cannot cross to a Worker, and each handle has its own file position,
 * so a seek-then-read on one thread never disturbs another's. Writes by one
 * thread are visible to reads by another at once (one host file, one kernel
 * page cache on the host); `flush()` makes them durable (fdatasync).
 *
 * Block b is bytes [b * 4096, (b + 1) * 4096) of the file. The device has
 * floor(file size / 4096) blocks, fixed when the handle is opened; a partial
 * last block of the file is not addressable.
 *
 * @module
 */

import { EINVAL, EIO, EROFS } from "../abi/errno.ts";
import { VMSTAT } from "../abi/layout/mod.ts";
import { type BlockNo, PAGE_SIZE } from "../abi/types.ts";
import type { BlockDevice } from "./device.ts";
import { type Memory, statAdd } from "./memory.ts";

/** Options of HostFileDevice. */
export interface HostFileDeviceOptions {
  /** Count bio bytes in this memory's VMSTAT.bioReadBytes/bioWriteBytes. */
  mem?: Memory;
  /** Open the image read-only; bioWrite then returns -EROFS. */
  readOnly?: boolean;
}

/** A bio-only block device over a host image file. */
export class HostFileDevice implements BlockDevice {
  readonly kind = "hostfile";
  readonly blocks: number;
  readonly #file: Deno.FsFile;
  readonly #mem: Memory | undefined;
  readonly #readOnly: boolean;
  #closed = false;

  /**
   * Open `path` for this thread.
   *
   * @throws Deno errors from the open (missing file, permission), with the path in the message
   */
  constructor(readonly path: string, opts: HostFileDeviceOptions = {}) {
    this.#readOnly = opts.readOnly ?? false;
    this.#mem = opts.mem;
    try {
      this.#file = Deno.openSync(path, { read: true, write: !this.#readOnly });
      this.blocks = Math.floor(this.#file.statSync().size / PAGE_SIZE);
    } catch (e) {
      throw new Error(`HostFileDevice: cannot open ${path}: ${(e as Error).message}`);
    }
  }

  /** 0 for a block on the device and a buffer with 4 KiB at `off`, else the errno. */
  #check(block: BlockNo, buf: Uint8Array, off: number): number {
    if (this.#closed) return -EIO;
    if (!Number.isInteger(block) || block < 0 || block >= this.blocks) return -EIO;
    if (!Number.isInteger(off) || off < 0 || off + PAGE_SIZE > buf.length) return -EINVAL;
    return 0;
  }

  /**
   * Copy block `block` into `dst[dstOff .. dstOff+4096)`. No lock needed; the
   * handle is this thread's own.
   *
   * @returns PAGE_SIZE; -EIO for a block past the end, a closed handle or a
   *   host read error; -EINVAL when dst is too short
   */
  bioRead(block: BlockNo, dst: Uint8Array, dstOff = 0): number {
    const bad = this.#check(block, dst, dstOff);
    if (bad !== 0) return bad;
    try {
      this.#file.seekSync(block * PAGE_SIZE, Deno.SeekMode.Start);
      let done = 0;
      while (done < PAGE_SIZE) {
        const n = this.#file.readSync(dst.subarray(dstOff + done, dstOff + PAGE_SIZE));
        if (n === null || n === 0) return -EIO; // the file shrank under us
        done += n;
      }
    } catch {
      return -EIO;
    }
    if (this.#mem) statAdd(this.#mem, VMSTAT.bioReadBytes, PAGE_SIZE);
    return PAGE_SIZE;
  }

  /**
   * Copy `src[srcOff .. srcOff+4096)` to block `block`. The bytes reach the
   * host's page cache at once and the disk on `flush()`.
   *
   * @returns PAGE_SIZE; -EIO for a block past the end, a closed handle or a
   *   host write error; -EROFS on a read-only handle; -EINVAL when src is too short
   */
  bioWrite(block: BlockNo, src: Uint8Array, srcOff = 0): number {
    const bad = this.#check(block, src, srcOff);
    if (bad !== 0) return bad;
    if (this.#readOnly) return -EROFS;
    try {
      this.#file.seekSync(block * PAGE_SIZE, Deno.SeekMode.Start);
      let done = 0;
      while (done < PAGE_SIZE) {
        const n = this.#file.writeSync(src.subarray(srcOff + done, srcOff + PAGE_SIZE));
        if (n <= 0) return -EIO;
        done += n;
      }
    } catch {
      return -EIO;
    }
    if (this.#mem) statAdd(this.#mem, VMSTAT.bioWriteBytes, PAGE_SIZE);
    return PAGE_SIZE;
  }

  /**
   * Make every block written through any handle of this file durable
   * (fdatasync). Returns 0, or -EIO when the host reports an error or the
   * handle is closed.
   */
  flush(): number {
    if (this.#closed) return -EIO;
    try {
      this.#file.syncDataSync();
      return 0;
    } catch {
      return -EIO;
    }
  }

  /** Close this thread's handle. Later calls return -EIO. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
