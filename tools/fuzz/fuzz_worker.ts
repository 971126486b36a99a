/**
 * Worker entry for the fuzzers (not a test): runs cases [from, to) of one
 * fuzzer and posts the Summary. Before each case it stores the case index
 * in the shared progress word, so the runner's watchdog can tell a hang
 * from slow progress and name the case that hung.
 */

/// <reference lib="deno.worker" />

import { addOutcome, type CaseOutcome, newSummary } from "./_fuzz_summary.ts";
import { elfFuzzCase, elfFuzzSetup } from "./_elf_fuzz_core.ts";
import { imageFuzzCase, imageFuzzSetup } from "./_image_fuzz_core.ts";
import { syscallFuzzCase, syscallFuzzSetup } from "./_syscall_fuzz_core.ts";

export interface FuzzJob {
  /** "hang" is the runner's self-test: case 2 spins forever, the others pass. */
  fuzzer: "elf" | "image" | "syscall" | "hang";
  seed: number;
  from: number;
  to: number;
  /** [0]: index of the case running (progress), [1]: cases finished. */
  progress: SharedArrayBuffer;
}

self.onmessage = (ev: MessageEvent<FuzzJob>) => {
  const job = ev.data;
  const p = new Int32Array(job.progress);
  const s = newSummary(job.seed);
  const t0 = performance.now();
  let run: (i: number) => CaseOutcome;
  if (job.fuzzer === "elf") {
    const z = elfFuzzSetup(job.seed, job.to - job.from <= 1000);
    run = (i) => elfFuzzCase(z, i);
  } else if (job.fuzzer === "image") {
    const z = imageFuzzSetup(job.seed);
    run = (i) => imageFuzzCase(z, i);
  } else if (job.fuzzer === "syscall") {
    const z = syscallFuzzSetup(job.seed);
    run = (i) => syscallFuzzCase(z, i);
  } else {
    run = (i) => {
      while (i === 2) Atomics.load(p, 0); // a case that never ends
      return { kind: "fine", mutation: "none", target: "none", problems: [] };
    };
  }
  for (let i = job.from; i < job.to; i++) {
    Atomics.store(p, 0, i);
    let o: CaseOutcome;
    try {
      o = run(i);
    } catch (e) {
      // A harness failure, or a kernel exception the case did not catch.
      o = {
        kind: "HARNESS EXCEPTION",
        mutation: "?",
        target: "?",
        problems: [`threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`],
      };
    }
    addOutcome(s, job.seed, i, o);
    Atomics.add(p, 1, 1);
  }
  s.ms = performance.now() - t0;
  self.postMessage(s);
};
