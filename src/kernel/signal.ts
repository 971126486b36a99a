/**
 * Signals, reduced to what xip delivers: a pending-signal word per process
 * (PROC.sigPending) that kill sets and the Worker polls at safe points,
 * and the fatal default action for every signal (xip has no handlers, as
 * a process without sigaction has none). Linux's exit status encoding for
 * a shell: 128 + signal.
 *
 * @module
 */

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
/** A child stopped or exited; the default action is to ignore it. */
export const SIGCHLD = 17;
/** Bad system call: xip also uses it for a process killed by a kernel bug in its syscall. */
export const SIGSYS = 31;
/** Highest signal number a pending word can hold (one bit each). */
export const NSIG_XIP = 31;

const NAMES: Record<number, string> = {
  [SIGHUP]: "SIGHUP",
  [SIGINT]: "SIGINT",
  [SIGQUIT]: "SIGQUIT",
  [SIGILL]: "SIGILL",
  [SIGTRAP]: "SIGTRAP",
  [SIGABRT]: "SIGABRT",
  [SIGBUS]: "SIGBUS",
  [SIGFPE]: "SIGFPE",
  [SIGKILL]: "SIGKILL",
  [SIGUSR1]: "SIGUSR1",
  [SIGSEGV]: "SIGSEGV",
  [SIGUSR2]: "SIGUSR2",
  [SIGPIPE]: "SIGPIPE",
  [SIGALRM]: "SIGALRM",
  [SIGTERM]: "SIGTERM",
  [SIGCHLD]: "SIGCHLD",
  [SIGSYS]: "SIGSYS",
};

/** "SIGSEGV" for 11, "signal 20" for one without a name here. */
export const signalName = (sig: number): string => NAMES[sig] ?? `signal ${sig}`;

/** True for a signal number a pending word can carry. */
export const validSignal = (sig: number): boolean =>
  Number.isInteger(sig) && sig >= 1 && sig <= NSIG_XIP;

/** The bit of `sig` in a pending word. */
export const sigBit = (sig: number): number => 1 << (sig - 1);

/**
 * The signal to act on first in a pending word: SIGKILL before the rest,
 * then the lowest number (Linux dequeues synchronous and low signals first).
 *
 * @returns the signal, or 0 when none is pending
 */
export function firstPending(word: number): number {
  if (word === 0) return 0;
  if ((word & sigBit(SIGKILL)) !== 0) return SIGKILL;
  return 31 - Math.clz32(word & -word) + 1;
}

/** A shell's exit status for a process killed by `sig`: 128 + sig (139 for SIGSEGV). */
export const signalStatus = (sig: number): number => 128 + sig;
