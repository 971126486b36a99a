/**
 * System V IPC system calls, with Linux riscv32's numbers (each call has
 * its own; there is no ipc(2) multiplexer on riscv): shmget 194, shmctl
 * 195, shmat 196, shmdt 197, semget 190, semctl 191, semop 193,
 * semtimedop_time64 420, msgget 186, msgctl 187, msgrcv 188, msgsnd 189.
 * This file decodes the registers and user memory; the work is in
 * ipc_shm.ts, ipc_sem.ts and ipc_msg.ts.
 *
 * The calls that sleep (semop, semtimedop, msgsnd, msgrcv) are killable:
 * they hold nothing no lock records while they sleep, and every locked
 * section is a no-kill region of its own.
 *
 * @module
 */

import { E2BIG, EFAULT, EINVAL } from "../abi/errno.ts";
import { MSGMAX, SEMBUF_BYTES, SEMOPM } from "../abi/ipc.ts";
import * as nr from "../abi/syscall_nr.ts";
import { shmemCtx } from "../fs/shmem.ts";
import { msgCtl, msgGet, msgRcv, msgSnd } from "./ipc_msg.ts";
import { decodeSemOps, semCtl, semGet, semTimedOp } from "./ipc_sem.ts";
import { type IpcUserBuf, shmAt, shmCtl, shmDt, shmGet } from "./ipc_shm.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";

/** The user buffer at `va` of task `t`, for the *ctl calls. */
const userBuf = (t: Task, va: number): IpcUserBuf => ({
  read: (len) => userRead(t, va, len),
  write: (bytes) => userWrite(t, va, bytes),
});

/**
 * shmget(key, size, shmflg). Entry: no lock held (a syscall); locks as
 * shmGet.
 *
 * @returns the id, or -errno
 */
export const sysShmget = (_t: Task, key: number, size: number, flg: number): number =>
  shmGet(shmemCtx(), key, size >>> 0, flg);

/**
 * shmat(shmid, shmaddr, shmflg): the attach address. Entry: no lock held (a
 * syscall); locks as shmAt.
 *
 * @returns the address, or -errno
 */
export const sysShmat = (t: Task, id: number, addr: number, flg: number): number =>
  shmAt(shmemCtx(), t.mm, id, addr >>> 0, flg);

/**
 * shmdt(shmaddr). Entry: no lock held (a syscall); locks as shmDt.
 *
 * @returns 0 or -EINVAL
 */
export const sysShmdt = (t: Task, addr: number): number => shmDt(shmemCtx(), t.mm, addr >>> 0);

/**
 * shmctl(shmid, cmd, buf). Entry: no lock held (a syscall); locks as shmCtl.
 *
 * @returns as shmCtl
 */
export const sysShmctl = (t: Task, id: number, cmd: number, buf: number): number =>
  shmCtl(shmemCtx(), id, cmd, userBuf(t, buf));

/** semget(key, nsems, semflg). */
export const sysSemget = (t: Task, key: number, nsems: number, flg: number): number =>
  semGet(t.mem, key, nsems, flg);

/**
 * semctl(semid, semnum, cmd, arg): `arg` is union semun passed by value, an
 * int for SETVAL and a pointer for the others. Entry: no lock held (a
 * syscall); locks as semCtl.
 *
 * @returns as semCtl
 */
export const sysSemctl = (t: Task, id: number, num: number, cmd: number, arg: number): number =>
  semCtl(t.mem, t.tgid, id, num, cmd, arg, userBuf(t, arg));

/**
 * semtimedop with a relative time64 timeout at `tsp` (0: none), the
 * common body of semop and semtimedop_time64.
 */
function semtimedop(t: Task, id: number, sops: number, nsops: number, tsp: number): number {
  if (nsops < 1 || id < 0) return -EINVAL;
  if (nsops > SEMOPM) return -E2BIG;
  const raw = userRead(t, sops, nsops * SEMBUF_BYTES);
  if (typeof raw === "number") return raw;
  let timeoutMs: number | null = null;
  if (tsp >>> 0 !== 0) {
    const ts = userRead(t, tsp, 16);
    if (typeof ts === "number") return ts;
    const dv = new DataView(ts.buffer);
    const sec = Number(dv.getBigInt64(0, true)), nsec = Number(dv.getBigInt64(8, true));
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
    timeoutMs = sec * 1000 + nsec / 1e6;
  }
  // The undo list is the thread group's (CLONE_SYSVSEM), so entries are owned by the tgid.
  const who = { mem: t.mem, tid: t.tid, pid: t.tgid, sig: t.sig };
  return semTimedOp(who, id, decodeSemOps(raw, nsops), timeoutMs);
}

/**
 * semop(semid, sops, nsops). Entry: no lock held (a syscall); the operations
 * are copied in under mmap_lock (read), then applied under the sem IPC lock,
 * which is dropped to sleep.
 *
 * @returns 0, or -errno
 */
export const sysSemop = (t: Task, id: number, sops: number, nsops: number): number =>
  semtimedop(t, id, sops, nsops >>> 0, 0);

/**
 * semtimedop_time64(semid, sops, nsops, timeout). Entry: no lock held (a
 * syscall); locks as sysSemop.
 *
 * @returns 0, or -errno (-EAGAIN on timeout)
 */
export const sysSemtimedop = (t: Task, id: number, sops: number, n: number, ts: number): number =>
  semtimedop(t, id, sops, n >>> 0, ts);

/** msgget(key, msgflg). */
export const sysMsgget = (t: Task, key: number, flg: number): number => msgGet(t.mem, key, flg);

/**
 * msgsnd(msqid, msgp, msgsz, msgflg): msgp points at { long mtype; char
 * mtext[msgsz]; }. Entry: no lock held (a syscall); the message is copied in
 * under mmap_lock (read) first, then msgSnd takes the msg IPC lock (dropped
 * to sleep).
 *
 * @returns 0, or -errno
 */
export function sysMsgsnd(t: Task, id: number, msgp: number, msgsz: number, flg: number): number {
  if (msgsz < 0 || msgsz > MSGMAX || id < 0) return -EINVAL;
  const raw = userRead(t, msgp, 4 + msgsz);
  if (typeof raw === "number") return raw;
  const mtype = new DataView(raw.buffer).getInt32(0, true);
  return msgSnd({ mem: t.mem, pid: t.tgid, sig: t.sig }, id, mtype, raw.subarray(4), flg);
}

/**
 * msgrcv(msqid, msgp, msgsz, msgtyp, msgflg): the text length copied. Entry:
 * no lock held (a syscall); msgRcv takes the msg IPC lock (dropped to
 * sleep), then the message is copied out under mmap_lock (read).
 *
 * @returns the text length, or -errno
 */
export function sysMsgrcv(
  t: Task,
  id: number,
  msgp: number,
  msgsz: number,
  msgtyp: number,
  flg: number,
): number {
  const m = msgRcv({ mem: t.mem, pid: t.tgid, sig: t.sig }, id, msgsz, msgtyp, flg);
  if (typeof m === "number") return m;
  const out = new Uint8Array(4 + m.text.length);
  new DataView(out.buffer).setInt32(0, m.mtype, true);
  out.set(m.text, 4);
  // The message is gone from the queue either way, as on Linux.
  return userWrite(t, msgp, out) < 0 ? -EFAULT : m.text.length;
}

/**
 * msgctl(msqid, cmd, buf). Entry: no lock held (a syscall); locks as msgCtl.
 *
 * @returns as msgCtl
 */
export const sysMsgctl = (t: Task, id: number, cmd: number, buf: number): number =>
  msgCtl(t.mem, id, cmd, userBuf(t, buf));

/** The System V IPC system calls. */
export const IPC_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_shmget, "shmget", ["hex", "size", "hex"], sysShmget),
  defineSyscall(nr.SYS_shmat, "shmat", ["int", "ptr", "hex"], sysShmat),
  defineSyscall(nr.SYS_shmdt, "shmdt", ["ptr"], sysShmdt, { killable: true }),
  defineSyscall(nr.SYS_shmctl, "shmctl", ["int", "int", "ptr"], sysShmctl),
  defineSyscall(nr.SYS_semget, "semget", ["hex", "int", "hex"], sysSemget),
  defineSyscall(nr.SYS_semctl, "semctl", ["int", "int", "int", "hex"], sysSemctl),
  defineSyscall(nr.SYS_semop, "semop", ["int", "ptr", "uint"], sysSemop, { killable: true }),
  defineSyscall(
    nr.SYS_semtimedop_time64,
    "semtimedop_time64",
    ["int", "ptr", "uint", "ptr"],
    sysSemtimedop,
    { killable: true },
  ),
  defineSyscall(nr.SYS_msgget, "msgget", ["hex", "hex"], sysMsgget),
  defineSyscall(nr.SYS_msgsnd, "msgsnd", ["int", "ptr", "size", "hex"], sysMsgsnd, {
    killable: true,
  }),
  defineSyscall(nr.SYS_msgrcv, "msgrcv", ["int", "ptr", "size", "int", "hex"], sysMsgrcv, {
    killable: true,
  }),
  defineSyscall(nr.SYS_msgctl, "msgctl", ["int", "int", "ptr"], sysMsgctl),
];
