/**
 * What poll(2) asks of one open file (Linux's vfs_poll): its events now.
 * Anon files (sockets) answer through their AnonFileOps.poll; a mounted
 * filesystem may answer for its own inodes through VfsFs.poll (a pipe or
 * device wrapper); everything else is DEFAULT_POLLMASK, always readable
 * and writable, as Linux says of a file without ->poll. The sleeping part
 * is the system call's (src/kernel/sys_poll.ts).
 *
 * @module
 */

import { DEFAULT_POLLMASK, POLLNVAL } from "../abi/poll.ts";
import { anonFileOps, anonOwns } from "./anon_file.ts";
import { type Proc, withFile } from "./vfs.ts";

/**
 * The POLL* events of `fd` in process `proc`, holding a reference on its
 * open file for the call. Never sleeps.
 *
 * Entry: no lock held (a socket's poll takes the sockets' lock).
 *
 * @returns the events, or POLLNVAL when `fd` is not open
 */
export function vfsPoll(proc: Proc, fd: number): number {
  const r = withFile(proc, fd, (f, ip) => {
    if (anonOwns(f.ino)) return anonFileOps(f.ino).poll(f);
    return proc.fs.poll?.(ip, f.flags) ?? DEFAULT_POLLMASK;
  });
  return r < 0 ? POLLNVAL : r;
}
