/**
 * Worker side of tests/fs/pagecache_concurrent_test.ts: one Worker is one
 * task that runs a page-cache job on the shared memory it is handed.
 *
 * Shared test words live in the scratch region (SCR below). The fake storage
 * gives page (mapping, pgoff) the bytes of `stamp(mapping, pgoff)` and counts
 * each readpage call per pgoff in SCR.fills, so the test can check that a
 * page was filled exactly once however many Workers asked for it.
 *
 * @module
 */

import { ENOMEM } from "../../src/abi/errno.ts";
import { PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { attachMemory, type Memory } from "../../src/hw/memory.ts";
import { pageIndex, pageMapping, PG_uptodate, putPage, testPageFlag } from "../../src/mm/memmap.ts";
import { setCurrentTid, taskInit } from "../../src/sync/current.ts";
import {
  type AddressSpaceOps,
  findGetPage,
  pageView,
  readCachePage,
  shrinkPageCache,
  truncateInodePages,
} from "../../src/fs/pagecache/pagecache.ts";

/** Word offsets in the scratch region. */
export const SCR = {
  /** Set to 1 by the test to start every Worker at once. */
  go: 0,
  /** Set to 1 by the test to end the lookup loops. */
  stop: 1,
  /** Workers that have finished starting up. */
  ready: 2,
  /** readpage calls for pgoff i at fills + i. */
  fills: 16,
} as const;
/** readpage calls are counted for pgoffs below this (the scratch region is 4096 words). */
export const MAX_COUNTED = 1024;

/** The bytes of file page (mapping, pgoff): its key, then a pattern. */
export function stamp(mapping: number, pgoff: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  fillStamp(b, mapping, pgoff);
  return b;
}

function fillStamp(b: Uint8Array, mapping: number, pgoff: number): void {
  for (let i = 8; i < PAGE_SIZE; i++) b[i] = (mapping * 31 + pgoff * 7 + i) & 0xff;
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  dv.setUint32(0, mapping, true);
  dv.setUint32(4, pgoff, true);
}

/** True when `b` holds exactly stamp(mapping, pgoff). */
export function isStamp(b: Uint8Array, mapping: number, pgoff: number): boolean {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  if (dv.getUint32(0, true) !== mapping || dv.getUint32(4, true) !== pgoff) return false;
  for (let i = 8; i < PAGE_SIZE; i++) {
    if (b[i] !== ((mapping * 31 + pgoff * 7 + i) & 0xff)) return false;
  }
  return true;
}

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Storage whose readpage stamps the frame, counts the call and dawdles to widen races. */
function countingOps(mem: Memory, dawdleIters: number): AddressSpaceOps {
  const scr = mem.layout.scratch.base;
  return {
    readpage(mapping, pgoff, frame) {
      if (pgoff < MAX_COUNTED) Atomics.add(mem.k32, scr + SCR.fills + pgoff, 1);
      let x = 0;
      for (let i = 0; i < dawdleIters; i++) x += i;
      fillStamp(frame, mapping, pgoff);
      return x >= 0 ? PAGE_SIZE : 0;
    },
    writepage() {
      return PAGE_SIZE;
    },
  };
}

/** What the test asks a Worker to do. */
export interface Job {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  kind: "fill" | "lookup" | "truncate";
  mapping: number;
  /** fill: the pgoffs to read, in this Worker's order. */
  pgoffs?: number[];
  /** lookup/truncate: pgoffs 0..span-1 are in play. */
  span?: number;
  /** truncate: rounds of truncate + reinsert. */
  rounds?: number;
  seed: number;
}

/** What a Worker reports. */
export interface Report {
  ok: boolean;
  error?: string;
  /** fill: pfn seen for each pgoff of the job, in job order. */
  pfns?: number[];
  /** fill: pages whose bytes were not the stamp. */
  badBytes?: number;
  /** fill: calls that reported a major fault (this call did the fill). */
  majors?: number;
  /** lookup: pages found, and pages whose identity or bytes were wrong. */
  hits?: number;
  violations?: string[];
  /** truncate: pages dropped in total. */
  dropped?: number;
}

function waitGo(mem: Memory): void {
  const scr = mem.layout.scratch.base;
  Atomics.add(mem.k32, scr + SCR.ready, 1);
  while (Atomics.load(mem.k32, scr + SCR.go) === 0) Atomics.wait(mem.k32, scr + SCR.go, 0, 50);
}

function runFill(mem: Memory, job: Job): Report {
  const ops = countingOps(mem, 20000);
  const pfns: number[] = [];
  let badBytes = 0;
  let majors = 0;
  const info = { major: false };
  waitGo(mem);
  for (const o of job.pgoffs!) {
    const p = readCachePage(mem, job.mapping, o, ops, info);
    if (info.major) majors++;
    if (p < 0) return { ok: false, error: `readCachePage(${o}) = ${p}` };
    if (!isStamp(pageView(mem, p as Pfn), job.mapping, o)) badBytes++;
    pfns.push(p);
    putPage(mem, p as Pfn);
  }
  return { ok: true, pfns, badBytes, majors };
}

/** Check a page a lookup returned: it must be (mapping, pgoff) or have been removed since. */
function checkFound(mem: Memory, p: Pfn, mapping: number, o: number, why: string[]): void {
  const m = pageMapping(mem, p);
  if (m !== mapping && m !== 0) why.push(`pgoff ${o}: pfn ${p} belongs to mapping ${m}`);
  if (m === mapping && pageIndex(mem, p) !== o) {
    why.push(`pgoff ${o}: pfn ${p} has index ${pageIndex(mem, p)}`);
  }
  // Our reference keeps the frame from reuse, so once uptodate its bytes are
  // the stamp of the key it was filled for, whatever truncate did since.
  if (testPageFlag(mem, p, PG_uptodate) && !isStamp(pageView(mem, p), mapping, o)) {
    why.push(`pgoff ${o}: pfn ${p} holds another page's bytes`);
  }
}

function runLookup(mem: Memory, job: Job): Report {
  const rand = prng(job.seed);
  const ops = countingOps(mem, 0);
  const scr = mem.layout.scratch.base;
  const why: string[] = [];
  let hits = 0;
  waitGo(mem);
  for (let n = 0; Atomics.load(mem.k32, scr + SCR.stop) === 0 && why.length < 10; n++) {
    const o = Math.floor(rand() * job.span!);
    const useRead = n % 8 === 0;
    const p = useRead ? readCachePage(mem, job.mapping, o, ops) : findGetPage(mem, job.mapping, o);
    if (p < -1) return { ok: false, error: `readCachePage(${o}) = ${p}` };
    if (p < 0) continue;
    hits++;
    checkFound(mem, p as Pfn, job.mapping, o, why);
    if (useRead && !testPageFlag(mem, p as Pfn, PG_uptodate)) why.push(`pgoff ${o}: not uptodate`);
    putPage(mem, p as Pfn);
  }
  return { ok: true, hits, violations: why };
}

function runTruncate(mem: Memory, job: Job): Report {
  const rand = prng(job.seed);
  const ops = countingOps(mem, 0);
  let dropped = 0;
  waitGo(mem);
  try {
    for (let r = 0; r < job.rounds!; r++) {
      const from = Math.floor(rand() * job.span!);
      dropped += truncateInodePages(mem, job.mapping, from);
      for (let o = from; o < job.span!; o++) {
        if (rand() < 0.5) continue;
        const p = readCachePage(mem, job.mapping, o, ops);
        if (p === -ENOMEM) continue; // every frame pinned by the lookups for a moment
        if (p < 0) return { ok: false, error: `reinsert readCachePage(${o}) = ${p}` };
        putPage(mem, p as Pfn);
      }
      if (r % 16 === 0) shrinkPageCache(mem, 4, () => ops);
      // Churn fresh keys of another mapping: their tombstones pile up and
      // force index rebuilds while the lookups run.
      for (let k = 0; k < 3; k++) {
        const p = readCachePage(mem, job.mapping + 1, r * 3 + k, ops);
        if (p >= 0) putPage(mem, p as Pfn);
      }
      truncateInodePages(mem, job.mapping + 1, 0);
    }
  } finally {
    // Ends the lookup Workers' loops, also when this one fails.
    Atomics.store(mem.k32, mem.layout.scratch.base + SCR.stop, 1);
  }
  return { ok: true, dropped };
}

if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<Job>) => void) | null;
    postMessage(r: Report): void;
  };
  scope.onmessage = (e: MessageEvent<Job>) => {
    const job = e.data;
    let report: Report;
    try {
      const mem = attachMemory(job.phys, job.kernel);
      setCurrentTid(asTaskSlot(job.tid));
      taskInit(mem.k32, asTaskSlot(job.tid));
      report = job.kind === "fill"
        ? runFill(mem, job)
        : job.kind === "lookup"
        ? runLookup(mem, job)
        : runTruncate(mem, job);
    } catch (err) {
      report = { ok: false, error: String((err as Error)?.stack ?? err) };
    }
    scope.postMessage(report);
  };
}
