/**
 * The repository stands alone: no file refers to a path outside it (a
 * sibling checkout, the machine it was written on, design notes that a clone
 * does not have), every relative Markdown link resolves, and every
 * "docs/ARCHITECTURE.md §N" names a section that exists.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const TEXT = /\.(ts|md|json|c|h|S|ld|sh|yml|yaml|txt)$|(^|\/)run$/;
const SKIP_DIRS = new Set([".git", "node_modules", "fixtures", "tmp"]);

/** Every text file of the repository, as paths relative to its root. */
function textFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      if (!SKIP_DIRS.has(e.name)) out.push(...textFiles(path));
    } else if (e.isFile && TEXT.test(path)) {
      out.push(relative(ROOT, path));
    }
  }
  return out.sort();
}

const exists = (rel: string): boolean => {
  try {
    Deno.statSync(join(ROOT, rel));
    return true;
  } catch {
    return false;
  }
};

/**
 * Patterns that point outside the repository, with why each is wrong. A note
 * named by its bare file name is fine once the repository has that file.
 */
const OUTSIDE: [RegExp, string, boolean][] = [
  [/\.\.\/shared\b/, "a sibling directory of the checkout", false],
  [/\/work\/(shared|main|wt-|notes)/, "a path of the machine the code was written on", false],
  [/(?<![\w/.-])(DESIGN|PLATFORM|STYLE)\.md\b/, "a design note the repository lacks", true],
];

/** This file names the patterns it looks for. */
const SELF = "tests/package/self_contained_test.ts";

Deno.test("no file of the repository refers to a path outside it", () => {
  const bad: string[] = [];
  for (const file of textFiles()) {
    if (file === SELF) continue;
    const lines = Deno.readTextFileSync(join(ROOT, file)).split("\n");
    lines.forEach((line, i) => {
      for (const [re, why, ifMissing] of OUTSIDE) {
        const m = re.exec(line);
        if (m && !(ifMissing && exists(m[0]))) bad.push(`${file}:${i + 1}: "${m[0]}" is ${why}`);
      }
    });
  }
  assert.deepEqual(bad, []);
});

Deno.test("every relative Markdown link resolves to a file of the repository", () => {
  const bad: string[] = [];
  for (const file of textFiles().filter((f) => f.endsWith(".md"))) {
    const text = Deno.readTextFileSync(join(ROOT, file));
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const rel = relative(ROOT, join(ROOT, file, "..", target));
      if (!exists(rel)) bad.push(`${file}: link to ${target} (${rel}) does not resolve`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("every docs/ARCHITECTURE.md §N reference names an existing section", () => {
  const arch = Deno.readTextFileSync(join(ROOT, "docs/ARCHITECTURE.md"));
  const sections = new Set([...arch.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]!));
  assert.ok(sections.size >= 7, "docs/ARCHITECTURE.md lost its numbered sections");
  const bad: string[] = [];
  for (const file of textFiles()) {
    const text = Deno.readTextFileSync(join(ROOT, file));
    for (const m of text.matchAll(/ARCHITECTURE\.md §(\d+)/g)) {
      if (!sections.has(m[1]!)) bad.push(`${file}: §${m[1]} is not a section`);
    }
  }
  assert.deepEqual(bad, []);
});
