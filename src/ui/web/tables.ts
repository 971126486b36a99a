/**
 * The page's tables: processes, the fault ticker, and the totals of each
 * run side by side. Columns come from the data (kinds of frames and of
 * faults), so a kind added on the server shows up without a change here.
 *
 * @module
 */

import type { FaultRecord } from "../encode.ts";
import type { ProcRow, RunTotals } from "../protocol.ts";

/** Rows the fault ticker keeps. */
const TICKER_ROWS = 20;

/**
 * An integer with thousands separators ("1,234,567"). By hand: the page
 * formats a few hundred numbers a redraw, and toLocaleString goes through
 * ICU each time, which cost most of a redraw's script time.
 */
export function fmt(n: number): string {
  const s = String(Math.abs(Math.round(n)));
  let out = s.length > 3 ? "" : s;
  if (s.length > 3) {
    const head = s.length % 3 || 3;
    out = s.slice(0, head);
    for (let i = head; i < s.length; i += 3) out += "," + s.slice(i, i + 3);
  }
  return n <= -0.5 ? `-${out}` : out;
}
const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

function cell(tag: "td" | "th", text: string, cls?: string): HTMLElement {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls !== undefined) c.className = cls;
  return c;
}

function row(cells: HTMLElement[], data?: Record<string, string>): HTMLTableRowElement {
  const tr = document.createElement("tr");
  tr.append(...cells);
  for (const [k, v] of Object.entries(data ?? {})) tr.dataset[k] = v;
  return tr;
}

/**
 * Show `rows` (text per cell) in `body`, changing only the cells whose text
 * changed: most updates move a few numbers, and rebuilding the table ten
 * times a second would cost the browser a layout each time.
 */
function fill(body: HTMLTableSectionElement, rows: string[][], cls: (col: number) => string) {
  while (body.rows.length > rows.length) body.deleteRow(body.rows.length - 1);
  rows.forEach((texts, r) => {
    const tr = body.rows[r];
    if (tr === undefined || tr.cells.length !== texts.length) {
      const fresh = row(texts.map((t, c) => cell("td", t, cls(c) || undefined)));
      if (tr === undefined) body.append(fresh);
      else tr.replaceWith(fresh);
      return;
    }
    texts.forEach((t, c) => {
      const td = tr.cells[c]!;
      if (td.textContent !== t) td.textContent = t;
    });
  });
}

/** Replace `head`'s one row when its texts changed. */
function fillHead(head: HTMLTableSectionElement, cells: [string, string?][]): void {
  const texts = cells.map(([t]) => t).join("\u0000");
  if (head.dataset.texts === texts) return;
  head.dataset.texts = texts;
  head.replaceChildren(row(cells.map(([t, cls]) => cell("th", t, cls))));
}

/** Keys of `objs`' records, in first-seen order. */
const keysOf = (objs: Record<string, number>[]): string[] => [
  ...new Set(objs.flatMap((o) => Object.keys(o))),
];

/** Render the process table. */
export function renderProcs(table: HTMLTableElement, procs: ProcRow[]): void {
  const rssKinds = keysOf(procs.map((p) => p.rss)).filter((k) => k !== "free");
  const faultKinds = keysOf(procs.map((p) => p.faults));
  fillHead(table.tHead!, [
    ["pid"],
    ["program", "text"],
    ["state", "text"],
    ...rssKinds.map((k): [string] => [`RSS ${k}`]),
    ...faultKinds.map((k): [string] => [`faults ${k}`]),
    ["instr/s"],
  ]);
  const body = table.tBodies[0]!;
  fill(
    body,
    procs.map((p) => [
      String(p.pid),
      p.program,
      p.state,
      ...rssKinds.map((k) => fmt(p.rss[k] ?? 0)),
      ...faultKinds.map((k) => fmt(p.faults[k] ?? 0)),
      fmt(p.ips),
    ]),
    (c) => (c === 1 || c === 2 ? "text" : ""),
  );
  procs.forEach((p, i) => body.rows[i]!.dataset.pid = String(p.pid));
  table.dataset.count = String(procs.length);
}

/** Prepend new fault records to the ticker, keeping the newest TICKER_ROWS. */
export function renderFaults(table: HTMLTableElement, faults: FaultRecord[]): void {
  const body = table.tBodies[0]!;
  for (const f of faults) {
    body.prepend(row([
      cell("td", String(f.n)),
      cell("td", String(f.pid)),
      cell("td", hex(f.va)),
      cell("td", f.kind, "text"),
      cell("td", String(f.pfn)),
    ], { kind: f.kind }));
  }
  while (body.rows.length > TICKER_ROWS) body.deleteRow(body.rows.length - 1);
}

/** Every number in `v`, flattened to dotted paths ("faults.dax"); arrays become a summary. */
function flatten(v: unknown, path: string, out: Map<string, string>): void {
  if (Array.isArray(v)) {
    const counts = new Map<string, number>();
    for (const x of v) counts.set(String(x), (counts.get(String(x)) ?? 0) + 1);
    out.set(path, [...counts].map(([x, n]) => (n > 1 ? `${n} × ${x}` : x)).join(", ") || "—");
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) flatten(x, path === "" ? k : `${path}.${k}`, out);
  } else {
    out.set(path, typeof v === "number" ? fmt(v) : String(v));
  }
}

/** Render the totals of every run, one column each. */
export function renderTotals(table: HTMLTableElement, runs: RunTotals[]): void {
  const cols = runs.map((r) => {
    const m = new Map<string, string>();
    flatten(r.stats, "", m);
    return m;
  });
  const fields = [...new Set(cols.flatMap((m) => [...m.keys()]))];
  fillHead(table.tHead!, [
    ["field", "text"],
    ...runs.map((r): [string] => [r.live ? `${r.label} (running)` : r.label]),
  ]);
  fill(
    table.tBodies[0]!,
    fields.map((f) => [f, ...cols.map((m) => m.get(f) ?? "—")]),
    (c) => (c === 0 ? "text" : ""),
  );
}
