/**
 * `xip run IMAGE [options] -- PROGRAM [ARGS...]`: boot a machine on IMAGE,
 * run N copies of PROGRAM at once (one Worker each), forward their output,
 * and exit with the first non-zero status (in spawn order), 0 if all
 * succeeded. What changed is written back into IMAGE in place (locked for
 * the run) unless --snapshot is given (as qemu's -snapshot).
 *
 * @module
 */

import { hostErrorText, ImageError } from "../hw/image.ts";
import type { ArgString } from "../kernel/exec_stack.ts";
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
import { guestEnviron, hostArgs, hostEnviron } from "./_host_env.ts";
import { checkRunLimits } from "./_limits.ts";

/** `xip run`. New options are one entry in `options` plus their use in `runImage`. */
export const RUN: CommandSpec = {
  name: "run",
  usage: "IMAGE [options] -- PROGRAM [ARGS...]",
  summary: "run N processes of a RISC-V program from an image",
  about: `Boot a machine on the xipfs image IMAGE and run N processes of PROGRAM (a
path inside the image) at once, each in its own Worker. As with qemu-user,
the guests read this command's stdin on fd 0 (only when they read it) and
write its stdout and stderr on fds 1 and 2, byte for byte; with N > 1 every
line is prefixed with "[pid] " and lines of different processes never mix.
A write to a closed pipe fails with EPIPE and SIGPIPE (status 141), one to
a full device with ENOSPC. PROGRAM's arguments pass unchanged, and the
guests get this command's environment.

Without --snapshot IMAGE is locked for the run (a second xip run on it is
refused, naming the first) and what changed is written into it in place:
the file stays the same file (symlinks, mode, owner and hard links are
kept), as with qemu. Its space is reserved first, so the write-back cannot
run out of room. SIGINT, SIGTERM and SIGHUP are passed to the guests, and
the image is written back before xip exits. An image that was not
unmounted cleanly (a crash, a kill -9) still runs, with a warning.`,
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
    {
      name: "poison",
      arg: "RANGE",
      help: "poison the device bytes of RANGE, OFFSET[:LEN] (LEN 4K when\n" +
        "absent; K, M, G suffixes, 0x for hex; repeatable) before the\n" +
        "processes start, as a memory failure: reads of them fail\n" +
        "with EIO, a process that touches a mapped one gets SIGBUS",
      multiple: true,
    },
    { name: "snapshot", help: "discard the changes instead of writing IMAGE back" },
    {
      name: "strace",
      help: "print every system call of every process on stderr, one\n" +
        'line each in strace\'s format ("[pid N] name(args) = ret")',
    },
    {
      name: "env",
      arg: "K=V",
      multiple: true,
      help: "set K in the guests' environment (qemu-user -E); repeatable",
    },
    {
      name: "unset",
      arg: "K",
      multiple: true,
      help: "remove K from it (qemu-user -U); repeatable",
    },
    { name: "env-clear", help: "start the guests' environment empty instead of this one's" },
    ...UI_OPTIONS,
  ],
  exit: `the first non-zero status of the processes in spawn order
(128 + signal for a process killed by a signal, 139 for SIGSEGV; 127 when
PROGRAM does not exist, 126 when it cannot be executed), else 0; 1 when
the image cannot be used; 2 bad usage.`,
  notes: `environment:
  XIP_HOST_MEMORY=BYTES  the host memory available to the run, when a
                   container limits it below what the host reports; a run
                   whose processes (16 MiB each), RAM and image would not
                   fit is refused at once
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
/** One line on stderr; a closed or full stderr loses it rather than failing the run. */
const err = (line: string) => {
  try {
    Deno.stderr.writeSync(enc.encode(`xip run: ${line}\n`));
  } catch { /* nowhere left to say it */ }
};

/** Run `xip run`. */
async function runImage(p: Parsed): Promise<number> {
  if (p.positionals.length === 0) throw usageError("missing IMAGE");
  if (p.positionals.length > 1) {
    throw usageError(`unexpected argument "${p.positionals[1]}" before --`);
  }
  if (p.rest.length === 0) throw usageError("missing -- PROGRAM");
  const prog = hostArgs(p.rest);
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
  const poison = ((p.values.poison ?? []) as string[]).map(parsePoison);
  const snapshot = p.values.snapshot === true;
  const set = (p.values.env as string[] | undefined) ?? [];
  for (const e of set) {
    if (e.indexOf("=") <= 0) throw usageError(`--env wants K=V (got "${e}")`);
  }
  const env = guestEnviron(hostEnviron(), {
    clear: p.values["env-clear"] === true,
    unset: (p.values.unset as string[] | undefined) ?? [],
    set,
  });
  if (!snapshot) checkWritable(image);
  checkRunLimits(image, procs, ram);
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
      stdin: Deno.stdin,
    });
  } catch (e) {
    await ui?.close(false);
    if (e instanceof ImageError || e instanceof MachineError) throw new CliError(e.message, 1);
    throw e;
  }
  try {
    for (const [offset, len] of poison) machine.poison(offset, len);
  } catch (e) {
    await machine.shutdown();
    await ui?.close(false);
    if (e instanceof MachineError) throw usageError(`--poison: ${e.message}`);
    throw e;
  }
  if (machine.mountedDirty) {
    err(
      `warning: ${image} was not cleanly unmounted (a crash or a kill); ` +
        `running xip fsck -y ${image} is recommended`,
    );
  }
  const watched = ui?.watch(`${prog.join(" ")} · dax=${dax} · ${procs} process(es)`, machine);
  let status = 0;
  let failure: unknown = null;
  // SIGINT, SIGTERM and SIGHUP go to the guests, as qemu-user delivers
  // them; the run then ends as usual. Until the image is written back they
  // cannot kill xip itself midway (a Deno listener replaces the default).
  const pids: number[] = [];
  const forward = (n: number) => () => {
    for (const pid of pids) machine.kill(pid, n);
  };
  const listeners = [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]] as const;
  const handlers = listeners.map(([sig, n]) => [sig, forward(n)] as const);
  for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  try {
    status = await runAll(machine, pids, prog, env, procs, statsPath);
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
    // Without --snapshot the changed blocks go into IMAGE in place.
    await machine.shutdown();
  } catch (e) {
    failure ??= e instanceof ImageError ? new CliError(e.message, 1) : e;
  } finally {
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
  }
  await ui?.close(failure === null);
  if (failure !== null) throw failure;
  return status;
}

/**
 * Parse --poison's OFFSET[:LEN]: each a decimal or 0x-hex number with an
 * optional K, M or G suffix; LEN defaults to one 4 KiB block.
 *
 * @throws CliError (2) for a malformed range
 */
export function parsePoison(text: string): [number, number] {
  const num = (t: string, what: string): number => {
    const m = /^(0x[0-9a-f]+|\d+)([KMG]?)$/i.exec(t.trim());
    const unit = { "": 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m?.[2]?.toUpperCase() ?? ""];
    const n = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
    if (!Number.isSafeInteger(n)) throw usageError(`--poison ${text}: bad ${what}`);
    return n;
  };
  const [off, len, extra] = text.split(":");
  if (extra !== undefined) throw usageError(`--poison ${text}: expected OFFSET[:LEN]`);
  const n = len === undefined ? 4096 : num(len, "length");
  if (n === 0) throw usageError(`--poison ${text}: the length is 0`);
  return [num(off!, "offset"), n];
}

/**
 * Refuse, before anything runs, a run whose image could not be written back
 * (in place: the file must be readable and writable by this process; that
 * the host lets it write is checked when it is opened).
 *
 * @throws CliError (1) naming the flag that is missing
 */
function checkWritable(image: string): void {
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: image }).state !== "granted") {
      throw new CliError(
        `image ${image}: writing it back needs --allow-${name} for it (or use --snapshot)`,
        1,
      );
    }
  }
}

/** Spawn the processes, wait for all, report, write the stats; the exit status. */
async function runAll(
  machine: Machine,
  pids: number[],
  prog: ArgString[],
  env: ArgString[],
  procs: number,
  statsPath: string | undefined,
): Promise<number> {
  let status = 0;
  const path = typeof prog[0] === "string" ? prog[0] : new TextDecoder().decode(prog[0]);
  const handles: Process[] = [];
  for (let i = 0; i < procs; i++) handles.push(machine.spawn(path, prog, { env }));
  for (const h of handles) pids.push(h.pid);
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
