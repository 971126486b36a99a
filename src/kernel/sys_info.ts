/**
 * Identity, limits and system information: uname, getuid/geteuid/getgid/
 * getegid, umask, prlimit64 (riscv32 has no getrlimit or setrlimit: musl
 * builds both on it), getrandom, membarrier, sched_getaffinity and
 * sched_yield.
 *
 * Every process runs as root (uid 0, as AT_UID says) on one hart of its own.
 *
 * Resource limits: RLIMIT_NOFILE lives in the fd table (FDT.nofile) and is
 * enforced there (open, dup and F_DUPFD past it are -EMFILE/-EBADF/-EINVAL,
 * as Linux). The others are kept per process and reported, not enforced:
 * RLIMIT_STACK is the size exec gives the stack VMA (8 MiB), RLIMIT_AS and
 * RLIMIT_DATA are unlimited, as on a default Linux system.
 *
 * @module
 */

import { EFAULT, EINVAL, EPERM, ESRCH } from "../abi/errno.ts";
import { FDT_FDS } from "../abi/layout/mod.ts";
import * as nr from "../abi/syscall_nr.ts";
import { RLIMIT_NLIMITS, RLIMIT_NOFILE, RLIMIT_NPROC } from "./rlimit.ts";
import { capable, nprocLimit, setNprocLimit } from "./sys_cred.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";

/** The uname(2) strings (struct new_utsname: six fields of 65 bytes). */
export const UTS = {
  sysname: "Linux",
  nodename: "xip",
  release: "6.6.0-xip",
  version: "#1 xip",
  machine: "riscv32",
  domainname: "(none)",
} as const;
const UTS_FIELD = 65;

/**
 * uname(struct new_utsname *). Entry: no lock held (a syscall); locks as
 * userWrite (mmap_lock for reading).
 *
 * @returns 0 or -EFAULT
 */
export function sysUname(t: Task, buf: number): number {
  const b = new Uint8Array(UTS_FIELD * 6);
  const enc = new TextEncoder();
  Object.values(UTS).forEach((s, i) =>
    b.set(enc.encode(s).subarray(0, UTS_FIELD - 1), i * UTS_FIELD)
  );
  return userWrite(t, buf, b);
}

/** getgid, getegid: root's group (user ids are in sys_cred.ts; group ids are not modelled). */
export const sysGetid = (): number => 0;

/** umask(mask): the previous mask. The mask is applied by openat and mkdirat. */
export function sysUmask(t: Task, mask: number): number {
  const old = t.umask;
  t.umask = mask & 0o777;
  return old;
}

// ---------------------------------------------------------------------------
// resource limits (rlimit.ts)

/** The limit pair of `res` for task `t`. */
function getLimit(t: Task, res: number): [bigint, bigint] {
  if (res === RLIMIT_NOFILE) {
    const [soft, hard] = t.files.nofile();
    return [BigInt(soft), BigInt(hard)];
  }
  if (res === RLIMIT_NPROC) return nprocLimit(t);
  return t.rlimits[res]!;
}

/**
 * Set `res` to [soft, hard]. Only with CAP_SYS_RESOURCE (sys_cred.ts) may a
 * hard limit be raised, and never RLIMIT_NOFILE past the fd table's size
 * (Linux's nr_open).
 *
 * @returns 0, -EINVAL (soft above hard), -EPERM
 */
function setLimit(t: Task, res: number, soft: bigint, hard: bigint): number {
  if (soft > hard) return -EINVAL;
  if (hard > getLimit(t, res)[1] && !capable(t)) return -EPERM;
  if (res === RLIMIT_NPROC) {
    setNprocLimit(t, soft, hard);
    return 0;
  }
  if (res === RLIMIT_NOFILE) {
    if (hard > BigInt(FDT_FDS)) return -EPERM;
    t.files.setNofile(Number(soft), Number(hard));
    return 0;
  }
  t.rlimits[res] = [soft, hard];
  return 0;
}

/**
 * prlimit64(pid, resource, new, old): pid 0 or the caller's own (xip has
 * no way to reach another process's limits: -ESRCH). Entry: no lock held
 * (a syscall); the limits are read and written under mmap_lock (read) as
 * userRead and userWrite; a new RLIMIT_NOFILE takes and drops the fd-table
 * lock (FILE_TABLE).
 *
 * @returns 0, or -ESRCH, -EINVAL, -EPERM, -EFAULT
 */
export function sysPrlimit64(t: Task, pid: number, res: number, newp: number, oldp: number) {
  if (pid !== 0 && pid !== t.pid) return -ESRCH;
  if (res < 0 || res >= RLIMIT_NLIMITS) return -EINVAL;
  let next: [bigint, bigint] | null = null;
  if (newp >>> 0 !== 0) {
    const raw = userRead(t, newp, 16);
    if (typeof raw === "number") return raw;
    const dv = new DataView(raw.buffer);
    next = [dv.getBigUint64(0, true), dv.getBigUint64(8, true)];
  }
  if (oldp >>> 0 !== 0) {
    const [soft, hard] = getLimit(t, res);
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, soft, true);
    dv.setBigUint64(8, hard, true);
    if (userWrite(t, oldp, b) < 0) return -EFAULT;
  }
  return next === null ? 0 : setLimit(t, res, next[0], next[1]);
}

// ---------------------------------------------------------------------------
// randomness, barriers, scheduling

const GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;
/** Bytes per getRandomValues call (its limit). */
const RANDOM_CHUNK = 65536;
/** Largest getrandom request served in one call (Linux caps at 32 MiB - 1). */
const GETRANDOM_MAX = (32 << 20) - 1;

/**
 * getrandom(buf, len, flags): the host's CSPRNG, never blocking. Entry: no
 * lock held (a syscall); locks as userWrite (mmap_lock for reading) per chunk.
 *
 * @returns the bytes written, or -EINVAL, -EFAULT
 */
export function sysGetrandom(t: Task, buf: number, len: number, flags: number): number {
  if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0) return -EINVAL;
  if ((flags & GRND_INSECURE) !== 0 && (flags & GRND_RANDOM) !== 0) return -EINVAL;
  const n = Math.min(len >>> 0, GETRANDOM_MAX);
  let done = 0;
  while (done < n) {
    const chunk = crypto.getRandomValues(new Uint8Array(Math.min(RANDOM_CHUNK, n - done)));
    if (userWrite(t, buf + done, chunk) < 0) return done > 0 ? done : -EFAULT;
    done += chunk.length;
  }
  return done;
}

const MEMBARRIER_CMD_QUERY = 0;
const MEMBARRIER_CMD_GLOBAL = 1;
const MEMBARRIER_CMD_GLOBAL_EXPEDITED = 2;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED = 8;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 16;
const MEMBARRIER_SUPPORTED = 31;

/**
 * membarrier(cmd, flags, cpu_id). xip processes have one thread each, so
 * "every other running thread of the process has executed a barrier" holds
 * trivially, and a hart reaches the kernel through a trap that orders its
 * memory accesses; the commands only keep Linux's registration rule
 * (PRIVATE_EXPEDITED before REGISTER_PRIVATE_EXPEDITED is -EPERM).
 */
export function sysMembarrier(t: Task, cmd: number, flags: number): number {
  if (flags !== 0) return -EINVAL;
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
      return MEMBARRIER_SUPPORTED;
    case MEMBARRIER_CMD_GLOBAL:
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
      return 0;
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
      t.membarrierRegistered = true;
      return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
      return t.membarrierRegistered ? 0 : -EPERM;
    default:
      return -EINVAL;
  }
}

/**
 * sched_getaffinity(pid, len, mask): a process runs on its own hart and
 * nowhere else, so its mask has one CPU. Returns the mask's size in bytes
 * (one 32-bit word), as the raw syscall does. Entry: no lock held (a
 * syscall); locks as userWrite (mmap_lock for reading).
 *
 * @returns 4, or -ESRCH, -EINVAL, -EFAULT
 */
export function sysSchedGetaffinity(t: Task, pid: number, len: number, mask: number): number {
  if (pid !== 0 && pid !== t.pid) return -ESRCH;
  if (len >>> 0 < 4 || (len & 3) !== 0) return -EINVAL;
  const w = userWrite(t, mask, Uint8Array.of(1, 0, 0, 0));
  return w < 0 ? w : 4;
}

/** sched_yield(): the hart is the process's own; nothing else waits for it. */
export const sysSchedYield = (): number => 0;

/** The identity, limit and information calls (syscall.ts joins the tables). */
export const INFO_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_uname, "uname", ["ptr"], sysUname),
  defineSyscall(nr.SYS_umask, "umask", ["mode"], sysUmask),
  defineSyscall(nr.SYS_getgid, "getgid", [], sysGetid),
  defineSyscall(nr.SYS_getegid, "getegid", [], sysGetid),
  defineSyscall(nr.SYS_prlimit64, "prlimit64", ["int", "resource", "ptr", "ptr"], sysPrlimit64),
  defineSyscall(nr.SYS_getrandom, "getrandom", ["ptr", "size", "hex"], sysGetrandom),
  defineSyscall(nr.SYS_membarrier, "membarrier", ["int", "hex", "int"], sysMembarrier),
  defineSyscall(
    nr.SYS_sched_getaffinity,
    "sched_getaffinity",
    ["int", "size", "ptr"],
    sysSchedGetaffinity,
  ),
  defineSyscall(nr.SYS_sched_yield, "sched_yield", [], sysSchedYield),
];
