/**
 * The image fuzzer's cases (run in a Worker by fuzz_worker.ts under the
 * watchdog of _fuzz_runner.ts). Case i of seed S mutates a copy of a base
 * image (the guest root tree plus files with indirect blocks, holes,
 * nested directories and symlinks) in one or two on-disk structures, then:
 *
 * - fsck(image) must not throw (it never may) and gives a status;
 * - mountXipfs (DAX or page cache) either refuses with one non-empty line,
 *   or mounts; then a bounded walk through the VFS (getdents, stat, open,
 *   read, pwrite, ftruncate, fsync, readlink, create, mkdir, unlink) must
 *   return numbers (errnos such as -EUCLEAN or -EIO), never throw;
 * - after the process exits and the filesystem unmounts, checkInvariants
 *   reports nothing (no lock held, no frame leaked);
 * - fsck and the live filesystem agree: a mount refusal is fsck status 8,
 *   and an -EUCLEAN/-EIO seen by an operation means fsck was not clean;
 * - repair: fsck -y (fsckRepair) on a copy gives 8 exactly when fsck did,
 *   else 0 (only for a clean image) or 1, after which a second fsck -n is
 *   clean and the repaired image mounts and unmounts.
 */

import { errnoName } from "../../src/abi/errno.ts";
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR } from "../../src/abi/fcntl.ts";
import { asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { fsckRepair } from "../../src/fs/xipfs/fsck_repair.ts";
import {
  type Proc,
  vfsClose,
  vfsFsync,
  vfsFtruncate,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
  vfsRead,
} from "../../src/fs/vfs.ts";
import {
  vfsGetdents64,
  vfsMkdir,
  vfsOpen,
  vfsReadlink,
  vfsStat,
  vfsUnlink,
} from "../../src/fs/vfs_path.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { isDirMode, isLnkMode, isRegMode } from "../../src/fs/xipfs/xipfs_format.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { type CaseOutcome, normalizeReason } from "./_fuzz_summary.ts";
import { type ImageMap, mapImage, mutateImage } from "./_image_mutate.ts";
import { bootFuzzMachine, putFile, resolve } from "./_fuzz_machine.ts";
import { caseSeed, Rand } from "./_rng.ts";

export interface ImageFuzz {
  seed: number;
  base: Uint8Array;
  map: ImageMap;
}

/** Build the base image: the rootfs plus structures worth breaking. */
export function imageFuzzSetup(seed: number): ImageFuzz {
  const m = bootFuzzMachine({ imageBytes: 4 << 20, ramFrames: 512 });
  const fs = m.fs;
  const big = new Uint8Array(120 * 1024).map((_, i) => (i * 7) & 0xff); // indirect block
  const proc = vfsProcCreate(new XipVfs(fs));
  if (typeof proc === "number") throw new Error("vfsProcCreate");
  const mk = (path: string, bytes: Uint8Array) => {
    const e = putFile(proc, path, bytes);
    if (e < 0) throw new Error(`${path}: ${e}`);
  };
  fs.mkdir(m.root, "d1", 0o755);
  const d1 = resolve(m, "/d1");
  if (typeof d1 === "number") throw new Error("d1");
  fs.mkdir(d1, "d2", 0o755);
  fs.symlink(d1, "short", "/big");
  fs.symlink(d1, "long", "/d1/d2/" + "x".repeat(80));
  for (let i = 0; i < 40; i++) fs.create(d1, `entry-${i}-${"n".repeat(i % 17)}`, 0o100644);
  fs.iput(d1);
  mk("/big", big);
  mk("/d1/d2/file", new TextEncoder().encode("hello, image fuzz\n"));
  const holey = resolve(m, "/d1/d2/file");
  if (typeof holey === "number") throw new Error("holey");
  fs.daxWrite(holey, 40 * PAGE_SIZE, new Uint8Array(100).fill(9)); // a hole, then an indirect block
  fs.iput(holey);
  fs.iput(m.root);
  vfsProcExit(new XipVfs(fs), proc.fdt);
  if (fs.unmount() < 0) throw new Error("unmount of the base image failed");
  const base = m.dev.bytes.slice(0, fs.vol.sb.totalBlocks * PAGE_SIZE);
  const clean = fsck(base);
  if (clean.status !== 0) throw new Error(`base image not clean: ${clean.errors.join("; ")}`);
  return { seed, base, map: mapImage(base) };
}

/** A dirent64 buffer's names and types. */
function parseDirents(buf: Uint8Array, n: number): { name: string; type: number }[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, n);
  const out: { name: string; type: number }[] = [];
  for (let o = 0; o + 19 <= n;) {
    const rec = dv.getUint16(o + 16, true);
    if (rec < 20) break;
    let end = o + 19;
    while (end < o + rec && buf[end] !== 0) end++;
    out.push({ name: new TextDecoder().decode(buf.subarray(o + 19, end)), type: buf[o + 18]! });
    o += rec;
  }
  return out;
}

/** Collects the errnos operations return. */
class Ops {
  readonly errs = new Set<string>();
  n(ret: number): number {
    if (ret < 0) this.errs.add(errnoName(ret));
    return ret;
  }
}

/** The bounded walk of the module comment. Throws if an operation throws. */
function exercise(proc: Proc, r: Rand, ops: Ops): void {
  const buf = new Uint8Array(4096);
  const queue: [string, number][] = [["/", 0]];
  let visited = 0;
  while (queue.length > 0 && visited < 80) {
    const [dir, depth] = queue.shift()!;
    const fd = ops.n(vfsOpen(proc, dir, O_RDONLY | O_DIRECTORY));
    if (fd < 0) continue;
    const names: string[] = [];
    for (let k = 0; k < 32; k++) {
      const got = ops.n(vfsGetdents64(proc, fd, buf));
      if (got <= 0) break;
      for (const e of parseDirents(buf, got)) {
        if (e.name !== "." && e.name !== "..") names.push(e.name);
      }
    }
    ops.n(vfsClose(proc, fd));
    for (const name of names.slice(0, 48)) {
      visited++;
      const path = (dir === "/" ? "" : dir) + "/" + name;
      const st = vfsStat(proc, path, false);
      if (typeof st === "number") {
        ops.n(st);
        continue;
      }
      if (isDirMode(st.mode) && depth < 5) queue.push([path, depth + 1]);
      else if (isLnkMode(st.mode)) {
        const t = vfsReadlink(proc, path);
        if (typeof t === "number") ops.n(t);
      } else if (isRegMode(st.mode)) exerciseFile(proc, path, r, ops);
    }
  }
  const fd = ops.n(vfsOpen(proc, "/fuzz-new", O_RDWR | O_CREAT, 0o644));
  if (fd >= 0) {
    ops.n(vfsPwrite(proc, fd, new Uint8Array(10_000).fill(3), r.int(70_000)));
    ops.n(vfsClose(proc, fd));
  }
  ops.n(vfsMkdir(proc, "/fuzz-dir"));
  ops.n(vfsUnlink(proc, r.pick(["/big", "/d1/d2/file", "/fuzz-new", "/bin/hello"])));
}

function exerciseFile(proc: Proc, path: string, r: Rand, ops: Ops): void {
  const write = r.chance(0.4);
  const fd = ops.n(vfsOpen(proc, path, write ? O_RDWR : O_RDONLY));
  if (fd < 0) return;
  const dst = new Uint8Array(16 * 1024);
  for (let k = 0; k < 16; k++) if (ops.n(vfsRead(proc, fd, dst)) <= 0) break;
  if (write) {
    ops.n(vfsPwrite(proc, fd, new Uint8Array(300).fill(0x5a), r.int(200_000)));
    ops.n(vfsFtruncate(proc, fd, r.pick([0, 1, 4096, 5000, 60_000, r.int(300_000)])));
    ops.n(vfsFsync(proc, fd));
  }
  ops.n(vfsClose(proc, fd));
}

/** Run case `i`. */
export function imageFuzzCase(z: ImageFuzz, i: number): CaseOutcome {
  const r = new Rand(caseSeed(z.seed, i));
  const mut = mutateImage(z.base, z.map, r);
  const problems: string[] = [];
  const fr = fsck(mut.bytes);
  if (fr.errors.some((e) => e.startsWith("internal error"))) {
    problems.push(`fsck threw: ${fr.errors.find((e) => e.startsWith("internal error"))}`);
  }
  repairPass(mut.bytes, fr.status, problems);
  const mem = createMemory({
    ramFrames: 256,
    deviceFrames: z.base.length / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image: mut.bytes });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot");
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const dax = r.chance(0.5) ? "always" : "never";
  const x = mountXipfs(mem, new MemDevice(mem), { dax });
  if (!(x instanceof XipFs)) {
    if (x.error.length === 0 || x.error.includes("\n")) problems.push(`mount error not one line`);
    if (fr.status !== 8) {
      problems.push(`mount refused (${x.error}) but fsck status is ${fr.status}`);
    }
    return {
      kind: `refused: ${normalizeReason(x.error)}`,
      mutation: mut.kind,
      target: dax,
      problems,
    };
  }
  const vfs = new XipVfs(x);
  const proc = vfsProcCreate(vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
  const ops = new Ops();
  try {
    exercise(proc, r, ops);
  } catch (e) {
    problems.push(`operation threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return { kind: "THREW", mutation: mut.kind, target: dax, problems };
  }
  ops.n(vfsProcExit(vfs, proc.fdt));
  const um = x.unmount();
  if (um < 0 && um !== -5) problems.push(`unmount: ${errnoName(um)}`);
  for (const v of checkInvariants(mem)) problems.push(`invariant: ${v}`);
  const corrupt = ops.errs.has("EUCLEAN") || ops.errs.has("EIO");
  if (corrupt && fr.status === 0) {
    problems.push(`operations saw ${[...ops.errs].join(",")} on an image fsck passes`);
  }
  const errs = [...ops.errs].filter((e) => !["ENOENT", "EEXIST"].includes(e)).sort();
  const kind = `mounted, fsck ${fr.status}${errs.length > 0 ? `, ops: ${errs.join(" ")}` : ""}`;
  return { kind, mutation: mut.kind, target: dax, problems };
}

/**
 * fsck -y on a copy of `image` (fsck status `checked`): it must classify
 * as fsck did and leave an image that checks clean and mounts.
 */
function repairPass(image: Uint8Array, checked: number, problems: string[]): void {
  const copy = image.slice();
  const rep = fsckRepair(copy, "yes");
  if (rep.errors.some((e) => e.includes("internal error"))) {
    problems.push(`repair threw: ${rep.errors.join("; ")}`);
    return;
  }
  if ((rep.status === 8) !== (checked === 8)) {
    problems.push(`repair status ${rep.status} but fsck status ${checked}`);
    return;
  }
  if (rep.status === 8) return;
  if (rep.status !== 0 && rep.status !== 1) {
    problems.push(
      `repair left errors (status ${rep.status}): ${rep.errors.slice(0, 3).join("; ")}`,
    );
    return;
  }
  const again = fsck(copy, { state: true });
  if (again.status !== 0) {
    problems.push(`fsck after repair: ${again.errors.slice(0, 3).join("; ")}`);
    return;
  }
  const mem = createMemory({
    ramFrames: 256,
    deviceFrames: copy.length / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image: copy });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot");
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const x = mountXipfs(mem, new MemDevice(mem), { dax: "always" });
  if (!(x instanceof XipFs)) {
    problems.push(`the repaired image does not mount: ${x.error}`);
    return;
  }
  const um = x.unmount();
  if (um < 0) problems.push(`unmount of the repaired image: ${errnoName(um)}`);
}
