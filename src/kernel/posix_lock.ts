/**
 * fcntl's record-lock commands (Linux's fcntl_getlk/fcntl_setlk): decode
 * struct flock or flock64, turn l_whence/l_start/l_len into a byte range,
 * check the fd's access mode, and call the lock table (src/fs/locks.ts).
 *
 * Commands: F_GETLK/F_SETLK/F_SETLKW (5, 6, 7) take the 32-bit struct
 * flock; F_GETLK64/F_SETLK64/F_SETLKW64 (12, 13, 14; musl's F_GETLK on
 * riscv32) and the OFD forms F_OFD_GETLK/SETLK/SETLKW (36, 37, 38) take
 * struct flock64:
 * ```
 *  flock   { s16 type; s16 whence; s32 start; s32 len; s32 pid; }             16 bytes
 *  flock64 { s16 type; s16 whence; pad; s64 start; s64 len; s32 pid; pad }    32 bytes
 * ```
 * F_SETLKW sleeps on the table's release counter (signalSleep: killable
 * slices, woken by a release or a signal): -ERESTARTSYS when a signal
 * arrives (EINTR if a handler without SA_RESTART runs), -EDEADLK when
 * waiting would close a cycle of processes waiting for each other's locks.
 *
 * @module
 */

import { EAGAIN, EBADF, EINVAL, EOVERFLOW } from "../abi/errno.ts";
import { fmodeCanRead, fmodeCanWrite, SEEK_CUR, SEEK_END, SEEK_SET } from "../abi/fcntl.ts";
import {
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  type FileLock,
  FLOCK_EOF,
  locksSeq,
  locksSet,
  locksTest,
  locksWaitDone,
  ofdOwner,
  posixOwner,
} from "../fs/locks.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import { signalSleep } from "./signal_task.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";

export const F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7;
export const F_GETLK64 = 12, F_SETLK64 = 13, F_SETLKW64 = 14;
export const F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;

const FLOCK32_BYTES = 16, FLOCK64_BYTES = 32;

const LOCK_CMDS = new Set([
  F_GETLK,
  F_SETLK,
  F_SETLKW,
  F_GETLK64,
  F_SETLK64,
  F_SETLKW64,
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_OFD_SETLKW,
]);

/** Whether `cmd` is one of fcntl's record-lock commands. */
export const isLockCmd = (cmd: number): boolean => LOCK_CMDS.has(cmd);

interface Flock {
  type: number;
  whence: number;
  start: number;
  len: number;
  pid: number;
}

function decode(raw: Uint8Array, wide: boolean): Flock {
  const v = new DataView(raw.buffer, raw.byteOffset);
  return wide
    ? {
      type: v.getInt16(0, true),
      whence: v.getInt16(2, true),
      start: Number(v.getBigInt64(8, true)),
      len: Number(v.getBigInt64(16, true)),
      pid: v.getInt32(24, true),
    }
    : {
      type: v.getInt16(0, true),
      whence: v.getInt16(2, true),
      start: v.getInt32(4, true),
      len: v.getInt32(8, true),
      pid: v.getInt32(12, true),
    };
}

/** Encode `fl` back over `raw` (F_GETLK), or -EOVERFLOW when it does not fit struct flock. */
function encode(raw: Uint8Array, wide: boolean, fl: Flock): number {
  const v = new DataView(raw.buffer, raw.byteOffset);
  v.setInt16(0, fl.type, true);
  v.setInt16(2, fl.whence, true);
  if (wide) {
    v.setBigInt64(8, BigInt(fl.start), true);
    v.setBigInt64(16, BigInt(fl.len), true);
    v.setInt32(24, fl.pid, true);
    return 0;
  }
  if (fl.start > 0x7fff_ffff || fl.len > 0x7fff_ffff) return -EOVERFLOW;
  v.setInt32(4, fl.start, true);
  v.setInt32(8, fl.len, true);
  v.setInt32(12, fl.pid, true);
  return 0;
}

/** [start, end) of a request (flock_to_posix_lock), or -errno. */
function range(fl: Flock, pos: number, size: number): [number, number] | number {
  let from: number;
  switch (fl.whence) {
    case SEEK_SET:
      from = 0;
      break;
    case SEEK_CUR:
      from = pos;
      break;
    case SEEK_END:
      from = size;
      break;
    default:
      return -EINVAL;
  }
  let start = from + fl.start;
  if (start < 0) return -EINVAL;
  let end: number;
  if (fl.len > 0) end = start + fl.len;
  else if (fl.len === 0) end = FLOCK_EOF;
  else {
    end = start;
    start += fl.len;
    if (start < 0) return -EINVAL;
  }
  if (end > FLOCK_EOF) return -EOVERFLOW;
  return [start, end];
}

/**
 * fcntl(fd, cmd, struct flock *arg) for a record-lock command. Entry: no
 * lock held (a syscall); the struct flock is read and written under
 * mmap_lock (read) as userRead and userWrite; lockInfo takes and drops the
 * fd-table lock (FILE_TABLE); the lock table is tested and changed under
 * its mutex (FILE_TABLE class, locks.ts), and F_SETLKW sleeps with no lock
 * held. Returns with no lock held.
 *
 * @returns 0, -EBADF (bad fd, or the access mode does not allow the lock
 *   type), -EINVAL, -EFAULT, -EAGAIN (F_SETLK conflict), -EDEADLK, -ERESTARTSYS,
 *   -ENOLCK, -EOVERFLOW
 */
export function fcntlLock(t: Task, fd: number, cmd: number, arg: number): number {
  const wide = cmd !== F_GETLK && cmd !== F_SETLK && cmd !== F_SETLKW;
  const ofd = cmd === F_OFD_GETLK || cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW;
  const raw = userRead(t, arg, wide ? FLOCK64_BYTES : FLOCK32_BYTES);
  if (typeof raw === "number") return raw;
  const fl = decode(raw, wide);
  const info = t.files.lockInfo(fd);
  if (typeof info === "number") return info;
  if (fl.type !== F_RDLCK && fl.type !== F_WRLCK && fl.type !== F_UNLCK) return -EINVAL;
  if (ofd && fl.pid !== 0) return -EINVAL;
  const r = range(fl, info.pos, info.size);
  if (typeof r === "number") return r;
  const req: FileLock = {
    owner: ofd ? ofdOwner(info.idx) : posixOwner(info.fdt),
    pid: ofd ? -1 : t.pid,
    type: fl.type,
    start: r[0],
    end: r[1],
  };
  if (cmd === F_GETLK || cmd === F_GETLK64 || cmd === F_OFD_GETLK) {
    if (fl.type === F_UNLCK) return -EINVAL;
    const c = locksTest(t.mem, info.ino, req);
    const out: Flock = c === null ? { ...fl, type: F_UNLCK } : {
      type: c.type,
      whence: SEEK_SET,
      start: c.start,
      len: c.end === FLOCK_EOF ? 0 : c.end - c.start,
      pid: c.pid,
    };
    const bad = encode(raw, wide, out);
    return bad < 0 ? bad : userWrite(t, arg, raw);
  }
  if (fl.type === F_RDLCK && !fmodeCanRead(info.flags)) return -EBADF;
  if (fl.type === F_WRLCK && !fmodeCanWrite(info.flags)) return -EBADF;
  const wait = cmd === F_SETLKW || cmd === F_SETLKW64 || cmd === F_OFD_SETLKW;
  return wait ? setLockWait(t, info.ino, req) : locksSet(t.mem, info.ino, req);
}

/** F_SETLKW: retry each time a lock goes, until set, a signal, a deadlock or a kill. */
function setLockWait(t: Task, ino: number, req: FileLock): number {
  try {
    for (;;) {
      const [word, seq] = locksSeq(t.mem);
      const r = locksSet(t.mem, ino, req, t.slot);
      if (r !== -EAGAIN) return r; // anything else ends the wait
      // A release bumps the word; a signal's wake-up notifies it too (signalSleep).
      if (signalSleep(t.sig, t.mem.k32, word, seq, null) === "signal") return -ERESTARTSYS;
    }
  } finally {
    locksWaitDone(t.mem, t.slot);
  }
}
