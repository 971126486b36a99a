/**
 * The stress harness (issue 8, "Stress with an oracle"): boot a machine
 * with a live xipfs (DAX or page cache), give K Workers their own files and
 * two shared files, run them (StressProc) with a watchdog, then, at
 * quiescence, check what they left:
 *
 * - every value each Worker read matched its model (reported by the Worker);
 * - each own file holds exactly its model; each shared-file record slot
 *   holds exactly the last record its writer wrote;
 * - checkInvariants (fsck included) is clean; the file system unmounts and
 *   the saved image is fsck-clean.
 *
 * The same seed replays the same operation sequence per Worker (the
 * interleaving is the scheduler's). With `perturb`, src/sync's
 * DEBUG_PERTURB injects random delays at every lock acquire and release.
 */

import { asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { installFileMm } from "../../src/fs/file_vm_ops.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfsInto } from "../../src/fs/xipfs/mkfs.ts";
import { vfsPread, vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { O_RDONLY } from "../../src/abi/fcntl.ts";
import { asIno } from "../../src/abi/types.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import {
  DEBUG_LOCKDEP,
  DEBUG_PERTURB,
  recoverTask,
  setCurrentTid,
  setDebug,
  taskInit,
} from "../../src/sync/mod.ts";
import {
  makeRecord,
  RECORD_BYTES,
  SHARED_BYTES,
  SHARED_FILES,
  SHARED_SLOTS,
  STRESS_OWN_FILES,
} from "./_stress_model.ts";
import { CHURN, HUGE_CHURN, ownPath, sharedPath } from "./_stress_ops.ts";
import { FS_XFLAG_EXTSIZE } from "../../src/fs/xipfs/xipfs_fsxattr.ts";
import { statRead } from "../../src/hw/memory.ts";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import type { StressJob, StressResult } from "./stress_worker.ts";

export interface StressOptions {
  seed: number;
  workers: number;
  mode: "dax" | "pagecache";
  perturb: boolean;
  /** Operations per Worker (the replayable budget). */
  ops: number;
  /** Wall-clock cap for the operations, in seconds. */
  seconds: number;
  /** RAM frames (default 1024). Below 512 the run is under RAM pressure: OOM outcomes are allowed. */
  ramFrames?: number;
  /** A Worker whose op count stalls this long is hung (default 30 s). */
  stallMs?: number;
}

export interface StressReport {
  seed: number;
  mode: string;
  perturb: boolean;
  workers: number;
  ops: number;
  counts: Record<string, number>;
  /** Everything that went wrong, one line each; empty when the run passed. */
  problems: string[];
  ms: number;
  /** Megapage faults the run took (the /huge file, DAX); absent where not counted. */
  megapageFaults?: number;
}

/** Room for the 4 MiB extent of /huge beside everything else. */
const IMAGE_BYTES = 16 << 20;

/**
 * Create the files the stress Workers expect: the shared files, the churn
 * file and each Worker's directory of own files. Main thread, task set,
 * after the mount.
 */
export function makeStressFiles(x: XipFs, workers: number): void {
  const root = x.iget(x.rootIno);
  if (typeof root === "number") throw new Error("root");
  const mkFile = (dir: typeof root, name: string, size: number) => {
    const ino = x.create(dir, name, 0o100644);
    if (typeof ino === "number" && ino < 0) throw new Error(`create ${name}: ${ino}`);
    const ip = x.iget(asIno(ino as number));
    if (typeof ip === "number") throw new Error(`iget ${name}`);
    if (size > 0 && x.truncate(ip, size) !== 0) throw new Error(`truncate ${name}`);
    x.iput(ip);
  };
  for (let f = 0; f < SHARED_FILES; f++) mkFile(root, sharedPath(f).slice(1), SHARED_BYTES);
  mkFile(root, CHURN.path.slice(1), 0);
  mkFile(root, HUGE_CHURN.path.slice(1), 0);
  // A 4 MiB extent-size hint: its blocks come as one aligned extent, mapped with a megapage.
  const huge = x.iget(asIno(x.lookup(root, HUGE_CHURN.path.slice(1)) as number));
  if (typeof huge === "number") throw new Error("iget huge");
  const hint = x.setFsxattr(huge, { xflags: FS_XFLAG_EXTSIZE, extsize: HUGE_CHURN.max });
  if (hint !== 0) throw new Error(`extsize huge: ${hint}`);
  x.iput(huge);
  for (let w = 0; w < workers; w++) {
    const d = x.mkdir(root, `w${w}`, 0o755);
    if (typeof d === "number" && d < 0) throw new Error(`mkdir w${w}: ${d}`);
    const dir = x.iget(asIno(d as number));
    if (typeof dir === "number") throw new Error("iget dir");
    for (let j = 0; j < STRESS_OWN_FILES; j++) mkFile(dir, ownPath(w, j).split("/")[2]!, 0);
    x.iput(dir);
  }
  x.iput(root);
}

function bootStress(o: StressOptions): { mem: Memory; dev: MemDevice; x: XipFs; vfs: XipVfs } {
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 1024,
    deviceFrames: IMAGE_BYTES / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: o.workers + 2,
  });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot");
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const dev = new MemDevice(mem);
  mkfsInto(dev.bytes, { inodes: 256 });
  const x = mountXipfs(mem, dev, { dax: o.mode === "dax" ? "always" : "never" });
  if (!(x instanceof XipFs)) throw new Error(`mount: ${x.error}`);
  installFileMm(x);
  makeStressFiles(x, o.workers);
  if (o.perturb) setDebug(mem.k32, DEBUG_PERTURB, true);
  return { mem, dev, x, vfs: new XipVfs(x) };
}

/** How long a Worker may take to load and start its first operation. */
const STARTUP_MS = 120_000;

/**
 * Run the Workers; resolves with their results, or throws naming the
 * stalled Worker. Worker w runs as task `tidBase + w`.
 */
export async function runWorkers(
  o: StressOptions,
  mem: Memory,
  tidBase = 2,
): Promise<StressResult[]> {
  const progress = new SharedArrayBuffer(4 * o.workers);
  const p = new Int32Array(progress);
  const results: (StressResult | null)[] = new Array(o.workers).fill(null);
  const errors: string[] = [];
  const ws: Worker[] = [];
  for (let w = 0; w < o.workers; w++) {
    const worker = new Worker(new URL("./stress_worker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (ev: MessageEvent<StressResult>) => (results[w] = ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault();
      errors.push(`worker ${w} died: ${ev.message}`);
    };
    const job: StressJob = {
      phys: mem.phys,
      kernel: mem.kernel,
      w,
      tid: tidBase + w,
      workers: o.workers,
      seed: o.seed,
      ops: o.ops,
      ms: o.seconds * 1000,
      progress,
      pressure: o.ramFrames !== undefined && o.ramFrames < 512,
    };
    worker.postMessage(job);
    ws.push(worker);
  }
  const stall = o.stallMs ?? 30_000;
  let last = -1, lastChange = Date.now();
  try {
    while (results.some((r) => r === null) && errors.length === 0) {
      await new Promise((r) => setTimeout(r, 50));
      const total = p.reduce((a, b) => a + b, 0);
      if (total !== last) {
        last = total;
        lastChange = Date.now();
      }
      // A Worker that has not done its first operation may still be loading
      // (deno type-checks the module when the suite runs in parallel under
      // load): give start-up STARTUP_MS, and count stalls from then on.
      const starting = results.some((r, w) => r === null && Atomics.load(p, w) === 0);
      if (Date.now() - lastChange > (starting ? Math.max(stall, STARTUP_MS) : stall)) {
        const stuck = results.map((r, w) => (r === null ? `${w} (${Atomics.load(p, w)} ops)` : ""))
          .filter((s) => s !== "");
        throw new Error(`no progress for ${stall} ms; unfinished Workers: ${stuck.join(", ")}`);
      }
    }
  } finally {
    for (const w of ws) w.terminate();
  }
  if (errors.length > 0) throw new Error(errors.join("; "));
  return results as StressResult[];
}

/** Check the files against what the Workers report, through the VFS on the main thread. */
export function checkFiles(
  vfs: XipVfs,
  results: StressResult[],
  workers: number,
  out: string[],
): void {
  const proc = vfsProcCreate(vfs);
  if (typeof proc === "number") throw new Error("vfsProcCreate");
  const readAll = (path: string, len: number): Uint8Array | string => {
    const fd = vfsOpen(proc, path, O_RDONLY);
    if (fd < 0) return `open ${path}: ${fd}`;
    const buf = new Uint8Array(len);
    const n = vfsPread(proc, fd, buf, 0);
    return n === len ? buf : `pread ${path}: ${n} of ${len}`;
  };
  for (const r of results) {
    r.own.forEach((m, j) => {
      if (m.poisoned) return; // a write failed part way under RAM pressure: content unknown
      const got = readAll(ownPath(r.w, j), m.size);
      if (typeof got === "string") {
        out.push(`final: ${got}`);
        return;
      }
      const i = got.findIndex((b, k) => b !== m.bytes[k]);
      if (i >= 0) out.push(`final: ${ownPath(r.w, j)} byte ${i} is ${got[i]}, model ${m.bytes[i]}`);
    });
  }
  for (let f = 0; f < SHARED_FILES; f++) {
    const got = readAll(sharedPath(f), SHARED_BYTES);
    if (typeof got === "string") {
      out.push(`final: ${got}`);
      continue;
    }
    for (let slot = 0; slot < SHARED_SLOTS; slot++) {
      const owner = results[slot % workers]!;
      const seq = owner.lastSeq[f]?.[slot] ?? 0;
      const want = seq === 0 ? new Uint8Array(RECORD_BYTES) : makeRecord(slot % workers, slot, seq);
      const at = got.subarray(slot * RECORD_BYTES, (slot + 1) * RECORD_BYTES);
      if (at.some((b, i) => b !== want[i])) {
        out.push(
          `final: ${sharedPath(f)} slot ${slot} does not hold seq ${seq} of worker ${
            slot % workers
          }`,
        );
      }
    }
  }
  vfsProcExit(vfs, proc.fdt);
}

/**
 * Add up the Workers' op counts into `counts` and their violations and
 * errors into `problems`; a Worker that died with an error has its task's
 * locks recovered (task `tidBase + w`), so later checks see only what it
 * left behind. Main thread.
 *
 * @returns the operations run in total
 */
export function collectResults(
  mem: Memory,
  results: StressResult[],
  tidBase: number,
  counts: Record<string, number>,
  problems: string[],
): number {
  let ops = 0;
  for (const r of results) {
    ops += r.ops;
    for (const [k, n] of Object.entries(r.counts)) counts[k] = (counts[k] ?? 0) + n;
    problems.push(...r.violations);
    if (r.error !== null) {
      problems.push(`worker ${r.w}: ${r.error}`);
      recoverTask(mem.k32, asTaskSlot(tidBase + r.w));
    }
  }
  return ops;
}

/** Run one stress configuration. Never hangs: the watchdog and the op budget bound it. */
export async function runStress(o: StressOptions): Promise<StressReport> {
  const t0 = performance.now();
  const { mem, dev, x, vfs } = bootStress(o);
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  let ops = 0;
  let results: StressResult[] = [];
  try {
    results = await runWorkers(o, mem);
  } catch (e) {
    problems.push(`run: ${e instanceof Error ? e.message : String(e)}`);
  }
  setDebug(mem.k32, DEBUG_PERTURB, false);
  ops = collectResults(mem, results, 2, counts, problems);
  // Faults, not ops (so not in counts, which replays compare): how often
  // the /huge mapping got a megapage (DAX only).
  const megapageFaults = statRead(mem, VMSTAT.faultDaxPmd);
  if (problems.length === 0) {
    checkFiles(vfs, results, o.workers, problems);
    for (const v of checkInvariants(mem, { fsck: true })) problems.push(`invariant: ${v}`);
    const um = x.unmount();
    if (um !== 0) problems.push(`unmount: ${um}`);
    const img = fsck(dev.bytes.subarray(0, x.vol.sb.totalBlocks * PAGE_SIZE));
    for (const e of img.errors) problems.push(`fsck after unmount: ${e}`);
    for (const v of checkInvariants(mem)) problems.push(`invariant after unmount: ${v}`);
  }
  return { ...stressReport(o, ops, counts, problems, t0), megapageFaults };
}

/** The report of a run of `o` that began at performance.now() `t0`. */
export function stressReport(
  o: StressOptions,
  ops: number,
  counts: Record<string, number>,
  problems: string[],
  t0: number,
): StressReport {
  const { seed, mode, perturb, workers } = o;
  return { seed, mode, perturb, workers, ops, counts, problems, ms: performance.now() - t0 };
}

/** One line per run, plus its problems. */
export function formatStress(r: StressReport): string {
  const head = `stress ${r.mode}${
    r.perturb ? " +perturb" : ""
  }: ${r.workers} Workers, ${r.ops} ops in ${Math.round(r.ms)} ms, seed ${r.seed}: ${
    r.problems.length === 0 ? "OK" : `${r.problems.length} PROBLEM(S)`
  }`;
  const ops = Object.entries(r.counts).sort().map(([k, n]) => `${k} ${n}`).join(", ") +
    (r.megapageFaults === undefined ? "" : `; megapage faults ${r.megapageFaults}`);
  return [head, `  ${ops}`, ...r.problems.slice(0, 30).map((p) => `  ${p}`)].join("\n");
}
