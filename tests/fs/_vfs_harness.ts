/** Test helper (not a test): a booted machine with a mounted live xipfs and a process, per mode. */
import { asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { HostFileDevice } from "../../src/hw/host_device.ts";
import { mkfs, mkfsInto } from "../../src/fs/xipfs/mkfs.ts";
import { fsck, type FsckResult } from "../../src/fs/xipfs/fsck.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import { type Proc, vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { mountXipfs, type XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";

/**
 * How the filesystem is mounted: DAX on a memory device (dax=always), the
 * page cache on a memory device (dax=never), or the page cache on a
 * bio-only HostFileDevice over a host image file.
 */
export type Mode = "dax" | "pagecache" | "hostfile";
export const MODES: Mode[] = ["dax", "pagecache", "hostfile"];

export interface Booted {
  mode: Mode;
  mem: Memory;
  x: XipFs;
  fs: XipVfs;
  proc: Proc;
  /** Close the process's files, unmount, and fsck the image (then the machine is done). */
  unmountAndFsck(): FsckResult;
  /** Bytes of the device image right now (the host file for hostfile). */
  image(): Uint8Array;
}

export interface BootOptions {
  ramFrames?: number;
  deviceBlocks?: number;
  maxTasks?: number;
}

/** A fresh machine with a freshly made xipfs mounted in `mode`. */
export function boot(mode: Mode, opts: BootOptions = {}): Booted {
  const blocks = opts.deviceBlocks ?? 1024;
  const host = mode === "hostfile";
  const mem = createMemory({
    ramFrames: opts.ramFrames ?? 256,
    deviceFrames: host ? 1 : blocks,
    deviceMemmap: false,
    maxTasks: opts.maxTasks ?? 4,
  });
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  setCurrentTid(asTaskSlot(1));
  taskInit(mem.k32, asTaskSlot(1));
  let dev: MemDevice | HostFileDevice;
  let path = "";
  if (host) {
    path = Deno.makeTempFileSync({ prefix: "xip-vfs-", suffix: ".img" });
    Deno.writeFileSync(path, mkfs({ sizeBytes: blocks * PAGE_SIZE, inodes: 256 }));
    dev = new HostFileDevice(path, { mem });
  } else {
    dev = new MemDevice(mem);
    mkfsInto(dev.bytes, { inodes: 256 });
  }
  const x = mountXipfs(mem, dev, { dax: mode === "dax" ? "always" : "never" });
  if ("error" in x) throw new Error(`mountXipfs: ${x.error}`);
  const fs = new XipVfs(x);
  const proc = vfsProcCreate(fs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  const image = () => host ? Deno.readFileSync(path) : (dev as MemDevice).bytes.slice();
  return {
    mode,
    mem,
    x,
    fs,
    proc,
    image,
    unmountAndFsck() {
      const e = vfsProcExit(fs, proc.fdt);
      if (e < 0) throw new Error(`vfsProcExit: ${e}`);
      const u = x.unmount();
      if (u < 0) throw new Error(`unmount: ${u}`);
      const result = fsck(image());
      if (host) {
        (dev as HostFileDevice).close();
        Deno.removeSync(path);
      }
      return result;
    },
  };
}
