/** Test helper (not a test): a machine memory holding a fresh xipfs, mounted live. */
import { asTid, type Tid } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mkfs } from "../../src/fs/mkfs.ts";
import { type MountOptions, mountXipfs, XipFs } from "../../src/fs/xipfs_live.ts";
import { setCurrentTid, taskInit } from "../../src/sync/task.ts";

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
  tid?: Tid;
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
  const tid = o.tid ?? asTid(1);
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
