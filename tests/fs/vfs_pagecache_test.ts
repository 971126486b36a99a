import assert from "node:assert/strict";
import { O_CREAT, O_RDONLY, O_RDWR } from "../../src/abi/fcntl.ts";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import { asIno, PAGE_SIZE } from "../../src/abi/types.ts";
import { statRead } from "../../src/hw/memory.ts";
import { PG_dirty, putPage, testPageFlag } from "../../src/mm/memmap.ts";
import { findGetPage, shrinkPageCache } from "../../src/fs/pagecache/pagecache.ts";
import {
  vfsClose,
  vfsDup,
  vfsFstat,
  vfsFsync,
  vfsPread,
  vfsPwrite,
  type VStat,
} from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import type { VfsFs } from "../../src/fs/vfs_fs.ts";
import { boot, type Booted } from "./_vfs_harness.ts";

/** Per cached page of inode `ino`: whether it is dirty (null when not cached). */
function pageStates(m: Booted, ino: number, pages: number): (boolean | null)[] {
  const ip = m.fs.iget(asIno(ino));
  if (typeof ip === "number") throw new Error(`iget ${ino}: ${ip}`);
  const out: (boolean | null)[] = [];
  for (let p = 0; p < pages; p++) {
    const pfn = findGetPage(m.mem, ip.slot, p);
    if (pfn === -1) out.push(null);
    else {
      out.push(testPageFlag(m.mem, pfn, PG_dirty));
      putPage(m.mem, pfn);
    }
  }
  m.fs.iput(ip);
  return out;
}

/** Whether file block `iblock` of `ino` is on the device (allocated). */
function onDevice(fs: VfsFs, ino: number, iblock: number): boolean {
  const ip = fs.iget(asIno(ino));
  if (typeof ip === "number") throw new Error(`iget ${ino}`);
  const b = fs.getBlock(ip, iblock, false);
  fs.iput(ip);
  return b > 0;
}

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);

Deno.test("vfsRead() in page-cache mode fills once and then hits the cache", () => {
  const m = boot("pagecache");
  const fd = vfsOpen(m.proc, "/f", O_CREAT | O_RDWR);
  assert.equal(vfsPwrite(m.proc, fd, pattern(3 * PAGE_SIZE, 1), 0), 3 * PAGE_SIZE);
  assert.equal(vfsClose(m.proc, fd), 0);
  // Drop the (now clean) pages so the next read starts cold.
  assert.equal(shrinkPageCache(m.mem, 64, null), 3);
  const fill0 = statRead(m.mem, VMSTAT.copiedPagecacheFill);
  const read0 = statRead(m.mem, VMSTAT.copiedRead);
  const rfd = vfsOpen(m.proc, "/f", O_RDONLY);
  const buf = new Uint8Array(3 * PAGE_SIZE);
  assert.equal(vfsPread(m.proc, rfd, buf, 0), 3 * PAGE_SIZE);
  assert.deepEqual(buf, pattern(3 * PAGE_SIZE, 1));
  assert.equal(statRead(m.mem, VMSTAT.copiedPagecacheFill) - fill0, 3 * PAGE_SIZE, "cold: 3 fills");
  assert.equal(vfsPread(m.proc, rfd, buf, 0), 3 * PAGE_SIZE);
  assert.equal(statRead(m.mem, VMSTAT.copiedPagecacheFill) - fill0, 3 * PAGE_SIZE, "warm: no fill");
  assert.equal(statRead(m.mem, VMSTAT.copiedRead) - read0, 6 * PAGE_SIZE, "user copies counted");
  vfsClose(m.proc, rfd);
  assert.deepEqual(m.unmountAndFsck().errors, []);
});

Deno.test("vfsWrite() in page-cache mode dirties pages, allocates nothing, and fsync cleans them", () => {
  const m = boot("pagecache");
  const fd = vfsOpen(m.proc, "/f", O_CREAT | O_RDWR);
  const ino = (vfsFstat(m.proc, fd) as VStat).ino;
  const w0 = statRead(m.mem, VMSTAT.copiedWrite);
  assert.equal(vfsPwrite(m.proc, fd, pattern(100, 2), PAGE_SIZE - 50), 100); // spans pages 0 and 1
  assert.equal(statRead(m.mem, VMSTAT.copiedWrite) - w0, 100);
  assert.deepEqual(pageStates(m, ino, 3), [true, true, null]);
  assert.equal(onDevice(m.fs, ino, 0), false, "delayed allocation: no block yet");
  assert.equal(vfsFsync(m.proc, fd), 0);
  assert.deepEqual(pageStates(m, ino, 3), [false, false, null]);
  assert.equal(onDevice(m.fs, ino, 0), true);
  assert.equal(onDevice(m.fs, ino, 1), true);
  vfsClose(m.proc, fd);
  assert.deepEqual(m.unmountAndFsck().errors, []);
});

Deno.test("vfsClose() of an open file's last reference writes back; closing a dup does not", () => {
  const m = boot("pagecache");
  const a = vfsOpen(m.proc, "/f", O_CREAT | O_RDWR);
  const d = vfsDup(m.proc, a);
  const ino = (vfsFstat(m.proc, a) as VStat).ino;
  assert.equal(vfsPwrite(m.proc, a, pattern(10, 3), 0), 10);
  assert.equal(vfsPwrite(m.proc, d, pattern(10, 4), PAGE_SIZE), 10);
  assert.equal(vfsClose(m.proc, d), 0);
  assert.deepEqual(pageStates(m, ino, 2), [true, true], "the open file is still referenced");
  const r = vfsOpen(m.proc, "/f", O_RDONLY);
  assert.equal(vfsClose(m.proc, r), 0);
  assert.deepEqual(pageStates(m, ino, 2), [true, true], "a read-only close writes nothing back");
  assert.equal(vfsPwrite(m.proc, a, pattern(10, 5), 20), 10);
  assert.equal(vfsClose(m.proc, a), 0);
  assert.deepEqual(pageStates(m, ino, 2), [false, false]);
  const ip = m.fs.iget(asIno(ino));
  if (typeof ip === "number") throw new Error("iget");
  const blk = m.fs.getBlock(ip, 0, false);
  m.fs.iput(ip);
  assert.deepEqual(m.image().subarray(blk * PAGE_SIZE + 20, blk * PAGE_SIZE + 30), pattern(10, 5));
  assert.deepEqual(m.unmountAndFsck().errors, []);
});

Deno.test("vfsRead() of a hole in page-cache mode reads zeros and allocates nothing", () => {
  const m = boot("pagecache");
  const fd = vfsOpen(m.proc, "/h", O_CREAT | O_RDWR);
  const ino = (vfsFstat(m.proc, fd) as VStat).ino;
  assert.equal(vfsPwrite(m.proc, fd, new Uint8Array([9]), 5 * PAGE_SIZE), 1);
  assert.equal(vfsFsync(m.proc, fd), 0);
  const buf = new Uint8Array(PAGE_SIZE).fill(0xaa);
  assert.equal(vfsPread(m.proc, fd, buf, 2 * PAGE_SIZE), PAGE_SIZE);
  assert.ok(buf.every((x) => x === 0));
  assert.equal(onDevice(m.fs, ino, 2), false);
  assert.equal(onDevice(m.fs, ino, 5), true);
  vfsClose(m.proc, fd);
  assert.deepEqual(m.unmountAndFsck().errors, []);
});
