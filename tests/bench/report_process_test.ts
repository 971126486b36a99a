/**
 * Issue 15's targets in the bench report (bench/_report_process.ts): met,
 * missed and not measured, from `process` suite rows.
 */

import assert from "node:assert/strict";
import { processTargets } from "../../bench/_report_process.ts";
import type { BenchRow, ReportData, SuiteResult } from "../../bench/_report_types.ts";

const row = (name: string, avgMs: number, group: string): BenchRow => ({
  group,
  name,
  baseline: false,
  n: 4,
  avgNs: avgMs * 1e6,
  minNs: avgMs * 1e6,
  p75Ns: avgMs * 1e6,
  p99Ns: avgMs * 1e6,
});

/** Only `suites` is read by processTargets. */
const data = (suite: SuiteResult | null): ReportData =>
  ({ suites: suite === null ? [] : [suite] }) as unknown as ReportData;

Deno.test("processTargets(): fork+exec per cycle and thread scaling, met and missed", () => {
  const [fork, threads] = processTargets(data({
    suite: "process",
    file: "bench/process_bench.ts",
    status: "ok",
    seconds: 60,
    rows: [
      row("fork+exit+wait x50", 40, "fork"),
      row("fork+exec+exit+wait of static hello x50", 90, "fork"), // 1.8 ms a cycle
      row("threaded compute, 1 thread", 1000, "threads"),
      row("threaded compute, 2 threads", 600, "threads"), // 1.67x
    ],
  }));
  assert.equal(fork!.verdict, "met");
  assert.equal(fork!.measured, "1.80 ms");
  assert.match(fork!.note, /fork\+exit\+wait alone 0\.80 ms/);
  assert.equal(threads!.verdict, "missed");
  assert.equal(threads!.measured, "1.67×");
});

Deno.test("processTargets(): not measured, with the reason, when the suite did not run", () => {
  const t = processTargets(data(null));
  assert.equal(t.length, 2);
  for (const x of t) {
    assert.equal(x.verdict, "not measured");
    assert.match(x.note, /suite process is not part of this report/);
  }
});
