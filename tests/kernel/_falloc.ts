/**
 * Helpers of the fallocate syscall tests: open, fallocate with split 64-bit
 * arguments, fstat's size and blocks, and the file's bytes through pread64,
 * all on a syscall bench (_task.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { AT_FDCWD } from "../../src/abi/fcntl.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { type Bench, SCRATCH, statxFd, statxFields } from "./_task.ts";

export const PAGE = 4096;
const PATH = SCRATCH, RES = SCRATCH + 1024;
/** A scratch page for file data. */
export const DATA = SCRATCH + 2 * PAGE;

/** openat(AT_FDCWD, p, flags, 0644). */
export function open(b: Bench, p: string, flags: number): number {
  b.poke(PATH, new TextEncoder().encode(p + "\0"));
  return b.call(nr.SYS_openat, AT_FDCWD, PATH, flags, 0o644);
}

/** fallocate(fd, mode, off, len) with both 64-bit arguments split low word first. */
export function fallocate(b: Bench, fd: number, mode: number, off: number, len: number): number {
  const hi = (v: number) => Math.floor(v / 0x1_0000_0000);
  return b.call(nr.SYS_fallocate, fd, mode, off >>> 0, hi(off), len >>> 0, hi(len));
}

/** The size and blocks (512-byte units) statx reports (riscv32 has no fstat). */
export function stat(b: Bench, fd: number): { size: number; blocks: number } {
  assert.equal(statxFd(b, fd, RES), 0);
  const { size, blocks } = statxFields(b, RES);
  return { size, blocks };
}

/** The file's bytes [0, n) through pread64 (a scratch page at a time). */
export function contents(b: Bench, fd: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += PAGE) {
    const len = Math.min(PAGE, n - at);
    assert.equal(b.call(nr.SYS_pread64, fd, DATA, len, at, 0), len);
    out.set(b.peek(DATA, len), at);
  }
  return out;
}
