/**
 * Running one process in the calling Worker, from exec to teardown
 * (Linux's execve, the return to user mode, the trap handlers and do_exit,
 * in one thread).
 *
 * The hart runs user code; every trap enters the kernel in this same
 * thread through the HartEnv below: page faults go to handleMmFault,
 * ecalls to the syscall dispatcher, other traps raise synchronous signals,
 * and the periodic poll acknowledges TLB shootdowns and notices pending
 * signals. Every way back to user mode goes through #toUser, which
 * delivers pending signals (signal_deliver.ts): the same three points
 * (syscall return, fault, poll) for the interpreter and for translated
 * code, which stops at each of them. The task publishes its mode (user or kernel) around each trap,
 * as the shootdown protocol requires (src/mm/tlb_flush.ts).
 *
 * @module
 */

import { ENOENT, errnoName, isErr } from "../abi/errno.ts";
import { MM, mmBase, PROC_EXITING, PROC_TD_FILES, PROC_TD_MM } from "../abi/layout/mod.ts";
import {
  type Access,
  ACCESS_EXEC,
  CAUSE_BREAKPOINT,
  CAUSE_FETCH_ACCESS,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS,
  CAUSE_STORE_ACCESS,
} from "../abi/sv32.ts";
import { asTaskSlot, type MmId, PAGE_SHIFT, type VirtAddr } from "../abi/types.ts";
import { Hart, type HartEnv } from "../hw/hart.ts";
import { statAdd } from "../hw/memory.ts";
import { persistPhys } from "../fs/dax_sync.ts";
import { handleMmFault, VM_FAULT_HWPOISON, VM_FAULT_OOM, VM_FAULT_SIGBUS } from "../mm/fault.ts";
import { tstatComm, tstatInstret, tstatSched } from "../mm/fault_ring.ts";
import { mmAlloc, mmPut } from "../mm/mm.ts";
import { mmRoot } from "../mm/pgtable.ts";
import { enterIdle, enterKernel, enterUser, switchMm, tlbCheck } from "../mm/tlb_flush.ts";
import { REG_A0, REG_A7 } from "../abi/regs.ts";
import {
  BUS_ADRALN,
  BUS_ADRERR,
  ILL_ILLOPC,
  SEGV_ACCERR,
  SYS_rt_sigreturn,
  TRAP_BRKPT,
} from "../abi/signal.ts";
import { TIF_SIGPENDING } from "../abi/layout/signal.ts";
import {
  killCheck,
  noKillEnter,
  noKillExit,
  recoverTask,
  setCurrentTid,
  sleepCounts,
  taskExit,
  TaskKilled,
  withNoKill,
} from "../sync/mod.ts";
import { VMSTAT } from "../abi/layout/mod.ts";
import { type ExecResult, execStartStep, execve, isExecError, isInitReturn } from "./exec.ts";
import { clearChildTid, exitNotify, vforkRelease } from "./exit.ts";
import { closeFilesOf, VfsFiles } from "./files.ts";
import { readFrame } from "./fork.ts";
import { exitRobustList } from "./futex_ops.ts";
import { futexPiExit } from "./futex_pi.ts";
import { futexUnqueue } from "./futex_q.ts";
import type { KernelFs } from "./fs_mount.ts";
import { OOM_RETRY, outOfMemory } from "./oom.ts";
import { procGet, procMm, procSet } from "./proc.ts";
import { processJit } from "./proc_jit.ts";
import { SIGBUS, SIGILL, SIGKILL, signalName, SIGSEGV, SIGTRAP } from "./signal.ts";
import { doSignal, type SyscallReturn } from "./signal_deliver.ts";
import { faultInfo, forceSigInfo, forceSigMceerr, segvCode } from "./signal_send.ts";
import { signalExit } from "./signal_lifecycle.ts";
import { ipcExit } from "./ipc.ts";
import { syscallDispatch, syscallKillable } from "./syscall.ts";
import { straceExitLine } from "./strace.ts";
import { type KernelLog, NO_KERNEL_LOG, type ProcessHost, Task } from "./task.ts";
import { consoleFlush } from "./console.ts";
import type { ArgString } from "./exec_stack.ts";

/**
 * How exec places program text: "map" mmaps every PT_LOAD segment from the
 * file (text shared straight from the device under DAX, from page-cache
 * pages otherwise; data COW); "copy" fills anonymous memory instead.
 */
export type TextMode = "map" | "copy";

/** What the Machine tells a Worker to run: a program to exec, in a new process. */
export interface ExecStart {
  kind?: "exec";
  tid: number;
  pid: number;
  parentPid: number;
  path: string;
  /** Arguments and environment: text, or exact bytes (see exec_stack.ts ArgString). */
  argv: ArgString[];
  envp: ArgString[];
  /** Cookie of the console fds 0, 1 and 2 open on (src/kernel/console.ts). */
  console: number;
  textMode: TextMode;
  /** CLOCK_MONOTONIC's zero, on the performance.timeOrigin + now() clock. */
  bootMs: number;
  /** Trace every system call to the kernel log (`xip run --strace`). */
  strace?: boolean;
  /** Current directory to start in (default the root). */
  cwd?: string;
}

/**
 * ... or a child that clone built in slot `tid` (its mm, fd table and
 * register frame are in the process record; fork.ts).
 */
export interface CloneStart {
  kind: "clone";
  tid: number;
  pid: number;
  textMode: TextMode;
  bootMs: number;
  /** Trace every system call to the kernel log (`xip run --strace`), as the parent. */
  strace?: boolean;
}

export type ProcessStart = ExecStart | CloneStart;

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
  /** Instructions of this process already added to VMSTAT.instret. */
  instretPublished = 0;
  /** Entries to the kernel and TLB flushes of this image (TSTAT.kentries, tlbFlushes). */
  kentries = 0;
  tlbFlushes = 0;
  /** This Worker's sleep counts when the image started (the Worker ran others before). */
  readonly #sleepBase = { ...sleepCounts };
  /** The image exec loaded (its init calls run first); null for a cloned child, already running. */
  constructor(readonly t: Task, readonly img: ExecResult | null) {}

  /** Publish what pulled this task off its hart (tstatSched): at each instret publish and at exit. */
  publishSched(): void {
    tstatSched(this.t.mem, this.t.tid, this.t.pid, {
      kentries: this.kentries,
      lockSleeps: sleepCounts.lock - this.#sleepBase.lock,
      waitSleeps: sleepCounts.wait - this.#sleepBase.wait,
      tlbFlushes: this.tlbFlushes,
    });
  }

  /** Flush the hart's TLB for a shootdown, counted. */
  readonly #flush = (): void => {
    this.tlbFlushes++;
    this.hart!.flushTlb();
  };

  /** When this process's first fault in a row without a frame happened (0: none). */
  #oomSince = 0;
  /** The physical block whose cache-block write-back just failed (-1: none), for trap(). */
  #cboFailed = -1;

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

  /**
   * Return to user mode (Linux's exit_to_user_mode_loop): deliver every
   * pending signal first, one doSignal each, so handler frames stack as
   * on Linux. `sc` is the system call being returned from (null after a
   * fault or a poll), for restarts. Entry: kernel mode, no lock held.
   *
   * @returns false when the process must stop (t.exiting set)
   */
  #toUser(sc: SyscallReturn | null): boolean {
    const t = this.t;
    const k = t.mem.k32;
    while ((Atomics.load(k, t.sig.flagsWord) & TIF_SIGPENDING) !== 0) {
      if (!doSignal(t, this.hart!, sc)) return false;
    }
    enterUser(t.mem, t.tid, this.#flush);
    return true;
  }

  /**
   * A fault or trap raised `sig` (force_sig_fault): queue it with its
   * siginfo, remembering the line to print should it kill, then return to
   * user mode, into its handler if there is one.
   */
  /** #toUser for the first entry (runHart). */
  toUser(): boolean {
    return this.#toUser(null);
  }

  #fault(sig: number, code: number, addr: number, message: string): boolean {
    const t = this.t;
    t.sig.fault = { sig, message };
    forceSigInfo(t.mem, t.tid, faultInfo(sig, code, addr));
    return this.#toUser(null);
  }

  pageFault(va: VirtAddr, access: Access, _cause: number): boolean {
    const t = this.t;
    this.kentries++;
    enterKernel(t.mem, t.tid);
    const img = this.img;
    if (
      access === ACCESS_EXEC && isInitReturn(va) && img !== null &&
      this.step <= img.initCalls.length
    ) {
      // An init function returned: start the next one, or the program.
      this.hart!.pc = execStartStep(this.hart!.x, img, this.step++);
      return this.#toUser(null);
    }
    const r = handleMmFault(t.mem, t.mm, va, access);
    if (r === 0) {
      this.#oomSince = 0;
      return this.#toUser(null);
    }
    if ((r & VM_FAULT_OOM) !== 0 && this.#oomRetry()) return this.#toUser(null);
    const pc = this.hart!.pc >>> 0;
    if ((r & VM_FAULT_OOM) !== 0) {
      t.exit({
        code: 0,
        signal: SIGKILL,
        message: `SIGKILL at 0x${hex(va)} (pc 0x${hex(pc)}): out of memory`,
      });
      return false;
    }
    if ((r & VM_FAULT_HWPOISON) !== 0) {
      // Poison consumed (memory failure): SIGBUS with BUS_MCEERR_AR and the page's address.
      t.sig.fault = {
        sig: SIGBUS,
        message: `SIGBUS at 0x${hex(va)} (pc 0x${hex(pc)}): poisoned memory`,
      };
      forceSigMceerr(t.mem, t.tid, va, PAGE_SHIFT);
      return this.#toUser(null);
    }
    const sig = (r & VM_FAULT_SIGBUS) !== 0 ? SIGBUS : SIGSEGV;
    const code = sig === SIGBUS ? BUS_ADRERR : segvCode(t.mem, t.mm, va);
    return this.#fault(sig, code, va, `${signalName(sig)} at 0x${hex(va)} (pc 0x${hex(pc)})`);
  }

  ecall(hart: Hart): boolean {
    this.kentries++;
    enterKernel(this.t.mem, this.t.tid);
    const nr = hart.x[REG_A7]!;
    // rt_sigreturn restores a0 from the frame: never take it for an interrupted call.
    const sc = { active: nr !== SYS_rt_sigreturn, origA0: hart.x[REG_A0]! };
    if (syscallKillable(nr)) {
      return syscallDispatch(this.t, hart.x) && this.#toUser(sc);
    }
    noKillEnter();
    let done: boolean;
    try {
      done = syscallDispatch(this.t, hart.x);
    } finally {
      noKillExit();
    }
    return done && this.#toUser(sc);
  }

  /**
   * Any other trap, as arch/riscv/kernel/traps.c maps it: an illegal
   * instruction is SIGILL (ILL_ILLOPC), ebreak SIGTRAP (TRAP_BRKPT), an
   * access fault SIGSEGV (SEGV_ACCERR), a misaligned fetch or atomic
   * SIGBUS (BUS_ADRALN); si_addr is the trapping pc, as Linux's epc.
   */
  trap(cause: number, tval: number): boolean {
    const t = this.t;
    this.kentries++;
    enterKernel(t.mem, t.tid);
    const pc = this.hart!.pc >>> 0;
    if (cause === CAUSE_STORE_ACCESS && this.#cboFailed >= 0) {
      // cbo.clean/cbo.flush could not write its line into the host image.
      this.#cboFailed = -1;
      const what = `SIGBUS at 0x${hex(tval)} (pc 0x${hex(pc)}): cache-block write-back failed`;
      return this.#fault(SIGBUS, BUS_ADRERR, tval, what);
    }
    const [sig, code] = cause === CAUSE_ILLEGAL_INSTRUCTION
      ? [SIGILL, ILL_ILLOPC]
      : cause === CAUSE_BREAKPOINT
      ? [SIGTRAP, TRAP_BRKPT]
      : cause === CAUSE_LOAD_ACCESS || cause === CAUSE_STORE_ACCESS || cause === CAUSE_FETCH_ACCESS
      ? [SIGSEGV, SEGV_ACCERR]
      : [SIGBUS, BUS_ADRALN]; // misaligned fetch, LR, SC or AMO
    return this.#fault(
      sig,
      code,
      pc,
      `${signalName(sig)}: trap cause ${cause}, tval 0x${hex(tval)} (pc 0x${hex(pc)})`,
    );
  }

  /**
   * Zicbom cbo.clean / cbo.flush of the line at `pa`: write it into the
   * host image now (src/fs/dax_sync.ts persistLine, pmem's CLWB). User
   * mode, no lock held.
   */
  cacheBlock(pa: number, _op: number): boolean {
    if (persistPhys(pa) === 0) return true;
    this.#cboFailed = pa;
    return false;
  }

  poll(hart: Hart): boolean {
    const t = this.t;
    killCheck(t.mem.k32); // a hard kill stops the task here, in user mode
    tlbCheck(t.mem, t.tid, this.#flush);
    // Publish progress now and then, so a live run's instret is visible (xip run's progress line).
    if (hart.instret - this.instretPublished >= INSTRET_PUBLISH) {
      statAdd(t.mem, VMSTAT.instret, hart.instret - this.instretPublished);
      this.instretPublished = hart.instret;
      tstatInstret(t.mem, t.tid, t.pid, hart.instret); // the live view's per-process rate
      this.publishSched();
    }
    if ((Atomics.load(t.mem.k32, t.sig.flagsWord) & TIF_SIGPENDING) === 0) return true;
    this.kentries++;
    enterKernel(t.mem, t.tid);
    return this.#toUser(null);
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

/** The first entry to user mode: deliver what is already pending (a kill before the start). */
function enterUserChecked(env: ProcessEnv): boolean {
  return env.toUser();
}

/** Why exec failed, as a shell's status: 127 not found, 126 found but not runnable. */
const execStatus = (errno: number): number => (Math.abs(errno) === ENOENT ? 127 : 126);

/** What the Worker offers the process: the Machine's doorbell (console output is a file). */
export type ProcessIo = ProcessHost;

/**
 * Run process `s` to completion in this Worker: allocate its mm, exec (or
 * take the mm, files and registers clone left in its slot), run init calls
 * and the program, then tear everything down and record the status (the
 * process becomes a zombie). Entry: slot s.tid was claimed and its task
 * initialised (by the Machine at spawn, by the parent at clone); this
 * thread has no current task. Never throws: a kernel exception becomes a
 * `panic` in the result.
 */
export function runProcess(
  fs: KernelFs,
  s: ProcessStart,
  host: ProcessHost,
  klog: KernelLog = NO_KERNEL_LOG,
): ProcessResult {
  const mem = fs.mem;
  const tid = asTaskSlot(s.tid);
  setCurrentTid(tid);
  let t: Task | null = null;
  let hart: Hart | null = null;
  let env: ProcessEnv | null = null;
  let reason = { code: 0, signal: 0 } as { code: number; signal: number; message?: string };
  /** Instructions of the images an execve replaced. */
  let priorInstret = 0;
  let panic: string | undefined;
  try {
    // Setting up and exec run as a no-kill region: they hold references no
    // lock records (src/sync/current.ts). The process becomes killable once its
    // hart runs: in user mode, in its page faults and in the system calls declared killable (syscall_def.ts).
    const started = withNoKill(() => s.kind === "clone" ? startClone(s) : startProcess(s));
    if (started !== null) {
      [t, env, hart] = started;
      for (;;) {
        runHart(env, hart);
        const img = t.execPending;
        if (img === null || t.exiting !== null) break;
        // execve replaced the image: a new hart on the new mm runs it.
        t.execPending = null;
        tstatComm(mem, t.tid, t.pid, img.loaded[0]?.path ?? ""); // begin_new_exec's comm
        statAdd(mem, VMSTAT.instret, hart.instret - env.instretPublished);
        priorInstret += hart.instret;
        env = new ProcessEnv(t, img);
        hart = newHart(env, t.mm);
        hart.pc = execStartStep(hart.x, img, env.step++);
      }
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

  /** Take the mm, files and registers clone left in the slot. */
  function startClone(s: CloneStart): [Task, ProcessEnv, Hart] {
    const mm = procMm(mem, tid);
    switchMm(mem, tid, mm);
    const files = VfsFiles.attach(fs, procGet(mem, tid, "fdTable"), mm);
    const task = newTask(s, procGet(mem, tid, "parent"), mm, files);
    t = task;
    const frame = readFrame(mem, tid);
    const e = new ProcessEnv(task, null);
    const h = newHart(e, mm);
    h.x.set(frame.x);
    h.pc = frame.pc;
    return [task, e, h];
  }

  function newTask(s: ProcessStart, parentPid: number, mm: MmId, files: VfsFiles): Task {
    return new Task({
      mem,
      tid,
      pid: s.pid,
      parentPid,
      mm,
      files,
      bootMs: s.bootMs,
      textMode: s.textMode,
      host,
      klog,
    });
  }

  function newHart(e: ProcessEnv, mm: MmId): Hart {
    // Tier 1 when the machine translates: this Worker's runtime (its translations outlive us).
    const jit = processJit(mem);
    const h = new Hart(jit !== null ? mem.physMemory! : mem.phys, e, {
      rootPfn: mmRoot(mem, mm),
      tlbGenWord: { k32: mem.k32, index: mmBase(mem.layout, mm) + MM.tlbGen },
      frames: mem.layout.config.ramFrames + mem.layout.config.deviceFrames,
      code: mem.jit,
      jit,
    });
    e.hart = h;
    e.t.sig.hart = h;
    return h;
  }

  /** Allocate the mm and files, exec; null (reason set) when the process cannot start. */
  function startProcess(s: ExecStart): [Task, ProcessEnv, Hart] | null {
    const mm = mmAlloc(mem);
    if (isErr(mm)) {
      reason = { code: 0, signal: SIGKILL, message: "out of memory: no mm slot or frame" };
      return null;
    }
    procSet(mem, tid, "mm", mm);
    switchMm(mem, tid, mm);
    const files = VfsFiles.create(fs, mm, s.console);
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
    const task = newTask(s, s.parentPid, mm, files);
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
    tstatComm(mem, tid, s.pid, s.path);
    const e = new ProcessEnv(task, img);
    const h = newHart(e, mm);
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
    const instret = priorInstret + (hart?.instret ?? 0);
    const code = reason.signal !== 0 ? 128 + reason.signal : reason.code & 0xff;
    if (klog.strace) klog.trace(straceExitLine(s.pid, reason.code & 0xff, reason.signal));
    return { code, signal: reason.signal, instret, message: reason.message, panic };
  }

  function teardown(): void {
    procSet(mem, tid, "state", PROC_EXITING);
    signalExit(mem, tid); // no more signals; the pending ones are dropped
    ipcExit(mem, tid); // SEM_UNDO when the group's last thread goes (Linux's exit_sem)
    enterKernel(mem, tid);
    const mm = procMm(mem, tid);
    consoleFlush(mem); // the process's partial output lines, before its files close
    if (t !== null) t.files.closeAll();
    else closeFilesOf(fs, procGet(mem, tid, "fdTable")); // a clone child that never started
    procSet(mem, tid, "teardown", procGet(mem, tid, "teardown") | PROC_TD_FILES);
    futexUnqueue(mem, tid); // a wait it was killed in, cut off before it left the queue
    if (mm !== 0) {
      exitRobustList(mem, tid, procGet(mem, tid, "pid"), mm);
      futexPiExit(mem, procGet(mem, tid, "pid")); // PI futexes it still owns go to their waiters
      clearChildTid(mem, tid, mm);
    }
    switchMm(mem, tid, 0);
    enterIdle(mem, tid);
    if (mm !== 0) {
      mmPut(mem, mm);
      procSet(mem, tid, "mm", 0);
    }
    procSet(mem, tid, "teardown", procGet(mem, tid, "teardown") | PROC_TD_MM);
    vforkRelease(mem, tid);
    if (hart !== null) statAdd(mem, VMSTAT.instret, hart.instret - (env?.instretPublished ?? 0));
    if (env !== null && hart !== null) {
      tstatInstret(mem, tid, env.t.pid, hart.instret); // the last figures, for benches and the live view
      env.publishSched();
    }
    const signal = reason.signal;
    exitNotify(mem, tid, signal !== 0 ? 0 : reason.code, signal);
    taskExit(mem.k32, tid);
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ""}`;
  return String(e);
}
