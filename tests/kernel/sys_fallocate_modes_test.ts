/**
 * fallocate(2)'s allocation, zero, collapse and insert modes through the
 * syscall layer, on DAX and page-cache files, with mappings live across
 * the call (src/fs/xipfs/xipfs_falloc.ts). Each case ends with fsck and the
 * machine invariants.
 */

import assert from "node:assert/strict";
import { EFBIG, EINVAL, EOPNOTSUPP } from "../../src/abi/errno.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_NO_HIDE_STALE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
  O_CREAT,
  O_RDWR,
} from "../../src/abi/fcntl.ts";
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { type Bench, makeBench } from "./_task.ts";
import { contents, DATA, fallocate, open, PAGE, stat as stat512 } from "./_falloc.ts";

/** fstat in 4 KiB blocks. */
const stat = (b: Bench, fd: number) => {
  const st = stat512(b, fd);
  return { size: st.size, blocks: st.blocks / 8 };
};

/** pwrite, then fsync so that a page-cache file's blocks are allocated (block counts). */
function pwrite(b: Bench, fd: number, at: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; done += PAGE) {
    const part = bytes.subarray(done, Math.min(bytes.length, done + PAGE));
    b.poke(DATA, part);
    assert.equal(b.call(nr.SYS_pwrite64, fd, DATA, part.length, at + done, 0), part.length);
  }
  assert.equal(b.call(nr.SYS_fsync, fd), 0);
}
/** Bytes whose value names their page and offset, never 0. */
const pattern = (n: number, seed: number): Uint8Array =>
  new Uint8Array(n).map((_, i) => ((i >> 12) * 31 + (i & 0xff) + seed) % 255 + 1);

/** fsck of the device image and the machine invariants, at this quiet point. */
function checkClean(b: Bench, what: string): void {
  const r = fsck(new MemDevice(b.mem).bytes);
  assert.deepEqual(r.errors, [], `fsck after ${what}`);
  assert.deepEqual(checkInvariants(b.mem, { skipLocks: false }), [], `invariants after ${what}`);
}

const CONFIGS = [
  { dax: "never", memmap: "none" },
  { dax: "always", memmap: "none" },
  { dax: "always", memmap: "device" },
] as const;

for (const { dax, memmap } of CONFIGS) {
  const tag = `dax=${dax}, memmap=${memmap}`;

  Deno.test(`fallocate(0) fills holes with zeroed blocks and grows i_size; KEEP_SIZE allocates past EOF (${tag})`, () => {
    const b = makeBench("", dax, memmap);
    try {
      const fd = open(b, "/f", O_CREAT | O_RDWR);
      // Page 0 written, pages 1 and 2 holes, page 3 written: 4 pages, 2 blocks.
      const want = new Uint8Array(4 * PAGE);
      want.set(pattern(PAGE, 1), 0);
      want.set(pattern(PAGE, 2), 3 * PAGE);
      pwrite(b, fd, 0, want.subarray(0, PAGE));
      pwrite(b, fd, 3 * PAGE, want.subarray(3 * PAGE));
      assert.equal(stat(b, fd).blocks, 2);
      // A read mapping of the hole at page 1 (the zero page under DAX) before the allocation.
      const map = b.call(nr.SYS_mmap2, 0, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
      assert.ok(map > 0, `mmap2: ${map}`);
      assert.equal(b.peek(map + PAGE, 1)[0], 0);
      assert.equal(fallocate(b, fd, 0, PAGE, 5 * PAGE), 0);
      assert.deepEqual(stat(b, fd), { size: 6 * PAGE, blocks: 6 }, "holes filled, size grown");
      want.set(new Uint8Array(0));
      const grown = new Uint8Array(6 * PAGE);
      grown.set(want);
      assert.deepEqual(contents(b, fd, 6 * PAGE), grown, "allocation changes no byte");
      // The allocated block is the file's now: a write shows through the old mapping.
      pwrite(b, fd, PAGE, pattern(PAGE, 3));
      assert.deepEqual(b.peek(map + PAGE, PAGE), pattern(PAGE, 3), "no stale zero page");
      // KEEP_SIZE past EOF: blocks, no size.
      assert.equal(fallocate(b, fd, FALLOC_FL_KEEP_SIZE, 6 * PAGE, 4 * PAGE), 0);
      assert.deepEqual(stat(b, fd), { size: 6 * PAGE, blocks: 10 });
      checkClean(b, "KEEP_SIZE past EOF");
      // A write past EOF lands in a preallocated block; truncate frees the rest.
      pwrite(b, fd, 7 * PAGE, pattern(100, 4));
      assert.deepEqual(stat(b, fd), { size: 7 * PAGE + 100, blocks: 10 });
      assert.equal(b.call(nr.SYS_ftruncate64, fd, 7 * PAGE + 100, 0), 0);
      assert.deepEqual(stat(b, fd), { size: 7 * PAGE + 100, blocks: 8 });
      assert.equal(b.call(nr.SYS_munmap, map, 4 * PAGE), 0);
      assert.equal(b.call(nr.SYS_close, fd), 0);
      checkClean(b, "truncate");
    } finally {
      b.close();
    }
  });

  Deno.test(`fallocate(ZERO_RANGE) zeroes under live shared mappings, allocates holes, drops COW copies of the range (${tag})`, () => {
    const b = makeBench("", dax, memmap);
    try {
      const fd = open(b, "/f", O_CREAT | O_RDWR);
      const want = pattern(4 * PAGE + 100, 5);
      pwrite(b, fd, 0, want);
      const shared = b.call(nr.SYS_mmap2, 0, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const priv = b.call(nr.SYS_mmap2, 0, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      assert.ok(shared > 0 && priv > 0);
      assert.equal(b.peek(shared + 2 * PAGE, 1)[0], want[2 * PAGE]);
      b.poke(priv + 2 * PAGE + 7, new Uint8Array([0xee])); // a COW copy of page 2
      // From the middle of page 1 to the middle of page 3.
      const off = PAGE + 300, len = 2 * PAGE;
      assert.equal(fallocate(b, fd, FALLOC_FL_ZERO_RANGE, off, len), 0);
      want.fill(0, off, off + len);
      assert.deepEqual(contents(b, fd, want.length), want, "pread");
      assert.deepEqual(b.peek(shared, want.length), want, "the shared mapping");
      // As Linux's truncate_pagecache_range (even_cows): private copies of the range go too.
      assert.equal(b.peek(priv + 2 * PAGE + 7, 1)[0], 0, "the private COW copy was dropped");
      assert.equal(b.peek(priv, 1)[0], want[0], "outside the range it stays");
      assert.equal(stat(b, fd).size, want.length);
      // Past EOF: without KEEP_SIZE the size grows and the blocks under it are allocated.
      assert.equal(fallocate(b, fd, FALLOC_FL_ZERO_RANGE, 6 * PAGE, PAGE + 1), 0);
      // 5 blocks before, pages 6 and 7 now (page 5 stays a hole).
      assert.deepEqual(stat(b, fd), { size: 7 * PAGE + 1, blocks: 7 });
      assert.equal(fallocate(b, fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 9 * PAGE, PAGE), 0);
      assert.deepEqual(stat(b, fd), { size: 7 * PAGE + 1, blocks: 8 });
      const all = new Uint8Array(7 * PAGE + 1);
      all.set(want);
      assert.deepEqual(contents(b, fd, all.length), all);
      assert.equal(b.call(nr.SYS_munmap, shared, 5 * PAGE), 0);
      assert.equal(b.call(nr.SYS_munmap, priv, 5 * PAGE), 0);
      assert.equal(b.call(nr.SYS_close, fd), 0);
      checkClean(b, "zero range");
    } finally {
      b.close();
    }
  });

  Deno.test(`fallocate(COLLAPSE_RANGE) frees the range and moves the rest down under live mappings (${tag})`, () => {
    const b = makeBench("", dax, memmap);
    try {
      const fd = open(b, "/f", O_CREAT | O_RDWR);
      // 20 pages with a hole at page 15: past the direct blocks, into the indirect block.
      const want = pattern(20 * PAGE + 50, 7);
      want.fill(0, 15 * PAGE, 16 * PAGE);
      pwrite(b, fd, 0, want.subarray(0, 15 * PAGE));
      pwrite(b, fd, 16 * PAGE, want.subarray(16 * PAGE));
      const before = stat(b, fd);
      assert.equal(before.blocks, 20 + 1, "20 data blocks + 1 indirect");
      const shared = b.call(nr.SYS_mmap2, 0, 21 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      assert.ok(shared > 0);
      assert.deepEqual(b.peek(shared, want.length), want);
      if (dax === "never") {
        // A dirty cached page past the collapse point reaches the moved block.
        b.poke(shared + 18 * PAGE, new Uint8Array([0xab]));
        want[18 * PAGE] = 0xab;
      }
      assert.equal(fallocate(b, fd, FALLOC_FL_COLLAPSE_RANGE, 2 * PAGE, 3 * PAGE), 0);
      const now = new Uint8Array(want.length - 3 * PAGE);
      now.set(want.subarray(0, 2 * PAGE));
      now.set(want.subarray(5 * PAGE), 2 * PAGE);
      assert.deepEqual(stat(b, fd), { size: now.length, blocks: before.blocks - 3 });
      assert.deepEqual(contents(b, fd, now.length), now, "pread");
      assert.deepEqual(b.peek(shared, now.length), now, "the mapping refaults the moved blocks");
      // Linux's rules: block aligned, and the range must end before EOF.
      assert.equal(fallocate(b, fd, FALLOC_FL_COLLAPSE_RANGE, 100, PAGE), -EINVAL);
      assert.equal(fallocate(b, fd, FALLOC_FL_COLLAPSE_RANGE, 0, PAGE + 1), -EINVAL);
      // now.length is 17 pages + 50 bytes: a range ending at or past it is refused.
      assert.equal(fallocate(b, fd, FALLOC_FL_COLLAPSE_RANGE, 16 * PAGE, 2 * PAGE), -EINVAL);
      assert.equal(fallocate(b, fd, FALLOC_FL_COLLAPSE_RANGE, 0, 18 * PAGE), -EINVAL);
      assert.deepEqual(contents(b, fd, now.length), now, "failed calls change nothing");
      assert.equal(b.call(nr.SYS_munmap, shared, 21 * PAGE), 0);
      assert.equal(b.call(nr.SYS_close, fd), 0);
      checkClean(b, "collapse");
    } finally {
      b.close();
    }
  });

  Deno.test(`fallocate(INSERT_RANGE) opens a hole and moves the rest up under live mappings (${tag})`, () => {
    const b = makeBench("", dax, memmap);
    try {
      const fd = open(b, "/f", O_CREAT | O_RDWR);
      const want = pattern(10 * PAGE + 9, 9);
      pwrite(b, fd, 0, want);
      const shared = b.call(nr.SYS_mmap2, 0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      assert.ok(shared > 0);
      assert.deepEqual(b.peek(shared, want.length), want);
      assert.equal(fallocate(b, fd, FALLOC_FL_INSERT_RANGE, 4 * PAGE, 5 * PAGE), 0);
      const now = new Uint8Array(want.length + 5 * PAGE);
      now.set(want.subarray(0, 4 * PAGE));
      now.set(want.subarray(4 * PAGE), 9 * PAGE);
      assert.deepEqual(stat(b, fd), { size: now.length, blocks: 11 + 1 }, "10 data + 1 indirect");
      assert.deepEqual(contents(b, fd, now.length), now, "pread");
      assert.deepEqual(b.peek(shared, now.length), now, "the mapping sees the hole and the move");
      // The hole is a hole: a store through the mapping fills it.
      b.poke(shared + 5 * PAGE + 1, new Uint8Array([0x5a]));
      now[5 * PAGE + 1] = 0x5a;
      assert.deepEqual(contents(b, fd, now.length), now);
      assert.equal(fallocate(b, fd, FALLOC_FL_INSERT_RANGE, 3, PAGE), -EINVAL, "unaligned");
      assert.equal(fallocate(b, fd, FALLOC_FL_INSERT_RANGE, 16 * PAGE, PAGE), -EINVAL, "past EOF");
      assert.equal(fallocate(b, fd, FALLOC_FL_INSERT_RANGE, 0, 2 ** 40), -EFBIG, "too big");
      assert.equal(b.call(nr.SYS_munmap, shared, 16 * PAGE), 0);
      assert.equal(b.call(nr.SYS_close, fd), 0);
      checkClean(b, "insert");
    } finally {
      b.close();
    }
  });
}

Deno.test("fallocate refuses mode combinations as Linux's vfs_fallocate and ext4 do", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/f", O_CREAT | O_RDWR);
    pwrite(b, fd, 0, pattern(4 * PAGE, 1));
    const cases: [string, number, number][] = [
      ["COLLAPSE | KEEP_SIZE", FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, -EINVAL],
      ["INSERT | KEEP_SIZE", FALLOC_FL_INSERT_RANGE | FALLOC_FL_KEEP_SIZE, -EINVAL],
      ["COLLAPSE | INSERT", FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE, -EINVAL],
      [
        "PUNCH | ZERO",
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
        -EOPNOTSUPP,
      ],
      ["UNSHARE | ZERO", FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_ZERO_RANGE, -EINVAL],
      ["UNSHARE (no shared blocks: ext4's EOPNOTSUPP)", FALLOC_FL_UNSHARE_RANGE, -EOPNOTSUPP],
      ["NO_HIDE_STALE", FALLOC_FL_NO_HIDE_STALE | FALLOC_FL_KEEP_SIZE, -EOPNOTSUPP],
    ];
    for (const [what, mode, want] of cases) {
      assert.equal(fallocate(b, fd, mode, 0, PAGE), want, what);
    }
    assert.equal(stat(b, fd).size, 4 * PAGE, "no failed call changed the file");
  } finally {
    b.close();
  }
});
