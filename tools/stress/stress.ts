/**
 * The long stress soak (not a test): `deno task stress --seconds N --seed S
 * [--workers K] [--mode dax|pagecache|both] [--perturb on|off|both] [--ram FRAMES]
 * [--guests G [--guest-ops N]] [--min-ops M]`.
 * Runs rounds of every selected configuration until N seconds have passed,
 * each round with the next seed (S, S+1, ...), and prints one report per
 * run with its seed; exits 1 at the first run with a problem. A run is
 * replayed with `--seed` set to the seed it printed. With `--min-ops M` it
 * goes on past N seconds (up to 3N) until M oracle-checked operations ran,
 * and fails when it cannot (the soak .ci/run runs).
 *
 * With `--guests G` each run boots a Machine on fixtures/rootfs and runs G
 * guest fsx processes (N ops each, default 1000; seeds derived from the run
 * seed and printed) at the same time as the K Workers, which attach to the
 * Machine's memory and file system (_stress_guests.ts). --ram is then the
 * Machine's RAM in frames (default 8192), at least 512.
 *
 * With `--kill`, runs the hard-kill chaos instead (_kill_chaos.ts): rounds
 * of counter, compute and fsx processes on one Machine, some killed at
 * random moments or at random kill points; --mode and --perturb select the
 * configurations, --rounds R (default 4) the rounds per run, --ram FRAMES
 * the Machine's RAM (default 8192; small values add reclaim and OOM kills).
 *
 * With `--fork`, runs the fork/exec soak (_fork_soak.ts): --cycles C
 * (default 4000) fork/exit/wait and fork/exec/exit/wait cycles in each of
 * the four DAX and memmap configurations, then the frames and invariants.
 *
 * With `--crash`, runs the long form of the crash-consistency test
 * (tests/crash/_crash_soak.ts): recorded fsx runs in both DAX modes (G
 * guests of N ops: --guests, default 4, --guest-ops, default 1000), every
 * flush point and --torn T torn points (default 400) of each replayed,
 * repaired and checked, until N seconds have passed; prints the crash
 * points tried, lost and unrepairable.
 */

import { parseArgs } from "node:util";
import { formatGuests, runStressWithGuests } from "./_stress_guests.ts";
import { formatStress, runStress, type StressReport } from "./_stress_runner.ts";
import { formatKillChaos, runKillChaos } from "./_kill_chaos.ts";
import { runCrashSoak } from "../../tests/crash/_crash_soak.ts";
import { runForkSoak } from "./_fork_soak.ts";
import { formatCrash } from "../../tests/crash/_log_writes.ts";
import { etaText, StatusLine, ticker } from "../../src/cli/_progress.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    workers: { type: "string", default: "4" },
    mode: { type: "string", default: "both" },
    perturb: { type: "string", default: "both" },
    ram: { type: "string" },
    ops: { type: "string", default: "1000000" },
    guests: { type: "string", default: "0" },
    "guest-ops": { type: "string", default: "1000" },
    kill: { type: "boolean", default: false },
    crash: { type: "boolean", default: false },
    fork: { type: "boolean", default: false },
    cycles: { type: "string", default: "4000" },
    torn: { type: "string", default: "400" },
    rounds: { type: "string", default: "4" },
    "min-ops": { type: "string", default: "0" },
  },
});
const seconds = Number(values.seconds);
const workers = Number(values.workers);
let seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 1e9);
const modes = values.mode === "both" ? ["dax", "pagecache"] as const : [values.mode] as const;
const perturbs = values.perturb === "both" ? [false, true] : [values.perturb === "on"];
const guests = Number(values.guests), guestOps = Number(values["guest-ops"]);
const ram = values.ram !== undefined ? Number(values.ram) : undefined;
if (
  !(seconds > 0) || !(workers >= 0) || !modes.every((m) => m === "dax" || m === "pagecache") ||
  !Number.isInteger(guests) || guests < 0 || !(guestOps >= 1) || (guests === 0 && workers < 1) ||
  (guests > 0 && ram !== undefined && ram < 512)
) {
  console.error(
    "usage: deno task stress --seconds N --seed S [--workers K] [--mode dax|pagecache|both] [--perturb on|off|both] [--ram FRAMES] [--guests G [--guest-ops N]]",
  );
  Deno.exit(2);
}
const start = Date.now();
const end = start + seconds * 1000;
// Progress on stderr: the soak is bounded by time, so the time left is what is left of it
// (a run that has started finishes, which may add up to one slice).
const status = new StatusLine();
const progress = () => etaText(Date.now() - start, seconds * 1000, Date.now() - start);
const stopTicker = ticker(status, () => `stress: ${progress()}`);
/** One line on stderr after each run. */
const runDone = (runs: number) => status.log(`stress: run ${runs} done, ${progress()}`);
if (values.kill) await killSoak();
if (values.crash) await crashSoak();
if (values.fork) await forkSoak();
const slice = Math.max(5, Math.min(60, seconds / (modes.length * perturbs.length)));
const minOps = Number(values["min-ops"]);
const firstSeed = seed;
const hardEnd = end + 2 * seconds * 1000;
let runs = 0, ops = 0, guestRan = 0, lastSeed = seed;
const more = () => Date.now() < end || (ops < minOps && Date.now() < hardEnd);
soak: while (more()) {
  for (const mode of modes) {
    for (const perturb of perturbs) {
      if (!more()) break soak; // the time is up and --min-ops is met: no run past the end
      lastSeed = seed;
      const o = {
        seed,
        workers,
        mode: mode as "dax" | "pagecache",
        perturb,
        ops: Number(values.ops),
        seconds: Math.min(slice, Math.max(Date.now() < end ? 1 : slice, (end - Date.now()) / 1000)),
        ramFrames: ram,
      };
      let r: StressReport;
      if (guests > 0) {
        const g = await runStressWithGuests({ ...o, guests, guestOps });
        console.log(`${formatStress(g)}\n${formatGuests(g)}`);
        guestRan += g.guestOps;
        r = g;
      } else {
        r = await runStress(o);
        console.log(formatStress(r));
      }
      runs++;
      runDone(runs);
      ops += r.ops;
      if (r.problems.length > 0) {
        stopTicker();
        console.log(
          `FAILED: replay with deno task stress --seed ${seed} --mode ${mode} --perturb ${
            perturb ? "on" : "off"
          } --workers ${workers}${guests > 0 ? ` --guests ${guests} --guest-ops ${guestOps}` : ""}`,
        );
        Deno.exit(1);
      }
    }
  }
  seed++;
}
stopTicker();
console.log(
  `stress: ${runs} runs, ${ops} oracle-checked operations${
    guests > 0 ? `, ${guestRan} guest fsx operations` : ""
  }, seeds ${firstSeed}..${lastSeed}, all OK`,
);
if (ops < minOps) {
  console.log(
    `stress: FAILED: ${ops} operations, fewer than --min-ops ${minOps} in the time allowed`,
  );
  Deno.exit(1);
}

/** --kill: the hard-kill chaos until the time is up; exits. */
async function killSoak(): Promise<never> {
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error("stress: --rounds must be a positive integer");
    Deno.exit(2);
  }
  let runs = 0, killed = 0, procs = 0, durable = 0;
  while (Date.now() < end) {
    for (const mode of modes) {
      for (const perturb of perturbs) {
        const dax = mode === "dax" ? "always" : "never";
        const rep = await runKillChaos({ seed, dax, rounds, perturb, ramFrames: ram });
        console.log(formatKillChaos(rep));
        runs++;
        runDone(runs);
        killed += rep.killed;
        procs += rep.processes;
        durable += rep.durableRecords;
        if (rep.problems.length > 0) {
          stopTicker();
          console.log(
            `FAILED: replay with deno task stress --kill --seed ${seed} --mode ${mode} --perturb ${
              perturb ? "on" : "off"
            } --rounds ${rounds}${ram !== undefined ? ` --ram ${ram}` : ""}`,
          );
          Deno.exit(1);
        }
      }
    }
    seed++;
  }
  stopTicker();
  console.log(
    `stress --kill: ${runs} runs, ${procs} processes, ${killed} killed, ${durable} durable records checked, all OK`,
  );
  Deno.exit(0);
}

/** `--fork`: fork/exec/exit/wait cycles in every configuration; exits. */
async function forkSoak(): Promise<never> {
  const cycles = Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1) {
    console.error("stress: --cycles must be a positive integer");
    Deno.exit(2);
  }
  const r = await runForkSoak({ cycles });
  stopTicker();
  console.log(`fork soak: ${r.cycles} cycles in ${r.configs.join("; ")}`);
  for (const p of r.problems.slice(0, 20)) console.log(`  ${p}`);
  console.log(r.problems.length > 0 ? "fork soak: FAILED" : "fork soak: all OK");
  Deno.exit(r.problems.length > 0 ? 1 : 0);
}

/** `--crash`: the long crash-consistency soak; exits. */
async function crashSoak(): Promise<never> {
  const r = await runCrashSoak({
    seconds,
    seed,
    guests: guests > 0 ? guests : 4,
    ops: guestOps,
    torn: Number(values.torn),
    log: (l) => console.log(l),
  });
  console.log(`crash soak: ${r.rounds} rounds from seed ${seed}: ${formatCrash(r)}`);
  for (const p of r.problems.slice(0, 20)) console.log(`  ${p}`);
  Deno.exit(r.problems.length > 0 ? 1 : 0);
}
