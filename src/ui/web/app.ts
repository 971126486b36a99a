/**
 * The live view's page: opens the server's event stream and keeps the
 * frame map, the process table, the fault ticker and plot, and the totals
 * up to date. Bundled with what it imports into app.js by build.ts.
 *
 * @module
 */

import type { Hello, Update } from "../protocol.ts";
import { FrameMapView } from "./frame_map.ts";
import { RatePlot } from "./plot.ts";
import { renderFaults, renderProcs, renderTotals } from "./tables.ts";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
};

const frames = new FrameMapView(
  $<HTMLCanvasElement>("frames"),
  $("frame-tip"),
  $("legend"),
  $("frame-summary"),
);
const plot = new RatePlot($<HTMLCanvasElement>("rates"), $("rate-legend"));
const status = $("status");
let updates = 0;

/** Fault records waiting for the next redraw: at most what the ticker shows. */
const TICKER_KEEP = 20;
/**
 * The least time between two redraws, in ms. Updates come ten times a
 * second, but every redraw costs the browser a paint: about 9 ms of CPU in
 * headless Chromium without a GPU (bench/ui_compare.ts), so redrawing at
 * 10 Hz would take ~5% of a 2-core machine from the guests; once a second
 * keeps the page's share near 1%. Nothing is dropped: a redraw shows every
 * fault record and rate sample that came since the last one.
 */
const REDRAW_MS = 1000;
let pending: Update | null = null;
let lastRedraw = -Infinity;

/** Take an update; the next redraw shows it. */
function apply(u: Update): void {
  if (u.rate !== null) plot.push(u.rate);
  if (pending === null) {
    pending = u;
    const wait = Math.max(0, lastRedraw + REDRAW_MS - performance.now());
    setTimeout(() => requestAnimationFrame(render), wait);
  } else {
    pending = {
      ...u,
      frames: u.frames ?? pending.frames,
      faults: [...pending.faults, ...u.faults].slice(-TICKER_KEEP),
      faults_missed: pending.faults_missed + u.faults_missed,
    };
  }
}

function render(): void {
  const u = pending!;
  pending = null;
  lastRedraw = performance.now();
  $("run-label").textContent = u.run === "" ? "" : `· ${u.run}`;
  if (u.frames !== null) frames.show(u.frames);
  renderProcs($<HTMLTableElement>("procs"), u.procs);
  renderFaults($<HTMLTableElement>("ticker"), u.faults);
  renderTotals($<HTMLTableElement>("totals"), u.runs);
  plot.draw();
  updates++;
  const live = u.runs.some((r) => r.live);
  status.textContent = `${live ? "live" : "run finished"} · t = ${u.t.toFixed(1)} s · ` +
    `${u.procs.length} process(es)` +
    (u.faults_missed > 0 ? ` · ${u.faults_missed} fault records not shown` : "");
  status.dataset.updates = String(updates);
}

const events = new EventSource("/api/stream");
events.addEventListener("hello", (e) => {
  const h = JSON.parse((e as MessageEvent<string>).data) as Hello;
  plot.reset(h.history);
  $<HTMLTableElement>("ticker").tBodies[0]!.replaceChildren(); // a reconnect starts afresh
  apply(h);
});
events.addEventListener("update", (e) => {
  apply(JSON.parse((e as MessageEvent<string>).data) as Update);
});
events.addEventListener("error", () => {
  status.textContent = "disconnected: the run is over or the server stopped (retrying)";
});
