import assert from "node:assert/strict";
import {
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOSPC,
  ENOTDIR,
  ENOTEMPTY,
  EXDEV,
} from "../../src/abi/errno.ts";
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../../src/abi/fcntl.ts";
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { STATX, STATX_BYTES } from "../../src/kernel/sys_stat.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { shmemInodes, shmemPages } from "../../src/fs/shmem.ts";
import { vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { vfsMkdir, vfsOpen, vfsRename, vfsStat, vfsSymlink } from "../../src/fs/vfs_path.ts";
import { makeBench, SCRATCH, statxFd } from "./_task.ts";
import { assertInvariants } from "../_invariants.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PATH = SCRATCH, DATA = SCRATCH + 256, RES = SCRATCH + 1024;

type Bench = ReturnType<typeof makeBench>;

function path(b: Bench, p: string): number {
  b.poke(PATH, enc.encode(p + "\0"));
  return PATH;
}
const open = (b: Bench, p: string, flags: number) =>
  b.call(nr.SYS_openat, AT_FDCWD, path(b, p), flags, 0o600);
const u32 = (b: Bench, va: number) => new DataView(b.peek(va, 4).buffer).getUint32(0, true);

function stat(b: Bench, fd: number): DataView {
  assert.equal(statxFd(b, fd, RES), 0);
  return new DataView(b.peek(RES, STATX_BYTES).buffer);
}

/** getdents64 of `fd`: the names, in order. */
function names(b: Bench, fd: number): string[] {
  const out: string[] = [];
  for (;;) {
    const n = b.call(nr.SYS_getdents64, fd, DATA, 2048);
    assert.ok(n >= 0, `getdents64: ${n}`);
    if (n === 0) return out;
    const buf = b.peek(DATA, n);
    const v = new DataView(buf.buffer);
    for (let at = 0; at < n;) {
      const len = v.getUint16(at + 16, true);
      const name = buf.subarray(at + 19, at + len);
      out.push(dec.decode(name.subarray(0, name.indexOf(0))));
      at += len;
    }
  }
}

Deno.test("/dev/shm is a tmpfs: open(O_CREAT|O_EXCL), ftruncate, MAP_SHARED writes reach read(), unlink while mapped", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/dev/shm/seg", O_CREAT | O_EXCL | O_RDWR);
    assert.equal(fd, 3);
    assert.equal(open(b, "/dev/shm/seg", O_CREAT | O_EXCL | O_RDWR), -EEXIST);
    assert.equal(b.call(nr.SYS_ftruncate64, fd, 2 * PAGE_SIZE, 0), 0);
    let st = stat(b, fd);
    assert.equal(st.getUint32(STATX.mode, true) & S_IFMT, S_IFREG);
    assert.equal(Number(st.getBigInt64(STATX.size, true)), 2 * PAGE_SIZE);
    const va = b.call(nr.SYS_mmap2, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert.ok(va > 0, `mmap2: ${va}`);
    b.poke(va + PAGE_SIZE + 8, enc.encode("through the mapping"));
    assert.equal(b.call(nr.SYS_pread64, fd, DATA, 19, PAGE_SIZE + 8, 0), 19);
    assert.equal(dec.decode(b.peek(DATA, 19)), "through the mapping");
    b.poke(DATA, enc.encode("by write"));
    assert.equal(b.call(nr.SYS_pwrite64, fd, DATA, 8, 100, 0), 8);
    assert.equal(dec.decode(b.peek(va + 100, 8)), "by write", "a write reaches the mapped page");
    st = stat(b, fd);
    assert.equal(Number(st.getBigInt64(STATX.blocks, true)), 16, "two pages: 16 sectors");
    // unlink: the name goes, the memory stays while mapped and open.
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/dev/shm/seg"), 0), 0);
    assert.equal(open(b, "/dev/shm/seg", O_RDWR), -ENOENT);
    assert.equal(dec.decode(b.peek(va + 100, 8)), "by write");
    assert.equal(b.call(nr.SYS_close, fd), 0);
    assert.equal(shmemPages(b.mem), 2);
    assert.equal(b.call(nr.SYS_munmap, va, 2 * PAGE_SIZE), 0);
    assert.equal(shmemPages(b.mem), 0, "the last reference freed the pages");
    assert.equal(shmemInodes(b.mem), 1, "only the tmpfs root is left");
    assertInvariants(b.mem);
  } finally {
    b.close();
  }
});

Deno.test("tmpfs directories: mkdir, getdents64 with . and .., rmdir rules, .. of the root is /dev", () => {
  const b = makeBench();
  try {
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/dev/shm/d"), 0o755), 0);
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/dev/shm/d"), 0o755), -EEXIST);
    const f = open(b, "/dev/shm/d/f", O_CREAT | O_RDWR);
    assert.ok(f >= 0);
    assert.equal(b.call(nr.SYS_close, f), 0);
    assert.equal(open(b, "/dev/shm/d/f/x", O_CREAT | O_RDWR), -ENOTDIR);
    const dfd = open(b, "/dev/shm/d", O_RDONLY | O_DIRECTORY);
    assert.deepEqual(names(b, dfd), [".", "..", "f"]);
    assert.equal(stat(b, dfd).getUint32(STATX.nlink, true), 2);
    b.call(nr.SYS_close, dfd);
    const shm = open(b, "/dev/shm", O_RDONLY | O_DIRECTORY);
    assert.deepEqual(names(b, shm), [".", "..", "d"]);
    const st = stat(b, shm);
    assert.equal(st.getUint32(STATX.mode, true), S_IFDIR | 0o1777);
    assert.equal(st.getUint32(STATX.nlink, true), 3, "., .. and d's ..");
    b.call(nr.SYS_close, shm);
    const up = open(b, "/dev/shm/../shm/d/../d/f", O_RDWR);
    assert.ok(up >= 0, `.. walks: ${up}`);
    b.call(nr.SYS_close, up);
    const rm = (p: string, flags: number) => b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, p), flags);
    assert.equal(rm("/dev/shm/d", AT_REMOVEDIR), -ENOTEMPTY);
    assert.equal(rm("/dev/shm/d", 0), -EISDIR);
    assert.equal(rm("/dev/shm/d/f", AT_REMOVEDIR), -ENOTDIR);
    assert.equal(rm("/dev/shm/d/f", 0), 0);
    assert.equal(rm("/dev/shm/d", AT_REMOVEDIR), 0);
    assert.equal(shmemInodes(b.mem), 1);
    assertInvariants(b.mem);
  } finally {
    b.close();
  }
});

Deno.test("tmpfs rename: replaces a file, refuses a non-empty directory, EXDEV to xipfs, EINVAL into itself; symlinks", () => {
  const b = makeBench();
  const proc = vfsProcCreate(b.fs.vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
  try {
    const mk = (p: string) => {
      const fd = vfsOpen(proc, p, O_CREAT | O_RDWR);
      assert.ok(fd >= 0, `${p}: ${fd}`);
    };
    mk("/dev/shm/a");
    mk("/dev/shm/b");
    assert.equal(vfsMkdir(proc, "/dev/shm/d"), 0);
    assert.equal(vfsMkdir(proc, "/dev/shm/e"), 0);
    mk("/dev/shm/e/x");
    assert.equal(vfsRename(proc, "/dev/shm/a", "/dev/shm/b"), 0);
    assert.equal(vfsStat(proc, "/dev/shm/a"), -ENOENT);
    assert.equal(vfsRename(proc, "/dev/shm/d", "/dev/shm/e"), -ENOTEMPTY);
    assert.equal(vfsRename(proc, "/dev/shm/b", "/dev/shm/d"), -EISDIR);
    assert.equal(vfsRename(proc, "/dev/shm/d", "/dev/shm/d/sub"), -EINVAL);
    assert.equal(vfsRename(proc, "/dev/shm/b", "/moved"), -EXDEV);
    assert.equal(vfsRename(proc, "/dev/shm/b", "/dev/shm/d/b"), 0);
    assert.equal(vfsRename(proc, "/dev/shm/e", "/dev/shm/d/e"), 0);
    const d = vfsStat(proc, "/dev/shm/d");
    assert.ok(typeof d !== "number");
    assert.equal(d.nlink, 3, "d holds e now");
    assert.equal(vfsSymlink(proc, "d/e/x", "/dev/shm/link"), 0);
    const x = vfsStat(proc, "/dev/shm/link");
    assert.ok(typeof x !== "number" && (x.mode & S_IFMT) === S_IFREG, "followed to d/e/x");
  } finally {
    vfsProcExit(b.fs.vfs, proc.fdt);
    b.close();
  }
  assert.equal(shmemInodes(b.mem), 0, "unmount dropped every tmpfs inode");
});

Deno.test("tmpfs stops at half of RAM with ENOSPC (size=50%); fallocate undoes a failure; punch-hole frees", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/dev/shm/big", O_CREAT | O_RDWR);
    // The bench has 1024 RAM frames: the tmpfs may hold 512 pages.
    assert.equal(b.call(nr.SYS_fallocate, fd, 0, 0, 0, 600 * PAGE_SIZE, 0), -ENOSPC);
    assert.equal(shmemPages(b.mem), 0, "the failed fallocate dropped what it made");
    assert.equal(Number(stat(b, fd).getBigInt64(STATX.size, true)), 0);
    b.poke(DATA, new Uint8Array(PAGE_SIZE).fill(7));
    let written = 0;
    for (;;) {
      const n = b.call(nr.SYS_write, fd, DATA, PAGE_SIZE);
      if (n < 0) {
        assert.equal(n, -ENOSPC);
        break;
      }
      written += n;
    }
    assert.equal(written, 512 * PAGE_SIZE);
    // PUNCH_HOLE|KEEP_SIZE over pages 1..9 and half of page 10.
    assert.equal(b.call(nr.SYS_fallocate, fd, 3, PAGE_SIZE, 0, 9.5 * PAGE_SIZE, 0), 0);
    assert.equal(shmemPages(b.mem), 512 - 9);
    assert.equal(b.call(nr.SYS_pread64, fd, DATA, 4, 10 * PAGE_SIZE + 2044, 0), 4);
    assert.deepEqual([...b.peek(DATA, 4)], [0, 0, 0, 0]);
    assert.equal(b.call(nr.SYS_pread64, fd, DATA, 4, 10 * PAGE_SIZE + 2048, 0), 4);
    assert.deepEqual([...b.peek(DATA, 4)], [7, 7, 7, 7]);
    assert.equal(b.call(nr.SYS_ftruncate64, fd, 0, 0), 0);
    assert.equal(shmemPages(b.mem), 0);
    assert.equal(b.call(nr.SYS_fallocate, fd, 0, 0, 0, 8 * PAGE_SIZE, 0), 0);
    assert.equal(Number(stat(b, fd).getBigInt64(STATX.size, true)), 8 * PAGE_SIZE);
    b.call(nr.SYS_close, fd);
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/dev/shm/big"), 0), 0);
    assert.equal(shmemPages(b.mem), 0);
    assertInvariants(b.mem);
  } finally {
    b.close();
  }
});

Deno.test("mmap2(MAP_SHARED|MAP_ANONYMOUS) is shmem: zero-filled, refcounted, freed at munmap", () => {
  const b = makeBench();
  try {
    const len = 3 * PAGE_SIZE;
    const va = b.call(
      nr.SYS_mmap2,
      0,
      len,
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_ANONYMOUS,
      -1,
      0,
    );
    assert.ok(va > 0, `mmap2: ${va}`);
    assert.equal(u32(b, va + PAGE_SIZE), 0);
    b.poke(va + 2 * PAGE_SIZE, enc.encode("shared"));
    assert.equal(shmemInodes(b.mem), 2, "the tmpfs root and the mapping's inode");
    assert.equal(shmemPages(b.mem), 2);
    // A partial munmap keeps the rest (and the inode).
    assert.equal(b.call(nr.SYS_munmap, va, PAGE_SIZE), 0);
    assert.equal(dec.decode(b.peek(va + 2 * PAGE_SIZE, 6)), "shared");
    assert.equal(b.call(nr.SYS_munmap, va + PAGE_SIZE, 2 * PAGE_SIZE), 0);
    assert.equal(shmemInodes(b.mem), 1);
    assert.equal(shmemPages(b.mem), 0);
    // MAP_PRIVATE|MAP_ANONYMOUS stays plain anonymous memory.
    const p = b.call(
      nr.SYS_mmap2,
      0,
      len,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0,
    );
    b.poke(p, enc.encode("x"));
    assert.equal(shmemInodes(b.mem), 1);
    assert.equal(b.call(nr.SYS_mmap2, 0, 0, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0), -EINVAL);
    assertInvariants(b.mem);
  } finally {
    b.close();
  }
});

Deno.test("/proc/self/maps names shmem mappings as Linux does: /dev/zero, /SYSV<key>, /dev/shm/NAME", () => {
  const b = makeBench();
  try {
    const rw = PROT_READ | PROT_WRITE;
    const anon = b.call(nr.SYS_mmap2, 0, PAGE_SIZE, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const shm = b.call(nr.SYS_shmget, 0x1234abcd, PAGE_SIZE, 0o1000 | 0o600);
    const seg = b.call(nr.SYS_shmat, shm, 0, 0);
    assert.equal(b.call(nr.SYS_mkdirat, AT_FDCWD, path(b, "/dev/shm/dir"), 0o755), 0);
    const fd = open(b, "/dev/shm/dir/obj", O_CREAT | O_RDWR);
    b.call(nr.SYS_ftruncate64, fd, PAGE_SIZE, 0);
    const file = b.call(nr.SYS_mmap2, 0, PAGE_SIZE, rw, MAP_SHARED, fd, 0);
    const maps = open(b, "/proc/self/maps", O_RDONLY);
    const n = b.call(nr.SYS_read, maps, DATA, 4096);
    const text = dec.decode(b.peek(DATA, n));
    const nameAt = (va: number) =>
      text.split("\n").find((l) => l.startsWith(va.toString(16).padStart(8, "0")))?.slice(73);
    assert.equal(nameAt(anon), "/dev/zero (deleted)");
    assert.equal(nameAt(seg), "/SYSV1234abcd (deleted)");
    assert.equal(nameAt(file), "/dev/shm/dir/obj");
    assert.equal(b.call(nr.SYS_unlinkat, AT_FDCWD, path(b, "/dev/shm/dir/obj"), 0), 0);
    assert.equal(b.call(nr.SYS_shmctl, shm, 0, 0), 0);
  } finally {
    b.close();
  }
});
