import assert from "node:assert/strict";
import { EBADF, EFBIG, EINVAL, ENODEV, EOPNOTSUPP } from "../../src/abi/errno.ts";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
} from "../../src/abi/fcntl.ts";
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { type Bench, makeBench } from "./_task.ts";
import { contents, DATA, fallocate, open, PAGE, stat } from "./_falloc.ts";

const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
/** The test file: three whole blocks and 100 bytes of a fourth. */
const SIZE = 3 * PAGE + 100;

/** A file of SIZE bytes, byte i = (i * 7 + 1) & 0xff (never 0). */
function filled(b: Bench): { fd: number; want: Uint8Array } {
  const fd = open(b, "/f", O_CREAT | O_RDWR);
  assert.ok(fd >= 3, `open: ${fd}`);
  const want = new Uint8Array(SIZE).map((_, i) => (i * 7 + 1) & 0xff || 1);
  for (let at = 0; at < SIZE; at += PAGE) {
    const part = want.subarray(at, Math.min(SIZE, at + PAGE));
    b.poke(DATA, part);
    assert.equal(b.call(nr.SYS_pwrite64, fd, DATA, part.length, at, 0), part.length);
  }
  return { fd, want };
}

for (const dax of ["never", "always"] as const) {
  Deno.test(`fallocate(PUNCH_HOLE|KEEP_SIZE) zeroes the range, frees whole blocks, keeps i_size (dax=${dax})`, () => {
    const b = makeBench("", dax);
    try {
      const { fd, want } = filled(b);
      assert.equal(b.call(nr.SYS_fsync, fd), 0);
      // A shared mapping and a private COW copy made before the punch.
      const shared = b.call(nr.SYS_mmap2, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      assert.ok(shared > 0, `mmap2: ${shared}`);
      assert.equal(b.peek(shared + PAGE + 5, 1)[0], want[PAGE + 5], "faulted in before the punch");
      const before = stat(b, fd);
      // From the middle of block 0 to the middle of block 2: block 1 is freed.
      const off = 100, len = 2 * PAGE + 50 - off;
      assert.equal(fallocate(b, fd, PUNCH, off, len), 0);
      want.fill(0, off, off + len);
      assert.deepEqual(contents(b, fd, SIZE), want, "pread sees the hole");
      assert.deepEqual(b.peek(shared, SIZE), want, "the shared mapping sees the hole");
      const after = stat(b, fd);
      assert.equal(after.size, SIZE, "KEEP_SIZE");
      assert.equal(before.blocks - after.blocks, PAGE / 512, "one whole block freed");
      // The hole is a hole: a store through the mapping fills it again.
      b.poke(shared + PAGE, new Uint8Array([9]));
      want[PAGE] = 9;
      assert.deepEqual(contents(b, fd, SIZE), want);
      // Past EOF nothing happens and the size stays.
      assert.equal(fallocate(b, fd, PUNCH, SIZE + 10, PAGE), 0);
      // A range running past EOF punches up to EOF only.
      assert.equal(fallocate(b, fd, PUNCH, 3 * PAGE + 10, 10 * PAGE), 0);
      want.fill(0, 3 * PAGE + 10);
      assert.deepEqual(contents(b, fd, SIZE), want);
      assert.equal(stat(b, fd).size, SIZE);
      assert.equal(b.call(nr.SYS_munmap, shared, 4 * PAGE), 0);
      // A private mapping's written (COW) page keeps its copy; the file does not change.
      const priv = b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      assert.ok(priv > 0, `mmap2 private: ${priv}`);
      b.poke(priv, new Uint8Array([0x55]));
      assert.deepEqual(contents(b, fd, SIZE), want, "a private store never reaches the file");
      assert.equal(b.call(nr.SYS_munmap, priv, PAGE), 0);
      assert.equal(b.call(nr.SYS_close, fd), 0);
    } finally {
      b.close();
    }
  });
}

Deno.test("fallocate returns Linux's errors: EBADF, EINVAL, EOPNOTSUPP, ENODEV, EFBIG", () => {
  const b = makeBench();
  try {
    const { fd } = filled(b);
    const ro = open(b, "/f", O_RDONLY);
    assert.ok(ro > fd);
    const cases: [string, number, number, number, number, number][] = [
      ["unopened fd", 50, PUNCH, 0, 1, -EBADF],
      ["read-only fd", ro, PUNCH, 0, 1, -EBADF],
      ["zero length", fd, PUNCH, 0, 0, -EINVAL],
      ["negative length", fd, PUNCH, 0, -1, -EINVAL],
      ["negative offset", fd, PUNCH, -PAGE, PAGE, -EINVAL],
      ["punch without KEEP_SIZE", fd, FALLOC_FL_PUNCH_HOLE, 0, 1, -EOPNOTSUPP],
      ["unknown mode bit", fd, 0x100 | PUNCH, 0, 1, -EOPNOTSUPP],
      ["past the largest file", fd, PUNCH, 2 ** 50, PAGE, -EFBIG],
      ["console stdout", 1, PUNCH, 0, 1, -ENODEV],
      ["console stdout, zero length", 1, PUNCH, 0, 0, -EINVAL],
      ["console stdin, punch without KEEP_SIZE", 0, FALLOC_FL_PUNCH_HOLE, 0, 1, -EOPNOTSUPP],
    ];
    for (const [what, f, mode, off, len, want] of cases) {
      assert.equal(fallocate(b, f, mode, off, len), want, what);
    }
    const size = stat(b, fd).size;
    assert.equal(size, SIZE, "no failed call changed the file");
    const proc = open(b, "/proc/self/maps", O_RDONLY);
    assert.ok(proc >= 3, `open /proc/self/maps: ${proc}`);
    assert.equal(fallocate(b, proc, PUNCH, 0, 1), -EBADF, "procfs file opened read-only");
  } finally {
    b.close();
  }
});
