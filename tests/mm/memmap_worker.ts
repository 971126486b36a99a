/// <reference lib="deno.worker" />
// A Worker for tests/mm/memmap_test.ts: takes and drops references to shared
// frames in a seeded random order, then drops the one reference the test gave
// it to each frame. Whichever Worker drops the last one frees the frame.

import { type Pfn } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { getPage, putPage } from "../../src/mm/memmap.ts";
import { startTogether } from "./start_gate.ts";

export interface RefJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  pfns: number[];
  seed: number;
  rounds: number;
  /** Start gate: each Worker adds 1, then waits until `parties` have arrived. */
  gate: SharedArrayBuffer;
  parties: number;
}

export type RefResult = { ok: true; freedByMe: number } | { ok: false; error: string };

function run(job: RefJob): RefResult {
  const mem = attachMemory(job.phys, job.kernel);
  startTogether(job.gate, job.parties);
  let s = job.seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  for (let r = 0; r < job.rounds; r++) {
    const pfn = job.pfns[next() % job.pfns.length]! as Pfn;
    // We hold a reference, so the frame cannot be freed under us.
    if (getPage(mem, pfn) < 2) throw new Error(`pfn ${pfn}: count fell below our reference`);
    putPage(mem, pfn);
  }
  let freedByMe = 0;
  for (const pfn of job.pfns) if (putPage(mem, pfn as Pfn) === 0) freedByMe++;
  return { ok: true, freedByMe };
}

self.onmessage = (e: MessageEvent<RefJob>) => {
  let result: RefResult;
  try {
    result = run(e.data);
  } catch (err) {
    result = {
      ok: false,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
  }
  self.postMessage(result);
};
