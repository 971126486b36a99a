/**
 * The long fuzz runs (not a test): `deno task fuzz [--elf N] [--image N]
 * [--syscall N] [--seed S] [--case I] [--timeout MS]`. Each fuzzer runs N
 * cases in Workers under the watchdog of _fuzz_runner.ts and prints its
 * summary (outcomes by kind, failures with their replay line). `--case I`
 * replays case I alone (with --seed and one fuzzer). Exits 1 when a case
 * failed or hung.
 */

import { parseArgs } from "node:util";
import { formatSummary } from "./_fuzz_summary.ts";
import { runFuzz } from "./_fuzz_runner.ts";

const USAGE =
  "usage: deno task fuzz [--elf N] [--image N] [--syscall N] [--seed S] [--case I] [--timeout MS]";

function parse() {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        elf: { type: "string" },
        image: { type: "string" },
        syscall: { type: "string" },
        seed: { type: "string" },
        case: { type: "string" },
        timeout: { type: "string" },
      },
    });
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
}
const { values } = parse();

const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 1e9);
const jobs: ["elf" | "image" | "syscall", number][] = [];
for (const f of ["elf", "image", "syscall"] as const) {
  if (values[f] !== undefined) jobs.push([f, Number(values[f])]);
}
if (jobs.length === 0 || jobs.some(([, n]) => !(n > 0)) || !Number.isFinite(seed)) {
  console.error(USAGE);
  Deno.exit(2);
}
let bad = false;
for (const [fuzzer, n] of jobs) {
  const first = values.case !== undefined ? Number(values.case) : 0;
  console.log(`${fuzzer}: ${n} cases from ${first}, seed ${seed}`);
  const s = await runFuzz({
    fuzzer,
    seed,
    cases: values.case !== undefined ? 1 : n,
    first,
    caseTimeoutMs: values.timeout !== undefined ? Number(values.timeout) : undefined,
    deadlineMs: 6 * 3600_000,
    onProgress: (done) => console.log(`  ${fuzzer}: ${done} cases done`),
  });
  console.log(formatSummary(fuzzer, s));
  if (s.failures.length > 0 || s.hangs.length > 0) bad = true;
}
Deno.exit(bad ? 1 : 0);
