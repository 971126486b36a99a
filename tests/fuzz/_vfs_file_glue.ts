/**
 * A FileGlue (src/kernel/_vfs_glue.ts) over the live VFS, test side. The
 * kernel's own glue is still the interim read-only one (every fd operation
 * -EBADF), so without this the syscall fuzzer would never reach the file
 * system. Each method forwards to the src/fs/vfs*.ts call of the same name;
 * fds 0..2 stay the console's (the syscall layer handles them), so the fd
 * table's first three slots are filled with placeholders at creation.
 */

import { EBADF, ENOTDIR } from "../../src/abi/errno.ts";
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  O_ACCMODE,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
} from "../../src/abi/fcntl.ts";
import { mmapFile } from "../../src/fs/file_mm.ts";
import {
  type Proc,
  vfsClose,
  vfsFstat,
  vfsFsync,
  vfsFtruncate,
  vfsLseek,
  vfsPread,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
  vfsRead,
  vfsWrite,
  withFile,
} from "../../src/fs/vfs.ts";
import { vfsGetdents64, vfsOpen, vfsRmdir, vfsUnlink } from "../../src/fs/vfs_path.ts";
import type { XipVfs } from "../../src/fs/vfs_xipfs.ts";
import type { FileGlue, FileStat } from "../../src/kernel/_vfs_glue.ts";
import type { MmapFile } from "../../src/mm/vma.ts";

export class VfsFileGlue implements FileGlue {
  readonly proc: Proc;
  private closed = false;

  constructor(readonly vfs: XipVfs) {
    const p = vfsProcCreate(vfs);
    if (typeof p === "number") throw new Error(`vfsProcCreate: ${p}`);
    this.proc = p;
    // Keep fds 0..2 for the console: take them with opens of "/" and never hand them out.
    for (let i = 0; i < 3; i++) vfsOpen(p, "/", O_RDONLY);
  }

  get fdTable(): number {
    return this.proc.fdt + 1;
  }

  private path(dirfd: number, path: string): string | number {
    if (path.startsWith("/") || dirfd === AT_FDCWD) return path;
    return dirfd < 0 ? -EBADF : -ENOTDIR; // dirfd-relative lookups are not supported here
  }

  openat(dirfd: number, path: string, flags: number, mode: number): number {
    const p = this.path(dirfd, path);
    return typeof p === "number" ? p : vfsOpen(this.proc, p, flags, mode);
  }
  close(fd: number): number {
    return fd < 3 ? -EBADF : vfsClose(this.proc, fd);
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
  fstat(fd: number): FileStat | number {
    return vfsFstat(this.proc, fd);
  }
  ftruncate(fd: number, len: number): number {
    return vfsFtruncate(this.proc, fd, len);
  }
  fsync(fd: number): number {
    return vfsFsync(this.proc, fd);
  }
  unlinkat(dirfd: number, path: string, flags: number): number {
    const p = this.path(dirfd, path);
    if (typeof p === "number") return p;
    return (flags & AT_REMOVEDIR) !== 0 ? vfsRmdir(this.proc, p) : vfsUnlink(this.proc, p);
  }
  getdents64(fd: number, max: number): Uint8Array | number {
    const buf = new Uint8Array(Math.min(max, 1 << 16));
    const n = vfsGetdents64(this.proc, fd, buf);
    return n < 0 ? n : buf.subarray(0, n);
  }
  mmapFile(fd: number): MmapFile | number {
    let out: MmapFile | null = null;
    const r = withFile(this.proc, fd, (f, ip) => {
      const acc = f.flags & O_ACCMODE;
      out = mmapFile(
        this.vfs.x,
        ip,
        acc === O_RDONLY || acc === O_RDWR,
        acc === O_WRONLY || acc === O_RDWR,
      );
      return 0;
    });
    return r < 0 ? r : out!;
  }
  closeAll(): void {
    if (this.closed) return;
    this.closed = true;
    vfsProcExit(this.vfs, this.proc.fdt);
  }
}
