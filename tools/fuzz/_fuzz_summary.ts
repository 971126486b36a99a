/** Outcomes of fuzz cases, counted by kind, and the one-line summary the runners print. */

/** What one case ended with. */
export interface CaseOutcome {
  /** "loaded", "mounted", "ERRNO: reason with numbers as #", ... */
  kind: string;
  /** The mutation applied. */
  mutation: string;
  /** The fixture or structure mutated. */
  target: string;
  /** Violations: an exception, a leak, an invariant. Empty when the case is fine. */
  problems: string[];
  /** Finer counts (the syscall fuzzer: results per syscall), merged into Summary.details. */
  details?: Record<string, number>;
}

/** A failed case, for replay. */
export interface Failure {
  seed: number;
  index: number;
  target: string;
  mutation: string;
  problems: string[];
}

/** Counts of a run. */
export interface Summary {
  seed: number;
  cases: number;
  kinds: Record<string, number>;
  mutations: Record<string, number>;
  failures: Failure[];
  hangs: number[];
  ms: number;
  details: Record<string, number>;
}

export function newSummary(seed: number): Summary {
  return { seed, cases: 0, kinds: {}, mutations: {}, failures: [], hangs: [], ms: 0, details: {} };
}

/** Replace numbers and hex with # and paths' directories, so outcomes group by cause. */
export function normalizeReason(reason: string): string {
  return reason
    .replace(/0x[0-9a-fA-F]+/g, "#")
    .replace(/\d+/g, "#")
    .replace(/"[^"]*"/g, '"…"');
}

export function addOutcome(s: Summary, seed: number, index: number, o: CaseOutcome): void {
  s.cases++;
  s.kinds[o.kind] = (s.kinds[o.kind] ?? 0) + 1;
  const mk = o.mutation.split("+")[0]!.split(".")[0]!;
  s.mutations[mk] = (s.mutations[mk] ?? 0) + 1;
  for (const [k, n] of Object.entries(o.details ?? {})) s.details[k] = (s.details[k] ?? 0) + n;
  if (o.problems.length > 0) {
    s.failures.push({ seed, index, target: o.target, mutation: o.mutation, problems: o.problems });
  }
}

/** Merge `b` into `a` (the runner restarts Workers after a hang). */
export function mergeSummary(a: Summary, b: Summary): void {
  a.cases += b.cases;
  for (const [k, n] of Object.entries(b.kinds)) a.kinds[k] = (a.kinds[k] ?? 0) + n;
  for (const [k, n] of Object.entries(b.mutations)) a.mutations[k] = (a.mutations[k] ?? 0) + n;
  for (const [k, n] of Object.entries(b.details)) a.details[k] = (a.details[k] ?? 0) + n;
  a.failures.push(...b.failures);
  a.hangs.push(...b.hangs);
}

/** A printable report: totals, outcome kinds by count, failures with their replay line. */
export function formatSummary(name: string, s: Summary, top = 40): string {
  const lines = [
    `${name}: ${s.cases} cases, seed ${s.seed}, ${s.failures.length} failed, ${s.hangs.length} hung, ${
      Math.round(s.ms)
    } ms`,
    `  mutations: ${
      Object.entries(s.mutations).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(
        ", ",
      )
    }`,
  ];
  const kinds = Object.entries(s.kinds).sort((a, b) => b[1] - a[1]);
  lines.push(`  outcomes (${kinds.length} kinds):`);
  for (const [k, n] of kinds.slice(0, top)) lines.push(`    ${String(n).padStart(6)}  ${k}`);
  if (kinds.length > top) lines.push(`    ... ${kinds.length - top} more kinds`);
  const details = Object.entries(s.details).sort((a, b) => a[0].localeCompare(b[0]));
  if (details.length > 0) {
    lines.push(`  details (${details.length}):`);
    for (let k = 0; k < details.length; k += 4) {
      lines.push("    " + details.slice(k, k + 4).map(([d, n]) => `${d} ${n}`).join(", "));
    }
  }
  for (const f of s.failures.slice(0, 20)) {
    lines.push(`  FAILED case ${f.index} (seed ${f.seed}, ${f.target}, ${f.mutation}):`);
    for (const p of f.problems.slice(0, 5)) {
      lines.push(`    ${p.split("\n").slice(0, 4).join(" | ")}`);
    }
  }
  for (const h of s.hangs) lines.push(`  HUNG case ${h} (seed ${s.seed})`);
  return lines.join("\n");
}
