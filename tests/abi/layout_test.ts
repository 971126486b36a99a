import assert from "node:assert/strict";
import {
  computeLayout,
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
  STAT,
  STAT_COUNT,
  TASK,
  TASK_WORDS,
  writeHeader,
} from "../../src/abi/layout.ts";

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
    assert.ok(l.stats.words >= STAT_COUNT * 2);
    assert.equal(l.stats.base % 2, 0, "stats must be 8-byte aligned for BigInt64 access");
  });
}

Deno.test("record layouts keep their fields inside the record", () => {
  assert.equal(TASK.held + HELD_MAX * HELD_ENTRY_WORDS, TASK_WORDS);
  for (const v of Object.values(STAT)) assert.ok(v < STAT_COUNT);
  assert.equal(new Set(Object.values(STAT)).size, Object.keys(STAT).length);
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
