/**
 * Test helper (not a test): a booted machine (mm layer and a live xipfs)
 * with procfs mounted at /proc over it, a fake process table, and two
 * stand-in VmOperations that map real xipfs files the way daxFault and
 * filemapFault do (the real ones live on another branch): DAX maps the
 * file's device frames with insertMixed, the page-cache one hands back
 * page-cache pages.
 */

import { O_CREAT, O_RDONLY, O_WRONLY } from "../../src/abi/fcntl.ts";
import { ACCESS_WRITE } from "../../src/abi/sv32.ts";
import {
  asBlock,
  asTaskSlot,
  blockToSector,
  type MmId,
  PAGE_SIZE,
  type Pfn,
} from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mkfsInto } from "../../src/fs/xipfs/mkfs.ts";
import { pathLookup } from "../../src/fs/namei.ts";
import { readCachePage } from "../../src/fs/pagecache/pagecache.ts";
import type { ProcInfo } from "../../src/fs/procfs/procfs.ts";
import { mountProcfs, type ProcfsMount } from "../../src/fs/procfs/procfs_mount.ts";
import { type Proc, vfsClose, vfsProcCreate, vfsRead, vfsWrite } from "../../src/fs/vfs.ts";
import type { VInode } from "../../src/fs/vfs_fs.ts";
import { vfsMkdir, vfsOpen } from "../../src/fs/vfs_path.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { mountXipfs } from "../../src/fs/xipfs/xipfs_live.ts";
import {
  copyUserPage,
  insertMixed,
  VM_FAULT_DONE_COW,
  VM_FAULT_SIGBUS,
} from "../../src/mm/fault.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import {
  registerVmOps,
  VM_MIXEDMAP,
  VM_SHARED,
  vmaFile,
  vmaFlags,
  type VmFault,
  VMOPS_TEST,
} from "../../src/mm/vma.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";

export const OPS_FILE_DAX = VMOPS_TEST + 6;
export const OPS_FILE_PAGES = VMOPS_TEST + 7;

/** A fake process table: pid -> mm, and which pid "self" is. */
export class FakeProcs implements ProcInfo {
  readonly procs = new Map<number, { mm: MmId }>();
  self = 0;
  lookupPid(pid: number): { mm: MmId } | null {
    return this.procs.get(pid) ?? null;
  }
  selfPid(): number {
    return this.self;
  }
  pids(): number[] {
    return [...this.procs.keys()].sort((a, b) => a - b);
  }
}

/** Mapped test files of this thread, per machine: inode slot -> the held inode. */
const mapped = new Map<Memory, { env: ProcEnv; files: Map<number, VInode> }>();

function fileOf(vmf: VmFault): { env: ProcEnv; ip: VInode } {
  const m = mapped.get(vmf.mem);
  const ip = m?.files.get(vmaFile(vmf.mem, vmf.vma));
  if (m === undefined || ip === undefined) throw new Error("fault on a file the test did not map");
  return { env: m.env, ip };
}

registerVmOps(OPS_FILE_DAX, {
  name: "procfs-test-dax",
  ctx: null,
  mmap(_mem, _file, vmFlags: number): number {
    return vmFlags | VM_MIXEDMAP;
  },
  fault(_ctx: null, vmf: VmFault): number {
    const { env, ip } = fileOf(vmf);
    const shared = (vmaFlags(vmf.mem, vmf.vma) & VM_SHARED) !== 0;
    const write = shared && vmf.access === ACCESS_WRITE;
    const blk = env.root.getBlock(ip, vmf.pgoff, write);
    if (blk <= 0) return VM_FAULT_SIGBUS;
    const da = env.dev.directAccess(blockToSector(asBlock(blk)), PAGE_SIZE);
    if (typeof da === "number") return VM_FAULT_SIGBUS;
    if (vmf.cowPage !== 0) {
      copyUserPage(vmf.mem, vmf.cowPage, da.pfn);
      return VM_FAULT_DONE_COW;
    }
    return insertMixed(vmf.mem, vmf.mm, vmf.vma, vmf.address, da.pfn, write);
  },
});

registerVmOps(OPS_FILE_PAGES, {
  name: "procfs-test-pages",
  ctx: null,
  fault(_ctx: null, vmf: VmFault): number {
    const { env, ip } = fileOf(vmf);
    const pfn = readCachePage(vmf.mem, ip.slot, vmf.pgoff, env.root.aops, undefined, null);
    if (pfn < 0) return VM_FAULT_SIGBUS;
    vmf.page = pfn as Pfn;
    return 0;
  },
  pageMkwrite(): number {
    return 0;
  },
});

export interface ProcEnv {
  mem: Memory;
  dev: MemDevice;
  root: XipVfs;
  mount: ProcfsMount;
  proc: Proc;
  info: FakeProcs;
  dax: boolean;
}

export interface EnvOptions {
  /** Mount dax=always (DAX file mappings) or dax=never (page-cache file mappings). */
  dax?: boolean;
  /** Device frames get struct pages (ZONE_DEVICE-like). */
  deviceMemmap?: boolean;
  ramFrames?: number;
}

/** A fresh machine with procfs mounted over a fresh xipfs, this thread as task 1. */
export function procEnv(o: EnvOptions = {}): ProcEnv {
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 512,
    deviceFrames: 1024,
    deviceMemmap: o.deviceMemmap ?? false,
    maxTasks: 4,
  });
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  if (mmBoot(mem) !== 0) throw new Error("mmBoot");
  const dev = new MemDevice(mem);
  mkfsInto(dev.bytes, { inodes: 256 });
  const dax = o.dax ?? true;
  const x = mountXipfs(mem, dev, { dax: dax ? "always" : "never" });
  if ("error" in x) throw new Error(`mountXipfs: ${x.error}`);
  const root = new XipVfs(x);
  const info = new FakeProcs();
  const mount = mountProcfs(root, info);
  const proc = vfsProcCreate(mount);
  if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
  return { mem, dev, root, mount, proc, info, dax };
}

/** Create `path` (parents made as needed) holding `data`. */
export function writeFile(env: ProcEnv, path: string, data: Uint8Array): void {
  const parts = path.split("/").filter((p) => p !== "");
  for (let i = 1; i < parts.length; i++) vfsMkdir(env.proc, "/" + parts.slice(0, i).join("/"));
  const fd = vfsOpen(env.proc, path, O_CREAT | O_WRONLY);
  if (fd < 0) throw new Error(`open ${path}: ${fd}`);
  const n = vfsWrite(env.proc, fd, data);
  if (n !== data.length) throw new Error(`write ${path}: ${n}`);
  vfsClose(env.proc, fd);
}

/** `pages` pages of recognisable bytes. */
export const fileBytes = (pages: number): Uint8Array =>
  Uint8Array.from({ length: pages * PAGE_SIZE }, (_, i) => (i * 7 + 3) & 0xff);

/**
 * mmap `path` into mm `mm` at `addr` (MAP_FIXED) with the stand-in ops of
 * the env's mode. The test keeps the inode referenced, as a VMA's file does.
 *
 * @returns the inode number
 */
export function mapFile(
  env: ProcEnv,
  mm: MmId,
  path: string,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  pgoff = 0,
): number {
  const ip = pathLookup(env.root, env.root.rootIno, path, true);
  if (typeof ip === "number") throw new Error(`lookup ${path}: ${ip}`);
  let m = mapped.get(env.mem);
  if (m === undefined) {
    m = { env, files: new Map() };
    mapped.set(env.mem, m);
  }
  if (m.files.has(ip.slot)) env.root.iput(ip);
  else m.files.set(ip.slot, ip);
  const ops = env.dax ? OPS_FILE_DAX : OPS_FILE_PAGES;
  const file = { slot: ip.slot, ops, readable: true, writable: true };
  const r = doMmap(env.mem, mm, addr, len, prot, flags, file, pgoff);
  if (r !== addr) throw new Error(`mmap ${path}: ${r}`);
  return ip.ino;
}

/** Read a whole procfs file through open/read/close, in `chunk`-byte reads. */
export function readProc(env: ProcEnv, path: string, chunk = 4096): string | number {
  const fd = vfsOpen(env.proc, path, O_RDONLY);
  if (fd < 0) return fd;
  const parts: Uint8Array[] = [];
  try {
    for (;;) {
      const buf = new Uint8Array(chunk);
      const n = vfsRead(env.proc, fd, buf);
      if (n < 0) return n;
      if (n === 0) break;
      parts.push(buf.subarray(0, n));
    }
  } finally {
    vfsClose(env.proc, fd);
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all);
}

/** Drop the inode references mapFile kept for `env` (end of a test). */
export function releaseMapped(env: ProcEnv): void {
  const m = mapped.get(env.mem);
  if (m === undefined) return;
  for (const ip of m.files.values()) env.root.iput(ip);
  mapped.delete(env.mem);
}
