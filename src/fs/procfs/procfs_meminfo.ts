/**
 * /proc/meminfo (Linux's fs/proc/meminfo.c, reduced), read from the same
 * counters machine.stats() reads: the frame allocator, the page-cache
 * index and the mm gauges, plus the memory device.
 *
 * ```
 *  MemTotal:       RAM frames                      (stats ram.total_frames)
 *  MemFree:        free RAM frames                 (frame allocator)
 *  MemAvailable:   MemFree + Cached                (the page cache is reclaimable;
 *                                                   an estimate, as Linux's)
 *  Cached:         page-cache frames               (stats ram.pagecache_frames)
 *  AnonPages:      anonymous frames mapped         (stats ram.anon_frames)
 *  PageTables:     page-table frames               (stats ram.pagetable_frames)
 *  DeviceTotal:    memory-device frames            (stats device.total_frames)
 *  DeviceMapped:   distinct device frames some page table maps right now
 *                  (DAX: one copy shared by every mapper counts once)
 * ```
 *
 * Each line is `Name:` padded to 16 columns, the value in kB right-aligned
 * to column 24, then ` kB`, as Linux's show_val_kb. DeviceTotal and
 * DeviceMapped are xip's own lines (Linux has no field for a DAX device).
 *
 * @module
 */

import { MM, MM_LIVE, mmBase } from "../../abi/layout/mod.ts";
import { pteToPfn } from "../../abi/sv32.ts";
import { asMmId, PAGE_SIZE } from "../../abi/types.ts";
import type { Memory } from "../../hw/memory.ts";
import { freeFrameCount, totalFrames } from "../../mm/frame_alloc.ts";
import { pfnIsDevice } from "../../mm/memmap.ts";
import { mmapReadLock, mmapReadUnlock, mmGauges, mmPut } from "../../mm/mm.ts";
import { vmaEnd, vmaFirst, vmaNext, vmaStart } from "../../mm/vma.ts";
import { pcacheNrPages } from "../pagecache/pagecache_index.ts";
import { forEachPresentPte, kbLine, mmGetNotZero } from "./procfs_maps.ts";

/** The meminfo values, in frames. */
export interface MeminfoFrames {
  memTotal: number;
  memFree: number;
  cached: number;
  anonPages: number;
  pageTables: number;
  deviceTotal: number;
  deviceMapped: number;
}

/**
 * Distinct device frames mapped by any live mm now. Takes each mm's
 * mmap_lock for reading in turn (under a user reference). Entry: no lock held.
 */
export function deviceFramesMapped(mem: Memory): number {
  const seen = new Set<number>();
  for (let i = 1; i < mem.layout.config.maxTasks; i++) {
    const mm = asMmId(i);
    if (Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.state) !== MM_LIVE) continue;
    if (!mmGetNotZero(mem, mm)) continue;
    try {
      mmapReadLock(mem, mm);
      try {
        for (let v = vmaFirst(mem, mm); v !== 0; v = vmaNext(mem, v)) {
          forEachPresentPte(mem, mm, vmaStart(mem, v), vmaEnd(mem, v), (_va, pte) => {
            const pfn = pteToPfn(pte);
            if (pfnIsDevice(mem, pfn)) seen.add(pfn);
          });
        }
      } finally {
        mmapReadUnlock(mem, mm);
      }
    } finally {
      mmPut(mem, mm);
    }
  }
  return seen.size;
}

/**
 * The meminfo values now. Entry: no lock held (any thread). Takes each live
 * mm's mmap_lock for reading in turn, for DeviceMapped (deviceFramesMapped);
 * the other values are lock-free counters.
 */
export function meminfoFrames(mem: Memory): MeminfoFrames {
  const g = mmGauges(mem);
  return {
    memTotal: totalFrames(mem),
    memFree: freeFrameCount(mem),
    cached: pcacheNrPages(mem),
    anonPages: g.anonFrames,
    pageTables: g.pagetableFrames,
    deviceTotal: mem.layout.config.deviceFrames,
    deviceMapped: deviceFramesMapped(mem),
  };
}

/**
 * The text of /proc/meminfo. Entry: no lock held; takes what meminfoFrames
 * takes (each live mm's mmap_lock for reading, in turn).
 */
export function meminfoText(mem: Memory): string {
  const f = meminfoFrames(mem);
  const rows: [string, number][] = [
    ["MemTotal", f.memTotal],
    ["MemFree", f.memFree],
    ["MemAvailable", f.memFree + f.cached],
    ["Cached", f.cached],
    ["AnonPages", f.anonPages],
    ["PageTables", f.pageTables],
    ["DeviceTotal", f.deviceTotal],
    ["DeviceMapped", f.deviceMapped],
  ];
  return rows.map(([name, frames]) => kbLine(name, frames * PAGE_SIZE)).join("\n") + "\n";
}
