/**
 * `xip run IMAGE [options] -- PROGRAM [ARGS...]`: boot a machine on IMAGE,
 * run N copies of PROGRAM at once (one Worker each), forward their output,
 * and exit with the first non-zero status (in spawn order), 0 if all
 * succeeded. The device is written back to IMAGE atomically unless
 * --snapshot is given (as qemu's -snapshot).
 *
 * @module
 */

import { ImageError } from "../hw/image.ts";
import { Machine, MachineError, type Process } from "../kernel/machine.ts";
import { CliError, parseCommand, parseSize, printLine, usageError } from "./_common.ts";

const USAGE = "xip run IMAGE [options] -- PROGRAM [ARGS...]";

export const RUN_HELP = `usage: xip run IMAGE [--dax always|never|inode] [--procs N] [--ram 64M]
              [--memmap none|device] [--stats FILE] [--snapshot] [--strace]
              -- PROGRAM [ARGS...]

Boot a machine on the xipfs image IMAGE and run N processes of PROGRAM (a
path inside the image) at once, each in its own Worker. Their stdout and
stderr are forwarded; with N > 1 every line is prefixed with "[pid] ".

options:
  --dax MODE       always: every file is DAX; never: every file goes through
                   the page cache; inode: the per-file flag decides (default)
  --procs N        processes to run at once (default 1, at most 1024)
  --ram SIZE       RAM of the machine (default 64M; K, M, G suffixes)
  --memmap MODE    none (default) or device: give device frames struct pages
  --stats FILE     write the run's statistics to FILE as one JSON object
  --snapshot       discard the changes instead of writing IMAGE back
  --strace         print every system call of every process on stderr, one
                   line each in strace's format ("[pid N] name(args) = ret")
  -h, --help       show this help

exit status: the first non-zero status of the processes in spawn order
(128 + signal for a process killed by a signal, 139 for SIGSEGV; 127 when
PROGRAM does not exist, 126 when it cannot be executed), else 0; 1 when
the image cannot be used; 2 bad usage.

environment:
  XIP_CHECK_INVARIANTS=1  end the run by checking the machine's invariants
                   and fsck; each violation is printed and the exit status
                   is 70 (the tests run xip this way)`;

/** Exit status of a run whose final invariant check failed (sysexits EX_SOFTWARE). */
const EXIT_INVARIANTS = 70;

const OPTIONS = {
  dax: { type: "string" },
  procs: { type: "string" },
  ram: { type: "string" },
  memmap: { type: "string" },
  stats: { type: "string" },
  snapshot: { type: "boolean" },
  strace: { type: "boolean" },
} as const;

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  throw usageError(`--${name} must be one of ${allowed.join(", ")} (got "${String(v)}")`);
}

const enc = new TextEncoder();
const err = (line: string) => Deno.stderr.writeSync(enc.encode(`xip run: ${line}\n`));

/** Run `xip run`. */
export async function cmdRun(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const head = dash < 0 ? args : args.slice(0, dash);
  const prog = dash < 0 ? [] : args.slice(dash + 1);
  const p = parseCommand(head, OPTIONS);
  if (p.values.help) {
    await printLine(RUN_HELP);
    return 0;
  }
  if (p.positionals.length === 0) throw usageError(`missing IMAGE (usage: ${USAGE})`);
  if (p.positionals.length > 1) {
    throw usageError(`unexpected argument "${p.positionals[1]}" before -- (usage: ${USAGE})`);
  }
  if (prog.length === 0) throw usageError(`missing -- PROGRAM (usage: ${USAGE})`);
  const image = p.positionals[0]!;
  const dax = oneOf("dax", p.values.dax, ["always", "never", "inode"] as const, "inode");
  const memmap = oneOf("memmap", p.values.memmap, ["none", "device"] as const, "none");
  const procsText = (p.values.procs as string | undefined) ?? "1";
  if (!/^\d+$/.test(procsText) || Number(procsText) < 1 || Number(procsText) > 1024) {
    throw usageError(`--procs must be a whole number from 1 to 1024 (got "${procsText}")`);
  }
  const procs = Number(procsText);
  const ram = p.values.ram === undefined ? 64 * 1024 * 1024 : parseSize(p.values.ram as string);
  if (ram % 4096 !== 0) throw usageError(`--ram must be a multiple of 4096 bytes`);
  const statsPath = p.values.stats as string | undefined;

  let machine: Machine;
  try {
    machine = await Machine.boot({
      image,
      // fsync writes guest data into IMAGE as it goes, unless the run is a snapshot.
      imagePath: p.values.snapshot ? null : image,
      dax,
      memmap,
      ram,
      maxProcs: procs,
      warm: procs,
      prefixOutput: procs > 1,
      strace: p.values.strace === true,
    });
  } catch (e) {
    if (e instanceof ImageError || e instanceof MachineError) throw new CliError(e.message, 1);
    throw e;
  }
  let status = 0;
  let failure: unknown = null;
  try {
    status = await runAll(machine, prog, procs, statsPath);
    if (Deno.env.get("XIP_CHECK_INVARIANTS") === "1") {
      // Every process has been reaped: the machine is quiescent here.
      const bad = machine.checkInvariants({ fsck: true });
      for (const line of bad) err(`invariant violated: ${line}`);
      if (bad.length > 0) status = EXIT_INVARIANTS;
    }
  } catch (e) {
    failure = e;
  }
  try {
    await machine.shutdown(p.values.snapshot ? {} : { save: image });
  } catch (e) {
    failure ??= e instanceof ImageError ? new CliError(e.message, 1) : e;
  }
  if (failure !== null) throw failure;
  return status;
}

/** Spawn the processes, wait for all, report, write the stats; the exit status. */
async function runAll(
  machine: Machine,
  prog: string[],
  procs: number,
  statsPath: string | undefined,
): Promise<number> {
  let status = 0;
  const [path, ...rest] = prog as [string, ...string[]];
  const handles: Process[] = [];
  for (let i = 0; i < procs; i++) handles.push(machine.spawn(path, [path, ...rest]));
  const stopProgress = Deno.stderr.isTerminal() ? startProgress(machine) : () => {};
  const results = await Promise.all(handles.map((h) => h.wait())).finally(stopProgress);
  results.forEach((r, i) => {
    if (r.message !== undefined) {
      err(procs > 1 ? `[${handles[i]!.pid}] ${r.message}` : r.message);
    }
    if (status === 0 && r.code !== 0) status = r.code;
  });
  if (statsPath !== undefined) {
    const json = JSON.stringify(machine.stats(), null, 2) + "\n";
    try {
      Deno.writeTextFileSync(statsPath, json);
    } catch (e) {
      throw new CliError(`cannot write stats to ${statsPath}: ${(e as Error).message}`, 1);
    }
  }
  return status;
}

/** How often the progress line is redrawn, in ms. */
const PROGRESS_MS = 500;

/**
 * On a terminal, redraw one status line on stderr while the run goes on:
 * processes alive, instructions per second over the last interval, faults.
 * Every figure comes from machine.stats(). Returns the function that stops
 * it and clears the line.
 */
function startProgress(machine: Machine): () => void {
  const enc = new TextEncoder();
  const draw = (text: string) => Deno.stderr.writeSync(enc.encode(`\r\x1b[K${text}`));
  let last = machine.stats();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const now = machine.stats();
    const at = performance.now();
    const ips = (now.instret - last.instret) / ((at - lastAt) / 1000);
    const f = now.faults;
    const faults = f.dax + f.file_major + f.file_minor + f.cow + f.anon + f.zero;
    draw(
      `xip: ${machine.live} alive, ${(ips / 1e6).toFixed(1)} M instr/s, ` +
        `${faults} faults (dax ${f.dax}, file ${f.file_major + f.file_minor}, ` +
        `anon ${f.anon}, cow ${f.cow})`,
    );
    last = now;
    lastAt = at;
  }, PROGRESS_MS);
  return () => {
    clearInterval(timer);
    draw("");
  };
}
