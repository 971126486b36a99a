/**
 * REPORT.md from the collected data: machine, targets, one table per
 * bench group (means and ratios to the group's baseline), the whole-machine
 * runs (exec, scaling, footprint, qemu) and links to the plots. Pure: the
 * same data gives the same text.
 *
 * @module
 */

import type { Plot } from "./_report_plots.ts";
import {
  type BenchRow,
  extraTextFrames,
  type Measured,
  type ModeValidity,
  type ReportData,
  type SuiteResult,
} from "./_report_types.ts";
import { evaluateTargets } from "./_report_targets.ts";
import { muslSection } from "./_report_musl.ts";
import { processTargets } from "./_report_process.ts";
import { tiersSection } from "./_report_tiers_render.ts";
import { daxSection } from "./_report_dax_render.ts";

const MIB = 1024 * 1024;

/** A duration in ns, in the unit that keeps 3 significant figures readable. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return "—";
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A markdown table; every cell escaped. */
export function table(head: string[], rows: string[][]): string {
  const line = (r: string[]) => `| ${r.map(cell).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

function machineSection(d: ReportData): string {
  const m = d.machine;
  const load = m.loadAverage === null
    ? "unknown"
    : m.loadAverage.map((x) => x.toFixed(2)).join(", ");
  return [
    "## Machine",
    "",
    table(["what", "value"], [
      ["CPU", m.cpu],
      ["cores", String(m.cores)],
      ["RAM", `${(m.ramBytes / 2 ** 30).toFixed(1)} GiB`],
      ["OS", m.os],
      ["Deno", m.deno],
      ["V8", m.v8],
      ["TypeScript", m.typescript],
      ["date", m.date],
      ["load average at start (1, 5, 15 min)", load],
      ["mode", d.quick ? "--quick (short runs, small N)" : "full"],
      ["time to produce", `${Math.round(d.totalSeconds)} s`],
    ]),
    "",
    "Absolute times vary from machine to machine and from run to run (other jobs, CPU " +
    "frequency, the JIT). **The ratios are the claim**: each is measured in the same run, " +
    "between benches of one `Deno.bench` group or between interleaved runs of one script.",
  ].join("\n");
}

function targetsSection(d: ReportData): string {
  const rows = [...evaluateTargets(d), ...processTargets(d)].map((
    t,
  ) => [t.target, t.goal, t.measured, t.verdict, t.note]);
  return [
    "## Targets (issue 7)",
    "",
    "Missed targets are reported as missed; a target whose measurement could not run says " +
    '"not measured" and why.',
    "",
    table(["target", "goal", "measured", "verdict", "how / why not"], rows),
  ].join("\n");
}

function groupTable(rows: BenchRow[]): string {
  const base = rows.find((r) => r.baseline && r.error === undefined);
  return table(
    ["bench", "n", "mean / iter", "min", "p75", "p99", "÷ baseline (time)"],
    rows.map((r) =>
      r.error !== undefined ? [r.name, "—", `failed: ${r.error}`, "", "", "", ""] : [
        r.baseline ? `${r.name} (baseline)` : r.name,
        String(r.n),
        fmtNs(r.avgNs),
        fmtNs(r.minNs),
        fmtNs(r.p75Ns),
        fmtNs(r.p99Ns),
        base === undefined ? "—" : `${(r.avgNs / base.avgNs).toFixed(3)}`,
      ]
    ),
  );
}

function suiteSection(s: SuiteResult): string {
  const head = `### ${s.suite} (\`${s.file}\`)`;
  if (s.status !== "ok") {
    return `${head}\n\n${s.status === "skipped" ? "Skipped" : "Not measured"}: ${s.reason ?? ""}`;
  }
  const groups = new Map<string, BenchRow[]>();
  for (const r of s.rows) {
    const g = r.group ?? "(no group)";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(r);
  }
  const parts = [head, "", `Ran in ${s.seconds.toFixed(0)} s.`];
  for (const [g, rows] of groups) parts.push("", `Group \`${g}\`:`, "", groupTable(rows));
  return parts.join("\n");
}

function suitesSection(d: ReportData): string {
  return [
    "## Bench suites (`deno bench`)",
    "",
    "Deno's JSON output gives the mean, min, p75 and p99 per bench but no median, so " +
    "**mean / iter** is the central figure here. The last column divides each mean by the " +
    "group's baseline mean (below 1: faster than the baseline).",
    "",
    ...d.suites.map(suiteSection).flatMap((s) => [s, ""]),
  ].join("\n");
}

function notMeasured(m: Measured): string | null {
  return m.status === "ok" ? null : `Not measured: ${m.reason ?? ""}`;
}

function validityNote(v: ModeValidity[]): string {
  const bad = v.filter((m) => !m.valid);
  return bad.length === 0
    ? ""
    : "\n\n" + bad.map((m) =>
      `- **${m.mode}: not measured as such**: ${m.reason}. Its rows are ` +
      "shown for completeness; they measure copied text."
    ).join("\n");
}

function execSection(d: ReportData): string {
  const e = d.runs.exec;
  const head = "### Exec: spawn → exit of `compute " + e.iterations + "`";
  const nm = notMeasured(e);
  if (nm !== null) return `${head}\n\n${nm}`;
  const pc = e.points.find((p) => p.mode === "pagecache");
  return [
    head,
    "",
    "Each mode has its own Machine with a warm Worker; the modes take turns run by run, so " +
    "load hits them alike. Median over the runs.",
    "",
    table(
      ["mode", "runs", "median", "min", "page cache ÷ mode (throughput ratio)"],
      e.points.map((p) => [
        p.mode,
        String(p.runs),
        `${p.medianMs.toFixed(1)} ms`,
        `${p.minMs.toFixed(1)} ms`,
        pc === undefined ? "—" : (pc.medianMs / p.medianMs).toFixed(3),
      ]),
    ),
  ].join("\n") + validityNote(e.validity);
}

function scalingSection(d: ReportData): string {
  const s = d.runs.scaling;
  const head = "### Scaling: N processes of `compute`";
  const nm = notMeasured(s);
  if (nm !== null) return `${head}\n\n${nm}`;
  const one = new Map(s.points.filter((p) => p.procs === 1).map((p) => [p.mode, p]));
  return [
    head,
    "",
    "A fresh Machine per point with N warm Workers. Throughput = instructions retired by all " +
    "processes / wall time from the first spawn to the last exit. RAM: the frame allocator's " +
    "peak (`machine.stats().ram.peak_used_frames`, 4 KiB frames) and the Deno process's peak " +
    "RSS. Bytes copied: `copied_bytes` of the stats (page-cache fill, COW, read, write; exec's " +
    "own segment copies in copy mode are not in that counter).",
    "",
    table(
      [
        "mode",
        "N",
        "wall",
        "aggregate M instr/s",
        "÷ N=1",
        "peak RAM frames",
        "RSS",
        "bytes copied",
        "DAX faults",
        "file faults",
      ],
      s.points.map((p) => [
        p.mode,
        String(p.procs),
        `${p.wallMs.toFixed(0)} ms`,
        (p.instrPerSec / 1e6).toFixed(1),
        one.has(p.mode) ? (p.instrPerSec / one.get(p.mode)!.instrPerSec).toFixed(2) : "—",
        String(p.peakFrames),
        `${(p.rssBytes / MIB).toFixed(0)} MiB`,
        String(p.copiedBytes),
        String(p.faultsDax),
        String(p.faultsFile),
      ]),
    ),
  ].join("\n") + validityNote(s.validity);
}

function footprintSection(d: ReportData): string {
  const f = d.runs.footprint;
  const head = "### Memory footprint: processes × library text size";
  const nm = notMeasured(f);
  if (nm !== null) return `${head}\n\n${nm}`;
  return [
    head,
    "",
    "Every process maps `libpad.so` (a `nop` sled of the given size, built with clang at " +
    "bench time), runs through all of it once, then waits until all processes have started. " +
    "RAM for code = peak used frames minus the same run with a one-page library. Expected: " +
    "DAX 0 (plus page tables), page cache one copy, copy mode N copies.",
    "",
    table(
      [
        "mode",
        "N",
        "text",
        "peak RAM frames",
        "RAM for code (frames)",
        "N × (text − 1 page) (frames)",
        "page-cache frames",
        "RSS",
      ],
      f.points.map((p) => [
        p.mode,
        String(p.procs),
        `${p.textBytes / 1024} KiB`,
        String(p.peakFrames),
        String(p.codeFrames),
        String(p.procs * extraTextFrames(p.textBytes)),
        String(p.pagecacheFrames),
        `${(p.rssBytes / MIB).toFixed(0)} MiB`,
      ]),
    ),
  ].join("\n") + validityNote(f.validity);
}

function qemuSection(d: ReportData): string {
  const q = d.runs.qemu;
  const head = "### The hart against qemu-riscv32";
  const nm = notMeasured(q);
  if (nm !== null) return `${head}\n\n${nm}`;
  const [a, b] = q.iterations!;
  return [
    head,
    "",
    `The static \`fixtures/static/compute\` under \`qemu-riscv32\` and under xip, each at ${a} ` +
    `and ${b} iterations; the difference of the two medians cancels start-up.`,
    "",
    table(["", "qemu-riscv32", "xip"], [
      ["time of the extra iterations", `${q.qemuMs!.toFixed(1)} ms`, `${q.xipMs!.toFixed(1)} ms`],
      [
        "M instructions/s (xip's instret)",
        (q.qemuInstrPerSec! / 1e6).toFixed(1),
        (q.xipInstrPerSec! / 1e6).toFixed(1),
      ],
      ["xip time ÷ qemu time", "1", (q.xipMs! / q.qemuMs!).toFixed(2)],
    ]),
  ].join("\n");
}

function tlbSection(d: ReportData): string {
  const t = d.runs.tlb;
  const head = "### TLB shootdown latency";
  if (t === undefined) return `${head}\n\nNot measured: not in this data.`;
  const nm = notMeasured(t);
  if (nm !== null) return `${head}\n\n${nm}`;
  return [
    head,
    "",
    `\`flushTlbMm\` timed one by one, ${t.flushes} flushes, while ${t.busyHarts} Workers run the ` +
    "mm in user mode and poll at a bounded interval (bench/_report_tlb.ts).",
    "",
    table(["", "p50", "p99"], [
      [
        `${t.busyHarts} busy harts on the mm`,
        `${t.p50Us!.toFixed(1)} µs`,
        `${t.p99Us!.toFixed(1)} µs`,
      ],
      ["no other hart on the mm", `${t.idleP50Us!.toFixed(2)} µs`, "—"],
    ]),
  ].join("\n");
}

function plotsSection(plots: Plot[], dir: string): string {
  if (plots.length === 0) {
    return "## Plots\n\nNo plots: the scaling and footprint runs were not measured.";
  }
  return [
    "## Plots",
    "",
    "One colour per mode in every plot: dax green, pagecache orange, copy purple.",
    "",
    ...plots.flatMap((
      p,
    ) => [`### ${p.title}`, "", `![${p.title}](${dir}/${p.file})`, "", p.caption, ""]),
  ].join("\n");
}

/** The whole report. `plotDir` is the plots directory relative to the report. */
export function renderReport(d: ReportData, plots: Plot[], plotDir: string): string {
  return [
    "# xip benchmark report",
    "",
    "Generated by `deno task bench:report" + (d.quick ? " --quick" : "") + "` (bench/report.ts).",
    "",
    machineSection(d),
    "",
    targetsSection(d),
    "",
    "## Whole-machine runs",
    "",
    execSection(d),
    "",
    scalingSection(d),
    "",
    footprintSection(d),
    "",
    muslSection(d.runs.musl, table),
    "",
    qemuSection(d),
    "",
    tiersSection(d),
    "",
    tlbSection(d),
    "",
    daxSection(d),
    "",
    plotsSection(plots, plotDir),
    "",
    suitesSection(d),
  ].join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
