/**
 * Memory syscalls: mmap2, munmap, mprotect, msync, madvise, brk. The mm
 * layer (src/mm/mmap.ts) does the work and takes its own locks; this file
 * decodes the riscv32 arguments and finds the file behind an fd.
 *
 * @module
 */

import { EINVAL, ENOMEM } from "../abi/errno.ts";
import { SHMEM_KIND_ANON } from "../abi/layout/ipc.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_TYPE } from "../abi/mman.ts";
import { S_IFREG } from "../abi/fcntl.ts";
import { pageRoundUp } from "../abi/types.ts";
import { shmemCtx, shmemInodeNew, shmemIput } from "../fs/shmem.ts";
import { doBrk, doMadvise, doMmap, doMprotect, doMsync, doMunmap } from "../mm/mmap.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { VMOPS_SHMEM } from "../mm/vma.ts";
import { withNoKill } from "../sync/mod.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";

/**
 * mmap2(addr, len, prot, flags, fd, pgoff): pgoff counts 4096-byte units (so
 * a 32-bit guest reaches 16 TiB of file). Files come from the VFS
 * (FileGlue.mmap); a character device such as the console cannot be mapped
 * (-ENODEV, as a tty).
 *
 * Entry: no lock held (a syscall). A file mapping takes and drops the
 * fd-table lock for its file reference; MAP_SHARED|MAP_ANONYMOUS first makes
 * a shmem inode (the inode-cache lock, as iget). doMmap takes mmap_lock for
 * writing (and under it the i_mmap lock to link a file VMA, the i_mmap and
 * page-table locks to unmap what MAP_FIXED replaces), and MAP_POPULATE
 * faults the pages in under mmap_lock (read).
 *
 * @returns the address, or -errno (as doMmap; -EBADF, -ENODEV, -ENOMEM)
 */
export function sysMmap2(
  t: Task,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  fd: number,
  pgoff: number,
): number {
  if ((flags & MAP_ANONYMOUS) !== 0) {
    if ((flags & MAP_TYPE) !== MAP_PRIVATE) return mmapSharedAnon(t, addr, len, prot, flags);
    return doMmap(t.mem, t.mm, addr >>> 0, len >>> 0, prot, flags);
  }
  return t.files.mmap(
    fd,
    (file) => doMmap(t.mem, t.mm, addr >>> 0, len >>> 0, prot, flags, file, pgoff >>> 0),
  );
}

/**
 * MAP_SHARED|MAP_ANONYMOUS: memory that stays shared across fork. As
 * Linux's shmem_zero_setup, it is a mapping of a new unlinked shmem inode
 * (src/fs/shmem.ts) of the mapping's size, which the VMA keeps alive; the
 * fd and offset are ignored. The creation reference is dropped once the
 * VMA holds its own, in one no-kill region (no lock records it).
 *
 * @returns the address, or what doMmap returns; -ENOMEM when no shmem
 *   inode can be made
 */
function mmapSharedAnon(t: Task, addr: number, len: number, prot: number, flags: number): number {
  len >>>= 0;
  if (len === 0) return -EINVAL;
  if (pageRoundUp(len) > TASK_SIZE) return -ENOMEM;
  const c = shmemCtx();
  return withNoKill(() => {
    const ip = shmemInodeNew(c, SHMEM_KIND_ANON, S_IFREG | 0o600, pageRoundUp(len));
    if (typeof ip === "number") return -ENOMEM;
    const file = { slot: ip.slot, ops: VMOPS_SHMEM, readable: true, writable: true };
    const r = doMmap(t.mem, t.mm, addr >>> 0, len, prot, flags & ~MAP_ANONYMOUS, file, 0);
    shmemIput(c, ip);
    return r;
  });
}

/**
 * munmap(addr, len). Entry: no lock held (a syscall); doMunmap takes
 * mmap_lock for writing and, under it, the i_mmap and page-table locks.
 *
 * @returns 0, or -EINVAL, -ENOMEM
 */
export const sysMunmap = (t: Task, addr: number, len: number): number =>
  doMunmap(t.mem, t.mm, addr >>> 0, len >>> 0);

/**
 * mprotect(addr, len, prot). Entry: no lock held (a syscall); doMprotect
 * takes mmap_lock for writing and the page-table lock under it.
 *
 * @returns 0, or -EINVAL, -ENOMEM, -EACCES
 */
export const sysMprotect = (t: Task, addr: number, len: number, prot: number): number =>
  doMprotect(t.mem, t.mm, addr >>> 0, len >>> 0, prot);

/**
 * msync(addr, len, flags). Entry: no lock held (a syscall); doMsync takes
 * mmap_lock for reading and, under it, each shared file VMA's msync (page
 * locks in turn for the page cache; the image's sync lock for DAX).
 *
 * @returns 0, or -EINVAL, -ENOMEM, the file system's error
 */
export const sysMsync = (t: Task, addr: number, len: number, flags: number): number =>
  doMsync(t.mem, t.mm, addr >>> 0, len >>> 0, flags);

/**
 * madvise(addr, len, advice). Entry: no lock held (a syscall); doMadvise
 * takes mmap_lock for reading, and the page-table lock under it to zap
 * (MADV_DONTNEED).
 *
 * @returns 0, or -EINVAL, -ENOMEM
 */
export const sysMadvise = (t: Task, addr: number, len: number, advice: number): number =>
  doMadvise(t.mem, t.mm, addr >>> 0, len >>> 0, advice);

/**
 * brk(addr): the new break, or the unchanged one when the move is refused
 * (brk(0) asks). Entry: no lock held (a syscall); doBrk takes mmap_lock for
 * writing (and the page-table lock under it to shrink).
 */
export const sysBrk = (t: Task, addr: number): number => doBrk(t.mem, t.mm, addr >>> 0);

/**
 * The memory system calls. All are killable: their mmap_lock write sections
 * are no-kill regions of their own.
 */
export const MM_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_brk, "brk", ["ptr"], sysBrk, { killable: true, ret: "hex" }),
  defineSyscall(nr.SYS_munmap, "munmap", ["ptr", "size"], sysMunmap, { killable: true }),
  defineSyscall(
    nr.SYS_mmap2,
    "mmap2",
    ["ptr", "size", "prot", "mapflags", "fd", "pgoff"],
    sysMmap2,
    { killable: true, ret: "hex" },
  ),
  defineSyscall(nr.SYS_mprotect, "mprotect", ["ptr", "size", "prot"], sysMprotect, {
    killable: true,
  }),
  defineSyscall(nr.SYS_msync, "msync", ["ptr", "size", "hex"], sysMsync),
  defineSyscall(nr.SYS_madvise, "madvise", ["ptr", "size", "int"], sysMadvise),
];
