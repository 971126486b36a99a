/// <reference lib="dom" />
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

function apply(u: Update): void {
  $("run-label").textContent = u.run === "" ? "" : `· ${u.run}`;
  if (u.frames !== null) frames.show(u.frames);
  renderProcs($<HTMLTableElement>("procs"), u.procs);
  renderFaults($<HTMLTableElement>("ticker"), u.faults);
  renderTotals($<HTMLTableElement>("totals"), u.runs);
  if (u.rate !== null) plot.push(u.rate);
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
