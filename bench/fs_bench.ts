// DAX read and write through the live xipfs against the physical limit: a
// raw Uint8Array.set copy of the same size out of (or into) the device
// buffer. The DAX file is written sequentially first, so its blocks are
// contiguous (the allocator's next-fit rotor) except where the indirect
// block sits, as in any real file.
//
//   deno bench -A bench/fs_bench.ts
//
// Target: a 1 MiB DAX read at least 0.9 of the raw copy.

import { asIno, asTid, PAGE_SIZE } from "../src/abi/types.ts";
import { MemDevice } from "../src/hw/device.ts";
import { createMemory } from "../src/hw/memory.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { mountXipfs, XipFs } from "../src/fs/xipfs_live.ts";
import { setCurrentTid, taskInit } from "../src/sync/mod.ts";

const IMAGE = 32 << 20;
const image = mkfs({ sizeBytes: IMAGE });
const mem = createMemory({
  ramFrames: 256,
  deviceFrames: IMAGE / PAGE_SIZE,
  deviceMemmap: false,
  maxTasks: 4,
}, { image });
taskInit(mem.k32, asTid(1));
setCurrentTid(asTid(1));
const dev = new MemDevice(mem);
const fs = mountXipfs(mem, dev, { dax: "always" });
if (!(fs instanceof XipFs)) throw new Error(fs.error);
const root = fs.iget(fs.rootIno);
if (typeof root === "number") throw new Error("root");
const ip = fs.iget(asIno(fs.create(root, "bench", 0o644)));
if (typeof ip === "number") throw new Error("create");
const MIB = 1 << 20;
if (fs.daxWrite(ip, 0, new Uint8Array(MIB).fill(0x5a)) !== MIB) throw new Error("fill");

// The raw read copies from where the file's first block is; the raw write
// goes to the last MiB of the device, which holds no file (writing over the
// file would trample its indirect block).
const first = fs.getBlock(ip, 0, false) * PAGE_SIZE;
const scratch = IMAGE - MIB;

for (const [label, size] of [["4 KiB", 4096], ["64 KiB", 65536], ["1 MiB", MIB]] as const) {
  const dst = new Uint8Array(size);
  const src = new Uint8Array(size).fill(0x33);
  const devView = dev.bytes.subarray(first, first + size);
  Deno.bench({
    name: `raw read ${label}`,
    group: `read ${label}`,
    baseline: true,
    fn: () => dst.set(devView),
  });
  Deno.bench({
    name: `DAX read ${label}`,
    group: `read ${label}`,
    fn: () => {
      if (fs.daxRead(ip, 0, dst) !== size) throw new Error("short read");
    },
  });
  Deno.bench({
    name: `raw write ${label}`,
    group: `write ${label}`,
    baseline: true,
    fn: () => dev.bytes.set(src, scratch),
  });
  Deno.bench({
    name: `DAX write ${label}`,
    group: `write ${label}`,
    fn: () => {
      if (fs.daxWrite(ip, 0, src) !== size) throw new Error("short write");
    },
  });
}
