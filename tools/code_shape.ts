/**
 * Count what issue 18 (the shape of the code) measures, so the figures in
 * its closing note come from a command rather than from memory:
 *
 *   deno run --allow-read tools/code_shape.ts            a table
 *   deno run --allow-read tools/code_shape.ts --missing  also list the
 *       exported mm/fs/kernel functions that take a lock but do not say so
 *
 * - register literals: `x[10]`-style indexes (5..31, so that pair[0] and
 *   pair[1] of tuples do not count) into a register file outside
 *   src/abi/regs.ts and the hart (whose x[0] = 0 is the architecture);
 * - `as Pfn` and `as never` casts in src/;
 * - source files over 700 lines;
 * - exported functions of src/mm, src/fs and src/kernel (declarations and
 *   exported arrow functions): how many have a lock contract in their doc
 *   comment (loosely: "Entry:", "Caller holds", "Called with ... held", "no
 *   lock", "any lock", "... lock held", "takes (and drops) the X lock",
 *   "Same locking as f"), how many use the strict "Entry:"/"Caller holds"
 *   form, and how many take a lock, in their own body or through any
 *   function they call, without saying so.
 *
 * The scan is textual (a doc comment directly above the function, read as
 * one line of prose, so a phrase broken across comment lines still counts),
 * which is how a reader meets the code too. The call graph includes
 * module-local helpers (forUserRange, withBmapLock) and arrow functions
 * (mmapReadLock, lockW), so a lock taken through them is seen.
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

/** A lock contract in a doc comment, loosely and strictly (matched on the joined text). */
const LOOSE = new RegExp(
  [
    String.raw`\bEntry(?: for all)?:`,
    String.raw`\b[Cc]aller (?:holds|must hold)`,
    String.raw`\b[Cc]all(?:ed)? (?:it )?with\b[^.]*\b(?:lock|held|locked)`,
    String.raw`\b(?:no|any) (?:\w+ )?locks?\b`,
    String.raw`\b(?:locks?|LOCK|rwsem|siglock|mutex) (?:is |are )?held\b`,
    String.raw`\bheld (?:for|on)\b`,
    String
      .raw`\b[Tt]akes? (?:and (?:drops|releases) )?(?:the |its |a |no )?[\w.'\-]*\s?(?:[\w-]+ )?(?:lock|rwsem|siglock|mutex)`,
    String.raw`\b(?:[Ss]ame locking|[Ee]ntry(?: and \w+)?) as \w+`,
  ].join("|"),
);
const STRICT = /\b(Entry:|[Cc]aller holds|[Cc]aller must hold)/;

/**
 * A call that takes a lock: the sync primitives and the wrappers that do
 * not reach one through a function this scan sees (xipfs_live_ns's lockW,
 * the siglock). The transitive pass finds the rest.
 */
const TAKES =
  /\b(mutexLock|downRead|downWrite|bitLock|spinLock|ptlLock|mmapReadLock|mmapWriteLock|lockPage|daxLockEntry|ilock\w*|lockW|lockR|siglock|withTasklist|rmapLockVma|\w+Lock)\(/;

/** A doc comment as one line of prose: no comment markers, no line breaks. */
const docText = (doc: string): string =>
  doc.replace(/^\/\*\*|\*\/$/g, "").split("\n").map((l) => l.replace(/^\s*\* ?/, "")).join(" ")
    .replace(/\s+/g, " ");

interface FnInfo {
  file: string;
  name: string;
  exported: boolean;
  loose: boolean;
  strict: boolean;
  /** Takes a lock in its own body. */
  takes: boolean;
  /** The body, for the transitive pass. */
  body: string;
}

/**
 * The top-level functions of `file` (declarations and arrow-function
 * constants, exported or not) with what their doc comments and bodies say.
 */
function functionsOf(file: string): FnInfo[] {
  const text = read(file);
  const out: FnInfo[] = [];
  const re =
    /^(export )?(?:(?:async )?function\*? (\w+)|const (\w+)\s*=\s*(?:async )?(?:<[^>\n]*>)?\((?:[^()]|\([^()]*\))*\)(?:\s*:\s*[^=\n]+?)?\s*=>)/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const before = text.slice(0, m.index).trimEnd();
    const doc = before.endsWith("*/") ? docText(before.slice(before.lastIndexOf("/**"))) : "";
    // The body: up to the next top-level declaration.
    const rest = text.slice(m.index);
    const next = rest.slice(1).search(
      /\n(?:export |function |async function |const |let |class |\/\*\*)/,
    );
    const whole = next < 0 ? rest : rest.slice(0, next + 1);
    const body = m[2] !== undefined
      ? whole.slice(whole.indexOf("{"))
      : whole.slice(whole.indexOf("=>"));
    out.push({
      file,
      name: (m[2] ?? m[3])!,
      exported: m[1] !== undefined,
      loose: LOOSE.test(doc),
      strict: STRICT.test(doc),
      takes: TAKES.test(body),
      body,
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
      regs += count(t, /\b(?:regs|x|a)\[(?:[5-9]|[12][0-9]|3[01])\]/g); // x5..x31: tuples use [0], [1]
    }
    asPfn += count(t, /\bas Pfn\b/g);
    asNever += count(t, /\bas never\b/g);
    // Lines as wc -l counts them: a final newline ends the last line, it does not start another.
    const lines = t.split("\n").length - (t.endsWith("\n") ? 1 : 0);
    if (lines > LONG_FILE) long.push(`${f} (${lines})`);
  }
  // Every top-level function of mm, fs, kernel and sync, so that a call
  // through a module-local helper (forUserRange, lockW) or an exported
  // arrow function (mmapReadLock) is followed too.
  const all = ["src/mm", "src/fs", "src/kernel", "src/sync"].flatMap(tsFiles).flatMap(functionsOf);
  const inScope = (f: FnInfo) => !f.file.startsWith("src/sync");
  const fns = all.filter((f) => f.exported && inScope(f));
  const pct = (n: number) => `${n} of ${fns.length} (${Math.round((100 * n) / fns.length)}%)`;
  // Transitively: a function that calls (by name) one that takes a lock
  // takes it too. A call resolves to a function of the same file first,
  // then to an exported function of that name anywhere (the scan is
  // textual, so a shared name such as namei's and pgtable's `walk` can
  // over-count, never under-count).
  const key = (f: FnInfo) => (f.exported ? f.name : `${f.file}:${f.name}`);
  const locals = new Set(all.filter((f) => !f.exported).map(key));
  const takes = new Set(all.filter((f) => f.takes).map(key));
  for (let grew = true; grew;) {
    grew = false;
    for (const f of all) {
      if (takes.has(key(f))) continue;
      for (const m of f.body.matchAll(/\b(\w+)\(/g)) {
        const local = `${f.file}:${m[1]!}`;
        if (takes.has(locals.has(local) ? local : m[1]!)) {
          takes.add(key(f));
          grew = true;
          break;
        }
      }
    }
  }
  const missing = fns.filter((f) => takes.has(key(f)) && !f.loose);
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
