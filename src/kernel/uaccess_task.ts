/**
 * User-memory helpers for syscall handlers: the mm layer's copyFromUser,
 * copyToUser and strncpyFromUser bound to the calling task, with the
 * access_ok check (the whole range below TASK_SIZE, no wrap) done first.
 *
 * @module
 */

import { EFAULT, ENAMETOOLONG } from "../abi/errno.ts";
import { asVirt } from "../abi/types.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { copyFromUser, copyToUser, strncpyFromUser } from "../mm/uaccess.ts";
import type { Task } from "./task.ts";

/** Longest path a syscall accepts, NUL included (Linux's PATH_MAX). */
export const PATH_MAX = 4096;

/** Linux's access_ok: [va, va + len) lies in user space and does not wrap. */
export const accessOk = (va: number, len: number): boolean =>
  va >= 0 && len >= 0 && va + len <= TASK_SIZE;

/**
 * Copy `len` bytes (the caller bounds len) from user address `va`. Entry: no
 * lock held; locks as copyFromUser (mmap_lock for reading).
 *
 * @returns the bytes, or -EFAULT
 */
export function userRead(t: Task, va: number, len: number): Uint8Array | number {
  va >>>= 0;
  if (!accessOk(va, len)) return -EFAULT;
  return copyFromUser(t.mem, t.mm, asVirt(va), len);
}

/**
 * Copy `bytes` to user address `va`. Entry: no lock held; locks as
 * copyToUser (mmap_lock for reading).
 *
 * @returns 0 or -EFAULT
 */
export function userWrite(t: Task, va: number, bytes: Uint8Array): number {
  va >>>= 0;
  if (!accessOk(va, bytes.length)) return -EFAULT;
  return copyToUser(t.mem, t.mm, asVirt(va), bytes);
}

const dec = new TextDecoder();

/**
 * A NUL-terminated path from user memory. Entry: no lock held; locks as
 * strncpyFromUser (mmap_lock for reading).
 *
 * @returns the string, -EFAULT or -ENAMETOOLONG
 */
export function userPath(t: Task, va: number): string | number {
  va >>>= 0;
  if (va >= TASK_SIZE) return -EFAULT;
  const r = strncpyFromUser(t.mem, t.mm, asVirt(va), Math.min(PATH_MAX, TASK_SIZE - va));
  if (typeof r === "number") return r;
  if (r.length >= PATH_MAX) return -ENAMETOOLONG;
  return dec.decode(r);
}

/** Little-endian 64-bit store of a (safe-integer) number into `b` at `off`. */
export function putU64(b: DataView, off: number, v: number): void {
  b.setBigInt64(off, BigInt(Math.trunc(v)), true);
}

/** Two argument registers, low word first, as one signed 64-bit value (a Number; exact to 2^53). */
export const argU64 = (lo: number, hi: number): number => (hi | 0) * 0x1_0000_0000 + (lo >>> 0);
