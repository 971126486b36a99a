/**
 * Whole-machine measurements that do not fit Deno.bench, because each data
 * point is a Machine run that returns a stats object: exec time per mode,
 * scaling (1..64 processes), memory footprint (processes x library size),
 * the hart against qemu-riscv32, TLB shootdown latency percentiles, and
 * DAX megapages and MAP_SYNC (bench/_report_dax.ts). Prints one MachineRuns JSON object on
 * stdout; bench/report.ts runs it as a subprocess.
 *
 *   deno run -A bench/_report_machine.ts [--quick]
 *       [--only exec,scaling,footprint,qemu,tlb,tiers,dax,musl]
 *
 * RAM comes from the runtime's own counters (machine.stats(): the frame
 * allocator's peak, the page-cache gauge) and from the Deno process's RSS,
 * sampled every 10 ms while the processes run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";
import type { MachineStats } from "../src/kernel/stats.ts";
import { buildPadRoots } from "./_report_guestlib.ts";
import { measureTlb } from "./_report_tlb.ts";
import { measureMusl } from "./_report_musl.ts";
import { measureTiers } from "./_report_tiers.ts";
import { measureDax } from "./_report_dax.ts";
import { turnOrder, warmJit } from "./_steady.ts";
import {
  type ExecPoint,
  FOOTPRINT_BASE_TEXT,
  type FootprintPoint,
  type MachineRuns,
  type Mode,
  MODE_NAMES,
  type ModeValidity,
  type QemuResult,
  type RunStats,
  type ScalingPoint,
} from "./_report_types.ts";

const MIB = 1024 * 1024;
const ROOT = new URL("../", import.meta.url).pathname;
const ROOTFS = `${ROOT}fixtures/rootfs`;
const STATIC_COMPUTE = `${ROOT}fixtures/static/compute`;

/** Mount and exec options per mode. Copy reads the file without the page cache (DAX). */
const MODE_BOOT: Record<Mode, { dax: "always" | "never"; textMode: "map" | "copy" }> = {
  dax: { dax: "always", textMode: "map" },
  pagecache: { dax: "never", textMode: "map" },
  copy: { dax: "always", textMode: "copy" },
};

const discard = (_d: Uint8Array): void => {};

/** A fresh xipfs image of `dir`, made once and copied into every Machine. */
function imageOf(dir: string, bytes: number): Uint8Array {
  return mkfs({ sizeBytes: bytes, from: dir });
}

async function bootMode(mode: Mode, image: Uint8Array, ram: number, procs: number) {
  return await Machine.boot({
    image: image.slice(),
    ram,
    dax: MODE_BOOT[mode].dax,
    textMode: MODE_BOOT[mode].textMode,
    maxProcs: Math.max(2, procs),
    warm: procs,
    stdout: discard,
    stderr: discard,
    keepWarmMs: Infinity, // measurements assume warm Workers between runs
  });
}

/**
 * Did this run really place text the way `mode` says? Exec falls back to
 * copying when the kernel cannot map files, and the counters tell: a DAX
 * run must take DAX faults, a page-cache run file faults.
 */
function modeHeld(mode: Mode, s: MachineStats): string | null {
  if (mode === "dax" && s.faults.dax === 0 && s.device.mapped_frames === 0) {
    return "exec did not map text from the device (0 DAX faults): exec falls back to copying " +
      "text while the kernel cannot map files";
  }
  if (mode === "pagecache" && s.faults.file_minor + s.faults.file_major === 0) {
    return "exec did not map text from the page cache (0 file faults): exec falls back to " +
      "copying text while the kernel cannot map files";
  }
  return null;
}

/** Spawn `argvs` at once, wait for all, sample RSS meanwhile. Throws on a non-zero exit. */
async function runAll(
  m: Machine,
  path: string,
  argvs: string[][],
): Promise<{ wallMs: number; rssBytes: number }> {
  let rss = Deno.memoryUsage().rss;
  const timer = setInterval(() => rss = Math.max(rss, Deno.memoryUsage().rss), 10);
  const t0 = performance.now();
  try {
    const ps = argvs.map((argv) => m.spawn(path, argv));
    const exits = await Promise.all(ps.map((p) => p.wait()));
    const bad = exits.find((e) => e.code !== 0);
    if (bad !== undefined) {
      throw new Error(`${path} exited ${bad.code}${bad.message ? `: ${bad.message}` : ""}`);
    }
  } finally {
    clearInterval(timer);
  }
  const wallMs = performance.now() - t0;
  return { wallMs, rssBytes: Math.max(rss, Deno.memoryUsage().rss) };
}

function runStats(s: MachineStats, rssBytes: number): RunStats {
  const c = s.copied_bytes;
  return {
    instret: s.instret,
    peakFrames: s.ram.peak_used_frames,
    pagecacheFrames: s.ram.pagecache_frames,
    copiedBytes: c.pagecache_fill + c.cow + c.read + c.write,
    faultsDax: s.faults.dax,
    faultsFile: s.faults.file_minor + s.faults.file_major,
    deviceMappedFrames: s.device.mapped_frames,
    rssBytes,
  };
}

function validityOf(seen: Map<Mode, string | null>): ModeValidity[] {
  return MODE_NAMES.filter((m) => seen.has(m)).map((mode) => {
    const why = seen.get(mode) ?? null;
    return why === null ? { mode, valid: true } : { mode, valid: false, reason: why };
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
};

/**
 * Exec: spawn to exit of `compute ITER` in steady state (_steady.ts), the
 * three modes taking turns run by run in ABBA order.
 */
async function measureExec(quick: boolean): Promise<MachineRuns["exec"]> {
  const iterations = 1, runs = quick ? 3 : 41;
  const image = imageOf(ROOTFS, 8 * MIB);
  const seen = new Map<Mode, string | null>();
  const ms = new Map<Mode, number[]>(MODE_NAMES.map((m) => [m, []]));
  const machines = await Promise.all(MODE_NAMES.map((m) => bootMode(m, image, 32 * MIB, 1)));
  try {
    const once = (k: number) =>
      runAll(machines[k]!, "/bin/compute", [["compute", String(iterations)]]);
    // Warm the page cache, and tier 1 until its translations hold (_steady.ts).
    for (const k of machines.keys()) await warmJit(machines[k]!, () => once(k));
    for (let r = 0; r < runs; r++) {
      for (const k of turnOrder(machines.length, r)) {
        ms.get(MODE_NAMES[k]!)!.push((await once(k)).wallMs);
      }
    }
    for (const [k, mode] of MODE_NAMES.entries()) {
      seen.set(mode, modeHeld(mode, machines[k]!.stats()));
    }
  } finally {
    await Promise.all(machines.map((m) => m.shutdown()));
  }
  const points: ExecPoint[] = MODE_NAMES.map((mode) => ({
    mode,
    runs,
    medianMs: median(ms.get(mode)!),
    minMs: Math.min(...ms.get(mode)!),
  }));
  return { status: "ok", points, iterations, validity: validityOf(seen) };
}

/** Scaling: N processes of compute at once, per mode, a fresh Machine each. */
async function measureScaling(quick: boolean): Promise<MachineRuns["scaling"]> {
  const counts = quick ? [1, 2] : [1, 2, 4, 8, 16, 64];
  const iterations = quick ? 1 : 4;
  const image = imageOf(ROOTFS, 8 * MIB);
  const points: ScalingPoint[] = [];
  const seen = new Map<Mode, string | null>();
  for (const procs of counts) {
    for (const mode of MODE_NAMES) {
      const m = await bootMode(mode, image, 32 * MIB + procs * 2 * MIB, procs);
      try {
        const argv = ["compute", String(iterations)];
        const { wallMs, rssBytes } = await runAll(m, "/bin/compute", Array(procs).fill(argv));
        const s = m.stats();
        if (!seen.get(mode)) seen.set(mode, modeHeld(mode, s));
        points.push({
          mode,
          procs,
          iterations,
          wallMs,
          instrPerSec: s.instret / (wallMs / 1000),
          ...runStats(s, rssBytes),
        });
      } finally {
        await m.shutdown();
      }
    }
  }
  return { status: "ok", points, validity: validityOf(seen) };
}

/** Footprint: peak RAM frames for N processes sharing libpad.so of each text size. */
async function measureFootprint(quick: boolean): Promise<MachineRuns["footprint"]> {
  const BASE = FOOTPRINT_BASE_TEXT;
  const sizes = quick ? [64 * 1024] : [64 * 1024, MIB, 8 * MIB];
  const counts = quick ? [1, 2] : [1, 4, 16, 64];
  const roots = await buildPadRoots([BASE, ...sizes]);
  if (typeof roots === "string") {
    return { status: "not measured", reason: roots, points: [], validity: [] };
  }
  const points: FootprintPoint[] = [];
  const seen = new Map<Mode, string | null>();
  for (const root of roots) {
    const image = imageOf(root.dir, root.textBytes + 4 * MIB);
    for (const procs of counts) {
      for (const mode of MODE_NAMES) {
        const ram = 32 * MIB + procs * (root.textBytes + MIB);
        const m = await bootMode(mode, image, ram, procs);
        try {
          // Long enough for every process to have started (the pool is warm).
          const deadline = Date.now() + 300 + procs * 40;
          const argv = ["pad", String(deadline)];
          const { rssBytes } = await runAll(m, "/bin/pad", Array(procs).fill(argv));
          const s = m.stats();
          if (!seen.get(mode)) seen.set(mode, modeHeld(mode, s));
          points.push({
            mode,
            procs,
            textBytes: root.textBytes,
            codeFrames: 0,
            ...runStats(s, rssBytes),
          });
        } finally {
          await m.shutdown();
        }
      }
    }
  }
  const base = (p: FootprintPoint) =>
    points.find((q) => q.textBytes === BASE && q.mode === p.mode && q.procs === p.procs)!;
  const out = points.filter((p) => p.textBytes !== BASE);
  for (const p of out) p.codeFrames = p.peakFrames - base(p).peakFrames;
  return { status: "ok", points: out, validity: validityOf(seen) };
}

async function timeCommand(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} exited ${out.code}`);
  return performance.now() - t0;
}

/**
 * The static compute program under qemu-riscv32 and under xip, each timed at
 * two iteration counts: the difference cancels start-up and leaves the
 * compute loop. Medians of 3 (1 in --quick).
 */
async function measureQemu(quick: boolean): Promise<QemuResult> {
  const which = await new Deno.Command("sh", {
    args: ["-c", "command -v qemu-riscv32"],
    stdout: "piped",
  }).output();
  if (!which.success) return { status: "not measured", reason: "qemu-riscv32 is not installed" };
  const iterations: [number, number] = quick ? [1, 4] : [1, 9];
  const reps = quick ? 1 : 3;
  const dir = await Deno.makeTempDir({ prefix: "xip-bench-static-" });
  await Deno.mkdir(`${dir}/bin`);
  await Deno.copyFile(STATIC_COMPUTE, `${dir}/bin/compute`);
  const m = await bootMode("dax", imageOf(dir, 4 * MIB), 32 * MIB, 1);
  const q: number[][] = [[], []], x: number[][] = [[], []], instret = [0, 0];
  try {
    await runAll(m, "/bin/compute", [["compute", "1"]]); // warm the JIT
    for (let r = 0; r < reps; r++) {
      for (const [k, it] of iterations.entries()) {
        q[k]!.push(await timeCommand("qemu-riscv32", [STATIC_COMPUTE, String(it)]));
        const before = m.stats().instret;
        x[k]!.push((await runAll(m, "/bin/compute", [["compute", String(it)]])).wallMs);
        instret[k] = m.stats().instret - before;
      }
    }
  } finally {
    await m.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  const qemuMs = median(q[1]!) - median(q[0]!);
  const xipMs = median(x[1]!) - median(x[0]!);
  const extra = instret[1]! - instret[0]!;
  if (qemuMs <= 0 || xipMs <= 0 || extra <= 0) {
    return {
      status: "not measured",
      reason: `timing noise exceeded the extra iterations' time (qemu ${qemuMs.toFixed(1)} ms, ` +
        `xip ${xipMs.toFixed(1)} ms); rerun on a quieter machine`,
    };
  }
  return {
    status: "ok",
    iterations,
    qemuMs,
    xipMs,
    instret: extra,
    xipInstrPerSec: extra / (xipMs / 1000),
    qemuInstrPerSec: extra / (qemuMs / 1000),
  };
}

type Part = "exec" | "scaling" | "footprint" | "qemu" | "tlb" | "tiers" | "dax" | "musl";
const PARTS: Part[] = ["exec", "scaling", "footprint", "qemu", "tlb", "tiers", "dax", "musl"];

/** Run one part; an exception becomes "not measured" with its first line. */
async function guarded<T extends { status: string; reason?: string }>(
  on: boolean,
  fn: () => Promise<T>,
  empty: T,
): Promise<T> {
  if (!on) return { ...empty, status: "not measured", reason: "not selected (--only)" };
  try {
    return await fn();
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    return { ...empty, status: "not measured", reason: `failed: ${msg}` };
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
  });
  const only = new Set((values.only?.split(",") ?? PARTS) as Part[]);
  const quick = values.quick!;
  const empty = { status: "ok" as const, points: [], validity: [] };
  const runs: MachineRuns = {
    exec: await guarded(only.has("exec"), () => measureExec(quick), { ...empty, iterations: 1 }),
    scaling: await guarded(only.has("scaling"), () => measureScaling(quick), empty),
    footprint: await guarded(only.has("footprint"), () => measureFootprint(quick), empty),
    qemu: await guarded(only.has("qemu"), () => measureQemu(quick), { status: "ok" }),
    tlb: await guarded(only.has("tlb"), () => measureTlb(quick), { status: "ok" }),
    musl: await guarded(only.has("musl"), () => measureMusl(quick), { status: "ok" }),
    tiers: await guarded(only.has("tiers"), () => measureTiers(quick), { status: "ok" }),
    dax: await guarded(only.has("dax"), () => measureDax(quick), { status: "ok" }),
  };
  console.log(JSON.stringify(runs));
}
