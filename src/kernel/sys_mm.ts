/**
 * Memory syscalls: mmap2, munmap, mprotect, msync, madvise, brk. The mm
 * layer (src/mm/mmap.ts) does the work and takes its own locks; this file
 * decodes the riscv32 arguments and finds the file behind an fd.
 *
 * @module
 */

import { ENODEV } from "../abi/errno.ts";
import { MAP_ANONYMOUS } from "../abi/mman.ts";
import { doBrk, doMadvise, doMmap, doMprotect, doMsync, doMunmap } from "../mm/mmap.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";

/**
 * mmap2(addr, len, prot, flags, fd, pgoff): pgoff counts 4096-byte units
 * (so a 32-bit guest reaches 16 TiB of file). Console fds cannot be mapped
 * (-ENODEV, as a tty); files come from the VFS (FileGlue.mmapFile).
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
  if ((flags & MAP_ANONYMOUS) !== 0) return doMmap(t.mem, t.mm, addr >>> 0, len >>> 0, prot, flags);
  if (fd >= 0 && fd <= 2 && t.consoleOpen[fd]) return -ENODEV;
  return t.files.mmap(
    fd,
    (file) => doMmap(t.mem, t.mm, addr >>> 0, len >>> 0, prot, flags, file, pgoff >>> 0),
  );
}

/** munmap(addr, len). */
export const sysMunmap = (t: Task, addr: number, len: number): number =>
  doMunmap(t.mem, t.mm, addr >>> 0, len >>> 0);

/** mprotect(addr, len, prot). */
export const sysMprotect = (t: Task, addr: number, len: number, prot: number): number =>
  doMprotect(t.mem, t.mm, addr >>> 0, len >>> 0, prot);

/** msync(addr, len, flags). */
export const sysMsync = (t: Task, addr: number, len: number, flags: number): number =>
  doMsync(t.mem, t.mm, addr >>> 0, len >>> 0, flags);

/** madvise(addr, len, advice). */
export const sysMadvise = (t: Task, addr: number, len: number, advice: number): number =>
  doMadvise(t.mem, t.mm, addr >>> 0, len >>> 0, advice);

/** brk(addr): the new break, or the unchanged one when the move is refused (brk(0) asks). */
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
