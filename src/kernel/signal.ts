/**
 * Signals: names and the default action of each (Linux's sig_kernel_*
 * classes in include/linux/signal.h), and the shell's exit status of a
 * process a signal killed (128 + signal).
 *
 * The machinery lives in its own files, following kernel/signal.c and
 * arch/riscv/kernel/signal.c:
 *
 * - signal_state.ts: the shared records (sighand, group, task), the
 *   siglock, pending sets and queues, masks; spawn, fork, exec, release
 * - signal_send.ts: sending (kill, tkill, tgkill, sigqueue, faults), the
 *   SIGCONT/stop bookkeeping, choosing and waking the thread
 * - signal_deliver.ts: the return to user mode: dequeue, default actions,
 *   group stop, system-call restart, handler frames
 * - signal_frame.ts: the riscv rt_sigframe and rt_sigreturn
 * - vdso.ts: the page the sigreturn trampoline lives on
 * - sys_signal.ts: the system calls
 *
 * @module
 */

import {
  NSIG,
  SIGABRT,
  SIGBUS,
  SIGCHLD,
  SIGCONT,
  SIGFPE,
  SIGILL,
  SIGKILL,
  SIGQUIT,
  SIGRTMIN,
  SIGSEGV,
  SIGSTOP,
  SIGSYS,
  SIGTRAP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
  SIGURG,
  SIGWINCH,
  SIGXCPU,
  SIGXFSZ,
} from "../abi/signal.ts";

export {
  NSIG,
  SIGABRT,
  SIGALRM,
  SIGBUS,
  SIGCHLD,
  SIGCONT,
  SIGFPE,
  SIGHUP,
  SIGILL,
  SIGINT,
  SIGIO,
  SIGKILL,
  SIGPIPE,
  SIGPROF,
  SIGPWR,
  SIGQUIT,
  SIGRTMAX,
  SIGRTMIN,
  SIGSEGV,
  SIGSTKFLT,
  SIGSTOP,
  SIGSYS,
  SIGTERM,
  SIGTRAP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
  SIGURG,
  SIGUSR1,
  SIGUSR2,
  SIGVTALRM,
  SIGWINCH,
  SIGXCPU,
  SIGXFSZ,
} from "../abi/signal.ts";

const NAMES = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

/** "SIGSEGV" for 11, "SIGRT3" for 35 (SIGRTMIN + 3, the kernel's count), "signal 0" otherwise. */
export function signalName(sig: number): string {
  if (Number.isInteger(sig) && sig >= 1 && sig < SIGRTMIN) return NAMES[sig]!;
  if (validSignal(sig)) return `SIGRT${sig - SIGRTMIN}`;
  return `signal ${sig}`;
}

/** True for a signal number 1..64 (Linux's valid_signal, without 0). */
export const validSignal = (sig: number): boolean =>
  Number.isInteger(sig) && sig >= 1 && sig <= NSIG;

/** A shell's exit status for a process killed by `sig`: 128 + sig (139 for SIGSEGV). */
export const signalStatus = (sig: number): number => 128 + sig;

const bit = (s: number): number => 1 << (s - 1);

/** Default action ignore (SIG_KERNEL_IGNORE_MASK). */
const KERNEL_IGNORE = bit(SIGCONT) | bit(SIGCHLD) | bit(SIGWINCH) | bit(SIGURG);
/** Default action stop (SIG_KERNEL_STOP_MASK). */
const KERNEL_STOP = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);
/** Default action terminate with a core dump (SIG_KERNEL_COREDUMP_MASK). */
const KERNEL_COREDUMP = bit(SIGQUIT) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGABRT) |
  bit(SIGFPE) | bit(SIGSEGV) | bit(SIGBUS) | bit(SIGSYS) | bit(SIGXCPU) | bit(SIGXFSZ);

// Real-time signals are in none of the masks: their default is terminate.
const inMask = (sig: number, mask: number): boolean => sig < SIGRTMIN && (mask & bit(sig)) !== 0;

/** SIGKILL or SIGSTOP: cannot be caught, blocked or ignored (sig_kernel_only). */
export const sigKernelOnly = (sig: number): boolean => sig === SIGKILL || sig === SIGSTOP;
/** Ignored by default: SIGCHLD, SIGURG, SIGWINCH, and SIGCONT's own action. */
export const sigKernelIgnore = (sig: number): boolean => inMask(sig, KERNEL_IGNORE);
/** Stops the process by default: SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU. */
export const sigKernelStop = (sig: number): boolean => inMask(sig, KERNEL_STOP);
/** Terminates with a core dump by default. */
export const sigKernelCoredump = (sig: number): boolean => inMask(sig, KERNEL_COREDUMP);

/** The default action of a signal, as `man 7 signal` names them. */
export type DefaultAction = "term" | "core" | "ign" | "stop" | "cont";

/** What SIG_DFL does for `sig`. */
export function defaultAction(sig: number): DefaultAction {
  if (sig === SIGCONT) return "cont";
  if (sigKernelIgnore(sig)) return "ign";
  if (sigKernelStop(sig)) return "stop";
  if (sigKernelCoredump(sig)) return "core";
  return "term";
}
