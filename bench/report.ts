/**
 * The benchmark report of issue 7.
 *
 *   deno task bench:report [--quick] [--out bench/REPORT.md]
 *       [--only SUITE,...] [--no-machine] [--save-json FILE] [--from-json FILE]
 *
 * Runs every `deno bench` suite as `deno bench -A --json FILE` in a
 * subprocess (a suite file that does not exist yet is reported as not
 * measured, with the branch it waits for), runs the whole-machine
 * measurements (bench/_report_machine.ts: exec, scaling, footprint, qemu,
 * TLB shootdown)
 * as another subprocess that prints JSON, then writes REPORT.md and its
 * SVG plots (in `plots/` next to it).
 *
 * --quick is the CI version: only the suites that honour XIP_BENCH_QUICK
 * (few iterations) run, the rest are listed as skipped, and the machine
 * runs use small N. --from-json renders a report from data saved with
 * --save-json without measuring anything.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderReport } from "./_report_render.ts";
import { formatDuration, StatusLine, ticker } from "../src/cli/_progress.ts";
import type {
  BenchRow,
  MachineInfo,
  MachineRuns,
  ReportData,
  SuiteResult,
} from "./_report_types.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

interface SuiteSpec {
  suite: string;
  file: string;
  /** Runs in --quick: it honours XIP_BENCH_QUICK, or is short as it is (fault_bench: ~10 s). */
  quick: boolean;
  /** Where the file comes from, for the "not measured" line while it is absent. */
  from: string;
  /**
   * Seconds it took in a full and a --quick run, for the progress estimate
   * (full: the run of bench/REPORT.md; quick: a run on a loaded 2-core
   * machine). Only their proportions matter much: the estimate scales them
   * by how fast the current run has gone.
   */
  expect: { full: number; quick: number };
}

/** Every suite of the report, in report order. */
export const SUITES: SuiteSpec[] = [
  {
    suite: "io",
    file: "bench/io_bench.ts",
    quick: true,
    from: "bench (livefs + vfs)",
    expect: { full: 16, quick: 10 },
  },
  {
    suite: "exec",
    file: "bench/exec_bench.ts",
    quick: true,
    from: "bench (kernel)",
    expect: { full: 8, quick: 27 },
  },
  {
    suite: "startup",
    file: "bench/startup_bench.ts",
    quick: true,
    from: "bench (kernel)",
    expect: { full: 7, quick: 18 },
  },
  {
    suite: "hart",
    file: "bench/hart_bench.ts",
    quick: false,
    from: "hart",
    expect: { full: 9, quick: 0 },
  },
  {
    suite: "mm",
    file: "bench/mm_bench.ts",
    quick: false,
    from: "mmcore",
    expect: { full: 4, quick: 0 },
  },
  {
    suite: "mmfile",
    file: "bench/fault_bench.ts",
    quick: true,
    from: "mmfile",
    expect: { full: 7, quick: 24 },
  },
  {
    suite: "livefs",
    file: "bench/fs_bench.ts",
    quick: false,
    from: "livefs",
    expect: { full: 9, quick: 0 },
  },
  {
    suite: "pagecache",
    file: "bench/pagecache_bench.ts",
    quick: false,
    from: "pagecache",
    expect: { full: 3, quick: 0 },
  },
  {
    suite: "physmem",
    file: "bench/physmem_bench.ts",
    quick: false,
    from: "physmem",
    expect: { full: 12, quick: 0 },
  },
  {
    suite: "sync",
    file: "bench/sync_bench.ts",
    quick: false,
    from: "sync",
    expect: { full: 6, quick: 0 },
  },
  {
    suite: "process",
    file: "bench/process_bench.ts",
    quick: false,
    from: "fork",
    expect: { full: 60, quick: 0 },
  },
  {
    suite: "pipe",
    file: "bench/pipe_bench.ts",
    quick: true,
    from: "fork",
    expect: { full: 20, quick: 15 },
  },
];

/** Typical seconds of the whole-machine runs (bench/_report_machine.ts), full and --quick. */
const MACHINE_EXPECT = { full: 576, quick: 60 };

interface DenoBenchJson {
  benches: {
    group: string | null;
    name: string;
    baseline: boolean;
    results: ({ ok: Record<string, number> } | { failed: unknown })[];
  }[];
}

/** Rows from `deno bench --json` output (the JSON starts at the first line that is "{"). */
export function parseBenchJson(stdout: string): BenchRow[] {
  const at = stdout.search(/^\{$/m);
  if (at < 0) throw new Error("no JSON in the deno bench output");
  const j = JSON.parse(stdout.slice(at)) as DenoBenchJson;
  return j.benches.map((b) => {
    const r = b.results[0];
    const base = { group: b.group ?? null, name: b.name, baseline: b.baseline };
    if (r === undefined || !("ok" in r)) {
      const why = r === undefined ? "no result" : JSON.stringify(r.failed).slice(0, 200);
      return { ...base, n: 0, avgNs: NaN, minNs: NaN, p75Ns: NaN, p99Ns: NaN, error: why };
    }
    const s = r.ok;
    return {
      ...base,
      n: s.n ?? 0,
      avgNs: s.avg ?? NaN,
      minNs: s.min ?? NaN,
      p75Ns: s.p75 ?? NaN,
      p99Ns: s.p99 ?? NaN,
    };
  });
}

function firstLine(s: string): string {
  const lines = s.split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("Check ") && !l.startsWith("Download ")
  );
  return lines.find((l) => /error|panic|failed/i.test(l)) ?? lines[0] ?? "";
}

/** Run a command with a time limit; stdout, stderr, success. */
async function runLimited(
  args: string[],
  env: Record<string, string>,
  limitMs: number,
): Promise<{ ok: boolean; stdout: string; stderr: string; timedOut: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, limitMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    ok: out.success && !timedOut,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    timedOut,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function runSuite(spec: SuiteSpec, quick: boolean): Promise<SuiteResult> {
  const base = { suite: spec.suite, file: spec.file, rows: [], seconds: 0 };
  if (!(await exists(join(ROOT, spec.file)))) {
    return {
      ...base,
      status: "missing",
      reason: `${spec.file} is not in this tree (it comes with branch ${spec.from})`,
    };
  }
  if (quick && !spec.quick) {
    return {
      ...base,
      status: "skipped",
      reason: "--quick runs only the short suites (XIP_BENCH_QUICK)",
    };
  }
  const t0 = performance.now();
  const limit = quick ? 90_000 : 30 * 60_000;
  const r = await runLimited(
    ["bench", "-A", "--json", spec.file],
    quick ? { XIP_BENCH_QUICK: "1" } : {},
    limit,
  );
  const seconds = (performance.now() - t0) / 1000;
  let rows: BenchRow[] = [];
  try {
    rows = parseBenchJson(r.stdout);
  } catch { /* reported below */ }
  if (r.timedOut) {
    return {
      ...base,
      rows,
      seconds,
      status: "failed",
      reason: `timed out after ${limit / 1000} s`,
    };
  }
  if (!r.ok && rows.length === 0) {
    return { ...base, seconds, status: "failed", reason: firstLine(r.stderr + "\n" + r.stdout) };
  }
  return { ...base, rows, seconds, status: "ok" };
}

async function runMachine(quick: boolean): Promise<MachineRuns> {
  const r = await runLimited(
    ["run", "-A", "bench/_report_machine.ts", ...(quick ? ["--quick"] : [])],
    {},
    // --quick: about 70 s of wall time on a loaded 2-core machine with the tiers and dax parts.
    quick ? 300_000 : 60 * 60_000,
  );
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as MachineRuns;
  } catch {
    const why = r.timedOut ? "timed out" : `failed: ${firstLine(r.stderr)}`;
    const nm = { status: "not measured" as const, reason: `bench/_report_machine.ts ${why}` };
    return {
      exec: { ...nm, points: [], iterations: 0, validity: [] },
      scaling: { ...nm, points: [], validity: [] },
      footprint: { ...nm, points: [], validity: [] },
      qemu: nm,
      tlb: nm,
    };
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (m) return m[1]!.trim();
  } catch { /* not Linux */ }
  return "unknown";
}

/** What machine this is: CPU, cores, RAM, versions, date, load. */
export function machineInfo(): MachineInfo {
  let load: number[] | null = null;
  try {
    load = Deno.loadavg();
  } catch { /* unsupported */ }
  return {
    cpu: cpuModel(),
    cores: navigator.hardwareConcurrency,
    ramBytes: Deno.systemMemoryInfo().total,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os: `${Deno.build.os} ${Deno.osRelease()} (${Deno.build.arch})`,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    loadAverage: load,
  };
}

/** Render `data` into `out` and its plots directory. Returns the plot paths written. */
export async function writeReport(data: ReportData, out: string): Promise<string[]> {
  const plotDir = join(dirname(out), "plots");
  // The plotting libraries (vega, vega-lite) load here, only when a report is rendered.
  const { renderPlots } = await import("./_report_plots.ts");
  const plots = await renderPlots(data.runs);
  await Deno.mkdir(plotDir, { recursive: true }); // and the report's own directory
  const written: string[] = [];
  for (const p of plots) {
    const path = join(plotDir, p.file);
    await Deno.writeTextFile(path, p.svg);
    written.push(path);
  }
  await Deno.writeTextFile(out, renderReport(data, plots, relative(dirname(out), plotDir)));
  return written;
}

async function collect(quick: boolean, only: Set<string> | null, machine: boolean) {
  const t0 = performance.now();
  const info = machineInfo();
  const suites: SuiteResult[] = [];
  const picked = SUITES.filter((spec) => only === null || only.has(spec.suite));
  // Progress: a line on stderr as each phase starts, with the time left estimated from each
  // phase's typical duration scaled by how fast this run has gone so far; a live line on a
  // terminal in between.
  const mode = quick ? "quick" : "full";
  const phases = [
    ...picked.map((spec) => ({
      what: `suite ${spec.suite} (${spec.file})`,
      expect: quick && !spec.quick ? 0 : spec.expect[mode],
    })),
    ...(machine
      ? [{
        what: "whole-machine runs (exec, scaling, footprint, qemu, tlb, tiers, dax)",
        expect: MACHINE_EXPECT[mode],
      }]
      : []),
  ];
  const total = phases.reduce((n, p) => n + p.expect, 0);
  let doneExpect = 0, phaseStart = performance.now(), phaseExpect = 0;
  const progress = () => {
    const now = performance.now();
    // This run's speed against the expectations, from the phases finished so far (1 before any).
    const rate = doneExpect > 0 ? (phaseStart - t0) / 1000 / doneExpect : 1;
    // The running phase is credited with its elapsed time, never with more than it should take.
    const inPhase = Math.min((now - phaseStart) / 1000 / rate, 0.95 * phaseExpect);
    const leftMs = (total - doneExpect - inPhase) * rate * 1000;
    return `${formatDuration(now - t0)} elapsed, about ${formatDuration(leftMs)} left`;
  };
  const status = new StatusLine();
  const phase = (i: number) => {
    doneExpect += phaseExpect;
    phaseStart = performance.now();
    phaseExpect = phases[i]!.expect;
    status.log(`bench:report: [${i + 1}/${phases.length}] ${phases[i]!.what}; ${progress()}`);
  };
  const stop = ticker(status, () => `bench:report: ${progress()}`);
  try {
    for (const [i, spec] of picked.entries()) {
      phase(i);
      suites.push(await runSuite(spec, quick));
    }
  } finally {
    stop();
  }
  const nm = { status: "not measured" as const, reason: "--no-machine" };
  let runs: MachineRuns = {
    exec: { ...nm, points: [], iterations: 0, validity: [] },
    scaling: { ...nm, points: [], validity: [] },
    footprint: { ...nm, points: [], validity: [] },
    qemu: nm,
    tlb: nm,
  };
  if (machine) {
    phase(picked.length);
    const stopMachine = ticker(status, () => `bench:report: ${progress()}`);
    try {
      runs = await runMachine(quick);
    } finally {
      stopMachine();
    }
  }
  const data: ReportData = {
    version: 1,
    quick,
    machine: info,
    suites,
    runs,
    totalSeconds: (performance.now() - t0) / 1000,
  };
  return data;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "bench/REPORT.md") },
      only: { type: "string" },
      "no-machine": { type: "boolean", default: false },
      "save-json": { type: "string" },
      "from-json": { type: "string" },
    },
  });
  const data: ReportData = values["from-json"] !== undefined
    ? JSON.parse(await Deno.readTextFile(values["from-json"])) as ReportData
    : await collect(
      values.quick!,
      values.only === undefined ? null : new Set(values.only.split(",")),
      !values["no-machine"],
    );
  if (values["save-json"] !== undefined) {
    await Deno.mkdir(dirname(resolve(values["save-json"])), { recursive: true });
    await Deno.writeTextFile(values["save-json"], JSON.stringify(data, null, 1) + "\n");
  }
  const out = resolve(values.out!);
  const plots = await writeReport(data, out);
  console.error(`bench:report: wrote ${out} and ${plots.length} plots`);
}
