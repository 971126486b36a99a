import assert from "node:assert/strict";
import { checkReport } from "../../bench/check_report.ts";

const GOOD = `# xip benchmark report

## Machine

| what | value |
| --- | --- |
| cores | 2 |

## Targets (issue 7)

| target | goal | measured | verdict | how / why not |
| --- | --- | --- | --- | --- |
| a | b | c | met | d |

![plot](plots/p.svg)

## Bench suites (\`deno bench\`)

| bench | n |
| --- | --- |
| x | 1 |
`;

async function withReport(md: string, svg: string | null, body: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "xip-check-report-" });
  try {
    await Deno.writeTextFile(`${dir}/REPORT.md`, md);
    if (svg !== null) {
      await Deno.mkdir(`${dir}/plots`);
      await Deno.writeTextFile(`${dir}/plots/p.svg`, svg);
    }
    await body(`${dir}/REPORT.md`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SVG = `<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>`;

Deno.test("checkReport() accepts a well-formed report with its plot", async () => {
  await withReport(GOOD, SVG, async (p) => assert.deepEqual(await checkReport(p), []));
});

Deno.test("checkReport() names each problem of a broken report", async () => {
  const cases: [string, string, string | null, RegExp][] = [
    ["missing plot", GOOD, null, /plot plots\/p\.svg is linked but missing/],
    ["plot not XML", GOOD, "<svg><g></svg>", /not well-formed XML/],
    [
      "missing heading",
      GOOD.replace("## Machine", "## Hardware"),
      SVG,
      /missing heading "## Machine"/,
    ],
    ["ragged table", GOOD.replace("| x | 1 |", "| x | 1 | 2 |"), SVG, /ragged table/],
    ["no targets table", GOOD.replace("| verdict |", "| outcome |"), SVG, /no targets table/],
  ];
  for (const [name, md, svg, want] of cases) {
    await withReport(md, svg, async (p) => {
      const problems = await checkReport(p);
      assert.ok(problems.some((x) => want.test(x)), `${name}: ${JSON.stringify(problems)}`);
    });
  }
});
