/**
 * `xip run IMAGE [options] -- PROGRAM [ARGS...]`: boot a machine on IMAGE,
 * run N copies of PROGRAM at once (one Worker each), forward their output,
 * and exit with the first non-zero status (in spawn order), 0 if all
 * succeeded. The device is written back to IMAGE atomically unless
 * --snapshot is given (as qemu's -snapshot).
 *
 * @module
 */

import { dirname } from "node:path";
import { hostErrorText, ImageError } from "../hw/image.ts";
import { Machine, MachineError, type Process } from "../kernel/machine.ts";
import { statsJson } from "../kernel/stats.ts";
import { openUi, UI_OPTIONS } from "./_ui.ts";
import {
  choiceOption,
  type CommandSpec,
  intOption,
  type Parsed,
  stringOption,
} from "./_command.ts";
import { JIT_DEFAULT } from "../kernel/proc_jit.ts";
import { machineProgress, StatusLine } from "./_progress.ts";
import { CliError, envGet, parseSize, usageError, writeStdout } from "./_common.ts";

/** `xip run`. New options are one entry in `options` plus their use in `runImage`. */
export const RUN: CommandSpec = {
  name: "run",
  usage: "IMAGE [options] -- PROGRAM [ARGS...]",
  summary: "run N processes of a RISC-V program from an image",
  about: `Boot a machine on the xipfs image IMAGE and run N processes of PROGRAM (a
path inside the image) at once, each in its own Worker. Their stdout and
stderr are forwarded; with N > 1 every line is prefixed with "[pid] ". When
the run ends, IMAGE is written back atomically, so files the processes wrote
persist.`,
  options: [
    {
      name: "dax",
      arg: "MODE",
      help: "always: every file is DAX; never: every file goes through\n" +
        "the page cache; inode: the per-file flag decides (default)",
    },
    { name: "procs", arg: "N", help: "processes to run at once (default 1, at most 1024)" },
    { name: "ram", arg: "SIZE", help: "RAM of the machine (default 64M; K, M, G suffixes)" },
    {
      name: "memmap",
      arg: "MODE",
      help: "none (default) or device: give device frames struct pages",
    },
    {
      name: "jit",
      arg: "MODE",
      help: "translate guest code to WebAssembly: off, auto (a page of\n" +
        "code once it is hot) or eager (at its first run); default:\n" +
        `XIP_JIT from the environment, else ${JIT_DEFAULT}`,
    },
    {
      name: "stats",
      arg: "FILE",
      help: "write the run's statistics to FILE as one JSON object\n" +
        '(docs/stats.schema.json); "-" writes it to stdout, after the\n' +
        "processes' output",
    },
    { name: "snapshot", help: "discard the changes instead of writing IMAGE back" },
    {
      name: "strace",
      help: "print every system call of every process on stderr, one\n" +
        'line each in strace\'s format ("[pid N] name(args) = ret")',
    },
    ...UI_OPTIONS,
  ],
  exit: `the first non-zero status of the processes in spawn order
(128 + signal for a process killed by a signal, 139 for SIGSEGV; 127 when
PROGRAM does not exist, 126 when it cannot be executed), else 0; 1 when
the image cannot be used; 2 bad usage.`,
  notes: `environment:
  XIP_CHECK_INVARIANTS=1  end the run by checking the machine's invariants
                   and fsck; each violation is printed and the exit status
                   is 70 (the tests run xip this way; read only with
                   --allow-env)`,
  passThrough: true,
  run: runImage,
};

/** Exit status of a run whose final invariant check failed (sysexits EX_SOFTWARE). */
const EXIT_INVARIANTS = 70;

/** Processes that may exist at once in `xip run` (the Machine's maxProcs), at least --procs. */
export const RUN_MAX_PROCS = 64;

const enc = new TextEncoder();
const err = (line: string) => Deno.stderr.writeSync(enc.encode(`xip run: ${line}\n`));

/** Run `xip run`. */
async function runImage(p: Parsed): Promise<number> {
  if (p.positionals.length === 0) throw usageError("missing IMAGE");
  if (p.positionals.length > 1) {
    throw usageError(`unexpected argument "${p.positionals[1]}" before --`);
  }
  if (p.rest.length === 0) throw usageError("missing -- PROGRAM");
  const prog = p.rest;
  const image = p.positionals[0]!;
  const dax = choiceOption(p, "dax", ["always", "never", "inode"] as const, "inode");
  const memmap = choiceOption(p, "memmap", ["none", "device"] as const, "none");
  const jit = stringOption(p, "jit") === undefined
    ? undefined
    : choiceOption(p, "jit", ["off", "auto", "eager"] as const, JIT_DEFAULT);
  const procs = intOption(p, "procs", 1, 1024, 1);
  const ramText = stringOption(p, "ram");
  const ram = ramText === undefined ? 64 * 1024 * 1024 : parseSize(ramText);
  if (ram % 4096 !== 0) throw usageError(`--ram must be a multiple of 4096 bytes`);
  const statsPath = stringOption(p, "stats");
  const snapshot = p.values.snapshot === true;
  if (!snapshot) checkWritable(image);
  const ui = openUi(p.values, err);

  let machine: Machine;
  try {
    machine = await Machine.boot({
      image,
      // fsync writes guest data into IMAGE as it goes, unless the run is a snapshot.
      imagePath: snapshot ? null : image,
      dax,
      memmap,
      jit,
      ram,
      // Room for the processes the guests fork, beyond the ones started here.
      maxProcs: Math.max(procs, RUN_MAX_PROCS),
      warm: procs,
      prefixOutput: procs > 1,
      strace: p.values.strace === true,
    });
  } catch (e) {
    await ui?.close(false);
    if (e instanceof ImageError || e instanceof MachineError) throw new CliError(e.message, 1);
    throw e;
  }
  const watched = ui?.watch(`${prog.join(" ")} · dax=${dax} · ${procs} process(es)`, machine);
  let status = 0;
  let failure: unknown = null;
  try {
    status = await runAll(machine, prog, procs, statsPath);
    if (envGet("XIP_CHECK_INVARIANTS") === "1") {
      // Every process has been reaped: the machine is quiescent here.
      const bad = machine.checkInvariants({ fsck: true });
      for (const line of bad) err(`invariant violated: ${line}`);
      if (bad.length > 0) status = EXIT_INVARIANTS;
    }
  } catch (e) {
    failure = e;
  }
  watched?.finish();
  try {
    await machine.shutdown(snapshot ? {} : { save: image });
  } catch (e) {
    failure ??= e instanceof ImageError ? new CliError(e.message, 1) : e;
  }
  await ui?.close(failure === null);
  if (failure !== null) throw failure;
  return status;
}

/**
 * Refuse, before anything runs, a run whose image could not be written back
 * (saved through a temporary file beside it, so the directory must be
 * readable and writable).
 *
 * @throws CliError (1) naming the flag that is missing
 */
function checkWritable(image: string): void {
  const dir = dirname(image);
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: dir }).state !== "granted") {
      throw new CliError(
        `image ${image}: writing it back needs --allow-${name} for ${dir} (or use --snapshot)`,
        1,
      );
    }
  }
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
  const stopProgress = machineProgress(machine, new StatusLine(), "xip");
  const results = await Promise.all(handles.map((h) => h.wait())).finally(stopProgress);
  results.forEach((r, i) => {
    if (r.message !== undefined) {
      err(procs > 1 ? `[${handles[i]!.pid}] ${r.message}` : r.message);
    }
    if (status === 0 && r.code !== 0) status = r.code;
  });
  if (statsPath !== undefined) {
    const json = statsJson(machine.stats());
    try {
      if (statsPath === "-") await writeStdout(enc.encode(json));
      else Deno.writeTextFileSync(statsPath, json);
    } catch (e) {
      throw new CliError(`--stats ${statsPath}: cannot write: ${hostErrorText(e)}`, 1);
    }
  }
  return status;
}
