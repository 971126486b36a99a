/**
 * The Machine's side of the consoles (src/kernel/console.ts): it makes
 * them, feeds their input from the host, and delivers the output streams
 * that do not go straight to the host's fds. Main thread only.
 *
 * Input. A console's source is the host's stdin (any object with Deno's
 * `read(p)`, e.g. `Deno.stdin`) or bytes given up front. A pump waits
 * (Atomics.waitAsync) until a reader asks for bytes, reads the source once
 * for at most that many (and at most the room in the ring), appends what
 * came and wakes the reader; at the source's end it marks end of input.
 * So the host is read only on demand, as a guest reading the inherited fd
 * under qemu-user would read it. A source that fails reads as its end.
 *
 * Output. A stream is either the host's own fd (the writing thread writes
 * it; nothing to do here) or a function: its bytes arrive as Worker
 * messages and are handed to the function in order. If the function
 * throws, the failure is latched on the console (EPIPE for a closed pipe,
 * ENOSPC for a full device, EIO otherwise) and the guest's next write
 * reports it; the Machine itself never fails because a sink did.
 *
 * @module
 */

import { EIO, ENOSPC, EPIPE } from "../abi/errno.ts";
import { CONS_ERR_HOST, CONS_INPUT, CONS_OUT_HOST, CONS_PREFIX } from "../abi/layout/console.ts";
import type { Memory } from "../hw/memory.ts";
import {
  consoleAlloc,
  consoleInputDemand,
  consoleInputPush,
  consoleLive,
  consolePut,
  consoleSetError,
  consoleWord,
} from "./console.ts";

/** Receives a process's console output, a chunk of bytes at a time. */
export type OutputSink = (data: Uint8Array) => void;

/** A readable host stream, as Deno.stdin is. */
export interface InputSource {
  /** Read into p: bytes read, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/** What a console reads: bytes, a string (as UTF-8), or a host stream. */
export type ConsoleInput = Uint8Array | string | InputSource;

/** How a console is made. */
export interface ConsoleSpec {
  /** Absent: no input (reads return 0 at once). */
  stdin?: ConsoleInput;
  /** Absent: the host's fd 1, written by the guest's own thread. */
  stdout?: OutputSink;
  /** Absent: the host's fd 2. */
  stderr?: OutputSink;
  /** Prefix every output line with "[pid] ". */
  prefix?: boolean;
}

/** How long the pump sleeps before checking whether its console or host is gone, in ms. */
const PUMP_SLICE_MS = 250;

/** A source over bytes given up front. */
function bytesSource(bytes: Uint8Array): InputSource {
  let at = 0;
  return {
    read(p) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

const enc = new TextEncoder();

/** The errno a failed sink stands for. */
function sinkErrno(e: unknown): number {
  const code = (e as { code?: unknown }).code;
  if (code === "EPIPE" || e instanceof Deno.errors.BrokenPipe) return EPIPE;
  if (code === "ENOSPC") return ENOSPC;
  return EIO;
}

/** The consoles of one Machine. */
export class ConsoleHost {
  readonly #sinks = new Map<number, { out?: OutputSink; err?: OutputSink }>();
  #closed = false;

  constructor(readonly mem: Memory) {}

  /**
   * Make a console as `spec` says, holding the Machine's reference (drop it
   * with release once no new process will be given it).
   *
   * @returns its cookie, or -ENFILE when every console record is taken
   */
  open(spec: ConsoleSpec): number {
    let flags = spec.prefix ? CONS_PREFIX : 0;
    if (spec.stdout === undefined) flags |= CONS_OUT_HOST;
    if (spec.stderr === undefined) flags |= CONS_ERR_HOST;
    if (spec.stdin !== undefined) flags |= CONS_INPUT;
    const cookie = consoleAlloc(this.mem, flags);
    if (cookie < 0) return cookie;
    this.#sinks.set(cookie, { out: spec.stdout, err: spec.stderr });
    if (spec.stdin !== undefined) {
      const src = typeof spec.stdin === "string"
        ? bytesSource(enc.encode(spec.stdin))
        : spec.stdin instanceof Uint8Array
        ? bytesSource(spec.stdin)
        : spec.stdin;
      void this.#pump(cookie, src);
    }
    return cookie;
  }

  /** Drop the Machine's reference on a console; it ends once its files are closed. */
  release(cookie: number): void {
    if (consoleLive(this.mem, cookie)) consolePut(this.mem, cookie);
  }

  /** Hand bytes a guest wrote to the stream's function (a Worker's "out" message). */
  deliver(cookie: number, fd: 1 | 2, data: Uint8Array): void {
    const sink = fd === 1 ? this.#sinks.get(cookie)?.out : this.#sinks.get(cookie)?.err;
    if (sink === undefined) return;
    try {
      sink(data);
    } catch (e) {
      consoleSetError(this.mem, cookie, fd, sinkErrno(e));
    }
  }

  /** Stop every pump (shutdown). A host read in flight finishes on its own. */
  close(): void {
    this.#closed = true;
    for (const cookie of this.#sinks.keys()) {
      const w = consoleWord(this.mem, cookie, "inWant");
      if (w >= 0) Atomics.notify(this.mem.k32, w);
    }
  }

  /** Feed console `cookie` from `src` on demand until the source or the console ends. */
  async #pump(cookie: number, src: InputSource): Promise<void> {
    const k = this.mem.k32;
    for (;;) {
      if (this.#closed || !consoleLive(this.mem, cookie)) return;
      const { want, room } = consoleInputDemand(this.mem, cookie);
      if (want === 0 || room === 0) {
        const w = consoleWord(this.mem, cookie, "inWant");
        if (w < 0) return;
        const r = Atomics.waitAsync(k, w, want, PUMP_SLICE_MS);
        if (r.async) await r.value;
        else if (room === 0) await new Promise((res) => setTimeout(res, 1));
        continue;
      }
      const buf = new Uint8Array(Math.min(want, room));
      let n: number | null;
      try {
        n = await src.read(buf);
      } catch {
        n = null; // a source that fails ends there
      }
      // Synchronous from here: the console may have ended while we waited.
      consoleInputPush(this.mem, cookie, n === null ? null : buf.subarray(0, n));
      if (n === null) return;
    }
  }
}
