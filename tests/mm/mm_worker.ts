/**
 * Worker side of the src/mm multi-Worker tests and bench. One message
 * starts one role; the Worker answers with one result message.
 *
 * - "hart": a stand-in for the hart's TLB. It caches the translation of one
 *   page, reads the word the frame holds through the cache, and polls for
 *   shootdowns every 1..pollMax reads (seeded). A read of POISON means a
 *   translation survived a completed flushTlbMm.
 * - "faulter": faults pages of a shared mm like a thread of the process,
 *   writing its own byte in each page it stores to. With `tlb`, it keeps
 *   the translations it used, as a hart does, until a shootdown flushes
 *   them (so a missing flush lets its stores go through a stale PTE).
 * - "busy": sits in user mode polling (for the shootdown benchmark).
 */

import {
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_U,
  PTE_W,
  pteIsLeaf,
  pteToPfn,
} from "../../src/abi/sv32.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { physWords, pteLoad, walk } from "../../src/mm/pgtable.ts";
import { enterIdle, enterKernel, enterUser, switchMm, tlbCheck } from "../../src/mm/tlb_flush.ts";
import { setCurrentTid } from "../../src/sync/mod.ts";
import { rng } from "./_mm_helpers.ts";

export const POISON = 0x0bad_f00d;

export interface HartJob {
  role: "hart";
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  mm: MmId;
  va: number;
  seed: number;
  pollMax: number;
  /** Scratch word: the main thread sets it to 1 to stop. */
  stopWord: number;
  /** Scratch word: violations seen so far (so the main thread can watch). */
  badWord: number;
}

export interface FaulterJob {
  role: "faulter";
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  mm: MmId;
  base: number;
  pages: number;
  seed: number;
  iterations: number;
  /** Scratch word both faulters count down on, so they start together. */
  startWord: number;
  /** Cache translations until a TLB flush, as the hart does. */
  tlb?: boolean;
}

export interface BusyJob {
  role: "busy";
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  mm: MmId;
  stopWord: number;
}

export type Job = HartJob | FaulterJob | BusyJob;

function hart(j: HartJob) {
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  const p32 = physWords(mem);
  const r = rng(j.seed);
  let cached = -1; // the one-entry TLB: a pfn
  let reads = 0;
  let flushes = 0;
  let bad = 0;
  const flush = () => {
    cached = -1;
    flushes++;
  };
  switchMm(mem, asTaskSlot(j.tid), j.mm);
  enterUser(mem, asTaskSlot(j.tid), flush);
  let untilPoll = 1 + Math.floor(r() * j.pollMax);
  while (Atomics.load(mem.k32, j.stopWord) === 0) {
    if (cached < 0) {
      const w = walk(mem, j.mm, asVirt(j.va), false);
      const pte = w < 0 ? 0 : pteLoad(p32, w);
      if (pteIsLeaf(pte as never)) cached = pteToPfn(pte as never);
    }
    if (cached >= 0) {
      const v = Atomics.load(p32, cached * (PAGE_SIZE / 4));
      reads++;
      if (v === POISON) {
        bad++;
        Atomics.add(mem.k32, j.badWord, 1);
        cached = -1;
      }
    }
    if (--untilPoll === 0) {
      untilPoll = 1 + Math.floor(r() * j.pollMax);
      if (r() < 0.02) {
        // A trap: into the kernel and back, flushing on the way out if asked.
        enterKernel(mem, asTaskSlot(j.tid));
        enterUser(mem, asTaskSlot(j.tid), flush);
      } else tlbCheck(mem, asTaskSlot(j.tid), flush);
    }
  }
  enterIdle(mem, asTaskSlot(j.tid));
  return { reads, flushes, bad };
}

function faulter(j: FaulterJob) {
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  const r = rng(j.seed);
  const last: Record<number, number> = {};
  let faults = 0;
  // The translations in use: page -> [pa of the byte, writable].
  const cache = new Map<number, [number, boolean]>();
  const flush = () => cache.clear();
  switchMm(mem, asTaskSlot(j.tid), j.mm);
  enterUser(mem, asTaskSlot(j.tid), flush);
  Atomics.sub(mem.k32, j.startWord, 1);
  while (Atomics.load(mem.k32, j.startWord) > 0) { /* start together */ }
  for (let i = 0; i < j.iterations; i++) {
    tlbCheck(mem, asTaskSlot(j.tid), flush);
    const page = Math.floor(r() * j.pages);
    const write = r() < 0.6;
    const va = j.base + page * PAGE_SIZE + j.tid;
    const access = write ? ACCESS_WRITE : ACCESS_READ;
    for (let tries = 0;; tries++) {
      if (tries > 16) throw new Error(`faulter ${j.tid}: no progress at page ${page}`);
      const hit = cache.get(page);
      const w = hit ? -1 : walk(mem, j.mm, asVirt(va), false);
      const pte = w < 0 ? 0 : pteLoad(physWords(mem), w);
      if (
        (hit && (!write || hit[1])) ||
        (pteIsLeaf(pte as never) && (pte & (PTE_U | access)) === (PTE_U | access))
      ) {
        const pa = hit && (!write || hit[1])
          ? hit[0]
          : pteToPfn(pte as never) * PAGE_SIZE + (va % PAGE_SIZE);
        if (j.tlb && !(hit && (!write || hit[1]))) cache.set(page, [pa, (pte & PTE_W) !== 0]);
        if (write) {
          const v = (i & 0x7f) | 0x80;
          mem.u8[pa] = v;
          last[page] = v;
        } else if (last[page] !== undefined && mem.u8[pa] !== last[page]) {
          throw new Error(`faulter ${j.tid}: page ${page} lost a store (seed ${j.seed})`);
        }
        break;
      }
      cache.delete(page);
      enterKernel(mem, asTaskSlot(j.tid));
      const res = handleMmFault(mem, j.mm, asVirt(va), access);
      enterUser(mem, asTaskSlot(j.tid), flush);
      if (res !== 0) throw new Error(`faulter ${j.tid}: fault ${res} at page ${page}`);
      faults++;
    }
  }
  enterIdle(mem, asTaskSlot(j.tid));
  return { last, faults };
}

function busy(j: BusyJob) {
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  let flushes = 0;
  const flush = () => {
    flushes++;
  };
  switchMm(mem, asTaskSlot(j.tid), j.mm);
  enterUser(mem, asTaskSlot(j.tid), flush);
  let spins = 0;
  while (Atomics.load(mem.k32, j.stopWord) === 0) {
    // Simulated guest work between polls (a backward branch every ~64 instructions).
    for (let i = 0; i < 64; i++) spins++;
    tlbCheck(mem, asTaskSlot(j.tid), flush);
  }
  enterIdle(mem, asTaskSlot(j.tid));
  return { flushes, spins };
}

/** The Worker global, typed without the DOM lib (deno check sees Window). */
const scope = self as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent<Job>) => void) | null;
};

scope.onmessage = (e: MessageEvent<Job>) => {
  const j = e.data;
  try {
    const result = j.role === "hart" ? hart(j) : j.role === "faulter" ? faulter(j) : busy(j);
    scope.postMessage({ ok: true, result });
  } catch (err) {
    scope.postMessage({ ok: false, error: String((err as Error).stack ?? err) });
  }
};
