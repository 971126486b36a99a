import assert from "node:assert/strict";
import { EEXIST, EINVAL, ENAMETOOLONG, ENOENT, ENOTDIR, EUCLEAN } from "../../src/abi/errno.ts";
import { XDIRENT, XFT_REG, XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { type Ino } from "../../src/abi/types.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import {
  dirAddEntry,
  dirCountChildren,
  direntSize,
  dirIterate,
  dirLookup,
  dirRemoveEntry,
} from "../../src/fs/xipfs/xipfs_dir.ts";
import { freeInodeOffline, inodeGetSize, type XipVol } from "../../src/fs/xipfs/xipfs_format.ts";
import { rng } from "./_host_tree.ts";
import { allocator, freshVol, newFile } from "./_vol.ts";

function names(vol: XipVol, dir: Ino): string[] {
  const out: string[] = [];
  assert.equal(dirIterate(vol, dir, (e) => void out.push(e.name)), 0);
  return out;
}

/** Names of 1..200 bytes, some non-ASCII. */
function makeNames(n: number, seed: number): string[] {
  const rand = rng(seed);
  return Array.from(
    { length: n },
    (_, i) => `${i}-${"é".repeat(Math.floor(rand() * 60))}${"n".repeat(Math.floor(rand() * 60))}`,
  );
}

Deno.test("direntSize() rounds header plus name up to 4 bytes", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 255].map(direntSize), [12, 12, 12, 12, 16, 264]);
});

Deno.test("dirAddEntry() grows a directory block by block and dirLookup() finds every name", () => {
  const vol = freshVol(4 << 20, 1024);
  const root = vol.sb.rootIno;
  const all = makeNames(400, 1);
  const inos = all.map((n) => newFile(vol, root, n));
  assert.ok(inodeGetSize(vol, root) >= 4 * XIPFS_BLOCK_SIZE, "several blocks");
  all.forEach((n, i) => assert.equal(dirLookup(vol, root, n), inos[i], n));
  const listed = names(vol, root);
  assert.deepEqual(listed.slice(0, 2), [".", ".."]);
  assert.deepEqual(
    listed.slice(2).sort(),
    [...all].sort(),
    "first fit may reorder, never lose or repeat",
  );
  assert.equal(dirCountChildren(vol, root), 400);
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
});

Deno.test("dirRemoveEntry() frees space that dirAddEntry() reuses without growing", () => {
  const vol = freshVol(4 << 20, 1024);
  const root = vol.sb.rootIno;
  const all = makeNames(300, 2);
  const inos = all.map((n) => newFile(vol, root, n));
  const size = inodeGetSize(vol, root);
  for (let i = 0; i < all.length; i += 2) {
    assert.equal(dirRemoveEntry(vol, root, all[i]!), 0);
    freeInodeOffline(vol, inos[i]!);
    assert.equal(dirLookup(vol, root, all[i]!), -ENOENT);
  }
  assert.deepEqual(
    names(vol, root).slice(2).sort(),
    all.filter((_, i) => i % 2 === 1).sort(),
  );
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
  for (let i = 0; i < all.length; i += 2) newFile(vol, root, all[i]!);
  assert.equal(inodeGetSize(vol, root), size, "the freed room was reused");
  assert.equal(dirCountChildren(vol, root), 300);
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
});

Deno.test("dirRemoveEntry() of the first entry of a block marks it free (ino 0) and skips it", () => {
  const vol = freshVol(4 << 20, 1024);
  const root = vol.sb.rootIno;
  const all = makeNames(200, 3);
  all.forEach((n) => newFile(vol, root, n));
  const b1 = bmapLookup(vol, root, 1);
  const firstOff = b1 * XIPFS_BLOCK_SIZE;
  const firstName = new TextDecoder().decode(
    vol.dev.subarray(
      firstOff + XDIRENT.name,
      firstOff + XDIRENT.name + vol.dev[firstOff + XDIRENT.nameLen]!,
    ),
  );
  const victim = dirLookup(vol, root, firstName);
  assert.equal(dirRemoveEntry(vol, root, firstName), 0);
  freeInodeOffline(vol, victim);
  assert.equal(vol.view.getUint32(firstOff + XDIRENT.ino, true), 0);
  assert.ok(!names(vol, root).includes(firstName));
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
});

Deno.test("dirAddEntry() refuses duplicates, bad names and non-directories", () => {
  const vol = freshVol();
  const root = vol.sb.rootIno;
  const f = newFile(vol, root, "x");
  const add = (dir: Ino, name: string) => dirAddEntry(vol, dir, name, f, XFT_REG, allocator(vol));
  assert.equal(add(root, "x"), -EEXIST);
  assert.equal(add(root, "."), -EEXIST);
  assert.equal(add(root, "a/b"), -EINVAL);
  assert.equal(add(root, ""), -EINVAL);
  assert.equal(add(root, "nul\0"), -EINVAL);
  assert.equal(add(root, "n".repeat(256)), -ENAMETOOLONG);
  assert.equal(add(root, "n".repeat(255)), 0);
  assert.equal(add(f, "y"), -ENOTDIR);
  assert.equal(dirRemoveEntry(vol, root, "nothere"), -ENOENT);
  assert.equal(dirRemoveEntry(vol, f, "x"), -ENOTDIR);
});

Deno.test("dirIterate() and dirLookup() report -EUCLEAN for a corrupt rec_len", () => {
  const vol = freshVol();
  const root = vol.sb.rootIno;
  newFile(vol, root, "x");
  const b = bmapLookup(vol, root, 0);
  vol.view.setUint16(b * XIPFS_BLOCK_SIZE + XDIRENT.recLen, 0, true);
  assert.equal(dirIterate(vol, root, () => {}), -EUCLEAN);
  assert.equal(dirLookup(vol, root, "x"), -EUCLEAN);
  assert.equal(dirAddEntry(vol, root, "y", root, XFT_REG, allocator(vol)), -EUCLEAN);
});
