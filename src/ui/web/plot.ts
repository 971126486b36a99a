/**
 * The page's fault-rate plot: faults per second by kind over the last
 * minute, one line per kind, drawn on a canvas (no plotting library: a few
 * polylines need none).
 *
 * @module
 */

import type { RateSample } from "../protocol.ts";

/** Seconds of history the plot spans. */
const SPAN_S = 60;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

/** A colour per fault kind, by name; kinds not listed get grey. */
export const FAULT_COLORS: Record<string, string> = {
  dax: "#ef6c00",
  file_minor: "#1e88e5",
  file_major: "#0d47a1",
  cow: "#8e24aa",
  anon: "#e53935",
  zero: "#c0a000",
};

const colorOf = (kind: string): string => FAULT_COLORS[kind] ?? "#757575";

/** A tick step of 1, 2 or 5 × 10^k that splits `max` into about four steps. */
function niceStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

/** The rate plot and its legend. */
export class RatePlot {
  #samples: RateSample[] = [];
  /**
   * What the canvas shows while every rate is 0: flat lines, which look
   * the same from one redraw to the next once they span the plot, so
   * draw() leaves the canvas alone (a changed canvas costs a raster and a
   * composite). "" when the canvas shows anything else.
   */
  #flatKey = "";

  constructor(readonly canvas: HTMLCanvasElement, readonly legend: HTMLElement) {}

  /** Replace the history (a new stream's hello); draw() shows it. */
  reset(history: RateSample[]): void {
    this.#samples = [...history];
  }

  /** Add one sample; draw() shows it. */
  push(s: RateSample): void {
    this.#samples.push(s);
    const cut = s.t - SPAN_S;
    while (this.#samples.length > 0 && this.#samples[0]!.t < cut) this.#samples.shift();
  }

  draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (ctx === null) return;
    const { width: w, height: h } = this.canvas;
    const kinds = [...new Set(this.#samples.flatMap((s) => Object.keys(s.faults)))];
    const peak = Math.max(0, ...this.#samples.flatMap((s) => Object.values(s.faults)));
    const max = Math.max(1, peak);
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const end = this.#samples.at(-1)?.t ?? SPAN_S;
    const x = (t: number) =>
      PAD.left + ((t - (end - SPAN_S)) / SPAN_S) * (w - PAD.left - PAD.right);
    const y = (v: number) => h - PAD.bottom - (v / top) * (h - PAD.top - PAD.bottom);
    const first = this.#samples[0];
    const flat = peak === 0
      ? `${w}x${h} ${kinds.join(",")} ${first === undefined ? "" : Math.round(x(first.t))}`
      : "";
    if (flat !== "" && flat === this.#flatKey) return;
    this.#flatKey = flat;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#616e7c";
    ctx.strokeStyle = "#d9e2ec";
    ctx.lineWidth = 1;
    for (let v = 0; v <= top; v += step) {
      ctx.beginPath();
      ctx.moveTo(PAD.left, y(v) + 0.5);
      ctx.lineTo(w - PAD.right, y(v) + 0.5);
      ctx.stroke();
      ctx.fillText(String(v), 4, y(v) + 4);
    }
    ctx.fillText(`faults/s, last ${SPAN_S} s`, PAD.left, h - 5);
    for (const kind of kinds) {
      ctx.strokeStyle = colorOf(kind);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      this.#samples.forEach((s, i) => {
        const px = x(s.t), py = y(s.faults[kind] ?? 0);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.stroke();
    }
    const key = kinds.join("\u0000");
    if (this.legend.dataset.kinds === key) return; // a rebuilt legend costs a layout
    this.legend.dataset.kinds = key;
    this.legend.replaceChildren(...kinds.map((kind) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colorOf(kind);
      li.append(sw, kind);
      return li;
    }));
  }
}
