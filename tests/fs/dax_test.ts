import assert from "node:assert/strict";
import { VMSTAT, XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { EFBIG, EINVAL } from "../../src/abi/errno.ts";
import { statRead } from "../../src/hw/memory.ts";
import { BMAP_DIND_FIRST, BMAP_IND_FIRST } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { XIPFS_MAX_BYTES } from "../../src/fs/xipfs/xipfs_live.ts";
import { freshLive, fsckClean, newFile, rng } from "./_live.ts";

const BS = XIPFS_BLOCK_SIZE;
const SEED = Number(Deno.env.get("DAX_SEED") ?? Date.now() % 1_000_000);

const pattern = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);

Deno.test("daxRead() returns zeros for holes and stops at i_size", () => {
  const { fs } = freshLive();
  const ip = newFile(fs, "f");
  assert.equal(fs.daxWrite(ip, 3 * BS + 100, pattern(10, 1)), 10);
  const out = new Uint8Array(5 * BS).fill(0xcc);
  assert.equal(fs.daxRead(ip, 0, out), 3 * BS + 110);
  assert.ok(
    out.subarray(0, 3 * BS + 100).every((x) => x === 0),
    "hole and leading edge read as zeros",
  );
  assert.deepEqual(out.subarray(3 * BS + 100, 3 * BS + 110), pattern(10, 1));
  assert.equal(fs.daxRead(ip, 3 * BS + 110, out), 0, "at EOF");
  assert.equal(fs.daxRead(ip, 10 * BS, out), 0, "past EOF");
  assert.equal(fs.getattr(ip).blocks, 8, "one block allocated for the write");
  fs.iput(ip);
});

Deno.test("daxWrite() zeroes the partial edges of new blocks", () => {
  const live = freshLive();
  const { fs } = live;
  const ip = newFile(fs, "f");
  assert.equal(fs.daxWrite(ip, 5000, pattern(100, 2)), 100);
  assert.equal(fs.truncate(ip, 2 * BS), 0);
  const out = new Uint8Array(2 * BS);
  assert.equal(fs.daxRead(ip, 0, out), 2 * BS);
  const want = new Uint8Array(2 * BS);
  want.set(pattern(100, 2), 5000);
  assert.deepEqual(out, want);
  fs.iput(ip);
  fsckClean(live);
});

Deno.test("daxWrite() and daxRead() count copied bytes", () => {
  const { fs, mem } = freshLive();
  const ip = newFile(fs, "f");
  const r0 = statRead(mem, VMSTAT.copiedRead);
  const w0 = statRead(mem, VMSTAT.copiedWrite);
  fs.daxWrite(ip, 0, new Uint8Array(7000));
  fs.daxRead(ip, 1000, new Uint8Array(10_000));
  assert.equal(statRead(mem, VMSTAT.copiedWrite) - w0, 7000);
  assert.equal(statRead(mem, VMSTAT.copiedRead) - r0, 6000);
  fs.iput(ip);
});

Deno.test("daxWrite() returns -EFBIG at the largest file and cuts a write that crosses it", () => {
  const live = freshLive();
  const { fs } = live;
  const ip = newFile(fs, "f");
  assert.equal(fs.daxWrite(ip, XIPFS_MAX_BYTES, new Uint8Array(1)), -EFBIG);
  assert.equal(fs.daxWrite(ip, XIPFS_MAX_BYTES - 10, pattern(20, 3)), 10);
  assert.equal(fs.getattr(ip).size, XIPFS_MAX_BYTES);
  const out = new Uint8Array(10);
  assert.equal(fs.daxRead(ip, XIPFS_MAX_BYTES - 10, out), 10);
  assert.deepEqual(out, pattern(20, 3).subarray(0, 10));
  assert.equal(fs.daxWrite(ip, -1, out), -EINVAL);
  assert.equal(fs.truncate(ip, XIPFS_MAX_BYTES + 1), -EFBIG);
  assert.equal(fs.truncate(ip, 0), 0);
  fs.iput(ip);
  fsckClean(live);
});

Deno.test("DAX I/O across direct, indirect and double-indirect boundaries matches a byte model", () => {
  const live = freshLive({ sizeBytes: 32 << 20 });
  const { fs } = live;
  const rand = rng(SEED);
  try {
    const ip = newFile(fs, "model");
    const maxBytes = (BMAP_DIND_FIRST + 1500) * BS;
    const model = new Uint8Array(maxBytes);
    let size = 0;
    const edges = [0, BMAP_IND_FIRST, BMAP_DIND_FIRST, BMAP_DIND_FIRST + 1024].map((b) => b * BS);
    const pickPos = (): number => {
      const e = edges[Math.floor(rand() * edges.length)]!;
      return Math.max(0, Math.min(maxBytes - 1, e + Math.floor((rand() - 0.5) * 6 * BS)));
    };
    for (let op = 0; op < 400; op++) {
      const r = rand();
      if (r < 0.5) {
        const pos = pickPos();
        const len = Math.min(maxBytes - pos, 1 + Math.floor(rand() * 3 * BS));
        const data = pattern(len, op);
        assert.equal(fs.daxWrite(ip, pos, data), len, `op ${op}: write ${pos}+${len}`);
        model.set(data, pos);
        size = Math.max(size, pos + len);
      } else if (r < 0.85) {
        const pos = pickPos();
        const len = 1 + Math.floor(rand() * 4 * BS);
        const out = new Uint8Array(len).fill(0xaa);
        const want = Math.max(0, Math.min(len, size - pos));
        assert.equal(fs.daxRead(ip, pos, out), want, `op ${op}: read ${pos}+${len}`);
        assert.deepEqual(
          out.subarray(0, want),
          model.subarray(pos, pos + want),
          `op ${op}: bytes at ${pos}`,
        );
      } else if (r < 0.95) {
        const ns = pickPos();
        assert.equal(fs.truncate(ip, ns), 0);
        if (ns < size) model.fill(0, ns, size);
        size = ns;
      } else {
        const off = pickPos();
        const len = 1 + Math.floor(rand() * 3 * BS);
        assert.equal(fs.punchHole(ip, off, len), 0);
        model.fill(0, off, Math.min(size, off + len));
      }
    }
    const all = new Uint8Array(size);
    assert.equal(fs.daxRead(ip, 0, all), size);
    assert.deepEqual(all, model.subarray(0, size));
    fs.iput(ip);
    fsckClean(live);
  } catch (e) {
    console.error(`dax_test: seed ${SEED} (rerun with DAX_SEED=${SEED})`);
    throw e;
  }
});
