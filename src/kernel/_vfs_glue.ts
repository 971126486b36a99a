/**
 * The seam between the process layer and the VFS (branch `vfs`, not merged
 * yet). Syscalls call a FileGlue; the Worker gets one per process from
 * attachFiles, and the Machine calls closeFilesOf to close a dead
 * process's files from the main thread.
 *
 * Until the VFS lands this file holds an interim implementation, and says
 * so in each answer: path operations return -ENOSYS, fd operations on fds
 * other than the console (0..2, handled by the syscall layer) return
 * -EBADF. Program files for exec are read straight from the xipfs image on
 * the memory device with the offline on-disk readers (namei, fileRead):
 * read-only and lock-free, which is sound only while nothing writes the
 * file system, i.e. until the live file system replaces this.
 *
 * @module
 */

import { EBADF, ENODEV, ENOENT, ENOEXEC, ENOSYS, EUCLEAN } from "../abi/errno.ts";
import { asIno } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { MemDevice } from "../hw/device.ts";
import type { MmapFile } from "../mm/vma.ts";
import { fileRead } from "../fs/xipfs_file.ts";
import { inodeGet, inodeGetSize, isRegMode, openVolume, type XipVol } from "../fs/xipfs_format.ts";
import { namei } from "../fs/xipfs_namei.ts";
import type { ExecFile } from "./exec_types.ts";

/** What fstat reports (struct stat64 without the padding). */
export interface FileStat {
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
}

/**
 * A process's files: every method works on the calling process's fd table
 * and returns a negative errno on failure, never throws for guest input.
 * Buffers are kernel buffers; the syscall layer copies to and from user
 * memory in bounded chunks.
 */
export interface FileGlue {
  /** Index + 1 of the process's fd table in shared memory (PROC.fdTable); 0 when none. */
  readonly fdTable: number;
  /** openat(2): the new fd (>= 3) or -errno. */
  openat(dirfd: number, path: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** read(2) at the file position into `dst`: bytes read (0 at EOF) or -errno. */
  read(fd: number, dst: Uint8Array): number;
  write(fd: number, src: Uint8Array): number;
  pread(fd: number, dst: Uint8Array, pos: number): number;
  pwrite(fd: number, src: Uint8Array, pos: number): number;
  /** lseek: the new position or -errno. */
  lseek(fd: number, off: number, whence: number): number;
  fstat(fd: number): FileStat | number;
  ftruncate(fd: number, len: number): number;
  fsync(fd: number): number;
  unlinkat(dirfd: number, path: string, flags: number): number;
  /** linux_dirent64 records filling at most `max` bytes, or -errno (-EINVAL when one does not fit). */
  getdents64(fd: number, max: number): Uint8Array | number;
  /** What doMmap needs to map `fd`, or -errno (-EBADF, -ENODEV). */
  mmapFile(fd: number): MmapFile | number;
  /** Close every fd (exit). Entry: no lock held. */
  closeAll(): void;
}

/** Mount options the Machine passes to every Worker. */
export interface FsMountOptions {
  dax: "always" | "never" | "inode";
}

/** This thread's handle on the mounted file system. */
export interface FsAttach {
  readonly mem: Memory;
  readonly opts: FsMountOptions;
  /** The interim read-only view of the image (null when the device holds no valid xipfs). */
  readonly vol: XipVol | null;
}

/**
 * Attach this thread to the file system the Machine mounted. Worker side,
 * once per Worker. Touches no shared state.
 */
export function attachFs(mem: Memory, opts: FsMountOptions): FsAttach {
  const dev = new MemDevice(mem);
  const r = openVolume(dev.bytes);
  return { mem, opts, vol: r.ok ? r.vol : null };
}

/**
 * Mount at boot (main thread): check the image is an xipfs volume.
 *
 * @returns null, or one line saying why the device cannot be mounted
 */
export function mountFs(mem: Memory): string | null {
  const r = openVolume(new MemDevice(mem).bytes);
  return r.ok ? null : r.error;
}

/** Unmount at shutdown (main thread). Interim: nothing is cached, so nothing to write back. */
export function unmountFs(_mem: Memory): void {}

class InterimFiles implements FileGlue {
  readonly fdTable = 0;
  openat(): number {
    return -ENOSYS;
  }
  close(): number {
    return -EBADF;
  }
  read(): number {
    return -EBADF;
  }
  write(): number {
    return -EBADF;
  }
  pread(): number {
    return -EBADF;
  }
  pwrite(): number {
    return -EBADF;
  }
  lseek(): number {
    return -EBADF;
  }
  fstat(): number {
    return -EBADF;
  }
  ftruncate(): number {
    return -EBADF;
  }
  fsync(): number {
    return -EBADF;
  }
  unlinkat(): number {
    return -ENOSYS;
  }
  getdents64(): number {
    return -EBADF;
  }
  mmapFile(): number {
    return -EBADF;
  }
  closeAll(): void {}
}

/** Whether exec may map program files (ExecFile.mmap works). Interim: no. */
export function canMapFiles(_fs: FsAttach): boolean {
  return false;
}

/** A fresh fd table for a new process (0..2 stay the console's). */
export function attachFiles(_fs: FsAttach): FileGlue {
  return new InterimFiles();
}

/**
 * Close every file of the fd table `fdTable` (PROC.fdTable) for a process
 * whose Worker died. Main thread, after recoverTask.
 */
export function closeFilesOf(_mem: Memory, _fdTable: number): void {}

/** RAM frames the page cache holds now (a gauge). Interim: no page cache exists, so 0. */
export function pagecacheFrames(_mem: Memory): number {
  return 0;
}

/**
 * Open `path` for exec.
 *
 * @returns the file, or -ENOENT/-ENOTDIR/-ELOOP (lookup), -EACCES for a
 *   non-regular file, -EUCLEAN for a corrupt image
 */
export function openExec(fs: FsAttach, path: string): ExecFile | number {
  const vol = fs.vol;
  if (vol === null) return -EUCLEAN;
  const ino = namei(vol, path);
  if (ino < 0) return ino;
  if (ino === 0) return -ENOENT;
  const mode = inodeGet(vol, asIno(ino), "mode");
  if (!isRegMode(mode)) return -ENOEXEC; // exec's contract: not a regular file
  const size = inodeGetSize(vol, asIno(ino));
  return {
    size,
    pread(pos: number, dst: Uint8Array): number {
      const r = fileRead(vol, asIno(ino), pos, dst.length);
      if (typeof r === "number") return r;
      dst.set(r);
      return r.length;
    },
    mmap(): number {
      return -ENODEV;
    },
    close(): void {},
  };
}
