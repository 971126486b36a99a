/**
 * Worker entry of the stress harness (not a test): one task running
 * StressProc operations on the machine the runner booted, until its op
 * budget or the deadline, then its final state goes back to the runner.
 */

/// <reference lib="deno.worker" />

import { asTaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { installFileMm } from "../../src/fs/file_vm_ops.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { attachXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { perturbSeed, setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { taskExit } from "../../src/sync/current.ts";
import { StressProc } from "./_stress_ops.ts";

export interface StressJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  /** Worker index 0..workers-1. */
  w: number;
  /** Its task id (the runner's: w + 2; next to a Machine's processes: above their slots). */
  tid: number;
  workers: number;
  seed: number;
  /** Stop after this many operations... */
  ops: number;
  /** ...or after this many ms from the Worker's start, whichever is first. */
  ms: number;
  /** Int32 per Worker: operations done (the runner's watchdog reads it). */
  progress: SharedArrayBuffer;
  /** RAM is short on purpose: OOM failures are allowed outcomes. */
  pressure: boolean;
}

export interface StressResult {
  w: number;
  ops: number;
  counts: Record<string, number>;
  violations: string[];
  /** Last seq written per shared file and slot. */
  lastSeq: number[][];
  /** Own files' models: size and content. */
  own: { size: number; bytes: Uint8Array; poisoned: boolean }[];
  /** An exception that escaped (a kernel panic or a harness bug). */
  error: string | null;
}

self.onmessage = (ev: MessageEvent<StressJob>) => {
  const job = ev.data;
  const until = Date.now() + job.ms; // from here: loading the module may take seconds
  const mem = attachMemory(job.phys, job.kernel);
  const tid = asTaskSlot(job.tid);
  taskInit(mem.k32, tid);
  setCurrentTid(tid);
  perturbSeed(job.seed ^ (job.w * 0x9e37_79b9));
  const progress = new Int32Array(job.progress);
  const x = attachXipfs(mem, new MemDevice(mem));
  if (!(x instanceof XipFs)) throw new Error(`attachXipfs: ${x.error}`);
  installFileMm(x);
  let p: StressProc | null = null;
  let error: string | null = null;
  try {
    p = new StressProc(
      mem,
      x,
      new XipVfs(x),
      job.w,
      job.workers,
      job.seed * 131 + job.w,
      job.pressure,
    );
    for (let i = 0; i < job.ops && p.violations.length === 0; i++) {
      if ((i & 15) === 0 && Date.now() > until) break;
      p.step();
      Atomics.add(progress, job.w, 1);
    }
    p.finish();
  } catch (e) {
    error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  try {
    taskExit(mem.k32, tid); // panics when a lock is still held: the runner recovers the task
  } catch (e) {
    error = `${error ?? ""}\n${e instanceof Error ? e.message : String(e)}`;
  }
  const result: StressResult = {
    w: job.w,
    ops: p?.opIndex ?? 0,
    counts: p?.counts ?? {},
    violations: p?.violations ?? [],
    lastSeq: p?.lastSeq ?? [],
    own: p?.own.map((o) => ({ size: o.size, bytes: o.bytes, poisoned: o.poisoned })) ?? [],
    error,
  };
  self.postMessage(result);
};
