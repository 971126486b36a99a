/**
 * The targets of issue 7, each evaluated from the collected data: the value
 * measured, met or missed, or "not measured" with the reason (the suite did
 * not run, the layer has not landed, the mode fell back to copying).
 * A missed target is reported like a met one: nothing is hidden.
 *
 * Bench rows are found by name patterns, so that suites written by other
 * branches (fs_bench, fault_bench) count as soon as they land.
 *
 * @module
 */

import { daxTargets } from "./_report_dax_render.ts";
import {
  type BenchRow,
  extraTextFrames,
  type FootprintPoint,
  type Mode,
  type ReportData,
  type SuiteResult,
} from "./_report_types.ts";
import { muslExecTarget } from "./_report_musl.ts";

export interface TargetRow {
  target: string;
  goal: string;
  measured: string;
  verdict: "met" | "missed" | "not measured";
  /** How the value was obtained, or why it was not. */
  note: string;
}

export const fmt = (x: number, d = 2): string => x.toFixed(d);

export function suiteRows(d: ReportData, suite: string): SuiteResult | undefined {
  return d.suites.find((s) => s.suite === suite);
}

export function whyNot(s: SuiteResult | undefined, suite: string): string {
  if (s === undefined) return `suite ${suite} is not part of this report`;
  if (s.status === "ok") return `suite ${suite} has no matching bench`;
  return `suite ${suite} ${s.status}: ${s.reason ?? ""}`.trim();
}

export function findRow(rows: BenchRow[], re: RegExp, not?: RegExp): BenchRow | undefined {
  return rows.find((r) =>
    re.test(`${r.group ?? ""} ${r.name}`) && !(not?.test(r.name) ?? false) &&
    r.error === undefined
  );
}

export const notMeasured = (target: string, goal: string, note: string): TargetRow => ({
  target,
  goal,
  measured: "—",
  verdict: "not measured",
  note,
});

export const verdict = (ok: boolean): "met" | "missed" => ok ? "met" : "missed";

/**
 * The 1 MiB DAX read against raw copy, from io (pread64 through the VFS)
 * and livefs (the filesystem's daxRead): the verdict is io's, the first
 * found; the other suite's ratio goes in the note.
 */
function daxReadTarget(d: ReportData): TargetRow {
  const t = "1 MiB DAX read vs raw copy", goal = "≥ 0.90 of raw `Uint8Array.set`";
  const found: { suite: string; r: number; dax: BenchRow; raw: BenchRow }[] = [];
  for (const suite of ["io", "livefs"]) {
    const s = suiteRows(d, suite);
    if (s?.status !== "ok") continue;
    // The 1 MiB read group: its baseline (or a "raw" row) against its DAX row.
    const group = s.rows.filter((r) => /read.*\b1 ?MiB|\b1 ?MiB.*read/i.test(r.group ?? ""));
    const raw = group.find((r) => r.baseline) ?? findRow(group, /raw/i);
    const dax = findRow(group, /dax/i, /write/i);
    if (raw !== undefined && dax !== undefined) {
      found.push({ suite, r: raw.avgNs / dax.avgNs, dax, raw });
    }
  }
  const [first, ...rest] = found;
  if (first === undefined) return notMeasured(t, goal, whyNot(suiteRows(d, "io"), "io"));
  const us = (x: BenchRow) => `${fmt(x.avgNs / 1e3, 1)} µs`;
  return {
    target: t,
    goal,
    measured: `${fmt(first.r)}× raw`,
    verdict: verdict(first.r >= 0.9),
    note:
      `suite ${first.suite}: "${first.dax.name}" ${us(first.dax)} vs "${first.raw.name}" ${
        us(first.raw)
      } (mean per iteration, same group; ratio of the minimums ${
        fmt(first.raw.minNs / first.dax.minNs)
      }×)` +
      rest.map((o) => `; suite ${o.suite}: ${fmt(o.r)}× raw`).join(""),
  };
}

function faultTarget(d: ReportData): TargetRow {
  const t = "DAX read fault vs cold page-cache fault", goal = "≥ 3× the throughput";
  const s = suiteRows(d, "mmfile");
  if (s?.status !== "ok") return notMeasured(t, goal, whyNot(s, "mmfile"));
  const dax = findRow(s.rows, /dax.*read|read.*dax/i, /write/i);
  const pc = findRow(
    s.rows,
    /(cold|major).*(page.?cache|filemap)|(page.?cache|filemap).*(cold|major)/i,
  );
  if (dax === undefined || pc === undefined) return notMeasured(t, goal, whyNot(s, "mmfile"));
  const r = pc.avgNs / dax.avgNs;
  return {
    target: t,
    goal,
    measured: `${fmt(r)}×`,
    verdict: verdict(r >= 3),
    note: `suite mmfile: "${dax.name}" vs "${pc.name}" (mean per iteration)`,
  };
}

function validity(
  v: { mode: Mode; valid: boolean; reason?: string }[],
  mode: Mode,
): string | null {
  const m = v.find((x) => x.mode === mode);
  if (m === undefined) return `no ${mode} run`;
  return m.valid ? null : `${mode}: ${m.reason}`;
}

function execTarget(d: ReportData): TargetRow {
  const t = "Exec from DAX vs exec from the page cache", goal = "≥ 0.98";
  const e = d.runs.exec;
  if (e.status !== "ok") return notMeasured(t, goal, e.reason ?? "");
  const bad = validity(e.validity, "dax") ?? validity(e.validity, "pagecache");
  if (bad !== null) return notMeasured(t, goal, bad);
  const dax = e.points.find((p) => p.mode === "dax")!;
  const pc = e.points.find((p) => p.mode === "pagecache")!;
  const r = pc.medianMs / dax.medianMs;
  return {
    target: t,
    goal,
    measured: `${fmt(r, 3)}`,
    verdict: verdict(r >= 0.98),
    note: `spawn→exit of compute ${e.iterations}: median ${fmt(dax.medianMs, 1)} ms (dax) vs ${
      fmt(pc.medianMs, 1)
    } ms (page cache), ${dax.runs} interleaved runs each`,
  };
}

function scalingTarget(d: ReportData): TargetRow {
  const t = "2 processes on 2 cores vs 1 process", goal = "≥ 1.85× aggregate throughput";
  const s = d.runs.scaling;
  if (s.status !== "ok") return notMeasured(t, goal, s.reason ?? "");
  const mode = (["dax", "pagecache", "copy"] as Mode[]).find((m) =>
    validity(s.validity, m) === null
  );
  const one = s.points.find((p) => p.mode === mode && p.procs === 1);
  const two = s.points.find((p) => p.mode === mode && p.procs === 2);
  if (mode === undefined || one === undefined || two === undefined) {
    return notMeasured(t, goal, "no valid 1- and 2-process runs");
  }
  const r = two.instrPerSec / one.instrPerSec;
  const cores = d.machine.cores < 2 ? ` (this machine has ${d.machine.cores} core)` : "";
  return {
    target: t,
    goal,
    measured: `${fmt(r)}×`,
    verdict: verdict(r >= 1.85),
    note: `mode ${mode}: ${fmt(two.instrPerSec / 1e6, 1)} vs ${
      fmt(one.instrPerSec / 1e6, 1)
    } M instr/s${cores}`,
  };
}

/** Page-table frames a mapping of `bytes` may add per process: one leaf table per 4 MiB, plus one. */
const ptSlack = (p: FootprintPoint): number => p.procs * (Math.ceil(p.textBytes / (4 << 20)) + 1);

function ramTarget(d: ReportData): TargetRow {
  const t = "RAM for code", goal = "0 frames in DAX mode for any N; N × text in copy mode";
  const f = d.runs.footprint;
  if (f.status !== "ok") return notMeasured(t, goal, f.reason ?? "");
  const dax = f.points.filter((p) => p.mode === "dax");
  const copy = f.points.filter((p) => p.mode === "copy");
  const bad = validity(f.validity, "dax");
  if (bad !== null || dax.length === 0 || copy.length === 0) {
    const big = copy.reduce(
      (a, p) => p.procs * p.textBytes > a.procs * a.textBytes ? p : a,
      copy[0]!,
    );
    const copyPart = big === undefined
      ? ""
      : ` (copy mode alone: ${big.codeFrames} frames for N=${big.procs} × ${
        big.textBytes / 1024
      } KiB, N × text = ${big.procs * extraTextFrames(big.textBytes)})`;
    return notMeasured(t, goal, `${bad ?? "no dax or copy runs"}${copyPart}`);
  }
  const daxWorst = dax.reduce((a, p) => p.codeFrames > a.codeFrames ? p : a, dax[0]!);
  const daxOk = dax.every((p) => p.codeFrames <= ptSlack(p));
  const copyOk = copy.every((p) => p.codeFrames >= 0.95 * p.procs * extraTextFrames(p.textBytes));
  const big = copy.reduce(
    (a, p) => p.procs * p.textBytes > a.procs * a.textBytes ? p : a,
    copy[0]!,
  );
  return {
    target: t,
    goal,
    measured: `dax: at most ${daxWorst.codeFrames} frames (N=${daxWorst.procs}, ${
      daxWorst.textBytes / 1024
    } KiB); copy: ${big.codeFrames} frames for N=${big.procs} × ${
      big.textBytes / 1024
    } KiB (N × text = ${big.procs * extraTextFrames(big.textBytes)})`,
    verdict: verdict(daxOk && copyOk),
    note: "RAM for code = peak used frames minus the same run with a one-page library; DAX may " +
      "differ from 0 only by page-table frames (≤ N × (⌈text / 4 MiB⌉ + 1)); copy must reach " +
      "0.95 × N × (text − the baseline page)",
  };
}

function hartTarget(d: ReportData): TargetRow {
  const t = "Hart, compute-bound workload", goal = "≥ 100 M instructions/s";
  const s = suiteRows(d, "hart");
  const row = s?.status === "ok" ? findRow(s.rows, /crc32.*text in RAM/i) : undefined;
  const budget = row === undefined ? NaN : Number(/\((\d+)M instr\)/.exec(row.name)?.[1]) * 1e6;
  const q = d.runs.qemu;
  const extra = q.status === "ok" && q.xipInstrPerSec !== undefined
    ? `; the static compute program under xip: ${fmt(q.xipInstrPerSec / 1e6, 1)} M instr/s`
    : "";
  if (row !== undefined && Number.isFinite(budget)) {
    const mips = budget / (row.avgNs / 1e9) / 1e6;
    return {
      target: t,
      goal,
      measured: `${fmt(mips, 1)} M instr/s`,
      verdict: verdict(mips >= 100),
      note: `hart suite, "${row.name}", mean per iteration${extra}`,
    };
  }
  if (q.status === "ok" && q.xipInstrPerSec !== undefined) {
    const mips = q.xipInstrPerSec / 1e6;
    return {
      target: t,
      goal,
      measured: `${fmt(mips, 1)} M instr/s`,
      verdict: verdict(mips >= 100),
      note: `static compute program under xip, extra iterations only (${whyNot(s, "hart")})`,
    };
  }
  return notMeasured(t, goal, `${whyNot(s, "hart")}; qemu comparison: ${q.reason ?? "none"}`);
}

/** Every target of issue 7, in the issue's order, then issue 16's. */
export function evaluateTargets(d: ReportData): TargetRow[] {
  return [
    daxReadTarget(d),
    faultTarget(d),
    execTarget(d),
    scalingTarget(d),
    ramTarget(d),
    hartTarget(d),
    muslExecTarget(d.runs.musl),
    ...daxTargets(d),
  ];
}
