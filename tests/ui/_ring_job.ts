/** What a fault-ring test Worker is asked to do, and how its records are checked. */

import { FAULT_KIND, type FaultKind } from "../../src/mm/fault_ring.ts";

export interface RingJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  pid: number;
  n: number;
  /** [start, done]: the Worker waits for start = 1, then adds 1 to done when it has counted. */
  gate: SharedArrayBuffer;
}

/** Words of RingJob.gate. */
export const GATE_START = 0;
export const GATE_DONE = 1;

const KINDS = Object.values(FAULT_KIND) as FaultKind[];

/** The i-th fault a test Worker of `pid` counts: its address and kind. */
export function faultOf(pid: number, i: number): { va: number; kind: FaultKind } {
  return { va: ((pid & 0xff) << 23) | ((i & 0x7ff) << 12), kind: KINDS[i % KINDS.length]! };
}

/** The pfn a record of `pid` at `va` of `kind` must carry: a checksum of the other fields. */
export const faultPfn = (pid: number, va: number, kind: number): number =>
  (Math.imul(pid, 0x9e37) ^ (va >>> 12) ^ (kind << 17)) & 0x3f_ffff;
