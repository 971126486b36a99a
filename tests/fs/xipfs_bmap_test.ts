import assert from "node:assert/strict";
import { EFBIG, EUCLEAN } from "../../src/abi/errno.ts";
import { asBlock, type BlockNo } from "../../src/abi/types.ts";
import { XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import {
  BMAP_DIND_FIRST,
  BMAP_IND_FIRST,
  BMAP_MAX_BLOCKS,
  bmapInsert,
  bmapLookup,
  bmapPath,
  bmapTruncate,
  bmapWalk,
  inodeHasBlockMap,
  SLOT_DIND,
  SLOT_IND,
} from "../../src/fs/xipfs/xipfs_bmap.ts";
import {
  allocBlockOffline,
  freeBlockOffline,
  inodeGet,
  inodePtrOffset,
  inodeSet,
  inodeSetSize,
  superGet,
  type XipVol,
} from "../../src/fs/xipfs/xipfs_format.ts";
import { fileRead, symlinkWriteOffline } from "../../src/fs/xipfs/xipfs_file.ts";
import { allocator, freshVol, newFile } from "./_vol.ts";

Deno.test("bmapPath() splits iblocks into direct, indirect and double-indirect paths", () => {
  const table: [number, { slot: number; idx: number[] } | null][] = [
    [0, { slot: 0, idx: [] }],
    [11, { slot: 11, idx: [] }],
    [12, { slot: SLOT_IND, idx: [0] }],
    [1035, { slot: SLOT_IND, idx: [1023] }],
    [1036, { slot: SLOT_DIND, idx: [0, 0] }],
    [2059, { slot: SLOT_DIND, idx: [0, 1023] }],
    [2060, { slot: SLOT_DIND, idx: [1, 0] }],
    [BMAP_MAX_BLOCKS - 1, { slot: SLOT_DIND, idx: [1023, 1023] }],
    [BMAP_MAX_BLOCKS, null],
    [-1, null],
    [1.5, null],
  ];
  for (const [iblock, want] of table) assert.deepEqual(bmapPath(iblock), want, `iblock ${iblock}`);
  assert.equal(BMAP_IND_FIRST, 12);
  assert.equal(BMAP_DIND_FIRST, 1036);
  assert.ok(BMAP_MAX_BLOCKS * XIPFS_BLOCK_SIZE >= 64 * 1024 * 1024, "files reach 64 MiB");
});

/** A file in the root with data blocks at `iblocks`, each tagged with its iblock. */
function fileWith(vol: XipVol, iblocks: number[]) {
  const ino = newFile(vol, vol.sb.rootIno, "f");
  const map = new Map<number, BlockNo>();
  for (const ib of iblocks) {
    const b = allocBlockOffline(vol);
    vol.view.setUint32(b * XIPFS_BLOCK_SIZE, ib, true);
    assert.equal(bmapInsert(vol, ino, ib, b, allocator(vol)), 0);
    map.set(ib, b);
  }
  inodeSetSize(vol, ino, (Math.max(-1, ...iblocks) + 1) * XIPFS_BLOCK_SIZE);
  return { ino, map };
}

const EDGES = [0, 11, 12, 13, 1035, 1036, 1037, 2059, 2060, 2100];

Deno.test("bmapInsert() then bmapLookup() finds each block; holes read 0", () => {
  const vol = freshVol(16 << 20);
  const { ino, map } = fileWith(vol, EDGES);
  for (const [ib, b] of map) assert.equal(bmapLookup(vol, ino, ib), b, `iblock ${ib}`);
  for (const hole of [1, 14, 1034, 1038, 2061, 3000, BMAP_MAX_BLOCKS - 1]) {
    assert.equal(bmapLookup(vol, ino, hole), 0, `hole ${hole}`);
  }
  assert.equal(bmapLookup(vol, ino, BMAP_MAX_BLOCKS), -EFBIG);
  // 10 data + 1 indirect + 1 double indirect + 2 indirect blocks under it
  assert.equal(inodeGet(vol, ino, "blocks"), 14);
  assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] });
});

Deno.test("bmapInsert() at the last mappable block and past it", () => {
  const vol = freshVol(1 << 20);
  const ino = newFile(vol, vol.sb.rootIno, "f");
  const b = allocBlockOffline(vol);
  assert.equal(bmapInsert(vol, ino, BMAP_MAX_BLOCKS - 1, b, allocator(vol)), 0);
  assert.equal(bmapLookup(vol, ino, BMAP_MAX_BLOCKS - 1), b);
  assert.equal(bmapInsert(vol, ino, BMAP_MAX_BLOCKS, b, allocator(vol)), -EFBIG);
});

Deno.test("bmapInsert() reports the allocator's errno when an indirect block cannot be had", () => {
  const vol = freshVol(1 << 20);
  const ino = newFile(vol, vol.sb.rootIno, "f");
  const b = allocBlockOffline(vol);
  assert.equal(bmapInsert(vol, ino, 5000, b, () => asBlock(-28)), -28);
  assert.equal(bmapLookup(vol, ino, 5000), 0);
});

Deno.test("bmapWalk() visits every data and indirect block once", () => {
  const vol = freshVol(16 << 20);
  const { ino, map } = fileWith(vol, EDGES);
  const data = new Map<number, number>();
  const kinds: string[] = [];
  bmapWalk(vol, ino, (b, iblock, kind, valid) => {
    assert.ok(valid);
    if (kind === "data") data.set(iblock, b);
    else kinds.push(`${kind}@${iblock}`);
  });
  assert.deepEqual(new Map([...data].sort((a, b) => a[0] - b[0])), map);
  assert.deepEqual(kinds, ["indirect@12", "dindirect@1036", "indirect@1036", "indirect@2060"]);
});

Deno.test("bmapLookup() and bmapWalk() report an out-of-range indirect pointer without reading through it", () => {
  const vol = freshVol(1 << 20);
  const { ino } = fileWith(vol, [12, 13]);
  vol.view.setUint32(inodePtrOffset(vol.sb, ino, SLOT_IND), 1 << 30, true);
  assert.equal(bmapLookup(vol, ino, 12), -EUCLEAN);
  const seen: [number, boolean][] = [];
  bmapWalk(vol, ino, (b, _ib, _k, valid) => seen.push([b, valid]));
  assert.deepEqual(seen, [[1 << 30, false]]);
});

for (const cut of [0, 5, 11, 12, 13, 1035, 1036, 1037, 2060, 2061, 5000]) {
  Deno.test(`bmapTruncate() from iblock ${cut} frees exactly the blocks past it and the emptied indirect blocks`, () => {
    const vol = freshVol(16 << 20);
    const { ino, map } = fileWith(vol, EDGES);
    const freeBefore = superGet(vol, "freeBlocks");
    const freed: number[] = [];
    const rc = bmapTruncate(vol, ino, cut, (b) => {
      freed.push(b);
      freeBlockOffline(vol, b);
    });
    assert.equal(rc, 0);
    for (const [ib, b] of map) {
      assert.equal(bmapLookup(vol, ino, ib), ib < cut ? b : 0, `iblock ${ib}`);
      assert.equal(freed.includes(b), ib >= cut, `block of iblock ${ib}`);
    }
    assert.equal(superGet(vol, "freeBlocks"), freeBefore + freed.length);
    const kept = [...map.keys()].filter((ib) => ib < cut);
    inodeSetSize(vol, ino, (Math.max(-1, ...kept) + 1) * XIPFS_BLOCK_SIZE);
    assert.deepEqual(fsck(vol.dev), { status: 0, errors: [] }, `cut at ${cut}`);
  });
}

Deno.test("bmapWalk() and bmapTruncate() leave a fast symlink's inline target alone", () => {
  const vol = freshVol(1 << 20);
  const ino = newFile(vol, vol.sb.rootIno, "l");
  inodeSet(vol, ino, "mode", 0o120777);
  // A target whose bytes look like in-range block pointers.
  const target = new Uint8Array(40);
  new DataView(target.buffer).setUint32(0, vol.sb.dataStart, true);
  assert.equal(symlinkWriteOffline(vol, ino, target, allocator(vol)), 0);
  assert.equal(inodeHasBlockMap(vol, ino), false);
  let visited = 0;
  bmapWalk(vol, ino, () => visited++);
  assert.equal(visited, 0);
  assert.equal(bmapTruncate(vol, ino, 0, () => assert.fail("nothing to free")), 0);
  assert.deepEqual(fileRead(vol, ino, 0, 100), target);
  assert.deepEqual(fileRead(vol, ino, 4, 2), target.subarray(4, 6));
});
