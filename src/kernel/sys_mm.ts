/**
 * Memory syscalls: mmap2, munmap, mprotect, msync, madvise, brk. The mm
 * layer (src/mm/mmap.ts) does the work and takes its own locks; this file
 * decodes the riscv32 arguments and finds the file behind an fd.
 *
 * @module
 */

import { ENODEV, ENOMEM } from "../abi/errno.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE } from "../abi/mman.ts";
import { PAGE_SIZE, pageRoundUp } from "../abi/types.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { doBrk, doMadvise, doMmap, doMprotect, doMsync, doMunmap } from "../mm/mmap.ts";
import type { Task } from "./task.ts";

/**
 * The highest address a mapping may end at. The mm layer keeps VMA bounds
 * in int32 words, so a VMA ending exactly at TASK_SIZE (2^31) would wrap
 * negative; the top page stays unmapped (as exec's stack guard does).
 */
export const USER_MAP_END = TASK_SIZE - PAGE_SIZE;

/**
 * mmap2(addr, len, prot, flags, fd, pgoff): pgoff counts 4096-byte units
 * (so a 32-bit guest reaches 16 TiB of file). Console fds cannot be mapped
 * (-ENODEV, as a tty).
 */
export function sysMmap2(t: Task, a: Int32Array): number {
  let addr = a[10]! >>> 0;
  const len = a[11]! >>> 0, prot = a[12]!, flags = a[13]!;
  if (len !== 0 && addr + pageRoundUp(len) > USER_MAP_END) {
    if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) return -ENOMEM;
    addr = 0; // a hint that cannot be honoured is ignored, as Linux does
  }
  if ((flags & MAP_ANONYMOUS) !== 0) return doMmap(t.mem, t.mm, addr, len, prot, flags);
  const fd = a[14]!;
  if (fd >= 0 && fd <= 2 && t.consoleOpen[fd]) return -ENODEV;
  const file = t.files.mmapFile(fd);
  if (typeof file === "number") return file;
  return doMmap(t.mem, t.mm, addr, len, prot, flags, file, a[15]! >>> 0);
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
export function sysBrk(t: Task, a: Int32Array): number {
  const want = a[10]! >>> 0;
  // Past USER_MAP_END the heap VMA would end at TASK_SIZE: refuse, which brk reports
  // by returning the current break (asked for with brk(0), which is below the start).
  return doBrk(t.mem, t.mm, pageRoundUp(want) > USER_MAP_END ? 0 : want);
}
