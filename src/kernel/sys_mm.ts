/**
 * Memory syscalls: mmap2, munmap, mprotect, msync, madvise, brk. The mm
 * layer (src/mm/mmap.ts) does the work and takes its own locks; this file
 * decodes the riscv32 arguments and finds the file behind an fd.
 *
 * @module
 */

import { MAP_ANONYMOUS } from "../abi/mman.ts";
import { doBrk, doMadvise, doMmap, doMprotect, doMsync, doMunmap } from "../mm/mmap.ts";
import type { Task } from "./task.ts";

/**
 * mmap2(addr, len, prot, flags, fd, pgoff): pgoff counts 4096-byte units
 * (so a 32-bit guest reaches 16 TiB of file). Files come from the VFS
 * (FileGlue.mmap); a character device such as the console cannot be
 * mapped (-ENODEV, as a tty).
 */
export function sysMmap2(t: Task, a: Int32Array): number {
  const addr = a[10]! >>> 0;
  const len = a[11]! >>> 0, prot = a[12]!, flags = a[13]!;
  if ((flags & MAP_ANONYMOUS) !== 0) return doMmap(t.mem, t.mm, addr, len, prot, flags);
  const fd = a[14]!;
  return t.files.mmap(
    fd,
    (file) => doMmap(t.mem, t.mm, addr, len, prot, flags, file, a[15]! >>> 0),
  );
}

export const sysMunmap = (t: Task, a: Int32Array): number =>
  doMunmap(t.mem, t.mm, a[10]! >>> 0, a[11]! >>> 0);

export const sysMprotect = (t: Task, a: Int32Array): number =>
  doMprotect(t.mem, t.mm, a[10]! >>> 0, a[11]! >>> 0, a[12]!);

export const sysMsync = (t: Task, a: Int32Array): number =>
  doMsync(t.mem, t.mm, a[10]! >>> 0, a[11]! >>> 0, a[12]!);

export const sysMadvise = (t: Task, a: Int32Array): number =>
  doMadvise(t.mem, t.mm, a[10]! >>> 0, a[11]! >>> 0, a[12]!);

/** brk(addr): the new break, or the unchanged one when the move is refused (brk(0) asks). */
export const sysBrk = (t: Task, a: Int32Array): number => doBrk(t.mem, t.mm, a[10]! >>> 0);
