/**
 * pipefs: the open files of pipes (Linux's fs/pipe.c pipefs and
 * create_pipe_files). A pipe's two ends are two open-file records whose
 * inode numbers name the end (PIPE_INO_READ, PIPE_INO_WRITE) and whose
 * inode slot is the pipe's id (pipe.ts), so any thread can rebuild the
 * handle from the record and drop it with the right end.
 *
 * PipeMount is a VfsFs that puts these inodes in front of another one (the
 * root filesystem with /proc): calls on a pipe inode go to the pipe;
 * everything else passes through. As the VFS dispatches:
 * - isDax is true, so read and write go to daxRead/daxWrite, with the open
 *   file's flags (O_NONBLOCK), and never through a page cache;
 * - stream is true: pread, pwrite and lseek are -ESPIPE;
 * - iput of the last reference to an end's open file closes that end;
 * - a pipe has no name: lookups and directory calls on it are -ENOTDIR,
 *   truncate is ignored (as O_TRUNC on a FIFO), the rest -EINVAL.
 *
 * @module
 */

import { EINVAL, ENOTDIR, ESPIPE, EXDEV } from "../abi/errno.ts";
import { DEFAULT_POLLMASK } from "../abi/poll.ts";
import { O_NONBLOCK } from "../abi/fcntl.ts";
import { FILES } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asIno, asInodeSlot, type Ino, type InodeSlot } from "../abi/types.ts";
import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "../fs/pagecache/pagecache.ts";
import { type Proc, vfsClose, vfsInstallFile } from "../fs/vfs.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../fs/vfs_fs.ts";
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

/** The handle of pipe `id`'s end `ino`: the pipe id stands in the inode slot (VInode.slot). */
const pipeInode = (ino: Ino, id: number): VInode => ({ ino, slot: asInodeSlot(id) });

const endOf = (ip: VInode): PipeEnd => (ip.ino === PIPE_INO_READ ? "read" : "write");
const own = (ip: VInode): boolean => pipeOwns(ip.ino);
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
// Required<VfsFs>: a method VfsFs gains, optional or not, must be forwarded
// here too, or the type check fails (a missing optional forward would
// silently drop the inner filesystem's behaviour, as writeAccess's ETXTBSY).
export class PipeMount implements Required<VfsFs> {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;

  constructor(readonly inner: VfsFs) {
    this.mem = inner.mem;
    this.dev = inner.dev;
    this.rootIno = inner.rootIno;
    this.maxBytes = inner.maxBytes;
    this.aops = inner.aops;
    this.aopsLookup = inner.aopsLookup;
  }

  poll(ip: VInode, flags: number): number {
    if (own(ip)) return pipePoll(this.mem, ip.slot, endOf(ip));
    return this.inner.poll?.(ip, flags) ?? DEFAULT_POLLMASK;
  }
  stream(ip: VInode): boolean {
    return own(ip) || (this.inner.stream?.(ip) ?? false);
  }
  iget(ino: Ino): VInode | number {
    // A pipe is reached only through the fds pipe2 made, never by number.
    return pipeOwns(ino) ? -ENOTDIR : this.inner.iget(ino);
  }
  iput(ip: VInode): void {
    if (own(ip)) pipePut(this.mem, ip.slot, endOf(ip));
    else this.inner.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return pipeOwns(ino) ? { ino, slot } : this.inner.handle(ino, slot);
  }
  isDax(ip: VInode): boolean {
    return own(ip) || this.inner.isDax(ip);
  }
  getattr(ip: VInode): VAttr {
    if (!own(ip)) return this.inner.getattr(ip);
    const now = Math.floor(Date.now() / 1000);
    return {
      ino: ip.ino,
      mode: S_IFIFO | 0o600,
      links: 1,
      uid: 0,
      gid: 0,
      size: 0,
      blocks: 0,
      atime: now,
      mtime: now,
      ctime: now,
      dax: false,
    };
  }
  size(ip: VInode): number {
    return own(ip) ? 0 : this.inner.size(ip);
  }
  iRwsem(ip: VInode): number {
    // Nothing takes it on a stream; procfs's shared stand-in serves.
    return own(ip) ? this.mem.layout.files.base + FILES.procfsRwsem : this.inner.iRwsem(ip);
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return own(ip) ? -EINVAL : this.inner.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array, flags?: number): number {
    if (!own(ip)) return this.inner.daxRead(ip, pos, dst, flags);
    if (ip.ino !== PIPE_INO_READ) return -EINVAL;
    return pipeRead(this.mem, currentTid(), ip.slot, dst, nonblock(flags));
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array, flags?: number): number {
    if (!own(ip)) return this.inner.daxWrite(ip, pos, src, flags);
    if (ip.ino !== PIPE_INO_WRITE) return -EINVAL;
    return pipeWrite(this.mem, currentTid(), ip.slot, src, nonblock(flags));
  }
  daxAppend(ip: VInode, src: Uint8Array, flags?: number): [number, number] {
    if (!own(ip)) return this.inner.daxAppend(ip, src, flags);
    return [this.daxWrite(ip, 0, src, flags), 0];
  }
  setSize(ip: VInode, size: number): void {
    if (own(ip)) throw new KernelPanic("PipeMount.setSize", `pipe inode ${ip.ino}`);
    this.inner.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return own(ip) ? 0 : this.inner.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    return own(ip) ? -ESPIPE : this.inner.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return own(ip) ? -ESPIPE : this.inner.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return own(ip) ? -EINVAL : this.inner.fsync(ip);
  }
  writeAccess(ip: VInode, op: "get" | "put" | "deny" | "allow"): number {
    return own(ip) ? 0 : (this.inner.writeAccess?.(ip, op) ?? 0);
  }
  /** The open hook (VfsFs.open): a pipe has none; other inodes pass down. */
  open(ip: VInode, flags: number): number {
    return own(ip) ? 0 : (this.inner.open?.(ip, flags) ?? 0);
  }
  lookup(dir: VInode, name: string): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.mkdir(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.mknod(dir, name, mode);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    if (own(dir)) return -ENOTDIR;
    // A pipe lives on pipefs, which is no mount a name could be linked into.
    return own(ip) ? -EXDEV : this.inner.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    return own(dir) ? -ENOTDIR : this.inner.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    return own(dir) ? -ENOTDIR : this.inner.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    if (own(odir) || own(ndir)) return -ENOTDIR;
    return this.inner.rename(odir, oname, ndir, nname, noReplace);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.symlink(dir, name, target);
  }
  readlink(ip: VInode): string | number {
    return own(ip) ? -EINVAL : this.inner.readlink(ip);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    return own(dir) ? -ENOTDIR : this.inner.readdir(dir, cookie, emit);
  }
}
