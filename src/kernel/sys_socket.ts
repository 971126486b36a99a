/**
 * Socket system calls, AF_UNIX only, with Linux riscv32's numbers (each
 * its own; riscv has no socketcall(2)): socket 198, socketpair 199, bind
 * 200, listen 201, accept 202, connect 203, getsockname 204, getpeername
 * 205, sendto 206, recvfrom 207, setsockopt 208, getsockopt 209, shutdown
 * 210, sendmsg 211, recvmsg 212, accept4 242. This file decodes registers,
 * sockaddr_un and msghdr, and resolves names through the VFS; the sockets
 * are unix_sock.ts and unix_io.ts. read(2) and write(2) on a socket reach
 * unix_io.ts through its anon file operations.
 *
 * Names (unix_mkname): an address of only the family asks bind to
 * autobind; sun_path starting with a NUL byte is an abstract name (the
 * whole length counts); otherwise sun_path is a path up to its first NUL,
 * and bind makes a socket node there (EADDRINUSE if the name exists).
 *
 * The calls that sleep (accept, connect, the sends and receives) are
 * killable: they hold no reference a kill could strand outside a no-kill
 * region except the fd's, which withFile records.
 *
 * @module
 */

import {
  EADDRINUSE,
  EAFNOSUPPORT,
  EAGAIN,
  EEXIST,
  EFAULT,
  EINVAL,
  EMSGSIZE,
  ENOPROTOOPT,
  ENOTSOCK,
  EOPNOTSUPP,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
} from "../abi/errno.ts";
import { O_NONBLOCK, O_RDWR, S_IFSOCK } from "../abi/fcntl.ts";
import {
  AF_UNIX,
  MSG_TRUNC,
  MSGHDR,
  MSGHDR_BYTES,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_PASSCRED,
  SO_PEERCRED,
  SO_PROTOCOL,
  SO_RCVBUF,
  SO_RCVLOWAT,
  SO_RCVTIMEO_NEW,
  SO_RCVTIMEO_OLD,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_SNDLOWAT,
  SO_SNDTIMEO_NEW,
  SO_SNDTIMEO_OLD,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
  SOCKADDR_UN_BYTES,
  SOL_SOCKET,
  SS_LISTENING,
  SUN_PATH_OFFSET,
} from "../abi/socket.ts";
import * as nr from "../abi/syscall_nr.ts";
import { ANON_SOCKET } from "../fs/anon_file.ts";
import type { OpenFile } from "../fs/file_table.ts";
import { vfsInstallAnon, withAnon } from "../fs/vfs.ts";
import { vfsMknod, vfsSocketLookup } from "../fs/vfs_path.ts";
import { currentTid, withNoKill } from "../sync/mod.ts";
import { sleepOnWord } from "./sleep.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";
import { SOCK_BUF, sockRecv, sockSend } from "./unix_io.ts";
import {
  type ConnectStep,
  sockAccept,
  sockBind,
  sockConnectDgram,
  sockConnectStream,
  sockCreate,
  sockListen,
  type SockName,
  sockName,
  SOCKO_KEEPALIVE,
  SOCKO_PASSCRED,
  SOCKO_REUSEADDR,
  sockPair,
  sockPeerName,
  sockRelease,
  sockSetWord,
  sockShutdown,
  sockTakeError,
  sockWord,
} from "./unix_sock.ts";
import { asIno, asInodeSlot } from "../abi/types.ts";

/** Permission bits of a socket node bind makes: 0777 under the default umask 022. */
const SOCK_NODE_MODE = 0o755;
/** The most one send or receive moves (a receive's buffer is allocated whole). */
const SOCK_IO_MAX = 1 << 20;
/** Linux's UIO_MAXIOV. */
const UIO_MAXIOV = 1024;
/** SO_PEERCRED's uid and gid without credentials (overflowuid). */
const NO_ID = 65534;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Run `fn` on socket `fd`: -EBADF, or -ENOTSOCK for another kind of file. */
const withSock = (t: Task, fd: number, fn: (f: OpenFile) => number): number =>
  withAnon(t.files.proc, fd, ANON_SOCKET, -ENOTSOCK, fn);

/**
 * Parse the sockaddr_un at `va` of `len` bytes (unix_mkname) and resolve
 * it: a path to its socket node (connect/sendto) or made as one (bind).
 *
 * @returns the name, or -EINVAL (too short or long, not AF_UNIX, or only
 *   the family where a name is needed), -EFAULT, a path errno
 */
function readName(t: Task, va: number, len: number, forBind: boolean): SockName | number {
  if (len < SUN_PATH_OFFSET || len > SOCKADDR_UN_BYTES) return -EINVAL;
  const raw = userRead(t, va, len);
  if (typeof raw === "number") return raw;
  if ((raw[0]! | raw[1]! << 8) !== AF_UNIX) return -EINVAL;
  if (len === SUN_PATH_OFFSET) return forBind ? { kind: "autobind" } : -EINVAL;
  if (raw[SUN_PATH_OFFSET] === 0) return { kind: "abstract", addr: raw };
  const path = raw.subarray(SUN_PATH_OFFSET);
  const end = path.indexOf(0);
  const name = dec.decode(end < 0 ? path : path.subarray(0, end));
  // The stored address: the family, the path and its NUL (unix_mkname's length).
  const addr = new Uint8Array(SUN_PATH_OFFSET + enc.encode(name).length + 1);
  addr.set(raw.subarray(0, SUN_PATH_OFFSET));
  enc.encodeInto(name, addr.subarray(SUN_PATH_OFFSET));
  const proc = t.files.proc;
  if (!forBind) {
    const ino = vfsSocketLookup(proc, name);
    return ino < 0 ? ino : { kind: "path", ino: asIno(ino), slot: asInodeSlot(0), addr };
  }
  const ino = vfsMknod(proc, name, S_IFSOCK | SOCK_NODE_MODE);
  if (ino < 0) return ino === -EEXIST ? -EADDRINUSE : ino;
  const ip = proc.fs.iget(asIno(ino));
  if (typeof ip === "number") return ip;
  return { kind: "path", ino: ip.ino, slot: ip.slot, addr };
}

/** Drop the inode reference a bound path name carries (bind failed after making it). */
function putName(t: Task, name: SockName): void {
  if (name.kind === "path" && name.slot !== 0) {
    const fs = t.files.proc.fs;
    fs.iput(fs.handle(name.ino, name.slot));
  }
}

/**
 * Copy address `a` out to (addr, *addrlen) as Linux's move_addr_to_user:
 * at most *addrlen bytes, and the full length written back.
 */
function putAddr(t: Task, a: Uint8Array, va: number, lenVa: number): number {
  if (va >>> 0 === 0 || lenVa >>> 0 === 0) return 0;
  const raw = userRead(t, lenVa, 4);
  if (typeof raw === "number") return raw;
  const room = new DataView(raw.buffer).getInt32(0, true);
  if (room < 0) return -EINVAL;
  if (userWrite(t, va, a.subarray(0, Math.min(room, a.length))) < 0) return -EFAULT;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, a.length, true);
  return userWrite(t, lenVa, out);
}

/**
 * socket(domain, type, protocol). Entry: no lock held (a syscall); the SOCK
 * lock to make the socket, then FILES.lock and the fd-table lock to install
 * it (vfsInstallAnon).
 */
export function sysSocket(t: Task, domain: number, type: number, protocol: number): number {
  if (domain !== AF_UNIX) return -EAFNOSUPPORT;
  const base = type & SOCK_TYPE_MASK;
  if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM) return -ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  const id = sockCreate(t.mem, base, t.tgid);
  if (id < 0) return id;
  return installSock(t, id, type);
}

/** An fd for socket `id` with the SOCK_NONBLOCK/SOCK_CLOEXEC flags of `type`. */
function installSock(t: Task, id: number, type: number): number {
  const flags = O_RDWR | ((type & SOCK_NONBLOCK) !== 0 ? O_NONBLOCK : 0);
  return vfsInstallAnon(t.files.proc, ANON_SOCKET, id, flags, (type & SOCK_CLOEXEC) !== 0);
}

/**
 * socketpair(domain, type, protocol, sv[2]). Entry: no lock held; the SOCK
 * lock, then the install as sysSocket, then mmap_lock (read) to store the
 * fds.
 */
export function sysSocketpair(
  t: Task,
  domain: number,
  type: number,
  protocol: number,
  sv: number,
): number {
  if (domain !== AF_UNIX) return -EAFNOSUPPORT;
  const base = type & SOCK_TYPE_MASK;
  if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  if (base !== SOCK_STREAM && base !== SOCK_DGRAM) return -ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  const pair = sockPair(t.mem, base, t.tgid);
  if (typeof pair === "number") return pair;
  const a = installSock(t, pair[0], type);
  if (a < 0) {
    sockRelease(t.mem, pair[1]);
    return a;
  }
  const b = installSock(t, pair[1], type);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setInt32(0, a, true);
  new DataView(out.buffer).setInt32(4, b, true);
  if (b < 0 || userWrite(t, sv, out) < 0) {
    t.files.close(a);
    if (b >= 0) t.files.close(b);
    return b < 0 ? b : -EFAULT;
  }
  return 0;
}

/**
 * bind(fd, addr, addrlen). Entry: no lock held; withSock's fd-table lock;
 * the address is copied in and a path made as a socket node (vfsMknod:
 * directory i_rwsems) before sockBind takes the SOCK lock.
 */
export function sysBind(t: Task, fd: number, addr: number, len: number): number {
  return withSock(t, fd, (f) => {
    if (sockWord(t.mem, f.islot, "addrLen") !== 0) return -EINVAL;
    const name = readName(t, addr, len, true);
    if (typeof name === "number") return name;
    const r = sockBind(t.mem, f.islot, name);
    if (r < 0) putName(t, name);
    return r;
  });
}

/**
 * listen(fd, backlog). Entry: no lock held; withSock's fd-table lock, then
 * the SOCK lock.
 */
export const sysListen = (t: Task, fd: number, backlog: number): number =>
  withSock(t, fd, (f) => sockListen(t.mem, f.islot, backlog));

/** Sleep for a connect or accept step that must wait: 0, -EAGAIN or -ERESTARTSYS. */
function waitStep(t: Task, f: OpenFile, step: { wait: number; seen: number }): number {
  if ((f.flags & O_NONBLOCK) !== 0) return -EAGAIN;
  return sleepOnWord(t.mem, currentTid(), step.wait, step.seen);
}

/**
 * connect(fd, addr, addrlen). Entry: no lock held; withSock's fd-table lock;
 * the address is copied in and its path resolved (vfsSocketLookup) before
 * the SOCK lock; it sleeps holding none.
 */
export function sysConnect(t: Task, fd: number, addr: number, len: number): number {
  return withSock(t, fd, (f) => {
    const type = sockWord(t.mem, f.islot, "type");
    if (type === SOCK_DGRAM && len >= SUN_PATH_OFFSET) {
      const fam = userRead(t, addr, 2);
      if (typeof fam === "number") return fam;
      if (fam[0] === 0 && fam[1] === 0) return sockConnectDgram(t.mem, f.islot, null); // AF_UNSPEC
    }
    const name = readName(t, addr, len, false);
    if (typeof name === "number") return name;
    if (type === SOCK_DGRAM) return sockConnectDgram(t.mem, f.islot, name);
    for (;;) {
      const step: ConnectStep = sockConnectStream(t.mem, f.islot, name, t.tgid);
      if (typeof step === "number") return step;
      const e = waitStep(t, f, step);
      if (e < 0) return e;
    }
  });
}

/**
 * accept4(fd, addr, addrlen, flags) (accept is flags 0). Entry: no lock
 * held; withSock's fd-table lock; the SOCK lock and the install (FILES.lock,
 * fd-table lock) in one no-kill region, one after the other; the address is
 * copied out after; it sleeps holding none.
 */
export function sysAccept4(
  t: Task,
  fd: number,
  addr: number,
  lenVa: number,
  flags: number,
): number {
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  return withSock(t, fd, (f) => {
    if (sockWord(t.mem, f.islot, "type") !== SOCK_STREAM) return -EOPNOTSUPP;
    for (;;) {
      // From taking the connection to its fd, the socket is owned by no
      // open file: no kill point in between.
      const got = withNoKill(() => {
        const step = sockAccept(t.mem, f.islot);
        if (typeof step !== "number" || step < 0) return step;
        const peer = sockPeerName(t.mem, step);
        const nfd = installSock(t, step, flags);
        return { nfd, peer };
      });
      if (typeof got === "number") return got;
      if ("nfd" in got) {
        if (got.nfd < 0 || typeof got.peer === "number") return got.nfd;
        const r = putAddr(t, got.peer, addr, lenVa);
        if (r < 0) {
          t.files.close(got.nfd);
          return r;
        }
        return got.nfd;
      }
      const e = waitStep(t, f, got);
      if (e < 0) return e;
    }
  });
}

/** accept(fd, addr, addrlen). Entry: no lock held; locks as sysAccept4. */
export const sysAccept = (t: Task, fd: number, addr: number, lenVa: number): number =>
  sysAccept4(t, fd, addr, lenVa, 0);

/**
 * getsockname(fd, addr, addrlen). Entry: no lock held; the fd-table lock,
 * the SOCK lock, then mmap_lock (read) to copy out.
 */
export const sysGetsockname = (t: Task, fd: number, addr: number, lenVa: number): number =>
  withSock(t, fd, (f) => {
    const a = sockName(t.mem, f.islot);
    return typeof a === "number" ? a : putAddr(t, a, addr, lenVa);
  });

/**
 * getpeername(fd, addr, addrlen). Entry: no lock held; locks as
 * sysGetsockname.
 */
export const sysGetpeername = (t: Task, fd: number, addr: number, lenVa: number): number =>
  withSock(t, fd, (f) => {
    const a = sockPeerName(t.mem, f.islot);
    return typeof a === "number" ? a : putAddr(t, a, addr, lenVa);
  });

/** Send `data` on socket file `f` to `dest` (or its peer), in chunks for a stream. */
function sendOn(
  t: Task,
  f: OpenFile,
  data: Uint8Array,
  flags: number,
  dest: SockName | null,
): number {
  return sockSend(t.mem, f.islot, data, flags, f.flags, dest);
}

/**
 * sendto(fd, buf, len, flags, dest_addr, addrlen). Entry: no lock held;
 * withSock's fd-table lock; data and address are copied in (mmap_lock, read)
 * and the path resolved first, then sockSend takes the SOCK lock per step.
 */
export function sysSendto(
  t: Task,
  fd: number,
  buf: number,
  len: number,
  flags: number,
  dest: number,
  destLen: number,
): number {
  return withSock(t, fd, (f) => {
    len >>>= 0;
    if (len > SOCK_IO_MAX) len = SOCK_IO_MAX;
    const data = userRead(t, buf, len);
    if (typeof data === "number") return data;
    let name: SockName | null = null;
    if (dest >>> 0 !== 0 && destLen !== 0) { // a zero length is no address, as Linux takes it
      const n = readName(t, dest, destLen, false);
      if (typeof n === "number") return n;
      name = n;
    }
    return sendOn(t, f, data, flags, name);
  });
}

/**
 * recvfrom(fd, buf, len, flags, src_addr, addrlen). Entry: no lock held;
 * withSock's fd-table lock; sockRecv takes the SOCK lock per step, then data
 * and address are copied out.
 */
export function sysRecvfrom(
  t: Task,
  fd: number,
  buf: number,
  len: number,
  flags: number,
  src: number,
  srcLen: number,
): number {
  return withSock(t, fd, (f) => {
    const dst = new Uint8Array(Math.min(len >>> 0, SOCK_IO_MAX));
    const r = sockRecv(t.mem, f.islot, dst, flags, f.flags);
    if (typeof r === "number") return r;
    if (userWrite(t, buf, dst.subarray(0, r.n)) < 0) return -EFAULT;
    const w = putAddr(t, r.from, src, srcLen);
    return w < 0 ? w : r.full;
  });
}

/** The iovecs of a msghdr: [address, length] pairs, or -errno. */
function readIovecs(t: Task, iov: number, n: number): [number, number][] | number {
  if (n < 0 || n > UIO_MAXIOV) return -EMSGSIZE;
  const raw = userRead(t, iov, n * 8);
  if (typeof raw === "number") return raw;
  const dv = new DataView(raw.buffer);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([dv.getUint32(i * 8, true), dv.getUint32(i * 8 + 4, true)]);
  return out;
}

/**
 * sendmsg(fd, msg, flags): the iovecs gathered into one send (one datagram).
 * Entry: no lock held; locks as sysSendto.
 */
export function sysSendmsg(t: Task, fd: number, msg: number, flags: number): number {
  return withSock(t, fd, (f) => {
    const raw = userRead(t, msg, MSGHDR_BYTES);
    if (typeof raw === "number") return raw;
    const h = new DataView(raw.buffer);
    // Ancillary data (SCM_RIGHTS, SCM_CREDENTIALS) is not carried by xip's sockets.
    if (h.getUint32(MSGHDR.controllen, true) !== 0) return -EOPNOTSUPP;
    const iovs = readIovecs(t, h.getUint32(MSGHDR.iov, true), h.getInt32(MSGHDR.iovlen, true));
    if (typeof iovs === "number") return iovs;
    let total = 0;
    for (const [, l] of iovs) total += l;
    if (total > SOCK_IO_MAX) total = SOCK_IO_MAX;
    const data = new Uint8Array(total);
    let at = 0;
    for (const [va, l] of iovs) {
      const n = Math.min(l, total - at);
      const part = userRead(t, va, n);
      if (typeof part === "number") return part;
      data.set(part, at);
      at += n;
    }
    let name: SockName | null = null;
    const nameVa = h.getUint32(MSGHDR.name, true);
    if (nameVa !== 0 && h.getInt32(MSGHDR.namelen, true) !== 0) {
      const n = readName(t, nameVa, h.getInt32(MSGHDR.namelen, true), false);
      if (typeof n === "number") return n;
      name = n;
    }
    return sendOn(t, f, data, flags, name);
  });
}

/**
 * recvmsg(fd, msg, flags): one receive scattered over the iovecs. Entry: no
 * lock held; locks as sysRecvfrom.
 */
export function sysRecvmsg(t: Task, fd: number, msg: number, flags: number): number {
  return withSock(t, fd, (f) => {
    const raw = userRead(t, msg, MSGHDR_BYTES);
    if (typeof raw === "number") return raw;
    const h = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const iovs = readIovecs(t, h.getUint32(MSGHDR.iov, true), h.getInt32(MSGHDR.iovlen, true));
    if (typeof iovs === "number") return iovs;
    let total = 0;
    for (const [, l] of iovs) total += l;
    const dst = new Uint8Array(Math.min(total, SOCK_IO_MAX));
    const r = sockRecv(t.mem, f.islot, dst, flags, f.flags);
    if (typeof r === "number") return r;
    let at = 0;
    for (const [va, l] of iovs) {
      const n = Math.min(l, r.n - at);
      if (n <= 0) break;
      if (userWrite(t, va, dst.subarray(at, at + n)) < 0) return -EFAULT;
      at += n;
    }
    const nameVa = h.getUint32(MSGHDR.name, true);
    if (nameVa !== 0) {
      const room = h.getInt32(MSGHDR.namelen, true);
      const bytes = r.from;
      if (userWrite(t, nameVa, bytes.subarray(0, Math.max(0, Math.min(room, bytes.length)))) < 0) {
        return -EFAULT;
      }
      h.setInt32(MSGHDR.namelen, bytes.length, true);
    }
    h.setUint32(MSGHDR.controllen, 0, true);
    h.setInt32(MSGHDR.flags, r.cut ? MSG_TRUNC : 0, true);
    return userWrite(t, msg, raw) < 0 ? -EFAULT : r.full;
  });
}

/**
 * shutdown(fd, how). Entry: no lock held; withSock's fd-table lock, then the
 * SOCK lock.
 */
export const sysShutdown = (t: Task, fd: number, how: number): number =>
  withSock(t, fd, (f) => sockShutdown(t.mem, f.islot, how));

/** A timeout option's value in ms from its struct (old: two 32-bit longs; new: two 64-bit). */
function readTimeo(raw: Uint8Array, wide: boolean): number {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const sec = wide ? Number(dv.getBigInt64(0, true)) : dv.getInt32(0, true);
  const usec = wide ? Number(dv.getBigInt64(8, true)) : dv.getInt32(4, true);
  if (sec < 0) return 0;
  return Math.min(0x7fff_ffff, sec * 1000 + Math.ceil(usec / 1000));
}

/**
 * setsockopt(fd, level, optname, optval, optlen) at SOL_SOCKET. Entry: no
 * lock held; the fd-table lock; optval is copied in, then stored under the
 * SOCK lock.
 */
export function sysSetsockopt(
  t: Task,
  fd: number,
  level: number,
  name: number,
  val: number,
  len: number,
): number {
  return withSock(t, fd, (f) => {
    if (level !== SOL_SOCKET) return -EOPNOTSUPP;
    const bit = name === SO_REUSEADDR
      ? SOCKO_REUSEADDR
      : name === SO_KEEPALIVE
      ? SOCKO_KEEPALIVE
      : name === SO_PASSCRED
      ? SOCKO_PASSCRED
      : 0;
    const timeo = name === SO_RCVTIMEO_OLD || name === SO_RCVTIMEO_NEW
      ? "rcvtimeo"
      : name === SO_SNDTIMEO_OLD || name === SO_SNDTIMEO_NEW
      ? "sndtimeo"
      : null;
    if (timeo !== null) {
      const wide = name === SO_RCVTIMEO_NEW || name === SO_SNDTIMEO_NEW;
      if (len < (wide ? 16 : 8)) return -EINVAL;
      const raw = userRead(t, val, wide ? 16 : 8);
      if (typeof raw === "number") return raw;
      sockSetWord(t.mem, f.islot, timeo, readTimeo(raw, wide));
      return 0;
    }
    if (len < 4) return -EINVAL;
    const raw = userRead(t, val, 4);
    if (typeof raw === "number") return raw;
    const v = new DataView(raw.buffer).getInt32(0, true);
    if (bit !== 0) {
      const opts = sockWord(t.mem, f.islot, "opts");
      sockSetWord(t.mem, f.islot, "opts", v !== 0 ? opts | bit : opts & ~bit);
      return 0;
    }
    // Accepted and ignored: buffer sizes are fixed (SO_*BUF report them), low-water marks are 1.
    const ignored = [
      SO_SNDBUF,
      SO_RCVBUF,
      32, /* SNDBUFFORCE */
      33,
      SO_RCVLOWAT,
      SO_SNDLOWAT,
      SO_LINGER,
    ];
    return ignored.includes(name) ? 0 : -ENOPROTOOPT;
  });
}

/**
 * getsockopt(fd, level, optname, optval, optlen) at SOL_SOCKET. Entry: no
 * lock held; the fd-table lock; read under the SOCK lock, copied out after
 * it.
 */
export function sysGetsockopt(
  t: Task,
  fd: number,
  level: number,
  name: number,
  val: number,
  lenVa: number,
): number {
  return withSock(t, fd, (f) => {
    if (level !== SOL_SOCKET) return -EOPNOTSUPP;
    const lraw = userRead(t, lenVa, 4);
    if (typeof lraw === "number") return lraw;
    const room = new DataView(lraw.buffer).getInt32(0, true);
    if (room < 0) return -EINVAL;
    const id = f.islot, mem = t.mem;
    const ints = (...v: number[]): Uint8Array => {
      const b = new Uint8Array(v.length * 4);
      v.forEach((x, i) => new DataView(b.buffer).setInt32(i * 4, x, true));
      return b;
    };
    const timeo = (ms: number, wide: boolean): Uint8Array => {
      const b = new Uint8Array(wide ? 16 : 8);
      const dv = new DataView(b.buffer);
      const sec = Math.floor(ms / 1000), usec = (ms % 1000) * 1000;
      if (wide) dv.setBigInt64(0, BigInt(sec), true), dv.setBigInt64(8, BigInt(usec), true);
      else dv.setInt32(0, sec, true), dv.setInt32(4, usec, true);
      return b;
    };
    let out: Uint8Array;
    switch (name) {
      case SO_TYPE:
        out = ints(sockWord(mem, id, "type"));
        break;
      case SO_ERROR:
        out = ints(sockTakeError(mem, id));
        break;
      case SO_SNDBUF:
      case SO_RCVBUF:
        out = ints(SOCK_BUF);
        break;
      case SO_ACCEPTCONN:
        out = ints(sockWord(mem, id, "state") === SS_LISTENING ? 1 : 0);
        break;
      case SO_DOMAIN:
        out = ints(AF_UNIX);
        break;
      case SO_PROTOCOL:
        out = ints(0);
        break;
      case SO_REUSEADDR:
        out = ints((sockWord(mem, id, "opts") & SOCKO_REUSEADDR) !== 0 ? 1 : 0);
        break;
      case SO_KEEPALIVE:
        out = ints((sockWord(mem, id, "opts") & SOCKO_KEEPALIVE) !== 0 ? 1 : 0);
        break;
      case SO_PASSCRED:
        out = ints((sockWord(mem, id, "opts") & SOCKO_PASSCRED) !== 0 ? 1 : 0);
        break;
      case SO_PEERCRED: {
        const pid = sockWord(mem, id, "peerPid");
        out = pid > 0 ? ints(pid, 0, 0) : ints(0, NO_ID, NO_ID);
        break;
      }
      case SO_LINGER:
        out = ints(0, 0);
        break;
      case SO_RCVLOWAT:
      case SO_SNDLOWAT:
        out = ints(1);
        break;
      case SO_RCVTIMEO_OLD:
      case SO_RCVTIMEO_NEW:
        out = timeo(sockWord(mem, id, "rcvtimeo"), name === SO_RCVTIMEO_NEW);
        break;
      case SO_SNDTIMEO_OLD:
      case SO_SNDTIMEO_NEW:
        out = timeo(sockWord(mem, id, "sndtimeo"), name === SO_SNDTIMEO_NEW);
        break;
      default:
        return -ENOPROTOOPT;
    }
    const n = Math.min(room, out.length);
    if (userWrite(t, val, out.subarray(0, n)) < 0) return -EFAULT;
    return userWrite(t, lenVa, ints(n));
  });
}

/** The socket system calls. The ones that may sleep are killable. */
export const SOCKET_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_socket, "socket", ["int", "hex", "int"], sysSocket),
  defineSyscall(nr.SYS_socketpair, "socketpair", ["int", "hex", "int", "ptr"], sysSocketpair),
  defineSyscall(nr.SYS_bind, "bind", ["fd", "ptr", "int"], sysBind),
  defineSyscall(nr.SYS_listen, "listen", ["fd", "int"], sysListen),
  defineSyscall(nr.SYS_accept, "accept", ["fd", "ptr", "ptr"], sysAccept, { killable: true }),
  defineSyscall(nr.SYS_accept4, "accept4", ["fd", "ptr", "ptr", "hex"], sysAccept4, {
    killable: true,
  }),
  defineSyscall(nr.SYS_connect, "connect", ["fd", "ptr", "int"], sysConnect, { killable: true }),
  defineSyscall(nr.SYS_getsockname, "getsockname", ["fd", "ptr", "ptr"], sysGetsockname),
  defineSyscall(nr.SYS_getpeername, "getpeername", ["fd", "ptr", "ptr"], sysGetpeername),
  defineSyscall(nr.SYS_sendto, "sendto", ["fd", "ptr", "size", "hex", "ptr", "int"], sysSendto, {
    killable: true,
  }),
  defineSyscall(
    nr.SYS_recvfrom,
    "recvfrom",
    ["fd", "ptr", "size", "hex", "ptr", "ptr"],
    sysRecvfrom,
    { killable: true },
  ),
  defineSyscall(nr.SYS_setsockopt, "setsockopt", ["fd", "int", "int", "ptr", "int"], sysSetsockopt),
  defineSyscall(nr.SYS_getsockopt, "getsockopt", ["fd", "int", "int", "ptr", "ptr"], sysGetsockopt),
  defineSyscall(nr.SYS_shutdown, "shutdown", ["fd", "int"], sysShutdown),
  defineSyscall(nr.SYS_sendmsg, "sendmsg", ["fd", "ptr", "hex"], sysSendmsg, { killable: true }),
  defineSyscall(nr.SYS_recvmsg, "recvmsg", ["fd", "ptr", "hex"], sysRecvmsg, { killable: true }),
];
