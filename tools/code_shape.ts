/**
 * Count what issue 18 (the shape of the code) measures, so the figures in
 * its closing note come from a command rather than from memory:
 *
 *   deno run --allow-read tools/code_shape.ts            a table
 *   deno run --allow-read tools/code_shape.ts --missing  also list the
 *       exported mm/fs/kernel functions that take a lock but do not say so
 *
 * - register literals: `x[10]`-style indexes into a register file outside
 *   src/abi/regs.ts and the hart (whose x[0] = 0 is the architecture);
 * - `as Pfn` and `as never` casts in src/;
 * - source files over 700 lines;
 * - exported functions of src/mm, src/fs and src/kernel: how many have a
 *   lock contract in their doc comment ("Entry:", "Caller holds", "no lock",
 *   "held", "takes"), how many use the strict "Entry:"/"Caller holds" form,
 *   and how many take a lock in their own body without saying so.
 *
 * The function scan is textual (a doc comment directly above `export
 * function`), which is how a reader meets the code too.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const LONG_FILE = 700;

/** Every .ts file below `dir` (relative to the repository root). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(new URL(rel, ROOT))) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

const read = (rel: string): string => Deno.readTextFileSync(new URL(rel, ROOT));

/** Occurrences of `re` in `text`. */
const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;

/** A lock contract in a doc comment, loosely and strictly. */
const LOOSE =
  /\b(Entry:|[Cc]aller holds|[Cc]aller must hold|no locks? (?:is )?held|holds? no lock|lock(?:s)? held|held (?:for|on)|[Tt]akes (?:and drops )?\w*[Ll]ock|takes no lock|[Nn]o lock)/;
const STRICT = /\b(Entry:|[Cc]aller holds|[Cc]aller must hold)/;
/** A call that takes a lock (the sync primitives and the mm/fs wrappers). */
const TAKES =
  /\b(mutexLock|downRead|downWrite|bitLock|spinLock|ptlLock|mmapReadLock|mmapWriteLock|lockPage|daxLockEntry|ilock\w*|rmapLockVma|\w+Lock)\(/;

interface FnInfo {
  file: string;
  name: string;
  loose: boolean;
  strict: boolean;
  /** Takes a lock in its own body. */
  takes: boolean;
  /** The body, for the transitive pass. */
  body: string;
}

/** Exported functions of `file` with what their doc comments and bodies say. */
function exportedFunctions(file: string): FnInfo[] {
  const text = read(file);
  const out: FnInfo[] = [];
  const re = /export (?:async )?function\*? (\w+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const before = text.slice(0, m.index).trimEnd();
    const doc = before.endsWith("*/") ? before.slice(before.lastIndexOf("/**")) : "";
    // The body: up to the next top-level declaration.
    const rest = text.slice(m.index);
    const next = rest.slice(1).search(/\n(?:export |function |const |let |class |\/\*\*)/);
    const body = next < 0 ? rest : rest.slice(0, next + 1);
    out.push({
      file,
      name: m[1]!,
      loose: LOOSE.test(doc),
      strict: STRICT.test(doc),
      takes: TAKES.test(body.slice(body.indexOf("{"))),
      body: body.slice(body.indexOf("{")),
    });
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { missing: { type: "boolean" } } });
  const src = tsFiles("src");
  let regs = 0, asPfn = 0, asNever = 0;
  const long: string[] = [];
  for (const f of src) {
    const t = read(f);
    if (f !== "src/abi/regs.ts" && !f.startsWith("src/hw/hart")) {
      regs += count(t, /\b(?:regs|x|a)\[\d+\]/g);
    }
    asPfn += count(t, /\bas Pfn\b/g);
    asNever += count(t, /\bas never\b/g);
    const lines = t.split("\n").length;
    if (lines > LONG_FILE) long.push(`${f} (${lines})`);
  }
  const fns = ["src/mm", "src/fs", "src/kernel"].flatMap(tsFiles).flatMap(exportedFunctions);
  const pct = (n: number) => `${n} of ${fns.length} (${Math.round((100 * n) / fns.length)}%)`;
  // Transitively: a function that calls (by name) one that takes a lock takes it too.
  const all = ["src/mm", "src/fs", "src/kernel", "src/sync"].flatMap(tsFiles).flatMap(
    exportedFunctions,
  );
  const takes = new Set(all.filter((f) => f.takes).map((f) => f.name));
  for (let grew = true; grew;) {
    grew = false;
    for (const f of all) {
      if (takes.has(f.name)) continue;
      for (const m of f.body.matchAll(/\b(\w+)\(/g)) {
        if (takes.has(m[1]!)) {
          takes.add(f.name);
          grew = true;
          break;
        }
      }
    }
  }
  const missing = fns.filter((f) => takes.has(f.name) && !f.loose);
  console.log(`register literals outside abi/regs.ts and the hart: ${regs}`);
  console.log(`'as Pfn' casts in src: ${asPfn}`);
  console.log(`'as never' casts in src: ${asNever}`);
  console.log(
    `files over ${LONG_FILE} lines in src: ${long.length}${
      long.length ? `: ${long.join(", ")}` : ""
    }`,
  );
  console.log(
    `exported mm/fs/kernel functions with a lock contract: ${
      pct(fns.filter((f) => f.loose).length)
    }`,
  );
  console.log(
    `  in the strict "Entry:" / "Caller holds" form: ${pct(fns.filter((f) => f.strict).length)}`,
  );
  console.log(`  taking a lock (directly or through a call) without a contract: ${missing.length}`);
  if (values.missing) { for (const f of missing) console.log(`    ${f.file}: ${f.name}`); }
}
