/**
 * The console: the character device behind fds 0, 1 and 2 of every process
 * (a pts, as far as the guest can tell: major 136, mode 0620). Its state
 * lives in the console region (src/abi/layout/console.ts); this module is
 * its driver, which runs in whatever thread makes the read or write, and
 * the few calls the Machine's main thread makes on a record.
 *
 * A process's fds 0, 1 and 2 are three ordinary open-file records (see
 * `consoleInstall`) naming device minors CONSOLE_IN, CONSOLE_OUT and
 * CONSOLE_ERR with the console's cookie, so dup, dup2, close and fd-table
 * inheritance treat them like any other file.
 *
 * Input (minor CONSOLE_IN). Bytes come from the Machine (console_host.ts):
 * the host's stdin, or bytes it was given. A read takes what the ring holds
 * (at most what was asked); on an empty ring it asks the main thread for
 * more and sleeps (sleep.ts: in slices, woken by a signal at once) until
 * data or end of input arrives, or a signal is pending or the task was
 * killed (-ERESTARTSYS; the signal then acts on the way out of the syscall,
 * which restarts the read or fails it with EINTR). Nothing is read from
 * the host before a guest asks, and never more than it asked for, so bytes
 * a guest does not read stay in the host's stdin as they would with
 * qemu-user.
 *
 * Output (CONSOLE_OUT, CONSOLE_ERR). A stream goes one of two ways:
 * - to the host's own fd 1 or 2, written by the writing thread itself
 *   (CONS_OUT_HOST / CONS_ERR_HOST), so the guest's write gets the host's
 *   result: EPIPE (and SIGPIPE, whose default action ends the process with
 *   status 141) when the reader is gone, ENOSPC on a full device, as a
 *   write to an inherited fd does under qemu-user;
 * - to a function of the Machine's (tests, the API), through this thread's
 *   transport (a message to the main thread); a delivery failure there is
 *   latched in the record and reported by the next write.
 * Bytes pass unchanged. With CONS_PREFIX (xip run --procs N > 1) each
 * process's output is cut into whole lines, each prefixed "[pid] ", and a
 * line is written in one piece under the console's output lock, so lines
 * of different processes never mix. A process's partial last line is held
 * until its newline or its exit (`consoleFlush`), or until it reaches
 * LINE_HOLD_MAX bytes, when it goes out as it is (a longer line may then
 * have another process's line in between).
 *
 * @module
 */

import { EBADF, EIO, ENFILE, ENOSPC, ENXIO, EPIPE } from "../abi/errno.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import {
  CONS_ERR_HOST,
  CONS_INPUT,
  CONS_OUT_HOST,
  CONS_PREFIX,
  CONSOLE,
  CONSOLE_HDR,
  CONSOLE_RING,
  consoleBase,
  consoleMax,
} from "../abi/layout/console.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Memory } from "../hw/memory.ts";
import { chrdevIno, chrdevOpen, type ChrdevOps, registerChrdev } from "../fs/chrdev.ts";
import type { VInode } from "../fs/vfs_fs.ts";
import { LockClass } from "../sync/lockdep.ts";
import { MUTEX_WAITERS, mutexTryLock, mutexUnlock } from "../sync/mutex.ts";
import { currentTid } from "../sync/current.ts";
import { procGet } from "./proc.ts";
import { SIGPIPE } from "./signal.ts";
import { sendSigSelf } from "./signal_send.ts";
import { sleepInterrupted, sleepOnWord } from "./sleep.ts";

/** The console's major (Linux's UNIX98_PTY_SLAVE_MAJOR: a pts). */
export const CONSOLE_MAJOR = 136;
/** Minors: which stream of the console an open file is. */
export const CONSOLE_IN = 0;
export const CONSOLE_OUT = 1;
export const CONSOLE_ERR = 2;

/** Longest sleep of a reader or lock waiter between checks for signals and kills, in ms. */
export const CONSOLE_SLICE_MS = 20;
/** A partial line longer than this goes out without waiting for its newline. */
export const LINE_HOLD_MAX = 1 << 20;

/** Cookie bits that hold the record slot; the rest is a generation. */
const SLOT_BITS = 11;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
if (consoleMax(1024 + 2) > SLOT_MASK + 1) {
  throw new KernelPanic("console", "console slots do not fit the cookie");
}

// ---------------------------------------------------------------------------
// records

/** Word index of the record of `cookie`, or -1 when it names no live console. */
function recOf(mem: Memory, cookie: number): number {
  const slot = cookie & SLOT_MASK;
  if (cookie <= 0 || slot >= consoleMax(mem.layout.config.maxTasks)) return -1;
  const r = consoleBase(mem.layout.console.base, slot);
  return Atomics.load(mem.k32, r + CONSOLE.id) === cookie ? r : -1;
}

function recOrPanic(mem: Memory, cookie: number, where: string): number {
  const r = recOf(mem, cookie);
  if (r < 0) throw new KernelPanic(where, `console ${cookie} does not exist`);
  return r;
}

/**
 * Make a console with CONS_* `flags`, holding one reference (the caller's;
 * drop it with consolePut). Main thread only: allocation is not locked
 * against itself.
 *
 * @returns its cookie, or -ENFILE when every record is taken
 */
export function consoleAlloc(mem: Memory, flags: number): number {
  const { k32 } = mem;
  const base = mem.layout.console.base;
  const max = consoleMax(mem.layout.config.maxTasks);
  for (let slot = 0; slot < max; slot++) {
    const r = consoleBase(base, slot);
    if (Atomics.load(k32, r + CONSOLE.id) !== 0) continue;
    const gen = (Atomics.add(k32, base + CONSOLE_HDR.lastId, 1) + 1) & 0xf_ffff;
    const cookie = ((gen || 1) << SLOT_BITS) | slot;
    for (const w of ["outErr", "errErr", "inHead", "inTail", "inWant", "inEvent"] as const) {
      Atomics.store(k32, r + CONSOLE[w], 0);
    }
    for (const w of [CONSOLE.inLock, CONSOLE.outLock]) Atomics.store(k32, r + w, 0);
    Atomics.store(k32, r + CONSOLE.inEof, (flags & CONS_INPUT) !== 0 ? 0 : 1);
    Atomics.store(k32, r + CONSOLE.flags, flags);
    Atomics.store(k32, r + CONSOLE.refs, 1);
    Atomics.store(k32, r + CONSOLE.id, cookie); // publishes the fields above
    return cookie;
  }
  return -ENFILE;
}

/** Take another reference on a console the caller already holds one on. */
function consoleGet(mem: Memory, cookie: number): number {
  const r = recOf(mem, cookie);
  if (r < 0) return -ENXIO;
  const old = Atomics.add(mem.k32, r + CONSOLE.refs, 1);
  if (old <= 0) throw new KernelPanic("consoleGet", `console ${cookie} has ${old} references`);
  return cookie;
}

/**
 * Drop a reference; the record is free once the last one goes. Any thread.
 *
 * @throws KernelPanic when the console does not exist or has no reference
 */
export function consolePut(mem: Memory, cookie: number): void {
  const r = recOrPanic(mem, cookie, "consolePut");
  const old = Atomics.sub(mem.k32, r + CONSOLE.refs, 1);
  if (old <= 0) throw new KernelPanic("consolePut", `console ${cookie} had ${old} references`);
  if (old === 1) {
    Atomics.store(mem.k32, r + CONSOLE.id, 0);
    Atomics.notify(mem.k32, r + CONSOLE.inWant); // the Machine's pump stops
  }
}

/** Whether `cookie` still names a live console. */
export const consoleLive = (mem: Memory, cookie: number): boolean => recOf(mem, cookie) >= 0;

/** Word index of field `f` of live console `cookie` (for the Machine's waits), or -1. */
export function consoleWord(mem: Memory, cookie: number, f: keyof typeof CONSOLE): number {
  const r = recOf(mem, cookie);
  return r < 0 ? -1 : r + CONSOLE[f];
}

/**
 * Install fds 0, 1 and 2 of an empty fd table as console `cookie`'s input,
 * output and error streams: `install(ip, flags)` is the VFS's
 * vfsInstallFile for the process's table and must return fds 0, 1, 2 in
 * turn. Each open file takes its own reference on the console.
 *
 * @returns 0, or -errno (the fds installed so far stay; the caller frees the table)
 */
export function consoleInstall(
  cookie: number,
  install: (ip: VInode, flags: number) => number,
): number {
  const modes = [0, /* O_RDONLY */ 1, /* O_WRONLY */ 1];
  for (let fd = 0; fd < 3; fd++) {
    const ip = chrdevOpen(chrdevIno(CONSOLE_MAJOR, fd), cookie);
    if (typeof ip === "number") return ip;
    const got = install(ip, modes[fd]!);
    if (got !== fd) return got < 0 ? got : -EBADF;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// the Machine's side of the input ring (main thread)

/** Bytes a reader asked for (0: none), and room in the ring. */
export function consoleInputDemand(mem: Memory, cookie: number): { want: number; room: number } {
  const r = recOf(mem, cookie);
  if (r < 0) return { want: 0, room: 0 };
  const k = mem.k32;
  const used = (Atomics.load(k, r + CONSOLE.inTail) - Atomics.load(k, r + CONSOLE.inHead)) >>> 0;
  return { want: Atomics.load(k, r + CONSOLE.inWant), room: CONSOLE_RING - used };
}

/**
 * Append `bytes` (at most the room consoleInputDemand reported) to the
 * input ring, or mark the end of input (`bytes` null), and wake readers.
 * Main thread only (the ring has one producer). A console that died
 * meanwhile is left alone.
 */
export function consoleInputPush(mem: Memory, cookie: number, bytes: Uint8Array | null): void {
  const r = recOf(mem, cookie);
  if (r < 0) return;
  const k = mem.k32;
  // Clear the demand before publishing, so a reader that asks again after
  // consuming these bytes is never overwritten.
  Atomics.store(k, r + CONSOLE.inWant, 0);
  if (bytes === null) {
    Atomics.store(k, r + CONSOLE.inEof, 1);
  } else {
    const tail = Atomics.load(k, r + CONSOLE.inTail) >>> 0;
    const used = (tail - Atomics.load(k, r + CONSOLE.inHead)) >>> 0;
    if (bytes.length > CONSOLE_RING - used) {
      throw new KernelPanic(
        "consoleInputPush",
        `${bytes.length} bytes into a ring with room for ${CONSOLE_RING - used}`,
      );
    }
    ringCopy(mem, r, tail, bytes, true);
    Atomics.store(k, r + CONSOLE.inTail, (tail + bytes.length) | 0);
  }
  Atomics.add(k, r + CONSOLE.inEvent, 1);
  Atomics.notify(k, r + CONSOLE.inEvent);
}

/** Latch a delivery failure (positive errno) of stream `fd` of console `cookie`. */
export function consoleSetError(mem: Memory, cookie: number, fd: 1 | 2, errno: number): void {
  const r = recOf(mem, cookie);
  if (r >= 0) Atomics.store(mem.k32, r + (fd === 1 ? CONSOLE.outErr : CONSOLE.errErr), errno);
}

const kernelBytes = new WeakMap<SharedArrayBuffer, Uint8Array>();
function kbytes(mem: Memory): Uint8Array {
  let b = kernelBytes.get(mem.kernel);
  if (b === undefined) kernelBytes.set(mem.kernel, b = new Uint8Array(mem.kernel));
  return b;
}

/** Copy between `buf` and the ring of record `r`, starting at ring index `at` (wrapping). */
function ringCopy(mem: Memory, r: number, at: number, buf: Uint8Array, into: boolean): void {
  const kb = kbytes(mem);
  const ring = (r + CONSOLE.ring) * 4;
  let done = 0;
  while (done < buf.length) {
    const off = (at + done) % CONSOLE_RING;
    const n = Math.min(buf.length - done, CONSOLE_RING - off);
    if (into) kb.set(buf.subarray(done, done + n), ring + off);
    else buf.set(kb.subarray(ring + off, ring + off + n), done);
    done += n;
  }
}

// ---------------------------------------------------------------------------
// the driver (any thread)

/** Whether the calling task should stop waiting: a signal is pending, or it was killed. */
function interrupted(mem: Memory): boolean {
  const tid = currentTid();
  return tid >= 2 && sleepInterrupted(mem, tid);
}

/**
 * Take the mutex at word `w`, sleeping in slices, unless the task is
 * interrupted first (a writer stuck behind a host pipe nobody reads must
 * stay killable, though read and write are not kill points).
 *
 * @returns true when held, false when interrupted
 */
function lockInterruptible(mem: Memory, w: number): boolean {
  const k = mem.k32;
  for (;;) {
    if (mutexTryLock(k, w, LockClass.NONE)) return true;
    if (interrupted(mem)) return false;
    const v = Atomics.load(k, w);
    if (v === 0) continue;
    // Ask the holder to notify on unlock; a lost race just means a timed-out slice.
    if ((v & MUTEX_WAITERS) === 0) Atomics.compareExchange(k, w, v, v | MUTEX_WAITERS);
    Atomics.wait(k, w, v | MUTEX_WAITERS, CONSOLE_SLICE_MS);
  }
}

/**
 * read(2) on the console's input: bytes read (at most dst.length, at most
 * what is buffered), 0 at end of input, -ERESTARTSYS when interrupted while
 * empty. Entry: no lock held (a syscall, kernel mode). Takes the console's
 * input lock (CONSOLE.inLock: unchecked, LockClass.NONE, taken in
 * interruptible slices) and holds it while it sleeps for input, so readers
 * queue behind it; returns with nothing held.
 *
 * @returns bytes read, 0 at end of input, or -EIO, -ERESTARTSYS
 */
export function consoleRead(mem: Memory, cookie: number, dst: Uint8Array): number {
  const r = recOf(mem, cookie);
  if (r < 0) return -EIO;
  if (dst.length === 0) return 0;
  const k = mem.k32;
  if (!lockInterruptible(mem, r + CONSOLE.inLock)) return -ERESTARTSYS;
  try {
    for (;;) {
      // Read the event count first: a push after this point changes it.
      const event = Atomics.load(k, r + CONSOLE.inEvent);
      const head = Atomics.load(k, r + CONSOLE.inHead) >>> 0;
      const tail = Atomics.load(k, r + CONSOLE.inTail);
      const avail = ((tail >>> 0) - head) >>> 0;
      if (avail > 0) {
        const n = Math.min(avail, dst.length);
        const got = dst.subarray(0, n);
        ringCopy(mem, r, head, got, false);
        Atomics.store(k, r + CONSOLE.inHead, (head + n) | 0);
        return n;
      }
      if (Atomics.load(k, r + CONSOLE.inEof) !== 0) return 0;
      Atomics.store(k, r + CONSOLE.inWant, Math.min(dst.length, CONSOLE_RING));
      Atomics.notify(k, r + CONSOLE.inWant);
      const tid = currentTid();
      if (tid < 2) return -EIO; // no task to sleep as: input must be there already
      const s = sleepOnWord(mem, tid, r + CONSOLE.inEvent, event);
      if (s < 0) return s;
    }
  } finally {
    mutexUnlock(k, r + CONSOLE.inLock);
  }
}

/** Where bytes for a stream that is not the host's own go (this thread's way to the Machine). */
export interface ConsoleTransport {
  /** Deliver `bytes` written to stream `fd` of console `cookie`: 0, or -errno. */
  send(cookie: number, fd: 1 | 2, bytes: Uint8Array): number;
}

let transport: ConsoleTransport | null = null;

/** Set how this thread delivers console output to the Machine (a Worker: postMessage). */
export function setConsoleTransport(t: ConsoleTransport | null): void {
  transport = t;
}

/** The host's errno for a failed write, as a negative guest errno. */
function hostErrno(e: unknown): number {
  const code = (e as { code?: unknown }).code;
  if (code === "EPIPE" || e instanceof Deno.errors.BrokenPipe) return -EPIPE;
  if (code === "ENOSPC") return -ENOSPC;
  if (code === "EBADF") return -EBADF;
  if (code === "EAGAIN" || e instanceof Deno.errors.WouldBlock) return -1;
  return -EIO;
}

const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `bytes` to the host's fd 1 or 2, under the console's output
 * lock. A non-blocking host fd that is full is retried every millisecond.
 *
 * @returns bytes written (all of them), or -errno (-ERESTARTSYS when
 *   interrupted waiting for the lock or a full fd; bytes before it are out)
 */
function hostWrite(mem: Memory, r: number, fd: 1 | 2, bytes: Uint8Array): number {
  if (!lockInterruptible(mem, r + CONSOLE.outLock)) return -ERESTARTSYS;
  try {
    const f = fd === 1 ? Deno.stdout : Deno.stderr;
    for (let done = 0; done < bytes.length;) {
      try {
        done += f.writeSync(bytes.subarray(done));
      } catch (e) {
        const err = hostErrno(e);
        if (err !== -1) return err;
        if (interrupted(mem)) return -ERESTARTSYS;
        Atomics.wait(NAP, 0, 0, 1);
      }
    }
    return bytes.length;
  } finally {
    mutexUnlock(mem.k32, r + CONSOLE.outLock);
  }
}

/** Send bytes on their way: to the host's fd, or through the transport. */
function emit(mem: Memory, r: number, cookie: number, fd: 1 | 2, bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  const host =
    (Atomics.load(mem.k32, r + CONSOLE.flags) & (fd === 1 ? CONS_OUT_HOST : CONS_ERR_HOST)) !== 0;
  if (host) return hostWrite(mem, r, fd, bytes);
  if (transport === null) return -EIO;
  const rc = transport.send(cookie, fd, bytes);
  return rc < 0 ? rc : bytes.length;
}

/** A process's not yet written partial line on one stream (prefix mode). */
interface LineHold {
  buf: Uint8Array;
  len: number;
  /** What went out last ended inside a line: the next piece gets no prefix. */
  midLine: boolean;
}

/** This thread's partial lines, by `${cookie}/${fd}` (a Worker runs one process at a time). */
const holds = new Map<string, LineHold>();
const enc = new TextEncoder();

function holdOf(cookie: number, fd: 1 | 2): LineHold {
  const key = `${cookie}/${fd}`;
  let h = holds.get(key);
  if (h === undefined) holds.set(key, h = { buf: new Uint8Array(256), len: 0, midLine: false });
  return h;
}

function holdAppend(h: LineHold, src: Uint8Array): void {
  if (h.len + src.length > h.buf.length) {
    let cap = h.buf.length;
    while (cap < h.len + src.length) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(h.buf.subarray(0, h.len));
    h.buf = grown;
  }
  h.buf.set(src, h.len);
  h.len += src.length;
}

/** `text` with `prefix` before each line (not before the start when `mid`). Linear. */
function prefixLines(text: Uint8Array, prefix: Uint8Array, mid: boolean): Uint8Array {
  let starts = mid ? 0 : 1;
  for (let i = 0; i < text.length - 1; i++) if (text[i] === 10) starts++;
  const out = new Uint8Array(text.length + starts * prefix.length);
  let o = 0;
  let lineStart = !mid;
  for (let i = 0; i < text.length;) {
    if (lineStart) {
      out.set(prefix, o);
      o += prefix.length;
    }
    let j = text.indexOf(10, i);
    j = j < 0 ? text.length : j + 1;
    out.set(text.subarray(i, j), o);
    o += j - i;
    i = j;
    lineStart = true;
  }
  return out;
}

const prefixOf = (mem: Memory): Uint8Array =>
  enc.encode(`[${currentTid() >= 2 ? procGet(mem, currentTid(), "pid") : 0}] `);

/** A failed write: EPIPE also sends SIGPIPE to the writer (Linux's pipe_write). */
function writeFailed(mem: Memory, err: number): number {
  const tid = currentTid();
  if (err === -EPIPE && tid >= 2) sendSigSelf(mem, tid, SIGPIPE);
  return err;
}

/**
 * write(2) on stream `fd` (1 or 2) of console `cookie`. Entry: no lock held
 * (a syscall, kernel mode). A host stream's write runs under the console's
 * output lock (CONSOLE.outLock: unchecked, LockClass.NONE, taken in
 * interruptible slices); a -EPIPE sends SIGPIPE to the caller under its
 * siglock, after the output lock is dropped.
 *
 * @returns src.length, or -EPIPE (with SIGPIPE sent), -ENOSPC, -EBADF, -EIO,
 *   -ERESTARTSYS
 */
export function consoleWrite(mem: Memory, cookie: number, fd: 1 | 2, src: Uint8Array): number {
  const r = recOf(mem, cookie);
  if (r < 0) return -EIO;
  if (src.length === 0) return 0;
  const k = mem.k32;
  const flags = Atomics.load(k, r + CONSOLE.flags);
  const host = (flags & (fd === 1 ? CONS_OUT_HOST : CONS_ERR_HOST)) !== 0;
  if (!host) {
    const latched = Atomics.load(k, r + (fd === 1 ? CONSOLE.outErr : CONSOLE.errErr));
    if (latched !== 0) return writeFailed(mem, -latched);
  }
  if ((flags & CONS_PREFIX) === 0) {
    const n = emit(mem, r, cookie, fd, host ? src : src.slice());
    return n < 0 ? writeFailed(mem, n) : src.length;
  }
  const h = holdOf(cookie, fd);
  const last = src.lastIndexOf(10);
  let out: Uint8Array | null = null;
  if (last < 0) {
    holdAppend(h, src);
    if (h.len >= LINE_HOLD_MAX) {
      out = prefixLines(h.buf.subarray(0, h.len), prefixOf(mem), h.midLine);
      h.len = 0;
      h.midLine = true;
    }
  } else {
    holdAppend(h, src.subarray(0, last + 1));
    out = prefixLines(h.buf.subarray(0, h.len), prefixOf(mem), h.midLine);
    h.len = 0;
    h.midLine = false;
    holdAppend(h, src.subarray(last + 1));
  }
  if (out !== null) {
    const n = emit(mem, r, cookie, fd, out);
    if (n < 0) return writeFailed(mem, n);
  }
  return src.length;
}

/**
 * Write out every partial line this thread holds (the process exits). Errors
 * are dropped: nobody is left to report them to. Entry: no lock held; a host
 * stream's write takes and drops the console's output lock, as consoleWrite.
 */
export function consoleFlush(mem: Memory): void {
  for (const [key, h] of holds) {
    holds.delete(key);
    if (h.len === 0) continue;
    const [cookie, fd] = key.split("/").map(Number) as [number, 1 | 2];
    const r = recOf(mem, cookie);
    if (r >= 0) {
      emit(mem, r, cookie, fd, prefixLines(h.buf.subarray(0, h.len), prefixOf(mem), h.midLine));
    }
  }
}

/** new_encode_dev(major, minor). */
const encodeDev = (major: number, minor: number): number =>
  (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);

/** The console's driver, for `mem`. */
function consoleDriver(mem: Memory): ChrdevOps {
  return {
    name: "console",
    stream: true,
    // An open names its console; /dev/tty-style opens (cookie 0) have none to pick yet.
    get: (_minor, cookie) => (cookie === 0 ? -ENXIO : consoleGet(mem, cookie)),
    put: (_minor, cookie) => consolePut(mem, cookie),
    read: (minor, cookie, dst) => (minor === CONSOLE_IN ? consoleRead(mem, cookie, dst) : -EBADF),
    write: (minor, cookie, src) =>
      minor === CONSOLE_IN ? -EBADF : consoleWrite(mem, cookie, minor as 1 | 2, src),
    getattr: (_minor, cookie) => ({
      perm: 0o620,
      rdev: encodeDev(CONSOLE_MAJOR, cookie & SLOT_MASK),
    }),
  };
}

/**
 * Register the console driver for `mem` in this thread (fs_mount.ts does, at
 * mount and attach). Entry: any lock state; takes no lock (the driver's read
 * and write take the console's locks: see consoleRead, consoleWrite).
 */
export function registerConsole(mem: Memory): void {
  registerChrdev(CONSOLE_MAJOR, consoleDriver(mem));
}
