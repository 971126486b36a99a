/**
 * The fd table operations of the VFS: dup, dup2/dup3 and fcntl (Linux's fs/file.c and fs/fcntl.c).
 *
 * @module
 */

import { EBADF, EINVAL } from "../abi/errno.ts";
import {
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  O_APPEND,
  O_DIRECT,
  O_NOATIME,
  O_NONBLOCK,
} from "../abi/fcntl.ts";
import {
  fdGet,
  fdGetCloexec,
  fdInstall,
  fdReplace,
  fdSetCloexec,
  fileSetFlags,
} from "./file_table.ts";
import { fdPut, type Proc, withFile } from "./vfs.ts";

// fd table operations

/**
 * dup(2) / fcntl(F_DUPFD): a new fd >= `minFd` naming the same open file
 * (shared position and flags). The new fd is not close-on-exec unless asked.
 * Entry: no lock held; takes and drops the fd-table lock twice (fdGet,
 * fdInstall).
 *
 * @returns the new fd, -EBADF, -EMFILE, or -EINVAL for a bad minFd
 */
export function vfsDup(proc: Proc, fd: number, minFd = 0, cloexec = false): number {
  const { mem } = proc.fs;
  if (!Number.isInteger(minFd) || minFd < 0) return -EINVAL;
  const idx = fdGet(mem, proc.fdt, fd);
  if (idx < 0) return idx;
  const nfd = fdInstall(mem, proc.fdt, idx, cloexec, minFd);
  if (nfd < 0) fdPut(proc.fs, idx);
  return nfd;
}

/**
 * dup2(2)/dup3(2): make `newFd` name the open file of `oldFd`, closing what
 * `newFd` named before. Same fds: a no-op returning newFd. Entry: no lock
 * held; takes and drops the fd-table lock (fdGet, fdReplace), then releases
 * the replaced file as fdPut.
 *
 * @returns newFd, or -EBADF
 */
export function vfsDup2(proc: Proc, oldFd: number, newFd: number, cloexec = false): number {
  const { fs } = proc;
  const idx = fdGet(fs.mem, proc.fdt, oldFd);
  if (idx < 0) return idx;
  if (oldFd === newFd) {
    fdPut(fs, idx);
    return newFd;
  }
  const old = fdReplace(fs.mem, proc.fdt, newFd, idx, cloexec);
  if (old === -EBADF) {
    fdPut(fs, idx);
    return -EBADF;
  }
  if (old >= 0) fdPut(fs, old);
  return newFd;
}

/** Flags F_SETFL may change (Linux's SETFL_MASK, reduced). */
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

/**
 * fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL.
 * Entry: no lock held; takes and drops the fd-table lock only.
 *
 * @returns the command's result, -EBADF, or -EINVAL for another command
 */
export function vfsFcntl(proc: Proc, fd: number, cmd: number, arg = 0): number {
  const { mem } = proc.fs;
  switch (cmd) {
    case F_DUPFD:
      return vfsDup(proc, fd, arg, false);
    case F_DUPFD_CLOEXEC:
      return vfsDup(proc, fd, arg, true);
    case F_GETFD: {
      const c = fdGetCloexec(mem, proc.fdt, fd);
      return typeof c === "number" ? c : c ? FD_CLOEXEC : 0;
    }
    case F_SETFD:
      return fdSetCloexec(mem, proc.fdt, fd, (arg & FD_CLOEXEC) !== 0);
    case F_GETFL:
      return withFile(proc, fd, (f) => f.flags);
    case F_SETFL:
      return withFile(proc, fd, (f) => {
        fileSetFlags(mem, f.idx, (f.flags & ~SETFL_MASK) | (arg & SETFL_MASK));
        return 0;
      });
    default:
      return -EINVAL;
  }
}
