import assert from "node:assert/strict";
import { EINVAL, EIO, EROFS } from "../../src/abi/errno.ts";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import { asBlock, PAGE_SIZE } from "../../src/abi/types.ts";
import type { BlockDevice } from "../../src/hw/device.ts";
import { HostFileDevice } from "../../src/hw/host_device.ts";
import { createMemory, statRead } from "../../src/hw/memory.ts";

/** A temporary image of `blocks` blocks, block b filled with byte b + 1. */
function makeImage(blocks: number, extraBytes = 0): string {
  const path = Deno.makeTempFileSync({ prefix: "xip-hostdev-", suffix: ".img" });
  const img = new Uint8Array(blocks * PAGE_SIZE + extraBytes);
  for (let b = 0; b < blocks; b++) img.fill(b + 1, b * PAGE_SIZE, (b + 1) * PAGE_SIZE);
  Deno.writeFileSync(path, img);
  return path;
}

Deno.test("HostFileDevice reads and writes blocks through the host file (bio round trip)", () => {
  const path = makeImage(4);
  const dev = new HostFileDevice(path);
  try {
    assert.equal(dev.kind, "hostfile");
    assert.equal(dev.blocks, 4);
    const buf = new Uint8Array(3 * PAGE_SIZE);
    assert.equal(dev.bioRead(asBlock(2), buf, PAGE_SIZE), PAGE_SIZE);
    assert.ok(buf.subarray(PAGE_SIZE, 2 * PAGE_SIZE).every((x) => x === 3));
    assert.ok(buf.subarray(0, PAGE_SIZE).every((x) => x === 0), "outside dstOff untouched");
    const src = new Uint8Array(PAGE_SIZE).map((_, i) => i * 13);
    assert.equal(dev.bioWrite(asBlock(1), src), PAGE_SIZE);
    const back = new Uint8Array(PAGE_SIZE);
    assert.equal(dev.bioRead(asBlock(1), back), PAGE_SIZE);
    assert.deepEqual(back, src);
    // A second handle (as another Worker would open) sees the write at once.
    const other = new HostFileDevice(path, { readOnly: true });
    assert.equal(other.bioRead(asBlock(1), back.fill(0)), PAGE_SIZE);
    assert.deepEqual(back, src);
    other.close();
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});

Deno.test("HostFileDevice.flush() makes written blocks visible in the host file", () => {
  const path = makeImage(3);
  const dev = new HostFileDevice(path);
  try {
    const src = new Uint8Array(PAGE_SIZE).fill(0xab);
    assert.equal(dev.bioWrite(asBlock(2), src), PAGE_SIZE);
    assert.equal(dev.flush(), 0);
    const file = Deno.readFileSync(path);
    assert.equal(file.length, 3 * PAGE_SIZE, "the file does not grow");
    assert.ok(file.subarray(2 * PAGE_SIZE).every((x) => x === 0xab));
    assert.ok(file.subarray(PAGE_SIZE, 2 * PAGE_SIZE).every((x) => x === 2));
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});

Deno.test("HostFileDevice refuses bad requests with an errno", () => {
  const path = makeImage(2, 100); // a partial last block is not addressable
  const dev = new HostFileDevice(path);
  const ro = new HostFileDevice(path, { readOnly: true });
  const buf = new Uint8Array(PAGE_SIZE);
  try {
    assert.equal(dev.blocks, 2);
    const cases: [string, () => number, number][] = [
      ["read past the end", () => dev.bioRead(asBlock(2), buf), -EIO],
      ["write past the end", () => dev.bioWrite(asBlock(2), buf), -EIO],
      ["negative block", () => dev.bioRead(asBlock(-1), buf), -EIO],
      ["fractional block", () => dev.bioRead(asBlock(0.5), buf), -EIO],
      ["short buffer", () => dev.bioRead(asBlock(0), new Uint8Array(100)), -EINVAL],
      ["offset past the buffer", () => dev.bioWrite(asBlock(0), buf, 1), -EINVAL],
      ["write on a read-only handle", () => ro.bioWrite(asBlock(0), buf), -EROFS],
    ];
    for (const [what, call, want] of cases) assert.equal(call(), want, what);
    dev.close();
    assert.equal(dev.bioRead(asBlock(0), buf), -EIO, "closed handle");
    assert.equal(dev.flush(), -EIO, "closed handle");
  } finally {
    dev.close();
    ro.close();
    Deno.removeSync(path);
  }
});

Deno.test("HostFileDevice offers no directAccess (its storage is not CPU addressable)", () => {
  const path = makeImage(1);
  const dev: BlockDevice = new HostFileDevice(path);
  try {
    assert.equal("directAccess" in dev, false);
    assert.equal(dev.directAccess, undefined);
  } finally {
    (dev as HostFileDevice).close();
    Deno.removeSync(path);
  }
});

Deno.test("HostFileDevice counts bio bytes in the stats when given a Memory", () => {
  const mem = createMemory({ ramFrames: 4, deviceFrames: 1, deviceMemmap: false, maxTasks: 2 });
  const path = makeImage(2);
  const dev = new HostFileDevice(path, { mem });
  try {
    const buf = new Uint8Array(PAGE_SIZE);
    dev.bioRead(asBlock(0), buf);
    dev.bioRead(asBlock(1), buf);
    dev.bioWrite(asBlock(0), buf);
    dev.bioRead(asBlock(5), buf); // fails: not counted
    assert.equal(statRead(mem, VMSTAT.bioReadBytes), 2 * PAGE_SIZE);
    assert.equal(statRead(mem, VMSTAT.bioWriteBytes), PAGE_SIZE);
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});

Deno.test("HostFileDevice's constructor names the path when the image cannot be opened", () => {
  assert.throws(() => new HostFileDevice("/nonexistent/xip.img"), /\/nonexistent\/xip.img/);
});
