/**
 * The targets of issue 15, from the `process` suite (bench/process_bench.ts):
 * fork+exec+exit+wait of the static hello with a warm pool (≤ 2 ms per
 * cycle), and the threaded compute's scaling from 1 to 2 threads on 2
 * cores (≥ 1.85×). Pipe throughput against a raw SharedArrayBuffer ring
 * (the `pipe` suite) has no target: the report shows its ratio as measured.
 *
 * @module
 */

import type { ReportData } from "./_report_types.ts";
import {
  findRow,
  fmt,
  notMeasured,
  suiteRows,
  type TargetRow,
  verdict,
  whyNot,
} from "./_report_targets.ts";

/** Cycles one bench iteration of the fork group runs (process_bench.ts CYCLES). */
const CYCLES_RE = /x(\d+)$/;

function forkExecTarget(d: ReportData): TargetRow {
  const t = "fork+exec+exit+wait of a static hello (warm pool)", goal = "≤ 2 ms per cycle";
  const s = suiteRows(d, "process");
  if (s?.status !== "ok") return notMeasured(t, goal, whyNot(s, "process"));
  const row = findRow(s.rows, /fork\+exec\+exit\+wait of static hello/);
  const cycles = Number(CYCLES_RE.exec(row?.name ?? "")?.[1] ?? NaN);
  if (row === undefined || !(cycles > 0)) return notMeasured(t, goal, whyNot(s, "process"));
  const ms = row.avgNs / 1e6 / cycles;
  const fork = findRow(s.rows, /fork\+exit\+wait x/);
  const forkNote = fork === undefined
    ? ""
    : `; fork+exit+wait alone ${fmt(fork.avgNs / 1e6 / cycles)} ms`;
  return {
    target: t,
    goal,
    measured: `${fmt(ms)} ms`,
    verdict: verdict(ms <= 2),
    note:
      `suite process: "${row.name}", mean per iteration / ${cycles} (one process forks, execs and waits ${cycles} times; its own spawn is in the time)${forkNote}`,
  };
}

function threadsTarget(d: ReportData): TargetRow {
  const t = "Threads on 2 cores vs 1 thread (compute-bound)", goal = "≥ 1.85×";
  const s = suiteRows(d, "process");
  if (s?.status !== "ok") return notMeasured(t, goal, whyNot(s, "process"));
  const one = findRow(s.rows, /threaded compute, 1 thread/);
  const two = findRow(s.rows, /threaded compute, 2 threads/);
  if (one === undefined || two === undefined) return notMeasured(t, goal, whyNot(s, "process"));
  const r = one.avgNs / two.avgNs;
  return {
    target: t,
    goal,
    measured: `${fmt(r)}×`,
    verdict: verdict(r >= 1.85),
    note: `suite process: "${one.name}" ${fmt(one.avgNs / 1e9)} s vs "${two.name}" ${
      fmt(two.avgNs / 1e9)
    } s (the same work split in two; mean per iteration)`,
  };
}

/** Issue 15's rows of the targets table. */
export function processTargets(d: ReportData): TargetRow[] {
  return [forkExecTarget(d), threadsTarget(d)];
}
