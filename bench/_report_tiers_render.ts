/**
 * The "hart tiers" section of REPORT.md and its plot (issue 12's table):
 * the interpreter, tier 1 and qemu-riscv32 side by side, issue 12's targets
 * with their measurements, exec and text placement under tier 1, the
 * translator's cost and warm-up. Pure: the same data gives the same text.
 *
 * @module
 */

import type * as vl from "npm:vega-lite@6";
import type { Plot } from "./_report_plots.ts";
import { renderSvg } from "./_report_plots.ts";
import type { ReportData, TierRow, TiersResult } from "./_report_types.ts";

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const table = (head: string[], rows: string[][]): string => {
  const line = (r: string[]) => `| ${r.map(cell).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
};

const mips = (n: number, ms: number): number => n / (ms / 1000) / 1e6;
const x = (v: number): string => `${v.toFixed(2)}×`;

/** Issue 12's targets, each with its measurement from this run. */
export interface TierTarget {
  target: string;
  goal: string;
  measured: string;
  met: boolean;
}

/** The targets of issue 12, evaluated on `t`. */
export function tierTargets(t: TiersResult): TierTarget[] {
  const rows = t.rows ?? [];
  const out: TierTarget[] = [];
  for (const r of rows) {
    out.push({
      target: `tier 1 vs interpreter, ${r.workload}`,
      goal: "≥ 5×",
      measured: x(r.interpMs / r.jitMs),
      met: r.interpMs / r.jitMs >= 5,
    });
  }
  for (const r of rows.filter((r) => r.qemuMs !== null)) {
    out.push({
      target: `tier 1 vs qemu-riscv32, ${r.workload}`,
      goal: "≥ 0.25×",
      measured: x(r.qemuMs! / r.jitMs),
      met: r.qemuMs! / r.jitMs >= 0.25,
    });
  }
  if (t.exec) {
    const v = t.exec.offMs / t.exec.autoMs;
    out.push({
      target: "exec of `compute 1` (spawn to exit, CPU time, a pooled Worker that ran it " +
        `until its translations held, median of ${t.exec.runs} runs), tier 1 vs interpreter`,
      goal: "≥ 0.95×",
      measured: `${x(v)} (${t.exec.autoMs.toFixed(1)} vs ${t.exec.offMs.toFixed(1)} ms)`,
      met: v >= 0.95,
    });
  }
  if (t.execCold) {
    const v = t.execCold.offMs / t.execCold.autoMs;
    out.push({
      target: "exec of `compute 1` on a fresh machine (a cold Worker, no translations; median " +
        `of ${t.execCold.runs} machines), tier 1 vs interpreter`,
      goal: "≥ 0.95×",
      measured: `${x(v)} (${t.execCold.autoMs.toFixed(1)} vs ${t.execCold.offMs.toFixed(1)} ms)`,
      met: v >= 0.95,
    });
  }
  if (t.daxExec) {
    const v = t.daxExec.pagecacheMs / t.daxExec.daxMs;
    out.push({
      target: "DAX exec vs page-cache exec of `compute 1` (CPU time, steady state, median of " +
        `${t.daxExec.runs} runs), tier 1`,
      goal: "≥ 0.98",
      measured: `${v.toFixed(3)} (${t.daxExec.daxMs.toFixed(1)} vs ${
        t.daxExec.pagecacheMs.toFixed(1)
      } ms)`,
      met: v >= 0.98,
    });
  }
  return out;
}

function rowCells(r: TierRow): string[] {
  const q = r.qemuMs;
  return [
    r.workload,
    `${r.args[0]} → ${r.args[1]}`,
    (r.instret / 1e6).toFixed(1),
    mips(r.instret, r.interpMs).toFixed(1),
    mips(r.instret, r.jitMs).toFixed(1),
    q === null ? "—" : mips(r.instret, q).toFixed(1),
    x(r.interpMs / r.jitMs),
    q === null ? "—" : x(q / r.jitMs),
  ];
}

/** The section's markdown. */
export function tiersSection(d: ReportData): string {
  const t = d.runs.tiers;
  const head = "### Hart tiers: interpreter, WebAssembly translation, qemu-riscv32";
  if (t === undefined) return `${head}\n\nNot measured: not in this data.`;
  if (t.status !== "ok") return `${head}\n\nNot measured: ${t.reason ?? ""}`;
  const parts = [
    head,
    "",
    "The same static guests under the interpreter (`--jit off`), tier 1 (`--jit auto`, " +
    "src/hw/jit) and `qemu-riscv32`: each workload at two sizes, the difference of the " +
    "medians, so start-up, exec and warm-up cancel (bench/_report_tiers.ts). Instructions are " +
    "xip's instret of the extra work; qemu runs the same bytes. Rates are per second of CPU " +
    "time (user + system) of the process that ran the guest, because this machine is shared " +
    "with other jobs: CPU time follows the work, wall time follows the load too.",
    "",
    table(
      [
        "workload",
        "sizes",
        "M instructions",
        "interpreter M/CPU-s",
        "tier 1 M/CPU-s",
        "qemu M/CPU-s",
        "tier 1 ÷ interpreter",
        "tier 1 ÷ qemu",
      ],
      (t.rows ?? []).map(rowCells),
    ),
    "",
    "Targets (issue 12); a missed target is reported as missed:",
    "",
    table(
      ["target", "goal", "measured", "verdict"],
      tierTargets(t).map((g) => [g.target, g.goal, g.measured, g.met ? "met" : "missed"]),
    ),
  ];
  if (t.text) {
    parts.push(
      "",
      `Text placement under tier 1: \`tiers ${t.text.args}\` with its text in device frames ` +
        `(DAX) ${t.text.deviceMs.toFixed(1)} CPU ms, in RAM frames (page-cache pages) ` +
        `${t.text.ramMs.toFixed(1)} CPU ms, both mapped in place (medians, spawn to exit): ` +
        `device ÷ RAM time ${
          (t.text.deviceMs / t.text.ramMs).toFixed(3)
        }. A translation is keyed by the physical frame, whichever kind it is.`,
    );
  }
  if (t.cost) {
    const c = t.cost;
    parts.push(
      "",
      `Translator cost per frame (${c.frames} frames of libc.so, CPU time on one thread): ` +
        `discover, lay out and emit ${c.emitColdMs.toFixed(2)} ms with the emitter cold (a ` +
        `fresh Worker's first translations), ${c.emitWarmMs.toFixed(2)} ms warm; compile, ` +
        `instantiate and first call ${c.compileMs.toFixed(2)} ms; ${
          (c.bytesPerFrame / 1024).toFixed(1)
        } KiB of wasm a frame.`,
    );
  }
  if (t.translator && t.translator.length > 0) {
    parts.push(
      "",
      "Translations for N processes of `compute 1` started together on a fresh machine with " +
        "`--jit eager` (every frame run is translated): frames translated, installs of a " +
        "product another Worker published (no translation, a compile only; a Worker that " +
        "finds a frame claimed by another interprets it until the product appears), and the " +
        "time per frame inside the Workers (wall time, so with N Workers on this machine's " +
        "cores it includes waiting for a core).",
      "",
      table(
        [
          "processes",
          "translations",
          "shared installs",
          "emit ms a translation",
          "compile + instantiate ms a frame installed",
        ],
        t.translator.map((p) => {
          const per = (ms: number | undefined, n: number) =>
            ms === undefined || n === 0 ? "—" : (ms / n).toFixed(2);
          return [
            String(p.procs),
            String(p.translations),
            String(p.sharedInstalls),
            per(p.emitMs, p.translations),
            per(p.compileMs, p.translations + p.sharedInstalls),
          ];
        }),
      ),
    );
  }
  if (t.warmup) {
    parts.push(
      "",
      `Warm-up: a cold Worker running fannkuch-redux under \`--jit auto\` first reached 80% of ` +
        `its steady rate (${
          t.warmup.steadyMips.toFixed(0)
        } M instructions per CPU-second, the second ` +
        `half of the run) after ${(t.warmup.instructions / 1e6).toFixed(1)} M instructions ` +
        `(${t.warmup.ms.toFixed(0)} ms of CPU): interpretation until frames are hot, ` +
        "translation, and " +
        "V8's tier-up of the wasm from Liftoff to TurboFan.",
    );
  }
  if (t.v8) {
    const v = t.v8;
    const reusesSame = v.sameWorkerAgainMs < 0.2 * v.firstCallMs;
    const reusesOther = v.otherWorkerMs < 0.2 * v.firstCallMs;
    parts.push(
      "",
      `V8 and identical bytes (${v.frames} translated frames of libc.so, medians): the first ` +
        "call of a translation, which compiles it (V8 compiles lazily), took " +
        `${v.firstCallMs.toFixed(2)} ms in a fresh Worker; a new Module from the same bytes in ` +
        `the same Worker, ${v.sameWorkerAgainMs.toFixed(3)} ms; the same bytes in another ` +
        `fresh Worker, ${v.otherWorkerMs.toFixed(2)} ms. ` +
        (reusesSame
          ? "V8 reuses compiled code for identical bytes within an isolate (its native module " +
            "cache), "
          : "No reuse within an isolate showed in this run, ") +
        (reusesOther
          ? "and across Workers too."
          : "but not across Workers: each Worker compiles a shared product itself, so sharing " +
            "products saves every Worker but the first the translation, not the compilation."),
    );
  }
  return parts.join("\n");
}

/** The bar chart of M instructions/s per workload and tier. */
export async function tiersPlots(t: TiersResult | undefined): Promise<Plot[]> {
  if (t === undefined || t.status !== "ok" || !t.rows || t.rows.length === 0) return [];
  const values = t.rows.flatMap((r) => [
    { workload: r.workload, tier: "interpreter", mips: mips(r.instret, r.interpMs) },
    { workload: r.workload, tier: "tier 1 (wasm)", mips: mips(r.instret, r.jitMs) },
    ...(r.qemuMs === null
      ? []
      : [{ workload: r.workload, tier: "qemu-riscv32", mips: mips(r.instret, r.qemuMs) }]),
  ]);
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Hart tiers: steady-state M instructions/s",
    width: 140,
    height: 260,
    data: { values },
    mark: "bar",
    encoding: {
      column: { field: "workload", type: "nominal", title: null },
      x: { field: "tier", type: "nominal", title: null, sort: ["interpreter", "tier 1 (wasm)"] },
      y: {
        field: "mips",
        type: "quantitative",
        title: "M instructions/s (log scale)",
        scale: { type: "log" },
      },
      color: {
        field: "tier",
        type: "nominal",
        scale: {
          domain: ["interpreter", "tier 1 (wasm)", "qemu-riscv32"],
          range: ["#999999", "#1b9e77", "#e7298a"],
        },
      },
    },
  } as unknown as vl.TopLevelSpec;
  return [{
    file: "hart_tiers.svg",
    title: "Hart tiers",
    caption: "Steady-state instructions per second of each workload under the interpreter, " +
      "tier 1 and qemu-riscv32 (the difference of two sizes; log scale).",
    svg: await renderSvg(spec),
  }];
}
