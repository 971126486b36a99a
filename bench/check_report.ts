/**
 * Check that a generated report is well-formed: the sections are there,
 * every table is rectangular, and every linked plot exists and is an SVG
 * that parses as XML. CI runs it on `deno task bench:report --quick`.
 * Timings are not checked: CI machines are noisy.
 *
 * Usage: deno run -A bench/check_report.ts REPORT.md
 *
 * @module
 */

import { XMLValidator } from "npm:fast-xml-parser@4";
import { dirname, join } from "node:path";

const HEADINGS = [
  "# xip benchmark report",
  "## Machine",
  "## Targets (issue 7)",
  "## Bench suites",
];

/** Problems found in the report at `path`, one line each; empty when it is well-formed. */
export async function checkReport(path: string): Promise<string[]> {
  const problems: string[] = [];
  let md: string;
  try {
    md = await Deno.readTextFile(path);
  } catch (e) {
    return [`cannot read ${path}: ${(e as Error).message}`];
  }
  const lines = md.split("\n");
  for (const h of HEADINGS) {
    if (!lines.some((l) => l === h || l.startsWith(`${h} `))) {
      problems.push(`missing heading "${h}"`);
    }
  }
  if (!/\| target \| goal \| measured \| verdict \|/.test(md)) problems.push("no targets table");
  for (const block of md.split("\n\n").filter((b) => b.startsWith("| "))) {
    const widths = block.trimEnd().split("\n").map((l) => l.split(/(?<!\\)\|/).length);
    if (!widths.every((w) => w === widths[0])) {
      problems.push(`ragged table starting "${block.split("\n")[0]}"`);
    }
  }
  for (const m of md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
    const file = join(dirname(path), m[1]!);
    let svg: string;
    try {
      svg = await Deno.readTextFile(file);
    } catch {
      problems.push(`plot ${m[1]} is linked but missing`);
      continue;
    }
    if (XMLValidator.validate(svg) !== true) problems.push(`plot ${m[1]} is not well-formed XML`);
    if (!svg.startsWith("<svg")) problems.push(`plot ${m[1]} is not an SVG`);
  }
  return problems;
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    console.error("usage: deno run -A bench/check_report.ts REPORT.md");
    Deno.exit(2);
  }
  const problems = await checkReport(path);
  for (const p of problems) console.error(`check_report: ${p}`);
  if (problems.length > 0) Deno.exit(1);
  console.log(`check_report: ${path} is well-formed`);
}
