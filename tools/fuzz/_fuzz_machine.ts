/**
 * A machine for the fuzzers: memory, the mm layer, the guest root tree
 * (fixtures/rootfs) in a live DAX xipfs on a memory device, file mappings
 * installed, and an ExecEnv that opens and maps files of that file system,
 * as the kernel's exec will once its VFS glue is live.
 */

import { EACCES, EIO, ENOENT } from "../../src/abi/errno.ts";
import { O_CREAT, O_RDONLY, O_RDWR, O_TRUNC } from "../../src/abi/fcntl.ts";
import { type Proc, vfsClose, vfsPread, vfsPwrite, withFile } from "../../src/fs/vfs.ts";
import { vfsOpen, vfsStat } from "../../src/fs/vfs_path.ts";
import type { MmapFile } from "../../src/mm/vma.ts";
import {
  ICACHE,
  ICACHE_SLOTS,
  ISLOT,
  ISLOT_WORDS,
  ISTATE_ACTIVE,
} from "../../src/abi/layout/mod.ts";
import { asIno, asTaskSlot, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { installFileMm, mmapFile } from "../../src/fs/file_vm_ops.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { isDirMode, isRegMode } from "../../src/fs/xipfs/xipfs_format.ts";
import { type InodeRef, mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import type { ExecEnv, ExecFile } from "../../src/kernel/exec.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";

export const ROOTFS = new URL("../../fixtures/rootfs/", import.meta.url);

export interface FuzzMachine {
  mem: Memory;
  dev: MemDevice;
  fs: XipFs;
  root: InodeRef;
}

/** Options of bootFuzzMachine. */
export interface FuzzMachineOptions {
  ramFrames?: number;
  imageBytes?: number;
  dax?: "always" | "never";
}

/** mkfs the rootfs fixture, boot, mount (DAX by default), install file mappings; this thread is task 1. */
export function bootFuzzMachine(o: FuzzMachineOptions = {}): FuzzMachine {
  const sizeBytes = o.imageBytes ?? 8 << 20;
  const image = mkfs({ sizeBytes, from: ROOTFS.pathname, dax: true });
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 2048,
    deviceFrames: sizeBytes / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 8,
  }, { image });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot failed");
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const dev = new MemDevice(mem);
  const fs = mountXipfs(mem, dev, { dax: o.dax ?? "always" });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  installFileMm(fs);
  const root = fs.iget(fs.rootIno);
  if (typeof root === "number") throw new Error(`iget root: ${root}`);
  return { mem, dev, fs, root };
}

/**
 * Resolve an absolute path to a referenced inode (the caller iputs it).
 *
 * @returns the inode, or -errno
 */
export function resolve(m: FuzzMachine, path: string): InodeRef | number {
  let cur = m.fs.iget(m.fs.rootIno);
  if (typeof cur === "number") return cur;
  for (const name of path.split("/").filter((s) => s.length > 0)) {
    if (!isDirMode(m.fs.getattr(cur).mode)) {
      m.fs.iput(cur);
      return -ENOENT;
    }
    const ino = m.fs.lookup(cur, name);
    m.fs.iput(cur);
    if (typeof ino === "number" && ino < 0) return ino;
    const next = m.fs.iget(asIno(ino as number));
    if (typeof next === "number") return next;
    cur = next;
  }
  return cur;
}

/**
 * An ExecEnv over the live file system through the VFS (an fd per open
 * file, so DAX and page-cache files read and map the way the syscalls
 * will), counting opens and closes.
 */
export class FsExecEnv implements ExecEnv {
  opens = 0;
  closes = 0;
  constructor(readonly m: FuzzMachine, public mm: MmId, readonly proc: Proc) {}

  get mem(): Memory {
    return this.m.mem;
  }

  openExec(path: string): ExecFile | number {
    const st = vfsStat(this.proc, path);
    if (typeof st === "number") return st;
    if (!isRegMode(st.mode)) return -EACCES;
    const fd = vfsOpen(this.proc, path, O_RDONLY);
    if (fd < 0) return fd;
    this.opens++;
    // deno-lint-ignore no-this-alias
    const env = this;
    let closed = false;
    return {
      size: st.size,
      pread(pos: number, dst: Uint8Array): number {
        if (closed) throw new Error(`pread after close of ${path}`);
        return vfsPread(env.proc, fd, dst, pos);
      },
      mmap(addr: number, len: number, prot: number, flags: number, pgoff: number): number {
        if (closed) throw new Error(`mmap after close of ${path}`);
        let file: MmapFile | null = null;
        const r = withFile(env.proc, fd, (_f, ip) => {
          file = mmapFile(env.m.fs, ip, true, false);
          return 0;
        });
        if (r < 0) return r;
        return doMmap(env.mem, env.mm, addr, len, prot, flags, file!, pgoff);
      },
      close(): void {
        if (closed) throw new Error(`double close of ${path}`);
        closed = true;
        env.closes++;
        vfsClose(env.proc, fd);
      },
    };
  }
}

/** Inode-cache slots in the ACTIVE state (inodes someone holds a reference to). */
export function activeInodes(mem: Memory): number {
  let n = 0;
  for (let s = 1; s < ICACHE_SLOTS; s++) {
    const w = mem.layout.icache.base + ICACHE.slots + s * ISLOT_WORDS + ISLOT.state;
    if (Atomics.load(mem.k32, w) === ISTATE_ACTIVE) n++;
  }
  return n;
}

/** Create regular file `path` holding `bytes` through the VFS (DAX or page cache alike). */
export function putFile(proc: Proc, path: string, bytes: Uint8Array): number {
  const fd = vfsOpen(proc, path, O_RDWR | O_CREAT | O_TRUNC, 0o755);
  if (fd < 0) return fd;
  const n = bytes.length === 0 ? 0 : vfsPwrite(proc, fd, bytes, 0);
  vfsClose(proc, fd);
  return n < 0 ? n : n === bytes.length ? 0 : -EIO;
}
