/** Test helper (not a test): a booted machine with a mounted filesystem and a process, per mode. */
import { asTid } from "../../src/abi/types.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mkfsInto } from "../../src/fs/mkfs.ts";
import { fsck, type FsckResult } from "../../src/fs/fsck.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import { type Proc, vfsProcCreate } from "../../src/fs/vfs.ts";
import type { VfsFs } from "../../src/fs/vfs_fs.ts";
import { OfflineFs } from "./_offline_fs.ts";

/** How the filesystem is mounted: DAX on a memory device, or the page cache. */
export type Mode = "dax" | "pagecache";
export const MODES: Mode[] = ["dax", "pagecache"];

export interface Booted {
  mem: Memory;
  fs: VfsFs;
  proc: Proc;
  /** Write back whatever the mode caches and return the device image's fsck. */
  fsck(): FsckResult;
  /** Bytes of the device. */
  image(): Uint8Array;
}

/** A fresh machine: RAM frames, a device of `deviceBlocks` blocks formatted with mkfs. */
export function boot(mode: Mode, opts: { ramFrames?: number; deviceBlocks?: number } = {}): Booted {
  const mem = createMemory({
    ramFrames: opts.ramFrames ?? 256,
    deviceFrames: opts.deviceBlocks ?? 1024,
    deviceMemmap: false,
    maxTasks: 4,
  });
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  setCurrentTid(asTid(1));
  taskInit(mem.k32, asTid(1));
  const devBytes = new Uint8Array(mem.phys, mem.layout.config.ramFrames * 4096);
  mkfsInto(devBytes, { inodes: 256 });
  const fs = new OfflineFs(mem, mode === "dax");
  const proc = vfsProcCreate(fs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  return {
    mem,
    fs,
    proc,
    fsck: () => fsck(devBytes.slice()),
    image: () => devBytes,
  };
}
