/**
 * The signal system calls, with Linux riscv32's semantics (kernel/signal.c,
 * arch/riscv/kernel/signal.c): rt_sigaction, rt_sigprocmask,
 * rt_sigpending, rt_sigsuspend, rt_sigtimedwait_time64, rt_sigreturn,
 * sigaltstack, kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo and
 * restart_syscall.
 *
 * xip has no process groups or sessions: kill(0, sig) and kill(-pgid, sig)
 * treat every process as the leader of its own group, and kill(-1, sig)
 * reaches every other process. Every process runs as one user, so
 * permission checks always pass (except si_code forgery, which Linux
 * refuses to every user).
 *
 * @module
 */

import { EAGAIN, EINTR, EINVAL, EPERM, ESRCH } from "../abi/errno.ts";
import { REG_A0, REG_SP } from "../abi/regs.ts";
import {
  ERESTARTNOHAND,
  getSigset,
  KSIGINFO_SIZE,
  putSigset,
  SI_KERNEL,
  SI_TKILL,
  SI_USER,
  SIG_BLOCK,
  SIG_KERNEL_ONLY,
  SIG_SETMASK,
  SIG_UNBLOCK,
  SIGACTION,
  SIGACTION_SIZE,
  SIGINFO_SIZE,
  SIGSEGV,
  type SigSet,
  SIGSET_SIZE,
  sigsetOf,
  STACK_T_SIZE,
  SYS_restart_syscall,
  SYS_rt_sigaction,
  SYS_rt_sigpending,
  SYS_rt_sigprocmask,
  SYS_rt_sigqueueinfo,
  SYS_rt_sigreturn,
  SYS_rt_sigsuspend,
  SYS_rt_sigtimedwait_time64,
  SYS_rt_tgsigqueueinfo,
  SYS_sigaltstack,
  SYS_tkill,
  UAPI_SA_FLAGS,
} from "../abi/signal.ts";
import { SIGINFO_WORDS, SIGTASK } from "../abi/layout/signal.ts";
import { SYS_kill, SYS_tgkill } from "../abi/syscall_nr.ts";
import type { TaskSlot } from "../abi/types.ts";
import { sigKernelOnly, validSignal } from "./signal.ts";
import {
  type AltStack,
  doSigaltstack,
  readStackT,
  restoreRtFrame,
  siginfoBytes,
  writeStackT,
} from "./signal_frame.ts";
import {
  forceSigInfo,
  sendToGroup,
  sendToTask,
  sigHandlerIgnored,
  siginfoKill,
  signalWakeUp,
} from "./signal_send.ts";
import {
  findGroupByTgid,
  findTaskByTid,
  getAction,
  groupField,
  groupPending,
  groupTasks,
  type KSigInfo,
  lockTaskSighand,
  pendingFlush,
  pendingSet,
  pendingTake,
  setAction,
  setBlockedLocked,
  siginfoNew,
  sigTask,
  sigunlock,
  taskBlocked,
  taskField,
  taskPending,
} from "./signal_state.ts";
import { signalSleep } from "./signal_task.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";

const without = (s: SigSet, m: SigSet): SigSet => ({ lo: s.lo & ~m.lo, hi: s.hi & ~m.hi });

/** Read a sigset_t argument: the set, or -EFAULT. */
function readSigset(t: Task, va: number): SigSet | number {
  const b = userRead(t, va, SIGSET_SIZE);
  if (typeof b === "number") return b;
  return getSigset(new DataView(b.buffer), 0);
}

function writeSigset(t: Task, va: number, s: SigSet): number {
  const b = new Uint8Array(SIGSET_SIZE);
  putSigset(new DataView(b.buffer), 0, s);
  return userWrite(t, va, b);
}

/**
 * rt_sigaction(sig, act, oact, sigsetsize): read and set a disposition
 * (do_sigaction). Unknown sa_flags bits are cleared (riscv knows no
 * SA_RESTORER), SIGKILL and SIGSTOP leave sa_mask, and setting a signal to
 * be ignored discards it wherever it is pending in the group.
 *
 * Entry: no lock held (a syscall). Copying act in and oact out takes and
 * drops mmap_lock for reading, outside the siglock; the disposition is read
 * and changed under the caller's siglock, taken and dropped once.
 *
 * @returns 0, or -EINVAL, -EFAULT, -ESRCH
 */
export function sysRtSigaction(t: Task, sig: number, act: number, oact: number, size: number) {
  if (size !== SIGSET_SIZE) return -EINVAL;
  let nu: { handler: number; flags: number; mask: SigSet } | null = null;
  if (act !== 0) {
    const b = userRead(t, act, SIGACTION_SIZE);
    if (typeof b === "number") return b;
    const dv = new DataView(b.buffer);
    nu = {
      handler: dv.getUint32(SIGACTION.handler, true),
      flags: dv.getInt32(SIGACTION.flags, true) & UAPI_SA_FLAGS,
      mask: without(getSigset(dv, SIGACTION.mask), SIG_KERNEL_ONLY),
    };
  }
  if (!validSignal(sig) || (nu !== null && sigKernelOnly(sig))) return -EINVAL;
  const { mem } = t;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return -ESRCH;
  let old;
  try {
    old = getAction(mem, h, sig);
    if (nu !== null) {
      setAction(mem, h, sig, nu);
      if (sigHandlerIgnored(nu.handler, sig)) {
        const g = taskField(mem, t.tid, "group");
        const m = sigsetOf(sig);
        pendingFlush(mem, groupPending(mem, g), m);
        for (const x of groupTasks(mem, g)) pendingFlush(mem, taskPending(mem, x), m);
      }
    }
  } finally {
    sigunlock(mem, h);
  }
  if (oact !== 0) {
    const b = new Uint8Array(SIGACTION_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint32(SIGACTION.handler, old.handler >>> 0, true);
    dv.setInt32(SIGACTION.flags, old.flags & UAPI_SA_FLAGS, true);
    putSigset(dv, SIGACTION.mask, old.mask);
    const r = userWrite(t, oact, b);
    if (r < 0) return r;
  }
  return 0;
}

/**
 * Set task `t`'s blocked mask (Linux's set_current_blocked): signals newly
 * blocked that are pending for the whole group are handed to another thread
 * that can take them (retarget_shared_pending). Entry: no siglock held;
 * takes and drops the task's siglock (lockTaskSighand).
 */
export function setCurrentBlocked(t: Task, s: SigSet): void {
  const { mem } = t;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return;
  try {
    const before = taskBlocked(mem, t.tid);
    setBlockedLocked(mem, t.tid, without(s, SIG_KERNEL_ONLY));
    const g = taskField(mem, t.tid, "group");
    const shared = pendingSet(mem.k32, groupPending(mem, g));
    const newly = { lo: s.lo & ~before.lo & shared.lo, hi: s.hi & ~before.hi & shared.hi };
    if ((newly.lo | newly.hi) === 0) return;
    for (const x of groupTasks(mem, g)) {
      if (x === t.tid) continue;
      const xb = taskBlocked(mem, x);
      if (((newly.lo & ~xb.lo) | (newly.hi & ~xb.hi)) !== 0) signalWakeUp(mem, x);
    }
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * rt_sigprocmask(how, set, oset, sigsetsize): change and/or query the
 * blocked mask. Entry: no lock held (a syscall). Copying the sets takes and
 * drops mmap_lock for reading; the change takes and drops the siglock
 * (setCurrentBlocked).
 *
 * @returns 0, or -EINVAL, -EFAULT
 */
export function sysRtSigprocmask(t: Task, how: number, set: number, oset: number, size: number) {
  if (size !== SIGSET_SIZE) return -EINVAL;
  const old = taskBlocked(t.mem, t.tid);
  if (set !== 0) {
    const s = readSigset(t, set);
    if (typeof s === "number") return s;
    let next: SigSet;
    if (how === SIG_BLOCK) next = { lo: old.lo | s.lo, hi: old.hi | s.hi };
    else if (how === SIG_UNBLOCK) next = without(old, s);
    else if (how === SIG_SETMASK) next = s;
    else return -EINVAL;
    setCurrentBlocked(t, next);
  }
  if (oset !== 0) return writeSigset(t, oset, old);
  return 0;
}

/**
 * rt_sigpending(set, sigsetsize): the blocked signals pending for this
 * thread or its group. Entry: no lock held (a syscall). Reads the sets under
 * the siglock, taken and dropped once; copying the result out takes and
 * drops mmap_lock for reading after it.
 *
 * @returns 0, or -EINVAL, -EFAULT, -ESRCH
 */
export function sysRtSigpending(t: Task, set: number, size: number) {
  if ((size >>> 0) > SIGSET_SIZE) return -EINVAL;
  const { mem } = t;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return -ESRCH;
  let p: SigSet;
  try {
    const a = pendingSet(mem.k32, taskPending(mem, t.tid));
    const b = pendingSet(mem.k32, groupPending(mem, taskField(mem, t.tid, "group")));
    const bl = taskBlocked(mem, t.tid);
    p = { lo: (a.lo | b.lo) & bl.lo, hi: (a.hi | b.hi) & bl.hi };
  } finally {
    sigunlock(mem, h);
  }
  const out = new Uint8Array(SIGSET_SIZE);
  putSigset(new DataView(out.buffer), 0, p);
  return userWrite(t, set, out.subarray(0, size >>> 0));
}

/**
 * rt_sigsuspend(mask, sigsetsize): wait for a signal with `mask` blocked;
 * the old mask comes back when the handler returns (or at once when no
 * handler runs). Always "fails" with EINTR: -ERESTARTNOHAND turns into EINTR
 * when a handler runs, and restarts the wait when none does.
 *
 * Entry: no lock held (a syscall). Reading the mask takes and drops
 * mmap_lock for reading, setting it the siglock (setCurrentBlocked); it
 * sleeps with no lock held.
 *
 * @returns -ERESTARTNOHAND, or -EINVAL, -EFAULT
 */
export function sysRtSigsuspend(t: Task, mask: number, size: number) {
  if (size !== SIGSET_SIZE) return -EINVAL;
  const s = readSigset(t, mask);
  if (typeof s === "number") return s;
  t.sig.savedSigmask = taskBlocked(t.mem, t.tid);
  setCurrentBlocked(t, s);
  const k = t.mem.k32;
  while (!t.sig.pending()) {
    signalSleep(t.sig, k, t.sig.wakeWord, Atomics.load(k, t.sig.wakeWord), null);
  }
  t.sig.restoreSigmask = true;
  return -ERESTARTNOHAND;
}

/**
 * rt_sigtimedwait_time64(set, info, timeout, sigsetsize): take a pending
 * signal of `set` without running its handler (do_sigtimedwait). While it
 * waits the awaited signals are unblocked, so their arrival wakes it;
 * real_blocked keeps them from being treated as ignored meanwhile.
 *
 * Entry: no lock held (a syscall). Copying set, timeout and info takes and
 * drops mmap_lock for reading; dequeuing and changing the mask take and drop
 * the siglock each time; it sleeps with no lock held.
 *
 * @returns the signal, -EAGAIN on timeout, -EINTR for another signal,
 *   -EINVAL, -EFAULT
 */
export function sysRtSigtimedwait(t: Task, set: number, uinfo: number, uts: number, size: number) {
  if (size !== SIGSET_SIZE) return -EINVAL;
  const these0 = readSigset(t, set);
  if (typeof these0 === "number") return these0;
  const these = without(these0, SIG_KERNEL_ONLY);
  let timeoutMs: number | null = null;
  if (uts !== 0) {
    const b = userRead(t, uts, 16);
    if (typeof b === "number") return b;
    const dv = new DataView(b.buffer);
    const sec = Number(dv.getBigInt64(0, true)), nsec = Number(dv.getBigInt64(8, true));
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
    timeoutMs = sec * 1000 + nsec / 1e6;
  }
  const { mem } = t;
  const k = mem.k32;
  const tb = sigTask(mem, t.tid);
  let [sig, info] = takeOneOf(t, these);
  if (sig === 0 && timeoutMs !== 0) {
    const h = lockTaskSighand(mem, t.tid);
    if (h === 0) return -ESRCH;
    const real = taskBlocked(mem, t.tid);
    k[tb + SIGTASK.realBlockedLo] = real.lo;
    k[tb + SIGTASK.realBlockedHi] = real.hi;
    setBlockedLocked(mem, t.tid, without(real, these));
    sigunlock(mem, h);
    const deadline = timeoutMs === null ? Infinity : performance.now() + timeoutMs;
    while (!t.sig.pending()) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      signalSleep(t.sig, k, t.sig.wakeWord, Atomics.load(k, t.sig.wakeWord), left);
    }
    const h2 = lockTaskSighand(mem, t.tid);
    if (h2 !== 0) {
      setBlockedLocked(mem, t.tid, real);
      k[tb + SIGTASK.realBlockedLo] = 0;
      k[tb + SIGTASK.realBlockedHi] = 0;
      sigunlock(mem, h2);
    }
    [sig, info] = takeOneOf(t, these);
    if (sig === 0) return performance.now() >= deadline ? -EAGAIN : -EINTR;
  }
  if (sig === 0) return -EAGAIN;
  if (uinfo !== 0) {
    const r = userWrite(t, uinfo, siginfoBytes(info!));
    if (r < 0) return r;
  }
  return sig;
}

/** Dequeue the lowest pending signal of `these`, private set first. */
function takeOneOf(t: Task, these: SigSet): [number, KSigInfo | null] {
  const { mem } = t;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return [0, null];
  try {
    for (const p of [taskPending(mem, t.tid), groupPending(mem, taskField(mem, t.tid, "group"))]) {
      const s = pendingSet(mem.k32, p);
      const lo = s.lo & these.lo, hi = s.hi & these.hi;
      const sig = lo !== 0 ? 32 - Math.clz32(lo & -lo) : hi !== 0 ? 64 - Math.clz32(hi & -hi) : 0;
      if (sig !== 0) {
        const info = pendingTake(mem, p, sig);
        setBlockedLocked(mem, t.tid, taskBlocked(mem, t.tid)); // recalc
        return [sig, info];
      }
    }
    return [0, null];
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * rt_sigreturn(): return from a handler: restore the registers, the mask and
 * the alternate stack from the frame at sp. A bad frame kills with SIGSEGV.
 * The call returns the restored a0, so the dispatcher's write of the result
 * leaves it as it was.
 *
 * Entry: no lock held (a syscall). Reading the frame takes and drops
 * mmap_lock for reading; restoring the mask (or forcing SIGSEGV) takes and
 * drops the siglock; the alternate stack takes no lock.
 *
 * @returns the restored a0, or -EINVAL when the task has no hart
 */
export function sysRtSigreturn(t: Task): number {
  const hart = t.sig.hart;
  if (hart === null) return -EINVAL;
  t.sig.restartBlock = null;
  const fr = restoreRtFrame(t.mem, t.mm, hart);
  if (fr === null) {
    forceSigInfo(t.mem, t.tid, siginfoNew(SIGSEGV, SI_KERNEL));
    return 0;
  }
  setCurrentBlocked(t, fr.mask);
  const r = doSigaltstack(t.mem, t.tid, fr.stack, hart.x[REG_SP]! >>> 0);
  void r; // restore_altstack: every error but EFAULT is ignored, and the frame was readable
  return hart.x[REG_A0]!;
}

/**
 * sigaltstack(ss, old_ss). Entry: no lock held (a syscall); copying ss in
 * and old_ss out takes and drops mmap_lock for reading; the alternate stack
 * itself is the task's own and takes no lock.
 *
 * @returns 0, or -EFAULT, -EINVAL, -EPERM, -ENOMEM
 */
export function sysSigaltstack(t: Task, uss: number, uoss: number): number {
  let ss: AltStack | null = null;
  if (uss !== 0) {
    const b = userRead(t, uss, STACK_T_SIZE);
    if (typeof b === "number") return b;
    ss = readStackT(b);
  }
  const sp = t.sig.hart === null ? 0 : t.sig.hart.x[REG_SP]! >>> 0;
  const old = doSigaltstack(t.mem, t.tid, ss, sp);
  if (typeof old === "number") return old;
  if (uoss !== 0) {
    const b = new Uint8Array(STACK_T_SIZE);
    writeStackT(new DataView(b.buffer), 0, old);
    return userWrite(t, uoss, b);
  }
  return 0;
}

/** The calling process's pid as the guest sees it (its group's tgid). */
const selfTgid = (t: Task): number => groupField(t.mem, taskField(t.mem, t.tid, "group"), "tgid");

/** Send to one group: 0, or -ESRCH / -EAGAIN. sig 0 only checks that it exists. */
function killGroup(t: Task, g: number, sig: number, info: KSigInfo | null, must = false): number {
  if (sig === 0) return groupField(t.mem, g, "users") > 0 ? 0 : -ESRCH;
  const r = sendToGroup(t.mem, g, sig, info, must);
  return r < 0 ? r : 0;
}

/**
 * kill(pid, sig). Entry: no lock held (a syscall); takes and drops the
 * target group's siglock (sendToGroup). kill(-1) visits every group in turn
 * without the tasklist lock (Linux holds tasklist_lock for the walk), one
 * siglock at a time.
 *
 * @returns 0, or -EINVAL, -ESRCH
 */
export function sysKill(t: Task, pid: number, sig: number): number {
  if (sig !== 0 && !validSignal(sig)) return -EINVAL;
  const info = siginfoKill(sig, SI_USER, selfTgid(t));
  if (pid === -1) {
    // Every process but the caller (and init, which xip does not have).
    const self = taskField(t.mem, t.tid, "group");
    let sent = 0, err = -ESRCH;
    for (let g = 1; g < t.mem.layout.config.maxTasks; g++) {
      if (g === self || groupField(t.mem, g, "users") === 0) continue;
      if (groupField(t.mem, g, "live") === 0) continue;
      const r = killGroup(t, g, sig, info);
      if (r === 0) sent++;
      else err = r;
    }
    return sent > 0 ? 0 : err;
  }
  // A negative pid names a process group; each process leads its own here.
  const target = pid === 0 ? selfTgid(t) : Math.abs(pid);
  if (target > 0x7fff_ffff) return -ESRCH;
  const g = findGroupByTgid(t.mem, target);
  if (g === 0) return -ESRCH;
  return killGroup(t, g, sig, info);
}

/** Find live task `tid`, in group tgid `tgid` when tgid > 0: the task slot or 0. */
function findThread(t: Task, tid: number, tgid: number): TaskSlot | 0 {
  const x = findTaskByTid(t.mem, tid);
  if (x === 0) return 0;
  if (tgid > 0 && groupField(t.mem, taskField(t.mem, x, "group"), "tgid") !== tgid) return 0;
  return x;
}

/** Send to thread slot `x`: 0, -ESRCH, -EAGAIN. */
function killThread(
  t: Task,
  x: TaskSlot,
  sig: number,
  info: KSigInfo | null,
  must = false,
): number {
  if (sig === 0) return 0;
  const r = sendToTask(t.mem, x, sig, info, must);
  return r < 0 ? r : 0;
}

/**
 * tkill(tid, sig). Entry: no lock held (a syscall); takes and drops the
 * target's siglock (sendToTask).
 *
 * @returns 0, or -EINVAL, -ESRCH
 */
export function sysTkill(t: Task, tid: number, sig: number): number {
  if (tid <= 0) return -EINVAL;
  if (sig !== 0 && !validSignal(sig)) return -EINVAL;
  const x = findThread(t, tid, 0);
  if (x === 0) return -ESRCH;
  return killThread(t, x, sig, siginfoKill(sig, SI_TKILL, selfTgid(t)));
}

/**
 * tgkill(tgid, tid, sig). Entry: no lock held (a syscall); takes and drops
 * the target's siglock (sendToTask).
 *
 * @returns 0, or -EINVAL, -ESRCH
 */
export function sysTgkill(t: Task, tgid: number, tid: number, sig: number): number {
  if (tid <= 0 || tgid <= 0) return -EINVAL;
  if (sig !== 0 && !validSignal(sig)) return -EINVAL;
  const x = findThread(t, tid, tgid);
  if (x === 0) return -ESRCH;
  return killThread(t, x, sig, siginfoKill(sig, SI_TKILL, selfTgid(t)));
}

/**
 * Read a user siginfo for rt_(tg)sigqueueinfo: Linux keeps the first
 * KSIGINFO_SIZE bytes (the rest is padding) and sets si_signo itself.
 */
function readQueueInfo(t: Task, sig: number, uinfo: number): KSigInfo | number {
  const b = userRead(t, uinfo, SIGINFO_SIZE);
  if (typeof b === "number") return b;
  const info = new Int32Array(SIGINFO_WORDS);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < KSIGINFO_SIZE / 4; i++) info[i] = dv.getInt32(4 * i, true);
  info[0] = sig;
  return info;
}

/**
 * Only the kernel may claim a positive si_code (or SI_TKILL) when
 * signalling another process (Linux: "Not even root can pretend to send
 * signals from the kernel").
 */
const forged = (info: KSigInfo, toSelf: boolean): boolean =>
  !toSelf && (info[2]! >= 0 || info[2] === SI_TKILL);

/**
 * rt_sigqueueinfo(tgid, sig, uinfo): sigqueue(3)'s call; a full queue gives
 * -EAGAIN. Entry: no lock held (a syscall); copying uinfo in takes and drops
 * mmap_lock for reading, then sending takes and drops the group's siglock.
 *
 * @returns 0, or -EINVAL, -EFAULT, -EPERM, -ESRCH, -EAGAIN
 */
export function sysRtSigqueueinfo(t: Task, tgid: number, sig: number, uinfo: number): number {
  if (sig !== 0 && !validSignal(sig)) return -EINVAL;
  const info = readQueueInfo(t, sig, uinfo);
  if (typeof info === "number") return info;
  if (forged(info, tgid === selfTgid(t))) return -EPERM;
  const g = tgid > 0 ? findGroupByTgid(t.mem, tgid) : 0;
  if (g === 0) return -ESRCH;
  return killGroup(t, g, sig, info, true);
}

/**
 * rt_tgsigqueueinfo(tgid, tid, sig, uinfo). Entry: no lock held (a syscall);
 * copying uinfo in takes and drops mmap_lock for reading, then sending takes
 * and drops the target's siglock.
 *
 * @returns 0, or -EINVAL, -EFAULT, -EPERM, -ESRCH, -EAGAIN
 */
export function sysRtTgsigqueueinfo(
  t: Task,
  tgid: number,
  tid: number,
  sig: number,
  uinfo: number,
): number {
  if (tid <= 0 || tgid <= 0) return -EINVAL;
  if (sig !== 0 && !validSignal(sig)) return -EINVAL;
  const info = readQueueInfo(t, sig, uinfo);
  if (typeof info === "number") return info;
  if (forged(info, tid === taskField(t.mem, t.tid, "tid"))) return -EPERM;
  const x = findThread(t, tid, tgid);
  if (x === 0) return -ESRCH;
  return killThread(t, x, sig, info, true);
}

/** restart_syscall(): resume the call a signal interrupted (its restart block), else EINTR. */
export function sysRestartSyscall(t: Task): number {
  const fn = t.sig.restartBlock;
  t.sig.restartBlock = null;
  return fn === null ? -EINTR : fn();
}

/** The signal system calls. The sleeping ones are killable (they wait in killable slices). */
export const SIGNAL_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(SYS_restart_syscall, "restart_syscall", [], sysRestartSyscall, { killable: true }),
  defineSyscall(SYS_kill, "kill", ["int", "signal"], sysKill),
  defineSyscall(SYS_tkill, "tkill", ["int", "signal"], sysTkill),
  defineSyscall(SYS_tgkill, "tgkill", ["int", "int", "signal"], sysTgkill),
  defineSyscall(SYS_sigaltstack, "sigaltstack", ["ptr", "ptr"], sysSigaltstack),
  defineSyscall(SYS_rt_sigsuspend, "rt_sigsuspend", ["sigset", "size"], sysRtSigsuspend, {
    killable: true,
  }),
  defineSyscall(
    SYS_rt_sigaction,
    "rt_sigaction",
    ["signal", "ptr", "ptr", "size"],
    sysRtSigaction,
  ),
  defineSyscall(
    SYS_rt_sigprocmask,
    "rt_sigprocmask",
    ["sighow", "sigset", "osigset", "size"],
    sysRtSigprocmask,
  ),
  defineSyscall(SYS_rt_sigpending, "rt_sigpending", ["osigset", "size"], sysRtSigpending),
  defineSyscall(
    SYS_rt_sigtimedwait_time64,
    "rt_sigtimedwait_time64",
    ["ptr", "ptr", "ptr", "size"],
    sysRtSigtimedwait,
    { killable: true },
  ),
  defineSyscall(
    SYS_rt_sigqueueinfo,
    "rt_sigqueueinfo",
    ["int", "signal", "ptr"],
    sysRtSigqueueinfo,
  ),
  defineSyscall(
    SYS_rt_tgsigqueueinfo,
    "rt_tgsigqueueinfo",
    ["int", "int", "signal", "ptr"],
    sysRtTgsigqueueinfo,
  ),
  defineSyscall(SYS_rt_sigreturn, "rt_sigreturn", [], sysRtSigreturn),
];
