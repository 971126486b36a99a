/**
 * AF_UNIX sockets (Linux's net/unix/af_unix.c, reduced), SOCK_STREAM and
 * SOCK_DGRAM: the socket records and everything but the data path
 * (unix_io.ts): create, socketpair, bind, listen, connect, accept,
 * shutdown, release, names and options.
 *
 * A socket is a SOCK record in the `ipc` region (layout/ipc.ts), named by
 * an id (generation << SOCK_SLOT_BITS | slot) so that a stale id never
 * finds a reused record, and an anon open file (anon_file.ts, kind
 * ANON_SOCKET, islot = the id) that fds name; the record lives until that
 * open file's last reference goes (sockRelease).
 *
 * Names: a path name is a socket node in the filesystem (bind made it with
 * mknod S_IFSOCK, and the socket holds a reference on that inode, so the
 * inode number identifies the name until the socket goes: an unlinked name
 * can no longer be found, as on Linux); connect and sendto look the path up
 * and find the socket whose nameIno it is. An abstract name (sun_path[0]
 * is 0) lives only in the records. Autobind (bind with only the family, or
 * an unbound datagram sender) takes an abstract name of five hex digits.
 *
 * Connections (unix_stream_connect): connect to a listening socket makes
 * the server's end at once, connected to the client, and queues it on the
 * listener (an "embryo", SOCKF_EMBRYO) until accept takes it; the client
 * is connected, and may send, from then on. A full accept queue makes
 * connect sleep (or EAGAIN). A listener that goes resets its embryos'
 * clients (ECONNRESET).
 *
 * Locking: one lock, SOCKHDR.lock (LockClass.SOCK, a leaf), around every
 * record; taken in no-kill regions, never held while sleeping, resolving a
 * path or dropping an inode reference. Sleepers wait on the event word of
 * the socket whose state they need (a reader and an acceptor on their
 * own, a writer and a connecting client on the peer's or listener's).
 *
 * @module
 */

import {
  EADDRINUSE,
  ECONNREFUSED,
  ECONNRESET,
  EINVAL,
  EISCONN,
  ENFILE,
  ENOMEM,
  ENOTCONN,
  EOPNOTSUPP,
  EPROTOTYPE,
} from "../abi/errno.ts";
import { ICACHE_SLOTS } from "../abi/layout/mod.ts";
import {
  ipcParts,
  SOCK,
  SOCK_ADDR_MAX,
  SOCK_MAX,
  SOCK_RING_PAGES,
  SOCK_SLOT_BITS,
  SOCK_WORDS,
  SOCKHDR,
  SOCKHDR_WORDS,
} from "../abi/layout/ipc.ts";
import { KernelPanic } from "../abi/panic.ts";
import {
  AF_UNIX,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOMAXCONN,
  SS_CONNECTED,
  SS_LISTENING,
  SS_UNCONNECTED,
  SUN_PATH_OFFSET,
} from "../abi/socket.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "../sync/mod.ts";
import { type PageRing, ringFree } from "./page_ring.ts";
import { asIno, asInodeSlot, type Ino, type InodeSlot } from "../abi/types.ts";

/** SOCK.flags bits. */
export const SOCKF_RD_SHUT = 1;
export const SOCKF_WR_SHUT = 2;
/** The peer shut down writing (or went): reads see EOF once the queue is empty. */
export const SOCKF_PEER_WR_SHUT = 4;
/** The peer shut down reading (or went): writes fail with EPIPE. */
export const SOCKF_PEER_RD_SHUT = 8;
/** The stream peer's socket was released. */
export const SOCKF_PEER_GONE = 16;
/** A connection waiting in a listener's accept queue. */
export const SOCKF_EMBRYO = 32;

/** SOCK.opts bits (setsockopt flags that change nothing else). */
export const SOCKO_REUSEADDR = 1;
export const SOCKO_KEEPALIVE = 2;
export const SOCKO_PASSCRED = 4;

const SLOT_MASK = (1 << SOCK_SLOT_BITS) - 1;
if (SOCK_MAX > SLOT_MASK + 1) throw new KernelPanic("unix_sock", "socket slots do not fit the id");

/** A socket name as bind, connect and sendto resolve it. */
export type SockName =
  | { kind: "path"; ino: Ino; slot: InodeSlot; addr: Uint8Array }
  | { kind: "abstract"; addr: Uint8Array }
  | { kind: "autobind" };

/** The sockets of one machine: record access and the lock. */
export class Socks {
  readonly k: Int32Array;
  readonly hdr: number;
  readonly u8: Uint8Array;

  constructor(readonly mem: Memory) {
    this.k = mem.k32;
    this.hdr = mem.layout.ipc.base + ipcParts(mem.layout.config, ICACHE_SLOTS).sock;
    this.u8 = new Uint8Array(mem.k32.buffer);
  }

  rec(slot: number): number {
    return this.hdr + SOCKHDR_WORDS + slot * SOCK_WORDS;
  }

  /** The record of socket `id`, or -1 when the id names no live socket. */
  of(id: number): number {
    const slot = id & SLOT_MASK;
    if (id <= 0 || slot >= SOCK_MAX) return -1;
    const r = this.rec(slot);
    return Atomics.load(this.k, r + SOCK.id) === id ? r : -1;
  }

  /** Run `fn` under the sockets' lock, as one no-kill region. Entry: no SOCK lock held. */
  locked<T>(fn: () => T): T {
    return withNoKill(() => {
      mutexLock(this.k, this.hdr + SOCKHDR.lock, LockClass.SOCK);
      try {
        return fn();
      } finally {
        mutexUnlock(this.k, this.hdr + SOCKHDR.lock);
      }
    });
  }

  /** Bump `r`'s event word and wake its sleepers. */
  wake(r: number): void {
    Atomics.add(this.k, r + SOCK.event, 1);
    Atomics.notify(this.k, r + SOCK.event);
    // Pollers sleep on one word for every file they watch (sys_poll.ts).
    Atomics.add(this.k, this.hdr + SOCKHDR.pollEvent, 1);
    Atomics.notify(this.k, this.hdr + SOCKHDR.pollEvent);
  }

  ring(r: number): PageRing {
    return { r, pages: SOCK.pages, n: SOCK_RING_PAGES };
  }

  /** The bound address bytes of `r` (empty when unbound). Lock held. */
  addr(r: number): Uint8Array {
    const at = (r + SOCK.addr) * 4;
    return this.u8.slice(at, at + this.k[r + SOCK.addrLen]!);
  }
  setAddr(r: number, a: Uint8Array): void {
    this.u8.set(a, (r + SOCK.addr) * 4);
    this.k[r + SOCK.addrLen] = a.length;
  }

  /**
   * Claim a record for a new socket of `type`, owned by process `pid`.
   * Lock held.
   *
   * @returns its record, or -ENFILE when every record is taken
   */
  claim(type: number, pid: number): number {
    for (let slot = 0; slot < SOCK_MAX; slot++) {
      const r = this.rec(slot);
      if (this.k[r + SOCK.id] !== 0) continue;
      this.k.fill(0, r + 1, r + SOCK_WORDS);
      const gen = (this.k[this.hdr + SOCKHDR.lastId]! + 1) & 0x3f_ffff;
      this.k[this.hdr + SOCKHDR.lastId] = gen;
      this.k[r + SOCK.type] = type;
      this.k[r + SOCK.state] = SS_UNCONNECTED;
      this.k[r + SOCK.ownerPid] = pid;
      Atomics.store(this.k, r + SOCK.id, ((gen || 1) << SOCK_SLOT_BITS) | slot);
      this.k[this.hdr + SOCKHDR.nrSocks]!++;
      return r;
    }
    return -ENFILE;
  }

  idOf(r: number): number {
    return this.k[r + SOCK.id]!;
  }
}

/**
 * socket(AF_UNIX, type, 0) for process `pid`.
 *
 * @returns the new socket's id, or -ENFILE
 */
export function sockCreate(mem: Memory, type: number, pid: number): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.claim(type, pid);
    return r < 0 ? r : s.idOf(r);
  });
}

/**
 * socketpair(AF_UNIX, type, 0): two sockets connected to each other.
 *
 * @returns their ids, or -ENFILE
 */
export function sockPair(mem: Memory, type: number, pid: number): [number, number] | number {
  const s = new Socks(mem);
  return s.locked(() => {
    const a = s.claim(type, pid);
    if (a < 0) return a;
    const b = s.claim(type, pid);
    if (b < 0) {
      releaseLocked(s, a);
      return b;
    }
    for (const [x, y] of [[a, b], [b, a]] as const) {
      s.k[x + SOCK.peer] = s.idOf(y);
      s.k[x + SOCK.peerPid] = pid;
      if (type === SOCK_STREAM) s.k[x + SOCK.state] = SS_CONNECTED;
    }
    return [s.idOf(a), s.idOf(b)];
  });
}

/**
 * The socket named by `name` (a path node's inode or an abstract
 * address), or -1. Lock held.
 */
function findByName(s: Socks, name: SockName): number {
  for (let slot = 0; slot < SOCK_MAX; slot++) {
    const r = s.rec(slot);
    if (s.k[r + SOCK.id] === 0 || s.k[r + SOCK.addrLen] === 0) continue;
    if (s.k[r + SOCK.flags]! & SOCKF_EMBRYO) continue; // shares its listener's address
    if (name.kind === "path") {
      if (s.k[r + SOCK.nameIno] === name.ino && name.ino !== 0) return r;
    } else if (name.kind === "abstract" && s.k[r + SOCK.nameIno] === 0) {
      const a = s.addr(r);
      if (a.length === name.addr.length && a.every((b, i) => b === name.addr[i])) return r;
    }
  }
  return -1;
}

/** A fresh autobind name: the family, a NUL, then five hex digits. Lock held. */
function autobindName(s: Socks): Uint8Array {
  for (;;) {
    const n = (Atomics.add(s.k, s.hdr + SOCKHDR.autobind, 1) + 1) & 0xfffff;
    const a = new Uint8Array(SUN_PATH_OFFSET + 1 + 5);
    a[0] = AF_UNIX;
    new TextEncoder().encodeInto(n.toString(16).padStart(5, "0"), a.subarray(SUN_PATH_OFFSET + 1));
    if (findByName(s, { kind: "abstract", addr: a }) < 0) return a;
  }
}

/** Bind `r` to an autobind name if it has none. Lock held. */
export function autobindLocked(s: Socks, r: number): void {
  if (s.k[r + SOCK.addrLen] === 0) s.setAddr(r, autobindName(s));
}

/**
 * bind(2) socket `id` to `name`. For a path the caller made the node and
 * holds a reference to it, which the socket keeps on success.
 *
 * @returns 0, or -EINVAL (already bound; the path reference is then the
 *   caller's to drop), -EADDRINUSE (an abstract name in use), -EBADF
 */
export function sockBind(mem: Memory, id: number, name: SockName): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    if (s.k[r + SOCK.addrLen] !== 0) return -EINVAL;
    if (name.kind === "autobind") {
      s.setAddr(r, autobindName(s));
      return 0;
    }
    if (name.kind === "abstract" && findByName(s, name) >= 0) return -EADDRINUSE;
    if (name.addr.length > SOCK_ADDR_MAX) return -EINVAL;
    s.setAddr(r, name.addr);
    if (name.kind === "path") {
      s.k[r + SOCK.nameIno] = name.ino;
      s.k[r + SOCK.nameSlot] = name.slot;
    }
    return 0;
  });
}

/**
 * listen(2).
 *
 * @returns 0, or -EOPNOTSUPP (a datagram socket), -EINVAL (not bound, or
 *   connected)
 */
export function sockListen(mem: Memory, id: number, backlog: number): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    if (s.k[r + SOCK.type] !== SOCK_STREAM) return -EOPNOTSUPP;
    if (s.k[r + SOCK.addrLen] === 0 || s.k[r + SOCK.state] === SS_CONNECTED) return -EINVAL;
    s.k[r + SOCK.backlog] = backlog >>> 0 > SOMAXCONN ? SOMAXCONN : backlog;
    s.k[r + SOCK.state] = SS_LISTENING;
    s.wake(r); // connectors waiting for room see the new backlog
    return 0;
  });
}

/** What a connect attempt found: done, an error, or a full queue to wait on. */
export type ConnectStep = number | { wait: number; seen: number };

/**
 * One attempt of connect(2) on stream socket `id` to the socket named
 * `name` (unix_stream_connect): make the server's end, queue it on the
 * listener, connect the client to it. A full accept queue gives
 * `{ wait, seen }`: the listener's event word and its value, to sleep on.
 *
 * @returns 0, or -EISCONN, -EINVAL (listening), -ECONNREFUSED (nothing
 *   listens on the name), -EPROTOTYPE (not a stream socket), -ENOMEM (no
 *   record for the server's end), or the wait
 */
export function sockConnectStream(
  mem: Memory,
  id: number,
  name: SockName,
  pid: number,
): ConnectStep {
  const s = new Socks(mem);
  return s.locked((): ConnectStep => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    const st = s.k[r + SOCK.state]!;
    if (st === SS_CONNECTED) return -EISCONN;
    if (st === SS_LISTENING) return -EINVAL;
    const l = findByName(s, name);
    if (l < 0) return -ECONNREFUSED;
    if (s.k[l + SOCK.type] !== SOCK_STREAM) return -EPROTOTYPE;
    if (s.k[l + SOCK.state] !== SS_LISTENING) return -ECONNREFUSED;
    if (s.k[l + SOCK.qlen]! >= Math.max(1, s.k[l + SOCK.backlog]!)) {
      return { wait: l + SOCK.event, seen: s.k[l + SOCK.event]! };
    }
    const e = s.claim(SOCK_STREAM, s.k[l + SOCK.ownerPid]!);
    if (e < 0) return -ENOMEM;
    // The server's end: connected to the client, named as the listener.
    s.k[e + SOCK.state] = SS_CONNECTED;
    s.k[e + SOCK.peer] = s.idOf(r);
    s.k[e + SOCK.peerPid] = pid;
    s.k[e + SOCK.flags] = SOCKF_EMBRYO;
    s.setAddr(e, s.addr(l));
    const eid = s.idOf(e);
    const tail = s.of(s.k[l + SOCK.qtail]!);
    if (tail < 0) s.k[l + SOCK.qhead] = eid;
    else s.k[tail + SOCK.next] = eid;
    s.k[l + SOCK.qtail] = eid;
    s.k[l + SOCK.qlen]!++;
    s.k[r + SOCK.state] = SS_CONNECTED;
    s.k[r + SOCK.peer] = eid;
    s.k[r + SOCK.peerPid] = s.k[l + SOCK.ownerPid]!;
    s.wake(l);
    return 0;
  });
}

/**
 * connect(2) on datagram socket `id` (unix_dgram_connect): set its default
 * destination, or with null (AF_UNSPEC) clear it.
 *
 * @returns 0, or -ECONNREFUSED (nothing bound to the name), -EPROTOTYPE
 */
export function sockConnectDgram(mem: Memory, id: number, name: SockName | null): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    if (name === null) {
      s.k[r + SOCK.peer] = 0;
      return 0;
    }
    const t = findByName(s, name);
    if (t < 0) return -ECONNREFUSED;
    if (s.k[t + SOCK.type] !== SOCK_DGRAM) return -EPROTOTYPE;
    if ((s.k[r + SOCK.opts]! & SOCKO_PASSCRED) !== 0) autobindLocked(s, r);
    s.k[r + SOCK.peer] = s.idOf(t);
    s.k[r + SOCK.peerPid] = s.k[t + SOCK.ownerPid]!;
    return 0;
  });
}

/**
 * The datagram socket named `name`, for sendto. Lock held by the caller
 * of unix_io.ts; exported for it.
 *
 * @returns its record, or -ECONNREFUSED, -EPROTOTYPE
 */
export function dgramTargetLocked(s: Socks, name: SockName): number {
  const t = findByName(s, name);
  if (t < 0) return -ECONNREFUSED;
  return s.k[t + SOCK.type] === SOCK_DGRAM ? t : -EPROTOTYPE;
}

/**
 * One attempt of accept(2) on listening socket `id`: take the first
 * waiting connection.
 *
 * @returns its socket id, or -EINVAL (not listening), or `{ wait, seen }`
 *   (the queue is empty)
 */
export function sockAccept(mem: Memory, id: number): ConnectStep {
  const s = new Socks(mem);
  return s.locked((): ConnectStep => {
    const r = s.of(id);
    if (r < 0 || s.k[r + SOCK.state] !== SS_LISTENING) return -EINVAL;
    const e = s.of(s.k[r + SOCK.qhead]!);
    if (e < 0) return { wait: r + SOCK.event, seen: s.k[r + SOCK.event]! };
    s.k[r + SOCK.qhead] = s.k[e + SOCK.next]!;
    if (s.k[r + SOCK.qhead] === 0) s.k[r + SOCK.qtail] = 0;
    s.k[r + SOCK.qlen]!--;
    s.k[e + SOCK.next] = 0;
    s.k[e + SOCK.flags]! &= ~SOCKF_EMBRYO;
    s.wake(r); // a connector waiting for room
    return s.idOf(e);
  });
}

/**
 * shutdown(2) (unix_shutdown): stop reading and/or writing; a stream peer
 * sees EOF (SHUT_WR) or EPIPE on its writes (SHUT_RD).
 *
 * @returns 0, or -EINVAL (bad `how`)
 */
export function sockShutdown(mem: Memory, id: number, how: number): number {
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    const rd = how !== SHUT_WR, wr = how !== SHUT_RD;
    s.k[r + SOCK.flags]! |= (rd ? SOCKF_RD_SHUT : 0) | (wr ? SOCKF_WR_SHUT : 0);
    const p = s.of(s.k[r + SOCK.peer]!);
    if (p >= 0 && s.k[r + SOCK.type] === SOCK_STREAM) {
      s.k[p + SOCK.flags]! |= (rd ? SOCKF_PEER_RD_SHUT : 0) | (wr ? SOCKF_PEER_WR_SHUT : 0);
      s.wake(p);
    }
    s.wake(r);
    return 0;
  });
}

/**
 * The last reference to socket `id`'s open file went (unix_release_sock):
 * its peer is told (EOF, EPIPE; ECONNRESET when data was left unread), its
 * waiting connections are reset, its queue's pages freed, its record
 * freed. Any thread.
 *
 * @returns the path inode (number, slot) the socket held a reference on,
 *   for the caller to drop after the lock; null when none
 */
export function sockRelease(mem: Memory, id: number): { ino: Ino; slot: InodeSlot } | null {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) throw new KernelPanic("sockRelease", `socket ${id} does not exist`);
    const name = s.k[r + SOCK.nameIno] === 0
      ? null
      : { ino: asIno(s.k[r + SOCK.nameIno]!), slot: asInodeSlot(s.k[r + SOCK.nameSlot]!) };
    releaseLocked(s, r);
    return name;
  });
}

/** sockRelease's work, also for embryos a released listener leaves. Lock held. */
function releaseLocked(s: Socks, r: number): void {
  const k = s.k;
  if (k[r + SOCK.state] === SS_LISTENING) {
    for (let e = s.of(k[r + SOCK.qhead]!); e >= 0;) {
      const next = s.of(k[e + SOCK.next]!);
      releaseLocked(s, e);
      e = next;
    }
  }
  const p = s.of(k[r + SOCK.peer]!);
  if (p >= 0 && k[r + SOCK.type] === SOCK_STREAM) {
    k[p + SOCK.flags]! |= SOCKF_PEER_GONE | SOCKF_PEER_WR_SHUT | SOCKF_PEER_RD_SHUT;
    const unread = k[r + SOCK.tail] !== k[r + SOCK.head];
    if (unread || (k[r + SOCK.flags]! & SOCKF_EMBRYO) !== 0) k[p + SOCK.err] = ECONNRESET;
    s.wake(p);
  }
  ringFree(s.mem, s.ring(r));
  s.wake(r);
  Atomics.store(k, r + SOCK.id, 0);
  k[s.hdr + SOCKHDR.nrSocks]!--;
}

/** getsockname(2): the bound address, or just the family when unbound. */
export function sockName(mem: Memory, id: number): Uint8Array | number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    const a = s.addr(r);
    return a.length > 0 ? a : Uint8Array.of(AF_UNIX, 0);
  });
}

/**
 * getpeername(2): the peer's address (just the family when it is
 * unbound).
 *
 * @returns the bytes, or -ENOTCONN
 */
export function sockPeerName(mem: Memory, id: number): Uint8Array | number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return -EINVAL;
    const p = s.of(s.k[r + SOCK.peer]!);
    if (p < 0) return -ENOTCONN;
    const a = s.addr(p);
    return a.length > 0 ? a : Uint8Array.of(AF_UNIX, 0);
  });
}

/** A word of socket `id`'s record, read under the lock (-1 when it is gone). */
export function sockWord(mem: Memory, id: number, f: keyof typeof SOCK): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    return r < 0 ? -1 : s.k[r + SOCK[f]]!;
  });
}

/** Set a word of socket `id`'s record (an option). */
export function sockSetWord(mem: Memory, id: number, f: keyof typeof SOCK, v: number): void {
  const s = new Socks(mem);
  s.locked(() => {
    const r = s.of(id);
    if (r >= 0) s.k[r + SOCK[f]] = v;
  });
}

/** SO_ERROR: the pending error, cleared by the read (sock_error). */
export function sockTakeError(mem: Memory, id: number): number {
  const s = new Socks(mem);
  return s.locked(() => {
    const r = s.of(id);
    if (r < 0) return 0;
    const e = s.k[r + SOCK.err]!;
    s.k[r + SOCK.err] = 0;
    return e;
  });
}

/** Sockets alive right now (tests). */
export const socksInUse = (mem: Memory): number => {
  const s = new Socks(mem);
  return Atomics.load(s.k, s.hdr + SOCKHDR.nrSocks);
};

/** The receive-ring pages of every live socket, frame -> sockets (checkInvariants). */
export function sockRingPages(mem: Memory): Map<number, number[]> {
  const s = new Socks(mem);
  const out = new Map<number, number[]>();
  for (let slot = 0; slot < SOCK_MAX; slot++) {
    const r = s.rec(slot);
    if (Atomics.load(s.k, r + SOCK.id) === 0) continue;
    for (let i = 0; i < SOCK_RING_PAGES; i++) {
      const w = Atomics.load(s.k, r + SOCK.pages + i);
      if (w === 0) continue;
      const list = out.get(w - 1) ?? [];
      list.push(slot);
      out.set(w - 1, list);
    }
  }
  return out;
}
