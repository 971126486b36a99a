/**
 * File I/O through the VFS (pread64/pwrite64, the path a syscall takes):
 * DAX against the page cache, cold and warm, against the physical limit, a
 * raw `Uint8Array.set` of the same bytes out of (or into) the device buffer.
 *
 *   deno bench -A bench/io_bench.ts        (XIP_BENCH_QUICK=1: 5 iterations each)
 *
 * One group per (direction, size). Every iteration moves 1 MiB in total,
 * as 256 x 4 KiB, 16 x 64 KiB or 1 x 1 MiB operations at distinct offsets
 * of a 1 MiB file, so the groups compare per byte and the time per
 * operation is the iteration time / ops.
 *
 * - DAX: a filesystem mounted dax=always; reads and writes copy straight
 *   between the device and the buffer. There is no cache, so cold and warm
 *   are the same path and one row stands for both.
 * - page cache, warm: dax=never with every page of the file cached.
 * - page cache, cold: the file's pages are written back and dropped from
 *   the cache before each iteration (outside the timed part), so every
 *   page is filled from the device (readpage) or, for writes, allocated.
 *   Writes are buffered: writeback is not timed (as write(2) on Linux).
 *
 * @module
 */

import { O_CREAT, O_RDWR } from "../src/abi/fcntl.ts";
import { asIno, asTaskSlot } from "../src/abi/types.ts";
import { MemDevice } from "../src/hw/device.ts";
import { createMemory } from "../src/hw/memory.ts";
import { mkfsInto } from "../src/fs/xipfs/mkfs.ts";
import { truncateInodePages } from "../src/fs/pagecache/pagecache.ts";
import {
  type Proc,
  vfsFstat,
  vfsFsync,
  vfsPread,
  vfsProcCreate,
  vfsPwrite,
} from "../src/fs/vfs.ts";
import { vfsOpen } from "../src/fs/vfs_path.ts";
import { XipVfs } from "../src/fs/xipfs/vfs_xipfs.ts";
import { mountXipfs, type XipFs } from "../src/fs/xipfs/xipfs_live.ts";
import { setCurrentTid, taskInit } from "../src/sync/mod.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const ITER = QUICK ? { n: 5, warmup: 1 } : {};
const FILE_BYTES = 1 << 20;
const SIZES: [string, number][] = [["4 KiB", 4096], ["64 KiB", 65536], ["1 MiB", FILE_BYTES]];

interface Mounted {
  x: XipFs;
  proc: Proc;
  fd: number;
  /** The file's page-cache mapping id (its inode-cache slot). */
  mapping: number;
}

/** A fresh machine, xipfs mounted dax=always or never, and /data of FILE_BYTES open O_RDWR. */
function mount(dax: boolean, tid: number): Mounted {
  const mem = createMemory({
    ramFrames: 2048,
    deviceFrames: 1024,
    deviceMemmap: false,
    maxTasks: 4,
  });
  setCurrentTid(asTaskSlot(tid));
  taskInit(mem.k32, asTaskSlot(tid));
  const dev = new MemDevice(mem);
  mkfsInto(dev.bytes, { inodes: 64 });
  const x = mountXipfs(mem, dev, { dax: dax ? "always" : "never" });
  if ("error" in x) throw new Error(`mountXipfs: ${x.error}`);
  const proc = vfsProcCreate(new XipVfs(x));
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  const fd = vfsOpen(proc, "/data", O_RDWR | O_CREAT);
  if (fd < 0) throw new Error(`open /data: ${fd}`);
  const fill = new Uint8Array(FILE_BYTES).map((_, i) => (i * 131 + 7) & 0xff);
  check(vfsPwrite(proc, fd, fill, 0), FILE_BYTES, "fill");
  check(vfsFsync(proc, fd), 0, "fsync");
  const st = vfsFstat(proc, fd);
  if (typeof st === "number") throw new Error(`fstat: ${st}`);
  const ip = x.iget(asIno(st.ino));
  if (typeof ip === "number") throw new Error(`iget: ${ip}`);
  x.iput(ip);
  return { x, proc, fd, mapping: ip.slot };
}

function check(got: number, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: ${got}, expected ${want}`);
}

// Both machines run as task 1 of this thread; each keeps its held-lock
// stack in its own kernel buffer.
const daxFs = mount(true, 1);
const pcFs = mount(false, 1);

/**
 * Write back and drop every cached page of the file. Single-threaded here,
 * so nothing can map or fault the file meanwhile (truncateInodePages'
 * invalidate_lock duty is met trivially).
 */
function dropCache(m: Mounted): void {
  check(vfsFsync(m.proc, m.fd), 0, "fsync");
  truncateInodePages(m.x.mem, m.mapping, 0);
}

const buf = new Uint8Array(FILE_BYTES);
/** The raw baseline copies to and from a SharedArrayBuffer of its own, like the device. */
const rawSab = new Uint8Array(new SharedArrayBuffer(FILE_BYTES)).map((_, i) => i & 0xff);

for (const [label, size] of SIZES) {
  const ops = FILE_BYTES / size;
  // Views built once: subarray() on a SAB costs about 100 ns, as much as a small copy.
  const devViews = Array.from({ length: ops }, (_, k) => rawSab.subarray(k * size, (k + 1) * size));
  const bufViews = Array.from({ length: ops }, (_, k) => buf.subarray(k * size, (k + 1) * size));
  const rawIn = () => {
    for (let k = 0; k < ops; k++) bufViews[k]!.set(devViews[k]!);
  };
  const rawOut = () => {
    for (let k = 0; k < ops; k++) devViews[k]!.set(bufViews[k]!);
  };
  const read = (m: Mounted) => {
    for (let k = 0; k < ops; k++) {
      check(vfsPread(m.proc, m.fd, bufViews[k]!, k * size), size, "pread");
    }
  };
  const write = (m: Mounted) => {
    for (let k = 0; k < ops; k++) {
      check(vfsPwrite(m.proc, m.fd, bufViews[k]!, k * size), size, "pwrite");
    }
  };
  const tag = `${ops} x ${label}`;

  const rg = `read ${label}`;
  Deno.bench({ name: `raw Uint8Array.set, ${tag}`, group: rg, baseline: true, ...ITER, fn: rawIn });
  Deno.bench({ name: `DAX read, ${tag}`, group: rg, ...ITER, fn: () => read(daxFs) });
  Deno.bench({
    name: `page-cache read, warm, ${tag}`,
    group: rg,
    ...ITER,
    fn: () => read(pcFs),
  });
  Deno.bench({
    name: `page-cache read, cold, ${tag}`,
    group: rg,
    ...ITER,
    fn: (b) => {
      dropCache(pcFs);
      b.start();
      read(pcFs);
      b.end();
    },
  });

  const wg = `write ${label}`;
  Deno.bench({
    name: `raw Uint8Array.set, ${tag}`,
    group: wg,
    baseline: true,
    ...ITER,
    fn: rawOut,
  });
  Deno.bench({ name: `DAX write, ${tag}`, group: wg, ...ITER, fn: () => write(daxFs) });
  Deno.bench({
    name: `page-cache write, warm, ${tag}`,
    group: wg,
    ...ITER,
    fn: () => write(pcFs),
  });
  Deno.bench({
    name: `page-cache write, cold, ${tag}`,
    group: wg,
    ...ITER,
    fn: (b) => {
      dropCache(pcFs);
      b.start();
      write(pcFs);
      b.end();
    },
  });
}
