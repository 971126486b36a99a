import assert from "node:assert/strict";
import { runFuzz } from "../../tools/fuzz/_fuzz_runner.ts";

Deno.test("runFuzz() terminates a Worker whose case hangs, records the case and carries on", async () => {
  const s = await runFuzz({ fuzzer: "hang", seed: 1, cases: 5, caseTimeoutMs: 400 });
  assert.deepEqual(s.hangs, [2]);
  assert.equal(s.cases, 4, "cases 0, 1 (counted at the hang), 3 and 4");
  assert.deepEqual(s.failures, []);
});
