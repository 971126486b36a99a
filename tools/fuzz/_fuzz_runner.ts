/**
 * Runs a fuzzer's cases in a Worker under a watchdog: when the running
 * case makes no progress for `caseTimeoutMs`, the Worker is terminated, the
 * case is recorded as hung (with its seed and index, for replay), and a
 * fresh Worker carries on with the next case. A Worker that dies is treated
 * the same way. The whole run also has a deadline, after which everything
 * is terminated and the run fails.
 */

import { mergeSummary, newSummary, type Summary } from "./_fuzz_summary.ts";
import type { FuzzJob } from "./fuzz_worker.ts";

export interface RunOptions {
  fuzzer: FuzzJob["fuzzer"];
  seed: number;
  cases: number;
  /** First case index (default 0), to replay one case: `first: i, cases: 1`. */
  first?: number;
  /** A case that runs longer than this is a hang (default 20 s: loads under a busy CI). */
  caseTimeoutMs?: number;
  /** The whole run (default 30 min). */
  deadlineMs?: number;
  /** Progress callback, every ~2 s. */
  onProgress?: (done: number) => void;
}

const POLL_MS = 100;

/** One Worker over [from, to): its summary, or the index of the case it hung on. */
async function runSpan(
  o: RunOptions,
  from: number,
  to: number,
  deadline: number,
): Promise<{ summary: Summary | null; hungAt: number; done: number }> {
  const progress = new SharedArrayBuffer(8);
  const p = new Int32Array(progress);
  // -1 until the Worker starts its first case: loading its modules can take
  // seconds on a loaded machine and must not count as a hang.
  Atomics.store(p, 0, -1);
  const w = new Worker(new URL("./fuzz_worker.ts", import.meta.url).href, { type: "module" });
  let result: Summary | null = null;
  let died = false;
  w.onmessage = (ev: MessageEvent<Summary>) => (result = ev.data);
  w.onerror = (ev) => {
    ev.preventDefault();
    died = true;
  };
  const job: FuzzJob = { fuzzer: o.fuzzer, seed: o.seed, from, to, progress };
  w.postMessage(job);
  const timeout = o.caseTimeoutMs ?? 20_000;
  let last = -1, lastChange = performance.now(), lastReport = performance.now();
  try {
    while (result === null && !died) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const now = performance.now();
      const finished = Atomics.load(p, 1);
      if (Atomics.load(p, 0) < 0) lastChange = now; // not started yet: only the deadline applies
      if (finished !== last) {
        last = finished;
        lastChange = now;
      }
      if (o.onProgress !== undefined && now - lastReport > 2000) {
        lastReport = now;
        o.onProgress(from + finished);
      }
      if (now - lastChange > timeout || now > deadline) {
        return { summary: null, hungAt: Math.max(Atomics.load(p, 0), from), done: finished };
      }
    }
    if (died) {
      return {
        summary: null,
        hungAt: Math.max(Atomics.load(p, 0), from),
        done: Atomics.load(p, 1),
      };
    }
    return { summary: result, hungAt: -1, done: to - from };
  } finally {
    w.terminate();
  }
}

/**
 * Run `o.cases` cases. Never hangs: bounded by the per-case timeout and the
 * deadline.
 *
 * @returns the merged summary (hung cases listed in `hangs`)
 */
export async function runFuzz(o: RunOptions): Promise<Summary> {
  const total = newSummary(o.seed);
  const t0 = performance.now();
  const deadline = t0 + (o.deadlineMs ?? 30 * 60_000);
  let from = o.first ?? 0;
  const end = from + o.cases;
  while (from < end) {
    const r = await runSpan(o, from, end, deadline);
    if (r.summary !== null) {
      mergeSummary(total, r.summary);
      break;
    }
    // The Worker's partial counts are lost with it; the cases before the
    // hang are counted as run, the hung one as a hang.
    total.cases += r.hungAt - from;
    total.hangs.push(r.hungAt);
    from = r.hungAt + 1;
    if (performance.now() > deadline) break;
  }
  total.ms = performance.now() - t0;
  return total;
}
