/**
 * The process lifecycle on the main thread (docs/ARCHITECTURE.md §7): what
 * the Machine (machine.ts) delegates once it has booted. A process is
 * spawned here (a pid and slot claimed, its console, a Worker from the
 * pool), or cloned by a guest and rung in on the doorbell; it is tracked
 * until its Worker reports the exit, and finished then: its status
 * resolved, its console and signal records released, the zombie retired
 * for its parent (Linux's release_task, with the Machine as init). A
 * leader whose threads outlive it is delayed until the group is done and
 * their exits are delivered (Linux's delay_group_leader).
 *
 * kill, terminate and chaosKill stop processes from outside; a task that
 * does not die in time, or whose Worker died, is torn down here from the
 * main thread (#forceTeardown: its locks recovered, its files closed, its
 * mm put, as do_exit would have). The kernel log (strace lines, ENOSYS
 * reports, KERNEL BUG lines) is written here too.
 *
 * Everything runs on the main thread (task 1), from the event loop: no two
 * calls interleave.
 *
 * @module
 */

import {
  MM,
  MM_LIVE,
  mmBase,
  PROC_EXITING,
  PROC_REAPED,
  PROC_TD_FILES,
  PROC_TD_MM,
  PROC_ZOMBIE,
  PROCS_HDR,
  START_PENDING,
  START_TAKEN,
} from "../abi/layout/mod.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { syscallName } from "../abi/syscall_names.ts";
import type { Memory } from "../hw/memory.ts";
import { mmPut } from "../mm/mm.ts";
import { recoverTask, taskInit, taskState } from "../sync/mod.ts";
import { TASK_DEAD, TASK_LIVE, taskChaosArm, taskKill, taskKillAcked } from "../sync/current.ts";
import { heldLocks } from "../sync/held.ts";
import { LockClass } from "../sync/lockdep.ts";
import { closeFilesOf } from "./files.ts";
import { locksWaitDone } from "../fs/locks.ts";
import type { KernelFs } from "./fs_mount.ts";
import type { PooledWorker, WorkerPool } from "./machine_pool.ts";
import type { ProcessResult } from "./proc_run.ts";
import { procClaim, procGet, procLive, procMm, procSlot, procWord } from "./proc.ts";
import { clearChildTid, exitNotify, machineRetire, vforkRelease } from "./exit.ts";
import { exitRobustList } from "./futex_ops.ts";
import { futexPiExit } from "./futex_pi.ts";
import { futexUnqueue } from "./futex_q.ts";
import { SIGKILL, signalName, validSignal } from "./signal.ts";
import { killTaskGroup, SEND_FATAL } from "./signal_send.ts";
import { signalExit, signalRelease, signalSpawn } from "./signal_lifecycle.ts";
import { OutputOrder } from "./out_order.ts";
import { recoverDeadTask } from "./reap.ts";
import { ipcExit } from "./ipc.ts";
import type { ArgString } from "./exec_stack.ts";
import type { ConsoleHost, OutputSink } from "./console_host.ts";
import {
  type BootOptions,
  type ExitStatus,
  MachineError,
  type Process,
  type SpawnOptions,
} from "./machine_types.ts";

/** How often the Machine looks for a killed task's acknowledgement, in ms. */
const KILL_ACK_POLL_MS = 5;

interface ProcState {
  pid: number;
  slot: TaskSlot;
  worker: PooledWorker | null;
  status: ExitStatus | null;
  resolve: (s: ExitStatus) => void;
  done: Promise<ExitStatus>;
  /** Its own console (the Machine's reference is dropped at reap), or 0: the Machine's. */
  ownConsole: number;
  killTimer: ReturnType<typeof setTimeout> | undefined;
  /** The signal of a kill whose grace period is running (for a forced teardown). */
  killSig: number;
  /** A thread other than its group's leader (not a process of its own). */
  thread: boolean;
  /** A leader that exited before its threads: its own status, until the group is done. */
  held: ExitStatus | null;
  /** The slot of its group's leader (its own slot for a leader). */
  leaderSlot: TaskSlot;
}

/** Write all of `data` to a host stream; a failing stream (closed, full) loses the line. */
function writeAllSync(f: { writeSync(p: Uint8Array): number }): OutputSink {
  return (data) => {
    try {
      for (let off = 0; off < data.length;) off += f.writeSync(data.subarray(off));
    } catch { /* the Machine's own report lines never take it down */ }
  };
}

const enc = new TextEncoder();

/** What the lifecycle works with: the booted Machine's parts. */
export interface LifecycleParts {
  readonly mem: Memory;
  readonly fs: KernelFs;
  readonly opts: Readonly<BootOptions>;
  readonly pool: WorkerPool;
  readonly consoles: ConsoleHost;
  /** The console of processes spawned without their own. */
  readonly console: number;
  /** When the machine booted (performance.timeOrigin based), ms. */
  readonly bootMs: number;
}

/** The Machine's processes, from spawn (or clone) to reap. */
export class ProcLifecycle {
  readonly mem: Memory;
  readonly fs: KernelFs;
  readonly opts: Readonly<BootOptions>;
  readonly #pool: WorkerPool;
  readonly #consoles: ConsoleHost;
  readonly #console: number;
  readonly #bootMs: number;
  readonly #procs = new Map<number, ProcState>(); // by pid
  readonly #settleWaiters: (() => void)[] = [];
  /** Leaders that exited before the other threads of their group. */
  readonly #delayed = new Set<ProcState>();
  /** Workers' output and exits, put back in the order they happened. */
  readonly #order = new OutputOrder();
  readonly #exits: { pid: number; code: number }[] = [];
  /** Unimplemented system call numbers already reported (once per number per machine). */
  readonly #enosys = new Set<number>();
  #spawned = 0;
  #panics = 0;
  /** shutdown began: no new process may start. */
  #down = false;
  /** shutdown finished: the doorbell loop ends. */
  #closed = false;
  /** Stops idle Workers once no process has existed for keepWarmMs. */
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(parts: LifecycleParts) {
    this.mem = parts.mem;
    this.fs = parts.fs;
    this.opts = parts.opts;
    this.#pool = parts.pool;
    this.#consoles = parts.consoles;
    this.#console = parts.console;
    this.#bootMs = parts.bootMs;
  }

  /** Processes (not threads) spawned or cloned since boot. */
  get spawned(): number {
    return this.#spawned;
  }
  /** Kernel bugs met: a Worker's KernelPanic, or one the Machine found. */
  get panics(): number {
    return this.#panics;
  }
  /** Exit codes of the processes reaped so far, in pid order. */
  exitCodes(): number[] {
    return [...this.#exits].sort((a, b) => a.pid - b.pid).map((e) => e.code);
  }
  /** shutdown began. */
  get down(): boolean {
    return this.#down;
  }
  /** Processes and threads tracked: spawned or cloned, not yet reaped. */
  get live(): number {
    return this.#procs.size;
  }

  /** Start the doorbell loop and the idle timer (once, at boot). */
  run(): void {
    this.#doorbellLoop().catch((e) => this.bug(`doorbell loop: ${(e as Error).message}`));
    this.#armIdle();
  }

  /** Resolves once no process is left (Machine.settled). */
  settled(): Promise<void> {
    if (this.#quiet()) return Promise.resolve();
    return new Promise((resolve) => this.#settleWaiters.push(resolve));
  }

  /**
   * Stop taking processes, SIGKILL every one left (children cloned
   * meanwhile too, as the doorbell loop meets them), wait for them, and end
   * the doorbell loop (Machine.shutdown, before the unmount).
   */
  async shutdown(): Promise<void> {
    this.#down = true;
    clearTimeout(this.#idleTimer);
    for (let left = [...this.#procs.values()]; left.length > 0; left = [...this.#procs.values()]) {
      for (const p of left) this.kill(p.pid, SIGKILL);
      await Promise.all(left.map((p) => p.done));
    }
    this.#closed = true;
    this.#order.close();
    const bell = this.mem.layout.procs.base + PROCS_HDR.doorbell;
    Atomics.add(this.mem.k32, bell, 1);
    Atomics.notify(this.mem.k32, bell);
  }

  /**
   * With no process left, stop the idle Workers after keepWarmMs, so that
   * nothing keeps the event loop alive when the caller is done with the
   * machine (Deno Workers cannot be unref'd). spawn() disarms it.
   */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    const ms = this.opts.keepWarmMs ?? 250;
    if (this.#down || this.#procs.size > 0 || !(ms < Infinity)) return;
    this.#idleTimer = setTimeout(() => this.#pool.stopIdle(), ms);
  }

  #quiet(): boolean {
    return this.#procs.size === 0 && procLive(this.mem) === 0;
  }

  /** Machine.spawn: start `path` in a new process. */
  spawn(path: string, argv: ArgString[], opts: SpawnOptions): Process {
    if (this.#down) throw new MachineError("the machine is shut down");
    clearTimeout(this.#idleTimer);
    const claim = procClaim(this.mem, 0);
    if (typeof claim === "number") {
      throw new MachineError(
        `too many processes (maxProcs is ${this.mem.layout.config.maxTasks - 2})`,
      );
    }
    const { slot, pid } = claim;
    taskInit(this.mem.k32, asTaskSlot(slot));
    signalSpawn(this.mem, slot, pid);
    let ownConsole = 0;
    if (opts.stdin !== undefined || opts.stdout !== undefined || opts.stderr !== undefined) {
      ownConsole = this.#consoles.open({
        stdin: opts.stdin ?? this.opts.stdin,
        stdout: opts.stdout ?? this.opts.stdout,
        stderr: opts.stderr ?? this.opts.stderr,
        prefix: this.opts.prefixOutput,
      });
      // A console per process: maxProcs + 1 records always suffice.
      if (ownConsole < 0) throw new MachineError("no free console record");
    }
    const p = this.#track(pid, slot, ownConsole);
    const env = opts.env === undefined
      ? []
      : Array.isArray(opts.env)
      ? opts.env
      : Object.entries(opts.env).map(([k, v]) => `${k}=${v}`);
    this.#start(p, {
      tid: slot,
      pid,
      parentPid: 0,
      path,
      argv,
      envp: env,
      console: ownConsole || this.#console,
      textMode: this.opts.textMode ?? "map",
      bootMs: this.#bootMs,
      strace: this.opts.strace ?? false,
      cwd: opts.cwd,
    });
    return { pid, wait: () => p.done };
  }

  /**
   * Start tracking process `pid` in `slot`; `ownConsole` is a console made
   * for it alone (0: none; a child's fds 0-2 are the files it inherited).
   */
  #track(pid: number, slot: TaskSlot, ownConsole: number): ProcState {
    clearTimeout(this.#idleTimer);
    this.#spawned++;
    let resolve!: (s: ExitStatus) => void;
    const done = new Promise<ExitStatus>((r) => resolve = r);
    const p: ProcState = {
      pid,
      slot,
      worker: null,
      status: null,
      resolve,
      done,
      ownConsole,
      killTimer: undefined,
      killSig: 0,
      thread: procGet(this.mem, slot, "leader") !== slot,
      held: null,
      leaderSlot: procSlot(this.mem, slot, "leader"),
    };
    if (p.thread) this.#spawned--; // a thread is not a process
    this.#procs.set(pid, p);
    return p;
  }

  /**
   * The doorbell loop: wait (asynchronously: the main thread never blocks)
   * until a Worker rings, then start every child clone left pending. Runs
   * from boot until shutdown.
   */
  async #doorbellLoop(): Promise<void> {
    const k32 = this.mem.k32;
    const w = this.mem.layout.procs.base + PROCS_HDR.doorbell;
    while (!this.#closed) {
      const seen = Atomics.load(k32, w);
      this.#startPending();
      const r = Atomics.waitAsync(k32, w, seen);
      if (r.async) await r.value;
    }
  }

  /** Give a Worker to every child in START_PENDING (or tear it down after shutdown began). */
  #startPending(): void {
    const mem = this.mem;
    this.#adoptHeirs();
    for (let i = 2; i < mem.layout.config.maxTasks; i++) {
      const slot = asTaskSlot(i);
      const sw = procWord(mem, slot, "start");
      if (Atomics.load(mem.k32, sw) !== START_PENDING) continue;
      if (Atomics.compareExchange(mem.k32, sw, START_PENDING, START_TAKEN) !== START_PENDING) {
        continue;
      }
      const pid = procGet(mem, slot, "pid");
      // Its fds 0-2 are the files it inherited (a thread shares its process's):
      // its output goes where its parent's does.
      const p = this.#track(pid, slot, 0);
      if (this.#down) {
        this.#forceTeardown(p, SIGKILL, "killed by SIGKILL (the machine is shutting down)");
        continue;
      }
      this.#start(p, {
        kind: "clone",
        tid: slot,
        pid,
        textMode: this.opts.textMode ?? "map",
        bootMs: this.#bootMs,
        strace: this.opts.strace ?? false,
      });
    }
  }

  /**
   * Follow execve from threads other than their group's leader
   * (de_thread.ts): such a thread took the process over, and the old
   * leader's record names it as heir. The heir's ProcState becomes the
   * process (its pid, wait promise, console and kill timer); the old
   * leader's is finished as a thread's, now if its Worker is done, else
   * when it reports. Called before every decision about a tracked process.
   */
  #adoptHeirs(): void {
    for (const p of this.#procs.values()) {
      if (p.thread) continue;
      const heir = procSlot(this.mem, p.slot, "heir");
      if (heir === 0) continue;
      const q = [...this.#procs.values()].find((x) => x.slot === heir);
      if (q === undefined || !q.thread) continue;
      this.#procs.delete(q.pid);
      [p.pid, q.pid] = [q.pid, p.pid];
      [p.thread, q.thread, q.leaderSlot] = [true, false, q.slot];
      [q.done, q.resolve, p.resolve] = [p.done, p.resolve, () => {}];
      [q.ownConsole, p.ownConsole] = [p.ownConsole, 0];
      this.#procs.set(q.pid, q);
      this.#procs.set(p.pid, p);
      if (p.killTimer !== undefined) {
        clearTimeout(p.killTimer);
        p.killTimer = undefined;
        q.killSig = p.killSig;
        q.killTimer = setTimeout(() => this.#escalate(q), this.opts.killGraceMs ?? 2000);
      }
      if (this.#delayed.delete(p)) this.#finish(p, p.held!);
    }
  }

  async #start(p: ProcState, start: Parameters<PooledWorker["run"]>[0]): Promise<void> {
    let w: PooledWorker;
    try {
      w = await this.#pool.acquire();
    } catch (e) {
      this.#forceTeardown(p, SIGKILL, `cannot start a Worker: ${(e as Error).message}`);
      return;
    }
    if (p.status !== null) return this.#pool.release(w); // killed and reaped meanwhile
    p.worker = w;
    w.run(start, {
      // A stream the Machine delivers itself, in the order of its events.
      out: (console, fd, data, ticket) =>
        this.#order.put(ticket, () => this.#consoles.deliver(console, fd, data)),
      strace: (line, ticket) => this.#order.put(ticket, () => this.#log(line)),
      enosys: (nr) => {
        if (this.#enosys.has(nr)) return;
        this.#enosys.add(nr);
        this.#log(
          `xip: pid ${p.pid}: system call ${syscallName(nr)} (${nr}) is not implemented: -ENOSYS`,
        );
      },
      exit: (r, ticket) => this.#order.put(ticket, () => this.#reaped(p, r)),
      error: (msg) => this.#forceTeardown(p, SIGKILL, `worker died: ${msg}`),
    });
  }

  /** The Worker reported the exit: the process is a zombie with everything released. */
  #reaped(p: ProcState, r: ProcessResult): void {
    this.#adoptHeirs();
    const w = p.worker;
    p.worker = null;
    let discard = false;
    if (r.panic !== undefined) {
      this.#panics++;
      discard = true;
      this.#report(`xip: KERNEL BUG in pid ${p.pid}: ${r.panic}\n`);
      if (taskState(this.mem.k32, asTaskSlot(p.slot)) === TASK_LIVE) {
        recoverTask(this.mem.k32, asTaskSlot(p.slot));
      }
    }
    if (w !== null) discard ? this.#pool.discard(w) : this.#pool.release(w);
    const own = { code: r.code, signal: r.signal, message: r.message };
    if (!p.thread && (procGet(this.mem, p.slot, "delay") === 1 || this.#threadsTracked(p))) {
      // The leader exited while its threads run: the process is not done yet.
      p.held = own;
      this.#delayed.add(p);
      return;
    }
    this.#finish(p, p.thread ? own : this.#groupStatus(p, own));
  }

  /**
   * What a leader's process reports: the group's status, which its record
   * holds once the group is done (exitNotify), whoever of its threads
   * exited last; the Worker's own line is kept when it tells the same story.
   */
  #groupStatus(p: ProcState, own: ExitStatus): ExitStatus {
    const st = procGet(this.mem, p.slot, "state");
    if (st !== PROC_ZOMBIE && st !== PROC_REAPED) return own;
    const sig = procGet(this.mem, p.slot, "exitSignal");
    const code = sig !== 0 ? 128 + sig : procGet(this.mem, p.slot, "exitCode");
    return { code, signal: sig, message: sig === own.signal ? own.message : undefined };
  }

  /**
   * Whether a thread of leader `p`'s group is still tracked: its exit not
   * yet delivered. The group may already be done in shared memory (its last
   * thread ran exitNotify) while that thread's output and exit still wait in
   * the OutputOrder behind the leader's exit; the process ends only after
   * them, or the last thread's last write would come after the process's end.
   */
  #threadsTracked(p: ProcState): boolean {
    for (const q of this.#procs.values()) if (q.thread && q.leaderSlot === p.slot) return true;
    return false;
  }

  /** Finish the delayed leaders whose groups are done now, their threads' exits delivered. */
  #finishDelayed(): void {
    for (const d of this.#delayed) {
      if (procGet(this.mem, d.slot, "delay") !== 0 || this.#threadsTracked(d)) continue;
      this.#delayed.delete(d);
      this.#finish(d, this.#groupStatus(d, d.held!));
    }
  }

  #finish(p: ProcState, s: ExitStatus): void {
    if (p.status !== null) return;
    clearTimeout(p.killTimer);
    p.status = s;
    if (p.ownConsole !== 0) this.#consoles.release(p.ownConsole);
    signalRelease(this.mem, p.slot);
    // The parent reaps the zombie (or the Machine, as its parent or init).
    machineRetire(this.mem, p.slot);
    this.#procs.delete(p.pid);
    if (!p.thread) this.#exits.push({ pid: p.pid, code: s.code });
    p.resolve(s);
    this.#finishDelayed();
    if (this.#quiet()) { for (const w of this.#settleWaiters.splice(0)) w(); }
    this.#armIdle();
  }

  /**
   * Tear down a process whose Worker is gone (terminated or crashed), from
   * the main thread: recover the task's locks, close its files, release its
   * mm, and reap it. Entry: the Worker no longer runs.
   */
  #forceTeardown(p: ProcState, sig: number, message: string): void {
    this.#adoptHeirs();
    if (p.status !== null) return;
    const mem = this.mem, slot = p.slot;
    if (p.worker !== null) {
      this.#pool.discard(p.worker);
      p.worker = null;
    }
    // A task killed with taskKill is TASK_DEAD but may still hold locks,
    // page references with page locks, a file reference, a truncate in flight.
    const state = taskState(mem.k32, asTaskSlot(slot));
    if (state === TASK_LIVE || state === TASK_DEAD) recoverDeadTask(this.fs, asTaskSlot(slot));
    locksWaitDone(mem, slot); // an F_SETLKW it died in must not look like a waiter any more
    futexUnqueue(mem, slot); // nor a futex wait it died in (a wake would count it)
    // A thread torn down the hard way takes its whole group with it, as a fatal signal would.
    killTaskGroup(mem, slot, SIGKILL);
    let td = procGet(mem, slot, "teardown");
    if ((td & PROC_TD_FILES) === 0) {
      closeFilesOf(this.fs, procGet(mem, slot, "fdTable"));
      td |= PROC_TD_FILES;
    }
    const mm = procMm(mem, slot);
    if ((td & PROC_TD_MM) === 0 && mm !== 0) {
      if (Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.state) === MM_LIVE) {
        // Robust futexes it held are released for the threads that share the mm.
        exitRobustList(mem, slot, procGet(mem, slot, "pid"), mm);
        futexPiExit(mem, procGet(mem, slot, "pid")); // PI futexes it still owns go to their waiters
        clearChildTid(mem, slot, mm);
        mmPut(mem, mm);
      } else {
        this.#reportLeak(p.pid, `mm ${mm} was half torn down when its Worker died`);
      }
    }
    vforkRelease(mem, slot);
    const st = procGet(mem, slot, "state");
    if (st !== PROC_ZOMBIE && st !== PROC_REAPED) {
      signalExit(mem, slot); // before exitNotify, which counts the group's live threads
      ipcExit(mem, slot); // SEM_UNDO when this was the group's last thread
      exitNotify(mem, slot, 0, sig);
    }
    const status = { code: 128 + sig, signal: sig, message };
    if (!p.thread && procGet(mem, slot, "delay") === 1) {
      p.held = status;
      this.#delayed.add(p);
      return;
    }
    this.#finish(p, p.thread ? status : this.#groupStatus(p, status));
  }

  #reportLeak(pid: number, what: string): void {
    this.bug(`tearing down pid ${pid}: ${what}`);
  }

  /** A kernel log line (BootOptions.log). */
  #log(line: string): void {
    if (this.opts.log !== undefined) this.opts.log(line);
    else writeAllSync(Deno.stderr)(enc.encode(line + "\n"));
  }

  /** Count and print a kernel bug the Machine found itself. */
  bug(what: string): void {
    this.#panics++;
    this.#report(`xip: KERNEL BUG ${what}\n`);
  }

  /** Print a line of the Machine's own on its stderr; a failing sink loses it. */
  #report(line: string): void {
    try {
      (this.opts.stderr ?? writeAllSync(Deno.stderr))(enc.encode(line));
    } catch { /* nothing to report it to */ }
  }

  /** Machine.kill: send `sig`; a fatal one starts the grace period. */
  kill(pid: number, sig: number): boolean {
    this.#adoptHeirs();
    const p = this.#procs.get(pid);
    if (p === undefined || p.status !== null || !validSignal(sig)) return false;
    const r = killTaskGroup(this.mem, p.slot, sig);
    if (r < 0) return false;
    if (r === SEND_FATAL && p.killTimer === undefined) {
      p.killSig = sig;
      p.killTimer = setTimeout(() => this.#escalate(p), this.opts.killGraceMs ?? 2000);
    }
    return true;
  }

  /** Machine.terminate: kill the task the hard way and tear it down here. */
  terminate(pid: number): boolean {
    this.#adoptHeirs();
    const p = this.#procs.get(pid);
    if (p === undefined || p.status !== null) return false;
    clearTimeout(p.killTimer);
    p.killSig = SIGKILL;
    taskKill(this.mem.k32, asTaskSlot(p.slot));
    this.#awaitDeath(p);
    return true;
  }

  /** Machine.chaosKill: kill the task the hard way at its `points`-th lock operation. */
  chaosKill(pid: number, points: number, cls: number): boolean {
    this.#adoptHeirs();
    const p = this.#procs.get(pid);
    if (p === undefined || p.status !== null || !(points >= 1)) return false;
    clearTimeout(p.killTimer);
    p.killSig = SIGKILL;
    taskChaosArm(this.mem.k32, asTaskSlot(p.slot), points, cls);
    this.#awaitDeath(p);
    return true;
  }

  #escalate(p: ProcState): void {
    p.killTimer = undefined;
    if (p.status !== null) return;
    // A process already tearing itself down is given more time: it cannot be
    // stopped in its teardown anyway (a no-kill region).
    if (procGet(this.mem, p.slot, "state") === PROC_EXITING) {
      p.killTimer = setTimeout(() => this.#escalate(p), this.opts.killGraceMs ?? 2000);
      return;
    }
    taskKill(this.mem.k32, asTaskSlot(p.slot));
    this.#awaitDeath(p);
  }

  /**
   * Poll until the killed task of `p` acknowledges (its thread has stopped
   * for good: Deno.exit in workers/process.ts), then recover its locks and
   * tear it down here; stop when the process reports its own exit first.
   */
  #awaitDeath(p: ProcState): void {
    const tid = asTaskSlot(p.slot);
    const look = () => {
      p.killTimer = undefined;
      if (p.status !== null) return;
      if (!taskKillAcked(this.mem.k32, tid)) {
        p.killTimer = setTimeout(look, KILL_ACK_POLL_MS);
        return;
      }
      const held = heldLocks(this.mem.k32, tid).map((h) => LockClass[h.cls] ?? String(h.cls));
      const holding = held.length === 0 ? "" : `, holding ${held.join(", ")}`;
      try {
        this.#forceTeardown(
          p,
          p.killSig,
          `killed by ${signalName(p.killSig)} (Worker terminated${holding})`,
        );
      } catch (e) {
        // A kernel bug met while tearing down: report it, never crash the host.
        this.bug(`tearing down pid ${p.pid}: ${(e as Error).message}`);
        this.#finish(p, { code: 128 + p.killSig, signal: p.killSig, message: "teardown failed" });
      }
    };
    clearTimeout(p.killTimer);
    p.killTimer = setTimeout(look, KILL_ACK_POLL_MS);
  }
}
