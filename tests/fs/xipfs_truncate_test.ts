import assert from "node:assert/strict";
import { takeOverDeadTask } from "../sync/_helpers.ts";
import { TASK, TRUNC_SIZE, XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { finishTruncate } from "../../src/fs/xipfs/xipfs_truncate.ts";
import { heldLocks } from "../../src/sync/held.ts";
import { killCheck, taskKill, TaskKilled, taskNoteOf } from "../../src/sync/current.ts";
import { EINVAL } from "../../src/abi/errno.ts";
import { findGetPage } from "../../src/fs/pagecache/pagecache.ts";
import { BMAP_DIND_FIRST } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { type InodeRef, setUnmapMappingRangeHook } from "../../src/fs/xipfs/xipfs_live.ts";
import { putPage } from "../../src/mm/memmap.ts";
import { freshLive, fsckClean, type LiveFs, newFile, pcRead, pcWrite } from "./_live.ts";

const BS = XIPFS_BLOCK_SIZE;
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

/** DAX and page-cache flavours of the same file operations. */
interface Mode {
  name: string;
  dax: "always" | "never";
  write(l: LiveFs, ip: InodeRef, pos: number, d: Uint8Array): void;
  read(l: LiveFs, ip: InodeRef, pos: number, len: number): Uint8Array;
}

const MODES: Mode[] = [
  {
    name: "DAX",
    dax: "always",
    write: (l, ip, pos, d) => assert.equal(l.fs.daxWrite(ip, pos, d), d.length),
    read: (l, ip, pos, len) => {
      const out = new Uint8Array(len);
      const n = l.fs.daxRead(ip, pos, out);
      assert.ok(n >= 0);
      return out.subarray(0, n);
    },
  },
  { name: "page cache", dax: "never", write: pcWrite, read: pcRead },
];

for (const m of MODES) {
  Deno.test(`truncate() shrinking frees every block past EOF and fsck stays clean (${m.name})`, () => {
    const live = freshLive({ sizeBytes: 16 << 20, mount: { dax: m.dax } });
    const { fs } = live;
    const free0 = fs.freeBlocks();
    const ip = newFile(fs, "f");
    assert.equal(fs.isDax(ip), m.dax === "always");
    m.write(live, ip, 0, fill((BMAP_DIND_FIRST + 20) * BS, 0x11));
    assert.equal(fs.fsync(ip), 0); // page cache: writeback allocates nothing new (reserved)
    assert.ok(fs.freeBlocks() < free0 - BMAP_DIND_FIRST);
    for (const size of [(BMAP_DIND_FIRST + 3) * BS + 5, 100 * BS, 13 * BS, 12 * BS, 7777, 0]) {
      assert.equal(fs.truncate(ip, size), 0);
      const st = fs.getattr(ip);
      assert.equal(st.size, size);
      assert.deepEqual(m.read(live, ip, 0, size + BS), fill(size, 0x11));
      assert.equal(fs.fsync(ip), 0);
      fsckClean(live);
    }
    assert.equal(fs.getattr(ip).blocks, 0);
    assert.equal(fs.freeBlocks(), free0, "every block came back");
    fs.iput(ip);
  });

  Deno.test(`truncate() zeroes the tail of the last block, so growing again reads zeros (${m.name})`, () => {
    const live = freshLive({ mount: { dax: m.dax } });
    const { fs } = live;
    const ip = newFile(fs, "f");
    m.write(live, ip, 0, fill(3 * BS, 0xff));
    assert.equal(fs.truncate(ip, BS + 100), 0);
    assert.equal(fs.truncate(ip, 3 * BS), 0);
    const want = fill(3 * BS, 0);
    want.fill(0xff, 0, BS + 100);
    assert.deepEqual(m.read(live, ip, 0, 3 * BS), want);
    assert.equal(fs.fsync(ip), 0);
    fsckClean(live);
    fs.iput(ip);
  });

  Deno.test(`punchHole() zeroes partial edges, frees whole blocks and keeps i_size (${m.name})`, () => {
    const live = freshLive({ mount: { dax: m.dax } });
    const { fs } = live;
    const ip = newFile(fs, "f");
    m.write(live, ip, 0, fill(10 * BS, 0x22));
    assert.equal(fs.fsync(ip), 0);
    const blocks0 = fs.getattr(ip).blocks;
    assert.equal(fs.punchHole(ip, BS + 10, 4 * BS), 0); // [BS+10, 5BS+10)
    assert.equal(fs.punchHole(ip, 7 * BS + 1, 5), 0); // inside one block
    assert.equal(fs.punchHole(ip, 9 * BS, 100 * BS), 0); // past EOF: clamped
    assert.equal(fs.punchHole(ip, 0, 0), -EINVAL);
    const want = fill(10 * BS, 0x22);
    want.fill(0, BS + 10, 5 * BS + 10);
    want.fill(0, 7 * BS + 1, 7 * BS + 6);
    want.fill(0, 9 * BS, 10 * BS);
    assert.equal(fs.getattr(ip).size, 10 * BS);
    assert.deepEqual(m.read(live, ip, 0, 10 * BS), want);
    assert.equal(fs.getattr(ip).blocks, blocks0 - 4 * 8, "blocks 2..4 and 9 freed");
    assert.equal(fs.fsync(ip), 0);
    fsckClean(live);
    fs.iput(ip);
  });
}

Deno.test("truncate() growing leaves a sparse hole", () => {
  const live = freshLive();
  const { fs } = live;
  const ip = newFile(fs, "f");
  assert.equal(fs.truncate(ip, 5 << 20), 0);
  const st = fs.getattr(ip);
  assert.equal(st.size, 5 << 20);
  assert.equal(st.blocks, 0);
  const out = new Uint8Array(1 << 20).fill(1);
  assert.equal(fs.daxRead(ip, 3 << 20, out), 1 << 20);
  assert.ok(out.every((x) => x === 0));
  assert.equal(fs.truncate(ip, -1), -EINVAL);
  fsckClean(live);
  fs.iput(ip);
});

Deno.test("truncate() calls the unmap hook for the pages past the new EOF", () => {
  const { fs } = freshLive();
  const calls: [number, number, number][] = [];
  setUnmapMappingRangeHook((ip, start, n) => calls.push([ip.ino, start, n]));
  try {
    const ip = newFile(fs, "f");
    fs.daxWrite(ip, 0, fill(10 * BS, 1));
    fs.truncate(ip, 2 * BS + 1);
    fs.punchHole(ip, 0, 2 * BS);
    fs.truncate(ip, 20 * BS); // growing unmaps nothing
    assert.deepEqual(calls, [[ip.ino, 3, 0], [ip.ino, 0, 2]]);
    fs.iput(ip);
  } finally {
    setUnmapMappingRangeHook(() => {});
  }
});

Deno.test("truncate() drops page-cache pages past EOF of a file that is not DAX", () => {
  const live = freshLive({ mount: { dax: "never" } });
  const { fs, mem } = live;
  const ip = newFile(fs, "f");
  pcWrite(live, ip, 0, fill(5 * BS, 3));
  assert.equal(fs.truncate(ip, BS + 1), 0);
  for (const [pg, present] of [[0, true], [1, true], [2, false], [4, false]] as const) {
    const pfn = findGetPage(mem, ip.slot, pg);
    assert.equal(pfn !== -1, present, `page ${pg}`);
    if (pfn !== -1) putPage(mem, pfn);
  }
  fs.iput(ip);
});

for (const m of MODES) {
  Deno.test(`finishTruncate() frees the blocks a truncate left past EOF when its task died mid-way (${m.name})`, () => {
    const live = freshLive({ sizeBytes: 16 << 20, mount: { dax: m.dax } });
    const { fs, mem } = live;
    const k = mem.k32;
    const free0 = fs.freeBlocks();
    const ip = newFile(fs, "f");
    m.write(live, ip, 0, fill(40 * BS, 0x22));
    assert.equal(fs.fsync(ip), 0);
    // Die inside the unmap step, as a Worker killed at a lock operation of
    // unmapMappingRange would: after i_size is set, before any block is freed.
    const victim = asTaskSlot(1);
    setUnmapMappingRangeHook(() => {
      taskKill(k, victim);
      killCheck(k);
    });
    try {
      assert.throws(() => fs.truncate(ip, 3 * BS + 1), TaskKilled);
    } finally {
      setUnmapMappingRangeHook(() => {});
    }
    assert.equal(fs.getattr(ip).size, 3 * BS + 1);
    assert.equal(taskNoteOf(k, victim, TASK.truncOp), TRUNC_SIZE);
    assert.ok(heldLocks(k, victim).length >= 2, "died holding i_rwsem and invalidate_lock");
    // The Machine's part, from another task: recover the locks, finish the truncate.
    takeOverDeadTask(k, victim);
    assert.equal(finishTruncate(fs.ctx, victim), 0);
    assert.equal(fs.getattr(ip).size, 3 * BS + 1);
    assert.equal(fs.getattr(ip).blocks, 4 * (BS / 512), "4 blocks, in 512-byte units");
    assert.deepEqual(m.read(live, ip, 0, 5 * BS), fill(3 * BS + 1, 0x22));
    assert.equal(fs.fsync(ip), 0);
    fsckClean(live);
    assert.equal(fs.truncate(ip, 0), 0);
    assert.equal(fs.freeBlocks(), free0);
    fs.iput(ip);
  });
}
