/**
 * The syscall fuzzer's cases (run in a Worker by fuzz_worker.ts under the
 * watchdog of _fuzz_runner.ts). Case i of seed S is one process: a fresh
 * mm with a scratch mapping holding a few path strings, a Task whose files
 * are the kernel's own (VfsFiles over the mounted xipfs with /proc), and a
 * stream of up to 200 syscalls
 * through syscallDispatch with random numbers and arguments: pointers into
 * the scratch area, at the heap, into kernel-ish and wild addresses, huge
 * lengths, small fds, O_* and MAP_* combinations. The process then exits
 * (its files closed, its mm torn down).
 *
 * Per case: no syscall may throw out of the dispatcher or leave t.panic
 * set (a kernel bug caught by the dispatcher), every result is an integer,
 * and afterwards checkInvariants reports nothing. Outcomes are counted by
 * how the process ended and by the errnos seen.
 */

import { SYS_rt_sigsuspend, SYS_rt_sigtimedwait_time64 } from "../../src/abi/signal.ts";
import { IPC_NOWAIT } from "../../src/abi/ipc.ts";
import { SOCK_NONBLOCK } from "../../src/abi/socket.ts";
import { F_SETFL, O_NONBLOCK } from "../../src/abi/fcntl.ts";
import { errnoName } from "../../src/abi/errno.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { procAlloc, procExit, procFree, procSet } from "../../src/kernel/proc.ts";
import { syscallDispatch, SYSCALLS } from "../../src/kernel/syscall.ts";
import { Task } from "../../src/kernel/task.ts";
import { mmAlloc, mmBoot, mmPut } from "../../src/mm/mm.ts";
import { doMmap, setBrkStart } from "../../src/mm/mmap.ts";
import { switchMm } from "../../src/mm/tlb_flush.ts";
import { copyToUser } from "../../src/mm/uaccess.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { taskExit } from "../../src/sync/current.ts";
import { type CaseOutcome } from "./_fuzz_summary.ts";
import { ROOTFS } from "./_fuzz_machine.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { VfsFiles } from "../../src/kernel/files.ts";
import {
  consoleAlloc,
  consoleInputPush,
  consolePut,
  setConsoleTransport,
} from "../../src/kernel/console.ts";
import { CONS_INPUT } from "../../src/abi/layout/console.ts";
import { type KernelFs, mountKernelFs } from "../../src/kernel/fs_mount.ts";
import { caseSeed, Rand } from "./_rng.ts";

const SCRATCH = 0x4000_0000;
const SCRATCH_BYTES = 8 * 4096;
const HEAP = 0x2000_0000;
const PATHS = [
  "/",
  "/bin/hello",
  "/lib/libc.so",
  "/fz/a",
  "/fz/b",
  "/fz",
  "/nope/x",
  "/fz/a/b",
  "",
];
const PATH_AT = SCRATCH + 4096; // path i at PATH_AT + 64 * i
/** A zero timespec for ppoll, rewritten before each call. */
const POLL_TS = SCRATCH + 3 * 4096;
const CALLS = 200;

export interface SyscallFuzz {
  seed: number;
  mem: Memory;
  fs: KernelFs;
  dax: boolean;
}

/** Boot the rootfs image and mount it as the Machine does (mountKernelFs); even seeds DAX. */
export function syscallFuzzSetup(seed: number): SyscallFuzz {
  const dax = (seed & 1) === 0;
  const sizeBytes = 8 << 20;
  const image = mkfs({ sizeBytes, from: ROOTFS.pathname, dax: true });
  const mem = createMemory({
    ramFrames: 1024,
    deviceFrames: sizeBytes / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot failed");
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const fs = mountKernelFs(mem, { dax: dax ? "always" : "never" });
  if ("error" in fs) throw new Error(fs.error);
  const root = fs.xip.iget(fs.xip.rootIno);
  if (typeof root === "number") throw new Error("root");
  fs.xip.mkdir(root, "fz", 0o755);
  fs.xip.iput(root);
  return { seed, mem, fs, dax };
}

/** An argument value: mostly plausible, often hostile. */
function arg(r: Rand): number {
  switch (r.int(11)) {
    case 0:
      return SCRATCH + r.int(SCRATCH_BYTES);
    case 1:
      return PATH_AT + 64 * r.int(PATHS.length);
    case 2:
      return r.pick([
        0,
        -1,
        1,
        2,
        3,
        4096,
        0x7fff_ffff,
        -0x8000_0000,
        0x7fff_f000,
        0xdead_b000 | 0,
      ]);
    case 3:
      return r.u32() | 0;
    case 4:
    case 5:
      return r.int(12); // fds, small counts, whence
    case 6:
      return 0x8000_0000 | r.int(0x1000_0000); // kernel-ish: at or above TASK_SIZE
    case 7:
      return HEAP + r.int(65536);
    case 8:
      return r.pick([0o0, 0o1, 0o2, 0o102, 0o1102, 0o2002, 0o200000, 0o40002, 0o102 | 0o200]); // O_*
    case 9:
      return SCRATCH + SCRATCH_BYTES - r.int(64); // straddles the end of the mapping
    default:
      return -r.int(4096);
  }
}

const NRS = [...SYSCALLS.keys()];

/** A length: small, page-ish, or hostile. */
function len(r: Rand): number {
  return r.pick([r.int(64), r.int(8192), 4096, 0, 0x7fff_ffff, 0xffff_ffff | 0, r.int(1 << 20)]);
}

/**
 * Shape the arguments of `n` most of the time, so calls get past the first
 * check (a path that exists, an fd that is open, a buffer that is mapped)
 * and reach the code behind it; the rest stay fully random.
 */
function shape(n: number, a: number[], r: Rand, fds: number[], maps: number[]): void {
  if (r.chance(0.3)) return;
  const fd = () => (fds.length > 0 && r.chance(0.8) ? r.pick(fds) : r.int(10));
  const buf = () =>
    maps.length > 0 && r.chance(0.3)
      ? r.pick(maps) + r.int(8192) // into a mapping the process made: file pages fault in copies
      : r.chance(0.8)
      ? SCRATCH + r.int(SCRATCH_BYTES - 64)
      : arg(r);
  switch (n) {
    case nr.SYS_openat:
      a[0] = r.chance(0.8) ? -100 : r.int(8); // AT_FDCWD
      a[1] = r.chance(0.9) ? PATH_AT + 64 * r.int(PATHS.length) : arg(r);
      a[3] = 0o644;
      break;
    case nr.SYS_linkat:
      a[0] = -100;
      a[1] = PATH_AT + 64 * r.int(PATHS.length);
      a[2] = -100;
      a[3] = PATH_AT + 64 * r.int(PATHS.length);
      a[4] = r.pick([0, 0, 0x400, 0x1000]); // AT_SYMLINK_FOLLOW, AT_EMPTY_PATH
      break;
    case nr.SYS_unlinkat:
      a[0] = -100;
      a[1] = PATH_AT + 64 * r.int(PATHS.length);
      a[2] = r.pick([0, 0, 0x200]);
      break;
    case nr.SYS_read:
    case nr.SYS_write:
    case nr.SYS_getdents64:
      a[0] = fd();
      a[1] = buf();
      a[2] = len(r);
      break;
    case nr.SYS_pread64:
    case nr.SYS_pwrite64:
      a[0] = fd();
      a[1] = buf();
      a[2] = len(r);
      a[3] = r.pick([0, r.int(300_000), 0x7fff_ffff]); // pos: lo, hi
      a[4] = r.chance(0.9) ? 0 : r.int(4);
      break;
    case nr.SYS_ftruncate64:
      a[0] = fd();
      a[1] = 0;
      a[2] = r.pick([0, 1, 4096, r.int(300_000), 0x7fff_ffff]);
      a[3] = r.chance(0.9) ? 0 : 1;
      break;
    case nr.SYS_close:
    case nr.SYS_fsync:
    case nr.SYS_statx:
      a[0] = fd();
      a[1] = buf();
      break;
    case nr.SYS_mmap2:
      a[0] = r.chance(0.7) ? 0 : arg(r);
      a[1] = len(r) & 0x00ff_ffff;
      a[2] = r.int(8); // PROT_*
      a[3] = r.pick([0x01, 0x02, 0x22, 0x12, 0x11, 0x21]); // SHARED/PRIVATE, ANON, FIXED
      a[4] = fd();
      a[5] = r.pick([0, 1, 2, 100]);
      break;
    case nr.SYS_munmap:
    case nr.SYS_mprotect:
    case nr.SYS_msync:
    case nr.SYS_madvise:
      a[0] = r.chance(0.5) ? SCRATCH + 4096 * r.int(8) : (0x7000_0000 - 4096 * r.int(64));
      a[1] = 4096 * r.int(16);
      a[2] = r.int(8);
      break;
  }
}
/** Syscall names by number, for the counts. */
const NAMES = new Map<number, string>(
  Object.entries(nr).filter(([k, v]) => k.startsWith("SYS_") && typeof v === "number").map((
    [k, v],
  ) => [v as number, k.slice(4)]),
);

/** Run case `i`: one process's syscall stream. */
export function syscallFuzzCase(z: SyscallFuzz, i: number): CaseOutcome {
  const { mem } = z;
  const r = new Rand(caseSeed(z.seed, i));
  const tid = asTaskSlot(2);
  taskInit(mem.k32, tid);
  setCurrentTid(tid);
  const problems: string[] = [];
  const pid = procAlloc(mem, asTaskSlot(2), 0);
  const mm = mmAlloc(mem) as MmId;
  if (pid < 0 || mm < 0) throw new Error(`procAlloc ${pid} / mmAlloc ${mm}`);
  switchMm(mem, tid, mm);
  procSet(mem, asTaskSlot(2), "mm", mm);
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  if (doMmap(mem, mm, SCRATCH, SCRATCH_BYTES, PROT_READ | PROT_WRITE, flags) !== SCRATCH) {
    throw new Error("scratch mmap");
  }
  setBrkStart(mem, mm, HEAP);
  const enc = new TextEncoder();
  PATHS.forEach((p, k) => copyToUser(mem, mm, asVirt(PATH_AT + 64 * k), enc.encode(p + "\0")));
  setConsoleTransport({ send: () => 0 });
  const console = consoleAlloc(mem, CONS_INPUT);
  if (console < 0) throw new Error(`consoleAlloc ${console}`);
  consoleInputPush(mem, console, enc.encode("stdin bytes for the fuzzer\n"));
  consoleInputPush(mem, console, null);
  const files = VfsFiles.create(z.fs, mm, console);
  consolePut(mem, console); // the open files hold it now
  if (typeof files === "number") throw new Error(`VfsFiles.create: ${files}`);
  procSet(mem, asTaskSlot(2), "fdTable", files.fdTable);
  const t = new Task({
    mem,
    tid,
    pid,
    parentPid: 0,
    mm,
    files,
    bootMs: performance.timeOrigin,
  });
  const regs = new Int32Array(32);
  const errs = new Set<string>();
  const details: Record<string, number> = {};
  let calls = 0;
  let last = "";
  const fds: number[] = [];
  const maps: number[] = [];
  for (; calls < CALLS && t.exiting === null; calls++) {
    const n = r.chance(0.9) ? r.pick(NRS) : r.pick([-1, 0, 5, 300, 1000, 402, 404, r.int(500)]);
    const a = [arg(r), arg(r), arg(r), arg(r), arg(r), arg(r)];
    shape(n, a, r, fds, maps);
    if (n === nr.SYS_futex_time64) a[1] = 1; // FUTEX_WAKE: a WAIT with no waker never ends
    // A sleep of a random length (or forever, ppoll with no timeout) would stall the fuzzer:
    // an unmapped timeout pointer makes them fail fast instead.
    if (n === nr.SYS_ppoll_time64 || n === nr.SYS_clock_nanosleep_time64) a[2] = 0x7fff_f000;
    // rt_sigsuspend and rt_sigtimedwait wait for a signal nobody sends here (or a random timeout).
    if (n === SYS_rt_sigsuspend || n === SYS_rt_sigtimedwait_time64) continue;
    // A successful execve would replace the image this loop is fuzzing.
    if (n === nr.SYS_execve) continue;
    // IPC that would wait for another process: semop never gives up; queues and sockets don't wait.
    if (n === nr.SYS_semop || n === nr.SYS_semtimedop_time64) continue;
    if (n === nr.SYS_msgsnd) a[3] = a[3]! | IPC_NOWAIT;
    if (n === nr.SYS_msgrcv) a[4] = a[4]! | IPC_NOWAIT;
    if (n === nr.SYS_socket || n === nr.SYS_socketpair) a[1] = a[1]! | SOCK_NONBLOCK;
    if (n === nr.SYS_accept4) a[3] = a[3]! | SOCK_NONBLOCK;
    // Pipes likewise: no other process could ever fill or drain one of the fuzzer's own.
    if (n === nr.SYS_pipe2) a[1] = a[1]! | O_NONBLOCK;
    if (n === nr.SYS_fcntl64 && a[1] === F_SETFL) a[2] = a[2]! | O_NONBLOCK;
    if (n === nr.SYS_ppoll_time64) {
      // A poll with no timeout waits for ever: give it 0 s (or a bad pointer), and a few pollfds.
      copyToUser(mem, mm, asVirt(POLL_TS), new Uint8Array(16));
      a[1] = r.int(4);
      a[2] = r.chance(0.9) ? POLL_TS : 4;
    }
    if (n === nr.SYS_mmap2) a[3] = a[3]! & ~0x8000; // no MAP_POPULATE of gigabytes
    if (n === nr.SYS_brk) a[0] = HEAP + (a[0]! & 0xffff);
    if ((n === nr.SYS_exit || n === nr.SYS_exit_group) && r.chance(0.95)) continue; // keep going longer
    regs.fill(0);
    a.forEach((v, k) => (regs[10 + k] = v | 0));
    regs[17] = n;
    last = `syscall ${n}(${a.join(", ")})`;
    try {
      syscallDispatch(t, regs);
    } catch (e) {
      problems.push(`${last} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      break;
    }
    if (t.panic !== null) {
      const e = t.panic;
      problems.push(
        `${last}: kernel bug: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      break;
    }
    if (t.exiting !== null) break; // a0 is not written for an exit
    const ret = regs[10]!;
    if (ret < 0 && ret >= -4095) errs.add(errnoName(ret));
    if (n === nr.SYS_openat && ret >= 0) fds.push(ret);
    if (n === nr.SYS_mmap2 && ret > 0) maps.push(ret);
    const d = `${NAMES.get(n) ?? "unknown"}:${ret < 0 && ret >= -4095 ? errnoName(ret) : "ok"}`;
    details[d] = (details[d] ?? 0) + 1;
  }
  let end = t.exiting === null
    ? "ran"
    : t.exiting.signal !== 0
    ? `signal ${t.exiting.signal}`
    : "exited";
  try {
    files.closeAll();
    switchMm(mem, tid, 0);
    mmPut(mem, mm);
    procExit(mem, asTaskSlot(2), 0, 0);
    procFree(mem, asTaskSlot(2));
  } catch (e) {
    problems.push(`teardown threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    end = "teardown threw";
  }
  taskExit(mem.k32, tid);
  setCurrentTid(asTaskSlot(1));
  for (const v of checkInvariants(mem)) problems.push(`invariant after ${calls} calls: ${v}`);
  return {
    kind: `${end}${problems.length > 0 ? " (FAILED)" : ""}`,
    mutation: z.dax ? "dax" : "pagecache",
    target: `${calls} calls`,
    problems,
    details,
  };
}
