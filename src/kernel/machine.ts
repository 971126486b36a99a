/**
 * The Machine: the main thread's side of xip (docs/ARCHITECTURE.md §7). It creates
 * the SharedArrayBuffers, loads or formats the memory device, mounts
 * xipfs, keeps Workers warm, spawns processes onto them with their
 * consoles (console_host.ts), kills and reaps them, reports stats and
 * saves the image.
 *
 * The main thread is task 1: it takes kernel locks itself when it tears
 * down a process whose Worker died (after recovering that task's locks).
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
import { asTaskSlot, PAGE_SIZE, type TaskSlot } from "../abi/types.ts";
import { errnoName } from "../abi/errno.ts";
import { syscallName } from "../abi/syscall_names.ts";
import { ImageError, MemDevice, saveImage } from "../hw/device.ts";
import { ImageFile } from "../hw/image_file.ts";
import { superGet } from "../fs/xipfs/xipfs_format.ts";
import { openVolume } from "../fs/xipfs/xipfs_format.ts";
import { XIPFS_STATE_DIRTY } from "../abi/layout/mod.ts";
import { syncLastError } from "../fs/xipfs/xipfs_sync.ts";
import { EBUSY } from "../abi/errno.ts";
import { createMemory, MAX_PHYS_FRAMES, type Memory } from "../hw/memory.ts";
import { freeFrameCount } from "../mm/frame_alloc.ts";
import { mmBoot, mmPut } from "../mm/mm.ts";
import { mkfsInto } from "../fs/xipfs/mkfs.ts";
import { JitShared } from "../hw/jit/shared.ts";
import { jitBootCheck, jitBootMode, type JitOption } from "./proc_jit.ts";
import {
  DEBUG_JITCHECK,
  DEBUG_LOCKDEP,
  recoverTask,
  setCurrentTid,
  setDebug,
  taskInit,
  taskState,
} from "../sync/mod.ts";
import { TASK_DEAD, TASK_LIVE, taskChaosArm, taskKill, taskKillAcked } from "../sync/current.ts";
import { heldLocks } from "../sync/held.ts";
import { LockClass } from "../sync/lockdep.ts";
import { closeFilesOf } from "./files.ts";
import { locksWaitDone } from "../fs/locks.ts";
import { type FsMountOptions, type KernelFs, mountKernelFs, unmountKernelFs } from "./fs_mount.ts";
import { type PooledWorker, workerPermissionProblem, WorkerPool } from "./machine_pool.ts";
import type { ProcessResult } from "./proc_run.ts";
import { procClaim, procGet, procLive, procMm, procSlot, procWord } from "./proc.ts";
import { clearChildTid, exitNotify, machineRetire, vforkRelease } from "./exit.ts";
import { exitRobustList } from "./futex_ops.ts";
import { futexUnqueue } from "./futex_q.ts";
import { SIGKILL, signalName, SIGTERM, validSignal } from "./signal.ts";
import { killTaskGroup, SEND_FATAL } from "./signal_send.ts";
import { signalExit, signalRelease, signalSpawn } from "./signal_state.ts";
import { vdsoPfn } from "./vdso.ts";
import { OutputOrder } from "./out_order.ts";
import { collectStats, type MachineStats } from "./stats.ts";
import { checkInvariants, type InvariantOptions } from "./invariants.ts";
import { recoverDeadTask } from "./reap.ts";
import { poisonDeviceRange } from "./memory_failure.ts";
import { ipcExit } from "./ipc.ts";
import type { ArgString } from "./exec_stack.ts";
import { ConsoleHost, type OutputSink } from "./console_host.ts";
import {
  type BootOptions,
  type ExitStatus,
  MachineError,
  type Process,
  type SpawnOptions,
} from "./machine_types.ts";
export {
  type BootOptions,
  type ExitStatus,
  MachineError,
  type Process,
  type SpawnOptions,
} from "./machine_types.ts";

export type { ConsoleInput, InputSource, OutputSink } from "./console_host.ts";

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

const MIB = 1024 * 1024;

/** A byte count for a message: "64 MiB", "3 GiB" or "12288 bytes". */
function sizeText(n: number): string {
  if (n % (1024 * MIB) === 0) return `${n / (1024 * MIB)} GiB`;
  if (n % MIB === 0) return `${n / MIB} MiB`;
  return `${n} bytes`;
}

/**
 * A machine: memory, a memory device holding an xipfs image, and processes
 * that run RISC-V programs from it, each in its own Worker. Boot one with
 * {@linkcode Machine.boot}, start processes with `spawn`, wait for them,
 * read `stats()`, and `shutdown()` (or let `await using` do it).
 *
 * @example Boot from a directory, run a program, read the stats
 * ```ts
 * import { Machine } from "@xip/xip";
 *
 * await using machine = await Machine.boot({ from: "fixtures/rootfs", dax: "always" });
 * const hello = machine.spawn("/bin/hello", ["hello", "world"]);
 * const { code } = await hello.wait(); // it printed "hello from xip" and its argv
 * const stats = machine.stats();
 * console.log(code, stats.faults.dax, stats.instret); // 0, then counts
 * ```
 */
export class Machine {
  /**
   * The machine's memory: both SharedArrayBuffers and their views.
   *
   * @internal For xip's own tests and tools; not a stable API.
   */
  readonly mem: Memory;
  /**
   * The memory device (its bytes are the image).
   *
   * @internal For xip's own tests and tools; not a stable API.
   */
  readonly device: MemDevice;
  /** The options the machine was booted with. */
  readonly opts: Readonly<BootOptions>;
  /**
   * The main thread's handle on the mounted file system (xipfs with /proc).
   *
   * @internal For xip's own tests and tools; not a stable API.
   */
  readonly fs: KernelFs;
  /** Free RAM frames right after boot: what a quiet machine returns to. */
  readonly bootFreeFrames: number;
  readonly #pool: WorkerPool;
  readonly #consoles: ConsoleHost;
  /** The console of processes spawned without their own. */
  readonly #console: number;
  readonly #bootMs = performance.timeOrigin + performance.now();
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
  /** shutdown() began: no new process may start. */
  #down = false;
  /** The image files the Machine holds open and locked until shutdown. */
  readonly #files: ImageFile[];
  /** The superblock said "not cleanly unmounted" when the image was loaded. */
  readonly mountedDirty: boolean;
  /** shutdown() finished: the doorbell loop ends. */
  #closed = false;
  /** Stops idle Workers once no process has existed for keepWarmMs. */
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    mem: Memory,
    opts: BootOptions,
    fs: KernelFs,
    files: ImageFile[],
    dirty: boolean,
  ) {
    this.#files = files;
    this.mountedDirty = dirty;
    this.mem = mem;
    this.opts = opts;
    this.fs = fs;
    this.device = new MemDevice(mem);
    if (mem.physMemory === null) throw new MachineError("physical memory is not a wasm memory");
    this.#pool = new WorkerPool(mem.physMemory, mem.kernel, mem.jit?.memory ?? null, fs.opts);
    this.bootFreeFrames = freeFrameCount(mem);
    this.#consoles = new ConsoleHost(mem);
    this.#console = this.#consoles.open({
      stdin: opts.stdin,
      stdout: opts.stdout,
      stderr: opts.stderr,
      prefix: opts.prefixOutput,
    });
    if (this.#console < 0) throw new MachineError("no console record for the Machine");
  }

  /**
   * Boot a machine: memory, device, mount, warm Workers.
   *
   * @example Boot from an image file, run 4 processes at once
   * ```ts
   * import { Machine, mkfs } from "@xip/xip";
   *
   * const path = await Deno.makeTempFile({ suffix: ".img" });
   * await Deno.writeFile(path, mkfs({ from: "fixtures/rootfs" }));
   * await using m = await Machine.boot({ image: path, maxProcs: 4 });
   * const ps = [1, 2, 3, 4].map(() => m.spawn("/bin/compute", ["compute", "1"]));
   * const codes = (await Promise.all(ps.map((p) => p.wait()))).map((s) => s.code);
   * console.log(codes); // [0, 0, 0, 0]
   * ```
   *
   * @param opts the image, sizes and policies (every field is optional)
   * @returns the running machine
   * @throws MachineError (or ImageError) with one line for a bad image, size or option
   */
  static async boot(opts: BootOptions = {}): Promise<Machine> {
    const maxProcs = opts.maxProcs ?? 16;
    if (!Number.isInteger(maxProcs) || maxProcs < 1 || maxProcs > 1024) {
      throw new MachineError(`maxProcs ${maxProcs} is outside 1..1024`);
    }
    const noWorkers = workerPermissionProblem();
    if (noWorkers !== null) throw new MachineError(noWorkers);
    const ramBytes = opts.ram ?? 64 * MIB;
    if (!Number.isSafeInteger(ramBytes) || ramBytes < 64 * PAGE_SIZE || ramBytes % PAGE_SIZE) {
      throw new MachineError(`RAM size ${ramBytes} must be a multiple of 4096, at least 256 KiB`);
    }
    const imagePath = opts.imagePath !== undefined
      ? opts.imagePath
      : typeof opts.image === "string"
      ? opts.image
      : null;
    const files: ImageFile[] = [];
    try {
      return await Machine.#bootOn(opts, imagePath, maxProcs, ramBytes, files);
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
  }

  /** boot() once the options are checked; the image files it opens go on `files`. */
  static async #bootOn(
    opts: BootOptions,
    imagePath: string | null,
    maxProcs: number,
    ramBytes: number,
    files: ImageFile[],
  ): Promise<Machine> {
    // A path is opened and locked now (src/hw/image_file.ts: checked before
    // anything is read), and read straight into the device region once
    // memory exists; for writing when the Machine writes it back in place.
    const imageFile = typeof opts.image === "string"
      ? ImageFile.open(opts.image, { write: imagePath === opts.image })
      : null;
    if (imageFile !== null) files.push(imageFile);
    if (imagePath !== null && imagePath !== opts.image) {
      files.push(ImageFile.open(imagePath, { write: true }));
    }
    const image = typeof opts.image === "string" ? null : opts.image ?? null;
    const devBytes = imageFile !== null ? imageFile.size : image?.length ?? opts.size ?? 16 * MIB;
    if (!Number.isSafeInteger(devBytes) || devBytes <= 0 || devBytes % PAGE_SIZE !== 0) {
      throw new MachineError(`device size ${devBytes} is not a positive multiple of 4096`);
    }
    if (ramBytes + devBytes > MAX_PHYS_FRAMES * PAGE_SIZE) {
      throw new MachineError(
        `RAM (${sizeText(ramBytes)}) plus device (${sizeText(devBytes)}) exceed 4 GiB, ` +
          `the most one wasm32 memory holds: use a smaller --ram or image`,
      );
    }
    let mem: Memory;
    try {
      mem = createMemory({
        ramFrames: ramBytes / PAGE_SIZE,
        deviceFrames: devBytes / PAGE_SIZE,
        deviceMemmap: opts.memmap === "device",
        maxTasks: maxProcs + 2,
      }, image === null ? {} : { image });
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new MachineError((e as Error).message.split("\n")[0]!);
    }
    const dev = new MemDevice(mem).bytes;
    if (imageFile !== null) imageFile.readInto(dev);
    else if (image === null) mkfsInto(dev, { from: opts.from });
    // Space for the in-place write-back, before anything runs.
    for (const f of files) if (f.writable && f.size === dev.length) f.reserve(dev);
    const vol = openVolume(new MemDevice(mem).bytes);
    const dirty = vol.ok && superGet(vol.vol, "state") === XIPFS_STATE_DIRTY;
    if (mmBoot(mem) !== 0) throw new MachineError("out of RAM at boot");
    if (vdsoPfn(mem) < 0) throw new MachineError("out of RAM at boot");
    setDebug(mem.k32, DEBUG_LOCKDEP, opts.lockdep ?? false);
    let jit: JitOption;
    try {
      jit = jitBootMode(opts.jit);
    } catch (e) {
      throw new MachineError((e as Error).message);
    }
    if (jit !== "off") {
      const cfg = mem.layout.config;
      mem.jit = JitShared.create(cfg.ramFrames + cfg.deviceFrames, { mode: jit });
    }
    setDebug(mem.k32, DEBUG_JITCHECK, jitBootCheck(opts.jitCheck));
    taskInit(mem.k32, asTaskSlot(1));
    setCurrentTid(asTaskSlot(1));
    const mount: FsMountOptions = { dax: opts.dax ?? "inode" };
    if (imagePath !== null) mount.imagePath = imagePath;
    const locked = files.find((f) => f.writable && f.path === imagePath);
    if (locked !== undefined) mount.imageIdentity = locked.identity;
    if (opts.imageLog !== undefined) mount.imageLog = opts.imageLog;
    // Also registers the main thread's file fault handlers and unmap hook: it
    // tears down dead processes' mms, which may hold file mappings.
    const fs = mountKernelFs(mem, mount);
    if ("error" in fs) {
      const which = typeof opts.image === "string" ? `image ${opts.image}` : "the image";
      throw new MachineError(`${which}: cannot mount: ${fs.error}`);
    }
    const m = new Machine(mem, opts, fs, files, dirty);
    await m.#pool.warm(Math.min(opts.warm ?? 4, maxProcs));
    m.#doorbellLoop().catch((e) => m.#bug(`doorbell loop: ${(e as Error).message}`));
    m.#armIdle();
    return m;
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

  /** Processes that may exist at once. */
  get maxProcs(): number {
    return this.mem.layout.config.maxTasks - 2;
  }

  /**
   * Workers alive now, idle or running a process.
   *
   * @internal For xip's own tests; not a stable API.
   */
  get workers(): number {
    return this.#pool.size;
  }

  /** Processes spawned and not yet reaped. */
  get live(): number {
    return this.#procs.size;
  }

  /**
   * Resolves once no process is left: every process, the ones guests
   * forked included, has exited and been reaped (orphans by the Machine,
   * as init). Then the Machine is quiescent (checkInvariants may run).
   */
  settled(): Promise<void> {
    if (this.#quiet()) return Promise.resolve();
    return new Promise((resolve) => this.#settleWaiters.push(resolve));
  }

  #quiet(): boolean {
    return this.#procs.size === 0 && procLive(this.mem) === 0;
  }

  /**
   * Start `path` with `argv` (argv[0] included; strings are written as
   * UTF-8, byte arrays as they are) in a new process.
   *
   * @example Capture a process's output
   * ```ts
   * import { Machine } from "@xip/xip";
   *
   * await using m = await Machine.boot({ from: "fixtures/rootfs" });
   * let out = "";
   * const dec = new TextDecoder();
   * const p = m.spawn("/bin/hello", ["hello"], { stdout: (b) => out += dec.decode(b) });
   * await p.wait();
   * console.log(out.split("\n")[0]); // hello from xip
   * ```
   *
   * @param path the program, a path inside the image
   * @param argv its arguments, argv[0] included (default `[path]`)
   * @param opts environment, stdin and where its output goes
   * @returns the process; its pid is allocated now, its Worker starts soon after
   * @throws MachineError when maxProcs processes already exist or the machine is shut down
   */
  spawn(path: string, argv: ArgString[] = [path], opts: SpawnOptions = {}): Process {
    if (this.#down) throw new MachineError("the machine is shut down");
    clearTimeout(this.#idleTimer);
    const claim = procClaim(this.mem, 0);
    if (typeof claim === "number") {
      throw new MachineError(`too many processes (maxProcs is ${this.maxProcs})`);
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

  /** The tracked process running in `slot`, if any. */
  #bySlot(slot: TaskSlot): ProcState | undefined {
    if (slot === 0) return undefined;
    for (const p of this.#procs.values()) if (p.slot === slot) return p;
    return undefined;
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
      const q = this.#bySlot(procSlot(this.mem, p.slot, "heir"));
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
    this.#bug(`tearing down pid ${pid}: ${what}`);
  }

  /** A kernel log line (BootOptions.log). */
  #log(line: string): void {
    if (this.opts.log !== undefined) this.opts.log(line);
    else writeAllSync(Deno.stderr)(enc.encode(line + "\n"));
  }

  /** Count and print a kernel bug the Machine found itself. */
  #bug(what: string): void {
    this.#panics++;
    this.#report(`xip: KERNEL BUG ${what}\n`);
  }

  /** Print a line of the Machine's own on its stderr; a failing sink loses it. */
  #report(line: string): void {
    try {
      (this.opts.stderr ?? writeAllSync(Deno.stderr))(enc.encode(line));
    } catch { /* nothing to report it to */ }
  }

  /**
   * Send `sig` (1..64, default SIGTERM) to process `pid`, as kill(2) from
   * outside the guest (si_code SI_USER, si_pid 0). The process acts on it
   * at its next safe point (a poll, a trap, a system-call return, or at
   * once if it sleeps): it runs its handler, ignores it, stops (SIGSTOP,
   * SIGTSTP, SIGTTIN, SIGTTOU), continues (SIGCONT), or dies with status
   * 128 + sig. Only a signal that will kill it starts the grace period:
   * if it has not stopped after it, its Worker is terminated and the
   * Machine tears the process down itself.
   *
   * @returns false when no such process exists or sig is invalid
   */
  kill(pid: number, sig: number = SIGTERM): boolean {
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

  /**
   * Stop process `pid` the hard way, as if its Worker were terminated: the
   * task dies at its next kill point (a lock acquire or release, a wait
   * slice, the hart's poll; src/sync/current.ts) holding whatever it holds,
   * without unwinding, and the Machine recovers its locks and tears the
   * process down from the main thread (status 137, SIGKILL). A process
   * already tearing itself down finishes that first and reports its own
   * exit. The last resort that kill() escalates to.
   *
   * @returns false when no such process exists
   */
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

  /**
   * Chaos testing: make process `pid` die the hard way (as terminate) at its
   * `points`-th lock operation from now, counting with `cls` only those
   * made while it holds a lock of that LockClass (0: any). If it exits
   * first, nothing happens. The exit message names the locks it held.
   *
   * @internal For xip's chaos tests; not a stable API.
   * @returns false when no such process exists
   */
  chaosKill(pid: number, points: number, cls = 0): boolean {
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
        this.#bug(`tearing down pid ${p.pid}: ${(e as Error).message}`);
        this.#finish(p, { code: 128 + p.killSig, signal: p.killSig, message: "teardown failed" });
      }
    };
    clearTimeout(p.killTimer);
    p.killTimer = setTimeout(look, KILL_ACK_POLL_MS);
  }

  /** The stats object (src/kernel/stats.ts, docs/stats.schema.json). */
  stats(): MachineStats {
    const exit = [...this.#exits].sort((a, b) => a.pid - b.pid).map((e) => e.code);
    return collectStats(this.mem, {
      procs: this.#spawned,
      exit,
      wallMs: performance.timeOrigin + performance.now() - this.#bootMs,
      panics: this.#panics,
    });
  }

  /**
   * Memory failure: poison the device bytes [offset, offset + len) (every
   * 4 KiB block they touch), as a failed scrub or machine check reports
   * them (Linux's memory_failure on each page). Every mapping of a poisoned
   * block is removed at once; a process that touches one afterwards gets
   * SIGBUS (BUS_MCEERR_AR), one that asked for early kill (PR_MCE_KILL) gets
   * it now. Reads of the blocks fail with EIO until a write covering a whole
   * block clears it; the list is saved in the image.
   *
   * @returns the number of blocks newly poisoned
   * @throws MachineError when the range is not inside the device or the machine is shut down
   */
  poison(offset: number, len: number = PAGE_SIZE): number {
    if (this.#down) throw new MachineError("the machine is shut down");
    const n = poisonDeviceRange(this.fs.xip.ctx, offset, len);
    if (n < 0) {
      const bytes = this.mem.layout.config.deviceFrames * PAGE_SIZE;
      throw new MachineError(`poison ${offset}:${len} is not inside the ${bytes}-byte device`);
    }
    return n;
  }

  /**
   * Check the machine-wide invariants (src/kernel/invariants.ts): frame
   * classes, refcounts and mapcounts, PTE targets, VMA lists, gauges, no
   * held lock, and fsck with `{ fsck: true }`. Call it only at quiescence,
   * with no process running kernel code.
   *
   * @internal For xip's own tests (and `xip run` with XIP_CHECK_INVARIANTS=1).
   * @returns one line per violation; empty when the machine is consistent
   */
  checkInvariants(opts: InvariantOptions = {}): string[] {
    return checkInvariants(this.mem, opts);
  }

  /** RAM frames free now (compare with bootFreeFrames once every process exited). */
  freeFrames(): number {
    return freeFrameCount(this.mem);
  }

  /**
   * Stop the machine: kill what still runs (SIGKILL), wait for it, unmount
   * (which writes what changed into the image file in place, superblock
   * last, when the Machine has one: BootOptions.imagePath), save a copy of
   * the device to `save` atomically when that is another path, terminate
   * every Worker and release the image locks. The Machine cannot be used
   * afterwards.
   *
   * @throws ImageError with one line when the image cannot be written (the
   *   Workers are stopped and the locks released anyway)
   */
  async shutdown(opts: { save?: string } = {}): Promise<void> {
    if (this.#down) return;
    this.#down = true;
    clearTimeout(this.#idleTimer);
    // Children cloned meanwhile are torn down as the doorbell loop meets them.
    for (let left = [...this.#procs.values()]; left.length > 0; left = [...this.#procs.values()]) {
      for (const p of left) this.kill(p.pid, SIGKILL);
      await Promise.all(left.map((p) => p.done));
    }
    this.#closed = true;
    this.#order.close();
    const bell = this.mem.layout.procs.base + PROCS_HDR.doorbell;
    Atomics.add(this.mem.k32, bell, 1);
    Atomics.notify(this.mem.k32, bell);
    try {
      const rc = unmountKernelFs(this.fs);
      const path = this.fs.opts.imagePath;
      if (rc === -EBUSY) this.#bug(`at unmount (${errnoName(rc)}): an inode is still referenced`);
      else if (rc < 0) {
        throw new ImageError(
          `image ${path ?? "(none)"}: cannot write: ${syncLastError() || errnoName(rc)}`,
        );
      }
      if (opts.save !== undefined && opts.save !== path) saveImage(this.device, opts.save);
    } finally {
      this.#consoles.close();
      this.#pool.close();
      for (const f of this.#files) f.close();
    }
  }

  /**
   * `await using m = await Machine.boot(...)` shuts the machine down (without
   * saving) when `m` goes out of scope.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}
