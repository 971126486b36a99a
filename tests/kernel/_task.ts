/**
 * A syscall test bench: a booted memory, an mm with one scratch mapping,
 * and a Task on the main thread whose console output is captured. The
 * register file is a plain Int32Array, as the hart's `x` is.
 *
 * @module
 */

import { signalRelease } from "../../src/kernel/signal_lifecycle.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { SYS_statx } from "../../src/abi/syscall_nr.ts";
import { AT_EMPTY_PATH, STATX, STATX_BASIC_STATS, STATX_BYTES } from "../../src/kernel/sys_stat.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import type { Memory } from "../../src/hw/memory.ts";
import { mmAlloc, mmBoot, mmPut } from "../../src/mm/mm.ts";
import { doMmap, setBrkStart } from "../../src/mm/mmap.ts";
import { copyFromUser, copyToUser } from "../../src/mm/uaccess.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import { VfsFiles } from "../../src/kernel/files.ts";
import { type KernelFs, mountKernelFs, unmountKernelFs } from "../../src/kernel/fs_mount.ts";
import { procAlloc, procExit, procFree, procSet } from "../../src/kernel/proc.ts";
import { syscallDispatch } from "../../src/kernel/syscall.ts";
import { Task } from "../../src/kernel/task.ts";
import {
  consoleAlloc,
  consoleInputPush,
  consolePut,
  setConsoleTransport,
} from "../../src/kernel/console.ts";
import { CONS_INPUT } from "../../src/abi/layout/console.ts";

/** Where the scratch mapping starts, and its size. */
export const SCRATCH = 0x4000_0000;
export const SCRATCH_BYTES = 4 * 4096;
/** The heap start given to brk. */
export const HEAP = 0x2000_0000;

export interface Bench {
  mem: Memory;
  /** The mounted file system (xipfs with /proc) the task's files live on. */
  fs: KernelFs;
  t: Task;
  regs: Int32Array;
  out: number[];
  err: number[];
  /** Console bytes past the first MiB of each stream, counted but not kept. */
  readonly dropped: number;
  /** Run syscall `nr` with `args`; returns a0 (and whether the task goes on). */
  call(nr: number, ...args: number[]): number;
  /** Write bytes into user memory. */
  poke(va: number, bytes: Uint8Array): void;
  peek(va: number, len: number): Uint8Array;
  /** A fresh Task after an exit (same mm and slot). */
  revive(): void;
  close(): void;
}

/** Device bytes of the bench's file system. */
const DEVICE_BYTES = 2 * 1024 * 1024;

/**
 * A fresh bench; `stdin` is the console input. The file system is an empty
 * xipfs on a memory device, mounted with `dax` (default "never": the page
 * cache), so file syscalls go through the real VFS; `memmap` gives the
 * device frames struct pages or not.
 */
export function makeBench(
  stdin = "",
  dax: "always" | "never" = "never",
  memmap: "none" | "device" = "none",
): Bench {
  const mem = createMemory({
    ramFrames: 1024,
    deviceFrames: DEVICE_BYTES / PAGE_SIZE,
    deviceMemmap: memmap === "device",
    maxTasks: 4,
  }, { image: mkfs({ sizeBytes: DEVICE_BYTES }) });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot failed");
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const fs = mountKernelFs(mem, { dax });
  if ("error" in fs) throw new Error(fs.error);
  const tid = asTaskSlot(2);
  taskInit(mem.k32, tid);
  setCurrentTid(tid);
  const pid = procAlloc(mem, asTaskSlot(2), 0);
  const mm = mmAlloc(mem) as MmId;
  if (mm < 0) throw new Error("mmAlloc failed");
  switchMm(mem, tid, mm);
  procSet(mem, asTaskSlot(2), "mm", mm);
  const r = doMmap(
    mem,
    mm,
    SCRATCH,
    SCRATCH_BYTES,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | 0x10,
  );
  if (r !== SCRATCH) throw new Error(`scratch mmap failed: ${r}`);
  setBrkStart(mem, mm, HEAP);
  const out: number[] = [], err: number[] = [];
  let dropped = 0;
  // The console: stdin given up front, output captured through this
  // thread's transport (the first MiB of each stream is kept).
  setConsoleTransport({
    send: (_c, fd, b) => {
      const to = fd === 1 ? out : err;
      if (to.length < 1 << 20) { for (const x of b) to.push(x); }
      // keep the first MiB
      else dropped += b.length;
      return 0;
    },
  });
  const input = new TextEncoder().encode(stdin);
  let console = 0;
  const newConsole = () => {
    if (console !== 0) consolePut(mem, console);
    console = consoleAlloc(mem, CONS_INPUT);
    if (console < 0) throw new Error(`consoleAlloc: ${console}`);
    consoleInputPush(mem, console, input); // at most a ring's worth
    consoleInputPush(mem, console, null);
  };
  const mk = () => {
    newConsole();
    const files = VfsFiles.create(fs, mm, console);
    if (typeof files === "number") throw new Error(`VfsFiles.create: ${files}`);
    procSet(mem, asTaskSlot(2), "fdTable", files.fdTable);
    return new Task({
      mem,
      tid,
      pid,
      parentPid: 0,
      mm,
      files,
      bootMs: performance.timeOrigin + performance.now(),
    });
  };
  const bench: Bench = {
    mem,
    fs,
    t: mk(),
    regs: new Int32Array(32),
    out,
    err,
    call(nr, ...args) {
      this.regs.fill(0);
      args.forEach((v, i) => (this.regs[10 + i] = v | 0));
      this.regs[17] = nr;
      syscallDispatch(this.t, this.regs);
      return this.regs[10]!;
    },
    poke(va, bytes) {
      if (copyToUser(mem, mm, asVirt(va), bytes) !== 0) throw new Error("poke failed");
    },
    peek(va, len) {
      const b = copyFromUser(mem, mm, asVirt(va), len);
      if (typeof b === "number") throw new Error("peek failed");
      return b;
    },
    revive() {
      signalRelease(mem, asTaskSlot(2)); // a fresh Task attaches fresh signal state
      this.t.files.closeAll();
      this.t = mk();
    },
    get dropped() {
      return dropped;
    },
    close() {
      this.t.files.closeAll();
      consolePut(mem, console);
      setConsoleTransport(null);
      switchMm(mem, tid, 0);
      mmPut(mem, mm);
      setCurrentTid(asTaskSlot(1));
      const rc = unmountKernelFs(fs);
      if (rc !== 0) throw new Error(`unmount: ${rc} (an inode leaked)`);
      setCurrentTid(tid);
      procExit(mem, asTaskSlot(2), 0, 0);
      procFree(mem, asTaskSlot(2));
      setCurrentTid(asTaskSlot(1));
    },
  };
  return bench;
}

/**
 * fstat the riscv32 way: statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS,
 * buf), the empty path written at `buf` itself (read before the result
 * overwrites it). Returns the call's result; the struct statx is at `buf`.
 */
export function statxFd(b: Bench, fd: number, buf: number): number {
  b.poke(buf, Uint8Array.of(0));
  return b.call(SYS_statx, fd, buf, AT_EMPTY_PATH, STATX_BASIC_STATS, buf);
}

/** mode, size and blocks of the struct statx at `buf`. */
export function statxFields(b: Bench, buf: number): { mode: number; size: number; blocks: number } {
  const v = new DataView(b.peek(buf, STATX_BYTES).buffer);
  return {
    mode: v.getUint16(STATX.mode, true),
    size: Number(v.getBigUint64(STATX.size, true)),
    blocks: Number(v.getBigUint64(STATX.blocks, true)),
  };
}
