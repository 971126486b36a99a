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
 * - "view tick": the pieces of the main thread's work per 10 Hz tick with
 *   a stream open, on a machine of 8 processes sharing their text: the
 *   frame snapshot (retaken only after a fault, an allocation or an exit,
 *   and once a second), its compact map, the process table, the new fault
 *   records. Multiply by 10 for the CPU time per second, at worst.
 */

import { VMSTAT } from "../src/abi/layout/mod.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../src/abi/mman.ts";
import { ACCESS_EXEC, ACCESS_WRITE } from "../src/abi/sv32.ts";
import { asInodeSlot, asPfn, asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../src/abi/types.ts";
import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { openVolume } from "../src/fs/xipfs/xipfs_format.ts";
import { statAdd } from "../src/hw/memory.ts";
import { procAlloc, procSet } from "../src/kernel/proc.ts";
import { handleMmFault } from "../src/mm/fault.ts";
import { countFault, FAULT_KIND } from "../src/mm/fault_ring.ts";
import { mmAlloc } from "../src/mm/mm.ts";
import { doMmap } from "../src/mm/mmap.ts";
import { currentTid, setCurrentTid, taskInit } from "../src/sync/mod.ts";
import { readFaultRing } from "../src/ui/fault_reader.ts";
import { frameMapOf, snapshotFrames } from "../src/ui/frames.ts";
import { IpsMeter, processRows } from "../src/ui/procs.ts";
import { boot } from "../tests/mm/_mm_helpers.ts";
import { dax, OPS_DAX } from "../tests/mm/_test_vmops.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const N = QUICK ? 5 : 50;

// --- fault count -----------------------------------------------------------

const mem = boot({ maxTasks: 4, lockdep: false });
const tid = asTaskSlot(2);
const pid = procAlloc(mem, tid, 0);
taskInit(mem.k32, tid);
const COUNTS = 10_000;

Deno.bench({
  name: "stats counter only (before the ring) x10000",
  group: "fault count",
  baseline: true,
  n: N * 10,
  fn() {
    for (let i = 0; i < COUNTS; i++) statAdd(mem, VMSTAT.faultDax, 1n);
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
// What a compute run looks like to the view, built without Workers (nothing
// may keep running into the next bench file): 8 processes, each mapping the
// same 6 device frames (their shared text) and 30 anonymous pages of its own,
// on 64 MiB of RAM and a 16 MiB device.

const vm = boot({ ramFrames: 16384, deviceFrames: 4096, maxTasks: 10, lockdep: false });
dax.base = vm.layout.config.ramFrames + 133;
dax.size = 6;
for (let i = 2; i < 10; i++) {
  const slot = asTaskSlot(i);
  procAlloc(vm, slot, 0);
  const mm = mmAlloc(vm) as MmId;
  procSet(vm, slot, "mm", mm);
  const file = { slot: asInodeSlot(7), ops: OPS_DAX, readable: true, writable: false };
  const text = doMmap(vm, mm, 0, 6 * PAGE_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE, file, 0);
  const data = doMmap(
    vm,
    mm,
    0,
    30 * PAGE_SIZE,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
  );
  for (let p = 0; p < 6; p++) handleMmFault(vm, mm, asVirt(text + p * PAGE_SIZE), ACCESS_EXEC);
  for (let p = 0; p < 30; p++) handleMmFault(vm, mm, asVirt(data + p * PAGE_SIZE), ACCESS_WRITE);
}
const image = mkfs({ sizeBytes: 16 * 1024 * 1024 });
const opened = openVolume(image);
const vol = opened.ok ? opened.vol : null;
const meter = new IpsMeter();
const snap = snapshotFrames(vm, vol);

Deno.bench({
  name: "frame snapshot (16384 RAM + 4096 device frames, 8 mms)",
  group: "view tick",
  baseline: true,
  n: N * 4,
  fn() {
    snapshotFrames(vm, vol);
  },
});

Deno.bench({
  name: "compact frame map (run-length + base64) and its JSON",
  group: "view tick",
  n: N * 4,
  fn() {
    JSON.stringify(frameMapOf(snap));
  },
});

Deno.bench({
  name: "process table of 8 and its JSON",
  group: "view tick",
  n: N * 4,
  fn() {
    JSON.stringify(processRows(vm, snap, meter, performance.now()));
  },
});

Deno.bench({
  name: "fault ring: read the newest 50 records",
  group: "view tick",
  n: N * 4,
  fn() {
    readFaultRing(mem, null, 50);
  },
});
