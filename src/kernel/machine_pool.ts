/**
 * A pool of process Workers kept warm. Starting a Deno Worker and loading
 * the kernel modules into it costs tens of milliseconds (docs/ARCHITECTURE.md §14: about
 * 43 ms each), so the Machine starts some at boot and reuses a Worker after
 * its process exits.
 *
 * @module
 */

import type { FsMountOptions } from "./fs_mount.ts";
import type { ProcessResult, ProcessStart } from "./proc_run.ts";

/** The module each process Worker starts from. */
const WORKER_URL = new URL("../../workers/process.ts", import.meta.url);

/**
 * Why process Workers could not start in this Deno process, or null when
 * they can. Starting a Worker from local files reads its module graph
 * (workers/ and src/), which Deno allows only with read permission there;
 * without it every Worker would fail as it loads, one error per process.
 */
export function workerPermissionProblem(): string | null {
  if (WORKER_URL.protocol !== "file:") return null;
  for (const dir of ["../../workers/", "../../src/"]) {
    const path = new URL(dir, import.meta.url);
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
      return `starting process Workers needs read access to ${path.pathname} (--allow-read)`;
    }
  }
  return null;
}

/** What a pooled Worker reports while running a process. */
export interface WorkerEvents {
  /**
   * Output the process wrote to stream `fd` of console `console`, for the
   * Machine to deliver, with its ticket (out_order.ts).
   */
  out(console: number, fd: 1 | 2, data: Uint8Array, ticket: number): void;
  /** A `--strace` line, ordered with the output by its ticket. */
  strace(line: string, ticket: number): void;
  /** A process called system call `nr`, which is not implemented (not ordered). */
  enosys(nr: number): void;
  exit(result: ProcessResult, ticket: number): void;
  /** The Worker threw outside the kernel's own handling (it is unusable now). */
  error(message: string): void;
}

/** One Worker of the pool. */
export class PooledWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  /** The handlers of the process it runs now; null while idle. */
  events: WorkerEvents | null = null;
  dead = false;

  constructor(
    url: string,
    phys: WebAssembly.Memory,
    kernel: SharedArrayBuffer,
    jit: WebAssembly.Memory | null,
    mount: FsMountOptions,
  ) {
    this.worker = new Worker(url, { type: "module" });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.onmessage = (ev: MessageEvent) => {
        const m = ev.data as {
          t: string;
          console?: number;
          fd?: 1 | 2;
          data?: Uint8Array;
          result?: ProcessResult;
          error?: string;
          ticket?: number;
          line?: string;
          nr?: number;
        };
        if (m.t === "ready") resolve();
        else if (m.t === "fail") {
          this.dead = true;
          reject(new Error(`cannot attach the file system: ${m.error}`));
        } else if (m.t === "out") this.events?.out(m.console!, m.fd!, m.data!, m.ticket!);
        else if (m.t === "strace") this.events?.strace(m.line!, m.ticket!);
        else if (m.t === "enosys") this.events?.enosys(m.nr!);
        else if (m.t === "exit") {
          const ev = this.events;
          this.events = null;
          ev?.exit(m.result!, m.ticket!);
        }
      };
      this.worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        this.dead = true;
        const msg = ev.message ?? "worker error";
        reject(new Error(msg));
        const e = this.events;
        this.events = null;
        e?.error(msg);
      };
    });
    this.ready.catch(() => {}); // a failed start is reported through acquire()
    this.worker.postMessage({ t: "init", phys, kernel, jit, mount });
  }

  /** Start a process. Entry: the Worker is ready and idle. */
  run(start: ProcessStart, events: WorkerEvents): void {
    this.events = events;
    this.worker.postMessage({ t: "run", start });
  }

  terminate(): void {
    this.dead = true;
    this.events = null;
    this.worker.terminate();
  }
}

/** Warm Workers, and a factory for more. */
export class WorkerPool {
  readonly #idle: PooledWorker[] = [];
  readonly #all = new Set<PooledWorker>();
  readonly #url = WORKER_URL.href;

  constructor(
    readonly phys: WebAssembly.Memory,
    readonly kernel: SharedArrayBuffer,
    readonly jit: WebAssembly.Memory | null,
    readonly mount: FsMountOptions,
  ) {}

  #spawn(): PooledWorker {
    const w = new PooledWorker(this.#url, this.phys, this.kernel, this.jit, this.mount);
    this.#all.add(w);
    return w;
  }

  /** Start `n` Workers now and keep them idle. Resolves when they are ready. */
  async warm(n: number): Promise<void> {
    const ws: PooledWorker[] = [];
    for (let i = 0; i < n; i++) ws.push(this.#spawn());
    for (const w of ws) {
      try {
        await w.ready;
        this.#idle.push(w);
      } catch {
        this.discard(w);
      }
    }
  }

  /**
   * An idle, ready Worker: a warm one, or a new one.
   *
   * @throws Error when a new Worker fails to start
   */
  async acquire(): Promise<PooledWorker> {
    for (;;) {
      const w = this.#idle.pop();
      if (w === undefined) break;
      if (!w.dead) return w;
    }
    const w = this.#spawn();
    try {
      await w.ready;
    } catch (e) {
      this.discard(w);
      throw e;
    }
    return w;
  }

  /** Give back a Worker whose process exited normally. */
  release(w: PooledWorker): void {
    if (w.dead) this.discard(w);
    else this.#idle.push(w);
  }

  /** Terminate a Worker and forget it. */
  discard(w: PooledWorker): void {
    if (!w.dead) w.terminate();
    this.#all.delete(w);
    const i = this.#idle.indexOf(w);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  /** Workers alive (idle or busy). */
  get size(): number {
    return this.#all.size;
  }

  /** Terminate the idle Workers (a later acquire starts new ones). */
  stopIdle(): void {
    for (const w of this.#idle.splice(0)) this.discard(w);
  }

  /** Terminate every Worker. */
  close(): void {
    for (const w of this.#all) w.terminate();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
