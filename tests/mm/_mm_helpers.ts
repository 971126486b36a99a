/**
 * Shared set-up for the src/mm tests: a booted machine memory with the
 * calling thread as task 1, and a "soft hart" access that translates like
 * the hart (walk, permission check) and faults like it.
 */

import {
  type Access,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_U,
  pteIsLeaf,
  pteToPfn,
} from "../../src/abi/sv32.ts";
import {
  asTaskSlot,
  asVirt,
  type MmId,
  PAGE_SIZE,
  pageOffset,
  pageRoundDown,
  type Pfn,
} from "../../src/abi/types.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { physWords, pteLoad, walk } from "../../src/mm/pgtable.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";

export interface BootOptions {
  ramFrames?: number;
  deviceFrames?: number;
  deviceMemmap?: boolean;
  maxTasks?: number;
  /** Check the lock order (default true; benchmarks turn it off). */
  lockdep?: boolean;
}

/** A fresh machine memory with the zero page allocated and this thread as task 1. */
export function boot(o: BootOptions = {}): Memory {
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 512,
    deviceFrames: o.deviceFrames ?? 64,
    deviceMemmap: o.deviceMemmap ?? false,
    maxTasks: o.maxTasks ?? 4,
  });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot failed");
  setDebug(mem.k32, DEBUG_LOCKDEP, o.lockdep ?? true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  return mem;
}

/** The leaf PTE for `va`, or 0 when there is no table or entry. */
export function pteAt(mem: Memory, mm: MmId, va: number): number {
  const w = walk(mem, mm, asVirt(va), false);
  return w < 0 ? 0 : pteLoad(physWords(mem), w);
}

/** The frame `va` maps, or -1. */
export function pfnAt(mem: Memory, mm: MmId, va: number): number {
  const pte = pteAt(mem, mm, va);
  return pteIsLeaf(pte as never) ? pteToPfn(pte as never) : -1;
}

/**
 * Translate `va` for `access` as the hart would, faulting when the PTE is
 * missing or does not allow it.
 *
 * @returns the byte offset in physical memory, or the VM_FAULT_* error as a negative number
 */
export function softAccess(mem: Memory, mm: MmId, va: number, access: Access): number {
  for (let tries = 0; tries < 8; tries++) {
    const pte = pteAt(mem, mm, pageRoundDown(va));
    if (pteIsLeaf(pte as never) && (pte & (PTE_U | access)) === (PTE_U | access)) {
      return pteToPfn(pte as never) * PAGE_SIZE + pageOffset(asVirt(va));
    }
    const r = handleMmFault(mem, mm, asVirt(va), access);
    if (r !== 0) return -r;
  }
  throw new Error(`softAccess: no progress at 0x${va.toString(16)}`);
}

/** Load a byte the way a guest load would. */
export function userLoad(mem: Memory, mm: MmId, va: number): number {
  const pa = softAccess(mem, mm, va, ACCESS_READ);
  if (pa < 0) throw new Error(`userLoad: fault ${-pa} at 0x${va.toString(16)}`);
  return mem.u8[pa]!;
}

/** Store a byte the way a guest store would. */
export function userStore(mem: Memory, mm: MmId, va: number, byte: number): void {
  const pa = softAccess(mem, mm, va, ACCESS_WRITE);
  if (pa < 0) throw new Error(`userStore: fault ${-pa} at 0x${va.toString(16)}`);
  mem.u8[pa] = byte;
}

/** Fill frame `pfn` with `byte`. */
export function fillFrame(mem: Memory, pfn: Pfn | number, byte: number): void {
  mem.u8.fill(byte, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
}

/** Seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
