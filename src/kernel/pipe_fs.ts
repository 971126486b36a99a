/**
 * pipefs: the open files of pipes (Linux's fs/pipe.c pipefs and
 * create_pipe_files). A pipe's two ends are two open-file records whose
 * inode numbers name the end (PIPE_INO_READ, PIPE_INO_WRITE) and whose
 * inode slot is the pipe's id (pipe.ts), so any thread can rebuild the
 * handle from the record and drop it with the right end.
 *
 * PipeMount is a StackedFs (src/fs/stacked_fs.ts) that puts these inodes
 * in front of another VfsFs (the root filesystem with /proc): calls on a
 * pipe inode go to the pipe; everything else passes through. As the VFS dispatches:
 * - isDax is true, so read and write go to daxRead/daxWrite, with the open
 *   file's flags (O_NONBLOCK), and never through a page cache;
 * - stream is true: pread, pwrite and lseek are -ESPIPE;
 * - iput of the last reference to an end's open file closes that end;
 * - a pipe has no name: lookups and directory calls on it are -ENOTDIR,
 *   truncate is ignored (as O_TRUNC on a FIFO), the rest -EINVAL.
 *
 * @module
 */

import { EINVAL, ENOTDIR, ESPIPE } from "../abi/errno.ts";
import { O_NONBLOCK } from "../abi/fcntl.ts";
import { asIno, asInodeSlot, type Ino } from "../abi/types.ts";
import { specialAttr, StackedFs } from "../fs/stacked_fs.ts";
import { type Proc, vfsClose, vfsInstallFile } from "../fs/vfs.ts";
import type { VAttr, VInode } from "../fs/vfs_fs.ts";
import { currentTid } from "../sync/current.ts";
import {
  pipeAlloc,
  type PipeEnd,
  pipeGet,
  pipePoll,
  pipePut,
  pipeRead,
  pipeWrite,
} from "./pipe.ts";

/**
 * Pipe ends' inode numbers: below the anon files' range (0x3d00_0000),
 * shmem's (0x3e00_0000), the character devices' (0x3f00_0000) and
 * procfs's (0x4000_0000), far above any xipfs inode.
 */
const PIPE_INO_BASE = 0x3c00_0000;
/** Inode number of every pipe's read end. */
export const PIPE_INO_READ = asIno(PIPE_INO_BASE + 1);
/** Inode number of every pipe's write end. */
export const PIPE_INO_WRITE = asIno(PIPE_INO_BASE + 2);

/** S_IFIFO: what fstat says a pipe is. */
export const S_IFIFO = 0o010000;

/** Whether `ino` is a pipe end. */
export const pipeOwns = (ino: number): boolean => ino === PIPE_INO_READ || ino === PIPE_INO_WRITE;

const endOf = (ip: VInode): PipeEnd => (ip.ino === PIPE_INO_READ ? "read" : "write");
/** The handle of pipe `id`'s end `ino`: the pipe id stands in the inode slot (VInode.slot). */
const pipeInode = (ino: Ino, id: number): VInode => ({ ino, slot: asInodeSlot(id) });
const nonblock = (flags: number | undefined): boolean => ((flags ?? 0) & O_NONBLOCK) !== 0;

/**
 * Make a pipe and install its two ends in `proc`'s fd table (Linux's
 * do_pipe2): [read fd, write fd], O_RDONLY and O_WRONLY, with `flags`'
 * O_NONBLOCK on both and O_CLOEXEC on both fds. Entry: no lock held;
 * pipeAlloc claims a pipe record lock-free (a CAS), each vfsInstallFile
 * takes and drops FILES.lock and the fd-table lock (both FILE_TABLE), and a
 * failed install closes the read end as vfsClose. Returns with no lock
 * held.
 *
 * @returns the two fds, or -ENFILE (no pipe record or open-file record), -EMFILE
 */
export function pipeCreate(
  proc: Proc,
  nonblocking: boolean,
  cloexec: boolean,
): [number, number] | number {
  const mem = proc.fs.mem;
  const id = pipeAlloc(mem);
  if (id < 0) return id;
  const extra = nonblocking ? O_NONBLOCK : 0;
  pipeGet(mem, id, "read");
  const rfd = vfsInstallFile(proc, pipeInode(PIPE_INO_READ, id), 0 | extra, cloexec);
  if (rfd < 0) {
    // vfsInstallFile dropped the inode reference, which closed the read end
    // and, with no writer either, freed the pipe.
    return rfd;
  }
  pipeGet(mem, id, "write");
  const wfd = vfsInstallFile(proc, pipeInode(PIPE_INO_WRITE, id), 1 | extra, cloexec);
  if (wfd < 0) {
    vfsClose(proc, rfd);
    return wfd;
  }
  return [rfd, wfd];
}

/** The root filesystem with pipes in front of it. */
export class PipeMount extends StackedFs {
  protected override owns(ino: number): boolean {
    return pipeOwns(ino);
  }
  protected override ownGetattr(ip: VInode): VAttr {
    return specialAttr(ip.ino, S_IFIFO | 0o600, Math.floor(Date.now() / 1000));
  }
  protected override ownPoll(ip: VInode): number {
    return pipePoll(this.mem, ip.slot, endOf(ip));
  }
  protected override ownStream(): boolean {
    return true;
  }
  /** A pipe is reached only through the fds pipe2 made, never by number. */
  protected override ownIget(): VInode | number {
    return -ENOTDIR;
  }
  protected override ownIput(ip: VInode): void {
    pipePut(this.mem, ip.slot, endOf(ip));
  }
  protected override ownDaxRead(ip: VInode, _pos: number, dst: Uint8Array, flags?: number): number {
    if (ip.ino !== PIPE_INO_READ) return -EINVAL;
    return pipeRead(this.mem, currentTid(), ip.slot, dst, nonblock(flags));
  }
  protected override ownDaxWrite(
    ip: VInode,
    _pos: number,
    src: Uint8Array,
    flags?: number,
  ): number {
    if (ip.ino !== PIPE_INO_WRITE) return -EINVAL;
    return pipeWrite(this.mem, currentTid(), ip.slot, src, nonblock(flags));
  }
  /** vfs_fallocate on a FIFO. */
  protected override ownFallocate(): number {
    return -ESPIPE;
  }
}
