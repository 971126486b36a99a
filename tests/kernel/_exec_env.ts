/**
 * Test-side ExecEnv over host files: openExec reads fixtures (or in-memory
 * overrides, for mutated copies) and counts opens and closes. For textMode
 * "map" it stands in for a DAX file system: each file's bytes are placed in
 * memory-device frames and mmap installs a VMA whose VmOperations maps those
 * frames with insertMixed (read faults) or copies them (private write
 * faults), as daxFault will.
 *
 * @module
 */

import { EISDIR, ENOENT, ENOEXEC } from "../../src/abi/errno.ts";
import { ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asInodeSlot, asPfn, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import {
  copyUserPage,
  insertMixed,
  VM_FAULT_DONE_COW,
  VM_FAULT_SIGBUS,
} from "../../src/mm/fault.ts";
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
import assert from "node:assert/strict";
import {
  type ExecEnv,
  type ExecError,
  type ExecFile,
  type ExecOptions,
  type ExecResult,
  execve,
  isExecError,
} from "../../src/kernel/exec.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { exitMmap, mmAlloc } from "../../src/mm/mm.ts";
import { vmaFreeSlots } from "../../src/mm/vma.ts";
import { boot } from "../mm/_mm_helpers.ts";

export const ROOTFS = new URL("../../fixtures/rootfs/", import.meta.url);
export const STATIC = new URL("../../fixtures/static/", import.meta.url);

/** VmOperations id of the test DAX stand-in. */
export const OPS_EXEC_DAX = VMOPS_TEST + 5;

/** A file placed on the device: first device pfn and page count, by inode-cache "slot". */
const daxFiles = new Map<number, { pfn: number; pages: number }>();
let nextSlot = 1000;

registerVmOps(OPS_EXEC_DAX, {
  name: "test-exec-dax",
  ctx: null,
  mmap(_mem: Memory, _file, vmFlags: number): number {
    return vmFlags | VM_MIXEDMAP;
  },
  fault(_ctx: null, vmf: VmFault): number {
    const f = daxFiles.get(vmaFile(vmf.mem, vmf.vma));
    if (f === undefined || vmf.pgoff >= f.pages) return VM_FAULT_SIGBUS;
    const pfn = asPfn(f.pfn + vmf.pgoff);
    if (vmf.cowPage !== 0) {
      copyUserPage(vmf.mem, vmf.cowPage, pfn);
      return VM_FAULT_DONE_COW;
    }
    const shared = (vmaFlags(vmf.mem, vmf.vma) & VM_SHARED) !== 0;
    return insertMixed(
      vmf.mem,
      vmf.mm,
      vmf.vma,
      vmf.address,
      pfn,
      shared && vmf.access === ACCESS_WRITE,
    );
  },
});

/** Read a fixture file. */
export function fixture(base: URL, path: string): Uint8Array {
  return Deno.readFileSync(new URL(path.replace(/^\/+/, ""), base));
}

export interface HostEnvOptions {
  /** Host directory that "/" names. */
  root?: URL;
  /** Files that replace or add to the tree, by guest path. */
  files?: Map<string, Uint8Array>;
  /** Guest paths that do not exist, whatever the host tree holds. */
  hidden?: Set<string>;
  /** Place files on the device so that ExecFile.mmap works (textMode "map"). */
  dax?: boolean;
}

/** An ExecEnv over host files, counting opens and closes. */
export class HostExecEnv implements ExecEnv {
  opens = 0;
  closes = 0;
  readonly opened: string[] = [];
  private readonly root: URL;
  private readonly files: Map<string, Uint8Array>;
  /** Next free device frame (relative to the device's first pfn). */
  private devNext = 0;
  private readonly devSlots = new Map<string, number>();

  /** `mm` may be changed between execs to load into another address space from the same device. */
  constructor(readonly mem: Memory, public mm: MmId, private readonly o: HostEnvOptions = {}) {
    this.root = o.root ?? ROOTFS;
    this.files = o.files ?? new Map();
  }

  private bytesOf(path: string): Uint8Array | number {
    const over = this.files.get(path);
    if (over !== undefined) return over;
    if (this.o.hidden?.has(path)) return -ENOENT;
    try {
      const url = new URL(path.replace(/^\/+/, ""), this.root);
      const st = Deno.statSync(url);
      if (st.isDirectory) return -EISDIR;
      if (!st.isFile) return -ENOEXEC;
      return Deno.readFileSync(url);
    } catch {
      return -ENOENT;
    }
  }

  /** The device slot of `path`, copying its bytes to device frames the first time. */
  private daxSlot(path: string, bytes: Uint8Array): number {
    const have = this.devSlots.get(path);
    if (have !== undefined) return have;
    const cfg = this.mem.layout.config;
    const pages = Math.ceil(bytes.length / PAGE_SIZE);
    if (this.devNext + pages > cfg.deviceFrames) throw new Error("test device full");
    const pfn = cfg.ramFrames + this.devNext;
    this.devNext += pages;
    this.mem.u8.fill(0, pfn * PAGE_SIZE, (pfn + pages) * PAGE_SIZE);
    this.mem.u8.set(bytes, pfn * PAGE_SIZE);
    const slot = nextSlot++;
    daxFiles.set(slot, { pfn, pages });
    this.devSlots.set(path, slot);
    return slot;
  }

  /** First device pfn holding `path` (map mode), or -1. */
  devicePfnOf(path: string): number {
    const s = this.devSlots.get(path);
    return s === undefined ? -1 : daxFiles.get(s)!.pfn;
  }

  openExec(path: string): ExecFile | number {
    const b = this.bytesOf(path);
    if (typeof b === "number") return b === -EISDIR ? -ENOEXEC : b;
    this.opens++;
    this.opened.push(path);
    const bytes = b;
    // deno-lint-ignore no-this-alias
    const env = this;
    let closed = false;
    return {
      size: bytes.length,
      pread(pos: number, dst: Uint8Array): number {
        if (closed) throw new Error(`pread after close of ${path}`);
        const n = Math.max(0, Math.min(dst.length, bytes.length - pos));
        dst.set(bytes.subarray(pos, pos + n));
        return n;
      },
      mmap(addr: number, len: number, prot: number, flags: number, pgoff: number): number {
        if (closed) throw new Error(`mmap after close of ${path}`);
        if (!env.o.dax) return -19; // ENODEV: this env has no mappable files
        const slot = env.daxSlot(path, bytes);
        const file = {
          slot: asInodeSlot(slot),
          ops: OPS_EXEC_DAX,
          readable: true,
          writable: false,
        };
        return doMmap(env.mem, env.mm, addr, len, prot, flags, file, pgoff);
      },
      close(): void {
        if (closed) throw new Error(`double close of ${path}`);
        closed = true;
        env.closes++;
      },
    };
  }
}

/** One exec in a fresh machine: what it returned, and the machine to inspect before teardown. */
export interface ExecRun {
  mem: Memory;
  mm: MmId;
  env: HostExecEnv;
  res: ExecResult | ExecError;
}

/**
 * Boot a machine, exec `path` into a fresh mm, hand the result to `inspect`,
 * then tear the mm down with exitMmap and check that nothing leaked: every
 * RAM frame and VMA slot is back, and every file exec opened was closed.
 */
export function withExec<T>(
  path: string,
  argv: string[],
  envp: string[],
  o: HostEnvOptions & ExecOptions & { ramFrames?: number; deviceFrames?: number },
  inspect: (run: ExecRun) => T,
): T {
  const mem = boot({ ramFrames: o.ramFrames ?? 1024, deviceFrames: o.deviceFrames ?? 128 });
  const frames0 = freeFrameCount(mem);
  const slots0 = vmaFreeSlots(mem);
  const mm = mmAlloc(mem) as MmId;
  if (mm < 0) throw new Error("mmAlloc failed");
  const env = new HostExecEnv(mem, mm, o);
  const res = execve(env, path, argv, envp, o);
  let out: T;
  try {
    out = inspect({ mem, mm, env, res });
  } finally {
    exitMmap(mem, mm);
  }
  assert.equal(env.closes, env.opens, `exec left ${env.opens - env.closes} file(s) open`);
  assert.equal(freeFrameCount(mem), frames0, "frames leaked after exitMmap");
  assert.equal(vmaFreeSlots(mem), slots0, "VMA slots leaked after exitMmap");
  return out;
}

/** Narrow an exec result to success, failing the test with the reason otherwise. */
export function ok(res: ExecResult | ExecError): ExecResult {
  if (isExecError(res)) throw new Error(`exec failed: errno ${res.errno}: ${res.reason}`);
  return res;
}
