/**
 * The report's musl/Lua part (bench/_report_musl.ts) renders its three
 * tables and judges exec of a dynamic musl program (DAX ≥ 0.98 of the page
 * cache) from made-up numbers: nothing here measures speed.
 */
import assert from "node:assert/strict";
import { muslExecTarget, type MuslResult, muslSection } from "../../bench/_report_musl.ts";
import { table } from "../../bench/_report_render.ts";

const stats = {
  instret: 1e6,
  peakFrames: 300,
  copiedBytes: 0,
  faultsDax: 0,
  faultsFile: 0,
  rssBytes: 100 << 20,
};

function result(daxMs: number, pcMs: number): MuslResult {
  return {
    status: "ok",
    exec: [
      { mode: "dax", runs: 5, medianMs: daxMs, minMs: daxMs - 1 },
      { mode: "pagecache", runs: 5, medianMs: pcMs, minMs: pcMs - 1 },
      { mode: "copy", runs: 5, medianMs: 50, minMs: 49 },
    ],
    reloc: [
      { program: "/bin/hello", linker: "kernel", runs: 5, medianMs: 10, instret: 20_000 },
      { program: "/usr/bin/hello", linker: "ld.so", runs: 5, medianMs: 30, instret: 900_000 },
    ],
    footprint: [
      { ...stats, mode: "dax", procs: 8, pagecacheFrames: 0, deviceMappedFrames: 130 },
      { ...stats, mode: "pagecache", procs: 8, pagecacheFrames: 134, deviceMappedFrames: 0 },
    ],
  };
}

Deno.test("muslExecTarget() is met at 0.98 of the page cache and missed below, with its numbers", () => {
  const met = muslExecTarget(result(40, 39.4));
  assert.equal(met.verdict, "met");
  assert.equal(met.measured, "0.985");
  assert.match(met.note, /median 40\.0 ms \(dax\) vs 39\.4 ms \(page cache\)/);
  assert.equal(muslExecTarget(result(40, 38)).verdict, "missed");
  assert.equal(muslExecTarget(undefined).verdict, "not measured");
  assert.equal(muslExecTarget({ status: "not measured", reason: "x" }).note, "x");
});

Deno.test("muslSection() renders exec, relocation and footprint tables with no ragged row", () => {
  const md = muslSection(result(40, 39), table);
  assert.match(md, /^### musl and Lua/);
  assert.match(md, /\| \/usr\/bin\/hello \| ld\.so \| 30\.0 ms \| 900,000 \|/);
  assert.match(md, /musl ÷ kernel-linked: 3\.00× the time, 880,000 more user instructions/);
  assert.match(md, /\| pagecache \| 8 \| 134 \| 0 \|/);
  for (const block of md.split("\n\n").filter((b) => b.startsWith("| "))) {
    const widths = block.split("\n").map((l) => l.split(/(?<!\\)\|/).length);
    assert.ok(widths.every((w) => w === widths[0]), `ragged table:\n${block}`);
  }
  assert.match(muslSection(undefined, table), /Not measured: not in this data/);
});
