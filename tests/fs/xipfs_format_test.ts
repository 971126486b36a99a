import assert from "node:assert/strict";
import { ENOSPC } from "../../src/abi/errno.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asBlock, asIno } from "../../src/abi/types.ts";
import { XIPFS_BLOCK_SIZE, XSUPER } from "../../src/abi/layout/mod.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import {
  allocBlockOffline,
  allocInodeOffline,
  blockInUse,
  crc32,
  type DiskInode,
  freeBlockOffline,
  freeInodeOffline,
  inodeGetSize,
  inodeOffset,
  inodeSetSize,
  openVolume,
  readInode,
  superGet,
  writeInode,
} from "../../src/fs/xipfs/xipfs_format.ts";
import { freshVol } from "./_vol.ts";

Deno.test("crc32() matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf4_3926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("openVolume() accepts a fresh image and reads its geometry", () => {
  const vol = freshVol(1 << 20, 64);
  assert.equal(vol.sb.totalBlocks, 256);
  assert.equal(vol.sb.inodeCount, 64);
  assert.equal(vol.sb.rootIno, 1);
  assert.equal(superGet(vol, "freeInodes"), 63);
});

Deno.test("openVolume() ignores dynamic superblock fields for the checksum", () => {
  const vol = freshVol();
  vol.view.setUint32(XSUPER.freeBlocks, 7, true);
  vol.view.setUint32(XSUPER.state, 2, true);
  assert.ok(openVolume(vol.dev).ok);
});

Deno.test("openVolume() refuses an image whose geometry does not fit in it", () => {
  const vol = freshVol();
  assert.match(
    (openVolume(vol.dev.subarray(0, 200 * XIPFS_BLOCK_SIZE)) as { error: string }).error,
    /^image truncated/,
  );
});

Deno.test("writeInode() and readInode() round-trip every field, sizes past 4 GiB included", () => {
  const vol = freshVol();
  const ino = asIno(5);
  const inode: DiskInode = {
    mode: 0o100755,
    uid: 1000,
    gid: 100,
    links: 3,
    size: 5 * 2 ** 32 + 17,
    atime: 1,
    mtime: 2,
    ctime: 0xffff_ffff,
    flags: 0x0200_0000,
    blocks: 9,
    generation: 4,
    ptrs: Array.from({ length: 14 }, (_, i) => 100 + i),
  };
  writeInode(vol, ino, inode);
  assert.deepEqual(readInode(vol, ino), inode);
  inodeSetSize(vol, ino, 64 << 20);
  assert.equal(inodeGetSize(vol, ino), 64 << 20);
  // the neighbours are untouched
  assert.equal(readInode(vol, asIno(4)).mode, 0);
  assert.equal(readInode(vol, asIno(6)).mode, 0);
});

Deno.test("inodeOffset() panics for inode numbers outside the table", () => {
  const vol = freshVol(1 << 20, 64);
  for (const bad of [0, 65, -1, 1.5]) {
    assert.throws(() => inodeOffset(vol.sb, asIno(bad)), KernelPanic, String(bad));
  }
  assert.equal(inodeOffset(vol.sb, asIno(1)), vol.sb.inodeTableStart * XIPFS_BLOCK_SIZE);
});

Deno.test("allocBlockOffline() hands out every free data block once, then -ENOSPC", () => {
  const vol = freshVol(256 * 1024);
  const free = superGet(vol, "freeBlocks");
  const got = new Set<number>();
  for (;;) {
    const b = allocBlockOffline(vol, 40);
    if (b < 0) {
      assert.equal(b, -ENOSPC);
      break;
    }
    assert.ok(b >= vol.sb.dataStart && b < vol.sb.totalBlocks && !got.has(b));
    got.add(b);
  }
  assert.equal(got.size, free);
  assert.equal(superGet(vol, "freeBlocks"), 0);
});

Deno.test("allocBlockOffline() zeroes a reallocated block so old data never leaks", () => {
  const vol = freshVol();
  const b = allocBlockOffline(vol);
  vol.dev.fill(0xee, b * XIPFS_BLOCK_SIZE, (b + 1) * XIPFS_BLOCK_SIZE);
  freeBlockOffline(vol, b);
  assert.equal(blockInUse(vol, b), false);
  assert.equal(allocBlockOffline(vol, b), b);
  assert.ok(
    vol.dev.subarray(b * XIPFS_BLOCK_SIZE, (b + 1) * XIPFS_BLOCK_SIZE).every((x) => x === 0),
  );
  freeBlockOffline(vol, b);
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
});

Deno.test("freeBlockOffline() panics on metadata and on free blocks", () => {
  const vol = freshVol();
  assert.throws(() => freeBlockOffline(vol, asBlock(0)), KernelPanic);
  assert.throws(() => freeBlockOffline(vol, asBlock(vol.sb.totalBlocks - 1)), KernelPanic);
});

Deno.test("allocInodeOffline() hands out every free inode, then -ENOSPC; freeInodeOffline() returns one", () => {
  const vol = freshVol(1 << 20, 32);
  const got: number[] = [];
  for (let ino = allocInodeOffline(vol); ino > 0; ino = allocInodeOffline(vol)) got.push(ino);
  assert.deepEqual(got, Array.from({ length: 31 }, (_, i) => i + 2));
  assert.equal(allocInodeOffline(vol), -ENOSPC);
  freeInodeOffline(vol, asIno(7));
  assert.equal(allocInodeOffline(vol), 7);
  assert.throws(() => freeInodeOffline(vol, asIno(33)), KernelPanic);
});
