/**
 * Running one process in the calling Worker, from exec to teardown
 * (Linux's execve, the return to user mode, the trap handlers and do_exit,
 * in one thread).
 *
 * The hart runs user code; every trap enters the kernel in this same
 * thread through the HartEnv below: page faults go to handleMmFault,
 * ecalls to the syscall dispatcher, other traps become fatal signals, and
 * the periodic poll acknowledges TLB shootdowns and notices pending
 * signals. The task publishes its mode (user or kernel) around each trap,
 * as the shootdown protocol requires (src/mm/tlb.ts).
 *
 * @module
 */

import { ENOENT, errnoName } from "../abi/errno.ts";
import { MM, mmBase, PROC_EXITING, PROC_TD_FILES, PROC_TD_MM } from "../abi/layout.ts";
import {
  type Access,
  ACCESS_EXEC,
  CAUSE_BREAKPOINT,
  CAUSE_FETCH_ACCESS,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS,
  CAUSE_STORE_ACCESS,
} from "../abi/sv32.ts";
import { type Tid, type VirtAddr } from "../abi/types.ts";
import { Hart, type HartEnv } from "../hw/hart.ts";
import { statAdd } from "../hw/memory.ts";
import { handleMmFault, VM_FAULT_OOM, VM_FAULT_SIGBUS } from "../mm/fault.ts";
import { mmAlloc, mmPut } from "../mm/mm.ts";
import { mmRoot } from "../mm/pgtable.ts";
import { enterIdle, enterKernel, enterUser, switchMm, tlbCheck } from "../mm/tlb.ts";
import { REG_A7 } from "../abi/regs.ts";
import {
  killCheck,
  noKillEnter,
  noKillExit,
  recoverTask,
  setCurrentTid,
  taskExit,
  TaskKilled,
  withNoKill,
} from "../sync/mod.ts";
import { STAT } from "../abi/layout.ts";
import { type ExecResult, execStartStep, execve, isExecError, isInitReturn } from "./exec.ts";
import { VfsFiles } from "./files.ts";
import type { KernelFs } from "./fs_mount.ts";
import { OOM_RETRY, outOfMemory } from "./oom.ts";
import { procExit, procGet, procSet } from "./proc.ts";
import { SIGBUS, SIGILL, SIGKILL, signalName, SIGSEGV, SIGTRAP } from "./signal.ts";
import { syscallDispatch, syscallKillable } from "./syscall.ts";
import { straceExitLine } from "./strace.ts";
import { type ConsoleSink, type KernelLog, NO_KERNEL_LOG, Task } from "./task.ts";

/**
 * How exec places program text: "map" mmaps every PT_LOAD segment from the
 * file (text shared straight from the device under DAX, from page-cache
 * pages otherwise; data COW); "copy" fills anonymous memory instead.
 */
export type TextMode = "map" | "copy";

/** What the Machine tells a Worker to run. */
export interface ProcessStart {
  tid: number;
  pid: number;
  parentPid: number;
  path: string;
  argv: string[];
  envp: string[];
  stdin: Uint8Array;
  textMode: TextMode;
  /** CLOCK_MONOTONIC's zero, on the performance.timeOrigin + now() clock. */
  bootMs: number;
  /** Trace every system call to the kernel log (`xip run --strace`). */
  strace?: boolean;
  /** Current directory to start in (default the root). */
  cwd?: string;
}

/** How the process ended, as the Worker reports it. */
export interface ProcessResult {
  /** exit_group status, or 128 + signal when a signal killed it. */
  code: number;
  /** The fatal signal, 0 for a normal exit. */
  signal: number;
  instret: number;
  /** One line explaining a runtime-decided exit (exec failure, fault, kernel bug). */
  message?: string;
  /** A kernel bug (exception escaping the kernel): its message and stack. */
  panic?: string;
}

/** Instructions per hart.run call; the loop continues until the process stops. */
const RUN_BUDGET = 1 << 30;
/** Instructions between publications of a running process's instret (for live progress). */
const INSTRET_PUBLISH = 1 << 20;

/** How long a faulting process waits for an OOM victim's memory before it dies itself. */
const OOM_WAIT_MS = 5000;
/** A word nobody notifies: Atomics.wait on it is a nap. */
const OOM_NAP = new Int32Array(new SharedArrayBuffer(4));

/** The trap handlers of one process. */
class ProcessEnv implements HartEnv {
  hart: Hart | null = null;
  /** The next start-up step (execStartStep): init calls, then the entry. */
  step = 0;
  /** Instructions of this process already added to STAT.instret. */
  instretPublished = 0;
  constructor(readonly t: Task, readonly img: ExecResult) {}

  /** When this process's first fault in a row without a frame happened (0: none). */
  #oomSince = 0;

  /**
   * A fault found no frame even after reclaim: ask the OOM killer. If it
   * killed another process (or one is already dying), nap a moment and
   * return true, so that the access is retried once the victim's memory is
   * back; false when this process is the victim, or has waited OOM_WAIT_MS
   * for memory that never came.
   */
  #oomRetry(): boolean {
    const now = performance.now();
    if (this.#oomSince === 0) this.#oomSince = now;
    if (now - this.#oomSince > OOM_WAIT_MS) return false;
    if (outOfMemory(this.t.mem, this.t.tid) !== OOM_RETRY) return false;
    Atomics.wait(OOM_NAP, 0, 0, 1);
    return true;
  }

  #toUser(): boolean {
    const sig = this.t.pendingSignal();
    if (sig !== 0) {
      this.t.exit({ code: 0, signal: sig });
      return false;
    }
    enterUser(this.t.mem, this.t.tid, () => this.hart!.flushTlb());
    return true;
  }

  pageFault(va: VirtAddr, access: Access, _cause: number): boolean {
    const t = this.t;
    enterKernel(t.mem, t.tid);
    if (access === ACCESS_EXEC && isInitReturn(va) && this.step <= this.img.initCalls.length) {
      // An init function returned: start the next one, or the program.
      this.hart!.pc = execStartStep(this.hart!.x, this.img, this.step++);
      return this.#toUser();
    }
    const r = handleMmFault(t.mem, t.mm, va, access);
    if (r === 0) {
      this.#oomSince = 0;
      return this.#toUser();
    }
    if ((r & VM_FAULT_OOM) !== 0 && this.#oomRetry()) return this.#toUser();
    const sig = (r & VM_FAULT_OOM) !== 0 ? SIGKILL : (r & VM_FAULT_SIGBUS) !== 0 ? SIGBUS : SIGSEGV;
    const pc = this.hart!.pc >>> 0;
    t.exit({
      code: 0,
      signal: sig,
      message: `${signalName(sig)} at 0x${hex(va)} (pc 0x${hex(pc)})${
        (r & VM_FAULT_OOM) !== 0 ? ": out of memory" : ""
      }`,
    });
    return false;
  }

  ecall(hart: Hart): boolean {
    enterKernel(this.t.mem, this.t.tid);
    if (syscallKillable(hart.x[REG_A7]!)) {
      return syscallDispatch(this.t, hart.x) && this.#toUser();
    }
    noKillEnter();
    let done: boolean;
    try {
      done = syscallDispatch(this.t, hart.x);
    } finally {
      noKillExit();
    }
    return done && this.#toUser();
  }

  trap(cause: number, tval: number): boolean {
    const t = this.t;
    enterKernel(t.mem, t.tid);
    const sig = cause === CAUSE_ILLEGAL_INSTRUCTION
      ? SIGILL
      : cause === CAUSE_BREAKPOINT
      ? SIGTRAP
      : cause === CAUSE_LOAD_ACCESS || cause === CAUSE_STORE_ACCESS || cause === CAUSE_FETCH_ACCESS
      ? SIGSEGV
      : SIGBUS; // misaligned fetch, LR, SC or AMO
    t.exit({
      code: 0,
      signal: sig,
      message: `${signalName(sig)}: trap cause ${cause}, tval 0x${hex(tval)} (pc 0x${
        hex(this.hart!.pc)
      })`,
    });
    return false;
  }

  poll(hart: Hart): boolean {
    const t = this.t;
    killCheck(t.mem.k32); // a hard kill stops the task here, in user mode
    tlbCheck(t.mem, t.tid, () => hart.flushTlb());
    // Publish progress now and then, so a live run's instret is visible (xip run's progress line).
    if (hart.instret - this.instretPublished >= INSTRET_PUBLISH) {
      statAdd(t.mem, STAT.instret, hart.instret - this.instretPublished);
      this.instretPublished = hart.instret;
    }
    const sig = t.pendingSignal();
    if (sig === 0) return true;
    enterKernel(t.mem, t.tid);
    t.exit({ code: 0, signal: sig });
    return false;
  }
}

const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");

/**
 * Run the hart until the process stops (or, with `stopOnInitReturn`, until
 * an init call returns). Entry: kernel mode; on return, kernel mode.
 */
function runHart(env: ProcessEnv, hart: Hart): void {
  const t = env.t;
  if (!(enterUserChecked(env))) return;
  for (;;) {
    const why = hart.run(RUN_BUDGET);
    if (why === "budget") continue;
    enterKernel(t.mem, t.tid);
    return;
  }
}

function enterUserChecked(env: ProcessEnv): boolean {
  const t = env.t;
  const sig = t.pendingSignal();
  if (sig !== 0) {
    t.exit({ code: 0, signal: sig });
    return false;
  }
  enterUser(t.mem, t.tid, () => env.hart!.flushTlb());
  return true;
}

/** Why exec failed, as a shell's status: 127 not found, 126 found but not runnable. */
const execStatus = (errno: number): number => (Math.abs(errno) === ENOENT ? 127 : 126);

/**
 * Run process `s` to completion in this Worker: allocate its mm, exec,
 * run init calls and the program, then tear everything down and record the
 * status (the process becomes a zombie). Entry: the Machine claimed slot
 * s.tid and initialised the task; this thread has no current task.
 * Never throws: a kernel exception becomes a `panic` in the result.
 */
export function runProcess(
  fs: KernelFs,
  s: ProcessStart,
  console: ConsoleSink,
  klog: KernelLog = NO_KERNEL_LOG,
): ProcessResult {
  const mem = fs.mem;
  const tid = s.tid as Tid;
  setCurrentTid(tid);
  let t: Task | null = null;
  let hart: Hart | null = null;
  let env: ProcessEnv | null = null;
  let reason = { code: 0, signal: 0 } as { code: number; signal: number; message?: string };
  let panic: string | undefined;
  try {
    // Setting up and exec run as a no-kill region: they hold references no
    // lock records (src/sync/task.ts). The process becomes killable once its
    // hart runs: in user mode, in its page faults and in the system calls declared killable (syscall_def.ts).
    const started = withNoKill(() => startProcess());
    if (started !== null) {
      [t, env, hart] = started;
      runHart(env, hart);
      reason = t.exiting ?? { code: 0, signal: SIGKILL, message: "stopped without a reason" };
      if (t.panic !== null) panic = describe(t.panic);
    }
  } catch (e) {
    // Killed where it stood (the default kill action outside a process
    // Worker): the Machine tears the process down; this thread must not.
    if (e instanceof TaskKilled) throw e;
    panic = describe(e);
    reason = { code: 0, signal: SIGKILL, message: "kernel bug" };
  }
  return finish();

  /** Allocate the mm and files, exec; null (reason set) when the process cannot start. */
  function startProcess(): [Task, ProcessEnv, Hart] | null {
    const mm = mmAlloc(mem);
    if (mm < 0) {
      reason = { code: 0, signal: SIGKILL, message: "out of memory: no mm slot or frame" };
      return null;
    }
    procSet(mem, tid, "mm", mm);
    switchMm(mem, tid, mm);
    const files = VfsFiles.create(fs, mm);
    if (typeof files === "number") {
      reason = {
        code: 0,
        signal: SIGKILL,
        message: `no file table: ${errnoName(files)}`,
      };
      return null;
    }
    procSet(mem, tid, "fdTable", files.fdTable);
    if (s.cwd !== undefined) {
      const r = files.chdir(s.cwd);
      if (r < 0) {
        files.closeAll();
        reason = { code: 127, signal: 0, message: `cannot enter ${s.cwd}: ${errnoName(r)}` };
        return null;
      }
    }
    const task = new Task({
      mem,
      tid,
      pid: s.pid,
      parentPid: s.parentPid,
      mm,
      console,
      stdin: s.stdin,
      files,
      bootMs: s.bootMs,
      klog,
    });
    t = task; // teardown closes its files even if exec fails
    const img = execve({ mem, mm, openExec: (p) => files.openExec(p) }, s.path, s.argv, s.envp, {
      textMode: s.textMode,
    });
    if (isExecError(img)) {
      reason = {
        code: execStatus(img.errno),
        signal: 0,
        message: `${img.reason} (${errnoName(-Math.abs(img.errno))})`,
      };
      return null;
    }
    const e = new ProcessEnv(task, img);
    const h = new Hart(mem.phys, e, {
      rootPfn: mmRoot(mem, mm),
      tlbGenWord: { k32: mem.k32, index: mmBase(mem.layout, mm) + MM.tlbGen },
    });
    e.hart = h;
    h.pc = execStartStep(h.x, img, e.step++);
    return [task, e, h];
  }

  function finish(): ProcessResult {
    // An exiting process finishes its teardown even if it is killed
    // meanwhile (Linux's do_exit): cut off half-way it would strand a
    // half-freed mm that no lock records.
    noKillEnter();
    try {
      if (panic !== undefined) recoverTask(mem.k32, tid); // release what the bug left held
      teardown();
    } catch (e) {
      panic = (panic ? panic + "\n" : "") + "during teardown: " + describe(e);
    } finally {
      noKillExit();
    }
    const instret = hart?.instret ?? 0;
    const code = reason.signal !== 0 ? 128 + reason.signal : reason.code & 0xff;
    if (klog.strace) klog.trace(straceExitLine(s.pid, reason.code & 0xff, reason.signal));
    return { code, signal: reason.signal, instret, message: reason.message, panic };
  }

  function teardown(): void {
    procSet(mem, tid, "state", PROC_EXITING);
    enterKernel(mem, tid);
    const mm = procGet(mem, tid, "mm");
    t?.files.closeAll();
    procSet(mem, tid, "teardown", procGet(mem, tid, "teardown") | PROC_TD_FILES);
    switchMm(mem, tid, 0);
    enterIdle(mem, tid);
    if (mm !== 0) {
      mmPut(mem, mm);
      procSet(mem, tid, "mm", 0);
    }
    procSet(mem, tid, "teardown", procGet(mem, tid, "teardown") | PROC_TD_MM);
    if (hart !== null) statAdd(mem, STAT.instret, hart.instret - (env?.instretPublished ?? 0));
    const signal = reason.signal;
    procExit(mem, tid, signal !== 0 ? 0 : reason.code, signal);
    taskExit(mem.k32, tid);
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ""}`;
  return String(e);
}
