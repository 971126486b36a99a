/**
 * The kernel's view of the process a Worker runs (Linux's task_struct,
 * reduced): which task and process slot it is, its mm, its files (the
 * console among them), and how it is exiting. Syscall handlers receive it.
 *
 * One Task exists per process, in the Worker that runs it, and only that
 * Worker touches it; what other threads must see lives in the shared
 * process record (proc.ts), which the Task mirrors where needed.
 *
 * @module
 */

import type { MmId, TaskSlot } from "../abi/types.ts";
import type { ExecResult } from "./exec_types.ts";
import type { Memory } from "../hw/memory.ts";
import type { FileGlue } from "./files.ts";
import { procGet, procSlot } from "./proc.ts";
import { defaultRlimits, type Rlimits } from "./rlimit.ts";
import { TaskSignals } from "./signal_task.ts";

/**
 * Where the kernel's own lines about a process go: the Machine's log
 * (stderr for `xip run`), never the guest's console.
 */
export interface KernelLog {
  /** Trace every system call (`xip run --strace`). */
  readonly strace: boolean;
  /** One `--strace` line. */
  trace(line: string): void;
  /** System call `nr` is not implemented; the Machine reports each number once. */
  enosys(nr: number): void;
}

/** A log that traces nothing and drops notices (tests, and a Task built without one). */
export const NO_KERNEL_LOG: KernelLog = { strace: false, trace() {}, enosys() {} };

/** How a process ends: an exit_group status, or a fatal signal. */
export interface ExitReason {
  code: number;
  signal: number;
  /** One line for the user when the exit is the runtime's decision (exec failure, panic). */
  message?: string;
}

/**
 * What a process asks of the Machine from inside a syscall, without
 * waiting for an answer (the Worker never returns to its event loop while
 * the process runs).
 */
export interface ProcessHost {
  /**
   * A child left in its slot with PROC.start = START_PENDING wants a Worker:
   * ring the Machine's doorbell.
   */
  ringDoorbell(): void;
}

/** Construction parameters of a Task. */
export interface TaskInit {
  mem: Memory;
  tid: TaskSlot;
  pid: number;
  parentPid: number;
  mm: MmId;
  files: FileGlue;
  /** performance.timeOrigin + performance.now() at Machine boot: CLOCK_MONOTONIC's zero. */
  bootMs: number;
  /** Trace and notice lines (default NO_KERNEL_LOG). */
  klog?: KernelLog;
  /** How exec places program text ("map" unless given). */
  textMode?: "map" | "copy";
  /** The Machine, for clone (absent in tests that run a Task alone: clone is -ENOSYS). */
  host?: ProcessHost;
}

export class Task {
  readonly mem: Memory;
  readonly tid: TaskSlot;
  /** Process slot: the same TaskSlot as `tid` (one process per task). */
  readonly slot: TaskSlot;
  /** The task's own id: the pid of a process, the tid of a thread (gettid); see takeOver. */
  pid: number;
  /** Its thread group's id, the leader's pid (getpid). */
  readonly tgid: number;
  /** Slot of its thread group's leader (its own slot for a leader); see takeOver. */
  leader: TaskSlot;
  /** The parent's pid when the process started (getppid reads the live record). */
  readonly parentPid: number;
  mm: MmId;
  readonly files: FileGlue;
  readonly bootMs: number;
  readonly klog: KernelLog;
  /** When the process started, on the same clock as bootMs. */
  readonly startMs = performance.timeOrigin + performance.now();
  /** Set by exit/exit_group or a fatal signal; the run loop stops and tears down. */
  exiting: ExitReason | null = null;
  /** An exception that escaped the kernel (a bug): the Worker reports it loudly. */
  panic: unknown = null;
  /** File mode creation mask (umask), applied by openat and mkdirat. */
  umask = 0o022;
  /** Resource limits but RLIMIT_NOFILE (which the fd table keeps). */
  rlimits: Rlimits = defaultRlimits();
  /** membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) was called. */
  membarrierRegistered = false;
  /**
   * Set by a successful execve: the new image, which the process layer
   * starts on a new hart instead of returning to the old one.
   */
  execPending: ExecResult | null = null;
  readonly textMode: "map" | "copy";
  readonly host: ProcessHost | null;
  /** Task-local signal state; the shared part is in the `signal` region (signal_state.ts). */
  readonly sig: TaskSignals;

  constructor(init: TaskInit) {
    this.mem = init.mem;
    this.tid = init.tid;
    this.slot = init.tid;
    this.pid = init.pid;
    this.tgid = procGet(init.mem, init.tid, "tgid") || init.pid;
    this.leader = procSlot(init.mem, init.tid, "leader") || init.tid;
    this.parentPid = init.parentPid;
    this.mm = init.mm;
    this.files = init.files;
    this.bootMs = init.bootMs;
    this.klog = init.klog ?? NO_KERNEL_LOG;
    this.textMode = init.textMode ?? "map";
    this.host = init.host ?? null;
    this.sig = new TaskSignals(init.mem, init.tid, init.pid);
  }

  /** Linux's signal_pending(current): a signal awaits delivery. Cheap: one atomic load. */
  signalPending(): boolean {
    return this.sig.pending();
  }

  /**
   * An execve from this thread made it its group's leader (de_thread.ts):
   * its id is now the process's pid `pid`, as getpid and gettid say.
   */
  takeOver(pid: number): void {
    this.pid = pid;
    this.leader = this.slot;
  }

  /** Stop the process with `reason` unless it is already stopping (the first reason wins). */
  exit(reason: ExitReason): void {
    if (this.exiting === null) this.exiting = reason;
  }
}
