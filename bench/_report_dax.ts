/**
 * DAX as Linux has it today (issue 16), measured on whole Machines:
 *
 * 1. Megapages against 4 KiB pages (fs/dax.c's PMD fault, Sv32's level-1
 *    leaf): N processes (64; 8 with --quick) of fixtures/huge's bigtouch
 *    each touch every page of libbig.so's 16 MiB blob, then wait in a futex
 *    barrier, so that all of them map it at once. The same image is made
 *    twice by mkfs: with 4 MiB-aligned extents (megapages) and without
 *    (pmdAlign false: every fault falls back to 4 KiB PTEs). At the barrier
 *    the Machine's counters give the faults taken and the page-table frames
 *    in use; the same run with `bigtouch ... idle` (everything but the
 *    touch) is the baseline subtracted from them, so the numbers are what
 *    touching the 16 MiB cost, not exec's own faults and tables. Each
 *    process times its touch loop itself (faults included).
 *
 * 2. MAP_SYNC's cost (fs/dax.c's dax_finish_sync_fault, pmem's CLWB +
 *    SFENCE): guest/bin/mapsync makes N 64-byte records durable in a host
 *    image file, each with a store, cbo.flush and fence through a
 *    MAP_SHARED_VALIDATE|MAP_SYNC mapping, against the same records each
 *    written with pwrite and made durable with fsync. Rounds interleave the
 *    two; the medians are compared.
 *
 *   deno run -A bench/_report_dax.ts [--quick]     (prints the tables)
 *
 * bench/_report_machine.ts runs it as its `dax` part for bench/REPORT.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PAGE_SIZE } from "../src/abi/types.ts";
import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { bmapLookup } from "../src/fs/xipfs/xipfs_bmap.ts";
import { namei } from "../src/fs/xipfs/xipfs_namei.ts";
import { Machine, type Process } from "../src/kernel/machine.ts";
import type { MachineStats } from "../src/kernel/stats.ts";
import { physWords } from "../src/mm/pgtable.ts";
import type {
  DaxResult,
  HugeLayout,
  HugePoint,
  MapSyncPoint,
  MapSyncResult,
} from "./_report_types.ts";

const MIB = 1024 * 1024;
const ROOT = new URL("../", import.meta.url).pathname;
/** Pages of libbig.so's blob (guest/big/libbig.c). */
const BLOB_PAGES = 4096;
/** How long the processes may take to reach the barrier. */
const BARRIER_MS = 600_000;

const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/** fixtures/rootfs plus fixtures/huge (libbig.so, bigtouch), in a temporary directory. */
async function hugeTree(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "xip-bench-dax-" });
  const cp = await new Deno.Command("cp", {
    args: ["-a", `${ROOT}fixtures/rootfs/.`, `${ROOT}fixtures/huge/.`, dir],
  }).output();
  if (!cp.success) throw new Error(`cp: ${dec.decode(cp.stderr).trim()}`);
  return dir;
}

/** The device word index of the first word of file `path` (a DAX file: the count). */
function fileWord(m: Machine, path: string): number | null {
  const vol = m.fs.xip.ctx.vol;
  const ino = namei(vol, path);
  if (ino <= 0) return null;
  const b = bmapLookup(vol, ino as never, 0);
  if (b <= 0) return null;
  return (m.mem.layout.config.ramFrames * PAGE_SIZE + b * PAGE_SIZE) / 4;
}

/** Resolve once the first word of /count reaches n. */
async function barrier(m: Machine, n: number, procs: Process[]): Promise<void> {
  const t0 = performance.now();
  let early = false;
  for (const p of procs) p.wait().then(() => (early = true));
  for (;;) {
    const w = fileWord(m, "/count");
    if (w !== null && Atomics.load(physWords(m.mem), w) >= n) return;
    if (performance.now() - t0 > BARRIER_MS) throw new Error(`barrier: ${n} processes not there`);
    if (early) throw new Error("a bigtouch process exited before the barrier");
    await sleep(10);
  }
}

/**
 * A dax=always Machine on `image` (bytes, or a host file it writes
 * through) with `warm` Workers kept warm and one process slot more; the
 * guests' output is dropped.
 */
function daxMachine(image: Uint8Array | string, warm: number, ram: number): Promise<Machine> {
  return Machine.boot({
    image,
    ram,
    dax: "always",
    maxProcs: warm + 1,
    warm,
    stdout: () => {},
    stderr: () => {},
    keepWarmMs: Infinity,
  });
}

const faultSum = (s: MachineStats): number => Object.values(s.faults).reduce((a, b) => a + b, 0);

/**
 * One Machine: `procs` bigtouch processes ("hold" touches, "idle" does
 * not) reach the barrier; the counters are read there; one more idle
 * process releases them.
 */
async function hugeRun(
  image: Uint8Array,
  procs: number,
  variant: "hold" | "idle",
): Promise<{ s: MachineStats; touchUs: number[] }> {
  const m = await daxMachine(image.slice(), procs + 1, 128 * MIB);
  try {
    const outs: string[] = Array(procs).fill("");
    const ps = outs.map((_, i) =>
      m.spawn("/bin/bigtouch", ["bigtouch", "/count", `${procs}`, variant], {
        stdout: (d) => (outs[i] += dec.decode(d)),
        stderr: (d) => (outs[i] += dec.decode(d)),
      })
    );
    await barrier(m, procs, ps);
    const s = m.stats();
    const release = m.spawn("/bin/bigtouch", ["bigtouch", "/count", `${procs}`, "idle"]);
    const codes = await Promise.all([...ps, release].map((p) => p.wait()));
    const bad = codes.findIndex((c) => c.code !== 0);
    if (bad >= 0) throw new Error(`bigtouch exited ${codes[bad]!.code}: ${outs[bad] ?? ""}`);
    const touchUs = outs.map((o) => {
      const got = /^bigtouch: (\d+) pages in (\d+) us$/m.exec(o);
      if (got === null) throw new Error(`bigtouch printed ${JSON.stringify(o)}`);
      return Number(got[2]);
    });
    return { s, touchUs };
  } finally {
    await m.shutdown();
  }
}

/**
 * One process alone on a Machine, `runs` times after a warm-up run: the
 * best touch time, in µs (the least disturbed by a loaded host).
 */
async function soloTouch(image: Uint8Array, runs: number): Promise<number> {
  const m = await daxMachine(image.slice(), 1, 64 * MIB);
  try {
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      let out = "";
      const st = await m.spawn("/bin/bigtouch", ["bigtouch"], {
        stdout: (d) => (out += dec.decode(d)),
      }).wait();
      const got = /^bigtouch: \d+ pages in (\d+) us$/m.exec(out);
      if (st.code !== 0 || got === null) throw new Error(`bigtouch exited ${st.code}: ${out}`);
      if (i > 0) times.push(Number(got[1]));
    }
    return Math.min(...times);
  } finally {
    await m.shutdown();
  }
}

/** One layout: the baseline and the touching run, and their difference. */
async function hugePoint(
  tree: string,
  layout: HugeLayout,
  procs: number,
  quick: boolean,
): Promise<HugePoint> {
  const image = mkfs({ sizeBytes: 48 * MIB, from: tree, pmdAlign: layout === "megapage" });
  const idle = await hugeRun(image, procs, "idle");
  const hold = await hugeRun(image, procs, "hold");
  return {
    layout,
    procs,
    faults: faultSum(hold.s) - faultSum(idle.s),
    pmdFaults: hold.s.faults.dax_pmd - idle.s.faults.dax_pmd,
    pagetableFrames: hold.s.ram.pagetable_frames - idle.s.ram.pagetable_frames,
    machineFaults: faultSum(hold.s),
    machinePagetableFrames: hold.s.ram.pagetable_frames,
    touchUsMedian: median(hold.touchUs),
    soloTouchUs: await soloTouch(image, quick ? 3 : 10),
  };
}

/** Megapages against 4 KiB pages for the 16 MiB library. */
export async function measureHuge(quick: boolean): Promise<DaxResult["huge"]> {
  const procs = quick ? 8 : 64;
  const tree = await hugeTree();
  try {
    const points: HugePoint[] = [];
    for (const layout of ["4k", "megapage"] as const) {
      points.push(await hugePoint(tree, layout, procs, quick));
    }
    return { status: "ok", blobPages: BLOB_PAGES, points };
  } finally {
    await Deno.remove(tree, { recursive: true });
  }
}

/** One mapsync run on `m`: µs per record, as the guest timed it. */
async function mapsyncRun(m: Machine, n: number, how: "mapsync" | "fsync"): Promise<number> {
  let out = "";
  const argv = ["mapsync", "/records", `${n}`, ...(how === "fsync" ? ["fsync"] : [])];
  const p = m.spawn("/bin/mapsync", argv, {
    stdout: (d) => (out += dec.decode(d)),
    stderr: (d) => (out += dec.decode(d)),
  });
  const st = await p.wait();
  const got = /^mapsync: (\d+) records in (\d+) us$/m.exec(out);
  if (st.code !== 0 || got === null) throw new Error(`mapsync ${how} exited ${st.code}: ${out}`);
  return Number(got[2]) / n;
}

/** µs per record of both ways, medians of interleaved rounds, on an image in `dir`. */
async function mapsyncPoint(
  where: MapSyncPoint["where"],
  parent: string,
  n: number,
  rounds: number,
): Promise<MapSyncPoint> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "xip-bench-mapsync-" });
  const path = `${dir}/root.img`;
  await Deno.writeFile(path, mkfs({ sizeBytes: 16 * MIB, from: `${ROOT}fixtures/rootfs` }));
  const m = await daxMachine(path, 1, 64 * MIB);
  try {
    const persist: number[] = [], fsync: number[] = [];
    await mapsyncRun(m, n, "mapsync"); // warm-up: Workers, translations, the file's blocks
    await mapsyncRun(m, n, "fsync");
    for (let r = 0; r < rounds; r++) {
      persist.push(await mapsyncRun(m, n, "mapsync"));
      fsync.push(await mapsyncRun(m, n, "fsync"));
    }
    return { where, persistUs: median(persist), fsyncUs: median(fsync) };
  } finally {
    await m.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A 64-byte record made durable through MAP_SYNC + cbo.flush + fence,
 * against pwrite + fsync: with the image on the host's disk (the temporary
 * directory), where fdatasync costs what the disk makes it cost, and on
 * tmpfs (/dev/shm, when there is one), where it costs almost nothing and
 * what is left is xip's own path.
 */
export async function measureMapSync(quick: boolean): Promise<MapSyncResult> {
  const n = quick ? 100 : 1000;
  const rounds = quick ? 3 : 7;
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const points = [await mapsyncPoint("disk", tmp, n, rounds)];
  const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
  if (shm) points.push(await mapsyncPoint("tmpfs", "/dev/shm", n, rounds));
  return { status: "ok", records: n, rounds, points };
}

/** Both parts; a part that throws is "not measured" with its first line. */
export async function measureDax(quick: boolean): Promise<DaxResult> {
  const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
  const huge = await measureHuge(quick).catch((e): DaxResult["huge"] => ({
    status: "not measured",
    reason: `failed: ${why(e)}`,
  }));
  const mapsync = await measureMapSync(quick).catch((e): MapSyncResult => ({
    status: "not measured",
    reason: `failed: ${why(e)}`,
  }));
  return { status: "ok", huge, mapsync };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const { daxTables } = await import("./_report_dax_render.ts");
  console.log(daxTables(await measureDax(values.quick!)));
}
