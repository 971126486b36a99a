/**
 * A process's files: the seam between the syscall layer and the VFS
 * (Linux's files_struct as the syscalls use it). Syscalls call a FileGlue;
 * the Worker makes one per process (VfsFiles.create), and the Machine's
 * main thread closes a dead process's files from the table index alone
 * (closeFilesOf).
 *
 * Console fds. fds 0, 1 and 2 of a new process are the console's input,
 * output and error streams (src/kernel/console.ts): three ordinary open
 * files on character-device inodes, so close, dup and the rest treat them
 * as they treat any file, and `close(1); open(...)` redirects stdout as on
 * Linux.
 *
 * Every method returns a negative errno for bad input and never throws.
 * Buffers are kernel buffers except for `direct`, which moves data
 * between the file and user memory itself.
 *
 * @module
 */

import { EACCES, EBADF, EINVAL, EISDIR, ENODEV, ENOENT, ENOTDIR, ENOTTY } from "../abi/errno.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  fmodeCanRead,
  fmodeCanWrite,
  NAME_MAX,
  O_DIRECT,
  O_RDONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../abi/fcntl.ts";
import type { MmapFile } from "../mm/vma.ts";
import { doMmap } from "../mm/mmap.ts";
import { directIORead, directIOWrite } from "../fs/direct_io.ts";
import { mmapFile } from "../fs/file_vm_ops.ts";
import {
  fdtCwd,
  fdtGet,
  fdtNofile,
  fdtSetCwd,
  fdtSetNofile,
  filePos,
  fileSetPos,
} from "../fs/file_table.ts";
import { pathLookup } from "../fs/namei.ts";
import {
  emptyStatfs,
  mustBeDir,
  PROC_SUPER_MAGIC,
  ST_NODEV,
  ST_NOEXEC,
  ST_NOSUID,
  vfsAccess,
  vfsGetcwd,
  type VStatfs,
  XIPFS_STATFS_MAGIC,
} from "../fs/vfs_cwd.ts";
import { asIno, type Ino, type MmId, PAGE_SIZE } from "../abi/types.ts";

import { procfsOwns } from "../fs/procfs/procfs.ts";
import {
  type Proc,
  vfsClose,
  vfsCloseOnExec,
  vfsDup,
  vfsDup2,
  vfsFallocate,
  vfsFcntl,
  vfsFstat,
  vfsFsync,
  vfsFtruncate,
  vfsInstallFile,
  vfsLseek,
  vfsPread,
  vfsProcCreate,
  vfsProcDup,
  vfsProcExit,
  vfsPwrite,
  vfsRead,
  vfsWrite,
  type VStat,
  withFile,
} from "../fs/vfs.ts";
import {
  vfsChdir,
  vfsGetdents64,
  vfsLink,
  vfsMkdir,
  vfsOpen,
  vfsReadlink,
  vfsRename,
  vfsRmdir,
  vfsStat,
  vfsSymlink,
  vfsUnlink,
} from "../fs/vfs_path.ts";
import { vfsPoll } from "../fs/vfs_poll.ts";
import type { VfsFs, VInode } from "../fs/vfs_fs.ts";
import type { ExecFile } from "./exec_types.ts";
import type { KernelFs } from "./fs_mount.ts";
import { consoleInstall } from "./console.ts";
import { pipeCreate } from "./pipe_fs.ts";
import type { InodeRef, XipFs } from "../fs/xipfs/xipfs_live.ts";

/**
 * A process's files: every method works on the calling process's fd table
 * and returns a negative errno on failure.
 */
export interface FileGlue {
  /** Index + 1 of the process's fd table (PROC.fdTable); 0 when none. */
  readonly fdTable: number;
  /** The process as the VFS sees it (for the socket calls' path and fd work, sys_socket.ts). */
  readonly proc: Proc;
  /** openat(2): the new fd or -errno. `dirfd` is AT_FDCWD or an open directory. */
  openat(dirfd: number, path: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** dup(2) and fcntl's F_DUPFD: the lowest free fd >= `minFd` on the same open file. */
  dup(fd: number, minFd?: number, cloexec?: boolean): number;
  /** dup3(2): `newFd` names `oldFd`'s open file (what it named is closed). */
  dup3(oldFd: number, newFd: number, cloexec: boolean): number;
  /** fcntl(2)'s descriptor and status-flag commands (vfsFcntl). */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** read(2) at the file position into `dst`: bytes read (0 at EOF) or -errno. */
  read(fd: number, dst: Uint8Array): number;
  write(fd: number, src: Uint8Array): number;
  pread(fd: number, dst: Uint8Array, pos: number): number;
  pwrite(fd: number, src: Uint8Array, pos: number): number;
  /** lseek: the new position or -errno. */
  lseek(fd: number, off: number, whence: number): number;
  fstat(fd: number): VStat | number;
  ftruncate(fd: number, len: number): number;
  /** fallocate(2) (vfsFallocate): 0 or -errno. */
  fallocate(fd: number, mode: number, off: number, len: number): number;
  fsync(fd: number): number;
  unlinkat(dirfd: number, path: string, flags: number): number;
  /** mkdirat(2): 0 or -errno. */
  mkdirat(dirfd: number, path: string, mode: number): number;
  /** poll(2)'s events of `fd` now (vfsPoll): POLL* bits, POLLNVAL when it is not open. */
  poll(fd: number): number;
  /** linkat(2) with AT_SYMLINK_FOLLOW and AT_EMPTY_PATH in `flags`: 0 or -errno. */
  linkat(od: number, op: string, nd: number, np: string, flags: number): number;
  /** linux_dirent64 records filling at most `max` bytes, or -errno. */
  getdents64(fd: number, max: number): Uint8Array | number;
  /** stat of `path` relative to `dirfd`, following a final symlink when `follow`. */
  statat(dirfd: number, path: string, follow: boolean): VStat | number;
  /** faccessat(2) (vfsAccess): 0 or -errno. */
  accessat(dirfd: number, path: string, mode: number, follow: boolean): number;
  /** readlinkat(2): the target or -errno. */
  readlinkat(dirfd: number, path: string): string | number;
  /** renameat2(2) without flags other than RENAME_NOREPLACE: 0 or -errno. */
  renameat(od: number, op: string, nd: number, np: string, noReplace: boolean): number;
  /** symlinkat(2): 0 or -errno. */
  symlinkat(target: string, dirfd: number, path: string): number;
  /** chdir(2), fchdir(2), getcwd(2). */
  chdir(path: string): number;
  fchdir(fd: number): number;
  getcwd(): string | number;
  /** statfs of the filesystem `path` (or, with a number, fd) is on. */
  statfs(where: string | number): VStatfs | number;
  /**
   * What the record-lock calls need of `fd`: its open-file record, inode,
   * flags, position and size, and the fd table (the lock owner), or -EBADF.
   */
  lockInfo(fd: number): LockInfo | number;
  /** RLIMIT_NOFILE of the fd table: [soft, hard]; set it (0 <= soft <= hard <= FDT_FDS). */
  nofile(): [number, number];
  setNofile(soft: number, hard: number): void;
  /**
   * Run `map` with what doMmap needs for `fd`, holding a reference on the
   * file for the call (the VMA takes its own).
   *
   * @returns map's result, or -EBADF, -ENODEV (not a regular file)
   */
  mmap(fd: number, map: (file: MmapFile) => number): number;
  /**
   * O_DIRECT straight between the file and user memory at `va` (pinned
   * with get_user_pages; no kernel buffer), at `pos`, or at the file
   * position (advanced) when pos < 0.
   *
   * @returns bytes moved or -errno; null when `fd` is not an O_DIRECT
   *   page-cache file (DAX files ignore O_DIRECT, as Linux's do)
   */
  direct(fd: number, write: boolean, va: number, len: number, pos: number): number | null;
  /**
   * Run `fn` on the xipfs inode a regular file `fd` names (for ioctls that
   * work on the inode: FS_IOC_FS[GS]ETXATTR), holding a reference on the
   * file for the call.
   *
   * @returns fn's result, or -EBADF, -ENOTTY (not an xipfs regular file)
   */
  withInode(fd: number, fn: (xip: XipFs, ip: InodeRef, writable: boolean) => number): number;
  /** Close every fd and free the table (exit). Entry: no lock held. */
  closeAll(): void;
  /**
   * A copy of the fd table for a forked child: the same open files at the
   * same fds. @returns the child's PROC.fdTable (index + 1), or -EMFILE
   */
  dupTable(): number;
  /** The same fd table for a new thread (CLONE_FILES). @returns its PROC.fdTable */
  shareTable(): number;
  /**
   * pipe2: a new pipe's [read fd, write fd] (pipe_fs.ts), or -ENFILE, -EMFILE.
   */
  pipe(nonblock: boolean, cloexec: boolean): [number, number] | number;
  /**
   * Open `path` for exec (see VfsFiles.openExec), mapping its segments
   * into mm `into` (execve's new mm).
   */
  openExec(path: string, into: MmId): ExecFile | number;
  /**
   * execve's point of no return: close the close-on-exec fds, and use mm
   * `mm` from now on. Entry: no lock held.
   */
  execFlush(mm: MmId): void;
}

const ifmt = (fs: VfsFs, ip: VInode): number => fs.getattr(ip).mode & S_IFMT;

/** FileGlue.lockInfo's answer (a snapshot: valid for the calling syscall). */
export interface LockInfo {
  idx: number;
  ino: number;
  flags: number;
  pos: number;
  size: number;
  fdt: number;
}

/** The files of one process, over the VFS of this thread. */
export class VfsFiles implements FileGlue {
  readonly fdTable: number;
  #open = true;

  /** The mm direct I/O pins user pages in: the process's (execve switches it). */
  mm: MmId;

  private constructor(readonly fs: KernelFs, readonly proc: Proc, mm: MmId) {
    this.mm = mm;
    this.fdTable = proc.fdt + 1;
  }

  /**
   * A fresh fd table for a process running mm `mm`, with fds 0, 1 and 2
   * open on console `console` (a cookie the caller holds a reference on).
   * Entry: this thread's task is the process's.
   *
   * @returns the files, or -EMFILE/-ENFILE when no table or record is free,
   *   -ENXIO when the console is gone
   */
  static create(fs: KernelFs, mm: MmId, console: number): VfsFiles | number {
    const proc = vfsProcCreate(fs.vfs);
    if (typeof proc === "number") return proc;
    const r = consoleInstall(console, (ip, flags) => vfsInstallFile(proc, ip, flags, false));
    if (r < 0) {
      vfsProcExit(fs.vfs, proc.fdt);
      return r;
    }
    return new VfsFiles(fs, proc, mm);
  }

  /**
   * The files of a process whose fd table `fdTable` (PROC.fdTable: index +
   * 1) already exists (a forked child, running mm `mm`).
   */
  static attach(fs: KernelFs, fdTable: number, mm: MmId): VfsFiles {
    return new VfsFiles(fs, { fs: fs.vfs, fdt: fdTable - 1 }, mm);
  }

  pipe(nonblock: boolean, cloexec: boolean): [number, number] | number {
    return pipeCreate(this.proc, nonblock, cloexec);
  }

  /** Share this fd table with a new thread (CLONE_FILES): one more user. */
  shareTable(): number {
    fdtGet(this.fs.mem, this.proc.fdt);
    return this.fdTable;
  }

  /**
   * A copy of this process's fd table for a child (fork): the same open
   * files at the same fds.
   *
   * @returns the child's fd table (index + 1, for PROC.fdTable), or -EMFILE
   */
  dupTable(): number {
    const p = vfsProcDup(this.proc);
    return typeof p === "number" ? p : p.fdt + 1;
  }

  /**
   * Run `fn` with the process's current directory set to `dirfd`'s
   * directory (the *at() calls). The swap is private to this process: its
   * fd table's cwd word is read only by its own calls, one at a time.
   */
  #at(dirfd: number, path: string, fn: () => number): number {
    if (dirfd === AT_FDCWD || path.startsWith("/")) return fn();
    const { mem } = this.fs;
    return withFile(this.proc, dirfd, (_f, ip) => {
      if (ifmt(this.fs.vfs, ip) !== S_IFDIR) return -ENOTDIR;
      const cwd = fdtCwd(mem, this.proc.fdt);
      fdtSetCwd(mem, this.proc.fdt, ip.ino);
      try {
        return fn();
      } finally {
        fdtSetCwd(mem, this.proc.fdt, cwd);
      }
    });
  }

  /**
   * Run `fn` with the directory relative paths start at: the cwd for
   * AT_FDCWD or an absolute path, else `dirfd`'s directory, referenced for
   * the call (-ENOTDIR when it is not one).
   */
  #base(dirfd: number, path: string, fn: (base: Ino) => number): number {
    if (dirfd === AT_FDCWD || path.startsWith("/")) {
      return fn(asIno(fdtCwd(this.fs.mem, this.proc.fdt)));
    }
    return withFile(this.proc, dirfd, (_f, ip) => {
      if (ifmt(this.fs.vfs, ip) !== S_IFDIR) return -ENOTDIR;
      return fn(ip.ino);
    });
  }

  openat(dirfd: number, path: string, flags: number, mode: number): number {
    return this.#at(dirfd, path, () => vfsOpen(this.proc, path, flags, mode));
  }
  close(fd: number): number {
    return vfsClose(this.proc, fd);
  }
  dup(fd: number, minFd = 0, cloexec = false): number {
    return vfsDup(this.proc, fd, minFd, cloexec);
  }
  dup3(oldFd: number, newFd: number, cloexec: boolean): number {
    return vfsDup2(this.proc, oldFd, newFd, cloexec);
  }
  fcntl(fd: number, cmd: number, arg: number): number {
    if (cmd === F_DUPFD || cmd === F_DUPFD_CLOEXEC) {
      const [soft] = fdtNofile(this.fs.mem, this.proc.fdt);
      if (arg < 0 || arg >= soft) return -EINVAL; // Linux: arg past RLIMIT_NOFILE
    }
    return vfsFcntl(this.proc, fd, cmd, arg);
  }
  read(fd: number, dst: Uint8Array): number {
    return vfsRead(this.proc, fd, dst);
  }
  write(fd: number, src: Uint8Array): number {
    return vfsWrite(this.proc, fd, src);
  }
  pread(fd: number, dst: Uint8Array, pos: number): number {
    return vfsPread(this.proc, fd, dst, pos);
  }
  pwrite(fd: number, src: Uint8Array, pos: number): number {
    return vfsPwrite(this.proc, fd, src, pos);
  }
  lseek(fd: number, off: number, whence: number): number {
    return vfsLseek(this.proc, fd, off, whence);
  }
  fstat(fd: number): VStat | number {
    return vfsFstat(this.proc, fd);
  }
  ftruncate(fd: number, len: number): number {
    return vfsFtruncate(this.proc, fd, len);
  }
  fallocate(fd: number, mode: number, off: number, len: number): number {
    return vfsFallocate(this.proc, fd, mode, off, len);
  }
  fsync(fd: number): number {
    return vfsFsync(this.proc, fd);
  }
  unlinkat(dirfd: number, path: string, flags: number): number {
    return this.#at(
      dirfd,
      path,
      () => (flags & AT_REMOVEDIR) !== 0 ? vfsRmdir(this.proc, path) : vfsUnlink(this.proc, path),
    );
  }
  mkdirat(dirfd: number, path: string, mode: number): number {
    return this.#at(dirfd, path, () => vfsMkdir(this.proc, path, mode));
  }
  poll(fd: number): number {
    return vfsPoll(this.proc, fd);
  }
  statat(dirfd: number, path: string, follow: boolean): VStat | number {
    let st: VStat | number = -ENOENT;
    const r = this.#at(dirfd, path, () => {
      st = vfsStat(this.proc, path, follow);
      return typeof st === "number" ? st : 0;
    });
    return r < 0 ? r : st;
  }
  accessat(dirfd: number, path: string, mode: number, follow: boolean): number {
    return this.#base(dirfd, path, (base) => vfsAccess(this.proc, base, path, mode, follow));
  }
  readlinkat(dirfd: number, path: string): string | number {
    let out: string | number = -ENOENT;
    const r = this.#at(dirfd, path, () => {
      out = vfsReadlink(this.proc, path);
      return typeof out === "number" ? out : 0;
    });
    return r < 0 ? r : out;
  }
  renameat(od: number, op: string, nd: number, np: string, noReplace: boolean): number {
    return this.#base(
      od,
      op,
      (oldBase) =>
        this.#base(
          nd,
          np,
          (newBase) => vfsRename(this.proc, op, np, { oldBase, newBase, noReplace }),
        ),
    );
  }
  symlinkat(target: string, dirfd: number, path: string): number {
    return this.#at(dirfd, path, () => vfsSymlink(this.proc, target, path));
  }
  chdir(path: string): number {
    return vfsChdir(this.proc, path);
  }
  fchdir(fd: number): number {
    return withFile(this.proc, fd, (_f, ip) => {
      const bad = mustBeDir(this.fs.vfs, ip);
      if (bad < 0) return bad;
      fdtSetCwd(this.fs.mem, this.proc.fdt, ip.ino);
      return 0;
    });
  }
  getcwd(): string | number {
    return vfsGetcwd(this.proc);
  }
  statfs(where: string | number): VStatfs | number {
    let out: VStatfs | number = -ENOENT;
    const r = typeof where === "number"
      ? withFile(this.proc, where, (_f, ip) => {
        out = this.#statfsOf(ip);
        return 0;
      })
      : this.#lookup(where, (ip) => {
        out = this.#statfsOf(ip);
        return 0;
      });
    return r < 0 ? r : out;
  }
  nofile(): [number, number] {
    return fdtNofile(this.fs.mem, this.proc.fdt);
  }
  lockInfo(fd: number): LockInfo | number {
    let info: LockInfo | null = null;
    const r = withFile(this.proc, fd, (f, ip) => {
      const size = this.fs.vfs.size(ip);
      info = {
        idx: f.idx,
        ino: ip.ino,
        flags: f.flags,
        pos: filePos(this.fs.mem, f.idx),
        size,
        fdt: this.proc.fdt,
      };
      return 0;
    });
    return r < 0 ? r : info!;
  }
  setNofile(soft: number, hard: number): void {
    fdtSetNofile(this.fs.mem, this.proc.fdt, soft, hard);
  }

  /** Run `fn` on the inode `path` names (followed), referenced for the call. */
  #lookup(path: string, fn: (ip: VInode) => number): number {
    const vfs = this.fs.vfs;
    const ip = pathLookup(vfs, asIno(fdtCwd(this.fs.mem, this.proc.fdt)), path, true);
    if (typeof ip === "number") return ip;
    try {
      return fn(ip);
    } finally {
      vfs.iput(ip);
    }
  }

  /** statfs of the filesystem inode `ip` is on: procfs, or the root xipfs. */
  #statfsOf(ip: VInode): VStatfs {
    if (procfsOwns(ip.ino)) return emptyStatfs(PROC_SUPER_MAGIC, ST_NOSUID | ST_NODEV | ST_NOEXEC);
    const c = this.fs.xip.statfsCounts();
    return {
      type: XIPFS_STATFS_MAGIC,
      bsize: PAGE_SIZE,
      blocks: c.blocks,
      bfree: c.bfree,
      bavail: c.bfree,
      files: c.files,
      ffree: c.ffree,
      namelen: NAME_MAX,
      frsize: PAGE_SIZE,
      flags: 0,
    };
  }
  linkat(od: number, op: string, nd: number, np: string, flags: number): number {
    const proc = this.proc;
    if (op === "" && (flags & AT_EMPTY_PATH) !== 0) {
      // The dirfd's own file (Linux's flink); AT_FDCWD names the current directory.
      if (od === AT_FDCWD) {
        return this.#base(nd, np, (newBase) => vfsLink(proc, ".", np, { newBase }));
      }
      return withFile(
        proc,
        od,
        (_f, empty) => this.#base(nd, np, (newBase) => vfsLink(proc, "", np, { newBase, empty })),
      );
    }
    const follow = (flags & AT_SYMLINK_FOLLOW) !== 0;
    return this.#base(
      od,
      op,
      (oldBase) =>
        this.#base(nd, np, (newBase) => vfsLink(proc, op, np, { oldBase, newBase, follow })),
    );
  }
  getdents64(fd: number, max: number): Uint8Array | number {
    const buf = new Uint8Array(max);
    const n = vfsGetdents64(this.proc, fd, buf);
    return n < 0 ? n : buf.subarray(0, n);
  }

  mmap(fd: number, map: (file: MmapFile) => number): number {
    const { vfs, xip } = this.fs;
    return withFile(this.proc, fd, (f, ip) => {
      // procfs files and directories have no pages to map (Linux: no ->mmap, ENODEV).
      if (procfsOwns(ip.ino) || ifmt(vfs, ip) !== S_IFREG) return -ENODEV;
      return map(mmapFile(xip, ip, fmodeCanRead(f.flags), fmodeCanWrite(f.flags)));
    });
  }

  withInode(fd: number, fn: (xip: XipFs, ip: InodeRef, writable: boolean) => number): number {
    const { vfs, xip } = this.fs;
    return withFile(this.proc, fd, (f, ip) => {
      if (procfsOwns(ip.ino) || ifmt(vfs, ip) !== S_IFREG) return -ENOTTY;
      return fn(xip, ip, fmodeCanWrite(f.flags));
    });
  }

  direct(fd: number, write: boolean, va: number, len: number, pos: number): number | null {
    const { vfs, xip, mem } = this.fs;
    let applies = true;
    const r = withFile(this.proc, fd, (f, ip) => {
      if ((f.flags & O_DIRECT) === 0 || procfsOwns(ip.ino) || vfs.isDax(ip)) {
        applies = false;
        return 0;
      }
      if (write ? !fmodeCanWrite(f.flags) : !fmodeCanRead(f.flags)) return -EBADF;
      if (ifmt(vfs, ip) === S_IFDIR) return -EISDIR;
      const at = pos >= 0 ? pos : filePos(mem, f.idx);
      const n = write
        ? directIOWrite(xip, this.mm, ip, at, va, len)
        : directIORead(xip, this.mm, ip, at, va, len);
      if (n > 0 && pos < 0) fileSetPos(mem, f.idx, at + n);
      return n;
    });
    return applies || r < 0 ? r : null;
  }

  closeAll(): void {
    if (!this.#open) return;
    this.#open = false;
    vfsProcExit(this.fs.vfs, this.proc.fdt);
  }

  execFlush(mm: MmId): void {
    this.mm = mm;
    vfsCloseOnExec(this.proc);
  }

  /**
   * Open `path` for exec, through the same fd table (the fd is closed by
   * ExecFile.close before exec returns). Text maps through `mmap` above,
   * so a DAX file's text is the device's frames and a page-cache file's
   * is the cache's pages.
   *
   * @returns the file, or -ENOENT/-ENOTDIR/-ELOOP (lookup), -EACCES for a
   *   file that is not regular, -ETXTBSY when it is open for writing, -EMFILE
   */
  openExec(path: string, into: MmId = this.mm): ExecFile | number {
    const fd = vfsOpen(this.proc, path, O_RDONLY);
    if (fd < 0) return fd;
    const st = vfsFstat(this.proc, fd);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFREG) {
      vfsClose(this.proc, fd);
      // Linux's do_open_execat: anything but a regular file is EACCES.
      return typeof st === "number" ? st : -EACCES;
    }
    // deny_write_access: while the exec runs, and then through each mapping
    // made with `mmap` below (VM_DENYWRITE), nobody may open it for writing.
    const { vfs } = this.fs;
    const denied = withFile(this.proc, fd, (_f, ip) => vfs.writeAccess?.(ip, "deny") ?? 0);
    if (denied < 0) {
      vfsClose(this.proc, fd);
      return denied;
    }
    const allow = () => withFile(this.proc, fd, (_f, ip) => vfs.writeAccess?.(ip, "allow") ?? 0);
    const mem = this.fs.mem, mm = into;
    return {
      size: st.size,
      pread: (pos, dst) => {
        let done = 0;
        while (done < dst.length) {
          const n = vfsPread(this.proc, fd, dst.subarray(done), pos + done);
          if (n < 0) return done > 0 ? done : n;
          if (n === 0) break;
          done += n;
        }
        return done;
      },
      mmap: (addr, len, prot, flags, pgoff) =>
        this.mmap(
          fd,
          (file) => doMmap(mem, mm, addr, len, prot, flags, { ...file, denyWrite: true }, pgoff),
        ),
      close: () => {
        allow();
        vfsClose(this.proc, fd);
      },
    };
  }
}

/**
 * Close every file of fd table `fdTable` (PROC.fdTable: index + 1) and free
 * the table, for a process whose Worker died. Main thread, after
 * recoverTask. No-op for 0 (the process had no table yet). Entry: no lock
 * held (the dead task's were released by recoverTask); locks as vfsProcExit.
 *
 * @returns 0, or the first writeback error
 */
export function closeFilesOf(fs: KernelFs, fdTable: number): number {
  return fdTable === 0 ? 0 : vfsProcExit(fs.vfs, fdTable - 1);
}
