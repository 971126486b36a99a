/**
 * Pipes (Linux's fs/pipe.c, reduced): a ring of up to PIPE_PAGES RAM
 * pages in shared memory, so that the two ends may be used from any
 * Worker. The record layout is in src/abi/layout/pipe.ts; the open files
 * of the two ends reach the ring through the pipe driver (pipe_fs.ts).
 *
 * Semantics, as pipe(7):
 * - read takes what is buffered, at most what was asked, and never waits
 *   for more; an empty pipe blocks, or returns 0 once no writer is left,
 *   or -EAGAIN with O_NONBLOCK;
 * - a write of at most PIPE_BUF bytes is atomic: it waits until it fits
 *   whole, and no other write's bytes come between its own; a larger
 *   write goes in as room appears and may be interleaved; a blocking
 *   write returns only when everything went in (or a signal stops it,
 *   returning what went in, or -ERESTARTSYS if nothing did); with O_NONBLOCK, a
 *   small write that does not fit is -EAGAIN and a large one writes what
 *   fits (-EAGAIN if nothing does);
 * - writing with no reader left raises SIGPIPE on the writer and fails
 *   with -EPIPE (or returns what went in before the last reader left).
 *
 * Sleeping: a reader or writer that must wait notes the pipe's event word
 * under the lock, drops the lock and sleeps on the word (sleep.ts), so it
 * stays killable and interruptible; every change bumps the word.
 *
 * Pages (page_ring.ts, shared with sockets): a write that needs a page
 * the ring does not have yet drops the lock, allocates one (which may
 * reclaim the page cache), and retakes the lock; the pages stay until the
 * pipe is freed.
 *
 * @module
 */

import { EAGAIN, ENFILE, ENOMEM, ENXIO, EPIPE } from "../abi/errno.ts";
import {
  PIPE,
  PIPE_BUF,
  PIPE_CAPACITY,
  PIPE_PAGES,
  pipeBase,
  PIPES_HDR,
  PIPES_MAX,
} from "../abi/layout/pipe.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { TaskSlot } from "../abi/types.ts";
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from "../abi/poll.ts";
import type { Memory } from "../hw/memory.ts";
import { type PageRing, ringAddPage, ringCopy, ringFree, ringMissingPage } from "./page_ring.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "../sync/mod.ts";
import { SIGPIPE } from "./signal.ts";
import { sendSigSelf } from "./signal_send.ts";
import { sleepOnWord } from "./sleep.ts";
import { pollWake } from "./sys_poll.ts";

/** Which end of a pipe an open file is. */
export type PipeEnd = "read" | "write";

/** Cookie bits that hold the record slot; the rest is a generation. */
const SLOT_BITS = 9;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
if (PIPES_MAX > SLOT_MASK + 1) throw new KernelPanic("pipe", "pipe slots do not fit the id");

/** Word index of the record of pipe `id`, or -1 when it names no live pipe. */
function recOf(mem: Memory, id: number): number {
  const slot = id & SLOT_MASK;
  if (id <= 0 || slot >= PIPES_MAX) return -1;
  const r = pipeBase(mem.layout.pipes.base, slot);
  return Atomics.load(mem.k32, r + PIPE.id) === id ? r : -1;
}

/** The ring of the pipe record at `r`. */
const ringOf = (r: number): PageRing => ({ r, pages: PIPE.pages, n: PIPE_PAGES });

const lock = (mem: Memory, r: number): void => mutexLock(mem.k32, r + PIPE.lock, LockClass.PIPE);
const unlock = (mem: Memory, r: number): void => mutexUnlock(mem.k32, r + PIPE.lock);

/** Bump the event word and wake every sleeper, and every poller (readiness may have changed). */
function wake(mem: Memory, r: number): void {
  Atomics.add(mem.k32, r + PIPE.event, 1);
  Atomics.notify(mem.k32, r + PIPE.event);
  pollWake(mem);
}

/**
 * Make a pipe with no ends open yet (pipeGet opens them). Any thread.
 *
 * @returns its id, or -ENFILE when every record is taken
 */
export function pipeAlloc(mem: Memory): number {
  const k32 = mem.k32;
  const base = mem.layout.pipes.base;
  for (let slot = 0; slot < PIPES_MAX; slot++) {
    const r = pipeBase(base, slot);
    if (Atomics.compareExchange(k32, r + PIPE.id, 0, -1) !== 0) continue;
    const gen = (Atomics.add(k32, base + PIPES_HDR.lastId, 1) + 1) & 0x3f_ffff;
    const id = ((gen || 1) << SLOT_BITS) | slot;
    for (const f of [PIPE.readers, PIPE.writers, PIPE.head, PIPE.tail, PIPE.lock]) {
      Atomics.store(k32, r + f, 0);
    }
    Atomics.store(k32, r + PIPE.lock + 1, 0);
    for (let i = 0; i < PIPE_PAGES; i++) Atomics.store(k32, r + PIPE.pages + i, 0);
    Atomics.store(k32, r + PIPE.id, id); // publishes the fields above
    return id;
  }
  return -ENFILE;
}

/**
 * Open one end of pipe `id`: one more reader or writer.
 *
 * @returns `id`, or -ENXIO when the pipe is gone
 */
export function pipeGet(mem: Memory, id: number, end: PipeEnd): number {
  const r = recOf(mem, id);
  if (r < 0) return -ENXIO;
  Atomics.add(mem.k32, r + (end === "read" ? PIPE.readers : PIPE.writers), 1);
  return id;
}

/**
 * Close one end of pipe `id` (the last reference of an open file of that
 * end went). Readers waiting on the last writer see EOF; writers waiting
 * on the last reader see EPIPE. When both ends are closed, the pipe and
 * its pages are freed. Any thread (the Machine closes a dead process's
 * files). Entry: no PIPE lock held.
 *
 * @throws KernelPanic when the pipe does not exist or the end was not open
 */
export function pipePut(mem: Memory, id: number, end: PipeEnd): void {
  const r = recOf(mem, id);
  if (r < 0) throw new KernelPanic("pipePut", `pipe ${id} does not exist`);
  const k32 = mem.k32;
  withNoKill(() => {
    lock(mem, r);
    const w = r + (end === "read" ? PIPE.readers : PIPE.writers);
    const left = Atomics.sub(k32, w, 1) - 1;
    if (left < 0) {
      Atomics.add(k32, w, 1);
      unlock(mem, r);
      throw new KernelPanic("pipePut", `pipe ${id}: no ${end} end open`);
    }
    const gone = Atomics.load(k32, r + PIPE.readers) === 0 &&
      Atomics.load(k32, r + PIPE.writers) === 0;
    if (gone) ringFree(mem, ringOf(r));
    unlock(mem, r);
    wake(mem, r);
    if (gone) Atomics.store(k32, r + PIPE.id, 0);
  });
}

/**
 * poll(2)'s events of `end` of pipe `id` (Linux's pipe_poll): the read end
 * is readable with bytes buffered and hung up with no writer left; the
 * write end is writable with room for PIPE_BUF bytes (one of Linux's
 * page slots) and in error with no reader left. No lock: a snapshot.
 *
 * @returns the events, or POLLERR when the pipe is gone
 */
export function pipePoll(mem: Memory, id: number, end: PipeEnd): number {
  const r = recOf(mem, id);
  if (r < 0) return POLLERR;
  const k32 = mem.k32;
  const buffered = (Atomics.load(k32, r + PIPE.tail) - Atomics.load(k32, r + PIPE.head)) >>> 0;
  if (end === "read") {
    return (buffered > 0 ? POLLIN | POLLRDNORM : 0) |
      (Atomics.load(k32, r + PIPE.writers) === 0 ? POLLHUP : 0);
  }
  return (PIPE_CAPACITY - buffered >= PIPE_BUF ? POLLOUT | POLLWRNORM : 0) |
    (Atomics.load(k32, r + PIPE.readers) === 0 ? POLLERR : 0);
}

/** Bytes buffered in pipe `id` (FIONREAD), or -ENXIO. */
export function pipeBuffered(mem: Memory, id: number): number {
  const r = recOf(mem, id);
  if (r < 0) return -ENXIO;
  return (Atomics.load(mem.k32, r + PIPE.tail) - Atomics.load(mem.k32, r + PIPE.head)) >>> 0;
}

/**
 * read(2) on the read end of pipe `id` into `dst`, as the process in slot
 * `slot` (the calling thread's). Entry: no lock held.
 *
 * @returns bytes read (0: no writer left and nothing buffered), -EAGAIN
 *   (nonblock and empty), -ERESTARTSYS (a signal, or a kill, while
 *   waiting), -ENXIO
 */
export function pipeRead(
  mem: Memory,
  slot: TaskSlot,
  id: number,
  dst: Uint8Array,
  nonblock: boolean,
): number {
  const r = recOf(mem, id);
  if (r < 0) return -ENXIO;
  if (dst.length === 0) return 0;
  const k32 = mem.k32;
  for (;;) {
    lock(mem, r);
    const head = Atomics.load(k32, r + PIPE.head);
    const avail = (Atomics.load(k32, r + PIPE.tail) - head) >>> 0;
    if (avail > 0) {
      const n = Math.min(avail, dst.length);
      ringCopy(mem, ringOf(r), head >>> 0, dst, 0, n, false);
      Atomics.store(k32, r + PIPE.head, (head + n) | 0);
      unlock(mem, r);
      wake(mem, r);
      return n;
    }
    const seen = Atomics.load(k32, r + PIPE.event);
    const writers = Atomics.load(k32, r + PIPE.writers);
    unlock(mem, r);
    if (writers === 0) return 0;
    if (nonblock) return -EAGAIN;
    const s = sleepOnWord(mem, slot, r + PIPE.event, seen);
    if (s < 0) return s;
  }
}

/**
 * write(2) on the write end of pipe `id` from `src`, as the process in
 * slot `slot`. Entry: no lock held.
 *
 * @returns bytes written, or -EPIPE (no reader; SIGPIPE is raised too),
 *   -EAGAIN (nonblock and no room), -ERESTARTSYS (a signal before anything
 *   was written), -ENOMEM (no frame for a ring page), -ENXIO
 */
export function pipeWrite(
  mem: Memory,
  slot: TaskSlot,
  id: number,
  src: Uint8Array,
  nonblock: boolean,
): number {
  const r = recOf(mem, id);
  if (r < 0) return -ENXIO;
  if (src.length === 0) return 0; // as pipe_write, even with no reader
  const k32 = mem.k32;
  const atomic = src.length <= PIPE_BUF;
  let done = 0;
  for (;;) {
    lock(mem, r);
    if (Atomics.load(k32, r + PIPE.readers) === 0) {
      unlock(mem, r);
      sendSigSelf(mem, slot, SIGPIPE);
      return done > 0 ? done : -EPIPE;
    }
    const tail = Atomics.load(k32, r + PIPE.tail) >>> 0;
    const room = PIPE_CAPACITY - ((tail - Atomics.load(k32, r + PIPE.head)) >>> 0);
    const left = src.length - done;
    if (atomic ? room >= left : room > 0) {
      const n = Math.min(room, left);
      const missing = ringMissingPage(mem, ringOf(r), tail, n);
      if (missing >= 0) {
        unlock(mem, r);
        if (!ringAddPage(mem, ringOf(r), missing)) return done > 0 ? done : -ENOMEM;
        continue;
      }
      ringCopy(mem, ringOf(r), tail, src, done, n, true);
      Atomics.store(k32, r + PIPE.tail, (tail + n) | 0);
      unlock(mem, r);
      wake(mem, r);
      done += n;
      // All written: done, even if the reader leaves now (pipe_write
      // raises SIGPIPE only when a reader is gone before a copy).
      if (done === src.length) return done;
      continue;
    }
    const seen = Atomics.load(k32, r + PIPE.event);
    unlock(mem, r);
    if (nonblock) return done > 0 ? done : -EAGAIN;
    const s = sleepOnWord(mem, slot, r + PIPE.event, seen);
    if (s < 0) return done > 0 ? done : s;
  }
}
