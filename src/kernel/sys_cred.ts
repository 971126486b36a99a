/**
 * User ids and RLIMIT_NPROC (Linux's kernel/sys.c setuid family and the
 * RLIMIT_NPROC check of copy_process), reduced to what process limits
 * need: each task has a real, effective and saved uid (PROC.ruid, euid,
 * suid; 0 is root), copied at clone and changed by setuid, setreuid and
 * setresuid with Linux's permission rules. An effective uid of 0 stands
 * for every capability (CAP_SETUID, CAP_SYS_RESOURCE, CAP_SYS_ADMIN).
 *
 * RLIMIT_NPROC is the process's (on its leader's record, inherited at
 * fork, kept by exec): clone fails with EAGAIN when the caller's real uid
 * already has that many tasks (threads count, zombies count until
 * reaped), unless the real uid is root or the caller holds the
 * capabilities (effective uid 0), as Linux exempts them.
 *
 * Not modelled: group ids (getgid and getegid say 0), file system
 * permissions and kill's permission check by uid (every process acts as
 * root there), and the PF_NPROC_EXCEEDED check an execve makes after
 * setuid.
 *
 * @module
 */

import { EAGAIN, EINVAL, EPERM } from "../abi/errno.ts";
import { PROC_FREE, PROC_REAPED, RLIM32_INFINITY } from "../abi/layout/mod.ts";
import * as nr from "../abi/syscall_nr.ts";
import type { Memory } from "../hw/memory.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { procGet, procSet, procSlot } from "./proc.ts";
import { RLIM_INFINITY } from "./rlimit.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userWrite } from "./uaccess_task.ts";

/** (uid_t)-1: "leave unchanged" for setreuid and setresuid, invalid for setuid. */
const NO_UID = 0xffff_ffff;

const ids = (mem: Memory, slot: TaskSlot): [number, number, number] => [
  procGet(mem, slot, "ruid") >>> 0,
  procGet(mem, slot, "euid") >>> 0,
  procGet(mem, slot, "suid") >>> 0,
];

function setIds(mem: Memory, slot: TaskSlot, r: number, e: number, s: number): void {
  procSet(mem, slot, "ruid", r | 0);
  procSet(mem, slot, "euid", e | 0);
  procSet(mem, slot, "suid", s | 0);
}

/**
 * The child in `child` gets the credentials of the cloning task `parent`,
 * and (a new process) the RLIMIT_NPROC of the parent's process. Entry: the
 * child's slot is claimed and not yet started.
 */
export function credFork(mem: Memory, parent: TaskSlot, child: TaskSlot): void {
  const [r, e, s] = ids(mem, parent);
  setIds(mem, child, r, e, s);
  const leader = procSlot(mem, parent, "leader");
  procSet(mem, child, "nprocCur", procGet(mem, leader, "nprocCur"));
  procSet(mem, child, "nprocMax", procGet(mem, leader, "nprocMax"));
}

/** A limit word as a 64-bit rlimit value. */
const limitOf = (w: number): bigint => (w === RLIM32_INFINITY ? RLIM_INFINITY : BigInt(w >>> 0));
/** A 64-bit rlimit value as a limit word (2^32 - 1 and up: none). */
const wordOf = (v: bigint): number => (v >= 0xffff_ffffn ? RLIM32_INFINITY : Number(v) | 0);

/** RLIMIT_NPROC of `t`'s process: [soft, hard]. */
export function nprocLimit(t: Task): [bigint, bigint] {
  return [
    limitOf(procGet(t.mem, t.leader, "nprocCur")),
    limitOf(procGet(t.mem, t.leader, "nprocMax")),
  ];
}

/** Set RLIMIT_NPROC of `t`'s process (the caller checked soft <= hard and the permission). */
export function setNprocLimit(t: Task, soft: bigint, hard: bigint): void {
  procSet(t.mem, t.leader, "nprocCur", wordOf(soft));
  procSet(t.mem, t.leader, "nprocMax", wordOf(hard));
}

/** Whether `t` holds every capability (xip's stand-in: effective uid 0). */
export const capable = (t: Task): boolean => procGet(t.mem, t.slot, "euid") === 0;

/** Tasks whose real uid is `uid` and that are not yet reaped (Linux's ucounts processes). */
function tasksOf(mem: Memory, uid: number): number {
  let n = 0;
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    const st = procGet(mem, s, "state");
    if (st !== PROC_FREE && st !== PROC_REAPED && procGet(mem, s, "ruid") >>> 0 === uid) n++;
  }
  return n;
}

/**
 * copy_process's RLIMIT_NPROC check for a clone by `t`. Entry: no lock
 * held; a snapshot of the table, as Linux's counter is read without one.
 *
 * @returns 0, or -EAGAIN when the caller's real uid is at its limit and
 *   neither root nor privileged
 */
export function nprocCheck(t: Task): number {
  const uid = procGet(t.mem, t.slot, "ruid") >>> 0;
  if (uid === 0 || capable(t)) return 0;
  const [soft] = nprocLimit(t);
  if (soft === RLIM_INFINITY) return 0;
  return BigInt(tasksOf(t.mem, uid)) >= soft ? -EAGAIN : 0;
}

/** getuid(): the real uid. */
export const sysGetuid = (t: Task): number => procGet(t.mem, t.slot, "ruid");
/** geteuid(): the effective uid. */
export const sysGeteuid = (t: Task): number => procGet(t.mem, t.slot, "euid");

/**
 * getresuid(ruid*, euid*, suid*). Entry: no lock held (a syscall); each
 * store takes and drops mmap_lock for reading.
 *
 * @returns 0 or -EFAULT
 */
export function sysGetresuid(t: Task, rp: number, ep: number, sp: number): number {
  const [r, e, s] = ids(t.mem, t.slot);
  for (const [p, v] of [[rp, r], [ep, e], [sp, s]] as const) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    const w = userWrite(t, p, b);
    if (w < 0) return w;
  }
  return 0;
}

/**
 * setuid(uid): with the capability all three ids become `uid`; without,
 * only the effective one, and only to the real or saved uid (Linux's
 * __sys_setuid). Entry: no lock held (a syscall); takes none.
 *
 * @returns 0, -EINVAL ((uid_t)-1), -EPERM
 */
export function sysSetuid(t: Task, uid: number): number {
  uid >>>= 0;
  if (uid === NO_UID) return -EINVAL;
  const [r, , s] = ids(t.mem, t.slot);
  if (capable(t)) setIds(t.mem, t.slot, uid, uid, uid);
  else if (uid === r || uid === s) procSet(t.mem, t.slot, "euid", uid | 0);
  else return -EPERM;
  return 0;
}

/**
 * setreuid(ruid, euid), -1 leaving one unchanged. Without the capability
 * the real uid may become the real or effective one, the effective uid the
 * real, effective or saved one. The saved uid follows the new effective
 * uid when the real uid is set, or the effective uid is set to anything
 * but the old real uid (Linux's __sys_setreuid). Entry: no lock held.
 *
 * @returns 0, -EPERM
 */
export function sysSetreuid(t: Task, ruid: number, euid: number): number {
  ruid >>>= 0;
  euid >>>= 0;
  const [r, e, s] = ids(t.mem, t.slot);
  const cap = capable(t);
  if (ruid !== NO_UID && !cap && ruid !== r && ruid !== e) return -EPERM;
  if (euid !== NO_UID && !cap && euid !== r && euid !== e && euid !== s) return -EPERM;
  const nr = ruid === NO_UID ? r : ruid, ne = euid === NO_UID ? e : euid;
  const ns = ruid !== NO_UID || (euid !== NO_UID && euid !== r) ? ne : s;
  setIds(t.mem, t.slot, nr, ne, ns);
  return 0;
}

/**
 * setresuid(ruid, euid, suid), -1 leaving one unchanged. Without the
 * capability each new id must be one of the three old ones (Linux's
 * __sys_setresuid). Entry: no lock held.
 *
 * @returns 0, -EPERM
 */
export function sysSetresuid(t: Task, ruid: number, euid: number, suid: number): number {
  const old = ids(t.mem, t.slot);
  const want = [ruid >>> 0, euid >>> 0, suid >>> 0];
  if (!capable(t) && want.some((v) => v !== NO_UID && !old.includes(v))) return -EPERM;
  const [r, e, s] = want.map((v, i) => (v === NO_UID ? old[i]! : v));
  setIds(t.mem, t.slot, r!, e!, s!);
  return 0;
}

/** The user-id calls (syscall.ts joins the tables). */
export const CRED_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_getuid, "getuid", [], sysGetuid),
  defineSyscall(nr.SYS_geteuid, "geteuid", [], sysGeteuid),
  defineSyscall(nr.SYS_getresuid, "getresuid", ["ptr", "ptr", "ptr"], sysGetresuid),
  defineSyscall(nr.SYS_setuid, "setuid", ["int"], sysSetuid),
  defineSyscall(nr.SYS_setreuid, "setreuid", ["int", "int"], sysSetreuid),
  defineSyscall(nr.SYS_setresuid, "setresuid", ["int", "int", "int"], sysSetresuid),
];
