/**
 * The VFS file operations the syscall layer calls: open, close, read,
 * write, pread, pwrite, lseek, fstat, ftruncate, fsync, dup, fcntl, on a
 * process's fd table in shared memory (src/fs/file_table.ts). Path
 * operations on directories are in vfs_dir.ts.
 *
 * Data dispatch (Linux's ->read_iter/->write_iter of a DAX-aware fs):
 * - anon files (sockets, pipes: anon_file.ts): their kind's ops, with the
 *   open file (O_NONBLOCK); no position, so pread/pwrite/lseek are ESPIPE;
 * - S_DAX inode: daxRead/daxWrite, device to buffer, no page cache at all
 *   (O_DIRECT changes nothing, as with Linux DAX);
 * - otherwise O_DIRECT: the directIO hook (filemap.ts);
 * - otherwise the page cache (filemapRead/filemapWrite).
 *
 * Locks: the page-cache paths run under i_rwsem taken here (read for
 * reads, write for writes, so an O_APPEND position is chosen under it);
 * daxRead/daxWrite and truncate take the inode locks themselves.
 *
 * Every function returns a negative errno on failure and never throws for
 * bad user input. Buffers are kernel Uint8Arrays; the syscall layer copies
 * from and to user memory.
 *
 * @module
 */

import {
  EBADF,
  EFBIG,
  EINVAL,
  EISDIR,
  ENODEV,
  ENXIO,
  EOPNOTSUPP,
  EOVERFLOW,
  ESPIPE,
} from "../abi/errno.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
  fmodeCanRead,
  fmodeCanWrite,
  O_APPEND,
  O_DIRECT,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
} from "../abi/fcntl.ts";
import { asIno, asInodeSlot, PAGE_SIZE } from "../abi/types.ts";
import { LockClass } from "../sync/lockdep.ts";
import { downRead, downWrite, upRead, upWrite } from "../sync/rwsem.ts";
import { taskNote, withNoKill } from "../sync/current.ts";
import { TASK } from "../abi/layout/mod.ts";
import {
  fdGet,
  fdInstall,
  fdRemove,
  fdtAlloc,
  fdtDup,
  fdtFree,
  fdtOpenFds,
  fdtPutShared,
  fdtTakeCloexec,
  fileAlloc,
  filePos,
  filePut,
  fileRead,
  fileSetPos,
  type OpenFile,
} from "./file_table.ts";
import {
  directIO,
  filemapBlockHasData,
  filemapRead,
  filemapWrite,
  filemapWriteback,
} from "./pagecache/filemap.ts";
import type { VfsFs, VInode } from "./vfs_fs.ts";
import { locksRelease, ofdOwner, posixOwner } from "./locks.ts";
import { ANON_INO_BASE, anonFileOps, anonOwns } from "./anon_file.ts";
export { vfsFstat, vfsGetattr } from "./vfs_stat.ts";
export { vfsDup, vfsDup2, vfsFcntl } from "./vfs_fd.ts";

/** A process as the VFS sees it: the mounted filesystem and its fd table. */
export interface Proc {
  readonly fs: VfsFs;
  /** Index of the process's fd table in the files region. */
  readonly fdt: number;
}

/**
 * st_dev of files on the mounted filesystem, also the dev column of their
 * /proc/PID/maps lines: major 1, minor 0 (Linux's brd /dev/ram0, as the
 * memory device is a RAM block device), encoded as new_encode_dev does.
 */
export const XIP_DEV = 0x0100;

/** What fstat reports (Linux's struct kstat plus the statx DAX attribute). */
export interface VStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  /** 512-byte units. */
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  /** STATX_ATTR_* bits: STATX_ATTR_DAX when the inode is S_DAX. */
  attributes: number;
  /** S_DAX, the same fact as `attributes & STATX_ATTR_DAX`. */
  dax: boolean;
}

// ---------------------------------------------------------------------------
// processes

/**
 * Give a new process an empty fd table with the root as its current
 * directory. Any thread.
 *
 * @returns the Proc, or -EMFILE when every fd table is taken
 */
export function vfsProcCreate(fs: VfsFs): Proc | number {
  const fdt = fdtAlloc(fs.mem, fs.rootIno);
  return fdt < 0 ? fdt : { fs, fdt };
}

/**
 * Give a child process a copy of `proc`'s fd table (fork): the same open
 * files at the same fds, shared (position and flags), one more reference
 * each. Any thread. Entry: no FILE_TABLE lock held; takes and drops the
 * table's lock (fdtDup).
 *
 * @returns the child's Proc, or -EMFILE when every fd table is taken
 */
export function vfsProcDup(proc: Proc): Proc | number {
  const fdt = fdtDup(proc.fs.mem, proc.fdt);
  return fdt < 0 ? fdt : { fs: proc.fs, fdt };
}

/**
 * Close every close-on-exec fd of `proc` (execve's do_close_on_exec). Entry:
 * no lock held; takes and drops the fd-table lock, then releases each file
 * as fdPut does.
 *
 * @returns 0, or the first error a release reported (every such fd is closed
 *   regardless)
 */
export function vfsCloseOnExec(proc: Proc): number {
  let err = 0;
  for (const idx of fdtTakeCloexec(proc.fs.mem, proc.fdt)) {
    const e = fdPut(proc.fs, idx);
    if (e < 0 && err === 0) err = e;
  }
  return err;
}

/**
 * A process (or thread) is done with fd table `fdt`: drop its use; the last
 * user closes every fd and frees the table (exit). The Machine's main thread
 * calls it for a dead Worker's process; it needs nothing but the table
 * index. Writeback of files closed for the last time happens here. Entry: no
 * lock held; each close as vfsClose.
 *
 * @returns 0, or the first error a release reported (every fd is closed
 *   regardless)
 */
export function vfsProcExit(fs: VfsFs, fdt: number): number {
  if (fdtPutShared(fs.mem, fdt)) return 0; // another thread still uses the table
  let err = 0;
  for (const fd of fdtOpenFds(fs.mem, fdt)) {
    const e = vfsClose({ fs, fdt }, fd);
    if (e < 0 && err === 0) err = e;
  }
  fdtFree(fs.mem, fdt);
  return err;
}

// ---------------------------------------------------------------------------
// open-file helpers

/** The inode handle of an open file (the record owns the reference). */
const fileInode = (fs: VfsFs, f: OpenFile): VInode => fs.handle(asIno(f.ino), f.islot);

const isDirInode = (fs: VfsFs, ip: VInode): boolean => (fs.getattr(ip).mode & S_IFMT) === S_IFDIR;

/**
 * Release an open file whose last reference is gone (Linux's __fput):
 * write back its dirty pages when it was open for writing and the inode
 * is not DAX (xip writes back on last close; Linux leaves it to the flusher),
 * then drop the inode reference.
 *
 * @returns 0, or the writeback error
 */
function fileRelease(fs: VfsFs, f: OpenFile): number {
  locksRelease(fs.mem, ofdOwner(f.idx)); // an OFD lock lives as long as its open file
  const ip = fileInode(fs, f);
  let err = 0;
  if (fmodeCanWrite(f.flags) && !fs.isDax(ip)) {
    const wb = filemapWriteback(fs, ip);
    if (wb < 0) err = wb;
  }
  // The write access vfsOpen took for a regular file opened for writing.
  if (fmodeCanWrite(f.flags) && (fs.getattr(ip).mode & S_IFMT) === S_IFREG) {
    fs.writeAccess?.(ip, "put");
  }
  fs.iput(ip);
  return err;
}

/**
 * Drop a reference taken by fdGet; release the file when it was the last
 * (Linux's fput). Also how the Machine drops the reference a dead task held.
 * Entry: no lock held. The release writes back a written file's dirty pages
 * (each page's lock in turn) and iputs the inode (the inode-cache lock; the
 * last reference to an unlinked inode frees it under its page locks and
 * block-map lock).
 *
 * @returns 0, or the release's writeback error
 */
export function fdPut(fs: VfsFs, idx: number): number {
  const last = filePut(fs.mem, idx);
  return last === null ? 0 : fileRelease(fs, last);
}

/**
 * Run `fn` on the open file of `fd`, holding a reference for the call
 * (Linux's fdget/fdput). For the VFS modules only. Entry: no lock held;
 * takes and drops the fd-table lock to get the reference, runs `fn` with no
 * lock held, then drops the reference as fdPut (in a no-kill region).
 *
 * @returns fn's result, or -EBADF
 */
export function withFile(proc: Proc, fd: number, fn: (f: OpenFile, ip: VInode) => number): number {
  const { mem } = proc.fs;
  // The reference is noted in the task's record as it is taken (under the
  // fd table lock) and forgotten as it is dropped (in a no-kill region), so
  // that a task that dies in between has it dropped by the Machine
  // (src/sync/current.ts, src/kernel/reap.ts).
  let prev = 0;
  const idx = fdGet(mem, proc.fdt, fd, (got) => prev = taskNote(mem.k32, TASK.fileRef, got + 1));
  if (idx < 0) return idx;
  try {
    const f = fileRead(mem, idx);
    return fn(f, fileInode(proc.fs, f));
  } finally {
    withNoKill(() => {
      taskNote(mem.k32, TASK.fileRef, prev);
      fdPut(proc.fs, idx);
    });
  }
}

/**
 * Allocate an open file for referenced inode `ip` and install it in the
 * process's table. The inode reference moves into the record; on failure it
 * is dropped. Entry: no lock held; takes and drops FILES.lock, then the
 * fd-table lock (both FILE_TABLE, never together).
 *
 * @returns the fd, -ENFILE or -EMFILE
 */
export function vfsInstallFile(proc: Proc, ip: VInode, flags: number, cloexec: boolean): number {
  const { fs } = proc;
  const idx = fileAllocOrPut(fs, ip, flags);
  if (idx < 0) return idx;
  const fd = fdInstall(fs.mem, proc.fdt, idx, cloexec);
  if (fd < 0) fdPut(fs, idx);
  return fd;
}

/**
 * Give anon object `id` of `kind` (anon_file.ts: a socket) an open file with
 * `flags` and install it in the process's table; the open file owns the
 * object from now on. On failure the object is released through its kind's
 * ops. Entry: no lock held; locks as vfsInstallFile (FILES.lock, then the
 * fd-table lock).
 *
 * @returns the fd, -ENFILE or -EMFILE
 */
export function vfsInstallAnon(
  proc: Proc,
  kind: number,
  id: number,
  flags: number,
  cloexec: boolean,
): number {
  // The anon file's own id stands in the inode slot (VInode.slot).
  const ip = proc.fs.handle(asIno(ANON_INO_BASE + kind), asInodeSlot(id));
  return vfsInstallFile(proc, ip, flags, cloexec);
}

/**
 * Run `fn` on the open file of `fd` when it is an anon file of `kind`,
 * holding a reference for the call. Entry: no lock held; locks as withFile
 * (`fn` runs with no lock held).
 *
 * @returns fn's result, -EBADF, or `notKind` (the fd is something else: the
 *   socket calls' -ENOTSOCK)
 */
export function withAnon(
  proc: Proc,
  fd: number,
  kind: number,
  notKind: number,
  fn: (f: OpenFile) => number,
): number {
  return withFile(proc, fd, (f) => (f.ino === ANON_INO_BASE + kind ? fn(f) : notKind));
}

function fileAllocOrPut(fs: VfsFs, ip: VInode, flags: number): number {
  const idx = fileAlloc(fs.mem, ip.ino, ip.slot, flags);
  if (idx < 0) fs.iput(ip);
  return idx;
}

/**
 * Close `fd` (Linux's close_fd), dropping the process's POSIX record
 * locks on the file's inode. The file is released when this was its last
 * reference (see fileRelease). Entry: no lock held; takes and drops the
 * fd-table lock, then releases as fdPut.
 *
 * @returns 0, -EBADF, or a writeback error (the fd is closed regardless, as
 *   in Linux)
 */
export function vfsClose(proc: Proc, fd: number): number {
  const idx = fdRemove(proc.fs.mem, proc.fdt, fd);
  if (idx < 0) return idx;
  // POSIX: closing any fd of an inode drops the process's record locks on it.
  locksRelease(proc.fs.mem, posixOwner(proc.fdt), fileRead(proc.fs.mem, idx).ino);
  return fdPut(proc.fs, idx);
}

// ---------------------------------------------------------------------------
// data

/** Clamp a transfer to s_maxbytes: the bytes allowed from `pos`, or -EFBIG. */
function clampToMax(fs: VfsFs, pos: number, len: number): number {
  if (pos >= fs.maxBytes) return len === 0 ? 0 : -EFBIG;
  return Math.min(len, fs.maxBytes - pos);
}

/**
 * Read at `pos` into dst by the inode's mode. daxRead takes i_rwsem itself;
 * the page-cache paths run under it for read here.
 */
function doRead(fs: VfsFs, ip: VInode, flags: number, pos: number, dst: Uint8Array): number {
  if (dst.length === 0) return 0;
  if (fs.isDax(ip)) return fs.daxRead(ip, pos, dst, flags);
  const sem = fs.iRwsem(ip);
  downRead(fs.mem.k32, sem, LockClass.I_RWSEM);
  try {
    if ((flags & O_DIRECT) !== 0) return directIO(fs, ip, "read", pos, dst);
    return filemapRead(fs, ip, pos, dst);
  } finally {
    upRead(fs.mem.k32, sem);
  }
}

/**
 * Write src at `pos` (or at EOF with O_APPEND) by the inode's mode. Every
 * path picks an append's position under i_rwsem for write and writes under
 * the same hold, so appends are atomic against each other: the page-cache
 * paths take i_rwsem here, daxWrite and daxAppend take it themselves.
 *
 * @returns [bytes written or -errno, the position the write started at]
 */
function doWrite(
  fs: VfsFs,
  ip: VInode,
  flags: number,
  pos: number,
  src: Uint8Array,
): [number, number] {
  const append = (flags & O_APPEND) !== 0;
  if (fs.isDax(ip)) {
    if (append) return fs.daxAppend(ip, src, flags); // cut at the largest file, as daxWrite is
    if (src.length === 0) return [0, pos];
    if (fs.stream?.(ip)) return [fs.daxWrite(ip, 0, src, flags), pos];
    const len = clampToMax(fs, pos, src.length);
    if (len < 0) return [len, pos];
    return [fs.daxWrite(ip, pos, len < src.length ? src.subarray(0, len) : src, flags), pos];
  }
  const sem = fs.iRwsem(ip);
  downWrite(fs.mem.k32, sem, LockClass.I_RWSEM);
  try {
    if (append) pos = fs.size(ip);
    if (src.length === 0) return [0, pos];
    const len = clampToMax(fs, pos, src.length);
    if (len < 0) return [len, pos];
    const buf = len < src.length ? src.subarray(0, len) : src;
    if ((flags & O_DIRECT) !== 0) return [directIO(fs, ip, "write", pos, buf), pos];
    return [filemapWrite(fs, ip, pos, buf), pos];
  } finally {
    upWrite(fs.mem.k32, sem);
  }
}

/** -EBADF unless readable; -EISDIR for a directory; else 0. */
function checkRead(fs: VfsFs, f: OpenFile, ip: VInode): number {
  if (!fmodeCanRead(f.flags)) return -EBADF;
  return isDirInode(fs, ip) ? -EISDIR : 0;
}

/**
 * read(2): read up to dst.length bytes at the file position and advance it.
 * Concurrent reads through one shared open file each see a position snapshot
 * (Linux before f_pos_lock did the same). Entry: no lock held; withFile's
 * fd-table lock, then i_rwsem for read around the copy into `dst` (the
 * caller's kernel buffer), with page locks under it for the page cache.
 *
 * @returns bytes read (0 at EOF), -EBADF (bad fd or not open for reading),
 *   -EISDIR, -EINVAL (O_DIRECT unaligned), or an I/O error
 */
export function vfsRead(proc: Proc, fd: number, dst: Uint8Array): number {
  return withFile(proc, fd, (f, ip) => {
    if (anonOwns(f.ino)) return fmodeCanRead(f.flags) ? anonFileOps(f.ino).read(f, dst) : -EBADF;
    const bad = checkRead(proc.fs, f, ip);
    if (bad < 0) return bad;
    const pos = filePos(proc.fs.mem, f.idx);
    const n = doRead(proc.fs, ip, f.flags, pos, dst);
    if (n > 0) fileSetPos(proc.fs.mem, f.idx, pos + n);
    return n;
  });
}

/**
 * pread64(2): read at `pos`; the file position is unchanged. Entry: no lock
 * held; locks as vfsRead.
 *
 * @returns as vfsRead, and -EINVAL for a negative position
 */
export function vfsPread(proc: Proc, fd: number, dst: Uint8Array, pos: number): number {
  return withFile(proc, fd, (f, ip) => {
    // As ksys_pread64: no FMODE_PREAD is -ESPIPE before vfs_read's checks.
    if (proc.fs.stream?.(ip)) return -ESPIPE;
    const bad = checkRead(proc.fs, f, ip);
    if (bad < 0) return bad;
    if (!Number.isInteger(pos) || pos < 0) return -EINVAL;
    return doRead(proc.fs, ip, f.flags, pos, dst);
  });
}

/**
 * write(2): write src at the file position (at EOF with O_APPEND) and
 * advance it past the bytes written. Entry: no lock held; withFile's
 * fd-table lock, then i_rwsem for write around the copy, with page locks
 * (page cache) and the block-map lock (new blocks) under it.
 *
 * @returns bytes written, -EBADF (bad fd or not open for writing), -EFBIG,
 *   -ENOSPC, -EINVAL (O_DIRECT unaligned), or an I/O error
 */
export function vfsWrite(proc: Proc, fd: number, src: Uint8Array): number {
  return withFile(proc, fd, (f, ip) => {
    if (!fmodeCanWrite(f.flags)) return -EBADF;
    if (anonOwns(f.ino)) return anonFileOps(f.ino).write(f, src);
    const [n, at] = doWrite(proc.fs, ip, f.flags, filePos(proc.fs.mem, f.idx), src);
    if (n > 0) fileSetPos(proc.fs.mem, f.idx, at + n);
    return n;
  });
}

/**
 * pwrite64(2): write at `pos`; the position is unchanged. With O_APPEND the
 * data goes to EOF whatever `pos` says (Linux's documented behaviour).
 * Entry: no lock held; locks as vfsWrite.
 *
 * @returns as vfsWrite, and -EINVAL for a negative position
 */
export function vfsPwrite(proc: Proc, fd: number, src: Uint8Array, pos: number): number {
  return withFile(proc, fd, (f, ip) => {
    if (proc.fs.stream?.(ip)) return -ESPIPE;
    if (!fmodeCanWrite(f.flags)) return -EBADF;
    if (!Number.isInteger(pos) || pos < 0) return -EINVAL;
    return doWrite(proc.fs, ip, f.flags, pos, src)[0];
  });
}

/**
 * SEEK_DATA / SEEK_HOLE from `pos` (Linux's iomap_seek_data/hole). Data is
 * a mapped block or a dirty cached page; everything else below i_size is a
 * hole, and EOF is a hole. Caller holds i_rwsem for read.
 *
 * @returns the offset, or -ENXIO when pos is at or past EOF (or no data follows)
 */
function seekDataHole(fs: VfsFs, ip: VInode, pos: number, wantData: boolean): number {
  const size = fs.size(ip);
  if (pos >= size) return -ENXIO;
  const last = Math.ceil(size / PAGE_SIZE);
  for (let b = Math.floor(pos / PAGE_SIZE); b < last; b++) {
    const has = filemapBlockHasData(fs, ip, b);
    if (typeof has === "number") return has;
    if (has === wantData) return Math.max(pos, b * PAGE_SIZE);
  }
  return wantData ? -ENXIO : size;
}

/** seekDataHole under i_rwsem for read. */
function seekDataHoleLocked(fs: VfsFs, ip: VInode, pos: number, wantData: boolean): number {
  const sem = fs.iRwsem(ip);
  downRead(fs.mem.k32, sem, LockClass.I_RWSEM);
  try {
    return seekDataHole(fs, ip, pos, wantData);
  } finally {
    upRead(fs.mem.k32, sem);
  }
}

/**
 * lseek(2) (llseek: 64-bit offsets as JS numbers). Directories accept
 * SEEK_SET and SEEK_CUR only (a getdents cookie). Entry: no lock held;
 * withFile's fd-table lock, and i_rwsem for read for SEEK_DATA and
 * SEEK_HOLE.
 *
 * @returns the new position, -EBADF, -EINVAL (bad whence or a negative
 *   result), -ENXIO (SEEK_DATA/SEEK_HOLE at or past EOF), -EOVERFLOW
 */
export function vfsLseek(proc: Proc, fd: number, offset: number, whence: number): number {
  const { fs } = proc;
  return withFile(proc, fd, (f, ip) => {
    if (fs.stream?.(ip)) return -ESPIPE;
    if (!Number.isInteger(offset)) return -EINVAL;
    const pos = filePos(fs.mem, f.idx);
    const dir = isDirInode(fs, ip);
    let next: number;
    switch (whence) {
      case SEEK_SET:
        next = offset;
        break;
      case SEEK_CUR:
        next = pos + offset;
        break;
      case SEEK_END:
        if (dir) return -EINVAL;
        next = fs.size(ip) + offset;
        break;
      case SEEK_DATA:
      case SEEK_HOLE: {
        if (dir) return -EINVAL;
        if (offset < 0) return -ENXIO;
        next = seekDataHoleLocked(fs, ip, offset, whence === SEEK_DATA);
        if (next < 0) return next;
        break;
      }
      default:
        return -EINVAL;
    }
    if (next < 0) return -EINVAL;
    if (next > Number.MAX_SAFE_INTEGER) return -EOVERFLOW;
    fileSetPos(fs.mem, f.idx, next);
    return next;
  });
}

/**
 * ftruncate(2): grow (the new range reads as zeros, no block allocated) or
 * shrink (blocks past the end freed, the partial last block's tail zeroed).
 *
 * Entry: no lock held (a syscall). Takes and drops the fd-table lock
 * (FILE_TABLE) for the file reference; the filesystem's truncate takes
 * i_rwsem then invalidate_lock, both for write, and under them the i_mmap
 * and page-table locks (unmap), page locks and the block-map lock (see xipfs
 * truncate). Dropping the file reference may release the file (fdPut).
 *
 * @returns 0, -EBADF, -EINVAL (negative length, not a regular file, or not
 *   open for writing, as Linux), -EFBIG
 */
export function vfsFtruncate(proc: Proc, fd: number, length: number): number {
  const { fs } = proc;
  return withFile(proc, fd, (f, ip) => {
    if (!Number.isInteger(length) || length < 0) return -EINVAL;
    if ((fs.getattr(ip).mode & S_IFMT) !== S_IFREG || !fmodeCanWrite(f.flags)) return -EINVAL;
    if (length > fs.maxBytes) return -EFBIG;
    return vfsTruncateInode(fs, ip, length);
  });
}

/** Every fallocate mode bit Linux knows (FALLOC_FL_SUPPORTED_MASK). */
const FALLOC_FL_KNOWN = 0x7f;

/**
 * The checks of fallocate(2) that look only at its arguments, in the order
 * of Linux's vfs_fallocate: a negative offset or a length <= 0 is -EINVAL;
 * an unknown mode bit, PUNCH_HOLE with ZERO_RANGE, or PUNCH_HOLE without
 * KEEP_SIZE is -EOPNOTSUPP; COLLAPSE_RANGE or INSERT_RANGE with any other
 * bit, or UNSHARE_RANGE with anything but KEEP_SIZE, is -EINVAL.
 *
 * @returns 0 when the arguments are acceptable, else -errno
 */
export function fallocateArgsCheck(mode: number, off: number, len: number): number {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len <= 0) return -EINVAL;
  if ((mode & ~FALLOC_FL_KNOWN) !== 0) return -EOPNOTSUPP;
  const punchZero = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
  if ((mode & punchZero) === punchZero) return -EOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0) {
    return -EOPNOTSUPP;
  }
  for (const only of [FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE]) {
    if ((mode & only) !== 0 && (mode & ~only) !== 0) return -EINVAL;
  }
  const unshareOk = FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE;
  if ((mode & FALLOC_FL_UNSHARE_RANGE) !== 0 && (mode & ~unshareOk) !== 0) return -EINVAL;
  return 0;
}

/**
 * fallocate(2): punch-hole through fs.punchHole, every other mode through
 * fs.fallocate (xipfs: allocate, zero, collapse, insert; see
 * src/fs/xipfs/xipfs_falloc.ts). Caller holds no inode lock; the filesystem
 * takes i_rwsem and invalidate_lock.
 *
 * @returns 0, -EBADF (bad fd or not open for writing), -EINVAL (offset < 0,
 *   len <= 0, a mode combination vfs_fallocate refuses, an unaligned or
 *   out-of-range collapse or insert), -EOPNOTSUPP (a mode the filesystem
 *   lacks), -EISDIR, -ENODEV (not a regular file), -EFBIG (offset + len
 *   past the largest file), -ENOSPC, or a device error
 */
export function vfsFallocate(
  proc: Proc,
  fd: number,
  mode: number,
  off: number,
  len: number,
): number {
  const { fs } = proc;
  return withFile(proc, fd, (f, ip) => {
    const bad = fallocateArgsCheck(mode, off, len);
    if (bad < 0) return bad;
    if (!fmodeCanWrite(f.flags)) return -EBADF;
    const fmt = fs.getattr(ip).mode & S_IFMT;
    if (fmt === S_IFDIR) return -EISDIR;
    if (fmt !== S_IFREG) return -ENODEV;
    if (off + len > fs.maxBytes) return -EFBIG;
    if (mode === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) return fs.punchHole(ip, off, len);
    return fs.fallocate(ip, mode, off, len);
  });
}

/**
 * Truncate `ip` to `length`: the filesystem takes i_rwsem and
 * invalidate_lock and handles cached pages. Caller holds no inode lock.
 */
export function vfsTruncateInode(fs: VfsFs, ip: VInode, length: number): number {
  return fs.truncate(ip, length);
}

/**
 * fsync(2): the filesystem writes back the file's dirty cached pages (a DAX
 * file has none) and makes its data and metadata durable (fs.fsync; what
 * "durable" means is src/fs/xipfs/xipfs_sync.ts's contract).
 *
 * Entry: no lock held (a syscall). Takes and drops the fd-table lock
 * (FILE_TABLE) for the file reference; fs.fsync takes each dirty page's lock
 * in turn (writepage's getBlock takes the block-map lock to fill holes) and
 * the image's sync lock. Returns with no lock held.
 *
 * @returns 0, -EBADF, or the first I/O error
 */
export function vfsFsync(proc: Proc, fd: number): number {
  return withFile(proc, fd, (_f, ip) => proc.fs.fsync(ip));
}

// ---------------------------------------------------------------------------
