import assert from "node:assert/strict";
import {
  computeLayout,
  computeXipfsLayout,
  FALLOC,
  fallocBitmapWords,
  HEADER,
  HELD_ENTRY_WORDS,
  HELD_MAX,
  type LayoutConfig,
  memmapFrames,
  PAGE_WORDS,
  readLayout,
  REGION_ALIGN_WORDS,
  TASK,
  TASK_WORDS,
  VMSTAT,
  VMSTAT_COUNT,
  writeHeader,
  XDIRENT,
  XINODE,
  XIPFS_BLOCK_SIZE,
  XIPFS_INODE_SIZE,
  XIPFS_SYMLINK_INLINE_MAX,
  XSUPER,
  XSUPER_BYTES,
} from "../../src/abi/layout/mod.ts";

const CONFIGS: LayoutConfig[] = [
  { ramFrames: 16384, deviceFrames: 16384, deviceMemmap: false, maxTasks: 128 },
  { ramFrames: 16384, deviceFrames: 16384, deviceMemmap: true, maxTasks: 128 },
  { ramFrames: 1, deviceFrames: 1, deviceMemmap: false, maxTasks: 2 },
  { ramFrames: 33, deviceFrames: 7, deviceMemmap: true, maxTasks: 3 },
];

for (const cfg of CONFIGS) {
  const name = `ram=${cfg.ramFrames} dev=${cfg.deviceFrames} memmap=${cfg.deviceMemmap}`;

  Deno.test(`computeLayout() places regions without overlap, aligned, when ${name}`, () => {
    const l = computeLayout(cfg);
    let end = 0;
    for (const r of l.regions) {
      assert.ok(r.base >= end, `${r.name} at ${r.base} overlaps the region ending at ${end}`);
      assert.equal(r.base % REGION_ALIGN_WORDS, 0, `${r.name} is not 64-byte aligned`);
      assert.ok(r.words > 0, `${r.name} is empty`);
      end = r.base + r.words;
    }
    assert.ok(end * 4 <= l.bytes, "last region runs past the buffer");
    assert.equal(new Set(l.regions.map((r) => r.name)).size, l.regions.length);
  });

  Deno.test(`computeLayout() sizes tables to the config when ${name}`, () => {
    const l = computeLayout(cfg);
    assert.equal(l.memmap.words, memmapFrames(cfg) * PAGE_WORDS);
    assert.equal(l.tasks.words, cfg.maxTasks * TASK_WORDS);
    assert.ok((l.falloc.words - FALLOC.bitmap) * 32 >= cfg.ramFrames);
    assert.equal(l.falloc.words, FALLOC.bitmap + fallocBitmapWords(cfg));
    assert.ok(l.stats.words >= VMSTAT_COUNT * 2);
    assert.equal(l.stats.base % 2, 0, "stats must be 8-byte aligned for BigInt64 access");
  });
}

Deno.test("record layouts keep their fields inside the record", () => {
  assert.equal(TASK.held + HELD_MAX * HELD_ENTRY_WORDS, TASK_WORDS);
  for (const v of Object.values(VMSTAT)) assert.ok(v < VMSTAT_COUNT);
  assert.equal(new Set(Object.values(VMSTAT)).size, Object.keys(VMSTAT).length);
});

Deno.test("memmapFrames() counts device frames only with a device memmap", () => {
  const base = { ramFrames: 10, deviceFrames: 5, maxTasks: 2 };
  assert.equal(memmapFrames({ ...base, deviceMemmap: false }), 10);
  assert.equal(memmapFrames({ ...base, deviceMemmap: true }), 15);
});

Deno.test("readLayout() recovers the layout writeHeader() recorded, and refuses garbage", () => {
  const l = computeLayout(CONFIGS[3]!);
  const k32 = new Int32Array(new SharedArrayBuffer(l.bytes));
  assert.equal(readLayout(k32), null);
  writeHeader(k32, l);
  assert.deepEqual(readLayout(k32), l);
  assert.equal(k32[HEADER.tasksBase], l.tasks.base);
  assert.equal(readLayout(new Int32Array(8)), null);
});

// ---------------------------------------------------------------------------
// xipfs on-disk layout

const XIPFS_GEOMETRIES: [number, number][] = [
  [16, 16], // the smallest image mkfs makes
  [16384, 4096], // 64 MiB, default inodes
  [32769, 32769], // bitmaps that spill into a second block
  [1 << 20, 1 << 18], // 4 GiB
];

for (const [blocks, inodes] of XIPFS_GEOMETRIES) {
  Deno.test(`computeXipfsLayout() places on-disk regions in order without overlap for ${blocks} blocks, ${inodes} inodes`, () => {
    const l = computeXipfsLayout(blocks, inodes);
    let end = 0;
    for (const r of l.regions) {
      assert.equal(r.start, end, `${r.name} starts at ${r.start}, expected right after ${end}`);
      assert.ok(r.blocks > 0, `${r.name} is empty`);
      end = r.start + r.blocks;
    }
    assert.equal(end, blocks, "the regions cover the device exactly");
    assert.ok(l.blockBitmap.blocks * XIPFS_BLOCK_SIZE * 8 >= blocks, "a bit for every block");
    assert.ok(l.inodeBitmap.blocks * XIPFS_BLOCK_SIZE * 8 >= inodes, "a bit for every inode");
    assert.ok(l.inodeTable.blocks * XIPFS_BLOCK_SIZE >= inodes * XIPFS_INODE_SIZE);
  });
}

/** Fields of a byte-offset record, each `size` bytes: inside `bytes`, aligned, disjoint. */
function assertRecord(
  name: string,
  rec: Record<string, number>,
  sizes: Record<string, number>,
  bytes: number,
) {
  const spans = Object.entries(rec).map(([k, off]) => [k, off, off + (sizes[k] ?? 4)] as const)
    .sort((a, b) => a[1] - b[1]);
  let end = 0;
  for (const [k, from, to] of spans) {
    assert.ok(from >= end, `${name}.${k} at ${from} overlaps the field ending at ${end}`);
    assert.ok(to <= bytes, `${name}.${k} runs past the ${bytes}-byte record`);
    if ((sizes[k] ?? 4) >= 4) assert.equal(from % 4, 0, `${name}.${k} is not 4-byte aligned`);
    end = to;
  }
}

Deno.test("xipfs on-disk records keep their fields aligned, disjoint and inside the record", () => {
  assertRecord("XSUPER", XSUPER, {}, XSUPER_BYTES);
  assertRecord("XINODE", XINODE, { block: 48 }, XIPFS_INODE_SIZE);
  assertRecord("XDIRENT", XDIRENT, { recLen: 2, nameLen: 1, type: 1, name: 0 }, 8);
  assert.equal(XINODE.indirect, XINODE.block + 12 * 4, "indirect follows the 12 direct pointers");
  assert.equal(XINODE.dindirect, XINODE.indirect + 4);
  assert.equal(XIPFS_SYMLINK_INLINE_MAX, 56);
  // The checksum covers exactly the geometry: everything before it.
  for (const k of ["freeBlocks", "freeInodes", "state", "mountCount", "writeTime"] as const) {
    assert.ok(XSUPER[k] > XSUPER.checksum, `${k} must not be checksummed`);
  }
});

Deno.test("fallocBitmapWords() gives one bit per RAM frame, rounded up to whole words", () => {
  const cases: [number, number][] = [[0, 0], [1, 1], [32, 1], [33, 2], [16384, 512]];
  for (const [ramFrames, words] of cases) {
    assert.equal(
      fallocBitmapWords({ ramFrames, deviceFrames: 0, deviceMemmap: false, maxTasks: 2 }),
      words,
    );
  }
});

Deno.test("FALLOC counters sit before the bitmap and on their own cache line", () => {
  const counters = Object.entries(FALLOC).filter(([k]) => k !== "bitmap").map(([, v]) => v);
  for (const v of counters) assert.ok(v < FALLOC.bitmap);
  assert.equal(FALLOC.bitmap % REGION_ALIGN_WORDS, 0);
});
