/**
 * The system calls musl and Lua need, called directly on a syscall bench:
 * /dev nodes and the boot-time /tmp, statx, getcwd and chdir, renameat2,
 * readlinkat, faccessat, statfs64, prlimit64's RLIMIT_NOFILE, record locks
 * between two processes, ioctl, ppoll, clock_nanosleep, uname, getrandom,
 * membarrier. (mtest compares the same calls with qemu-riscv32 through
 * musl: tests/guest/musl_test.ts.)
 */
import { CONS_INPUT } from "../../src/abi/layout/console.ts";
import { consoleAlloc, consolePut } from "../../src/kernel/console.ts";
import assert from "node:assert/strict";
import {
  EACCES,
  EAGAIN,
  EBADF,
  EBUSY,
  EEXIST,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOSPC,
  ENOTTY,
  ENXIO,
  EPERM,
  ERANGE,
  ESRCH,
} from "../../src/abi/errno.ts";
import { AT_FDCWD, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY } from "../../src/abi/fcntl.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { VfsFiles } from "../../src/kernel/files.ts";
import { syscallDispatch } from "../../src/kernel/syscall.ts";
import { Task } from "../../src/kernel/task.ts";
import { STATX } from "../../src/kernel/sys_stat.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { type Bench, makeBench, SCRATCH, statxFd, statxFields } from "./_task.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PATH = SCRATCH, PATH2 = SCRATCH + 512, DATA = SCRATCH + 1024, RES = SCRATCH + 2048;

function path(b: Bench, p: string, at = PATH): number {
  b.poke(at, enc.encode(p + "\0"));
  return at;
}
const open = (b: Bench, p: string, flags: number) =>
  b.call(nr.SYS_openat, AT_FDCWD, path(b, p), flags, 0o644);
const i32 = (b: Bench, va: number) => new DataView(b.peek(va, 4).buffer).getInt32(0, true);

function withBench(fn: (b: Bench) => void): void {
  const b = makeBench();
  try {
    fn(b);
  } finally {
    b.close();
  }
}

Deno.test("/dev holds null, zero, full, random, urandom and tty with Linux's numbers and rules", () => {
  withBench((b) => {
    const want: [string, number, number][] = [
      ["null", 1, 3],
      ["zero", 1, 5],
      ["full", 1, 7],
      ["random", 1, 8],
      ["urandom", 1, 9],
      ["tty", 5, 0],
    ];
    for (const [name, major, minor] of want) {
      const fd = open(b, `/dev/${name}`, O_RDONLY);
      if (name === "tty") {
        assert.equal(fd, -ENXIO, "no controlling terminal");
        b.poke(RES, Uint8Array.of(0));
        assert.equal(b.call(nr.SYS_statx, AT_FDCWD, path(b, "/dev/tty"), 0, 0x7ff, RES), 0);
      } else {
        assert.ok(fd >= 3, `open /dev/${name}: ${fd}`);
        assert.equal(statxFd(b, fd, RES), 0);
        b.call(nr.SYS_close, fd);
      }
      const v = new DataView(b.peek(RES, 256).buffer);
      assert.equal(statxFields(b, RES).mode & 0o170000, 0o020000, `${name} is S_IFCHR`);
      assert.equal(v.getUint32(STATX.rdevMajor, true), major, `${name} major`);
      assert.equal(v.getUint32(STATX.rdevMinor, true), minor, `${name} minor`);
    }
    const fd = open(b, "/dev/full", O_RDWR);
    b.poke(DATA, enc.encode("abc"));
    assert.equal(b.call(nr.SYS_write, fd, DATA, 3), -ENOSPC);
    assert.equal(b.call(nr.SYS_read, fd, DATA, 3), 3);
    assert.deepEqual([...b.peek(DATA, 3)], [0, 0, 0]);
    const nul = open(b, "/dev/null", O_RDWR);
    assert.equal(b.call(nr.SYS_write, nul, DATA, 3), 3);
    assert.equal(b.call(nr.SYS_read, nul, DATA, 3), 0);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/dev/null"), 0), -EBUSY);
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/dev/zero"), 0o755), -EEXIST);
    // The directory lists the nodes after its own entries (shm, made at boot).
    const dfd = open(b, "/dev", O_RDONLY | O_DIRECTORY);
    const n = b.call(nr.SYS_getdents64, dfd, SCRATCH + 4096, 4096);
    assert.ok(n > 0);
    const raw = b.peek(SCRATCH + 4096, n);
    const names: string[] = [];
    for (let o = 0; o < n;) {
      const len = new DataView(raw.buffer).getUint16(o + 16, true);
      names.push(dec.decode(raw.subarray(o + 19, raw.indexOf(0, o + 19))));
      o += len;
    }
    assert.deepEqual(names, [".", "..", "shm", "null", "zero", "full", "random", "urandom", "tty"]);
  });
});

Deno.test("/tmp and /dev/shm exist at boot, world-writable and sticky", () => {
  withBench((b) => {
    for (const d of ["/tmp", "/dev/shm"]) {
      b.poke(RES, Uint8Array.of(0));
      assert.equal(b.call(nr.SYS_statx, AT_FDCWD, path(b, d), 0, 0x7ff, RES), 0, d);
      assert.equal(statxFields(b, RES).mode, 0o041777, d);
    }
    assert.ok(open(b, "/tmp/x", O_CREAT | O_RDWR) >= 3, "files can be made in /tmp");
  });
});

Deno.test("getcwd(), chdir() and fchdir() follow the current directory, and a removed one is ENOENT", () => {
  withBench((b) => {
    const cwd = () => {
      const r = b.call(nr.SYS_getcwd, DATA, 256);
      return r < 0 ? r : dec.decode(b.peek(DATA, r - 1));
    };
    assert.equal(cwd(), "/");
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/a"), 0o755), 0);
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/a/b"), 0o755), 0);
    assert.equal(b.call(nr.SYS_chdir, path(b, "/a/b")), 0);
    assert.equal(cwd(), "/a/b");
    assert.equal(b.call(nr.SYS_getcwd, DATA, 4), -ERANGE, "no room for /a/b and its NUL");
    assert.equal(b.call(nr.SYS_getcwd, DATA, 5), 5, "exactly enough");
    const root = open(b, "/", O_RDONLY | O_DIRECTORY);
    assert.equal(b.call(nr.SYS_fchdir, root), 0);
    assert.equal(cwd(), "/");
    assert.equal(b.call(nr.SYS_chdir, path(b, "/a/b")), 0);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/a/b"), 0x200), 0);
    assert.equal(cwd(), -ENOENT, "the directory was removed");
    assert.equal(b.call(nr.SYS_chdir, path(b, "/proc/self")), 0);
    assert.match(cwd() as string, /^\/proc\/\d+$/, "procfs directories have a path too");
  });
});

Deno.test("renameat2() replaces, refuses with RENAME_NOREPLACE, and says EINVAL to RENAME_EXCHANGE", () => {
  withBench((b) => {
    for (const f of ["/x", "/y"]) b.call(nr.SYS_close, open(b, f, O_CREAT | O_WRONLY));
    const ren = (flags: number) =>
      b.call(nr.SYS_renameat2, AT_FDCWD, path(b, "/x"), AT_FDCWD, path(b, "/y", PATH2), flags);
    assert.equal(ren(1), -EEXIST, "RENAME_NOREPLACE onto /y");
    assert.equal(ren(2), -EINVAL, "RENAME_EXCHANGE");
    assert.equal(ren(8), -EINVAL, "unknown flag");
    assert.equal(ren(0), 0);
    assert.equal(open(b, "/x", O_RDONLY), -ENOENT);
    // The same on the tmpfs mounted on /dev/shm.
    for (const f of ["/dev/shm/x", "/dev/shm/y"]) {
      b.call(nr.SYS_close, open(b, f, O_CREAT | O_WRONLY));
    }
    const shm = (flags: number) =>
      b.call(
        nr.SYS_renameat2,
        AT_FDCWD,
        path(b, "/dev/shm/x"),
        AT_FDCWD,
        path(b, "/dev/shm/y", PATH2),
        flags,
      );
    assert.equal(shm(1), -EEXIST, "RENAME_NOREPLACE onto /dev/shm/y");
    assert.equal(shm(0), 0);
    assert.equal(open(b, "/dev/shm/x", O_RDONLY), -ENOENT);
  });
});

Deno.test("readlinkat() cuts at bufsiz; faccessat() checks existence and execute bits", () => {
  withBench((b) => {
    assert.equal(
      b.call(nr.SYS_symlinkat, path(b, "target-name"), AT_FDCWD, path(b, "/l", PATH2)),
      0,
    );
    assert.equal(b.call(nr.SYS_readlinkat, AT_FDCWD, path(b, "/l"), DATA, 6), 6);
    assert.equal(dec.decode(b.peek(DATA, 6)), "target");
    assert.equal(b.call(nr.SYS_readlinkat, AT_FDCWD, path(b, "/l"), DATA, 0), -EINVAL);
    b.call(nr.SYS_close, open(b, "/plain", O_CREAT | O_WRONLY));
    assert.equal(b.call(nr.SYS_faccessat, AT_FDCWD, path(b, "/plain"), 6), 0, "R_OK|W_OK as root");
    assert.equal(b.call(nr.SYS_faccessat, AT_FDCWD, path(b, "/plain"), 1), -EACCES, "X_OK");
    assert.equal(b.call(nr.SYS_faccessat, AT_FDCWD, path(b, "/"), 1), 0, "X_OK on a directory");
    assert.equal(b.call(nr.SYS_faccessat, AT_FDCWD, path(b, "/none"), 0), -ENOENT);
    assert.equal(b.call(nr.SYS_faccessat, AT_FDCWD, path(b, "/plain"), 8), -EINVAL);
  });
});

Deno.test("statfs64() reports 255-byte names and the xipfs counts; a wrong size is EINVAL", () => {
  withBench((b) => {
    assert.equal(b.call(nr.SYS_statfs64, path(b, "/"), 88, RES), 0);
    const v = new DataView(b.peek(RES, 88).buffer);
    assert.equal(v.getUint32(56, true), 255, "f_namelen");
    assert.equal(v.getUint32(4, true), 4096, "f_bsize");
    const blocks = Number(v.getBigUint64(8, true)), bfree = Number(v.getBigUint64(16, true));
    assert.ok(blocks > 0 && bfree <= blocks);
    assert.equal(b.call(nr.SYS_statfs64, path(b, "/"), 84, RES), -EINVAL);
    assert.equal(b.call(nr.SYS_fstatfs64, 1, 88, RES), 0, "the console");
    assert.equal(b.call(nr.SYS_fstatfs64, 77, 88, RES), -EBADF);
  });
});

Deno.test("prlimit64(RLIMIT_NOFILE) is enforced: EMFILE, dup2 EBADF, F_DUPFD EINVAL, EPERM past the table", () => {
  withBench((b) => {
    const rl = (soft: number, hard: number) => {
      const x = new Uint8Array(16);
      const v = new DataView(x.buffer);
      v.setBigUint64(0, BigInt(soft), true);
      v.setBigUint64(8, BigInt(hard), true);
      b.poke(DATA, x);
      return b.call(nr.SYS_prlimit64, 0, 7, DATA, RES);
    };
    assert.equal(rl(8, 8), 0);
    assert.equal(
      Number(new DataView(b.peek(RES, 16).buffer).getBigUint64(0, true)),
      256,
      "old soft",
    );
    const fds: number[] = [];
    for (let fd; (fd = open(b, "/dev/null", O_RDONLY)) >= 0;) fds.push(fd);
    assert.deepEqual(fds, [3, 4, 5, 6, 7]);
    assert.equal(open(b, "/dev/null", O_RDONLY), -EMFILE);
    assert.equal(b.call(nr.SYS_dup3, 3, 8, 0), -EBADF);
    assert.equal(b.call(nr.SYS_fcntl64, 3, 0, 9), -EINVAL, "F_DUPFD at 9");
    assert.equal(rl(9, 8), -EINVAL, "soft above hard");
    assert.equal(rl(300, 300), -EPERM, "past the fd table");
    assert.equal(b.call(nr.SYS_prlimit64, 0, 3, 0, RES), 0, "RLIMIT_STACK");
    assert.equal(Number(new DataView(b.peek(RES, 16).buffer).getBigUint64(0, true)), 8 << 20);
    assert.equal(b.call(nr.SYS_prlimit64, 0, 99, 0, RES), -EINVAL);
    assert.equal(b.call(nr.SYS_prlimit64, 12345, 7, 0, RES), -ESRCH, "another process");
  });
});

Deno.test("fcntl64() record locks conflict between processes, report the holder, and go on close", () => {
  withBench((b) => {
    // A second process on the same machine: its own fd table, so its own lock owner.
    const cons = consoleAlloc(b.mem, CONS_INPUT);
    if (cons < 0) throw new Error(`consoleAlloc: ${cons}`);
    const files = VfsFiles.create(b.fs, b.t.mm, cons);
    consolePut(b.mem, cons); // the fds hold their own references
    if (typeof files === "number") throw new Error("no fd table");
    const t2 = new Task({
      mem: b.mem,
      tid: asTaskSlot(3), // its own signal state; the thread's current task stays the bench's
      pid: b.t.pid + 100,
      parentPid: 0,
      mm: b.t.mm,
      files,
      bootMs: b.t.bootMs,
    });
    const regs = new Int32Array(32);
    const call2 = (n: number, ...args: number[]) => {
      regs.fill(0);
      args.forEach((v, i) => (regs[10 + i] = v | 0));
      regs[17] = n;
      syscallDispatch(t2, regs);
      return regs[10]!;
    };
    const flock = (type: number, start: number, len: number) => {
      const x = new Uint8Array(32);
      const v = new DataView(x.buffer);
      v.setInt16(0, type, true);
      v.setBigInt64(8, BigInt(start), true);
      v.setBigInt64(16, BigInt(len), true);
      b.poke(DATA, x);
      return DATA;
    };
    const fd1 = open(b, "/locked", O_CREAT | O_RDWR);
    const fd2 = call2(nr.SYS_openat, AT_FDCWD, path(b, "/locked"), O_RDWR, 0);
    assert.ok(fd1 >= 3 && fd2 >= 3);
    const F_GETLK64 = 12, F_SETLK64 = 13, F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    assert.equal(b.call(nr.SYS_fcntl64, fd1, F_SETLK64, flock(F_WRLCK, 0, 10)), 0);
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_SETLK64, flock(F_RDLCK, 5, 1)), -EAGAIN);
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_SETLK64, flock(F_WRLCK, 10, 5)), 0, "no overlap");
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_GETLK64, flock(F_WRLCK, 0, 0)), 0);
    const got = new DataView(b.peek(DATA, 32).buffer);
    assert.equal(got.getInt16(0, true), F_WRLCK, "the conflicting lock");
    assert.equal(Number(got.getBigInt64(8, true)), 0);
    assert.equal(Number(got.getBigInt64(16, true)), 10);
    assert.equal(got.getInt32(24, true), b.t.pid, "its holder");
    // The owner's own locks never conflict: a read lock over part of its write lock splits it.
    assert.equal(b.call(nr.SYS_fcntl64, fd1, F_SETLK64, flock(F_RDLCK, 2, 2)), 0);
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_SETLK64, flock(F_RDLCK, 2, 2)), 0, "read meets read");
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_SETLK64, flock(F_UNLCK, 0, 0)), 0);
    // Closing any fd of the file drops the process's locks on it (POSIX).
    const other = open(b, "/locked", O_RDONLY);
    assert.equal(b.call(nr.SYS_close, other), 0);
    assert.equal(call2(nr.SYS_fcntl64, fd2, F_SETLK64, flock(F_WRLCK, 0, 0)), 0, "all free");
    assert.equal(b.call(nr.SYS_fcntl64, fd1, F_SETLK64, flock(F_RDLCK, 0, 1)), -EAGAIN);
    files.closeAll();
    assert.equal(
      b.call(nr.SYS_fcntl64, fd1, F_SETLK64, flock(F_WRLCK, 0, 0)),
      0,
      "exit freed them",
    );
    const ro = open(b, "/locked", O_RDONLY);
    assert.equal(b.call(nr.SYS_fcntl64, ro, F_SETLK64, flock(F_WRLCK, 0, 1)), -EBADF, "mode");
  });
});

Deno.test("ioctl() says ENOTTY to terminal requests, ppoll() reports ready and closed fds", () => {
  withBench((b) => {
    assert.equal(b.call(nr.SYS_ioctl, 1, 0x5413, DATA), -ENOTTY, "TIOCGWINSZ on the console");
    const fd = open(b, "/io", O_CREAT | O_RDWR);
    assert.equal(b.call(nr.SYS_ioctl, fd, 0x5401, DATA), -ENOTTY, "TCGETS on a file");
    b.poke(DATA, enc.encode("12345"));
    b.call(nr.SYS_write, fd, DATA, 5);
    b.call(nr.SYS_llseek, fd, 0, 1, RES, 0);
    assert.equal(b.call(nr.SYS_ioctl, fd, 0x541b, DATA), 0, "FIONREAD");
    assert.equal(i32(b, DATA), 4);
    assert.equal(b.call(nr.SYS_ioctl, 77, 0x5413, DATA), -EBADF);
    const pfd = new Uint8Array(24);
    const v = new DataView(pfd.buffer);
    [[fd, 1], [77, 1], [-1, 1]].forEach(([f, ev], i) => {
      v.setInt32(i * 8, f!, true);
      v.setInt16(i * 8 + 4, ev!, true);
    });
    b.poke(DATA, pfd);
    assert.equal(b.call(nr.SYS_ppoll_time64, DATA, 3, 0, 0, 8), 2);
    const out = new DataView(b.peek(DATA, 24).buffer);
    assert.equal(out.getInt16(6, true), 1, "POLLIN on a file");
    assert.equal(out.getInt16(14, true), 0x20, "POLLNVAL on a closed fd");
    assert.equal(out.getInt16(22, true), 0, "negative fds are skipped");
  });
});

Deno.test("clock_nanosleep_time64() sleeps relative and absolute, and checks its timespec", () => {
  withBench((b) => {
    const ts = (sec: number, nsec: number) => {
      const x = new Uint8Array(16);
      const v = new DataView(x.buffer);
      v.setBigInt64(0, BigInt(sec), true);
      v.setBigInt64(8, BigInt(nsec), true);
      b.poke(DATA, x);
      return DATA;
    };
    const t0 = performance.now();
    assert.equal(b.call(nr.SYS_clock_nanosleep_time64, 1, 0, ts(0, 30_000_000), 0), 0);
    assert.ok(performance.now() - t0 >= 29, "slept 30 ms");
    const t1 = performance.now();
    assert.equal(b.call(nr.SYS_clock_nanosleep_time64, 1, 1, ts(0, 1), 0), 0, "a past deadline");
    assert.ok(performance.now() - t1 < 25, "returns at once");
    assert.equal(b.call(nr.SYS_clock_nanosleep_time64, 1, 0, ts(0, 1e9), 0), -EINVAL);
    assert.equal(b.call(nr.SYS_clock_nanosleep_time64, 99, 0, ts(0, 1), 0), -EINVAL);
  });
});

Deno.test("uname(), getrandom() and membarrier() answer as Linux does", () => {
  withBench((b) => {
    assert.equal(b.call(nr.SYS_uname, DATA), 0);
    const u = b.peek(DATA, 390);
    const field = (i: number) => dec.decode(u.subarray(i * 65, u.indexOf(0, i * 65)));
    assert.equal(field(0), "Linux");
    assert.equal(field(4), "riscv32");
    assert.equal(b.call(nr.SYS_getrandom, DATA, 100, 0), 100);
    assert.equal(b.call(nr.SYS_getrandom, DATA, 1, 6), -EINVAL, "GRND_RANDOM|GRND_INSECURE");
    assert.equal(b.call(nr.SYS_membarrier, 0, 0, 0), 31, "MEMBARRIER_CMD_QUERY");
    assert.equal(b.call(nr.SYS_membarrier, 8, 0, 0), -EPERM, "private expedited unregistered");
    assert.equal(b.call(nr.SYS_membarrier, 16, 0, 0), 0);
    assert.equal(b.call(nr.SYS_membarrier, 8, 0, 0), 0);
  });
});
