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
import type { ArgString } from "../kernel/exec_stack.ts";
import { CliError, parseCommand, parseSize, printLine, usageError } from "./_common.ts";
import { guestEnviron, hostArgs, hostEnviron } from "./_host_env.ts";
import { checkRunLimits } from "./_limits.ts";

const USAGE = "xip run IMAGE [options] -- PROGRAM [ARGS...]";

export const RUN_HELP = `usage: xip run IMAGE [--dax always|never|inode] [--procs N] [--ram 64M]
              [--memmap none|device] [--stats FILE] [--snapshot]
              [--env K=V]... [--unset K]... [--env-clear] -- PROGRAM [ARGS...]

Boot a machine on the xipfs image IMAGE and run N processes of PROGRAM (a
path inside the image) at once, each in its own Worker. As with qemu-user,
the guests read this command's stdin on fd 0 (only when they read it) and
write its stdout and stderr on fds 1 and 2, byte for byte; with N > 1 every
line is prefixed with "[pid] " and lines of different processes never mix.
A write to a closed pipe fails with EPIPE and SIGPIPE (status 141), one to
a full device with ENOSPC. PROGRAM's arguments pass unchanged, and the
guests get this command's environment.

options:
  --dax MODE       always: every file is DAX; never: every file goes through
                   the page cache; inode: the per-file flag decides (default)
  --procs N        processes to run at once (default 1, at most 1024)
  --ram SIZE       RAM of the machine (default 64M; K, M, G suffixes)
  --memmap MODE    none (default) or device: give device frames struct pages
  --stats FILE     write the run's statistics to FILE as one JSON object
  --snapshot       discard the changes instead of writing IMAGE back
  --env K=V        set K in the guests' environment (qemu-user -E); repeatable
  --unset K        remove K from it (qemu-user -U); repeatable
  --env-clear      start the guests' environment empty instead of this one's
  -h, --help       show this help

Without --snapshot IMAGE is locked for the run (a second xip run on it is
refused, naming the first) and what changed is written into it in place:
the file stays the same file (symlinks, mode, owner and hard links are
kept), as with qemu. Its space is reserved first, so the write-back cannot
run out of room. SIGINT, SIGTERM and SIGHUP are passed to the guests, and
the image is written back before xip exits. An image that was not
unmounted cleanly (a crash, a kill -9) still runs, with a warning.

exit status: the first non-zero status of the processes in spawn order
(128 + signal for a process killed by a signal, 139 for SIGSEGV; 127 when
PROGRAM does not exist, 126 when it cannot be executed), else 0; 1 when
the image cannot be used; 2 bad usage.

environment:
  XIP_HOST_MEMORY=BYTES  the host memory available to the run, when a
                   container limits it below what the host reports; a run
                   whose processes (16 MiB each), RAM and image would not
                   fit is refused at once
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
  env: { type: "string", multiple: true },
  unset: { type: "string", multiple: true },
  "env-clear": { type: "boolean" },
} as const;

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  throw usageError(`--${name} must be one of ${allowed.join(", ")} (got "${String(v)}")`);
}

const enc = new TextEncoder();
/** One line on stderr; a closed or full stderr loses it rather than failing the run. */
const err = (line: string) => {
  try {
    Deno.stderr.writeSync(enc.encode(`xip run: ${line}\n`));
  } catch { /* nowhere left to say it */ }
};

/** Run `xip run`. */
export async function cmdRun(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const head = dash < 0 ? args : args.slice(0, dash);
  const prog = dash < 0 ? [] : hostArgs(args.slice(dash + 1));
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
  const set = (p.values.env as string[] | undefined) ?? [];
  for (const e of set) {
    if (e.indexOf("=") <= 0) throw usageError(`--env wants K=V (got "${e}")`);
  }
  const env = guestEnviron(hostEnviron(), {
    clear: p.values["env-clear"] === true,
    unset: (p.values.unset as string[] | undefined) ?? [],
    set,
  });
  checkRunLimits(image, procs, ram);

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
      stdin: Deno.stdin,
    });
  } catch (e) {
    if (e instanceof ImageError || e instanceof MachineError) throw new CliError(e.message, 1);
    throw e;
  }
  if (machine.mountedDirty) {
    err(
      `warning: ${image} was not cleanly unmounted (a crash or a kill); ` +
        `running xip fsck -y ${image} is recommended`,
    );
  }
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
    // Without --snapshot the changed blocks go into IMAGE in place.
    await machine.shutdown();
  } catch (e) {
    failure ??= e instanceof ImageError ? new CliError(e.message, 1) : e;
  } finally {
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
  }
  if (failure !== null) throw failure;
  return status;
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
  const draw = (text: string) => {
    try {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${text}`));
    } catch { /* a closed terminal: no progress line */ }
  };
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
