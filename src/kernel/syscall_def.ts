/**
 * How a system call is declared: Linux's SYSCALL_DEFINEn, as data.
 *
 * Each entry names the call, lists how each argument register is to be
 * read (for `--strace` and for readers), and gives the handler. The
 * dispatcher (syscall.ts) passes a0..a5 to the handler as plain int32
 * arguments, so a handler reads like its Linux prototype:
 *
 * ```ts
 * defineSyscall(SYS_read, "read", ["fd", "ptr", "size"], sysRead);
 * function sysRead(t: Task, fd: number, buf: number, count: number): number
 * ```
 *
 * Arguments arrive signed (int32): a handler converts with `>>> 0` where
 * the C type is unsigned, and joins the two registers of a 64-bit argument
 * with `argU64` (uaccess_task.ts). A handler that needs the whole register
 * file (rt_sigreturn, clone) takes it from the task, not from here.
 *
 * @module
 */

import type { Task } from "./task.ts";

/** A handler: the calling task and a0..a5; returns a0 (-4095..-1 is -errno). */
export type SyscallFn = (
  t: Task,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
  a4: number,
  a5: number,
) => number;

/**
 * How `--strace` prints one argument. Each kind reads one register, except
 * "u64" (two registers, low word first, as riscv32 passes loff_t) and
 * "u64hl" (two registers, high word first: llseek's offset).
 *
 * - "int": signed decimal; "uint": unsigned decimal; "hex": 0x…
 * - "fd": a file descriptor; "dirfd": an fd or AT_FDCWD
 * - "path": a NUL-terminated string in user memory, quoted
 * - "ptr": a user address (NULL for 0); "size": a byte count
 * - "oflags": open(2) flags by name; "mode": octal permission bits
 * - "signal": a signal number by name
 * - "inbuf": a buffer the call reads, whose length is the next argument
 *   (shown as a quoted string, cut at 32 bytes)
 * - "outbuf": a buffer the call fills, shown after the call, as many bytes
 *   as it returned
 * - "prot", "mapflags", "atflags": PROT_*, MAP_*, AT_* bits by name
 * - "whence", "clockid", "fcntlcmd", "ioctlcmd", "resource": SEEK_*,
 *   CLOCK_*, F_*, the tty ioctls, RLIMIT_* by name
 */
export type ArgKind =
  | "int"
  | "uint"
  | "hex"
  | "fd"
  | "dirfd"
  | "path"
  | "ptr"
  | "size"
  | "oflags"
  | "mode"
  | "signal"
  | "inbuf"
  | "outbuf"
  | "prot"
  | "mapflags"
  | "atflags"
  | "whence"
  | "clockid"
  | "fcntlcmd"
  | "ioctlcmd"
  | "resource"
  | "sighow"
  | "sigset"
  | "osigset"
  | "pgoff"
  | "u64"
  | "u64hl";

/** One system call: its number, name, argument kinds and handler. */
export interface SyscallDef {
  readonly nr: number;
  readonly name: string;
  readonly args: readonly ArgKind[];
  readonly fn: SyscallFn;
  /**
   * Whether a hard kill may stop the task inside this call (at a lock
   * operation or a wait slice, src/sync/current.ts). Such a call keeps every
   * reference it takes recorded or inside a no-kill region; every other
   * call runs as a no-kill region.
   */
  readonly killable: boolean;
  /** How `--strace` prints a non-error result: decimal, or hex for an address. */
  readonly ret: "int" | "hex";
}

/** Options of `defineSyscall`. */
export interface SyscallOptions {
  /** See `SyscallDef.killable`; false unless given. */
  readonly killable?: boolean;
  /** See `SyscallDef.ret`; "int" unless given. */
  readonly ret?: "int" | "hex";
}

/**
 * Declare system call `nr`.
 *
 * @param nr its Linux riscv32 number (src/abi/syscall_nr.ts)
 * @param name its name as strace prints it
 * @param args how each argument register is read, in order
 * @param fn the handler
 */
export function defineSyscall(
  nr: number,
  name: string,
  args: readonly ArgKind[],
  fn: SyscallFn,
  opts: SyscallOptions = {},
): SyscallDef {
  return { nr, name, args, fn, killable: opts.killable ?? false, ret: opts.ret ?? "int" };
}

/** Registers an argument kind consumes. */
export const argRegs = (k: ArgKind): number => (k === "u64" || k === "u64hl" ? 2 : 1);
