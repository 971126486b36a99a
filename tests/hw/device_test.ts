import assert from "node:assert/strict";
import { EINVAL, EIO, ERANGE } from "../../src/abi/errno.ts";
import { type LayoutConfig, VMSTAT } from "../../src/abi/layout/mod.ts";
import { asBlock, asSector, PAGE_SIZE, type Sector } from "../../src/abi/types.ts";
import {
  type DirectAccess,
  ImageError,
  loadImage,
  MemDevice,
  saveImage,
} from "../../src/hw/device.ts";
import { createMemory, statRead } from "../../src/hw/memory.ts";

const CFG: LayoutConfig = { ramFrames: 16, deviceFrames: 10, deviceMemmap: false, maxTasks: 2 };
const DEV_BYTES = CFG.deviceFrames * PAGE_SIZE;

function device(cfg = CFG): MemDevice {
  return new MemDevice(createMemory(cfg));
}

function expectDax(r: DirectAccess | number): DirectAccess {
  assert.equal(typeof r, "object", `directAccess failed with ${r}`);
  return r as DirectAccess;
}

Deno.test("MemDevice describes the device region of physical memory", () => {
  const dev = device();
  assert.equal(dev.kind, "memdev");
  assert.equal(dev.blocks, 10);
  assert.equal(dev.frames, 10);
  assert.equal(dev.firstPfn, 16);
  assert.equal(dev.bytes.length, DEV_BYTES);
  assert.equal(dev.bytes.byteOffset, 16 * PAGE_SIZE);
  assert.equal(dev.bytes.buffer, dev.mem.phys);
});

// [case, sector, size, expected pfn offset from firstPfn, kaddr, avail]
const DAX_OK: [string, number, number, number, number, number][] = [
  ["first page, one page", 0, PAGE_SIZE, 0, 0, PAGE_SIZE],
  ["first page, whole device", 0, DEV_BYTES, 0, 0, DEV_BYTES],
  ["last page, one page", 72, PAGE_SIZE, 9, 9 * PAGE_SIZE, PAGE_SIZE],
  ["last page, more than remains (truncated)", 72, 3 * PAGE_SIZE, 9, 9 * PAGE_SIZE, PAGE_SIZE],
  ["middle, more than remains (truncated)", 24, 100 * PAGE_SIZE, 3, 3 * PAGE_SIZE, 7 * PAGE_SIZE],
  ["middle, less than a page (not rounded)", 40, 100, 5, 5 * PAGE_SIZE, 100],
  ["middle, one byte", 8, 1, 1, PAGE_SIZE, 1],
];

for (const [name, sector, size, pfnOff, kaddr, avail] of DAX_OK) {
  Deno.test(`directAccess() answers pfn/kaddr/avail for ${name}`, () => {
    const dev = device();
    const r = expectDax(dev.directAccess(asSector(sector), size));
    assert.equal(r.pfn, dev.firstPfn + pfnOff);
    assert.equal(r.pfn, dev.firstPfn + sector / 8, "pfn is firstPfn + block");
    assert.equal(r.kaddr, kaddr);
    assert.equal(r.kaddr, sector * 512);
    assert.equal(r.avail, avail);
  });
}

const DAX_BAD: [string, number, number, number][] = [
  ["an unaligned sector", 1, PAGE_SIZE, -EINVAL],
  ["a sector one short of a page", 7, PAGE_SIZE, -EINVAL],
  ["a negative sector", -8, PAGE_SIZE, -EINVAL],
  ["a fractional sector", 8.5, PAGE_SIZE, -EINVAL],
  ["size 0", 0, 0, -EINVAL],
  ["a negative size", 0, -1, -EINVAL],
  ["a fractional size", 0, 1.5, -EINVAL],
  ["the sector just past the end", 80, PAGE_SIZE, -ERANGE],
  ["a sector far past the end", 8000, PAGE_SIZE, -ERANGE],
  ["an unaligned sector past the end", 81, PAGE_SIZE, -EINVAL],
];

for (const [name, sector, size, err] of DAX_BAD) {
  Deno.test(`directAccess() returns ${err} for ${name}`, () => {
    assert.equal(device().directAccess(sector as Sector, size), err);
  });
}

Deno.test("directAccess() memory is the physical frame: writes at kaddr show at pfn*4096", () => {
  const dev = device();
  for (const block of [0, 4, 9]) {
    const r = expectDax(dev.directAccess(asSector(block * 8), PAGE_SIZE));
    dev.bytes[r.kaddr] = 0xa0 + block;
    dev.bytes[r.kaddr + PAGE_SIZE - 1] = 0xb0 + block;
    assert.equal(dev.mem.u8[r.pfn * PAGE_SIZE], 0xa0 + block);
    assert.equal(dev.mem.u8[r.pfn * PAGE_SIZE + PAGE_SIZE - 1], 0xb0 + block);
    dev.mem.u8[r.pfn * PAGE_SIZE + 1] = 0xc0 + block;
    assert.equal(dev.bytes[r.kaddr + 1], 0xc0 + block);
  }
});

Deno.test("directAccess() gives the same answer every time (the mapping is stable)", () => {
  const dev = device();
  const a = dev.directAccess(asSector(16), PAGE_SIZE);
  dev.bioWrite(asBlock(2), new Uint8Array(PAGE_SIZE).fill(1));
  assert.deepEqual(dev.directAccess(asSector(16), PAGE_SIZE), a);
});

Deno.test("bioWrite() then bioRead() round-trips a block and counts the bytes", () => {
  const dev = device();
  const src = new Uint8Array(PAGE_SIZE + 8).map((_, i) => (i * 13) & 0xff);
  assert.equal(dev.bioWrite(asBlock(3), src, 8), PAGE_SIZE);
  assert.deepEqual(dev.bytes.slice(3 * PAGE_SIZE, 4 * PAGE_SIZE), src.slice(8));
  assert.ok(dev.bytes.subarray(0, 3 * PAGE_SIZE).every((b) => b === 0), "neighbours untouched");
  assert.ok(dev.bytes.subarray(4 * PAGE_SIZE).every((b) => b === 0), "neighbours untouched");
  const dst = new Uint8Array(2 * PAGE_SIZE);
  assert.equal(dev.bioRead(asBlock(3), dst, PAGE_SIZE), PAGE_SIZE);
  assert.deepEqual(dst.slice(PAGE_SIZE), src.slice(8));
  assert.ok(dst.subarray(0, PAGE_SIZE).every((b) => b === 0));
  assert.equal(dev.bioRead(asBlock(3), dst), PAGE_SIZE);
  assert.equal(statRead(dev.mem, VMSTAT.bioReadBytes), 2 * PAGE_SIZE);
  assert.equal(statRead(dev.mem, VMSTAT.bioWriteBytes), PAGE_SIZE);
});

Deno.test("bioRead()/bioWrite() reject bad blocks and short buffers without counting", () => {
  const dev = device();
  const buf = new Uint8Array(PAGE_SIZE);
  const cases: [string, () => number, number][] = [
    ["read past the end", () => dev.bioRead(asBlock(10), buf), -EIO],
    ["read a negative block", () => dev.bioRead(asBlock(-1), buf), -EIO],
    ["write past the end", () => dev.bioWrite(asBlock(10), buf), -EIO],
    ["read into a short buffer", () => dev.bioRead(asBlock(0), buf, 1), -EINVAL],
    ["write from a short buffer", () => dev.bioWrite(asBlock(0), buf.subarray(1)), -EINVAL],
    ["read at a negative offset", () => dev.bioRead(asBlock(0), buf, -1), -EINVAL],
  ];
  for (const [name, op, err] of cases) assert.equal(op(), err, name);
  assert.equal(statRead(dev.mem, VMSTAT.bioReadBytes), 0);
  assert.equal(statRead(dev.mem, VMSTAT.bioWriteBytes), 0);
  assert.equal(dev.flush(), 0);
});

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "xip-physmem-" });
}

Deno.test("saveImage() then loadImage() into a fresh Memory round-trips the device", () => {
  const dir = tempDir();
  try {
    const dev = device();
    for (let i = 0; i < dev.bytes.length; i++) dev.bytes[i] = (i * 31 + (i >> 12)) & 0xff;
    const path = `${dir}/disk.img`;
    saveImage(dev, path);
    assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["disk.img"]);
    const image = loadImage(path);
    assert.equal(image.length, DEV_BYTES);
    const again = new MemDevice(createMemory(CFG, { image }));
    assert.deepEqual(again.bytes.slice(), dev.bytes.slice());
    // Saving over an existing image replaces it and still leaves no temporary file.
    again.bytes.fill(0x5a, 0, PAGE_SIZE);
    saveImage(again, path);
    assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["disk.img"]);
    assert.deepEqual(loadImage(path), again.bytes.slice());
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("saveImage() throws ImageError and leaves no temporary file when it cannot write", () => {
  const dir = tempDir();
  try {
    Deno.mkdirSync(`${dir}/taken`);
    // Renaming a file over a non-empty directory fails after the data was written.
    Deno.writeTextFileSync(`${dir}/taken/x`, "x");
    assert.throws(() => saveImage(device(), `${dir}/taken`), ImageError);
    assert.throws(() => saveImage(device(), `${dir}/missing/dir/img`), ImageError);
    assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["taken"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadImage() throws a one-line ImageError for bad images", () => {
  const dir = tempDir();
  try {
    Deno.writeFileSync(`${dir}/odd.img`, new Uint8Array(PAGE_SIZE + 1));
    Deno.writeFileSync(`${dir}/empty.img`, new Uint8Array(0));
    Deno.writeFileSync(`${dir}/big.img`, new Uint8Array(4 * PAGE_SIZE));
    const cases: [string, () => Uint8Array, RegExp][] = [
      ["missing", () => loadImage(`${dir}/nope.img`), /nope\.img: not found$/],
      ["wrong size", () => loadImage(`${dir}/odd.img`), /size 4097 is not a multiple of 4096$/],
      ["empty", () => loadImage(`${dir}/empty.img`), /empty$/],
      ["a directory", () => loadImage(dir), /not a regular file$/],
      ["too big", () => loadImage(`${dir}/big.img`, 2 * PAGE_SIZE), /exceeds the limit/],
    ];
    for (const [name, op, re] of cases) {
      assert.throws(op, (e) => {
        assert.ok(e instanceof ImageError, `${name}: ${e}`);
        assert.match(e.message, re, name);
        assert.ok(!e.message.includes("\n"), `${name}: message is one line`);
        return true;
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("createMemory({ image }) refuses a loaded image bigger than the device", () => {
  const dir = tempDir();
  try {
    Deno.writeFileSync(`${dir}/a.img`, new Uint8Array(11 * PAGE_SIZE));
    assert.throws(() => createMemory(CFG, { image: loadImage(`${dir}/a.img`) }), ImageError);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
