/**
 * Poisoned device blocks through the file system (src/hw/badblocks.ts,
 * src/fs/xipfs/xipfs_poison.ts): read, pread and O_DIRECT over poison fail with
 * EIO (a read that got some bytes first returns them), a write that covers
 * a poisoned block whole clears it (pmem's recovery write) and one that
 * covers it in part fails with EIO; the list persists in the image across
 * a remount, fsck names the file that owns poison and `xip ls` marks it.
 * Both the DAX and the page-cache paths, on a memory device.
 */

import assert from "node:assert/strict";
import { EIO } from "../../src/abi/errno.ts";
import { O_CREAT, O_DIRECT, O_RDONLY, O_RDWR } from "../../src/abi/fcntl.ts";
import { asIno, asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { listPath } from "../../src/cli/cmd_ls.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { shrinkPageCache } from "../../src/fs/pagecache/pagecache_shrink.ts";
import { vfsClose, vfsFsync, vfsPread, vfsPwrite } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { poisonedFiles, readPoisonList } from "../../src/fs/xipfs/xipfs_poison.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { badblockCount, badblockTest } from "../../src/hw/badblocks.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { poisonBlocks, poisonDeviceRange } from "../../src/kernel/memory_failure.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { boot, type Booted } from "./_vfs_harness.ts";

const BS = PAGE_SIZE;
const pattern = (n: number, seed: number): Uint8Array =>
  new Uint8Array(n).map((_, i) => ((i * 7 + seed) % 253) + 1);

/** A file of `blocks` blocks written and made durable; its fd (O_RDWR) and device blocks. */
function fileOf(b: Booted, path: string, blocks: number, flags = 0) {
  const fd = vfsOpen(b.proc, path, O_CREAT | O_RDWR | flags);
  assert.ok(fd >= 0, `open ${path}: ${fd}`);
  const data = pattern(blocks * BS, 5);
  assert.equal(vfsPwrite(b.proc, fd, data, 0), data.length);
  assert.equal(vfsFsync(b.proc, fd), 0);
  // Page cache: drop the clean pages, so the next read goes to the device.
  shrinkPageCache(b.mem, 1 << 20, b.x.aopsFor);
  const ino = namei(b.x.ctx.vol, path);
  assert.ok(ino > 0);
  const dev = [...Array(blocks).keys()].map((i) => bmapLookup(b.x.ctx.vol, asIno(ino), i));
  return { fd, data, dev, ino };
}

for (const mode of ["dax", "pagecache"] as const) {
  Deno.test(`read and pread over a poisoned block: bytes before it, then EIO (${mode})`, () => {
    const b = boot(mode);
    const f = fileOf(b, "/f", 4);
    assert.equal(poisonBlocks(b.x.ctx, f.dev[2]!, 1), 1);
    assert.equal(badblockCount(b.mem), 1);
    const buf = new Uint8Array(4 * BS);
    assert.equal(vfsPread(b.proc, f.fd, buf, 0), 2 * BS, "a short read up to the poison");
    assert.deepEqual(buf.subarray(0, 2 * BS), f.data.subarray(0, 2 * BS));
    assert.equal(vfsPread(b.proc, f.fd, buf, 2 * BS + 100), -EIO, "a read starting in it");
    assert.equal(vfsPread(b.proc, f.fd, buf.subarray(0, BS), 3 * BS), BS, "past it reads");
    assert.deepEqual(buf.subarray(0, BS), f.data.subarray(3 * BS));
    vfsClose(b.proc, f.fd);
    assert.equal(b.unmountAndFsck().status, 0);
  });

  Deno.test(`O_DIRECT over a poisoned block fails with EIO (${mode})`, () => {
    const b = boot(mode);
    const f = fileOf(b, "/d", 2);
    poisonBlocks(b.x.ctx, f.dev[0]!, 1);
    const dfd = vfsOpen(b.proc, "/d", O_RDONLY | O_DIRECT);
    assert.ok(dfd >= 0);
    const buf = new Uint8Array(2 * BS);
    assert.equal(vfsPread(b.proc, dfd, buf, 0), -EIO);
    assert.equal(vfsPread(b.proc, dfd, buf.subarray(0, BS), BS), BS, "the next block reads");
    vfsClose(b.proc, dfd);
    vfsClose(b.proc, f.fd);
    assert.equal(b.unmountAndFsck().status, 0);
  });

  Deno.test(`a write covering a poisoned block whole clears it; a partial one gets EIO (${mode})`, () => {
    const b = boot(mode);
    const f = fileOf(b, "/w", 3);
    poisonBlocks(b.x.ctx, f.dev[1]!, 1);
    const partial = vfsPwrite(b.proc, f.fd, pattern(100, 9), BS + 10);
    assert.equal(partial, -EIO, "a partial write cannot clear poison");
    assert.ok(badblockTest(b.mem, f.dev[1]!), "still poisoned");
    const whole = pattern(BS, 11);
    assert.equal(vfsPwrite(b.proc, f.fd, whole, BS), BS);
    assert.equal(vfsFsync(b.proc, f.fd), 0, "page cache: writeback writes the whole block");
    assert.equal(badblockTest(b.mem, f.dev[1]!), false, "the recovery write cleared it");
    assert.equal(badblockCount(b.mem), 0);
    assert.deepEqual(readPoisonList(b.x.ctx.vol), { runs: [] }, "and the image's list");
    shrinkPageCache(b.mem, 1 << 20, b.x.aopsFor);
    const buf = new Uint8Array(BS);
    assert.equal(vfsPread(b.proc, f.fd, buf, BS), BS);
    assert.deepEqual(buf, whole);
    vfsClose(b.proc, f.fd);
    assert.equal(b.unmountAndFsck().status, 0);
  });
}

Deno.test("the poison list persists in the image: remount, fsck names the file, ls marks it", () => {
  const b = boot("dax");
  const f = fileOf(b, "/lib.so", 3);
  const g = fileOf(b, "/clean", 1);
  assert.equal(
    poisonDeviceRange(b.x.ctx, f.dev[0]! * BS + 100, 10),
    1,
    "a byte range poisons its block",
  );
  assert.equal(poisonBlocks(b.x.ctx, f.dev[2]!, 1), 1);
  assert.equal(poisonBlocks(b.x.ctx, f.dev[2]!, 1), 0, "already poisoned");
  vfsClose(b.proc, f.fd);
  vfsClose(b.proc, g.fd);
  const r = b.unmountAndFsck();
  assert.equal(r.status, 0, "poison is not an fsck error");
  assert.deepEqual(r.notes, [
    "2 poisoned blocks in 2 run(s)",
    `/lib.so (inode ${f.ino}): 2 poisoned blocks at file block 0, file block 2`,
  ]);
  const image = b.image();
  const o = openVolume(image);
  assert.ok(o.ok);
  assert.deepEqual(poisonedFiles(o.vol).map((p) => p.ino), [f.ino]);
  const rows = listPath(o.vol, "/");
  assert.ok(rows.some((l) => l.endsWith("lib.so  [hwpoison: 2 blocks]")), rows.join("\n"));
  assert.ok(rows.some((l) => l.endsWith(" clean")), "a clean file has no mark");

  // A fresh machine on the saved image loads the list into its bitmap.
  const mem = createMemory({
    ramFrames: 128,
    deviceFrames: image.length / BS,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image });
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const fs = mountXipfs(mem, new MemDevice(mem), { dax: "always" });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  assert.equal(badblockCount(mem), 2);
  assert.ok(badblockTest(mem, f.dev[0]!) && badblockTest(mem, f.dev[2]!));
  const ip = fs.iget(asIno(f.ino));
  if (typeof ip === "number") throw new Error("iget");
  const out = new Uint8Array(BS);
  assert.equal(fs.daxRead(ip, 0, out), -EIO);
  assert.equal(fs.daxRead(ip, BS, out), BS);
  fs.iput(ip);
  assert.equal(fs.unmount(), 0);
});

Deno.test("fsck reports a malformed poison list as an error", () => {
  const b = boot("dax");
  const f = fileOf(b, "/x", 1);
  poisonBlocks(b.x.ctx, f.dev[0]!, 1);
  vfsClose(b.proc, f.fd);
  assert.equal(b.unmountAndFsck().status, 0);
  const image = b.image();
  new DataView(image.buffer).setUint32(2052, 9999, true); // XPOISON.count
  const r = fsck(image);
  assert.equal(r.status, 4);
  assert.match(r.errors.join("\n"), /poison list: 9999 runs/);
});
