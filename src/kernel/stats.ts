/**
 * The stats object of DESIGN.md §6, read from the machine-wide counters
 * (STAT), the frame allocator and the mm gauges. Nothing here is derived
 * from assumptions: every number is a counter or gauge that the code doing
 * the work maintains, or a count the Machine made of what it saw.
 *
 * @module
 */

import { STAT } from "../abi/layout.ts";
import { type Memory, statRead } from "../hw/memory.ts";
import { totalFrames, usedFramesPeak } from "../mm/frame_alloc.ts";
import { mmGauges } from "../mm/mm.ts";
import { pagecacheFrames } from "../fs/pagecache.ts";
import { deviceFramesEverMapped } from "../mm/devmap.ts";

/** `xip run --stats` and `machine.stats()`. */
export interface MachineStats {
  /** Processes spawned since boot. */
  procs: number;
  /** Exit statuses (128 + signal when killed), in spawn order, of the processes that exited. */
  exit: number[];
  faults: {
    dax: number;
    file_minor: number;
    file_major: number;
    cow: number;
    anon: number;
    zero: number;
  };
  ram: {
    total_frames: number;
    peak_used_frames: number;
    /** Gauges, now. */
    pagecache_frames: number;
    pagetable_frames: number;
    anon_frames: number;
  };
  device: {
    total_frames: number;
    /** Distinct device frames some process mapped at some point of the run (DAX sharing). */
    mapped_frames: number;
  };
  copied_bytes: { pagecache_fill: number; cow: number; read: number; write: number };
  /** Instructions retired by every process that exited. */
  instret: number;
  wall_ms: number;
  /** Kernel bugs seen (exceptions escaping the kernel); 0 in a healthy run. */
  panics: number;
}

/** What the Machine counted itself. */
export interface MachineCounts {
  procs: number;
  exit: number[];
  wallMs: number;
  panics: number;
}

/** Collect the stats of `mem` plus the Machine's own counts. Any thread; no lock needed. */
export function collectStats(mem: Memory, c: MachineCounts): MachineStats {
  const g = mmGauges(mem);
  const s = (id: (typeof STAT)[keyof typeof STAT]) => statRead(mem, id);
  return {
    procs: c.procs,
    exit: [...c.exit],
    faults: {
      dax: s(STAT.faultDax),
      file_minor: s(STAT.faultFileMinor),
      file_major: s(STAT.faultFileMajor),
      cow: s(STAT.faultCow),
      anon: s(STAT.faultAnon),
      zero: s(STAT.faultZero),
    },
    ram: {
      total_frames: totalFrames(mem),
      peak_used_frames: usedFramesPeak(mem),
      pagecache_frames: pagecacheFrames(mem),
      pagetable_frames: g.pagetableFrames,
      anon_frames: g.anonFrames,
    },
    device: {
      total_frames: mem.layout.config.deviceFrames,
      mapped_frames: deviceFramesEverMapped(mem),
    },
    copied_bytes: {
      pagecache_fill: s(STAT.copiedPagecacheFill),
      cow: s(STAT.copiedCow),
      read: s(STAT.copiedRead),
      write: s(STAT.copiedWrite),
    },
    instret: s(STAT.instret),
    wall_ms: Math.round(c.wallMs),
    panics: c.panics,
  };
}

/**
 * The stats as one JSON document: what `xip run --stats FILE` writes and
 * the live view's GET /api/stats returns, byte for byte.
 */
export function statsJson(s: MachineStats): string {
  return JSON.stringify(s, null, 2) + "\n";
}
