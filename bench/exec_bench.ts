/**
 * Exec: spawn to exit of the compute-bound guest (`/bin/compute 1`, which
 * calls libcompute.so) in the three modes of issue 7, one warm Machine per
 * mode, the page cache as the baseline:
 *
 * - dax: text mapped in place from the memory device (dax=always, textMode "map");
 * - pagecache: text mapped from page-cache copies in RAM (dax=never, "map");
 * - copy: every process copies its text into private anonymous memory
 *   (textMode "copy"), a runtime without shared code.
 *
 *   deno bench -A bench/exec_bench.ts      (XIP_BENCH_QUICK=1: 5 iterations each)
 *
 * A mode whose exec fell back to copying (the counters show no DAX or file
 * faults) says so in its bench name, so the report never passes copied
 * text off as mapped.
 *
 * @module
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const ITER = QUICK ? { n: 5, warmup: 1 } : {};
const ROOTFS = new URL("../fixtures/rootfs", import.meta.url).pathname;
const image = mkfs({ sizeBytes: 8 << 20, from: ROOTFS });
const quiet = (_d: Uint8Array): void => {};

const MODES = [
  ["pagecache", { dax: "never", textMode: "map" }],
  ["dax", { dax: "always", textMode: "map" }],
  ["copy", { dax: "always", textMode: "copy" }],
] as const;

async function compute(m: Machine): Promise<void> {
  const s = await m.spawn("/bin/compute", ["compute", "1"]).wait();
  if (s.code !== 0) throw new Error(`compute exited ${s.code}: ${s.message ?? ""}`);
}

const machines: Machine[] = [];
for (const [mode, opts] of MODES) {
  const m = await Machine.boot({
    image: image.slice(),
    ram: 32 << 20,
    warm: 1,
    ...opts,
    stdout: quiet,
    stderr: quiet,
    keepWarmMs: Infinity, // the warmed Worker must stay warm until the benchmarks run
  });
  machines.push(m);
  await compute(m); // warms the Worker, and tells whether text was placed as the mode says
  const f = m.stats().faults;
  const fellBack = (mode === "dax" && f.dax === 0) ||
    (mode === "pagecache" && f.file_minor + f.file_major === 0);
  Deno.bench({
    name: `compute 1, ${mode}${fellBack ? " (text copied: exec cannot map files yet)" : ""}`,
    group: "exec",
    baseline: mode === "pagecache",
    ...ITER,
    // async: Deno.bench awaits only async functions, not arrows that return a promise.
    fn: async () => {
      await compute(m);
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const m of machines) m.shutdown();
});
