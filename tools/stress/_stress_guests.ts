/**
 * The stress harness with guest programs (`deno task stress --guests G`):
 * one Machine booted on fixtures/rootfs runs G fsx processes (guest/bin/fsx.c,
 * RISC-V programs on the hart, each checking every value it reads against
 * its own model) while, on the same memory and the same mounted xipfs, the
 * stress Workers make their direct kernel calls (StressProc). The Workers
 * attach to the Machine's SharedArrayBuffers as extra tasks, numbered above
 * the process slots the Machine uses (it never has more than G processes at
 * once here, so slots 2..G+1 are its and G+2.. are theirs).
 *
 * Afterwards: every fsx exited 0 with "OPS ops ok" and its LOG verifies;
 * the Workers' checks as in runStress (their models, own and shared files);
 * machine.checkInvariants({ fsck: true }) is clean.
 *
 * The guests run in rounds of G until the Workers are done (at least one
 * round), so the two workloads overlap for the whole run.
 *
 * Seeds: fsx i of round r gets caseSeed(seed, r * G + i) (the first ones
 * are printed with the report, and a failing fsx's problem line has its
 * whole command line), so the same --seed replays the same guest operation
 * sequences.
 */

import { PAGE_SIZE } from "../../src/abi/types.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { SIGKILL } from "../../src/kernel/signal.ts";
import { DEBUG_PERTURB, setDebug } from "../../src/sync/mod.ts";
import { caseSeed } from "../fuzz/_rng.ts";
import { fsxLogRecords, readGuestFile, verifyFsxLog } from "../../tests/integration/_fsx_log.ts";
import {
  checkFiles,
  collectResults,
  makeStressFiles,
  runWorkers,
  type StressOptions,
  type StressReport,
  stressReport,
} from "./_stress_runner.ts";
import type { StressResult } from "./stress_worker.ts";

export interface GuestStressOptions extends StressOptions {
  /** fsx processes run at once. */
  guests: number;
  /** Operations of each fsx. */
  guestOps: number;
}

export interface GuestStressReport extends StressReport {
  guests: number;
  /** Rounds of G fsx run (they repeat until the Workers are done). */
  guestRounds: number;
  /** The seed of each fsx, round by round. */
  guestSeeds: number[];
  /** fsx operations run (those of the processes that finished cleanly). */
  guestOps: number;
}

const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;

/** The seeds of the G fsx processes of round `round` of a run seeded `seed`. */
export const guestSeeds = (seed: number, guests: number, round: number): number[] =>
  Array.from({ length: guests }, (_, i) => caseSeed(seed, round * guests + i) || 1);

/** Run fsx i on the Machine; the problems it shows go to `problems`. */
async function runGuest(
  m: Machine,
  i: number,
  seed: number,
  ops: number,
  limitMs: number,
  problems: string[],
): Promise<number> {
  const dec = new TextDecoder();
  let out = "";
  const argv = ["fsx", `/g${i}`, `${seed}`, `${ops}`, `/g${i}.log`];
  const p = m.spawn("/bin/fsx", argv, {
    stdout: (d) => out += dec.decode(d),
    stderr: (d) => out += dec.decode(d),
  });
  const timer = setTimeout(() => {
    problems.push(`fsx ${i} (seed ${seed}): no exit after ${limitMs} ms; killed`);
    m.kill(p.pid, SIGKILL);
  }, limitMs);
  const s = await p.wait().finally(() => clearTimeout(timer));
  const what = `fsx ${i} (${argv.join(" ")})`;
  const tail = out.split("\n").filter((l) => !l.startsWith("durable ")).join(" | ");
  if (s.code !== 0 || !out.includes(`fsx: ${ops} ops ok\n`)) {
    problems.push(`${what}: exit ${s.code} ${s.message ?? ""}: ${tail}`);
    return 0;
  }
  const log = verifyFsxLog(readGuestFile(m, `/g${i}.log`));
  if (log.problem !== undefined || log.records !== fsxLogRecords(ops)) {
    problems.push(`${what}: LOG has ${log.records} records, ${log.problem ?? "short"}`);
  }
  return ops;
}

/**
 * One stress configuration with guests. Never hangs: the Workers have
 * their watchdog, each fsx a time limit (then SIGKILL), and the shutdown
 * a bound of its own.
 */
export async function runStressWithGuests(o: GuestStressOptions): Promise<GuestStressReport> {
  const t0 = performance.now();
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const seeds: number[] = [];
  let ops = 0, guestOps = 0, rounds = 0;
  const m = await Machine.boot({
    from: ROOTFS,
    size: 16 << 20,
    ram: (o.ramFrames ?? 8192) * PAGE_SIZE,
    dax: o.mode === "dax" ? "always" : "never",
    maxProcs: o.guests + o.workers,
    warm: o.guests,
    lockdep: true,
    stderr: (d) => problems.push(`machine: ${new TextDecoder().decode(d).trimEnd()}`),
  });
  try {
    makeStressFiles(m.fs.xip, o.workers);
    if (o.perturb) setDebug(m.mem.k32, DEBUG_PERTURB, true);
    const limitMs = 120_000 + o.seconds * 1000;
    const tidBase = o.guests + 2;
    let workersDone = false;
    const workers = (o.workers > 0 ? runWorkers(o, m.mem, tidBase) : Promise.resolve([]))
      .finally(() => workersDone = true);
    // Rounds of G fsx until the Workers are done, so the two overlap all along.
    const guests = (async () => {
      do {
        const round = guestSeeds(o.seed, o.guests, rounds);
        seeds.push(...round);
        rounds++;
        const done = await Promise.all(
          round.map((s, i) => runGuest(m, i, s, o.guestOps, limitMs, problems)),
        );
        guestOps += done.reduce((a, b) => a + b, 0);
      } while (!workersDone && problems.length === 0);
    })();
    let results: StressResult[] = [];
    try {
      results = await workers;
    } catch (e) {
      problems.push(`run: ${e instanceof Error ? e.message : String(e)}`);
    }
    await guests;
    setDebug(m.mem.k32, DEBUG_PERTURB, false);
    ops = collectResults(m.mem, results, tidBase, counts, problems);
    if (problems.length === 0) {
      checkFiles(new XipVfs(m.fs.xip), results, o.workers, problems);
      for (const v of m.checkInvariants({ fsck: true })) problems.push(`invariant: ${v}`);
    }
    if (m.stats().panics > 0) problems.push(`${m.stats().panics} kernel panic(s) in processes`);
  } finally {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      m.shutdown(),
      new Promise((r) => timer = setTimeout(r, 30_000)),
    ]).finally(() => clearTimeout(timer));
  }
  return {
    ...stressReport(o, ops, counts, problems, t0),
    guests: o.guests,
    guestRounds: rounds,
    guestSeeds: seeds,
    guestOps,
  };
}

/** The guest part of a report: one line. */
export function formatGuests(r: GuestStressReport): string {
  const shown = r.guestSeeds.slice(0, 2 * r.guests).join(" ");
  const more = r.guestSeeds.length > 2 * r.guests ? " ..." : "";
  return `  guests: ${r.guestRounds} rounds of ${r.guests} fsx, ${r.guestOps} guest ops, ` +
    `fsx seeds ${shown}${more}`;
}
