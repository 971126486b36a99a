/**
 * The Machine: the main thread's side of xip (docs/ARCHITECTURE.md §7). It creates
 * the SharedArrayBuffers, loads or formats the memory device, mounts
 * xipfs, keeps Workers warm, spawns processes onto them with their
 * consoles (console_host.ts), kills and reaps them, reports stats and
 * saves the image. Once booted, the processes' lifecycle (spawn, clone,
 * reap, kill, forced teardown) is machine_lifecycle.ts's ProcLifecycle;
 * this file keeps boot, the public API and shutdown.
 *
 * The main thread is task 1: it takes kernel locks itself when it tears
 * down a process whose Worker died (after recovering that task's locks).
 *
 * @module
 */

import { XIPFS_STATE_DIRTY } from "../abi/layout/mod.ts";
import { asTaskSlot, PAGE_SIZE } from "../abi/types.ts";
import { EBUSY, errnoName } from "../abi/errno.ts";
import { ImageError, MemDevice, saveImage } from "../hw/device.ts";
import { ImageFile } from "../hw/image_file.ts";
import { openVolume, superGet } from "../fs/xipfs/xipfs_format.ts";
import { syncLastError } from "../fs/xipfs/xipfs_sync.ts";
import { createMemory, MAX_PHYS_FRAMES, type Memory } from "../hw/memory.ts";
import { freeFrameCount } from "../mm/frame_alloc.ts";
import { mmBoot } from "../mm/mm.ts";
import { mkfsInto } from "../fs/xipfs/mkfs.ts";
import { JitShared } from "../hw/jit/shared.ts";
import { jitBootCheck, jitBootMode, type JitOption } from "./proc_jit.ts";
import { DEBUG_JITCHECK, DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../sync/mod.ts";
import { type FsMountOptions, type KernelFs, mountKernelFs, unmountKernelFs } from "./fs_mount.ts";
import { workerPermissionProblem, WorkerPool } from "./machine_pool.ts";
import { ProcLifecycle } from "./machine_lifecycle.ts";
import { SIGTERM } from "./signal.ts";
import { vdsoPfn } from "./vdso.ts";
import { collectStats, type MachineStats } from "./stats.ts";
import { checkInvariants, type InvariantOptions } from "./invariants.ts";
import { poisonDeviceRange } from "./memory_failure.ts";
import type { ArgString } from "./exec_stack.ts";
import { ConsoleHost } from "./console_host.ts";
import {
  type BootOptions,
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
  readonly #bootMs = performance.timeOrigin + performance.now();
  /** The processes, spawn to reap, and the kernel log (machine_lifecycle.ts). */
  readonly #life: ProcLifecycle;
  /** The image files the Machine holds open and locked until shutdown. */
  readonly #files: ImageFile[];
  /** The superblock said "not cleanly unmounted" when the image was loaded. */
  readonly mountedDirty: boolean;

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
    const console = this.#consoles.open({
      stdin: opts.stdin,
      stdout: opts.stdout,
      stderr: opts.stderr,
      prefix: opts.prefixOutput,
    });
    if (console < 0) throw new MachineError("no console record for the Machine");
    this.#life = new ProcLifecycle({
      mem,
      fs,
      opts,
      pool: this.#pool,
      consoles: this.#consoles,
      console,
      bootMs: this.#bootMs,
    });
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
    m.#life.run();
    return m;
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
    return this.#life.live;
  }

  /**
   * Resolves once no process is left: every process, the ones guests
   * forked included, has exited and been reaped (orphans by the Machine,
   * as init). Then the Machine is quiescent (checkInvariants may run).
   */
  settled(): Promise<void> {
    return this.#life.settled();
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
    return this.#life.spawn(path, argv, opts);
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
    return this.#life.kill(pid, sig);
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
    return this.#life.terminate(pid);
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
    return this.#life.chaosKill(pid, points, cls);
  }

  /** The stats object (src/kernel/stats.ts, docs/stats.schema.json). */
  stats(): MachineStats {
    return collectStats(this.mem, {
      procs: this.#life.spawned,
      exit: this.#life.exitCodes(),
      wallMs: performance.timeOrigin + performance.now() - this.#bootMs,
      panics: this.#life.panics,
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
    if (this.#life.down) throw new MachineError("the machine is shut down");
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
    if (this.#life.down) return;
    await this.#life.shutdown();
    try {
      const rc = unmountKernelFs(this.fs);
      const path = this.fs.opts.imagePath;
      if (rc === -EBUSY) {
        this.#life.bug(`at unmount (${errnoName(rc)}): an inode is still referenced`);
      } else if (rc < 0) {
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
