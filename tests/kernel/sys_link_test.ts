/**
 * linkat(2) through the syscall table, on the xipfs root and the /dev/shm
 * tmpfs: what the qemu differential (linktest in ipc_qemu_test.ts) cannot
 * compare because the host's answer depends on its capabilities or
 * kernel version (AT_EMPTY_PATH on a live file), plus AT_SYMLINK_FOLLOW,
 * rename between two names of one file, files that are on no mounted
 * filesystem (a socket, the console) and /proc. Each ends with the
 * machine's invariants (rule 8 counts a tmpfs file's names against its
 * nlink) and fsck (xipfs link counts).
 */
import assert from "node:assert/strict";
import { EEXIST, EINVAL, ENOENT, EPERM, EXDEV } from "../../src/abi/errno.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_FOLLOW,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../src/abi/fcntl.ts";
import { AF_UNIX, SOCK_STREAM } from "../../src/abi/socket.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { STATX, STATX_BYTES } from "../../src/kernel/sys_stat.ts";
import { ICACHE, ICACHE_SLOTS, ISLOT, ISLOT_WORDS } from "../../src/abi/layout/mod.ts";
import { SHMI, shmiBase } from "../../src/abi/layout/ipc.ts";
import { shmemInodes } from "../../src/fs/shmem.ts";
import { vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { vfsLink, vfsRename, vfsStat, vfsSymlink } from "../../src/fs/vfs_path.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { makeBench, SCRATCH, statxFd } from "./_task.ts";
import { assertInvariants } from "../_invariants.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OLD = SCRATCH, NEW = SCRATCH + 256, DATA = SCRATCH + 512, RES = SCRATCH + 1024;

type Bench = ReturnType<typeof makeBench>;

function linkat(b: Bench, od: number, op: string, nd: number, np: string, flags = 0): number {
  b.poke(OLD, enc.encode(op + "\0"));
  b.poke(NEW, enc.encode(np + "\0"));
  return b.call(nr.SYS_linkat, od, OLD, nd, NEW, flags);
}
function open(b: Bench, p: string, flags: number): number {
  b.poke(OLD, enc.encode(p + "\0"));
  return b.call(nr.SYS_openat, AT_FDCWD, OLD, flags, 0o600);
}
function nlinkOf(b: Bench, fd: number): number {
  assert.equal(statxFd(b, fd, RES), 0);
  return new DataView(b.peek(RES, STATX_BYTES).buffer).getUint32(STATX.nlink, true);
}
function readAll(b: Bench, p: string): string {
  const fd = open(b, p, O_RDONLY);
  assert.ok(fd >= 0, `open ${p}: ${fd}`);
  const n = b.call(nr.SYS_read, fd, DATA, 64);
  b.call(nr.SYS_close, fd);
  return dec.decode(b.peek(DATA, Math.max(n, 0)));
}

for (const root of ["", "/dev/shm"]) {
  const fsName = root === "" ? "xipfs" : "tmpfs";
  Deno.test(`linkat on ${fsName}: AT_EMPTY_PATH links an open file, AT_SYMLINK_FOLLOW, rename between two names is a no-op`, () => {
    const b = makeBench();
    const proc = vfsProcCreate(b.fs.vfs);
    if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
    try {
      const fd = open(b, `${root}/f`, O_CREAT | O_RDWR);
      assert.ok(fd >= 0);
      b.poke(DATA, enc.encode("payload"));
      assert.equal(b.call(nr.SYS_write, fd, DATA, 7), 7);
      // flink: the fd's file gets a name; without the flag the empty path is -ENOENT.
      assert.equal(linkat(b, fd, "", AT_FDCWD, `${root}/g`), -ENOENT);
      assert.equal(linkat(b, fd, "", AT_FDCWD, `${root}/g`, AT_EMPTY_PATH), 0);
      assert.equal(nlinkOf(b, fd), 2);
      assert.equal(readAll(b, `${root}/g`), "payload");
      assert.equal(linkat(b, AT_FDCWD, `${root}/f`, AT_FDCWD, `${root}/g`, 0x1), -EINVAL);
      // A symlink is linked itself, or its target with AT_SYMLINK_FOLLOW.
      assert.equal(vfsSymlink(proc, "f", `${root}/s`), 0);
      assert.equal(linkat(b, AT_FDCWD, `${root}/s`, AT_FDCWD, `${root}/s2`), 0);
      assert.equal(linkat(b, AT_FDCWD, `${root}/s`, AT_FDCWD, `${root}/h`, AT_SYMLINK_FOLLOW), 0);
      const s2 = vfsStat(proc, `${root}/s2`, false);
      assert.ok(typeof s2 !== "number" && (s2.mode & S_IFMT) === S_IFLNK && s2.nlink === 2);
      const h = vfsStat(proc, `${root}/h`, false);
      assert.ok(typeof h !== "number" && (h.mode & S_IFMT) === S_IFREG && h.nlink === 3);
      // rename(2) between two names of one file does nothing, as POSIX says.
      assert.equal(vfsRename(proc, `${root}/g`, `${root}/h`), 0);
      assert.equal(readAll(b, `${root}/g`), "payload");
      assert.equal(readAll(b, `${root}/h`), "payload");
      assert.equal(nlinkOf(b, fd), 3);
      // Unlinking every name leaves an orphan that AT_EMPTY_PATH may not bring back.
      for (const n of ["f", "g", "h", "s", "s2"]) {
        b.poke(OLD, enc.encode(`${root}/${n}\0`));
        assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, OLD, 0), 0, n);
      }
      assert.equal(nlinkOf(b, fd), 0);
      assert.equal(linkat(b, fd, "", AT_FDCWD, `${root}/back`, AT_EMPTY_PATH), -ENOENT);
      assert.equal(b.call(nr.SYS_close, fd), 0);
      assert.equal(shmemInodes(b.mem), 1, "only the tmpfs root is left");
      assertInvariants(b.mem, { fsck: true }, `linkat on ${fsName}`);
    } finally {
      vfsProcExit(b.fs.vfs, proc.fdt);
      b.close();
    }
  });
}

Deno.test("linkat: a socket or the console by fd is -EXDEV; /proc is -EXDEV across and -EPERM inside; the mount points exist", () => {
  const b = makeBench();
  const proc = vfsProcCreate(b.fs.vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
  try {
    const sock = b.call(nr.SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    assert.ok(sock >= 0, `socket ${sock}`);
    assert.equal(linkat(b, sock, "", AT_FDCWD, "/sock", AT_EMPTY_PATH), -EXDEV);
    assert.equal(b.call(nr.SYS_close, sock), 0);
    const f = open(b, "/f", O_CREAT | O_RDWR);
    assert.ok(f >= 0);
    assert.equal(vfsLink(proc, "/f", "/proc/f"), -EXDEV);
    assert.equal(vfsLink(proc, "/proc/self/maps", "/m"), -EXDEV);
    assert.equal(vfsLink(proc, "/proc/self/maps", "/proc/self/m2"), -EPERM);
    assert.equal(vfsLink(proc, "/f", "/proc"), -EEXIST);
    assert.equal(vfsLink(proc, "/f", "/dev/shm"), -EEXIST);
    assert.equal(vfsLink(proc, "/dev/shm", "/dev/shm2"), -EXDEV, "EXDEV comes first");
    assert.equal(vfsLink(proc, "/dev/shm", "/dev/shm/d"), -EPERM, "a directory");
    assert.equal(linkat(b, 1, "", AT_FDCWD, "/console", AT_EMPTY_PATH), -EXDEV, "the console");
    b.call(nr.SYS_close, f);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, (b.poke(OLD, enc.encode("/f\0")), OLD), 0), 0);
    assertInvariants(b.mem, { fsck: true }, "linkat refusals");
  } finally {
    vfsProcExit(b.fs.vfs, proc.fdt);
    b.close();
  }
});

Deno.test("checkInvariants() reports a tmpfs file whose nlink is not its number of names", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/dev/shm/a", O_CREAT | O_RDWR);
    assert.equal(linkat(b, AT_FDCWD, "/dev/shm/a", AT_FDCWD, "/dev/shm/b"), 0);
    assert.deepEqual(checkInvariants(b.mem), []);
    // The inode-cache slot of the open file's inode.
    assert.equal(statxFd(b, fd, RES), 0);
    const ino = Number(new DataView(b.peek(RES, STATX_BYTES).buffer).getBigUint64(STATX.ino, true));
    const k = b.mem.k32, l = b.mem.layout;
    let slot = 0;
    for (let s = 1; s < ICACHE_SLOTS && slot === 0; s++) {
      if (k[l.icache.base + ICACHE.slots + s * ISLOT_WORDS + ISLOT.ino] === ino) slot = s;
    }
    assert.ok(slot > 0, "the inode is cached");
    const nl = shmiBase(l.ipc.base, slot) + SHMI.nlink;
    k[nl]!--;
    assert.ok(
      checkInvariants(b.mem).includes(`ipc: tmpfs inode ${ino} has nlink 1 but 2 names`),
      checkInvariants(b.mem).join("\n"),
    );
    k[nl]!++;
    assert.deepEqual(checkInvariants(b.mem), [], "put back");
    b.call(nr.SYS_close, fd);
  } finally {
    b.close();
  }
});
