import assert from "node:assert/strict";
import { O_CREAT, O_RDONLY, O_RDWR } from "../../src/abi/fcntl.ts";
import { vfsClose, vfsPread } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { initBarrier } from "../../src/sync/mod.ts";
import { boot, type Mode } from "./_vfs_harness.ts";
import { record, type VfsJob, type VfsReport } from "./vfs_worker.ts";
import { runJobWorkers } from "./_job_workers.ts";
import { assertInvariants } from "../_invariants.ts";

const WATCHDOG_MS = 60_000;
const SEED = Number(Deno.env.get("VFS_SEED") ?? Date.now() % 1_000_000);
const WORKERS = 2;
const RECORDS = 40;
const REC = 1000; // not a divisor of the page: Workers' records share pages
const APPEND = 300;

/** Run one job per Worker under the watchdog. */
function runWorkers(jobs: VfsJob[]): Promise<VfsReport[]> {
  const url = new URL("./vfs_worker.ts", import.meta.url).href;
  const failed = (error: string): VfsReport => ({ ok: false, error });
  return runJobWorkers(url, jobs, WATCHDOG_MS, failed);
}

/** Whole contents of `path` through the main thread's process. */
function slurp(m: ReturnType<typeof boot>, path: string, size: number): Uint8Array {
  const fd = vfsOpen(m.proc, path, O_RDONLY);
  assert.ok(fd >= 0, `open ${path}`);
  const buf = new Uint8Array(size + 1);
  const n = vfsPread(m.proc, fd, buf, 0);
  assert.equal(vfsClose(m.proc, fd), 0);
  assert.equal(n, size, `${path} size`);
  return buf.subarray(0, n);
}

// Both modes append: the position is chosen under i_rwsem (daxAppend, or the VFS's hold).
const MODES: [Mode, number][] = [["dax", APPEND], ["pagecache", APPEND]];

for (const [mode, appendBytes] of MODES) {
  Deno.test(`vfs in 2 Workers: own files, one shared file and appends end consistent in ${mode} mode`, async () => {
    const m = boot(mode, { deviceBlocks: 2048, ramFrames: 256, maxTasks: 2 + WORKERS });
    try {
      for (
        const p of [
          "/shared",
          "/append",
          ...Array.from({ length: WORKERS }, (_, w) => `/own${w}`),
        ]
      ) {
        const fd = vfsOpen(m.proc, p, O_CREAT | O_RDWR);
        assert.ok(fd >= 0);
        assert.equal(vfsClose(m.proc, fd), 0);
      }
      const barrier = m.mem.layout.scratch.base;
      initBarrier(m.mem.k32, barrier, WORKERS);
      const jobs: VfsJob[] = Array.from({ length: WORKERS }, (_, w) => ({
        phys: m.mem.phys,
        kernel: m.mem.kernel,
        tid: 2 + w,
        worker: w,
        workers: WORKERS,
        seed: SEED,
        records: RECORDS,
        recBytes: REC,
        appendBytes,
        barrier,
      }));
      const reports = await runWorkers(jobs);
      for (const r of reports) assert.ok(r.ok, r.error);

      for (let w = 0; w < WORKERS; w++) {
        const data = slurp(m, `/own${w}`, RECORDS * REC);
        for (let i = 0; i < RECORDS; i++) {
          assert.deepEqual(
            data.subarray(i * REC, (i + 1) * REC),
            record(SEED, w, i, REC),
            `own${w} #${i}`,
          );
        }
      }
      const shared = slurp(m, "/shared", RECORDS * WORKERS * REC);
      for (let i = 0; i < RECORDS; i++) {
        for (let w = 0; w < WORKERS; w++) {
          const at = (i * WORKERS + w) * REC;
          assert.deepEqual(
            shared.subarray(at, at + REC),
            record(SEED, w, i, REC),
            `shared w${w} #${i}`,
          );
        }
      }
      if (appendBytes > 0) {
        // Every append landed whole, none overwrote another: each record is
        // one Worker's next one, in that Worker's order.
        const all = slurp(m, "/append", WORKERS * RECORDS * appendBytes);
        const next = new Array<number>(WORKERS).fill(0);
        for (let at = 0; at < all.length; at += appendBytes) {
          const w = all[at]!;
          assert.ok(w < WORKERS, `append record at ${at} names worker ${w}`);
          assert.deepEqual(
            all.subarray(at, at + appendBytes),
            record(SEED, w, next[w]!, appendBytes),
          );
          next[w]!++;
        }
        assert.deepEqual(next, new Array<number>(WORKERS).fill(RECORDS));
      }
      assertInvariants(m.mem, {}, `with the file system mounted (seed ${SEED})`);
      assert.deepEqual(m.unmountAndFsck().errors, [], "fsck");
      assertInvariants(m.mem, {}, `after unmount (seed ${SEED})`);
    } catch (e) {
      console.error(`vfs concurrent test failed in ${mode} mode: rerun with VFS_SEED=${SEED}`);
      throw e;
    }
  });
}
