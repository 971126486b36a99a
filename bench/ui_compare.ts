/**
 * How much the live view slows the guests: 8 processes of /bin/compute on
 * a dax=always machine, run with the view closed and open, interleaved
 * round by round (the order rotates) so that load from other processes on
 * the shared 2-core host hits every mode alike.
 *
 *   deno run -A bench/ui_compare.ts [rounds] [iterations]     (default 3 rounds, compute 1500)
 *
 * With the translator on, compute 1500 runs about 20 s per mode on a quiet
 * 2-core machine and compute 320 about 5 s. A short run weighs the view's
 * start-up work more (the first frame map with the new processes, their
 * table rows, the burst of faults in the ticker and plot), so give the
 * figure with the run length it was measured on.
 *
 * Modes:
 *   closed   no view (what a run without --ui does)
 *   served   the view's server and its 10 Hz tick, nobody watching
 *   stream   a client reading GET /api/stream (the server's whole work for a viewer)
 *   browser  the page open in headless Chromium (a plain process, nothing
 *            attached): server, stream, and the browser's own work on the
 *            same two cores (skipped when no Chromium can be had, with the
 *            reason)
 *   blank    no view, and headless Chromium showing about:blank: what a
 *            browser costs before it shows the view, so that the last
 *            column can tell the page's work from Chromium's own
 *
 * Throughput = instructions retired by all 8 processes / wall time from the
 * first spawn to the last exit. The slowdown of a mode is 1 - its median
 * throughput / the closed median. The view's ring writes are paid in every
 * mode, closed included (bench/ui_bench.ts prices them per fault).
 *
 * On a loaded host the throughput ratio is noisy, so the CPU time each part
 * took is also counted, from Linux's per-thread counters (/proc, in 10 ms
 * ticks): the guests (the "worker-N" threads), Deno's main thread (the
 * Machine and the view's server), and Chromium's process tree. With the
 * guests CPU-bound on 2 cores, the CPU the view takes is what they lose.
 * Two figures come from that: the view's CPU (main thread - main thread
 * when closed, plus the browser) per second of run, and that rate over all
 * the cores (navigator.hardwareConcurrency × 1000 ms/s): the slowdown on an
 * otherwise idle machine, where the guests would have every core. Neither
 * depends much on what else runs on the host; the throughput ratio does.
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";
import { startViewServer, type ViewServer } from "../src/ui/server.ts";
import { View } from "../src/ui/view.ts";
import { browserUnavailable, openPlainChromium, type PlainBrowser } from "../tests/ui/_browser.ts";

const ROUNDS = Number(Deno.args[0] ?? 3);
const ITERATIONS = Number(Deno.args[1] ?? 1500);
const PROCS = 8;
const MIB = 1024 * 1024;
const ROOTFS = new URL("../fixtures/rootfs", import.meta.url).pathname;
const image = mkfs({ sizeBytes: 16 * MIB, from: ROOTFS });

type Mode = "closed" | "served" | "stream" | "browser" | "blank";

const TICK_MS = 1000 / 100; // USER_HZ: /proc counts CPU time in 10 ms ticks

/** utime + stime (+ cutime + cstime with `children`) of a /proc stat file, in ms; 0 if gone. */
function statCpuMs(path: string, children = false): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return 0;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
  // Fields after the comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
  return (f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)) * TICK_MS;
}

/** CPU ms of this process's threads: the main thread, and the Workers ("worker-N") by tid. */
function threadCpu(): { main: number; workers: Map<string, number> } {
  const workers = new Map<string, number>();
  for (const e of Deno.readDirSync("/proc/self/task")) {
    let comm = "";
    try {
      comm = Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).trim();
    } catch { /* the thread ended */ }
    if (comm.startsWith("worker-")) {
      workers.set(e.name, statCpuMs(`/proc/self/task/${e.name}/stat`));
    }
  }
  return { main: statCpuMs(`/proc/self/task/${Deno.pid}/stat`), workers };
}

/** CPU ms of process `root` and its descendants (reaped children included). */
function treeCpu(root: number | undefined): number {
  if (root === undefined) return 0;
  const parent = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const t = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      parent.set(Number(e.name), Number(t.slice(t.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone */ }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) {
      if (p === root) return true;
    }
    return false;
  };
  let ms = 0;
  for (const pid of parent.keys()) {
    if (inTree(pid)) ms += statCpuMs(`/proc/${pid}/stat`, pid === root);
  }
  return ms;
}

const noBrowser = await browserUnavailable();
const modes: Mode[] = [
  "closed",
  "served",
  "stream",
  ...(noBrowser === null ? ["browser" as const, "blank" as const] : []),
];
if (noBrowser !== null) console.error(`ui_compare: browser mode skipped: ${noBrowser}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keep reading a server-sent event stream until aborted; returns the bytes read. */
async function drain(url: string, signal: AbortSignal): Promise<number> {
  let n = 0;
  try {
    const r = await fetch(url, { signal });
    const reader = r.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
    }
  } catch { /* aborted */ }
  return n;
}

interface RunResult {
  ips: number;
  ms: number;
  /** CPU ms: the guests' Workers, the main thread, the browser. */
  guests: number;
  main: number;
  browser: number;
}

/** One run of 8 × compute in `mode`: throughput, wall time and CPU by part. */
async function runOnce(mode: Mode): Promise<RunResult> {
  const machine = await Machine.boot({
    image: image.slice(),
    dax: "always",
    ram: 64 * MIB,
    maxProcs: PROCS,
    warm: PROCS,
    stdout: () => {},
    stderr: () => {},
  });
  let server: ViewServer | null = null;
  const abort = new AbortController();
  let stream: Promise<number> = Promise.resolve(0);
  let browser: PlainBrowser | null = null;
  try {
    if (mode === "blank") {
      browser = await openPlainChromium("about:blank");
      await sleep(2000); // its start-up work over, as for the page
    } else if (mode !== "closed") {
      const view = new View();
      view.addRun("bench", machine);
      server = startViewServer(view, { hostname: "127.0.0.1", port: 0 });
      if (mode === "stream") stream = drain(`${server.url}api/stream`, abort.signal);
      if (mode === "browser") {
        browser = await openPlainChromium(server.url);
        // Start the run once the page is up and its start-up work is over.
        const deadline = performance.now() + 30_000;
        while (view.watchers === 0 && performance.now() < deadline) await sleep(50);
        if (view.watchers === 0) throw new Error("the browser never opened the stream");
        await sleep(1000);
      }
    }
    const cpu0 = threadCpu();
    const b0 = treeCpu(browser?.pid);
    const t0 = performance.now();
    const ps = Array.from(
      { length: PROCS },
      () => machine.spawn("/bin/compute", ["/bin/compute", String(ITERATIONS)]),
    );
    const exits = await Promise.all(ps.map((p) => p.wait()));
    const ms = performance.now() - t0;
    const cpu1 = threadCpu();
    const browserMs = browser !== null ? treeCpu(browser.pid) - b0 : 0;
    if (exits.some((e) => e.code !== 0)) throw new Error(`a compute process failed in ${mode}`);
    let guests = 0;
    for (const [tid, t] of cpu1.workers) guests += t - (cpu0.workers.get(tid) ?? 0);
    return {
      ips: machine.stats().instret / (ms / 1000),
      ms,
      guests,
      main: cpu1.main - cpu0.main,
      browser: browserMs,
    };
  } finally {
    abort.abort();
    const streamed = await stream;
    await browser?.close();
    await server?.close();
    await machine.shutdown();
    if (mode === "stream" && streamed === 0) console.error("ui_compare: the stream read nothing");
  }
}

const results = new Map<Mode, RunResult[]>(modes.map((m) => [m, []]));
const load0 = Deno.loadavg();
const t0 = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  const order = modes.map((_, i) => modes[(i + r) % modes.length]!);
  for (const mode of order) {
    const x = await runOnce(mode);
    results.get(mode)!.push(x);
    console.error(`round ${r + 1}/${ROUNDS} ${mode}: ${(x.ips / 1e6).toFixed(2)} M instr/s`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const base = median(results.get("closed")!.map((x) => x.ips));
console.log(
  `8 × compute ${ITERATIONS}, dax=always, ${ROUNDS} interleaved rounds, ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${
      load0.map((l) => l.toFixed(1)).join(" ")
    }\n`,
);
const mainClosed = median(results.get("closed")!.map((x) => x.main));
/** Chromium's own CPU per second of run on a blank page (0 without the blank mode). */
const blankRate = results.has("blank")
  ? median(results.get("blank")!.map((x) => x.browser / (x.ms / 1000)))
  : 0;
const cores = navigator.hardwareConcurrency;
console.log(
  "| mode | median M instr/s | min … max | median wall | slowdown vs closed | CPU ms: guests / main thread / browser | view's CPU per s of run | its share of " +
    `${cores} cores |`,
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const mode of modes) {
  const xs = results.get(mode)!;
  const ips = xs.map((x) => x.ips / 1e6);
  const m = median(xs.map((x) => x.ips));
  const g = median(xs.map((x) => x.guests)), mt = median(xs.map((x) => x.main));
  const b = median(xs.map((x) => x.browser));
  const rate = median(
    xs.map((x) => (Math.max(0, x.main - mainClosed) + x.browser) / (x.ms / 1000)),
  );
  console.log(
    `| ${mode} | ${(m / 1e6).toFixed(2)} | ${Math.min(...ips).toFixed(2)} … ${
      Math.max(...ips).toFixed(2)
    } | ${median(xs.map((x) => x.ms)).toFixed(0)} ms | ${((1 - m / base) * 100).toFixed(1)} % | ${
      g.toFixed(0)
    } / ${mt.toFixed(0)} / ${b.toFixed(0)} | ${
      mode === "closed" ? "—" : `${rate.toFixed(1)} ms`
    } | ${mode === "closed" ? "—" : `${((rate / (cores * 1000)) * 100).toFixed(2)} %`} |`,
  );
}
if (results.has("blank") && results.has("browser")) {
  const xs = results.get("browser")!;
  const page = median(
    xs.map((x) => Math.max(0, x.main - mainClosed) + x.browser - blankRate * (x.ms / 1000)),
  ) / (median(xs.map((x) => x.ms)) / 1000);
  console.log(
    `\nChromium on about:blank alone: ${blankRate.toFixed(1)} ms of CPU per s. ` +
      `The view with its page open, beyond that: ${page.toFixed(1)} ms per s, ` +
      `${((page / (cores * 1000)) * 100).toFixed(2)} % of ${cores} cores.`,
  );
}
