/**
 * The machine-wide event counters (Linux's vm_event counters, plus instructions retired).
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// stats: machine-wide counters, 64-bit, indexed in BigInt64 units from
// `stats.base / 2` (the region is 2-word aligned like every region). They
// are bumped with Atomics.add and read by machine.stats().

export const VMSTAT = {
  faultDax: 0,
  faultFileMinor: 1,
  faultFileMajor: 2,
  faultCow: 3,
  faultAnon: 4,
  faultZero: 5,
  copiedPagecacheFill: 6,
  copiedCow: 7,
  copiedRead: 8,
  copiedWrite: 9,
  /** Bytes copied by the block device's bio path, both directions. */
  bioReadBytes: 10,
  bioWriteBytes: 11,
  instret: 12,
  /** DAX faults that mapped a 4 MiB megapage (src/mm/huge_memory.ts). */
  faultDaxPmd: 13,
} as const;
export const VMSTAT_COUNT = 32; // room for the counters later layers add
