/**
 * The report's SVG plots, drawn by vega-lite (compiled to a vega spec) and
 * rendered by vega's headless SVG renderer. Every plot colours the modes
 * through the same scale (MODE_SCALE), so dax, pagecache and copy look the
 * same everywhere. Axes that span decades are logarithmic; the RAM-for-code
 * axes are symlog because DAX is expected to sit at exactly 0.
 *
 * Only modes whose runs really placed text as the mode says are plotted
 * (ModeValidity): a "dax" run that fell back to copying would mislabel data.
 *
 * @module
 */

import * as vl from "npm:vega-lite@6";
import * as vega from "npm:vega@6";
import type { FootprintPoint, MachineRuns, Mode, ScalingPoint } from "./_report_types.ts";
import { tiersPlots } from "./_report_tiers_render.ts";

/** One colour per mode, the same in every plot (colour-blind-safe Dark2 entries). */
export const MODE_SCALE = {
  domain: ["dax", "pagecache", "copy"] as Mode[],
  range: ["#1b9e77", "#d95f02", "#7570b3"],
};

export interface Plot {
  /** File name under the plots directory. */
  file: string;
  title: string;
  /** What the plot shows and what was left out, one or two sentences. */
  caption: string;
  svg: string;
}

type Row = Record<string, string | number>;

/** The mode colour channel; the legend lists only the modes that have data here. */
const colour = (rows: Row[]) => ({
  field: "mode",
  type: "nominal" as const,
  title: "mode",
  scale: MODE_SCALE,
  legend: {
    orient: "right" as const,
    values: MODE_SCALE.domain.filter((m) => rows.some((r) => r.mode === m)),
  },
});

/** A line chart with points; `x` and `y` give field, axis title and scale type. */
function lineSpec(
  title: string,
  rows: Row[],
  x: { field: string; title: string; scale: object },
  y: { field: string; title: string; scale: object; axis?: object },
  detail?: string,
): vl.TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 420,
    height: 260,
    data: { values: rows },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: x.field, type: "quantitative", title: x.title, scale: x.scale },
      y: { field: y.field, type: "quantitative", title: y.title, scale: y.scale, axis: y.axis },
      color: colour(rows),
      ...(detail === undefined ? {} : { detail: { field: detail, type: "nominal" } }),
    },
  } as vl.TopLevelSpec;
}

/** Render a vega-lite spec to an SVG string, headless. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const validModes = (v: { mode: Mode; valid: boolean }[]): Set<Mode> =>
  new Set(v.filter((m) => m.valid).map((m) => m.mode));

function leftOut(all: { mode: Mode; valid: boolean }[]): string {
  const out = all.filter((m) => !m.valid).map((m) => m.mode);
  return out.length === 0
    ? ""
    : ` Not plotted (text was not placed as the mode says): ${out.join(", ")}.`;
}

const LOG2 = { type: "log", base: 2 };
const LOG10 = { type: "log", base: 10 };
const SYMLOG = { type: "symlog", constant: 1 };

/** Ticks at 0 and every decade up to `max`: symlog's default ticks are linear and bunch up. */
function decadeAxis(max: number): object {
  const values = [0];
  for (let v = 1; v <= Math.max(1, max) * 10; v *= 10) values.push(v);
  // A per-label expression: vega's shared SI format puts every tick on one prefix ("0k").
  return {
    values,
    labelExpr: "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M'" +
      " : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')",
  };
}

function scalingPlots(s: MachineRuns["scaling"]): Promise<Plot>[] {
  const ok = validModes(s.validity);
  const pts = s.points.filter((p: ScalingPoint) => ok.has(p.mode));
  if (pts.length === 0) return [];
  const rows = pts.map((p) => ({
    mode: p.mode,
    procs: p.procs,
    mips: p.instrPerSec / 1e6,
    frames: p.peakFrames,
    rssMiB: p.rssBytes / (1024 * 1024),
  }));
  const note = leftOut(s.validity);
  return [
    (async () => ({
      file: "scaling_throughput.svg",
      title: "Aggregate throughput vs processes",
      caption: "Sum of instructions retired by all processes over the wall time from the first " +
        `spawn to the last exit.${note}`,
      svg: await renderSvg(lineSpec(
        "compute: aggregate throughput",
        rows,
        { field: "procs", title: "processes (log scale)", scale: LOG2 },
        { field: "mips", title: "aggregate throughput (M instructions/s)", scale: {} },
      )),
    }))(),
    (async () => ({
      file: "scaling_ram.svg",
      title: "Peak RAM frames vs processes",
      caption: `The frame allocator's peak of used 4 KiB RAM frames (machine.stats()).${note}`,
      svg: await renderSvg(lineSpec(
        "compute: peak RAM",
        rows,
        { field: "procs", title: "processes (log scale)", scale: LOG2 },
        { field: "frames", title: "peak used RAM (4 KiB frames, log scale)", scale: LOG10 },
      )),
    }))(),
    (async () => ({
      file: "scaling_rss.svg",
      title: "Deno process RSS vs processes",
      caption: `Peak resident set of the whole Deno process (Deno.memoryUsage().rss), Workers ` +
        `included.${note}`,
      svg: await renderSvg(lineSpec(
        "compute: Deno RSS",
        rows,
        { field: "procs", title: "processes (log scale)", scale: LOG2 },
        { field: "rssMiB", title: "peak RSS (MiB)", scale: {} },
      )),
    }))(),
  ];
}

function footprintPlots(f: MachineRuns["footprint"]): Promise<Plot>[] {
  const ok = validModes(f.validity);
  const pts = f.points.filter((p: FootprintPoint) => ok.has(p.mode));
  if (pts.length === 0) return [];
  const rows = pts.map((p) => ({
    mode: p.mode,
    procs: p.procs,
    kib: p.textBytes / 1024,
    code: Math.max(0, p.codeFrames),
    size: `${p.textBytes / 1024} KiB`,
  }));
  const maxText = Math.max(...pts.map((p) => p.textBytes));
  const maxProcs = Math.max(...pts.map((p) => p.procs));
  const maxCode = Math.max(...rows.map((r) => r.code));
  const note = leftOut(f.validity);
  return [
    (async () => ({
      file: "footprint_procs.svg",
      title: "RAM holding library text vs processes",
      caption: `Library of ${maxText / 1024} KiB of text. RAM for code = peak used frames minus ` +
        `the same run with a one-page library.${note}`,
      svg: await renderSvg(lineSpec(
        `RAM for code, ${maxText / 1024} KiB library`,
        rows.filter((r) => r.kib === maxText / 1024),
        { field: "procs", title: "processes (log scale)", scale: LOG2 },
        {
          field: "code",
          title: "RAM frames holding text (4 KiB, symlog)",
          scale: SYMLOG,
          axis: decadeAxis(maxCode),
        },
      )),
    }))(),
    (async () => ({
      file: "footprint_size.svg",
      title: "RAM holding library text vs library size",
      caption: `${maxProcs} processes sharing one library. XIP should stay flat at 0, the page ` +
        `cache pays one copy and copy mode one per process.${note}`,
      svg: await renderSvg(lineSpec(
        `RAM for code, ${maxProcs} processes`,
        rows.filter((r) => r.procs === maxProcs),
        { field: "kib", title: "library text size (KiB, log scale)", scale: LOG2 },
        {
          field: "code",
          title: "RAM frames holding text (4 KiB, symlog)",
          scale: SYMLOG,
          axis: decadeAxis(maxCode),
        },
      )),
    }))(),
  ];
}

/** Every plot the data allows; none when the scaling and footprint runs were not measured. */
export async function renderPlots(runs: MachineRuns): Promise<Plot[]> {
  const tiers = await tiersPlots(runs.tiers);
  return [
    ...await Promise.all([...scalingPlots(runs.scaling), ...footprintPlots(runs.footprint)]),
    ...tiers,
  ];
}
