/**
 * The data path of AF_UNIX sockets (unix_stream_sendmsg/recvmsg,
 * unix_dgram_sendmsg/recvmsg), and the file operations through which
 * read(2) and write(2) reach it (anon_file.ts, kind ANON_SOCKET).
 *
 * A socket's receive queue is a page ring in its record (page_ring.ts,
 * 64 KiB); a sender writes into its peer's (or its destination's) ring:
 * - stream: bytes, as a pipe: a send takes what fits and waits for room
 *   for the rest (MSG_DONTWAIT/O_NONBLOCK: EAGAIN, or what went in); a
 *   receive takes what is there, at most what was asked (MSG_WAITALL:
 *   waits for all of it), and sees EOF once the peer shut down writing or
 *   went and the queue is empty;
 * - datagram: records [length | sender address length | address | text],
 *   each padded to 4 bytes, so message boundaries and the sender's name
 *   survive; a send waits while the receiver holds more than
 *   UNIX_MAX_DGRAM_QLEN datagrams or has no room; a receive takes one
 *   whole datagram, cut to the buffer (MSG_TRUNC tells the real length).
 *
 * Errors as Linux's: writing to a stream whose peer went or shut down
 * reading is EPIPE and raises SIGPIPE unless MSG_NOSIGNAL; a pending
 * error (ECONNRESET when the peer went with data unread) is reported by
 * the next receive that finds the queue empty, and by SO_ERROR.
 *
 * Sleeps are sleep.ts's (interruptible, killable, on the event word of the
 * socket whose state is awaited); a signal ends one with ERESTARTSYS, or
 * EINTR when the socket has a timeout (sock_intr_errno), whose expiry is
 * EAGAIN. A sleeper holds nothing, so a hard kill leaves nothing behind.
 *
 * @module
 */

import {
  EAGAIN,
  ECONNREFUSED,
  EINTR,
  EINVAL,
  EMSGSIZE,
  ENOMEM,
  ENOTCONN,
  EPERM,
  EPIPE,
  ETIMEDOUT,
} from "../abi/errno.ts";
import { O_NONBLOCK } from "../abi/fcntl.ts";
import { SOCK } from "../abi/layout/ipc.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import {
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  SOCK_DGRAM,
  SOCK_STREAM,
  SS_CONNECTED,
  SS_LISTENING,
  SS_UNCONNECTED,
  UNIX_MAX_DGRAM_QLEN,
} from "../abi/socket.ts";
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRBAND,
  POLLWRNORM,
} from "../abi/poll.ts";
import { type Ino, type InodeSlot, PAGE_SIZE } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { ANON_SOCKET, type AnonFileOps, registerAnonOps } from "../fs/anon_file.ts";
import type { OpenFile } from "../fs/file_table.ts";
import { currentTid } from "../sync/mod.ts";
import { ringAddPage, ringCopy, ringMissingPage } from "./page_ring.ts";
import { SIGPIPE } from "./signal.ts";
import { sendSigSelf } from "./signal_send.ts";
import { sleepOnWord } from "./sleep.ts";
import {
  autobindLocked,
  dgramTargetLocked,
  SOCKF_PEER_RD_SHUT,
  SOCKF_PEER_WR_SHUT,
  SOCKF_RD_SHUT,
  SOCKF_WR_SHUT,
  type SockName,
  SOCKO_PASSCRED,
  sockRelease,
  Socks,
} from "./unix_sock.ts";

/** Bytes a receive ring holds (SO_RCVBUF and SO_SNDBUF report it). */
export const SOCK_BUF = 16 * PAGE_SIZE;
const pad4 = (n: number): number => (n + 3) & ~3;

/** How one send or receive may wait: nonblocking, or until a deadline. */
interface Waits {
  nonblock: boolean;
  /** performance.now() to give up at; Infinity without a timeout. */
  deadline: number;
  timed: boolean;
}

function waitsFor(
  k: Int32Array,
  r: number,
  flags: number,
  fileFlags: number,
  recv: boolean,
): Waits {
  const ms = k[r + (recv ? SOCK.rcvtimeo : SOCK.sndtimeo)]!;
  return {
    nonblock: (flags & MSG_DONTWAIT) !== 0 || (fileFlags & O_NONBLOCK) !== 0,
    deadline: ms > 0 ? performance.now() + ms : Infinity,
    timed: ms > 0,
  };
}

/** Sleep on `word` while it holds `seen`: 0, or the errno the call returns. */
function sleep(mem: Memory, w: Waits, word: number, seen: number): number {
  const r = sleepOnWord(mem, currentTid(), word, seen, w.deadline);
  if (r === -ETIMEDOUT) return -EAGAIN;
  if (r === -ERESTARTSYS && w.timed) return -EINTR;
  return r;
}

/** EPIPE, with SIGPIPE unless MSG_NOSIGNAL. */
function epipe(mem: Memory, flags: number): number {
  if ((flags & MSG_NOSIGNAL) === 0) sendSigSelf(mem, currentTid(), SIGPIPE);
  return -EPIPE;
}

/** What a send or receive found under the lock: a result, a page to add, or a wait. */
type Step = number | { page: number; rec: number } | { wait: number; seen: number };

/**
 * send on socket `id` (write(2), send, sendto, sendmsg): `dest` is a
 * datagram's destination (null: the connected peer). `fileFlags` are the
 * open file's (O_NONBLOCK). Entry: no lock held; `src` is a kernel buffer.
 * Takes and drops the SOCK lock per step and sleeps with nothing held.
 *
 * @returns bytes sent, or -errno (EPIPE, ENOTCONN, EDESTADDRREQ,
 *   ECONNREFUSED, EMSGSIZE, EAGAIN, ERESTARTSYS/EINTR, ENOMEM)
 */
export function sockSend(
  mem: Memory,
  id: number,
  src: Uint8Array,
  flags: number,
  fileFlags: number,
  dest: SockName | null = null,
): number {
  const s = new Socks(mem);
  const type = s.locked(() => {
    const r = s.of(id);
    return r < 0 ? -EINVAL : s.k[r + SOCK.type]!;
  });
  if (type < 0) return type;
  return type === SOCK_DGRAM
    ? sendDgram(s, id, src, flags, fileFlags, dest)
    : sendStream(s, id, src, flags, fileFlags);
}

function sendStream(
  s: Socks,
  id: number,
  src: Uint8Array,
  flags: number,
  fileFlags: number,
): number {
  const k = s.k;
  let done = 0;
  let w: Waits | null = null;
  for (;;) {
    const step = s.locked((): Step => {
      const r = s.of(id);
      if (r < 0) return -EINVAL;
      w ??= waitsFor(k, r, flags, fileFlags, false);
      if (k[r + SOCK.state] !== SS_CONNECTED) return -ENOTCONN;
      const p = s.of(k[r + SOCK.peer]!);
      const f = k[r + SOCK.flags]!;
      if (p < 0 || (f & (SOCKF_WR_SHUT | SOCKF_PEER_RD_SHUT)) !== 0) return -EPIPE;
      if (done === src.length) return done;
      const tail = k[p + SOCK.tail]! >>> 0;
      const room = SOCK_BUF - ((tail - k[p + SOCK.head]!) >>> 0);
      if (room === 0) return { wait: p + SOCK.event, seen: k[p + SOCK.event]! };
      const n = Math.min(room, src.length - done);
      const missing = ringMissingPage(s.mem, s.ring(p), tail, n);
      if (missing >= 0) return { page: missing, rec: p };
      ringCopy(s.mem, s.ring(p), tail, src, done, n, true);
      k[p + SOCK.tail] = (tail + n) | 0;
      done += n;
      s.wake(p);
      return done === src.length ? done : { page: -1, rec: p };
    });
    if (typeof step === "number") {
      if (step === -EPIPE) return done > 0 ? done : epipe(s.mem, flags);
      return step < 0 && done > 0 ? done : step;
    }
    if ("page" in step) {
      if (step.page >= 0 && !ringAddPage(s.mem, s.ring(step.rec), step.page)) {
        return done > 0 ? done : -ENOMEM;
      }
      continue;
    }
    if (w!.nonblock) return done > 0 ? done : -EAGAIN;
    const e = sleep(s.mem, w!, step.wait, step.seen);
    if (e < 0) return done > 0 ? done : e;
  }
}

function sendDgram(
  s: Socks,
  id: number,
  src: Uint8Array,
  flags: number,
  fileFlags: number,
  dest: SockName | null,
): number {
  const k = s.k;
  let w: Waits | null = null;
  for (;;) {
    const step = s.locked((): Step => {
      const r = s.of(id);
      if (r < 0) return -EINVAL;
      w ??= waitsFor(k, r, flags, fileFlags, false);
      if ((k[r + SOCK.flags]! & SOCKF_WR_SHUT) !== 0) return -EPIPE;
      let t: number;
      if (dest !== null) {
        t = dgramTargetLocked(s, dest);
        if (t < 0) return t;
      } else {
        if (k[r + SOCK.peer] === 0) return -ENOTCONN;
        t = s.of(k[r + SOCK.peer]!);
        if (t < 0) return -ECONNREFUSED; // the peer went (unix_dgram_disconnected)
      }
      // A socket connected to another accepts datagrams only from it (unix_may_send).
      if (k[t + SOCK.peer] !== 0 && k[t + SOCK.peer] !== id) return -EPERM;
      if ((k[t + SOCK.flags]! & SOCKF_RD_SHUT) !== 0) return -EPIPE;
      // A sender with SO_PASSCRED gets a name (unix_dgram_sendmsg's autobind); others stay unnamed.
      if ((k[r + SOCK.opts]! & SOCKO_PASSCRED) !== 0) autobindLocked(s, r);
      const from = s.addr(r);
      const size = 8 + pad4(from.length) + pad4(src.length);
      if (size > SOCK_BUF) return -EMSGSIZE;
      const tail = k[t + SOCK.tail]! >>> 0;
      const room = SOCK_BUF - ((tail - k[t + SOCK.head]!) >>> 0);
      // The queue-length bound applies unless the receiver is connected back
      // to the sender (unix_dgram_sendmsg: unix_peer(other) != sk).
      const qfull = k[t + SOCK.peer] !== id && k[t + SOCK.qnum]! > UNIX_MAX_DGRAM_QLEN;
      if (qfull || room < size) {
        return { wait: t + SOCK.event, seen: k[t + SOCK.event]! };
      }
      const missing = ringMissingPage(s.mem, s.ring(t), tail, size);
      if (missing >= 0) return { page: missing, rec: t };
      const rec = new Uint8Array(size);
      const dv = new DataView(rec.buffer);
      dv.setInt32(0, src.length, true);
      dv.setInt32(4, from.length, true);
      rec.set(from, 8);
      rec.set(src, 8 + pad4(from.length));
      ringCopy(s.mem, s.ring(t), tail, rec, 0, size, true);
      k[t + SOCK.tail] = (tail + size) | 0;
      k[t + SOCK.qnum]!++;
      s.wake(t);
      return src.length;
    });
    if (typeof step === "number") return step === -EPIPE ? epipe(s.mem, flags) : step;
    if ("page" in step) {
      if (!ringAddPage(s.mem, s.ring(step.rec), step.page)) return -ENOMEM;
      continue;
    }
    if (w!.nonblock) return -EAGAIN;
    const e = sleep(s.mem, w!, step.wait, step.seen);
    if (e < 0) return e;
  }
}

/** What a receive returns: the bytes, and for a datagram its sender and real length. */
export interface Received {
  n: number;
  /** The sender's address (datagrams; empty: unnamed). */
  from: Uint8Array;
  /** What the call returns: n, or with MSG_TRUNC the whole datagram's length. */
  full: number;
  /** Whether a datagram was cut to fit (recvmsg's msg_flags MSG_TRUNC). */
  cut: boolean;
}

/**
 * receive on socket `id` into `dst` (read(2), recv, recvfrom, recvmsg).
 *
 * @returns what was received (n 0 at EOF), or -errno (EAGAIN,
 *   ERESTARTSYS/EINTR, EINVAL for an unconnected stream socket, a pending
 *   error such as ECONNRESET)
 */
export function sockRecv(
  mem: Memory,
  id: number,
  dst: Uint8Array,
  flags: number,
  fileFlags: number,
): Received | number {
  const s = new Socks(mem);
  const k = s.k;
  const none = new Uint8Array(0);
  const waitall = (flags & MSG_WAITALL) !== 0 && (flags & MSG_PEEK) === 0;
  let w: Waits | null = null;
  let got = 0; // stream bytes taken so far (MSG_WAITALL goes on until dst is full)
  for (;;) {
    const step = s.locked((): Received | number | { wait: number; seen: number } => {
      const r = s.of(id);
      if (r < 0) return -EINVAL;
      w ??= waitsFor(k, r, flags, fileFlags, true);
      const dgram = k[r + SOCK.type] === SOCK_DGRAM;
      if (!dgram && k[r + SOCK.state] !== SS_CONNECTED) return -EINVAL;
      if (!dgram && dst.length === 0) return { n: 0, from: none, full: 0, cut: false };
      const head = k[r + SOCK.head]! >>> 0;
      const avail = (k[r + SOCK.tail]! - head) >>> 0;
      if (avail > 0) {
        if (dgram) return takeDgram(s, r, head, dst, flags);
        got += takeStream(s, r, head, avail, dst.subarray(got), flags);
        if (!waitall || got === dst.length) return { n: got, from: none, full: got, cut: false };
      }
      // A pending error comes before end of file (unix_stream_read_generic).
      const err = k[r + SOCK.err]!;
      if (err !== 0 && got === 0) {
        k[r + SOCK.err] = 0;
        return -err;
      }
      const f = k[r + SOCK.flags]!;
      if ((f & (SOCKF_RD_SHUT | (dgram ? 0 : SOCKF_PEER_WR_SHUT))) !== 0) {
        return { n: got, from: none, full: got, cut: false }; // end of file
      }
      return { wait: r + SOCK.event, seen: k[r + SOCK.event]! };
    });
    if (typeof step === "number" || "n" in step) return step;
    if (w!.nonblock) return got > 0 ? { n: got, from: none, full: got, cut: false } : -EAGAIN;
    const e = sleep(mem, w!, step.wait, step.seen);
    if (e < 0) return got > 0 ? { n: got, from: none, full: got, cut: false } : e;
  }
}

/** Take what `dst` holds of a stream's queue: the bytes taken. Lock held. */
function takeStream(
  s: Socks,
  r: number,
  head: number,
  avail: number,
  dst: Uint8Array,
  flags: number,
): number {
  const n = Math.min(avail, dst.length);
  ringCopy(s.mem, s.ring(r), head, dst, 0, n, false);
  if ((flags & MSG_PEEK) === 0) {
    s.k[r + SOCK.head] = (head + n) | 0;
    s.wake(r); // writers waiting for room
  }
  return n;
}

/** Take one datagram (cut to `dst`). Lock held. */
function takeDgram(s: Socks, r: number, head: number, dst: Uint8Array, flags: number): Received {
  const hdr = new Uint8Array(8);
  ringCopy(s.mem, s.ring(r), head, hdr, 0, 8, false);
  const dv = new DataView(hdr.buffer);
  const len = dv.getInt32(0, true), alen = dv.getInt32(4, true);
  const from = new Uint8Array(alen);
  ringCopy(s.mem, s.ring(r), head + 8, from, 0, alen, false);
  const n = Math.min(len, dst.length);
  ringCopy(s.mem, s.ring(r), head + 8 + pad4(alen), dst, 0, n, false);
  if ((flags & MSG_PEEK) === 0) {
    s.k[r + SOCK.head] = (head + 8 + pad4(alen) + pad4(len)) | 0;
    s.k[r + SOCK.qnum]!--;
    s.wake(r);
  }
  return { n, from, full: (flags & MSG_TRUNC) !== 0 ? len : n, cut: n < len };
}

/**
 * poll(2) events of socket `id` (Linux's unix_poll and unix_dgram_poll).
 * In Linux's terms the socket's sk_shutdown has RCV_SHUTDOWN when it shut
 * its reading or its peer its writing, SEND_SHUTDOWN the other way round
 * (a peer that went sets both). Writable means the bytes this socket has
 * queued in its peer take at most a quarter of the buffer (unix_writable's
 * rule), or the peer's datagram queue has room; a listener never is.
 * Takes the sockets' lock.
 *
 * @returns POLL* bits (src/abi/poll.ts); POLLERR|POLLHUP for an id that
 *   names no socket
 */
export function sockPoll(mem: Memory, id: number): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return POLLERR | POLLHUP;
    const k = s.k;
    const f = k[r + SOCK.flags]!;
    const rcvShut = (f & (SOCKF_RD_SHUT | SOCKF_PEER_WR_SHUT)) !== 0;
    const sendShut = (f & (SOCKF_WR_SHUT | SOCKF_PEER_RD_SHUT)) !== 0;
    const stream = k[r + SOCK.type] === SOCK_STREAM;
    const state = k[r + SOCK.state]!;
    let ev = 0;
    if (k[r + SOCK.err] !== 0) ev |= POLLERR;
    if (rcvShut && sendShut) ev |= POLLHUP;
    if (rcvShut) ev |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (k[r + SOCK.tail] !== k[r + SOCK.head] || k[r + SOCK.qlen]! > 0) ev |= POLLIN | POLLRDNORM;
    // A stream socket neither connected nor listening is TCP_CLOSE: hung up.
    if (stream && state === SS_UNCONNECTED) ev |= POLLHUP;
    if (state === SS_LISTENING) return ev;
    const p = s.of(k[r + SOCK.peer]!);
    let writable = true;
    if (p >= 0 && stream) {
      writable = ((k[p + SOCK.tail]! - k[p + SOCK.head]!) >>> 0) * 4 <= SOCK_BUF;
    } else if (p >= 0) {
      // sendDgram's rule: a full queue stops senders the receiver is not connected back to.
      writable = k[p + SOCK.peer] === id || k[p + SOCK.qnum]! <= UNIX_MAX_DGRAM_QLEN;
    }
    if (writable) ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return ev;
  });
}

/**
 * Register this thread's file operations of sockets (ANON_SOCKET): read and
 * write as recv and send with no flags, release as sockRelease (the bound
 * name's inode reference dropped through `iput`), fstat as S_IFSOCK. Call
 * once per thread that mounts or attaches the filesystem. Entry: any lock
 * state; takes no lock (read and write lock as sockRecv and sockSend;
 * release drops the inode reference after the SOCK lock).
 */
export function registerSocketOps(
  mem: Memory,
  iput: (ino: Ino, slot: InodeSlot) => void,
): void {
  const ops: AnonFileOps = {
    read(f: OpenFile, dst: Uint8Array): number {
      const r = sockRecv(mem, f.islot, dst, 0, f.flags);
      return typeof r === "number" ? r : r.n;
    },
    write(f: OpenFile, src: Uint8Array): number {
      return sockSend(mem, f.islot, src, 0, f.flags);
    },
    release(id: number): void {
      const name = sockRelease(mem, id);
      if (name !== null) iput(name.ino, name.slot);
    },
    stat: (id: number) => ({ mode: 0o140777, ino: id }),
    poll: (f: OpenFile) => sockPoll(mem, f.islot),
  };
  registerAnonOps(ANON_SOCKET, ops);
}
