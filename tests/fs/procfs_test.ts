/**
 * procfs through the VFS: /proc/PID/maps lines, the seq_file-like snapshot,
 * file names (renamed, deleted), directory listings, meminfo against the
 * counters, and the error cases.
 */

import assert from "node:assert/strict";
import { EACCES, EBADF, EBUSY, EEXIST, EISDIR, ENOENT, ENXIO, EXDEV } from "../../src/abi/errno.ts";
import {
  DIRENT64,
  DT_DIR,
  DT_LNK,
  DT_REG,
  O_CREAT,
  O_DIRECTORY,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SEEK_DATA,
  SEEK_SET,
} from "../../src/abi/fcntl.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asMmId, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { mmAlloc, mmGauges, mmPut } from "../../src/mm/mm.ts";
import { doBrk, doMmap, setBrkStart } from "../../src/mm/mmap.ts";
import { pagecacheFrames } from "../../src/fs/pagecache/pagecache.ts";
import { procfsSnapshotCount } from "../../src/fs/procfs/procfs.ts";
import { meminfoFrames } from "../../src/fs/procfs/procfs_meminfo.ts";
import {
  vfsClose,
  vfsFstat,
  vfsLseek,
  vfsPread,
  vfsRead,
  vfsWrite,
  XIP_DEV,
} from "../../src/fs/vfs.ts";
import {
  vfsGetdents64,
  vfsMkdir,
  vfsOpen,
  vfsReadlink,
  vfsRename,
  vfsRmdir,
  vfsStat,
  vfsUnlink,
} from "../../src/fs/vfs_path.ts";
import { softAccess } from "../mm/_mm_helpers.ts";
import {
  fileBytes,
  mapFile,
  type ProcEnv,
  procEnv,
  readProc,
  releaseMapped,
  writeFile,
} from "./_procfs_env.ts";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
/** Linux's maps line: start-end perms offset major:minor inode, then (after padding) the name. */
const MAPS_RE =
  /^([0-9a-f]{8})-([0-9a-f]{8}) ([r-][w-][x-][ps]) ([0-9a-f]{8}) ([0-9a-f]{2}):([0-9a-f]{2}) (\d+) (.*)$/;

/** A named maps line: the prefix padded with spaces so the name starts at column 73. */
const named = (prefix: string, name: string): string =>
  prefix + " ".repeat(73 - prefix.length) + name;

function touch(env: ProcEnv, mm: MmId, va: number, write: boolean): void {
  const r = softAccess(env.mem, mm, va, write ? ACCESS_WRITE : ACCESS_READ);
  if (r < 0) throw new Error(`fault ${-r} at 0x${va.toString(16)}`);
}

/** An mm for pid 42 (= self) holding every kind of VMA maps names. */
function layoutOne(env: ProcEnv): { mm: MmId; ino: number } {
  writeFile(env, "/lib/libx.so", fileBytes(3));
  const mm = mmAlloc(env.mem) as MmId;
  env.info.procs.set(42, { mm });
  env.info.self = 42;
  const ino = mapFile(
    env,
    mm,
    "/lib/libx.so",
    0x1000_0000,
    2 * PAGE_SIZE,
    PROT_READ | PROT_EXEC,
    MAP_PRIVATE | MAP_FIXED,
  );
  mapFile(env, mm, "/lib/libx.so", 0x1000_2000, PAGE_SIZE, RW, MAP_PRIVATE | MAP_FIXED, 1);
  mapFile(env, mm, "/lib/libx.so", 0x2000_0000, 3 * PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED);
  assert.equal(doMmap(env.mem, mm, 0x3000_0000, 2 * PAGE_SIZE, RW, ANON), 0x3000_0000);
  setBrkStart(env.mem, mm, 0x0041_2345);
  assert.equal(doBrk(env.mem, mm, 0x0041_2345 + 3 * PAGE_SIZE), 0x0041_2345 + 3 * PAGE_SIZE);
  const stack = doMmap(env.mem, mm, 0x7ff0_0000, 4 * PAGE_SIZE, RW, ANON | MAP_GROWSDOWN);
  assert.equal(stack, 0x7ff0_0000);
  return { mm, ino };
}

function teardown(env: ProcEnv, ...mms: MmId[]): void {
  for (const mm of mms) mmPut(env.mem, mm);
  releaseMapped(env);
}

Deno.test("/proc/self/maps gives Linux's lines for file, heap, anonymous and stack VMAs", () => {
  const env = procEnv();
  const { mm, ino } = layoutOne(env);
  const text = readProc(env, "/proc/self/maps");
  assert.equal(typeof text, "string");
  const expected = [
    named("00413000-00416000 rw-p 00000000 00:00 0 ", "[heap]"),
    named(`10000000-10002000 r-xp 00000000 01:00 ${ino} `, "/lib/libx.so"),
    named(`10002000-10003000 rw-p 00001000 01:00 ${ino} `, "/lib/libx.so"),
    named(`20000000-20003000 rw-s 00000000 01:00 ${ino} `, "/lib/libx.so"),
    "30000000-30002000 rw-p 00000000 00:00 0 ",
    named("7ff00000-7ff04000 rw-p 00000000 00:00 0 ", "[stack]"),
  ].join("\n") + "\n";
  assert.equal(text, expected);
  for (const line of (text as string).trimEnd().split("\n")) {
    const m = MAPS_RE.exec(line);
    assert.ok(m, `format: ${JSON.stringify(line)}`);
    if (m[7] !== "0") {
      assert.equal(line.indexOf("/lib/libx.so"), 73);
      assert.equal(parseInt(m[5]!, 16) * 256 + parseInt(m[6]!, 16), XIP_DEV);
    }
  }
  assert.equal(readProc(env, "/proc/42/maps"), text, "/proc/self is /proc/42");
  teardown(env, mm);
});

Deno.test("maps names a file by its path in nested directories, after rename, and when deleted", () => {
  const env = procEnv();
  env.info.self = 7;
  const mm = mmAlloc(env.mem) as MmId;
  env.info.procs.set(7, { mm });
  writeFile(env, "/usr/lib/deep/liba.so", fileBytes(1));
  writeFile(env, "/lib/libb.so", fileBytes(1));
  writeFile(env, "/lib/libc.so", fileBytes(1));
  mapFile(
    env,
    mm,
    "/usr/lib/deep/liba.so",
    0x1000_0000,
    PAGE_SIZE,
    PROT_READ,
    MAP_PRIVATE | MAP_FIXED,
  );
  mapFile(env, mm, "/lib/libb.so", 0x1100_0000, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_FIXED);
  const inoC = mapFile(
    env,
    mm,
    "/lib/libc.so",
    0x1200_0000,
    PAGE_SIZE,
    PROT_READ,
    MAP_PRIVATE | MAP_FIXED,
  );
  // libc.so is unlinked before procfs ever saw a name for it.
  assert.equal(vfsUnlink(env.proc, "/lib/libc.so"), 0);
  const names = () =>
    (readProc(env, "/proc/self/maps") as string).trimEnd().split("\n").map((l) => l.slice(73));
  assert.deepEqual(names(), ["/usr/lib/deep/liba.so", "/lib/libb.so", `[ino ${inoC}] (deleted)`]);
  assert.equal(vfsRename(env.proc, "/usr/lib/deep/liba.so", "/lib/liba2.so"), 0);
  assert.equal(vfsUnlink(env.proc, "/lib/libb.so"), 0);
  assert.deepEqual(names(), ["/lib/liba2.so", "/lib/libb.so (deleted)", `[ino ${inoC}] (deleted)`]);
  teardown(env, mm);
});

Deno.test("a procfs read is one snapshot until a read at position 0, and close frees it", () => {
  const env = procEnv();
  const { mm } = layoutOne(env);
  const whole = readProc(env, "/proc/self/maps") as string;
  assert.equal(readProc(env, "/proc/self/maps", 7), whole, "7-byte reads give the same text");
  const fd = vfsOpen(env.proc, "/proc/self/maps", O_RDONLY);
  assert.ok(fd >= 0);
  const head = new Uint8Array(10);
  assert.equal(vfsRead(env.proc, fd, head), 10);
  assert.equal(procfsSnapshotCount(env.mem), 1);
  assert.equal(doMmap(env.mem, mm, 0x4000_0000, PAGE_SIZE, RW, ANON), 0x4000_0000);
  const rest = new Uint8Array(8192);
  const n = vfsRead(env.proc, fd, rest);
  const dec = new TextDecoder();
  assert.equal(dec.decode(head) + dec.decode(rest.subarray(0, n)), whole, "the snapshot holds");
  assert.equal(vfsRead(env.proc, fd, rest), 0, "EOF");
  assert.equal(vfsLseek(env.proc, fd, 0, SEEK_SET), 0);
  const again = vfsRead(env.proc, fd, rest);
  assert.match(
    dec.decode(rest.subarray(0, again)),
    /^40000000-40001000 rw-p /m,
    "re-read at 0 is fresh",
  );
  const p = vfsPread(env.proc, fd, rest, 0);
  assert.equal(p, again);
  assert.equal(vfsClose(env.proc, fd), 0);
  assert.equal(procfsSnapshotCount(env.mem), 0, "close freed the buffer");
  teardown(env, mm);
});

/** The names and types getdents64 returns for `path`, read `bufBytes` at a time. */
function listDir(env: ProcEnv, path: string, bufBytes = 4096): [string, number][] {
  const fd = vfsOpen(env.proc, path, O_RDONLY | O_DIRECTORY);
  assert.ok(fd >= 0, `open ${path}: ${fd}`);
  const out: [string, number][] = [];
  const buf = new Uint8Array(bufBytes);
  const view = new DataView(buf.buffer);
  for (;;) {
    const n = vfsGetdents64(env.proc, fd, buf);
    assert.ok(n >= 0, `getdents ${n}`);
    if (n === 0) break;
    for (let off = 0; off < n;) {
      const reclen = view.getUint16(off + DIRENT64.reclen, true);
      const nameEnd = buf.indexOf(0, off + DIRENT64.name);
      const name = new TextDecoder().decode(buf.subarray(off + DIRENT64.name, nameEnd));
      out.push([name, buf[off + DIRENT64.type]!]);
      off += reclen;
    }
  }
  vfsClose(env.proc, fd);
  return out;
}

Deno.test("getdents lists self, meminfo and the live pids in /proc, and maps/smaps/task in /proc/PID", () => {
  const env = procEnv();
  env.info.procs.set(42, { mm: asMmId(0) });
  env.info.procs.set(7, { mm: asMmId(0) });
  env.info.self = 7;
  const want: [string, number][] = [
    [".", DT_DIR],
    ["..", DT_DIR],
    ["self", DT_LNK],
    ["meminfo", DT_REG],
    ["7", DT_DIR],
    ["42", DT_DIR],
  ];
  assert.deepEqual(listDir(env, "/proc"), want);
  assert.deepEqual(listDir(env, "/proc", 32), want, "one record per call resumes correctly");
  assert.deepEqual(listDir(env, "/proc/42"), [
    [".", DT_DIR],
    ["..", DT_DIR],
    ["maps", DT_REG],
    ["smaps", DT_REG],
    ["task", DT_DIR],
  ]);
  // Without a thread list from the table, a process is its only thread.
  assert.deepEqual(listDir(env, "/proc/42/task"), [[".", DT_DIR], ["..", DT_DIR], ["42", DT_DIR]]);
  assert.deepEqual(listDir(env, "/proc/self/"), listDir(env, "/proc/7"));
  const root = listDir(env, "/");
  assert.deepEqual(
    root.filter(([n]) => n === "proc"),
    [["proc", DT_DIR]],
    "the mount point is listed",
  );
  assert.deepEqual(listDir(env, "/", 32), root);
  env.info.procs.delete(42);
  assert.deepEqual(listDir(env, "/proc").map(([n]) => n), [".", "..", "self", "meminfo", "7"]);
  // ".." of /proc is the root; paths through it resolve.
  const st = vfsStat(env.proc, "/proc/../proc/7/../meminfo");
  assert.ok(typeof st !== "number");
  assert.equal(st.mode, S_IFREG | 0o444);
  assert.equal(st.size, 0);
});

Deno.test("procfs refuses writes and creation, and a missing pid is ENOENT", () => {
  const env = procEnv();
  env.info.procs.set(42, { mm: asMmId(0) });
  env.info.self = 42;
  const { proc } = env;
  const cases: [string, () => number][] = [
    ["open /proc/999/maps", () => vfsOpen(proc, "/proc/999/maps", O_RDONLY)],
    ["open /proc/042/maps", () => vfsOpen(proc, "/proc/042/maps", O_RDONLY)],
    ["open /proc/42/nothing", () => vfsOpen(proc, "/proc/42/nothing", O_RDONLY)],
    ["create /proc/new", () => vfsOpen(proc, "/proc/new", O_CREAT | O_WRONLY)],
    ["create /proc/42/new", () => vfsOpen(proc, "/proc/42/new", O_CREAT | O_WRONLY)],
    ["mkdir /proc/d", () => vfsMkdir(proc, "/proc/d")],
    ["mkdir /proc", () => vfsMkdir(proc, "/proc")],
    ["unlink /proc/meminfo", () => vfsUnlink(proc, "/proc/meminfo")],
    ["rmdir /proc", () => vfsRmdir(proc, "/proc")],
    ["rmdir /proc/42", () => vfsRmdir(proc, "/proc/42")],
    ["rename into /proc", () => vfsRename(proc, "/x", "/proc/x")],
    ["rename /proc", () => vfsRename(proc, "/proc", "/p2")],
    ["open /proc for writing", () => vfsOpen(proc, "/proc", O_WRONLY)],
  ];
  writeFile(env, "/x", fileBytes(1));
  const got = cases.map(([name, f]) => [name, f()]);
  assert.deepEqual(got, [
    ["open /proc/999/maps", -ENOENT],
    ["open /proc/042/maps", -ENOENT],
    ["open /proc/42/nothing", -ENOENT],
    ["create /proc/new", -EACCES],
    ["create /proc/42/new", -EACCES],
    ["mkdir /proc/d", -EACCES],
    ["mkdir /proc", -EEXIST],
    ["unlink /proc/meminfo", -EACCES],
    ["rmdir /proc", -EBUSY],
    ["rmdir /proc/42", -EACCES],
    ["rename into /proc", -EXDEV],
    ["rename /proc", -EBUSY],
    ["open /proc for writing", -EISDIR],
  ]);
  // Opening for writing works (size 0: O_TRUNC has nothing to cut); the write is refused.
  const fd = vfsOpen(proc, "/proc/meminfo", O_WRONLY | O_TRUNC);
  assert.ok(fd >= 0);
  assert.equal(vfsWrite(proc, fd, new Uint8Array(4)), -EACCES);
  assert.equal(vfsRead(proc, fd, new Uint8Array(4)), -EBADF);
  assert.equal(vfsClose(proc, fd), 0);
  const rfd = vfsOpen(proc, "/proc/42/maps", O_RDONLY);
  assert.equal(vfsWrite(proc, rfd, new Uint8Array(4)), -EBADF);
  assert.equal(vfsLseek(proc, rfd, 0, SEEK_DATA), -ENXIO);
  const st = vfsFstat(proc, rfd);
  assert.ok(typeof st !== "number");
  assert.equal(st.mode, S_IFREG | 0o444);
  env.info.procs.delete(42);
  assert.equal(vfsRead(proc, rfd, new Uint8Array(64)), 0, "a process gone: empty, as Linux");
  assert.equal(vfsClose(proc, rfd), 0);
  // /proc/self is a symlink to the caller's pid, and dangles for a thread with no process.
  env.info.procs.set(42, { mm: asMmId(0) });
  assert.equal(vfsReadlink(proc, "/proc/self"), "42");
  const lst = vfsStat(proc, "/proc/self", false);
  assert.ok(typeof lst !== "number" && (lst.mode & S_IFMT) === S_IFLNK);
  const dst = vfsStat(proc, "/proc/self");
  assert.ok(typeof dst !== "number" && (dst.mode & S_IFMT) === S_IFDIR);
  env.info.self = 0;
  assert.equal(vfsOpen(proc, "/proc/self/maps", O_RDONLY), -ENOENT);
});

/** meminfo as name -> kB, checking the line format on the way. */
function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split("\n")) {
    const m = /^([A-Za-z]+):( +)(\d+) kB$/.exec(line);
    assert.ok(m, `format: ${JSON.stringify(line)}`);
    assert.equal(line.length, 27, `value ends at column 24: ${JSON.stringify(line)}`);
    out.set(m[1]!, Number(m[3]));
  }
  return out;
}

Deno.test("meminfo agrees with the frame allocator, page cache and mm gauges, DAX frames counted once", () => {
  const env = procEnv();
  writeFile(env, "/lib/libs.so", fileBytes(3));
  const a = mmAlloc(env.mem) as MmId;
  const b = mmAlloc(env.mem) as MmId;
  for (const mm of [a, b]) {
    mapFile(env, mm, "/lib/libs.so", 0x1000_0000, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED);
  }
  touch(env, a, 0x1000_0000, false);
  touch(env, b, 0x1000_0000, false);
  touch(env, b, 0x1000_1000, false);
  assert.equal(doMmap(env.mem, a, 0x3000_0000, 4 * PAGE_SIZE, RW, ANON), 0x3000_0000);
  for (let i = 0; i < 3; i++) touch(env, a, 0x3000_0000 + i * PAGE_SIZE, true);
  const m = parseMeminfo(readProc(env, "/proc/meminfo") as string);
  const g = mmGauges(env.mem);
  const kb = (frames: number) => frames * (PAGE_SIZE / 1024);
  assert.deepEqual([...m.keys()], [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Cached",
    "AnonPages",
    "PageTables",
    "DeviceTotal",
    "DeviceMapped",
  ]);
  assert.equal(m.get("MemTotal"), kb(512));
  assert.equal(m.get("MemFree"), kb(freeFrameCount(env.mem)));
  assert.equal(m.get("Cached"), kb(pagecacheFrames(env.mem)));
  assert.equal(m.get("AnonPages"), kb(g.anonFrames));
  assert.equal(g.anonFrames, 3);
  assert.equal(m.get("PageTables"), kb(g.pagetableFrames));
  assert.equal(m.get("DeviceTotal"), kb(1024));
  assert.equal(m.get("DeviceMapped"), kb(2), "page 0 mapped by two mms counts once");
  assert.equal(m.get("MemAvailable"), m.get("MemFree")! + m.get("Cached")!);
  assert.equal(meminfoFrames(env.mem).deviceMapped, 2);
  teardown(env, a, b);
});

Deno.test("meminfo Cached counts page-cache frames of a dax=never mount", () => {
  const env = procEnv({ dax: false });
  writeFile(env, "/data", fileBytes(3));
  const mm = mmAlloc(env.mem) as MmId;
  mapFile(env, mm, "/data", 0x1000_0000, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED);
  for (let i = 0; i < 3; i++) touch(env, mm, 0x1000_0000 + i * PAGE_SIZE, false);
  const m = parseMeminfo(readProc(env, "/proc/meminfo") as string);
  assert.ok(pagecacheFrames(env.mem) >= 3);
  assert.equal(m.get("Cached"), pagecacheFrames(env.mem) * 4);
  assert.equal(m.get("DeviceMapped"), 0);
  teardown(env, mm);
});
