/**
 * The per-thread context of the live xipfs: every view one thread needs to
 * work on the shared state of a mounted filesystem. Each thread (main or
 * Worker) builds its own (mountXipfs / attachXipfs); nothing in it is
 * thread-private state except the views and the metadata-cache memo.
 *
 * Shared state lives in three places, all SharedArrayBuffers:
 * - the device: on a memory device the xipfs image itself (`vol.dev` is the
 *   device region of physical memory, no copy); on a bio-only device the
 *   metadata blocks live in pinned page-cache frames (metacache.ts);
 * - the kernel tables: the inode cache (ICACHE) and the mount state (SB_INFO),
 *   src/abi/layout/mod.ts;
 * - the page cache, for files that are not DAX.
 *
 * @module
 */

import { ICACHE, ISLOT_WORDS, SB_INFO } from "../../abi/layout/mod.ts";
import type { Ino, InodeSlot } from "../../abi/types.ts";
import type { BlockDevice, MemDevice } from "../../hw/device.ts";
import type { Memory } from "../../hw/memory.ts";
import type { MetaCache } from "./metacache.ts";
import type { XipVol } from "./xipfs_format.ts";

/** An inode held in the inode cache: its slot (= page-cache mapping id) and number. */
export interface InodeRef {
  readonly slot: InodeSlot;
  readonly ino: Ino;
}

/** A thread's handle on the mounted filesystem. */
export interface XipCtx {
  readonly mem: Memory;
  /** The kernel tables, in words (locks, icache, mount state). */
  readonly k32: Int32Array;
  readonly dev: BlockDevice;
  /** The device when it offers directAccess (a memory device), else null. */
  readonly mdev: MemDevice | null;
  /** The volume the on-disk accessors work on. */
  readonly vol: XipVol;
  /** Int32 view of `vol.dev`'s bytes: word i is bytes [4i, 4i+4) of vol.dev. */
  readonly i32: Int32Array;
  /** Word index of the icache region. */
  readonly icache: number;
  /** Word index of the xipfs mount-state region. */
  readonly sbInfo: number;
  /** The metadata cache on a bio-only device; null on a memory device (metadata in place). */
  readonly meta: MetaCache | null;
  /** Host image file that fsync writes dirty blocks into (memory device only). */
  readonly imagePath: string | null;
  /** fileIdentity the file at imagePath must still have; null: not checked. */
  readonly imageIdentity: string | null;
}

/** Word index of slot `slot`'s record. */
export const islotBase = (c: XipCtx, slot: number): number =>
  c.icache + ICACHE.slots + slot * ISLOT_WORDS;

/** Word index of the mount-state field `f`. */
export const sbInfoWord = (c: XipCtx, f: keyof typeof SB_INFO): number => c.sbInfo + SB_INFO[f];
