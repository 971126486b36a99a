/**
 * `xip run --strace`: one line per system call, in strace's format
 * (`[pid N] openat(AT_FDCWD, "/lib/liblua.so", O_RDONLY|O_CLOEXEC) = 3`).
 *
 * The printer knows nothing about individual calls: it formats each
 * argument register by the kind its definition declares (syscall_def.ts
 * ArgKind), so a new call is traced as soon as it is declared. Arguments
 * are read before the call (a path, an input buffer), except "outbuf",
 * which is what the call wrote and is shown after it, as strace does.
 * Results are decimal, or hex for calls declared `ret: "hex"` (mmap2,
 * brk); -errno prints as `-1 ENOENT (No such file or directory)`.
 *
 * Reading user memory here never faults the process: an unreadable
 * pointer prints as its address.
 *
 * @module
 */

import { errnoName } from "../abi/errno.ts";
import { AT_FDCWD } from "../abi/fcntl.ts";
import { REG_A0 } from "../abi/regs.ts";
import { syscallName } from "../abi/syscall_names.ts";
import { SIGRTMIN } from "../abi/signal.ts";
import { signalName } from "./signal.ts";
import { type ArgKind, argRegs, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead } from "./uaccess_task.ts";

/** Bytes of a buffer shown before "..." (strace's default -s 32). */
export const STRACE_STRLEN = 32;

/** strerror texts strace appends to an error result. */
const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  3: "No such process",
  4: "Interrupted system call",
  5: "Input/output error",
  6: "No such device or address",
  7: "Argument list too long",
  8: "Exec format error",
  9: "Bad file descriptor",
  10: "No child processes",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  14: "Bad address",
  16: "Device or resource busy",
  17: "File exists",
  18: "Invalid cross-device link",
  19: "No such device",
  20: "Not a directory",
  21: "Is a directory",
  22: "Invalid argument",
  23: "Too many open files in system",
  24: "Too many open files",
  25: "Inappropriate ioctl for device",
  26: "Text file busy",
  27: "File too large",
  28: "No space left on device",
  29: "Illegal seek",
  30: "Read-only file system",
  31: "Too many links",
  32: "Broken pipe",
  34: "Numerical result out of range",
  36: "File name too long",
  37: "No locks available",
  38: "Function not implemented",
  39: "Directory not empty",
  40: "Too many levels of symbolic links",
  61: "No data available",
  75: "Value too large for defined data type",
  80: "Accessing a corrupted shared library",
  95: "Operation not supported",
  110: "Connection timed out",
  117: "Structure needs cleaning",
};

/** Bit names of a flags word, lowest first; unknown bits as a trailing hex. */
function flagNames(v: number, names: readonly [number, string][], zero: string): string {
  if (v === 0) return zero;
  const out: string[] = [];
  let rest = v >>> 0;
  for (const [bit, name] of names) {
    if (bit !== 0 && (rest & bit) === bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push("0x" + rest.toString(16));
  return out.join("|");
}

const OPEN_FLAGS: [number, string][] = [
  [0o100, "O_CREAT"],
  [0o200, "O_EXCL"],
  [0o400, "O_NOCTTY"],
  [0o1000, "O_TRUNC"],
  [0o2000, "O_APPEND"],
  [0o4000, "O_NONBLOCK"],
  [0o4010000, "O_SYNC"],
  [0o10000, "O_DSYNC"],
  [0o20000, "O_ASYNC"],
  [0o40000, "O_DIRECT"],
  [0o100000, "O_LARGEFILE"],
  [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"],
  [0o1000000, "O_NOATIME"],
  [0o2000000, "O_CLOEXEC"],
  [0o10000000, "O_PATH"],
  [0o20000000, "O_TMPFILE"],
];
const ACCMODE = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"];

function openFlags(v: number): string {
  const rest = flagNames(v & ~3, OPEN_FLAGS, "");
  return ACCMODE[v & 3]! + (rest === "" ? "" : "|" + rest);
}

const PROT: [number, string][] = [[1, "PROT_READ"], [2, "PROT_WRITE"], [4, "PROT_EXEC"], [
  0x0100_0000,
  "PROT_GROWSDOWN",
]];
const MAP_TYPE = ["0", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"];
const MAP_FLAGS: [number, string][] = [
  [0x10, "MAP_FIXED"],
  [0x20, "MAP_ANONYMOUS"],
  [0x100, "MAP_GROWSDOWN"],
  [0x800, "MAP_DENYWRITE"],
  [0x1000, "MAP_EXECUTABLE"],
  [0x2000, "MAP_LOCKED"],
  [0x4000, "MAP_NORESERVE"],
  [0x8000, "MAP_POPULATE"],
  [0x1_0000, "MAP_NONBLOCK"],
  [0x2_0000, "MAP_STACK"],
  [0x4_0000, "MAP_HUGETLB"],
  [0x8_0000, "MAP_SYNC"],
  [0x10_0000, "MAP_FIXED_NOREPLACE"],
];
const AT_FLAGS: [number, string][] = [
  [0x100, "AT_SYMLINK_NOFOLLOW"],
  [0x200, "AT_EACCESS"],
  [0x400, "AT_SYMLINK_FOLLOW"],
  [0x800, "AT_NO_AUTOMOUNT"],
  [0x1000, "AT_EMPTY_PATH"],
  [0x6000, "AT_STATX_SYNC_TYPE"],
];
const WHENCE = ["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"];
const CLOCKS = [
  "CLOCK_REALTIME",
  "CLOCK_MONOTONIC",
  "CLOCK_PROCESS_CPUTIME_ID",
  "CLOCK_THREAD_CPUTIME_ID",
  "CLOCK_MONOTONIC_RAW",
  "CLOCK_REALTIME_COARSE",
  "CLOCK_MONOTONIC_COARSE",
  "CLOCK_BOOTTIME",
];
const FCNTL: Record<number, string> = {
  0: "F_DUPFD",
  1: "F_GETFD",
  2: "F_SETFD",
  3: "F_GETFL",
  4: "F_SETFL",
  5: "F_GETLK",
  6: "F_SETLK",
  7: "F_SETLKW",
  1030: "F_DUPFD_CLOEXEC",
  36: "F_OFD_GETLK",
  37: "F_OFD_SETLK",
  38: "F_OFD_SETLKW",
};
const IOCTL: Record<number, string> = {
  0x5401: "TCGETS",
  0x5402: "TCSETS",
  0x5413: "TIOCGWINSZ",
  0x5414: "TIOCSWINSZ",
  0x540f: "TIOCGPGRP",
  0x541b: "FIONREAD",
  0x5421: "FIONBIO",
};
const RLIMITS = [
  "RLIMIT_CPU",
  "RLIMIT_FSIZE",
  "RLIMIT_DATA",
  "RLIMIT_STACK",
  "RLIMIT_CORE",
  "RLIMIT_RSS",
  "RLIMIT_NPROC",
  "RLIMIT_NOFILE",
  "RLIMIT_MEMLOCK",
  "RLIMIT_AS",
  "RLIMIT_LOCKS",
  "RLIMIT_SIGPENDING",
  "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE",
  "RLIMIT_RTPRIO",
  "RLIMIT_RTTIME",
];

const SIG_HOW = ["SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"];

/** C's %#x: 0x-prefixed hex, but a plain 0 for zero. */
const hex = (v: number): string => (v === 0 ? "0" : "0x" + (v >>> 0).toString(16));
const named = (table: readonly string[] | Record<number, string>, v: number): string =>
  (table as Record<number, string>)[v] ?? String(v);

/**
 * A byte string the way strace quotes it: C escapes, octal for the rest
 * (three digits when a digit follows, so "\0" then "4" stays unambiguous).
 */
export function quoteBytes(b: Uint8Array, truncated: boolean): string {
  let s = '"';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += "\\\\";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x09) s += "\\t";
    else if (c === 0x0d) s += "\\r";
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else {
      const next = b[i + 1];
      const digit = next !== undefined && next >= 0x30 && next <= 0x37;
      s += "\\" + c.toString(8).padStart(digit ? 3 : 1, "0");
    }
  }
  return s + '"' + (truncated ? "..." : "");
}

/** A NUL-terminated string at `va`, quoted; the address when unreadable. */
function userString(t: Task, va: number): string {
  if (va === 0) return "NULL";
  const out: number[] = [];
  for (let at = va >>> 0; out.length < 4096; at += 64) {
    const n = Math.min(64, 0x1_0000_0000 - at);
    const chunk = userRead(t, at, n);
    if (typeof chunk === "number") {
      return out.length === 0 ? hex(va) : quoteBytes(Uint8Array.from(out), true);
    }
    const z = chunk.indexOf(0);
    out.push(...(z < 0 ? chunk : chunk.subarray(0, z)));
    if (z >= 0) break;
  }
  return quoteBytes(Uint8Array.from(out), false);
}

/** `len` bytes at `va`, at most STRACE_STRLEN of them, quoted. */
function userBuffer(t: Task, va: number, len: number): string {
  if (len <= 0) return '""';
  const n = Math.min(len, STRACE_STRLEN);
  const b = userRead(t, va, n);
  return typeof b === "number" ? hex(va) : quoteBytes(b, len > n);
}

/**
 * The 64-bit sigset_t at `va` as strace shows it: `[INT TERM]` (names
 * without "SIG"), or `~[...]` of the complement when more than half the
 * signals are in it; the address when unreadable.
 */
function userSigset(t: Task, va: number): string {
  if (va === 0) return "NULL";
  const b = userRead(t, va, 8);
  if (typeof b === "number") return hex(va);
  const has = (s: number) => (b[(s - 1) >> 3]! & (1 << ((s - 1) & 7))) !== 0;
  const all = Array.from({ length: 64 }, (_, i) => i + 1);
  const members = all.filter(has);
  const inverted = members.length > 32;
  const shown = inverted ? all.filter((s) => !has(s)) : members;
  // strace's names in a set: INT, ..., then RTMIN, RT_1 ... RT_32 from 32 on.
  const name = (s: number) =>
    s < SIGRTMIN
      ? signalName(s).replace(/^SIG/, "")
      : s === SIGRTMIN
      ? "RTMIN"
      : `RT_${s - SIGRTMIN}`;
  const list = shown.map(name).join(" ");
  return `${inverted ? "~" : ""}[${list}]`;
}

/** One argument of kind `k` from registers `a` starting at `i`. */
function formatArg(t: Task, k: ArgKind, a: number[], i: number, after: number | null): string {
  const v = a[i]!;
  switch (k) {
    case "int":
    case "fd":
    case "size":
      return String(k === "size" ? v >>> 0 : v | 0);
    case "uint":
      return String(v >>> 0);
    case "hex":
      return hex(v);
    case "ptr":
      return v === 0 ? "NULL" : hex(v);
    case "dirfd":
      return (v | 0) === AT_FDCWD ? "AT_FDCWD" : String(v | 0);
    case "path":
      return userString(t, v);
    case "inbuf":
      return userBuffer(t, v, a[i + 1]! >>> 0);
    case "outbuf":
      return after === null || after < 0 ? hex(v) : userBuffer(t, v, after);
    case "oflags":
      return openFlags(v);
    case "mode":
      return "0" + (v >>> 0).toString(8);
    case "signal":
      return v === 0 ? "0" : signalName(v);
    case "prot":
      return flagNames(v, PROT, "PROT_NONE");
    case "mapflags": {
      const rest = flagNames(v & ~0xf, MAP_FLAGS, "");
      return MAP_TYPE[v & 3]! + (rest === "" ? "" : "|" + rest);
    }
    case "atflags":
      return flagNames(v, AT_FLAGS, "0");
    case "whence":
      return named(WHENCE, v);
    case "clockid":
      return named(CLOCKS, v);
    case "fcntlcmd":
      return named(FCNTL, v);
    case "ioctlcmd":
      return IOCTL[v] ?? hex(v);
    case "resource":
      return named(RLIMITS, v);
    case "sighow":
      return named(SIG_HOW, v);
    case "sigset":
      return userSigset(t, v);
    case "osigset":
      return after === 0 ? userSigset(t, v) : v === 0 ? "NULL" : hex(v);
    case "pgoff":
      // mmap2's offset counts pages; strace prints it in bytes.
      return v === 0 ? "0" : "0x" + ((v >>> 0) * 4096).toString(16);
    case "u64":
      return String(BigInt.asIntN(64, (BigInt(a[i + 1]! >>> 0) << 32n) | BigInt(v >>> 0)));
    case "u64hl":
      return String(BigInt.asIntN(64, (BigInt(v >>> 0) << 32n) | BigInt(a[i + 1]! >>> 0)));
  }
}

/** O_CREAT | O_TMPFILE: the open flags that make open's mode argument meaningful. */
const OPEN_TAKES_MODE = 0o100 | 0o20000000;

/**
 * The argument list of `def` from a0..a5; `after` is the result once known.
 * As strace, a "mode" right after "oflags" is shown only when the flags
 * create a file.
 */
function formatArgs(t: Task, def: SyscallDef, a: number[], after: number | null): string {
  const out: string[] = [];
  let i = 0;
  let prev: ArgKind | null = null;
  for (const k of def.args) {
    const skip = k === "mode" && prev === "oflags" && (a[i - 1]! & OPEN_TAKES_MODE) === 0;
    if (!skip) out.push(formatArg(t, k, a, i, after));
    i += argRegs(k);
    prev = k;
  }
  return out.join(", ");
}

/** The result as strace prints it. */
export function formatResult(ret: number, asHex: boolean): string {
  if (ret < 0 && ret >= -4095) {
    const e = -ret;
    return `-1 ${errnoName(e)} (${ERRNO_TEXT[e] ?? `errno ${e}`})`;
  }
  return asHex ? hex(ret) : String(ret);
}

/**
 * The line for one call: `[pid N] name(args) = result`. `ret` null means
 * the call did not return (exit, exit_group): ` = ?`. `regs` are a0..a5
 * as they were on entry; `def` undefined is a number xip does not implement.
 * Entry: no lock held; string and path arguments are read under mmap_lock
 * (read) as userRead. Returns with no lock held.
 */
export function straceLine(
  t: Task,
  nr: number,
  def: SyscallDef | undefined,
  regs: number[],
  ret: number | null,
): string {
  const head = `[pid ${t.pid}] `;
  if (def === undefined) {
    const args = regs.map(hex).join(", ");
    return `${head}${syscallName(nr)}(${args}) = ${formatResult(ret ?? 0, false)}`;
  }
  const res = ret === null ? "?" : formatResult(ret, def.ret === "hex");
  return `${head}${def.name}(${formatArgs(t, def, regs, ret)}) = ${res}`;
}

/** The line strace prints when a traced process ends. */
export function straceExitLine(pid: number, code: number, signal: number): string {
  return signal !== 0
    ? `[pid ${pid}] +++ killed by ${signalName(signal)} +++`
    : `[pid ${pid}] +++ exited with ${code} +++`;
}

/** a0..a5 of a register file, as plain numbers. */
export const argRegisters = (x: Int32Array): number[] => [
  x[REG_A0]!,
  x[REG_A0 + 1]!,
  x[REG_A0 + 2]!,
  x[REG_A0 + 3]!,
  x[REG_A0 + 4]!,
  x[REG_A0 + 5]!,
];
