/**
 * Linux errno values (asm-generic/errno-base.h and errno.h). Kernel functions
 * return them negated, as Linux does: `-ENOMEM`.
 *
 * @module
 */

import type { Brand } from "./types.ts";

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ENOLCK = 37;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const ENODATA = 61; // ENODATA
/** Accessing a corrupted shared library: exec's answer for a bad program interpreter. */
export const ELIBBAD = 80;
export const ETIMEDOUT = 110;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const EUCLEAN = 117;
// System V IPC and sockets.
export const ENOMSG = 42;
export const EIDRM = 43;
export const ENOTSOCK = 88;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const EPROTOTYPE = 91;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const ESOCKTNOSUPPORT = 94;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ECONNABORTED = 103;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ECONNREFUSED = 111;
export const EALREADY = 114;
export const EINPROGRESS = 115;

const NAMES: Record<number, string> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [ESRCH]: "ESRCH",
  [EINTR]: "EINTR",
  [EIO]: "EIO",
  [ENXIO]: "ENXIO",
  [E2BIG]: "E2BIG",
  [ENOEXEC]: "ENOEXEC",
  [EBADF]: "EBADF",
  [ECHILD]: "ECHILD",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EACCES]: "EACCES",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [EXDEV]: "EXDEV",
  [ENODEV]: "ENODEV",
  [ENOTDIR]: "ENOTDIR",
  [EISDIR]: "EISDIR",
  [EINVAL]: "EINVAL",
  [ENFILE]: "ENFILE",
  [EMFILE]: "EMFILE",
  [ENOTTY]: "ENOTTY",
  [ETXTBSY]: "ETXTBSY",
  [EFBIG]: "EFBIG",
  [ENOSPC]: "ENOSPC",
  [ESPIPE]: "ESPIPE",
  [EROFS]: "EROFS",
  [EMLINK]: "EMLINK",
  [EPIPE]: "EPIPE",
  [ERANGE]: "ERANGE",
  [EDEADLK]: "EDEADLK",
  [ENAMETOOLONG]: "ENAMETOOLONG",
  [ENOSYS]: "ENOSYS",
  [ENOLCK]: "ENOLCK",
  [ENOTEMPTY]: "ENOTEMPTY",
  [ELOOP]: "ELOOP",
  [ENODATA]: "ENODATA",
  [ELIBBAD]: "ELIBBAD",
  [ETIMEDOUT]: "ETIMEDOUT",
  [EOVERFLOW]: "EOVERFLOW",
  [EOPNOTSUPP]: "EOPNOTSUPP",
  [EUCLEAN]: "EUCLEAN",
  [ENOMSG]: "ENOMSG",
  [EIDRM]: "EIDRM",
  [ENOTSOCK]: "ENOTSOCK",
  [EDESTADDRREQ]: "EDESTADDRREQ",
  [EMSGSIZE]: "EMSGSIZE",
  [EPROTOTYPE]: "EPROTOTYPE",
  [ENOPROTOOPT]: "ENOPROTOOPT",
  [EPROTONOSUPPORT]: "EPROTONOSUPPORT",
  [ESOCKTNOSUPPORT]: "ESOCKTNOSUPPORT",
  [EAFNOSUPPORT]: "EAFNOSUPPORT",
  [EADDRINUSE]: "EADDRINUSE",
  [EADDRNOTAVAIL]: "EADDRNOTAVAIL",
  [ECONNABORTED]: "ECONNABORTED",
  [ECONNRESET]: "ECONNRESET",
  [ENOBUFS]: "ENOBUFS",
  [EISCONN]: "EISCONN",
  [ENOTCONN]: "ENOTCONN",
  [ECONNREFUSED]: "ECONNREFUSED",
  [EALREADY]: "EALREADY",
  [EINPROGRESS]: "EINPROGRESS",
};

/** "ENOMEM" for 12 or -12; "E?123" for a number it does not know. */
export function errnoName(e: number): string {
  return NAMES[Math.abs(e)] ?? `E?${Math.abs(e)}`;
}

/**
 * A negated errno, as a kernel function returns it in place of a value
 * (Linux's ERR_PTR). A function that returns `Pfn | Errno` lets the caller
 * narrow with isErr instead of casting.
 */
export type Errno = Brand<number, "Errno">;

/** `-e` (a negated errno such as -ENOMEM) as an Errno. */
export const asErrno = (e: number): Errno => e as Errno;

/** True when a kernel return value is a negated errno (Linux's IS_ERR_VALUE). */
export const isErr = (ret: number): ret is Errno => ret < 0 && ret >= -4095;
