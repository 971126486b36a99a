/**
 * What the live view costs, piece by piece (bench/ui_compare.ts measures
 * the whole: a run's slowdown with the view open against closed).
 *
 *   deno bench -A bench/ui_bench.ts        (XIP_BENCH_QUICK=1: fewer iterations)
 *
 * - "fault count": countFault (the machine-wide counter, the task's
 *   counter and a fault-ring record) against the bare Atomics.add on the
 *   stats counter that counting a fault was before the ring: the price every
 *   fault pays, view open or not.
 * - "view tick": the main thread's work per 10 Hz tick while 8 compute
 *   processes run: sampling the stats (always), a full update for a
 *   connected stream, and the frame snapshot it retakes after a fault.
 *   Multiply by 10 for the CPU time per second the view takes from guests.
 */

import { STAT } from "../src/abi/layout.ts";
import { asPfn, asTid, asVirt } from "../src/abi/types.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { openVolume } from "../src/fs/xipfs_format.ts";
import { statAdd } from "../src/hw/memory.ts";
import { Machine } from "../src/kernel/machine.ts";
import { procAlloc } from "../src/kernel/proc.ts";
import { countFault, FAULT_KIND } from "../src/mm/fault_ring.ts";
import { currentTid, setCurrentTid, taskInit } from "../src/sync/mod.ts";
import { frameMapOf, snapshotFrames } from "../src/ui/frames.ts";
import { IpsMeter, processRows } from "../src/ui/procs.ts";
import { View } from "../src/ui/view.ts";
import { boot } from "../tests/mm/_mm_helpers.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const N = QUICK ? 5 : 50;
const MIB = 1024 * 1024;
const ROOTFS = new URL("../fixtures/rootfs", import.meta.url).pathname;

// --- fault count -----------------------------------------------------------

const mem = boot({ maxTasks: 4, lockdep: false });
const tid = asTid(2);
const pid = procAlloc(mem, tid, 0);
taskInit(mem.k32, tid);
const COUNTS = 10_000;

Deno.bench({
  name: "stats counter only (before the ring) x10000",
  group: "fault count",
  baseline: true,
  n: N * 10,
  fn() {
    for (let i = 0; i < COUNTS; i++) statAdd(mem, STAT.faultDax, 1n);
  },
});

Deno.bench({
  name: "countFault (counter + task counter + ring record) x10000",
  group: "fault count",
  n: N * 10,
  fn() {
    const saved = currentTid();
    setCurrentTid(tid);
    for (let i = 0; i < COUNTS; i++) {
      countFault(mem, FAULT_KIND.dax, asVirt(i << 12), asPfn(pid + i));
    }
    setCurrentTid(saved);
  },
});

// --- view tick ---------------------------------------------------------------

const machine = await Machine.boot({
  image: mkfs({ sizeBytes: 16 * MIB, from: ROOTFS }),
  dax: "always",
  ram: 64 * MIB,
  maxProcs: 8,
  warm: 8,
  stdout: () => {},
  stderr: () => {},
});
for (let i = 0; i < 8; i++) machine.spawn("/bin/compute", ["/bin/compute", "100000"]);
// Let every process fault its text and data in.
while (machine.stats().faults.dax < 8 * 6) await new Promise((r) => setTimeout(r, 20));
const opened = openVolume(machine.device.bytes);
const vol = opened.ok ? opened.vol : null;
const view = new View();
const run = view.addRun("bench", machine);
let bytes = 0;
view.subscribe((_event, json) => void (bytes += json.length));

Deno.bench({
  name: "stats sample only (no stream open)",
  group: "view tick",
  baseline: true,
  n: N * 4,
  fn() {
    run.stats();
  },
});

Deno.bench({
  name: "tick with a stream open, frame map unchanged",
  group: "view tick",
  n: N * 4,
  fn() {
    view.tick();
  },
});

Deno.bench({
  name: "frame snapshot + compact map (after a fault)",
  group: "view tick",
  n: N * 4,
  fn() {
    frameMapOf(snapshotFrames(machine.mem, vol));
  },
});

const meter = new IpsMeter();
Deno.bench({
  name: "process table of 8",
  group: "view tick",
  n: N * 4,
  fn() {
    processRows(machine.mem, run.frames(performance.now()), meter, performance.now());
  },
});

globalThis.addEventListener("unload", () => {
  view.close();
  // The Workers are killed with the process; shutdown would wait for them.
});
