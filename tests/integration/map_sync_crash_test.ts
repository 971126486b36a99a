/**
 * MAP_SYNC's promise, end to end, against cuts of the host image: the
 * guest /bin/mapsync writes 64-byte records through a
 * MAP_SHARED_VALIDATE|MAP_SYNC mapping and makes each durable with
 * cbo.flush and a fence only (no fsync, no msync), then sets a progress
 * word. While it runs, the host reads that word, P, and copies the image
 * file at once: a crash at that moment would leave exactly that file (a
 * memory device writes its image only through fsync, sync and cache-block
 * write-back, so the file holds every write that completed, and at most
 * one in flight). Every copy must open as xipfs, name /records with an
 * i_size and a block map covering record P - 1 (the metadata a MAP_SYNC
 * write fault made durable before it mapped the page, as
 * dax_finish_sync_fault does), and hold records 0..P-1 intact. Both memmap
 * modes; the cut times are seeded.
 *
 * Then the same guest under the dm-log-writes harness (tests/crash): every
 * image write and flush is recorded, the host marks each progress value it
 * reads, and every flush point and a seeded sample of torn points (writes
 * since the last flush landing in any subset) is replayed, repaired with
 * fsck -y, checked clean and mounted; every record marked durable before
 * the cut must be there.
 */

import assert from "node:assert/strict";
import { asIno, PAGE_SIZE } from "../../src/abi/types.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { inodeGetSize, openVolume, type XipVol } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { physWords } from "../../src/mm/pgtable.ts";
import { assertInvariants } from "../_invariants.ts";
import { makeGuestTree, within } from "../kernel/_guest_image.ts";
import {
  checkCrashPoints,
  crashPoints,
  formatCrash,
  rand32,
  startRecording,
} from "../crash/_log_writes.ts";

const LINE = 64;
const RECORDS = 512; // eight pages: eight MAP_SYNC write faults besides the progress page

const tree = makeGuestTree();
Deno.test.afterAll(() => Deno.removeSync(tree, { recursive: true }));

/** Record i as guest/bin/mapsync.c make_record writes it. */
function record(i: number): Uint8Array {
  const r = new Uint8Array(LINE);
  const v = new DataView(r.buffer);
  v.setUint32(0, 0x44524352, true);
  v.setUint32(4, i, true);
  v.setUint32(8, (Math.imul(i, 0x9e3779b1) + 7) >>> 0, true);
  for (let k = 0; k < LINE - 12; k++) r[12 + k] = (i + k) & 0xff;
  return r;
}

/** What is wrong with a copy of the image cut when `durable` records were fenced; null if nothing. */
function checkCut(image: Uint8Array, durable: number): string | null {
  const o = openVolume(image);
  if (!o.ok) return `the image does not open: ${o.error}`;
  if (durable === 0) return null;
  const vol: XipVol = o.vol;
  const ino = namei(vol, "/records");
  if (ino <= 0) return `/records is missing (${ino})`;
  const size = inodeGetSize(vol, asIno(ino));
  if (size < durable * LINE) return `i_size ${size} does not cover record ${durable - 1}`;
  for (let i = 0; i < durable; i++) {
    const b = bmapLookup(vol, asIno(ino), Math.floor((i * LINE) / PAGE_SIZE));
    if (b <= 0) return `record ${i}: its block is not in the durable block map (${b})`;
    const at = b * PAGE_SIZE + ((i * LINE) % PAGE_SIZE);
    const got = image.subarray(at, at + LINE);
    if (!got.every((x, k) => x === record(i)[k])) return `record ${i} is not intact`;
  }
  return null;
}

/** The progress word of a run of `n` records, once its page exists: the device word index, else null. */
function progressWord(m: Machine, n: number): number | null {
  const vol = m.fs.xip.ctx.vol;
  const ino = namei(vol, "/records");
  if (ino <= 0) return null;
  const b = bmapLookup(vol, asIno(ino), Math.ceil((n * LINE) / PAGE_SIZE));
  if (b <= 0) return null;
  return (m.mem.layout.config.ramFrames + b) * (PAGE_SIZE / 4);
}

/**
 * Run `mapsync /records n progress` on `m`, calling `poll` with the
 * progress word's value (0 before its page exists) after every `pause()`
 * ms until the guest exits; check it exited 0 with all n records fenced.
 */
async function runMapsync(
  m: Machine,
  n: number,
  pause: () => number,
  poll: (durable: number) => void,
): Promise<void> {
  let out = "";
  const dec = new TextDecoder();
  const p = m.spawn("/bin/mapsync", ["mapsync", "/records", `${n}`, "progress"], {
    stdout: (d) => (out += dec.decode(d)),
    stderr: (d) => (out += dec.decode(d)),
  });
  let exited = false;
  const status = p.wait().then((s) => {
    exited = true;
    return s;
  });
  const durable = () => {
    const w = progressWord(m, n);
    return w === null ? 0 : Atomics.load(physWords(m.mem), w);
  };
  while (!exited) {
    await new Promise((r) => setTimeout(r, pause()));
    poll(durable());
  }
  const s = await within(status, 300_000, "mapsync");
  assert.equal(s.code, 0, out);
  assert.match(out, new RegExp(`^mapsync: ${n} records in \\d+ us\\n$`));
  assert.equal(durable(), n, "the progress word");
  poll(n);
}

for (const memmap of ["none", "device"] as const) {
  Deno.test(`every record fenced through MAP_SYNC + cbo.flush survives a cut of the image (memmap=${memmap})`, async () => {
    const seed = (Date.now() ^ (memmap === "none" ? 0x5a5a : 0xa5a5)) >>> 0;
    const rand = rand32(seed);
    const dir = Deno.makeTempDirSync({ prefix: "xip-mapsync-crash-" });
    const path = `${dir}/root.img`;
    Deno.writeFileSync(path, mkfs({ sizeBytes: 16 << 20, from: tree }));
    const m = await Machine.boot({
      image: path,
      dax: "always",
      memmap,
      maxProcs: 2,
      warm: 1,
      lockdep: true,
    });
    try {
      const cuts: { durable: number; image: Uint8Array }[] = [];
      // The last poll comes after the exit, with nothing syncing and no fsync at all.
      await runMapsync(m, RECORDS, () => rand() * 3, (durable) => {
        cuts.push({ durable, image: Deno.readFileSync(path) });
      });
      const mid = cuts.filter((c) => c.durable > 0 && c.durable < RECORDS).length;
      // Each record costs an fdatasync of the image, so the run spans many cuts.
      assert.ok(mid >= 1, `seed ${seed}: ${cuts.length} cuts, none while records were written`);
      for (const c of cuts) {
        const bad = checkCut(c.image, c.durable);
        assert.equal(bad, null, `seed ${seed}, cut with ${c.durable} records fenced: ${bad}`);
      }
      // The last copy was made with nothing syncing: it is a consistent file system too.
      const last = fsck(cuts[cuts.length - 1]!.image);
      assert.equal(last.status, 0, `seed ${seed}: ${last.errors.join("; ")}`);
      assertInvariants(m, { fsck: true }, `seed ${seed}: ${mid} cuts mid-run`);
      assert.equal(m.stats().panics, 0);
    } finally {
      await within(m.shutdown(), 30_000, "shutdown");
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("MAP_SYNC records survive every flush point and torn point of the recorded image writes", async () => {
  const seed = Number(Deno.env.get("XIP_SEED") ?? 20261206);
  const records = 128;
  const dir = Deno.makeTempDirSync({ prefix: "xip-mapsync-log-" });
  const path = `${dir}/root.img`;
  Deno.writeFileSync(path, mkfs({ sizeBytes: 4 << 20, from: tree }));
  const rec = startRecording(path);
  const m = await Machine.boot({ image: path, imageLog: rec.logPath, dax: "always", maxProcs: 2 });
  let marked = 0;
  try {
    // Mark each progress value seen: its record's flush is already in the log.
    await runMapsync(m, records, () => 1, (durable) => {
      if (durable > marked) rec.mark(`durable ${(marked = durable)}`);
    });
  } finally {
    await within(m.shutdown(), 30_000, "shutdown");
  }
  try {
    const log = rec.read();
    const flushes = log.filter((r) => r.kind === "flush").length;
    assert.equal(marked, records);
    assert.ok(flushes >= records, `${flushes} flushes for ${records} records`);
    const oracle = (img: Uint8Array, marks: string[]): string[] => {
      const durable = Math.max(0, ...marks.map((l) => Number(l.split(" ")[1])));
      const bad = checkCut(img, durable);
      return bad === null ? [] : [`${durable} records durable: ${bad}`];
    };
    const r = checkCrashPoints(rec.base, log, crashPoints(log, 40, seed), oracle);
    const line = `${formatCrash(r)}; ${flushes} flushes; seed ${seed} (XIP_SEED)`;
    assert.deepEqual(r.problems, [], line);
    assert.equal(r.lost + r.unrepairable, 0, line);
  } finally {
    rec.remove();
    Deno.removeSync(dir, { recursive: true });
  }
});
