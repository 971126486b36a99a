import assert from "node:assert/strict";
import {
  FALLOC,
  fallocBitmapWords,
  type LayoutConfig,
  PAGE,
  PAGE_WORDS,
  physBytes,
  VMSTAT,
} from "../../src/abi/layout/mod.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { ImageError, MAX_IMAGE_BYTES } from "../../src/hw/image.ts";
import {
  attachMemory,
  createMemory,
  MAX_PHYS_FRAMES,
  statAdd,
  statRead,
} from "../../src/hw/memory.ts";
import { MKFS_MAX_BYTES } from "../../src/fs/xipfs/mkfs.ts";

const CFG: LayoutConfig = { ramFrames: 40, deviceFrames: 8, deviceMemmap: true, maxTasks: 4 };

Deno.test("createMemory() sizes both buffers and boots the memmap and allocator", () => {
  const mem = createMemory(CFG);
  assert.equal(mem.phys.byteLength, physBytes(CFG));
  assert.equal(mem.u8.length, physBytes(CFG));
  assert.equal(mem.k32.length * 4, mem.layout.bytes);
  assert.equal(mem.k64.length * 8, mem.layout.bytes);
  const f = mem.layout.falloc.base;
  assert.equal(mem.k32[f + FALLOC.freeFrames], 40);
  assert.equal(mem.k32[f + FALLOC.peakUsed], 0);
  // 40 frames: word 0 all free, word 1 has frames 32..39 free and 40..63 marked in use.
  assert.equal(fallocBitmapWords(CFG), 2);
  assert.equal(mem.k32[f + FALLOC.bitmap], 0);
  assert.equal(mem.k32[f + FALLOC.bitmap + 1], ~0xff);
  for (let i = 0; i < 48; i++) {
    const p = mem.layout.memmap.base + i * PAGE_WORDS;
    assert.equal(mem.k32[p + PAGE.refcount], 0);
    assert.equal(mem.k32[p + PAGE.next], -1);
    assert.equal(mem.k32[p + PAGE.prev], -1);
  }
});

Deno.test("createMemory() leaves no spare bitmap bits when RAM is a multiple of 32", () => {
  const mem = createMemory({ ...CFG, ramFrames: 64 });
  const f = mem.layout.falloc.base;
  assert.equal(mem.k32[f + FALLOC.bitmap + 1], 0);
});

Deno.test("createMemory() copies an image to the start of the device region", () => {
  const image = new Uint8Array(2 * PAGE_SIZE).map((_, i) => (i * 7 + 1) & 0xff);
  const mem = createMemory(CFG, { image });
  const dev = CFG.ramFrames * PAGE_SIZE;
  assert.deepEqual(mem.u8.slice(dev, dev + image.length), image);
  assert.ok(mem.u8.subarray(dev + image.length).every((b) => b === 0));
  assert.ok(mem.u8.subarray(0, dev).every((b) => b === 0));
});

Deno.test("createMemory() throws ImageError when the image does not fit or is misaligned", () => {
  assert.throws(
    () => createMemory(CFG, { image: new Uint8Array(9 * PAGE_SIZE) }),
    (e) => e instanceof ImageError && /does not fit/.test(e.message),
  );
  assert.throws(
    () => createMemory(CFG, { image: new Uint8Array(100) }),
    (e) => e instanceof ImageError && /multiple of 4096/.test(e.message),
  );
});

Deno.test("createMemory() refuses impossible configs", () => {
  const bad: LayoutConfig[] = [
    { ...CFG, ramFrames: -1 },
    { ...CFG, deviceFrames: 1.5 },
    { ...CFG, maxTasks: 1 },
    { ...CFG, ramFrames: 1 << 22 },
  ];
  for (const cfg of bad) assert.throws(() => createMemory(cfg), /createMemory: /);
});

Deno.test("attachMemory() sees the creator's buffers and writes", () => {
  const mem = createMemory(CFG);
  const other = attachMemory(mem.phys, mem.kernel);
  assert.deepEqual(other.layout, mem.layout);
  other.u8[12345] = 99;
  assert.equal(mem.u8[12345], 99);
  statAdd(other, VMSTAT.faultDax, 3);
  assert.equal(statRead(mem, VMSTAT.faultDax), 3);
});

Deno.test("attachMemory() throws a clear Error for buffers that are not a machine's", () => {
  const mem = createMemory(CFG);
  const cases: [SharedArrayBuffer, SharedArrayBuffer, RegExp][] = [
    [mem.phys, new SharedArrayBuffer(mem.kernel.byteLength), /no valid header/],
    [new SharedArrayBuffer(PAGE_SIZE), mem.kernel, /physical buffer is 4096 bytes/],
    [mem.phys, new SharedArrayBuffer(12), /malformed/],
  ];
  for (const [phys, kernel, re] of cases) assert.throws(() => attachMemory(phys, kernel), re);
  assert.throws(
    () => attachMemory(new ArrayBuffer(8) as unknown as SharedArrayBuffer, mem.kernel),
    /must be SharedArrayBuffers/,
  );
});

Deno.test("statAdd() and statRead() count per counter, beyond 32 bits", () => {
  const mem = createMemory(CFG);
  statAdd(mem, VMSTAT.bioReadBytes, 2 ** 31);
  statAdd(mem, VMSTAT.bioReadBytes, 2 ** 31);
  statAdd(mem, VMSTAT.instret, 5);
  assert.equal(statRead(mem, VMSTAT.bioReadBytes), 2 ** 32);
  assert.equal(statRead(mem, VMSTAT.instret), 5);
  assert.equal(statRead(mem, VMSTAT.bioWriteBytes), 0);
});

Deno.test("createMemory() puts physical memory in a shared WebAssembly.Memory of whole wasm pages", () => {
  const mem = createMemory(CFG);
  assert.ok(mem.physMemory instanceof WebAssembly.Memory);
  assert.equal(mem.physMemory.buffer, mem.phys);
  assert.ok(mem.phys instanceof SharedArrayBuffer);
  assert.equal(mem.phys.byteLength % 65536, 0);
  assert.ok(mem.phys.byteLength >= (CFG.ramFrames + CFG.deviceFrames) * PAGE_SIZE);
  const other = attachMemory(mem.physMemory, mem.kernel);
  assert.equal(other.physMemory, mem.physMemory);
  other.u8[777] = 5;
  assert.equal(mem.u8[777], 5);
});

Deno.test("createMemory() refuses more than 4 GiB of RAM plus device (one wasm32 memory)", () => {
  assert.equal(MAX_PHYS_FRAMES * PAGE_SIZE, 4 * 1024 ** 3);
  assert.throws(
    () => createMemory({ ...CFG, ramFrames: MAX_PHYS_FRAMES - 4, deviceFrames: 8 }),
    /exceed the limit of 1048576 \(4 GiB, one wasm32 memory\)/,
  );
});

Deno.test("every image mkfs makes fits a machine with the default 64 MiB of RAM", () => {
  assert.ok(MKFS_MAX_BYTES + 64 * 1024 * 1024 <= MAX_PHYS_FRAMES * PAGE_SIZE);
  assert.ok(MAX_IMAGE_BYTES >= MKFS_MAX_BYTES, "loadImage takes what mkfs makes");
});

Deno.test("Machine.boot() refuses RAM plus device over 4 GiB with one line, before allocating", async () => {
  const { Machine, MachineError } = await import("../../src/kernel/machine.ts");
  await assert.rejects(
    () => Machine.boot({ ram: 3 * 1024 ** 3, size: 2 * 1024 ** 3 }),
    (e) =>
      e instanceof MachineError &&
      /^RAM \(3 GiB\) plus device \(2 GiB\) exceed 4 GiB, the most one wasm32 memory holds/
        .test(e.message) &&
      !e.message.includes("\n"),
  );
});
