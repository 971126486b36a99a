import assert from "node:assert/strict";
import {
  EACCES,
  EBADF,
  EFAULT,
  EINVAL,
  EISDIR,
  ENODEV,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
} from "../../src/abi/errno.ts";
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../../src/abi/fcntl.ts";
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { filesInUse } from "../../src/fs/file_table.ts";
import { AT_EMPTY_PATH } from "../../src/kernel/sys_stat.ts";
import { makeBench, SCRATCH, statxFd, statxFields } from "./_task.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PAGE = 4096;
/** An address nothing maps. */
const WILD = 0x5000_0000;
/** Scratch layout: a path at +0, data at +256, results at +1024, a page at +2 pages. */
const PATH = SCRATCH, DATA = SCRATCH + 256, RES = SCRATCH + 1024, PG = SCRATCH + 2 * PAGE;

type Bench = ReturnType<typeof makeBench>;

function path(b: Bench, p: string, at = PATH): number {
  b.poke(at, enc.encode(p + "\0"));
  return at;
}
const open = (b: Bench, p: string, flags: number, dirfd = AT_FDCWD) =>
  b.call(nr.SYS_openat, dirfd, path(b, p), flags, 0o644);
function write(b: Bench, fd: number, text: string): number {
  b.poke(DATA, enc.encode(text));
  return b.call(nr.SYS_write, fd, DATA, text.length);
}
function read(b: Bench, fd: number, n: number): string | number {
  const r = b.call(nr.SYS_read, fd, DATA, n);
  return r < 0 ? r : dec.decode(b.peek(DATA, r));
}
const u32 = (b: Bench, va: number) => new DataView(b.peek(va, 4).buffer).getUint32(0, true);

for (const dax of ["never", "always"] as const) {
  Deno.test(`openat/write/llseek/read/pread64/pwrite64/fstat work through the VFS (dax=${dax})`, () => {
    const b = makeBench("", dax);
    try {
      const fd = open(b, "/f", O_CREAT | O_RDWR);
      assert.equal(fd, 3, "0..2 are the console's");
      assert.equal(write(b, fd, "hello world"), 11);
      // llseek(fd, off_hi, off_lo, result*, whence)
      assert.equal(b.call(nr.SYS_llseek, fd, 0, 0, RES, 0), 0);
      assert.equal(u32(b, RES), 0);
      assert.equal(read(b, fd, 5), "hello");
      assert.equal(b.call(nr.SYS_pread64, fd, DATA, 5, 6, 0), 5);
      assert.equal(dec.decode(b.peek(DATA, 5)), "world");
      b.poke(DATA, enc.encode("W"));
      assert.equal(b.call(nr.SYS_pwrite64, fd, DATA, 1, 6, 0), 1);
      assert.equal(read(b, fd, 100), " World", "position unchanged by pread/pwrite");
      assert.equal(read(b, fd, 100), "", "EOF");
      assert.equal(statxFd(b, fd, RES), 0);
      const st = statxFields(b, RES);
      assert.equal(st.mode & S_IFMT, S_IFREG);
      assert.equal(st.size, 11);
      // The console is unaffected.
      assert.equal(write(b, 1, "out"), 3);
      assert.equal(dec.decode(new Uint8Array(b.out)), "out");
      assert.equal(b.call(nr.SYS_close, fd), 0);
      assert.equal(b.call(nr.SYS_close, fd), -EBADF);
      assert.equal(open(b, "/nope", O_RDONLY), -ENOENT);
    } finally {
      b.close();
    }
  });
}

Deno.test("close(1) frees fd 1: the next open gets it and write(1) goes to the file", () => {
  const b = makeBench();
  try {
    assert.equal(b.call(nr.SYS_close, 1), 0);
    const fd = open(b, "/log", O_CREAT | O_WRONLY);
    assert.equal(fd, 1, "lowest free fd, as Linux");
    assert.equal(write(b, 1, "to the file"), 11);
    assert.deepEqual(b.out, [], "nothing reached the console");
    const rd = open(b, "/log", O_RDONLY);
    assert.equal(rd, 3);
    assert.equal(read(b, rd, 64), "to the file");
  } finally {
    b.close();
  }
});

Deno.test("readv/writev and sendfile move file data; ftruncate and fsync work", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/v", O_CREAT | O_RDWR);
    b.poke(DATA, enc.encode("abcdef"));
    const iov = new Uint8Array(16);
    const dv = new DataView(iov.buffer);
    dv.setUint32(0, DATA, true), dv.setUint32(4, 2, true);
    dv.setUint32(8, DATA + 3, true), dv.setUint32(12, 3, true);
    b.poke(RES, iov);
    assert.equal(b.call(nr.SYS_writev, fd, RES, 2), 5);
    assert.equal(b.call(nr.SYS_ftruncate64, fd, 4, 0), 0);
    assert.equal(b.call(nr.SYS_fsync, fd), 0);
    // sendfile64(out, in, off*, n) from offset 1 to stdout: "bde"
    b.poke(RES + 64, new Uint8Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0)));
    assert.equal(b.call(nr.SYS_sendfile64, 1, fd, RES + 64, 100), 3);
    assert.equal(dec.decode(new Uint8Array(b.out)), "bde");
    assert.equal(u32(b, RES + 64), 4, "offset advanced");
    assert.equal(b.call(nr.SYS_llseek, fd, 0, 0, RES, 0), 0);
    dv.setUint32(0, DATA + 100, true), dv.setUint32(4, 1, true);
    dv.setUint32(8, DATA + 200, true), dv.setUint32(12, 10, true);
    b.poke(RES + 32, iov);
    assert.equal(b.call(nr.SYS_readv, fd, RES + 32, 2), 4);
    assert.equal(dec.decode(b.peek(DATA + 100, 1)) + dec.decode(b.peek(DATA + 200, 3)), "abde");
    assert.equal(b.call(nr.SYS_ftruncate64, 0, 0, 0), -EINVAL, "console");
  } finally {
    b.close();
  }
});

Deno.test("mkdirat, openat and unlinkat relative to a directory fd; getdents64 lists it", () => {
  const b = makeBench();
  try {
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/d"), 0o755), 0);
    const dfd = open(b, "/d", O_RDONLY | O_DIRECTORY);
    assert.ok(dfd >= 3);
    const f = open(b, "x", O_CREAT | O_WRONLY, dfd);
    assert.ok(f > dfd, `${f}`);
    assert.equal(b.call(nr.SYS_close, f), 0);
    assert.equal(open(b, "/d/x", O_RDONLY) > 0, true, "created inside /d");
    assert.equal(open(b, "x", O_RDONLY), -ENOENT, "cwd is still /");
    for (const con of [0, 1, 2]) {
      assert.equal(open(b, "x", O_RDONLY, con), -ENOTDIR, `dirfd ${con} is the console`);
      assert.equal(b.call(nr.SYS_unlinkat, con, path(b, "x"), 0), -ENOTDIR);
      assert.equal(b.call(nr.SYS_mkdirat, con, path(b, "y"), 0o755), -ENOTDIR);
    }
    assert.equal(open(b, "/d/x", O_RDONLY, 0) > 0, true, "an absolute path ignores dirfd");
    const n = b.call(nr.SYS_getdents64, dfd, PG, PAGE);
    assert.ok(n > 0);
    const names: string[] = [];
    for (let at = 0; at < n;) {
      const rec = b.peek(PG + at, 24);
      const reclen = new DataView(rec.buffer).getUint16(16, true);
      const raw = b.peek(PG + at + 19, reclen - 19);
      names.push(dec.decode(raw.subarray(0, raw.indexOf(0))));
      at += reclen;
    }
    assert.ok(names.includes("x"), names.join(","));
    assert.equal(b.call(nr.SYS_getdents64, dfd, PG, PAGE), 0, "end of directory");
    assert.equal(
      b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/d"), AT_REMOVEDIR),
      -ENOTEMPTY,
    );
    assert.equal(b.call(nr.SYS_unlinkat, dfd, path(b, "x"), 0), 0);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/d"), 0), -EISDIR);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/d"), AT_REMOVEDIR), 0);
    assert.equal(statxFd(b, dfd, RES), 0, "an open directory outlives its name");
    assert.equal(statxFields(b, RES).mode & S_IFMT, S_IFDIR);
  } finally {
    b.close();
  }
});

for (const dax of ["never", "always"] as const) {
  Deno.test(`mmap2 of a file fd (dax=${dax}): shared stores reach the file; -EACCES, -ENODEV`, () => {
    const b = makeBench("", dax);
    try {
      const fd = open(b, "/m", O_CREAT | O_RDWR);
      assert.equal(b.call(nr.SYS_ftruncate64, fd, PAGE, 0), 0);
      const va = b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      assert.ok(va > 0, `mmap2: ${va}`);
      b.poke(va, enc.encode("mapped!"));
      assert.equal(b.call(nr.SYS_msync, va, PAGE, 4), 0); // MS_SYNC
      assert.equal(b.call(nr.SYS_pread64, fd, DATA, 7, 0, 0), 7);
      assert.equal(dec.decode(b.peek(DATA, 7)), "mapped!");
      assert.equal(b.call(nr.SYS_munmap, va, PAGE), 0);
      const ro = open(b, "/m", O_RDONLY);
      const shw = b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
      assert.equal(shw, -EACCES, "shared writable map of a read-only fd");
      const priv = b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
      assert.ok(priv > 0, "a private writable map of a read-only fd is fine");
      assert.equal(dec.decode(b.peek(priv, 7)), "mapped!");
      assert.equal(b.call(nr.SYS_munmap, priv, PAGE), 0);
      assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/dir"), 0o755), 0);
      const dfd = open(b, "/dir", O_RDONLY);
      assert.equal(b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ, MAP_PRIVATE, dfd, 0), -ENODEV);
      assert.equal(b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ, MAP_PRIVATE, 1, 0), -ENODEV);
      assert.equal(b.call(nr.SYS_mmap2, 0, PAGE, PROT_READ, MAP_PRIVATE, 40, 0), -EBADF);
    } finally {
      b.close();
    }
  });
}

Deno.test("O_DIRECT moves page-aligned data straight between user pages and the device", () => {
  const b = makeBench("", "never");
  try {
    const fd = open(b, "/direct", O_CREAT | O_RDWR | O_DIRECT);
    const page = new Uint8Array(PAGE).map((_, i) => (i * 7) & 0xff);
    b.poke(PG, page);
    assert.equal(b.call(nr.SYS_write, fd, PG, PAGE), PAGE);
    assert.equal(b.call(nr.SYS_write, fd, PG, 100), -EINVAL, "length not a multiple of a page");
    assert.equal(b.call(nr.SYS_pwrite64, fd, PG + 8, PAGE, 0, 0), -EINVAL, "buffer misaligned");
    b.poke(PG, new Uint8Array(PAGE));
    assert.equal(b.call(nr.SYS_pread64, fd, PG, PAGE, 0, 0), PAGE);
    assert.deepEqual(b.peek(PG, PAGE), page);
    assert.equal(b.call(nr.SYS_read, fd, WILD, PAGE), -EFAULT, "unmapped buffer");
    // A buffered reader of the same file sees the data.
    const rd = open(b, "/direct", O_RDONLY);
    assert.equal(b.call(nr.SYS_read, rd, DATA, 16), 16);
    assert.deepEqual(b.peek(DATA, 16), page.subarray(0, 16));
  } finally {
    b.close();
  }
});

Deno.test("bad fds give -EBADF and bad pointers -EFAULT on file fds; exit closes every file", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/e", O_CREAT | O_RDWR);
    assert.equal(write(b, fd, "data"), 4);
    const cases: [string, number, number[], number][] = [
      ["read fd 50", nr.SYS_read, [50, DATA, 1], -EBADF],
      ["write fd 50", nr.SYS_write, [50, DATA, 1], -EBADF],
      ["statx of fd 50", nr.SYS_statx, [50, path(b, ""), AT_EMPTY_PATH, 0x7ff, RES], -EBADF],
      ["ftruncate fd 50", nr.SYS_ftruncate64, [50, 0, 0], -EBADF],
      ["fsync fd 50", nr.SYS_fsync, [50], -EBADF],
      ["getdents64 fd 50", nr.SYS_getdents64, [50, PG, PAGE], -EBADF],
      ["llseek fd 50", nr.SYS_llseek, [50, 0, 0, RES, 0], -EBADF],
      ["pread into a wild pointer", nr.SYS_pread64, [fd, WILD, 4, 0, 0], -EFAULT],
      ["write from a wild pointer", nr.SYS_write, [fd, WILD, 1], -EFAULT],
      ["statx into a wild pointer", nr.SYS_statx, [fd, PATH, AT_EMPTY_PATH, 0x7ff, WILD], -EFAULT],
      ["llseek result to a wild pointer", nr.SYS_llseek, [fd, 0, 0, WILD, 0], -EFAULT],
      ["openat of a wild path", nr.SYS_openat, [AT_FDCWD, WILD, 0, 0], -EFAULT],
      ["getdents64 of a file", nr.SYS_getdents64, [fd, PG, PAGE], -ENOTDIR],
    ];
    for (const [name, n, args, want] of cases) assert.equal(b.call(n, ...args), want, name);
    assert.ok(filesInUse(b.mem) >= 4, "three console reservations and /e");
    b.t.files.closeAll();
    assert.equal(filesInUse(b.mem), 0, "every open-file record released");
  } finally {
    b.close();
  }
});
