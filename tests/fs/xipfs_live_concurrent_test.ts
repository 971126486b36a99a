import assert from "node:assert/strict";
import { SCRATCH_WORDS } from "../../src/abi/layout/mod.ts";
import { asIno, asTaskSlot } from "../../src/abi/types.ts";
import {
  DEBUG_PERTURB,
  HELD_HELD,
  heldLocks,
  initBarrier,
  lockClassName,
  setDebug,
} from "../../src/sync/mod.ts";
import { freshLive, fsckClean } from "./_live.ts";
import type { NsJob, NsReport } from "./xipfs_live_worker.ts";
import { runJobWorkers } from "./_job_workers.ts";
import { assertInvariants } from "../_invariants.ts";

const WATCHDOG_MS = 90_000;
const SEED = Number(Deno.env.get("LIVEFS_SEED") ?? Date.now() % 1_000_000);
const WORKERS = 3;

/** What every Worker task holds or waits for: the first clue when the watchdog fires. */
function lockDump(k32: Int32Array, tids: number[]): string {
  return tids.map((t) =>
    `task ${t}: ` +
    heldLocks(k32, asTaskSlot(t)).map((h) =>
      `${lockClassName(h.cls)}@${h.word}${h.state === HELD_HELD ? "" : " (waiting)"}`
    ).join(", ")
  ).join("; ");
}

/** Run one job per Worker under the watchdog, which dumps the locks still held. */
function runWorkers(jobs: NsJob[], k32: Int32Array): Promise<NsReport[]> {
  const url = new URL("./xipfs_live_worker.ts", import.meta.url).href;
  const failed = (error: string): NsReport => ({ ok: false, error });
  return runJobWorkers(
    url,
    jobs,
    WATCHDOG_MS,
    failed,
    () => `; ${lockDump(k32, jobs.map((j) => j.tid))}`,
  );
}

Deno.test(`${WORKERS} Workers creating, writing, renaming and unlinking in one directory leave a consistent filesystem`, async () => {
  try {
    const live = freshLive({ sizeBytes: 16 << 20, ramFrames: 64 });
    const { fs, mem } = live;
    setDebug(mem.k32, DEBUG_PERTURB, true);
    const root = fs.iget(fs.rootIno);
    if (typeof root === "number") throw new Error("root");
    const shared = fs.mkdir(root, "shared", 0o755);
    const own = Array.from({ length: WORKERS }, (_, w) => fs.mkdir(root, `own${w}`, 0o755));
    const barrier = mem.layout.scratch.base + SCRATCH_WORDS - 16;
    initBarrier(mem.k32, barrier, WORKERS);
    const reports = await runWorkers(
      Array.from({ length: WORKERS }, (_, w) => ({
        phys: mem.phys,
        kernel: mem.kernel,
        tid: 2 + w,
        worker: w,
        files: 60,
        shared,
        own: own[w]!,
        barrier,
        seed: SEED * 7 + w,
      })),
      mem.k32,
    );
    for (const r of reports) assert.ok(r.ok, r.error);
    const listing = (dir: number) => {
      const ip = fs.iget(asIno(dir));
      if (typeof ip === "number") throw new Error("iget");
      const out = new Map<string, number>();
      const ents = fs.readdir(ip, 0);
      if (typeof ents === "number") throw new Error(`readdir ${ents}`);
      for (const e of ents) {
        if (e.name === "." || e.name === "..") continue;
        const f = fs.iget(e.ino);
        if (typeof f === "number") throw new Error("iget entry");
        out.set(e.name, fs.getattr(f).size);
        fs.iput(f);
      }
      fs.iput(ip);
      return out;
    };
    assert.deepEqual(listing(shared), new Map(reports.flatMap((r) => r.shared!)));
    own.forEach((d, w) => assert.deepEqual(listing(d), new Map(reports[w]!.own!)));
    fs.iput(root);
    fsckClean(live);
    assertInvariants(mem, {}, `(seed ${SEED})`);
  } catch (e) {
    console.error(`xipfs_live_concurrent_test: seed ${SEED} (rerun with LIVEFS_SEED=${SEED})`);
    throw e;
  }
});
