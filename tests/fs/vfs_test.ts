import assert from "node:assert/strict";
import {
  EBADF,
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ELOOP,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  ENXIO,
  errnoName,
} from "../../src/abi/errno.ts";
import {
  DIRENT64,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  S_IFDIR,
  S_IFREG,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
  STATX_ATTR_DAX,
} from "../../src/abi/fcntl.ts";
import { encodeStatx, STATX, STATX_BYTES } from "../../src/kernel/sys_stat.ts";
import { asIno, PAGE_SIZE } from "../../src/abi/types.ts";
import {
  type Proc,
  vfsClose,
  vfsDup,
  vfsDup2,
  vfsFcntl,
  vfsFstat,
  vfsFsync,
  vfsFtruncate,
  vfsLseek,
  vfsPread,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
  vfsRead,
  vfsWrite,
  type VStat,
} from "../../src/fs/vfs.ts";
import { fdtInUse, filesInUse } from "../../src/fs/file_table.ts";
import {
  vfsChdir,
  vfsGetdents64,
  vfsMkdir,
  vfsOpen,
  vfsReadlink,
  vfsRename,
  vfsRmdir,
  vfsStat,
  vfsSymlink,
  vfsUnlink,
} from "../../src/fs/vfs_path.ts";
import { boot, type Mode, MODES } from "./_vfs_harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Read up to n bytes at the position; the text, or the errno name. */
function rd(p: Proc, fd: number, n: number): string {
  const b = new Uint8Array(n);
  const r = vfsRead(p, fd, b);
  return r < 0 ? errnoName(r) : dec.decode(b.subarray(0, r));
}
function prd(p: Proc, fd: number, n: number, pos: number): string {
  const b = new Uint8Array(n);
  const r = vfsPread(p, fd, b, pos);
  return r < 0 ? errnoName(r) : dec.decode(b.subarray(0, r));
}
const wr = (p: Proc, fd: number, s: string) => vfsWrite(p, fd, enc.encode(s));

/** Names listed by getdents64 on an open directory, sorted. */
function ls(p: Proc, path: string): string[] | number {
  const fd = vfsOpen(p, path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fd;
  const names: string[] = [];
  const buf = new Uint8Array(64);
  for (;;) {
    const n = vfsGetdents64(p, fd, buf);
    if (n < 0) return n;
    if (n === 0) break;
    const v = new DataView(buf.buffer);
    for (let off = 0; off < n;) {
      const rec = v.getUint16(off + DIRENT64.reclen, true);
      const end = buf.indexOf(0, off + DIRENT64.name);
      names.push(dec.decode(buf.subarray(off + DIRENT64.name, end)));
      off += rec;
    }
  }
  vfsClose(p, fd);
  return names.sort();
}

/** The mode-independent part of a stat. */
const statCore = (st: VStat | number) =>
  typeof st === "number" ? st : { mode: st.mode, size: st.size, nlink: st.nlink };

/** A step: label, operation, expected result (undefined: only compared across modes). */
type Step = [string, (p: Proc, fds: Record<string, number>) => unknown, unknown?];

const NAME256 = "n".repeat(256);

/** One sequence; fds are remembered by name in `fds`. */
const STEPS: Step[] = [
  ["open missing", (p) => vfsOpen(p, "/a", O_RDONLY), -ENOENT],
  ["creat /a", (p, f) => (f.a = vfsOpen(p, "/a", O_CREAT | O_RDWR, 0o644)), 0],
  ["write hello", (p, f) => wr(p, f.a!, "hello"), 5],
  ["lseek cur", (p, f) => vfsLseek(p, f.a!, 0, SEEK_CUR), 5],
  ["read at EOF", (p, f) => rd(p, f.a!, 10), ""],
  ["lseek set 0", (p, f) => vfsLseek(p, f.a!, 0, SEEK_SET), 0],
  ["read", (p, f) => rd(p, f.a!, 16), "hello"],
  ["pread 1", (p, f) => prd(p, f.a!, 3, 1), "ell"],
  ["pread leaves pos", (p, f) => vfsLseek(p, f.a!, 0, SEEK_CUR), 5],
  ["pread negative", (p, f) => prd(p, f.a!, 3, -1), "EINVAL"],
  ["pwrite", (p, f) => vfsPwrite(p, f.a!, enc.encode("J"), 0), 1],
  ["pwrite negative", (p, f) => vfsPwrite(p, f.a!, enc.encode("J"), -5), -EINVAL],
  ["read after pwrite", (p, f) => prd(p, f.a!, 10, 0), "Jello"],
  ["O_EXCL existing", (p) => vfsOpen(p, "/a", O_CREAT | O_EXCL | O_RDWR), -EEXIST],
  ["trailing slash on file", (p) => vfsOpen(p, "/a/", O_RDONLY), -ENOTDIR],
  ["file as dir", (p) => vfsOpen(p, "/a/x", O_RDONLY), -ENOTDIR],
  ["dir for writing", (p) => vfsOpen(p, "/", O_WRONLY), -EISDIR],
  ["O_CREAT on /", (p) => vfsOpen(p, "/", O_CREAT | O_RDWR), -EISDIR],
  ["O_DIRECTORY on file", (p) => vfsOpen(p, "/a", O_DIRECTORY), -ENOTDIR],
  ["access mode 3", (p) => vfsOpen(p, "/a", 3), -EINVAL],
  ["name too long", (p) => vfsOpen(p, "/" + NAME256, O_CREAT | O_RDWR), -ENAMETOOLONG],
  ["path too long", (p) => vfsOpen(p, "/a" + "/x".repeat(2100), O_RDONLY), -ENAMETOOLONG],
  ["empty path", (p) => vfsOpen(p, "", O_RDONLY), -ENOENT],
  ["open rdonly", (p, f) => (f.r = vfsOpen(p, "/a", O_RDONLY)), 1],
  ["write on rdonly", (p, f) => wr(p, f.r!, "x"), -EBADF],
  ["ftruncate on rdonly", (p, f) => vfsFtruncate(p, f.r!, 0), -EINVAL],
  ["open wronly", (p, f) => (f.w = vfsOpen(p, "/a", O_WRONLY)), 2],
  ["read on wronly", (p, f) => rd(p, f.w!, 1), "EBADF"],
  ["bad fd read", (p) => rd(p, 77, 1), "EBADF"],
  ["bad fd write", (p) => wr(p, -1, "x"), -EBADF],
  ["bad fd close", (p) => vfsClose(p, 300), -EBADF],
  ["bad whence", (p, f) => vfsLseek(p, f.a!, 0, 9), -EINVAL],
  ["negative seek", (p, f) => vfsLseek(p, f.a!, -10, SEEK_SET), -EINVAL],
  ["seek end", (p, f) => vfsLseek(p, f.a!, -1, SEEK_END), 4],
  ["SEEK_DATA past EOF", (p, f) => vfsLseek(p, f.a!, 5, SEEK_DATA), -ENXIO],
  ["SEEK_HOLE past EOF", (p, f) => vfsLseek(p, f.a!, 99, SEEK_HOLE), -ENXIO],
  ["ftruncate negative", (p, f) => vfsFtruncate(p, f.a!, -1), -EINVAL],
  ["ftruncate grow", (p, f) => vfsFtruncate(p, f.a!, 3 * PAGE_SIZE + 100), 0],
  ["size after grow", (p, f) => statCore(vfsFstat(p, f.a!)), {
    mode: S_IFREG | 0o644,
    size: 3 * PAGE_SIZE + 100,
    nlink: 1,
  }],
  ["grown tail reads zeros", (p, f) => prd(p, f.a!, 4, 5), "\0\0\0\0"],
  ["SEEK_DATA 0", (p, f) => vfsLseek(p, f.a!, 0, SEEK_DATA), 0],
  ["SEEK_HOLE 0", (p, f) => vfsLseek(p, f.a!, 0, SEEK_HOLE), PAGE_SIZE],
  ["SEEK_DATA in hole", (p, f) => vfsLseek(p, f.a!, PAGE_SIZE, SEEK_DATA), -ENXIO],
  ["SEEK_HOLE mid-hole", (p, f) => vfsLseek(p, f.a!, PAGE_SIZE + 7, SEEK_HOLE), PAGE_SIZE + 7],
  ["hole write far", (p, f) => vfsPwrite(p, f.a!, enc.encode("Z"), 2 * PAGE_SIZE + 9), 1],
  ["SEEK_DATA finds it", (p, f) => vfsLseek(p, f.a!, PAGE_SIZE, SEEK_DATA), 2 * PAGE_SIZE],
  ["SEEK_HOLE after it", (p, f) => vfsLseek(p, f.a!, 2 * PAGE_SIZE, SEEK_HOLE), 3 * PAGE_SIZE],
  ["ftruncate shrink", (p, f) => vfsFtruncate(p, f.a!, 3), 0],
  ["read shrunk", (p, f) => prd(p, f.a!, 10, 0), "Jel"],
  ["regrow", (p, f) => vfsFtruncate(p, f.a!, 8), 0],
  ["regrown tail zero", (p, f) => prd(p, f.a!, 10, 0), "Jel\0\0\0\0\0"],
  ["far block gone", (p, f) => vfsLseek(p, f.a!, 0, SEEK_HOLE), 8],
  ["fsync", (p, f) => vfsFsync(p, f.a!), 0],
  ["O_APPEND open", (p, f) => (f.ap = vfsOpen(p, "/a", O_WRONLY | O_APPEND)), 3],
  ["append lseek 0", (p, f) => vfsLseek(p, f.ap!, 0, SEEK_SET), 0],
  ["append write", (p, f) => wr(p, f.ap!, "++"), 2],
  ["append pos", (p, f) => vfsLseek(p, f.ap!, 0, SEEK_CUR), 10],
  ["pwrite with O_APPEND appends", (p, f) => vfsPwrite(p, f.ap!, enc.encode("!"), 0), 1],
  ["file after append", (p, f) => prd(p, f.a!, 20, 0), "Jel\0\0\0\0\0++!"],
  ["dup shares pos", (p, f) => {
    f.d = vfsDup(p, f.a!);
    vfsLseek(p, f.a!, 1, SEEK_SET);
    return [f.d, vfsLseek(p, f.d, 0, SEEK_CUR), rd(p, f.d, 2), vfsLseek(p, f.a!, 0, SEEK_CUR)];
  }, [4, 1, "el", 3]],
  ["dup2 onto open fd", (p, f) => [vfsDup2(p, f.r!, f.d!), rd(p, f.d!, 3)], [4, "Jel"]],
  ["fcntl cloexec", (p) => {
    const fd = vfsOpen(p, "/a", O_RDONLY | O_CLOEXEC);
    const r = [vfsFcntl(p, fd, 1), vfsFcntl(p, fd, 2, 0), vfsFcntl(p, fd, 1), vfsFcntl(p, fd, 3)];
    vfsClose(p, fd);
    return r;
  }, [1, 0, 0, O_RDONLY]],
  ["O_TRUNC", (p) => {
    const fd = vfsOpen(p, "/a", O_RDWR | O_TRUNC);
    const st = statCore(vfsFstat(p, fd));
    vfsClose(p, fd);
    return st;
  }, { mode: S_IFREG | 0o644, size: 0, nlink: 1 }],
  ["read dir fd", (p) => {
    const fd = vfsOpen(p, "/", O_RDONLY);
    const r = rd(p, fd, 4);
    vfsClose(p, fd);
    return r;
  }, "EISDIR"],
  ["getdents on file", (p, f) => vfsGetdents64(p, f.a!, new Uint8Array(512)), -ENOTDIR],
  ["mkdir", (p) => vfsMkdir(p, "/d"), 0],
  ["mkdir again", (p) => vfsMkdir(p, "/d"), -EEXIST],
  ["mkdir /", (p) => vfsMkdir(p, "/"), -EEXIST],
  ["mkdir missing parent", (p) => vfsMkdir(p, "/no/x"), -ENOENT],
  ["mkdir under file", (p) => vfsMkdir(p, "/a/x"), -ENOTDIR],
  ["mkdir nested", (p) => vfsMkdir(p, "/d/e/"), 0],
  ["stat dir", (p) => statCore(vfsStat(p, "/d")), {
    mode: S_IFDIR | 0o755,
    size: PAGE_SIZE,
    nlink: 3,
  }],
  ["rmdir file", (p) => vfsRmdir(p, "/a"), -ENOTDIR],
  ["rmdir non-empty", (p) => vfsRmdir(p, "/d"), -ENOTEMPTY],
  ["rmdir /", (p) => vfsRmdir(p, "/"), -EBUSY],
  ["rmdir .", (p) => vfsRmdir(p, "/d/."), -EINVAL],
  ["rmdir ..", (p) => vfsRmdir(p, "/d/e/.."), -ENOTEMPTY],
  ["unlink dir", (p) => vfsUnlink(p, "/d"), -EISDIR],
  ["unlink missing", (p) => vfsUnlink(p, "/nope"), -ENOENT],
  ["unlink file/", (p) => vfsUnlink(p, "/a/"), -ENOTDIR],
  ["rename file into dir", (p) => vfsRename(p, "/a", "/d/b"), 0],
  ["old name gone", (p) => vfsOpen(p, "/a", O_RDONLY), -ENOENT],
  ["open via dots", (p, f) => (f.b = vfsOpen(p, "/d/../d/./e/../b", O_RDWR)), 5],
  ["write via new name", (p, f) => wr(p, f.b!, "data"), 4],
  ["dir under itself", (p) => vfsRename(p, "/d", "/d/e/f"), -EINVAL],
  ["file over dir", (p) => vfsRename(p, "/d/b", "/d/e"), -EISDIR],
  ["dir over file", (p) => vfsRename(p, "/d/e", "/d/b"), -ENOTDIR],
  ["rename dot", (p) => vfsRename(p, "/d/.", "/x"), -EBUSY],
  ["dir over non-empty", (p) => {
    vfsMkdir(p, "/g");
    return vfsRename(p, "/g", "/d");
  }, -ENOTEMPTY],
  ["dir over empty dir", (p) => vfsRename(p, "/g", "/d/e"), 0],
  ["ls /", (p) => ls(p, "/"), [".", "..", "d"]],
  ["ls /d", (p) => ls(p, "/d"), [".", "..", "b", "e"]],
  ["getdents tiny buffer", (p) => {
    const fd = vfsOpen(p, "/d", O_RDONLY);
    const r = vfsGetdents64(p, fd, new Uint8Array(8));
    vfsClose(p, fd);
    return r;
  }, -EINVAL],
  ["symlink", (p) => vfsSymlink(p, "d/b", "/l"), 0],
  ["symlink exists", (p) => vfsSymlink(p, "x", "/l"), -EEXIST],
  ["readlink", (p) => vfsReadlink(p, "/l"), "d/b"],
  ["readlink non-link", (p) => vfsReadlink(p, "/d"), -EINVAL],
  ["read through symlink", (p) => {
    const fd = vfsOpen(p, "/l", O_RDONLY);
    const r = rd(p, fd, 10);
    vfsClose(p, fd);
    return r;
  }, "data"],
  ["O_NOFOLLOW on symlink", (p) => vfsOpen(p, "/l", O_RDONLY | O_NOFOLLOW), -ELOOP],
  ["O_CREAT through symlink", (p) => {
    const fd = vfsOpen(p, "/l", O_CREAT | O_RDONLY);
    const r = statCore(vfsFstat(p, fd));
    vfsClose(p, fd);
    return r;
  }, { mode: S_IFREG | 0o644, size: 4, nlink: 1 }],
  ["O_CREAT|O_EXCL on symlink", (p) => vfsOpen(p, "/l", O_CREAT | O_EXCL | O_RDWR), -EEXIST],
  ["lstat symlink", (p) => statCore(vfsStat(p, "/l", false)), {
    mode: 0o120777,
    size: 3,
    nlink: 1,
  }],
  ["symlink loop", (p) => {
    vfsSymlink(p, "/y", "/x");
    vfsSymlink(p, "/x", "/y");
    return vfsOpen(p, "/x", O_RDONLY);
  }, -ELOOP],
  ["symlink to dir with slash", (p) => {
    vfsSymlink(p, "/d", "/ld");
    return ls(p, "/ld/");
  }, [".", "..", "b", "e"]],
  ["symlink to file with slash", (p) => vfsOpen(p, "/l/", O_RDONLY), -ENOTDIR],
  ["chdir and relative", (p) => {
    const r = [vfsChdir(p, "/d"), vfsOpen(p, "b", O_RDONLY)];
    vfsClose(p, r[1]!);
    r.push(vfsChdir(p, "e/.."), vfsStat(p, "../d/b") as number < 0 ? -1 : 0, vfsChdir(p, "b"));
    r.push(vfsChdir(p, ".."));
    return r;
  }, [0, 6, 0, 0, -ENOTDIR, 0]],
  [
    "unlink open file",
    (p, f) => [vfsUnlink(p, "/d/b"), statCore(vfsFstat(p, f.b!)), prd(p, f.b!, 9, 0)],
    [
      0,
      { mode: S_IFREG | 0o644, size: 4, nlink: 0 },
      "data",
    ],
  ],
  ["O_DIRECT aligned", (p) => {
    const fd = vfsOpen(p, "/dio", O_CREAT | O_RDWR | O_DIRECT);
    const page = new Uint8Array(2 * PAGE_SIZE).map((_, i) => i & 0xff);
    const w = vfsWrite(p, fd, page);
    const back = new Uint8Array(2 * PAGE_SIZE);
    const r = vfsPread(p, fd, back, 0);
    vfsClose(p, fd);
    return [w, r, back.every((x, i) => x === (i & 0xff))];
  }, [2 * PAGE_SIZE, 2 * PAGE_SIZE, true]],
  ["O_DIRECT mixes with buffered", (p) => {
    const fd = vfsOpen(p, "/dio", O_RDWR);
    const w = vfsPwrite(p, fd, enc.encode("abc"), 5);
    const dfd = vfsOpen(p, "/dio", O_RDONLY | O_DIRECT);
    const back = new Uint8Array(PAGE_SIZE);
    const r = vfsPread(p, dfd, back, 0);
    vfsClose(p, fd);
    vfsClose(p, dfd);
    return [w, r, dec.decode(back.subarray(5, 8))];
  }, [3, PAGE_SIZE, "abc"]],
  ["fsync all", (p, f) => [vfsFsync(p, f.b!), vfsFsync(p, f.w!)], [0, 0]],
  ["close all", (p, f) => [f.a, f.r, f.w, f.ap, f.d, f.b].map((fd) => vfsClose(p, fd!)), [
    0,
    0,
    0,
    0,
    0,
    0,
  ]],
  ["closed fd", (p, f) => vfsFsync(p, f.a!), -EBADF],
];

for (const mode of MODES) {
  Deno.test(`vfs operations return the Linux results in ${mode} mode`, () => {
    const m = boot(mode);
    const fds: Record<string, number> = {};
    for (const [label, op, want] of STEPS) {
      const got = op(m.proc, fds);
      if (want !== undefined) assert.deepEqual(got, want, `${mode}: ${label}`);
    }
    assert.deepEqual(m.unmountAndFsck().errors, [], `${mode}: fsck`);
  });
}

Deno.test("vfs operations give byte-identical results in DAX, page-cache and host-file mode", () => {
  const results = MODES.map((mode: Mode) => {
    const m = boot(mode);
    const fds: Record<string, number> = {};
    const r = STEPS.map(([label, op]) => [label, op(m.proc, fds)]);
    m.unmountAndFsck();
    return r;
  });
  assert.deepEqual(results[1], results[0], "pagecache vs dax");
  assert.deepEqual(results[2], results[0], "hostfile vs dax");
});

Deno.test("vfsFstat() reports S_DAX in DAX mode only, and encodeStatx() lays out struct statx", () => {
  for (const mode of MODES) {
    const m = boot(mode);
    const { proc } = m;
    const fd = vfsOpen(proc, "/s", O_CREAT | O_RDWR, 0o600);
    wr(proc, fd, "12345");
    const st = vfsFstat(proc, fd) as VStat;
    assert.equal(st.dax, mode === "dax");
    assert.equal((st.attributes & STATX_ATTR_DAX) !== 0, mode === "dax");
    const buf = encodeStatx(st);
    assert.equal(buf.length, STATX_BYTES);
    const v = new DataView(buf.buffer);
    assert.equal(v.getUint16(STATX.mode, true), S_IFREG | 0o600);
    assert.equal(Number(v.getBigUint64(STATX.size, true)), 5);
    assert.equal(Number(v.getBigUint64(STATX.ino, true)), st.ino);
    assert.equal(v.getUint32(STATX.blksize, true), PAGE_SIZE);
    const attrs = Number(v.getBigUint64(STATX.attributes, true));
    assert.equal((attrs & STATX_ATTR_DAX) !== 0, mode === "dax", "STATX_ATTR_DAX");
    assert.equal(Number(v.getBigUint64(STATX.attributesMask, true)), STATX_ATTR_DAX);
    assert.deepEqual(m.unmountAndFsck().errors, []);
  }
});

Deno.test("vfsWrite() with O_DIRECT refuses unaligned requests in page-cache mode (DAX takes any)", () => {
  for (const mode of MODES) {
    const m = boot(mode);
    const { proc } = m;
    const fd = vfsOpen(proc, "/u", O_CREAT | O_RDWR | O_DIRECT);
    assert.equal(wr(proc, fd, "abc"), mode === "dax" ? 3 : -EINVAL, mode);
    assert.equal(vfsPread(proc, fd, new Uint8Array(100), 0), mode === "dax" ? 3 : -EINVAL);
    assert.deepEqual(m.unmountAndFsck().errors, []);
  }
});

Deno.test("vfsOpen() gives the lowest free fd and EMFILE when the table is full", () => {
  const m = boot("pagecache");
  const { proc } = m;
  vfsOpen(proc, "/f", O_CREAT | O_RDWR);
  const fds: number[] = [];
  for (;;) {
    const fd = vfsOpen(proc, "/f", O_RDONLY);
    if (fd < 0) {
      assert.equal(fd, -24); // EMFILE
      break;
    }
    fds.push(fd);
  }
  assert.equal(fds.length, 255);
  assert.equal(vfsClose(proc, 7), 0);
  assert.equal(vfsOpen(proc, "/f", O_RDONLY), 7);
  assert.deepEqual(m.unmountAndFsck().errors, []);
});

Deno.test("vfsProcExit() closes another process's files from any thread, writing them back", () => {
  for (const mode of MODES) {
    const m = boot(mode);
    const other = vfsProcCreate(m.fs) as Proc;
    assert.notEqual(other.fdt, m.proc.fdt);
    const fd = vfsOpen(other, "/left-open", O_CREAT | O_RDWR);
    assert.equal(vfsWrite(other, fd, enc.encode("unsaved")), 7);
    assert.equal(vfsDup(other, fd), fd + 1);
    const before = filesInUse(m.mem);
    // The "Machine" reaps the process with nothing but its table index.
    assert.equal(vfsProcExit(m.fs, other.fdt), 0);
    assert.equal(filesInUse(m.mem), before - 1);
    assert.equal(fdtInUse(m.mem, other.fdt), false);
    const again = vfsProcCreate(m.fs) as Proc;
    assert.equal(again.fdt, other.fdt, "the table is reused");
    assert.equal(vfsRead(again, fd, new Uint8Array(4)), -EBADF, "a fresh table has no fds");
    vfsProcExit(m.fs, again.fdt);
    const st = vfsStat(m.proc, "/left-open") as VStat;
    assert.equal(st.size, 7);
    // Page-cache mode allocates only at writeback: a block means the exit wrote it.
    const ip = m.fs.iget(asIno(st.ino));
    if (typeof ip === "number") throw new Error(`iget ${ip}`);
    const b = m.fs.getBlock(ip, 0, false);
    m.fs.iput(ip);
    assert.ok(b > 0, `${mode}: block 0 on the device`);
    const img = m.image();
    assert.equal(dec.decode(img.subarray(b * PAGE_SIZE, b * PAGE_SIZE + 7)), "unsaved");
    assert.deepEqual(m.unmountAndFsck().errors, [], `${mode}: fsck`);
  }
});

Deno.test("vfsOpen() follows 40 chained symlinks and gives ELOOP at 41", () => {
  const m = boot("dax");
  const { proc } = m;
  const fd = vfsOpen(proc, "/target", O_CREAT | O_RDWR);
  assert.equal(vfsClose(proc, fd), 0);
  // /l0 -> /target, /lk -> /l(k-1): opening /lk expands k + 1 links.
  for (let k = 0; k <= 40; k++) {
    assert.equal(vfsSymlink(proc, k === 0 ? "/target" : `l${k - 1}`, `/l${k}`), 0);
  }
  const ok = vfsOpen(proc, "/l39", O_RDONLY);
  assert.ok(ok >= 0, `40 expansions: ${ok}`);
  assert.equal(vfsClose(proc, ok), 0);
  assert.equal(vfsOpen(proc, "/l40", O_RDONLY), -ELOOP);
  assert.equal(vfsStat(proc, "/l40/", true), -ELOOP);
  assert.deepEqual(m.unmountAndFsck().errors, []);
});
