import assert from "node:assert/strict";
import { SCRATCH_WORDS, XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { asIno, PAGE_SIZE } from "../../src/abi/types.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { BMAP_DIND_FIRST, BMAP_IND_FIRST } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { blockInUse } from "../../src/fs/xipfs/xipfs_format.ts";
import { DEBUG_LOCKDEP, DEBUG_PERTURB, initBarrier, setDebug } from "../../src/sync/mod.ts";
import { freshLive, rng } from "./_live.ts";
import { type GbJob, type GbReport, MARK_BYTES, marker } from "./getblock_worker.ts";
import { runJobWorkers } from "./_job_workers.ts";
import { assertInvariants } from "../_invariants.ts";

const WATCHDOG_MS = 60_000;
const SEED = Number(Deno.env.get("GETBLOCK_SEED") ?? Date.now() % 1_000_000);

/** Run one job per Worker under the watchdog. */
function runWorkers(jobs: GbJob[]): Promise<GbReport[]> {
  const url = new URL("./getblock_worker.ts", import.meta.url).href;
  const failed = (error: string): GbReport => ({ ok: false, error });
  return runJobWorkers(url, jobs, WATCHDOG_MS, failed, () => ` (seed ${SEED})`);
}

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Blocks a set of mapped iblocks needs: data + indirect + double-indirect tree. */
function blocksNeeded(iblocks: Set<number>): number {
  let n = iblocks.size;
  if ([...iblocks].some((ib) => ib >= BMAP_IND_FIRST && ib < BMAP_DIND_FIRST)) n++;
  const groups = new Set(
    [...iblocks].filter((ib) => ib >= BMAP_DIND_FIRST).map((ib) => (ib - BMAP_DIND_FIRST) >> 10),
  );
  if (groups.size > 0) n += 1 + groups.size;
  return n;
}

for (const nWorkers of [2, 3]) {
  Deno.test(`getBlock(create) gives ${nWorkers} racing Workers one zeroed block per hole, allocates exactly once, never re-zeroes`, async () => {
    const rand = rng(SEED + nWorkers);
    try {
      const live = freshLive({ sizeBytes: 16 << 20 });
      const { mem, dev, fs } = live;
      setDebug(mem.k32, DEBUG_LOCKDEP | DEBUG_PERTURB, true);
      // Fill every free data block with garbage: a block handed out without
      // zeroing would show it.
      const sb = fs.vol.sb;
      for (let b = sb.dataStart; b < sb.totalBlocks; b++) {
        if (!blockInUse(fs.vol, b)) dev.bytes.fill(0xee, b * PAGE_SIZE, (b + 1) * PAGE_SIZE);
      }
      const root = fs.iget(fs.rootIno);
      if (typeof root === "number") throw new Error("root");
      const ino = fs.create(root, "race", 0o644);
      assert.ok(ino > 0);
      fs.iput(root);
      // Shared holes across direct, indirect and double-indirect ranges, in
      // rounds; every Worker gets the same order in a round so they collide.
      const pool = [0, 1, 5, 11, 12, 13, 100, 1035, 1036, 1037, 2059, 2060, 5000, 9000];
      for (let i = 0; i < 40; i++) pool.push(Math.floor(rand() * 3000));
      const shared = shuffle([...new Set(pool)], rand);
      const rounds = [shared.slice(0, 20), shared.slice(20)];
      // Distinct holes: each Worker its own range, filled at the same time.
      const distinct = Array.from(
        { length: nWorkers },
        (_, w) => Array.from({ length: 40 }, (_, i) => 20_000 + w * 1000 + i * 7),
      );
      const barrier = mem.layout.scratch.base + SCRATCH_WORDS - 16;
      initBarrier(mem.k32, barrier, nWorkers);
      const before = fs.blocksAllocated();
      const jobs: GbJob[] = Array.from({ length: nWorkers }, (_, w) => ({
        phys: mem.phys,
        kernel: mem.kernel,
        tid: 2 + w,
        worker: w,
        ino,
        rounds: [...rounds.map((r) => [...r]), shuffle([...distinct[w]!], rand)],
        barrier,
      }));
      const reports = await runWorkers(jobs);
      for (const r of reports) assert.ok(r.ok, r.error);
      // Same block for every shared hole, in every Worker.
      for (let ri = 0; ri < rounds.length; ri++) {
        for (let w = 1; w < nWorkers; w++) {
          assert.deepEqual(
            reports[w]!.blocks![ri],
            reports[0]!.blocks![ri],
            `round ${ri}: workers disagree`,
          );
        }
      }
      const all = new Set<number>([...shared, ...distinct.flat()]);
      assert.equal(fs.blocksAllocated() - before, blocksNeeded(all), "allocations");
      // Every marker of every Worker survived in every block it stamped.
      const words = new Int32Array(dev.bytes.buffer, dev.bytes.byteOffset, dev.bytes.length / 4);
      reports.forEach((r, w) => {
        for (const round of r.blocks!) {
          for (const b of round) {
            assert.equal(
              words[b * PAGE_SIZE / 4 + w]! >>> 0,
              marker(w, b),
              `marker of worker ${w} in block ${b} lost`,
            );
          }
        }
      });
      // Distinct holes got distinct blocks.
      const seen = new Set<number>();
      for (const r of reports) {
        for (const b of r.blocks![rounds.length]!) {
          assert.ok(!seen.has(b), `block ${b} handed out twice`);
          seen.add(b);
        }
      }
      assert.ok(MARK_BYTES >= 4 * nWorkers);
      // getBlock maps blocks, it does not set i_size (a fault past EOF never
      // gets this far); cover them so fsck sees a consistent file.
      const ip = fs.iget(asIno(ino));
      if (typeof ip === "number") throw new Error("iget");
      assert.equal(fs.truncate(ip, (Math.max(...all) + 1) * XIPFS_BLOCK_SIZE), 0);
      fs.iput(ip);
      const res = fsck(dev.bytes.subarray(0, sb.totalBlocks * XIPFS_BLOCK_SIZE));
      assert.deepEqual(res.errors, []);
      assert.equal(res.status, 0);
      assertInvariants(mem, { fsck: true }, `(seed ${SEED})`);
    } catch (e) {
      console.error(`getblock_concurrent_test: seed ${SEED} (rerun with GETBLOCK_SEED=${SEED})`);
      throw e;
    }
  });
}
