import assert from "node:assert/strict";
import { etaMs, etaText, formatDuration } from "../../src/cli/_progress.ts";

Deno.test("formatDuration() writes seconds, minutes and hours as a person reads them", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [499, "0s"],
    [42_000, "42s"],
    [65_000, "1m05s"],
    [3_599_000, "59m59s"],
    [3_720_000, "1h02m"],
    [-5, "0s"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

Deno.test("etaMs() extrapolates the rate so far, and gives null before any work is done", () => {
  assert.equal(etaMs(1, 4, 1000), 3000);
  assert.equal(etaMs(4, 4, 1000), 0);
  assert.equal(etaMs(5, 4, 1000), 0);
  assert.equal(etaMs(0, 4, 1000), null);
  assert.equal(etaText(30_000, 60_000, 30_000), "30s elapsed, about 30s left");
  assert.match(etaText(0, 60_000, 0), /estimating/);
});
