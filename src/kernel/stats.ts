/**
 * The stats object (docs/stats.schema.json, docs/ARCHITECTURE.md §7), read from the machine-wide counters
 * (VMSTAT), the frame allocator and the mm gauges. Nothing here is derived
 * from assumptions: every number is a counter or gauge that the code doing
 * the work maintains, or a count the Machine made of what it saw.
 *
 * @module
 */

import { badblockCount } from "../hw/badblocks.ts";
import { VMSTAT } from "../abi/layout/mod.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { type Memory, statRead } from "../hw/memory.ts";
import { totalFrames, usedFramesPeak } from "../mm/frame_alloc.ts";
import { mmGauges } from "../mm/mm.ts";
import { pagecacheFrames } from "../fs/pagecache/pagecache.ts";
import { deviceFramesEverMapped } from "../mm/devmap.ts";

/**
 * The version of the stats format, `MachineStats.version`. It changes when a
 * field is removed or changes its meaning or unit; fields may be added
 * within a version, so a reader should ignore fields it does not know.
 */
export const STATS_VERSION = 1;

/**
 * A machine's statistics: what `machine.stats()` returns and `xip run
 * --stats` writes as JSON. Every number is a non-negative integer. Units are
 * in the names: `*_frames` count frames of `page_size` bytes, `*_bytes`
 * bytes, `*_ms` milliseconds; faults, processes and instructions are counts.
 * Counters (faults, bytes copied, instructions) add up everything since
 * boot; gauges (`ram.pagecache_frames` and the other "now" fields) hold the
 * value at the moment of the call. The JSON Schema generated from this type
 * is docs/stats.schema.json.
 */
export interface MachineStats {
  /** The stats format version, {@linkcode STATS_VERSION}. */
  version: 1;
  /** Bytes per page and per frame (4096): the unit of every `*_frames` field. */
  page_size: number;
  /** Processes started since boot: spawned by the Machine or forked by guests. */
  procs: number;
  /**
   * Exit statuses of the processes that have exited, ordered by pid: the
   * exit_group status, or 128 + signal for a process a signal killed.
   */
  exit: number[];
  /** Page faults resolved since boot, counted by how they were resolved. */
  faults: {
    /** Faults that mapped a device frame in place (DAX). */
    dax: number;
    /**
     * DAX faults that mapped 1024 device frames in place with one 4 MiB
     * megapage (a huge PMD); they are not counted in `dax`.
     */
    dax_pmd: number;
    /** Page-cache faults that found the page already cached. */
    file_minor: number;
    /** Page-cache faults that read the page in from the device (a copy). */
    file_major: number;
    /** Copy-on-write faults: a private write copied a page into a new RAM frame. */
    cow: number;
    /** Anonymous write faults that allocated a zeroed RAM frame. */
    anon: number;
    /** Read faults that mapped the shared zero page (anonymous memory or a DAX hole). */
    zero: number;
  };
  /** RAM, in frames of `page_size` bytes. */
  ram: {
    /** RAM frames of the machine. */
    total_frames: number;
    /** The most RAM frames in use at once since boot. */
    peak_used_frames: number;
    /** Frames holding page-cache pages now. */
    pagecache_frames: number;
    /** Frames holding page tables now. */
    pagetable_frames: number;
    /** Frames holding anonymous memory (and private copies) now. */
    anon_frames: number;
  };
  /** The memory device, in frames of `page_size` bytes. */
  device: {
    /** Frames of the device (its size over `page_size`). */
    total_frames: number;
    /** Distinct device frames some process mapped at some point since boot (DAX sharing). */
    mapped_frames: number;
    /** Device frames poisoned now (memory failure; a whole-block write clears one). */
    poisoned_frames: number;
  };
  /** Bytes copied between frames or between the device and RAM, since boot. */
  copied_bytes: {
    /** Copied from the device into page-cache pages. */
    pagecache_fill: number;
    /** Copied by copy-on-write faults. */
    cow: number;
    /** Copied to processes by read(2) and friends. */
    read: number;
    /** Copied from processes by write(2) and friends. */
    write: number;
  };
  /** Instructions retired by the processes, since boot. */
  instret: number;
  /**
   * Tier 1, guest code translated to WebAssembly (`jit` of Machine.boot),
   * since boot, all Workers together; all 0 when the machine does not translate.
   */
  jit: {
    /** Frames translated: decoded, laid out and emitted as a wasm module. */
    translations: number;
    /** Translations a Worker installed from another Worker's published product instead. */
    shared_installs: number;
    /** Translations killed by a write into their frame, or by the frame's reuse. */
    invalidations: number;
    /** Arrivals in translated code at a word its translation had no block for. */
    entry_misses: number;
    /** Translations made again to give such an entry, recorded since, a block of its own. */
    retranslations: number;
    /** Milliseconds spent translating (decode, lay out, emit). */
    translate_ms: number;
    /** Milliseconds spent compiling and instantiating translations. */
    compile_ms: number;
  };
  /** Milliseconds since boot. */
  wall_ms: number;
  /** Kernel bugs seen (exceptions escaping the kernel); 0 in a healthy run. */
  panics: number;
}

function jitStats(mem: Memory): MachineStats["jit"] {
  const c = mem.jit?.counters();
  return {
    translations: c?.translations ?? 0,
    shared_installs: c?.sharedInstalls ?? 0,
    invalidations: c?.invalidations ?? 0,
    entry_misses: c?.entryMisses ?? 0,
    retranslations: c?.retranslations ?? 0,
    translate_ms: Math.round(c?.emitMs ?? 0),
    compile_ms: Math.round(c?.compileMs ?? 0),
  };
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
  const s = (id: (typeof VMSTAT)[keyof typeof VMSTAT]) => statRead(mem, id);
  return {
    version: STATS_VERSION,
    page_size: PAGE_SIZE,
    procs: c.procs,
    exit: [...c.exit],
    faults: {
      dax: s(VMSTAT.faultDax),
      dax_pmd: s(VMSTAT.faultDaxPmd),
      file_minor: s(VMSTAT.faultFileMinor),
      file_major: s(VMSTAT.faultFileMajor),
      cow: s(VMSTAT.faultCow),
      anon: s(VMSTAT.faultAnon),
      zero: s(VMSTAT.faultZero),
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
      poisoned_frames: badblockCount(mem),
    },
    copied_bytes: {
      pagecache_fill: s(VMSTAT.copiedPagecacheFill),
      cow: s(VMSTAT.copiedCow),
      read: s(VMSTAT.copiedRead),
      write: s(VMSTAT.copiedWrite),
    },
    instret: s(VMSTAT.instret),
    jit: jitStats(mem),
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
