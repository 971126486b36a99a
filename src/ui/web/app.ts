/**
 * The live view's page: opens the server's event stream and keeps the
 * frame map, the process table, the fault ticker and plot, and the totals
 * up to date. Bundled with what it imports into app.js by build.ts.
 *
 * The stream sends the whole state once (hello) and then, ten times a
 * second, merge patches of it (src/ui/delta.ts), which are applied to one
 * kept state. The DOM is redrawn from that state at most once a second,
 * and only the parts a patch touched since the last redraw.
 *
 * The page reads the stream with fetch, not EventSource, and takes what
 * came once per redraw: between two redraws the updates wait in the
 * connection's buffer, so the browser does not wake up for each of them
 * (which cost it more than anything else the page does once the DOM work
 * was cut: bench/ui_compare.ts). Every update is still applied, in order:
 * each rate sample reaches the plot and each fault record the ticker. A
 * hidden page closes the stream and opens it again when shown (the hello
 * brings the whole state and the last minute of rates).
 *
 * @module
 */

import { applyMergePatch } from "../delta.ts";
import { type FaultRecord, unpackFault, unpackRate } from "../encode.ts";
import type { Hello, Update, ViewState } from "../protocol.ts";
import { FrameMapView } from "./frame_map.ts";
import { RatePlot } from "./plot.ts";
import { sseParser } from "./stream.ts";
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
let redraws = 0;

/** Fault records kept for the next redraw: at most what the ticker shows. */
const TICKER_KEEP = 20;
/**
 * The least time between two redraws, in ms. Updates come ten times a
 * second, but every redraw costs the browser a style, layout, paint and
 * composite (several ms of CPU in headless Chromium without a GPU,
 * bench/ui_compare.ts): redrawing once a second keeps the page cheap.
 * Nothing is dropped: a redraw shows every fault record and rate sample
 * that came since the last one.
 */
const REDRAW_MS = 1000;

/** The state as the stream has it, patched as updates come. */
let state: ViewState | null = null;
let kinds: string[] = [];
let t = 0;
/** What changed since the last redraw. */
const dirty = { runs: false, procs: false, frames: false, plot: false };
let faults: FaultRecord[] = [];
let missed = 0;
/** The ticket of the newest fault record taken: a hello may repeat what updates bring. */
let lastTicket: number | null = null;
let scheduled = false;
let lastRedraw = -Infinity;
/** Resolves after the next redraw: the stream reader waits on it. */
let redrawn: Promise<void> = Promise.resolve();
let onRedrawn = () => {};

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  redrawn = new Promise((resolve) => onRedrawn = resolve);
  const wait = Math.max(0, lastRedraw + REDRAW_MS - performance.now());
  setTimeout(() => requestAnimationFrame(redraw), wait);
}

function takeFaults(tuples: Update["faults"]): void {
  for (const tuple of tuples ?? []) {
    if (lastTicket !== null && ((tuple[0] - lastTicket) | 0) <= 0) continue;
    lastTicket = tuple[0];
    faults.push(unpackFault(tuple, kinds));
  }
  if (faults.length > TICKER_KEEP) faults = faults.slice(-TICKER_KEEP);
}

function onHello(h: Hello): void {
  state = h.state;
  kinds = h.fault_kinds;
  t = h.t;
  plot.reset(h.history.map((r) => unpackRate(r, kinds)));
  $<HTMLTableElement>("ticker").tBodies[0]!.replaceChildren(); // a reconnect starts afresh
  faults = [];
  missed = 0;
  lastTicket = null;
  takeFaults(h.faults);
  Object.assign(dirty, { runs: true, procs: true, frames: true, plot: true });
  schedule();
}

function onUpdate(u: Update): void {
  if (state === null) return; // an update before the hello: none is sent so
  t = u.t;
  if (u.patch !== undefined) {
    state = applyMergePatch(state, u.patch) as unknown as ViewState;
    const p = u.patch as Record<string, unknown>;
    dirty.runs ||= "runs" in p || "run" in p;
    dirty.procs ||= "procs" in p;
    dirty.frames ||= "frames" in p;
  }
  if (u.rate !== undefined) {
    plot.push(unpackRate(u.rate, kinds));
    dirty.plot = true;
  }
  takeFaults(u.faults);
  missed += u.missed ?? 0;
  schedule();
}

function redraw(): void {
  scheduled = false;
  lastRedraw = performance.now();
  const s = state!;
  if (dirty.runs) {
    $("run-label").textContent = s.run === "" ? "" : `· ${s.run}`;
    renderTotals($<HTMLTableElement>("totals"), Object.values(s.runs));
  }
  if (dirty.frames && s.frames !== undefined) frames.show(s.frames);
  const procs = Object.values(s.procs);
  if (dirty.procs) renderProcs($<HTMLTableElement>("procs"), procs);
  if (faults.length > 0) renderFaults($<HTMLTableElement>("ticker"), faults);
  if (dirty.plot) plot.draw();
  Object.assign(dirty, { runs: false, procs: false, frames: false, plot: false });
  redraws++;
  const live = Object.values(s.runs).some((r) => r.live);
  status.textContent = `${live ? "live" : "run finished"} · t = ${t.toFixed(1)} s · ` +
    `${procs.length} process(es)` +
    (missed > 0 ? ` · ${missed} fault records not shown` : "");
  status.dataset.updates = String(redraws);
  faults = [];
  missed = 0;
  onRedrawn();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follow GET /api/stream until `signal` aborts it: apply what came, then
 * wait for the redraw that shows it before reading on.
 */
async function follow(signal: AbortSignal): Promise<void> {
  const r = await fetch("/api/stream", { signal });
  if (!r.ok || r.body === null) throw new Error(`the stream answered ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  const parse = sseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const e of parse(value)) {
      if (e.event === "hello") onHello(JSON.parse(e.data) as Hello);
      else if (e.event === "update") onUpdate(JSON.parse(e.data) as Update);
    }
    await redrawn;
  }
}

/** The current stream's abort, or null while the page is hidden. */
let following: AbortController | null = null;

/** Follow the stream while the page is visible; reconnect a second after it ends. */
async function watch(): Promise<void> {
  while (following !== null) {
    const mine = following;
    try {
      await follow(mine.signal);
    } catch { /* the server went away, or the page was hidden */ }
    if (following !== mine) return; // hidden, or a newer watch() took over
    status.textContent = "disconnected: the run is over or the server stopped (retrying)";
    await sleep(1000);
  }
}

function onVisibility(): void {
  if (document.hidden) {
    following?.abort();
    following = null;
  } else if (following === null) {
    following = new AbortController();
    void watch();
  }
}

document.addEventListener("visibilitychange", onVisibility);
onVisibility();
