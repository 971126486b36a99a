/**
 * The live view in a real browser: Debian's Chromium, headless, driven by
 * puppeteer-core, watching 8 compute processes on a dax=always machine.
 * Skipped, with one line saying why, when no browser can be had.
 *
 * XIP_UI_SCREENSHOT=PATH also saves the screenshot there (the README's
 * docs/live-view.png is made that way).
 *
 * @module
 */

import assert from "node:assert/strict";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { decodeFrameCodes, type FrameMap } from "../../src/ui/encode.ts";
import { startViewServer } from "../../src/ui/server.ts";
import { View } from "../../src/ui/view.ts";
import { browserUnavailable, launchBrowser, type TestBrowser } from "./_browser.ts";

const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const PROCS = 8;
const MIB = 1024 * 1024;

const skip = await browserUnavailable();
if (skip !== null) console.error(`tests/ui/browser_test.ts: skipped: ${skip}`);

// The page's DOM, as far as the callbacks below use it: they run in
// Chromium, and Deno's type library (which type-checks this file) has none.
interface PageRow {
  dataset: Record<string, string | undefined>;
  cells: ArrayLike<PageEl> & Iterable<PageEl>;
}
interface PageEl {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  children: Iterable<PageEl>;
  tBodies: ArrayLike<{ rows: ArrayLike<PageRow> & Iterable<PageRow> }>;
  tHead: { rows: ArrayLike<PageRow> } | null;
  width: number;
  height: number;
  getBoundingClientRect(): { left: number; top: number; width: number; height: number };
}
declare const document: { getElementById(id: string): PageEl | null };

/** What the page's DOM holds, gathered in the page. */
interface DomFacts {
  rows: { pid: string; cells: string[] }[];
  head: string[];
  legend: string[];
  ticker: number;
  totals: Record<string, string[]>;
  totalsHead: string[];
  summary: string;
  canvas: { width: number; height: number; cell: number; cols: number; deviceRow: number };
  rect: { left: number; top: number; width: number; height: number };
  updates: number;
}

Deno.test({
  name: "the live view shows 8 processes sharing DAX device frames in headless Chromium",
  ignore: skip !== null,
  sanitizeOps: false, // puppeteer keeps timers and a child process of its own
  sanitizeResources: false,
  async fn() {
    const image = mkfs({ sizeBytes: 16 * MIB, from: ROOTFS });
    const machine = await Machine.boot({
      image,
      dax: "always",
      ram: 64 * MIB,
      maxProcs: PROCS,
      warm: PROCS,
      stdout: () => {},
      stderr: () => {},
    });
    const view = new View();
    const server = startViewServer(view, { hostname: "127.0.0.1", port: 0 });
    view.addRun(`${PROCS} × /bin/compute, dax=always`, machine);
    let tb: TestBrowser | null = null;
    try {
      // Long enough to outlast the test; shutdown kills them.
      for (let i = 0; i < PROCS; i++) machine.spawn("/bin/compute", ["/bin/compute", "4000"]);
      tb = await launchBrowser();
      const page = await tb.browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on("request", (r) => void requests.push(r.url()));
      page.on("pageerror", (e) => void errors.push(String(e)));
      page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
      await page.goto(server.url, { waitUntil: "load" });
      await page.waitForFunction(
        (n: number) =>
          document.getElementById("frame-summary")?.dataset.deviceMaxMappers === String(n) &&
          document.getElementById("procs")?.dataset.count === String(n) &&
          Number(document.getElementById("status")?.dataset.updates) >= 2 && // the stream goes on
          // Every process's rate is live (instr/s, the last column).
          [...(document.getElementById("procs")?.tBodies[0]?.rows ?? [])].every((tr) =>
            Number((tr.cells[tr.cells.length - 1]?.textContent ?? "").replace(/,/g, "")) > 0
          ),
        { timeout: 60_000, polling: 100 },
        PROCS,
      );
      const dom = await page.evaluate((): DomFacts => {
        const el = (id: string) => document.getElementById(id)!;
        const texts = (list: Iterable<PageEl>) => [...list].map((c) => c.textContent ?? "");
        const procs = el("procs");
        const totals = el("totals");
        const canvas = el("frames");
        const r = canvas.getBoundingClientRect();
        return {
          rows: [...procs.tBodies[0]!.rows].map((tr) => ({
            pid: tr.dataset.pid ?? "",
            cells: texts(tr.cells),
          })),
          head: texts(procs.tHead!.rows[0]!.cells),
          legend: texts(el("legend").children),
          ticker: el("ticker").tBodies[0]!.rows.length,
          totals: Object.fromEntries(
            [...totals.tBodies[0]!.rows].map((tr) => {
              const c = texts(tr.cells);
              return [c[0]!, c.slice(1)];
            }),
          ),
          totalsHead: texts(totals.tHead!.rows[0]!.cells),
          summary: el("frame-summary").textContent ?? "",
          canvas: {
            width: canvas.width,
            height: canvas.height,
            cell: Number(canvas.dataset.cell),
            cols: Number(canvas.dataset.cols),
            deviceRow: Number(canvas.dataset.deviceRow),
          },
          rect: { left: r.left, top: r.top, width: r.width, height: r.height },
          updates: Number(el("status").dataset.updates),
        };
      });

      // The process table: 8 distinct processes of /bin/compute, each with
      // device frames resident (its shared text) and DAX faults counted.
      assert.equal(dom.rows.length, PROCS);
      assert.equal(new Set(dom.rows.map((r) => r.pid)).size, PROCS);
      const col = (name: string) => {
        const i = dom.head.indexOf(name);
        assert.ok(i >= 0, `process table has no "${name}" column: ${dom.head.join(" | ")}`);
        return i;
      };
      for (const r of dom.rows) {
        assert.equal(r.cells[col("program")], "/bin/compute");
        assert.ok(
          ["user", "kernel", "sleeping", "starting"].includes(r.cells[col("state")]!),
          r.cells.join(" | "),
        );
        assert.ok(Number(r.cells[col("RSS device")]!.replace(/,/g, "")) > 0, r.cells.join(" | "));
        assert.ok(Number(r.cells[col("faults dax")]!.replace(/,/g, "")) > 0, r.cells.join(" | "));
        assert.ok(Number(r.cells[col("instr/s")]!.replace(/,/g, "")) > 0, r.cells.join(" | "));
      }
      // The frame map: legend, summary, geometry.
      for (const kind of ["RAM: free", "RAM: anonymous", "RAM: page table", "device: file data"]) {
        assert.ok(dom.legend.includes(kind), `legend lacks "${kind}": ${dom.legend.join(", ")}`);
      }
      assert.match(dom.summary, /the most shared by 8 processes/);
      assert.ok(dom.canvas.cell >= 1 && dom.canvas.height > 0);
      // The ticker and the totals.
      assert.ok(dom.ticker > 0, "the fault ticker is empty");
      assert.equal(dom.totalsHead.length, 2);
      assert.ok(Number(dom.totals["faults.dax"]![0]!.replace(/,/g, "")) > 0);
      assert.ok(Number(dom.totals["device.mapped_frames"]![0]!.replace(/,/g, "")) > 0);

      // Hover a device frame that all 8 map: the box names it, its file and offset.
      const map = await (await fetch(`${server.url}api/frames`)).json() as FrameMap;
      const mappers = decodeFrameCodes(map.device_mappers, map.device_frames);
      const i = mappers.indexOf(PROCS);
      assert.ok(i >= 0, "no device frame mapped by every process");
      const c = dom.canvas, scale = dom.rect.width / c.width;
      const x = dom.rect.left + ((i % c.cols) + 0.5) * c.cell * scale;
      const y = dom.rect.top + (c.deviceRow + Math.floor(i / c.cols) + 0.5) * c.cell * scale;
      await page.mouse.move(x, y);
      await page.waitForFunction(
        () =>
          /file: \/\S+, offset \d+/.test(document.getElementById("frame-tip")?.textContent ?? ""),
        { timeout: 10_000, polling: 50 },
      );
      const tip = await page.$eval("#frame-tip", (e) => e.textContent ?? "");
      assert.match(tip, new RegExp(`pfn ${map.device_base + i} \\(device block ${i}\\)`));
      assert.match(tip, /mapped by 8 process\(es\): pid \d+(, \d+){7}/);
      assert.match(tip, /refcount: none/);

      const png = await page.screenshot({ fullPage: true, type: "png" });
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]); // "\x89PNG"
      const out = Deno.env.get("XIP_UI_SCREENSHOT") ??
        await Deno.makeTempFile({ prefix: "xip-live-view-", suffix: ".png" });
      await Deno.writeFile(out, png);

      // Everything came from the view's own origin: no CDN, no network.
      const foreign = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith("data:"));
      assert.deepEqual(foreign, []);
      assert.deepEqual(errors, []);
    } finally {
      await tb?.close();
      await server.close();
      await machine.shutdown();
    }
  },
});
