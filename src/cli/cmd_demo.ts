/**
 * `deno task demo`: the flagship demonstration.
 *
 * It builds an xipfs image of fixtures/rootfs in memory, then runs the same
 * workload twice: PROCS processes of /bin/compute (which links libc.so and
 * libcompute.so) on a machine mounted with dax=always, and again with
 * dax=never. It prints the two runs side by side, every figure read from
 * machine.stats() or timed here, and one sentence built from those figures.
 * Then it runs /bin/counter in PROCS processes against one MAP_SHARED file
 * and reads the counter back from the device.
 *
 * Act two is real third-party code: PROCS processes of the dynamic Lua
 * (musl's ld.so maps libc.so and liblua.so, in place under DAX) run a
 * script that sieves primes, counts words and folds a coroutine, again
 * with dax=always and dax=never, and the table shows what the code cost
 * in RAM (demo_lua.ts).
 *
 * It says what it is doing before each phase, and on a terminal keeps a
 * live line on stderr (processes alive, instructions per second, faults).
 *
 * Usage: `deno task demo [--procs N] [--iterations N] [--increments N]
 * [--ui [HOST:]PORT [--ui-hold]]`, which is `xip demo`. With --ui, a live
 * view of each run (src/ui) is served while the demo goes on, the finished
 * runs' totals side by side.
 *
 * @module
 */

import { mkfs } from "../fs/xipfs/mkfs.ts";
import { openVolume } from "../fs/xipfs/xipfs_format.ts";
import { namei } from "../fs/xipfs/xipfs_namei.ts";
import { fileRead } from "../fs/xipfs/xipfs_file.ts";
import { Machine } from "../kernel/machine.ts";
import type { MachineStats } from "../kernel/stats.ts";
import { type CommandSpec, intOption, type Parsed } from "./_command.ts";
import { CliError, errnoMessage } from "./_common.ts";
import { formatDuration, machineProgress, StatusLine } from "./_progress.ts";
import { type CliView, openUi, UI_OPTIONS } from "./_ui.ts";
import { luaAct } from "./demo_lua.ts";

const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const IMAGE_BYTES = 16 * 1024 * 1024;
const RAM_BYTES = 64 * 1024 * 1024;

interface RunResult {
  mode: "always" | "never";
  stats: MachineStats;
  /** Spawn of the first process to the exit of the last, measured here. */
  wallMs: number;
  bootUsedFrames: number;
  outputs: string[];
  codes: number[];
}

/** Run `procs` × compute on a fresh machine mounted with `dax`. */
async function runCompute(
  image: Uint8Array,
  dax: "always" | "never",
  procs: number,
  iterations: number,
  status: StatusLine,
  ui: CliView | null,
): Promise<RunResult> {
  const machine = await Machine.boot({
    image: image.slice(),
    dax,
    ram: RAM_BYTES,
    maxProcs: procs,
    warm: procs,
  });
  const watched = ui?.watch(`dax=${dax}: ${procs} × /bin/compute ${iterations}`, machine);
  try {
    const outputs = Array.from({ length: procs }, () => "");
    const dec = new TextDecoder();
    const t0 = performance.now();
    const ps = outputs.map((_, i) =>
      machine.spawn("/bin/compute", ["/bin/compute", String(iterations)], {
        stdout: (b) => outputs[i] += dec.decode(b),
        stderr: (b) => outputs[i] += dec.decode(b),
      })
    );
    const stop = machineProgress(machine, status, `  dax=${dax}`);
    const exits = await Promise.all(ps.map((p) => p.wait())).finally(stop);
    const wallMs = performance.now() - t0;
    return {
      mode: dax,
      stats: machine.stats(),
      wallMs,
      bootUsedFrames: machine.stats().ram.total_frames - machine.bootFreeFrames,
      outputs,
      codes: exits.map((e) => e.code),
    };
  } finally {
    watched?.finish();
    await machine.shutdown();
  }
}

/** Run the shared counter and read /count back from the device. */
async function runCounter(
  image: Uint8Array,
  procs: number,
  n: number,
  status: StatusLine,
  ui: CliView | null,
): Promise<number> {
  const machine = await Machine.boot({
    image: image.slice(),
    dax: "always",
    ram: RAM_BYTES,
    maxProcs: procs,
    warm: procs,
  });
  const watched = ui?.watch(`dax=always: ${procs} × /bin/counter /count ${n}`, machine);
  try {
    const ps = Array.from(
      { length: procs },
      () => machine.spawn("/bin/counter", ["/bin/counter", "/count", String(n)]),
    );
    const stop = machineProgress(machine, status, "  counter");
    const exits = await Promise.all(ps.map((p) => p.wait())).finally(stop);
    const bad = exits.find((e) => e.code !== 0);
    if (bad) {
      throw new CliError(
        `/bin/counter exited ${bad.code}${bad.message ? `: ${bad.message}` : ""}`,
        1,
      );
    }
    // Every process has exited and unmapped: the word is on the device.
    const opened = openVolume(machine.device.bytes);
    if (!opened.ok) throw new CliError(`cannot read the device back: ${opened.error}`, 1);
    const ino = namei(opened.vol, "/count");
    if (ino < 0) throw new CliError(`/count: ${errnoMessage(ino)}`, 1);
    const bytes = fileRead(opened.vol, ino, 0, 4);
    if (typeof bytes === "number") throw new CliError(`/count: ${errnoMessage(bytes)}`, 1);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  } finally {
    watched?.finish();
    await machine.shutdown();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

function table(a: RunResult, b: RunResult): string {
  const rows: [string, (r: RunResult) => string][] = [
    ["processes", (r) => fmt(r.stats.procs)],
    ["exit statuses", (r) => [...new Set(r.codes)].join(",")],
    ["device frames mapped (code in place)", (r) => fmt(r.stats.device.mapped_frames)],
    ["page-cache frames", (r) => fmt(r.stats.ram.pagecache_frames)],
    ["RAM frames used at boot", (r) => fmt(r.bootUsedFrames)],
    ["RAM frames used, peak", (r) => fmt(r.stats.ram.peak_used_frames)],
    ["page-table frames after exit", (r) => fmt(r.stats.ram.pagetable_frames)],
    ["bytes copied: page-cache fill", (r) => fmt(r.stats.copied_bytes.pagecache_fill)],
    ["bytes copied: COW", (r) => fmt(r.stats.copied_bytes.cow)],
    ["faults: dax", (r) => fmt(r.stats.faults.dax)],
    ["faults: file major", (r) => fmt(r.stats.faults.file_major)],
    ["faults: file minor", (r) => fmt(r.stats.faults.file_minor)],
    ["faults: cow", (r) => fmt(r.stats.faults.cow)],
    ["faults: anon", (r) => fmt(r.stats.faults.anon)],
    ["faults: zero page", (r) => fmt(r.stats.faults.zero)],
    ["instructions retired", (r) => fmt(r.stats.instret)],
    ["instructions per second", (r) => fmt(r.stats.instret / (r.wallMs / 1000))],
    ["wall time, spawn to last exit (ms)", (r) => fmt(r.wallMs)],
  ];
  const w0 = Math.max(...rows.map(([k]) => k.length));
  const cells = rows.map(([k, f]) => [k, f(a), f(b)] as const);
  const w1 = Math.max("dax=always".length, ...cells.map((c) => c[1].length));
  const w2 = Math.max("dax=never".length, ...cells.map((c) => c[2].length));
  const line = (k: string, x: string, y: string) =>
    `  ${k.padEnd(w0)}  ${x.padStart(w1)}  ${y.padStart(w2)}`;
  return [
    line("", "dax=always", "dax=never"),
    line("".padEnd(w0, "-"), "".padEnd(w1, "-"), "".padEnd(w2, "-")),
    ...cells.map(([k, x, y]) => line(k, x, y)),
  ].join("\n");
}

/** `xip demo` (`deno task demo`). */
export const DEMO: CommandSpec = {
  name: "demo",
  usage: "[--procs N] [--iterations N] [--increments N] [--ui PORT]",
  summary: "the demonstration: DAX against the page cache, side by side",
  about: `Build an xipfs image of fixtures/rootfs in memory, run N processes of
/bin/compute (which links libc.so and libcompute.so) with dax=always and
again with dax=never, print the two runs side by side, then run
/bin/counter in N processes against one MAP_SHARED file and check the total.
Act two: N processes of the real Lua 5.4 (dynamic, musl) run a script,
with dax=always and dax=never, and the RAM their code took is compared.`,
  options: [
    { name: "procs", arg: "N", help: "processes per run (default 8)" },
    { name: "iterations", arg: "N", help: "iterations of /bin/compute (default 16)" },
    { name: "increments", arg: "N", help: "increments per /bin/counter process (default 1000)" },
    ...UI_OPTIONS,
  ],
  exit: "0 when every process succeeded, all printed the same and the\n" +
    "count is exact; 1 otherwise; 2 bad usage.",
  run: runDemo,
};

async function runDemo(p: Parsed): Promise<number> {
  const procs = intOption(p, "procs", 1, 1024, 8);
  const iterations = intOption(p, "iterations", 1, 1_000_000, 16);
  const increments = intOption(p, "increments", 1, 1_000_000_000, 1000);
  const status = new StatusLine();
  const ui = openUi(p.values, (line) => console.error(`xip demo: ${line}`));
  console.log(`xip demo: building an xipfs image of fixtures/rootfs in memory`);
  const image = mkfs({ sizeBytes: IMAGE_BYTES, from: ROOTFS });

  console.log(`running ${procs} × /bin/compute ${iterations} with dax=always, then dax=never`);
  const runs: RunResult[] = [];
  for (const mode of ["always", "never"] as const) {
    console.log(`  dax=${mode}: booting a machine and starting ${procs} processes`);
    const r = await runCompute(image, mode, procs, iterations, status, ui);
    console.log(
      `  dax=${mode}: all ${procs} exited after ${formatDuration(r.wallMs)}, ` +
        `${fmt(r.stats.instret)} instructions`,
    );
    runs.push(r);
  }
  const [dax, pc] = runs as [RunResult, RunResult];
  console.log(`\n${table(dax, pc)}`);

  const all = [...dax.outputs, ...pc.outputs];
  const same = all.every((o) => o === all[0]);
  console.log(
    `\nall ${all.length} processes printed ${same ? "the same" : "DIFFERENT"} output; ` +
      `process 1 said:\n${(all[0] ?? "").trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}`,
  );
  const failed = [...dax.codes, ...pc.codes].some((c) => c !== 0);

  const s = dax.stats, t = pc.stats;
  console.log(
    `\nWith DAX, ${s.procs} processes ran libc.so and libcompute.so in place from ` +
      `${fmt(s.device.mapped_frames)} shared device frames, with ${fmt(s.ram.pagecache_frames)} ` +
      `page-cache frames and ${fmt(s.copied_bytes.pagecache_fill)} bytes copied into a cache; ` +
      `the page cache ran the same work from ${fmt(t.ram.pagecache_frames)} RAM copies ` +
      `(${fmt(t.copied_bytes.pagecache_fill)} bytes copied), and the DAX run executed ` +
      `${fmt(s.instret / (dax.wallMs / 1000))} instructions/s against ` +
      `${fmt(t.instret / (pc.wallMs / 1000))} from the page cache.`,
  );

  console.log(`\nshared counter: ${procs} × /bin/counter /count ${increments} (dax=always)`);
  const count = await runCounter(image, procs, increments, status, ui);
  const want = procs * increments;
  console.log(
    `  /count holds ${fmt(count)}; expected ${procs} × ${increments} = ${fmt(want)}: ` +
      `${count === want ? "exact" : "WRONG"}`,
  );
  const luaOk = await luaAct(image, procs, status, ui);
  await ui?.close();
  return failed || !same || count !== want || !luaOk ? 1 : 0;
}
