/**
 * bench/report.ts renders a well-formed report from collected data: the
 * sections, tables and targets are there, missed and unmeasured targets
 * say so, and every plot is an SVG that parses as XML. Timings are made-up
 * fixture numbers: nothing here measures or asserts speed.
 */

import assert from "node:assert/strict";
import { XMLValidator } from "npm:fast-xml-parser@4";
import { parseBenchJson, writeReport } from "../../bench/report.ts";
import { evaluateTargets } from "../../bench/_report_targets.ts";
import type {
  FootprintPoint,
  MachineRuns,
  Mode,
  ReportData,
  ScalingPoint,
} from "../../bench/_report_types.ts";
import { MODE_SCALE } from "../../bench/_report_plots.ts";

const MODES: Mode[] = ["dax", "pagecache", "copy"];

const stats = {
  instret: 1e7,
  pagecacheFrames: 0,
  copiedBytes: 0,
  faultsDax: 10,
  faultsFile: 10,
  deviceMappedFrames: 5,
  rssBytes: 100 << 20,
};

function runs(valid: boolean): MachineRuns {
  const validity = MODES.map((mode) =>
    valid || mode === "copy" ? { mode, valid: true } : { mode, valid: false, reason: "fell back" }
  );
  const scaling: ScalingPoint[] = MODES.flatMap((mode) =>
    [1, 2, 4].map((procs) => ({
      ...stats,
      mode,
      procs,
      iterations: 1,
      wallMs: 1000,
      instrPerSec: procs === 1 ? 50e6 : 90e6,
      peakFrames: 40 * procs,
    }))
  );
  const footprint: FootprintPoint[] = MODES.flatMap((mode) =>
    [1, 4].flatMap((procs) =>
      [65536, 1 << 20].map((textBytes) => ({
        ...stats,
        mode,
        procs,
        textBytes,
        peakFrames: 30,
        codeFrames: mode === "dax"
          ? 0
          : mode === "pagecache"
          ? textBytes / 4096
          : procs * textBytes / 4096,
      }))
    )
  );
  return {
    exec: {
      status: "ok",
      iterations: 1,
      validity,
      points: MODES.map((mode, k) => ({ mode, runs: 3, medianMs: 100 + k, minMs: 90 })),
    },
    scaling: { status: "ok", points: scaling, validity },
    footprint: { status: "ok", points: footprint, validity },
    qemu: { status: "not measured", reason: "qemu-riscv32 is not installed" },
    tlb: { status: "ok", flushes: 100, busyHarts: 2, p50Us: 40, p99Us: 90, idleP50Us: 1 },
    dax: {
      status: "ok",
      huge: {
        status: "ok",
        blobPages: 4096,
        points: [
          { ...HUGE, layout: "4k", faults: 8 * 4096, pagetableFrames: 32 },
          { ...HUGE, layout: "megapage", faults: 40, pmdFaults: 32, pagetableFrames: 8 },
        ],
      },
      mapsync: {
        status: "ok",
        records: 100,
        rounds: 3,
        points: [{ where: "disk", persistUs: 4000, fsyncUs: 4400 }],
      },
    },
  };
}

/** The fields of a megapage point the tests do not vary. */
const HUGE = {
  procs: 8,
  pmdFaults: 0,
  machineFaults: 40000,
  machinePagetableFrames: 64,
  touchUsMedian: 900_000,
  soloTouchUs: 30_000,
} as const;

/** Deno's --json shape, as `deno bench --json` prints it. */
const BENCH_JSON = `{
  "version": 1,
  "runtime": "Deno/2.9.6 x86_64-unknown-linux-gnu",
  "cpu": "test",
  "benches": [
    { "origin": "file:///x", "group": "read 1 MiB", "name": "raw Uint8Array.set, 1 x 1 MiB",
      "baseline": true,
      "results": [{ "ok": { "n": 10, "min": 90000, "max": 1e6, "avg": 100000, "p75": 1e5,
        "p99": 2e5, "p995": 2e5, "p999": 2e5, "highPrecision": true, "usedExplicitTimers": false } }] },
    { "origin": "file:///x", "group": "read 1 MiB", "name": "DAX read, 1 x 1 MiB",
      "baseline": false,
      "results": [{ "ok": { "n": 10, "min": 150000, "max": 1e6, "avg": 200000, "p75": 2e5,
        "p99": 3e5, "p995": 3e5, "p999": 3e5, "highPrecision": true, "usedExplicitTimers": false } }] },
    { "origin": "file:///x", "group": "read 1 MiB", "name": "broken", "baseline": false,
      "results": [{ "failed": "Error: boom" }] }
  ]
}
`;

function fixture(valid: boolean): ReportData {
  return {
    version: 1,
    quick: true,
    machine: {
      cpu: "Test CPU",
      cores: 2,
      ramBytes: 8 * 2 ** 30,
      deno: "2.9.6",
      v8: "15.0",
      typescript: "6.0",
      os: "linux test",
      date: "2026-01-01T00:00:00Z",
      loadAverage: [0.5, 0.4, 0.3],
    },
    suites: [
      {
        suite: "io",
        file: "bench/io_bench.ts",
        status: "ok",
        rows: parseBenchJson("Check x\n" + BENCH_JSON),
        seconds: 1,
      },
      {
        suite: "mmfile",
        file: "bench/fault_bench.ts",
        status: "missing",
        reason: "bench/fault_bench.ts is not in this tree (it comes with branch mmfile)",
        rows: [],
        seconds: 0,
      },
    ],
    runs: runs(valid),
    totalSeconds: 3,
  };
}

async function render(data: ReportData): Promise<{ md: string; svgs: string[]; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "xip-report-test-" });
  const paths = await writeReport(data, `${dir}/REPORT.md`);
  const md = await Deno.readTextFile(`${dir}/REPORT.md`);
  const svgs = await Promise.all(paths.map((p) => Deno.readTextFile(p)));
  return { md, svgs, dir };
}

Deno.test("parseBenchJson() reads Deno's JSON after other output, failures included", () => {
  const rows = parseBenchJson("Check file:///x\n" + BENCH_JSON);
  assert.equal(rows.length, 3);
  assert.deepEqual(
    rows.map((r) => [r.name, r.baseline, r.avgNs, r.error === undefined]),
    [
      ["raw Uint8Array.set, 1 x 1 MiB", true, 100000, true],
      ["DAX read, 1 x 1 MiB", false, 200000, true],
      ["broken", false, NaN, false],
    ],
  );
  assert.throws(() => parseBenchJson("no json here"), /no JSON/);
});

Deno.test("evaluateTargets() reports met, missed and not measured with reasons", () => {
  const t = evaluateTargets(fixture(true));
  assert.equal(t.length, 9);
  assert.equal(t.find((x) => /Megapages: faults/.test(x.target))!.verdict, "met"); // 819x
  const tables = t.find((x) => /Megapages: page-table/.test(x.target))!;
  assert.equal(tables.verdict, "missed"); // 4x
  assert.match(tables.measured, /32 against 8 \(4\.0×\), 8 processes/);
  const by = (re: RegExp) => t.find((x) => re.test(x.target))!;
  assert.equal(by(/DAX read vs raw/).verdict, "missed"); // 0.5 of raw
  assert.match(by(/DAX read vs raw/).measured, /0\.50/);
  assert.equal(by(/fault/).verdict, "not measured");
  assert.match(by(/fault/).note, /fault_bench\.ts is not in this tree/);
  assert.equal(by(/2 processes/).verdict, "missed"); // 1.80x
  assert.equal(by(/RAM for code/).verdict, "met");
  assert.equal(by(/Exec/).verdict, "met"); // 101 / 100 ms
  assert.equal(by(/Hart/).verdict, "not measured");
  assert.equal(by(/musl/).verdict, "not measured", "no musl runs in this data");
  const invalid = evaluateTargets(fixture(false));
  assert.equal(invalid.find((x) => /Exec/.test(x.target))!.verdict, "not measured");
  assert.match(invalid.find((x) => /Exec/.test(x.target))!.note, /fell back/);
});

Deno.test("writeReport() writes the sections, tables and XML-valid SVG plots", async () => {
  const { md, svgs, dir } = await render(fixture(true));
  try {
    for (
      const h of [
        "# xip benchmark report",
        "## Machine",
        "## Targets (issue 7)",
        "### Exec",
        "### Scaling",
        "### Memory footprint",
        "### TLB shootdown latency",
        "### DAX megapages and MAP_SYNC",
        "## Plots",
        "## Bench suites",
      ]
    ) assert.ok(md.includes(h), `missing heading ${h}`);
    assert.match(md, /The ratios are the claim/);
    assert.match(md, /\| faults to touch it, all processes \| 32768 \| 40 \| 819\.2× \|/);
    assert.match(md, /\| disk \(temporary directory\) \| 4000\.0 µs \| 4400\.0 µs \| 1\.1× \|/);
    assert.match(md, /\| target \| goal \| measured \| verdict \|/);
    assert.match(md, /\| --- \| --- \|/);
    assert.match(md, /not measured \| suite mmfile missing/);
    assert.match(md, /failed: /); // the broken bench row
    // Every table row has as many cells as its header.
    for (const block of md.split("\n\n").filter((b) => b.startsWith("| "))) {
      const widths = block.split("\n").map((l) => l.split(/(?<!\\)\|/).length);
      assert.ok(widths.every((w) => w === widths[0]), `ragged table:\n${block}`);
    }
    assert.equal(svgs.length, 5);
    for (const svg of svgs) {
      assert.equal(XMLValidator.validate(svg), true);
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      // The shared mode colours appear, and the axes are labelled with units.
      assert.ok(MODE_SCALE.range.some((c) => svg.includes(c)), "no mode colour in the plot");
    }
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    assert.equal(links.length, 5);
    for (const l of links) await Deno.stat(`${dir}/${l}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeReport() leaves invalid modes out of the plots and says why", async () => {
  const { md, svgs, dir } = await render(fixture(false));
  try {
    assert.match(md, /\*\*dax: not measured as such\*\*: fell back/);
    for (const svg of svgs) assert.ok(!svg.includes(MODE_SCALE.range[0]!), "dax colour plotted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report.ts --from-json renders a report without measuring", async () => {
  const dir = await Deno.makeTempDir({ prefix: "xip-report-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/data.json`, JSON.stringify(fixture(true)));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../bench/report.ts", import.meta.url).pathname,
        "--from-json",
        `${dir}/data.json`,
        "--out",
        `${dir}/R.md`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.match(await Deno.readTextFile(`${dir}/R.md`), /^# xip benchmark report/);
    assert.equal([...Deno.readDirSync(`${dir}/plots`)].length, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
