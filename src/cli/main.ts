/**
 * The `xip` command (`deno task xip <command>`): dispatch to a subcommand.
 * Every failure is one line on stderr with a documented exit status; a
 * stack trace never reaches the user.
 *
 * @module
 */

import { cmdCat } from "./cat.ts";
import { CliError, EXIT_USAGE } from "./_common.ts";
import { cmdFsck } from "./fsck.ts";
import { cmdLs } from "./ls.ts";
import { cmdMkfs } from "./mkfs.ts";
import { cmdRun } from "./run.ts";

const USAGE = `usage: xip <command> [options]

commands:
  mkfs IMAGE [--size 64M] [--from HOSTDIR]   make an xipfs image
  ls IMAGE [PATH]                            list a directory like ls -l
  cat IMAGE PATH                             print a file's bytes
  fsck [-n|-p|-y] [-f] IMAGE                 check an image, repair with -p/-y (e2fsck codes)
  run IMAGE [...] -- PROGRAM [ARGS...]       run RISC-V programs in processes

"xip <command> --help" describes each command. Bad usage exits 2.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  mkfs: cmdMkfs,
  ls: cmdLs,
  cat: cmdCat,
  fsck: cmdFsck,
  run: cmdRun,
};

/** Run `xip` with `argv` (without the program name); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return 0;
  }
  if (name === undefined) {
    console.error("xip: missing command (try xip --help)");
    return EXIT_USAGE;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`xip: unknown command "${name}" (try xip --help)`);
    return EXIT_USAGE;
  }
  try {
    return await cmd(rest);
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`xip ${name}: ${e.message}`);
      return e.status;
    }
    // stdout closed under us (xip ls IMAGE | head): end quietly, as a
    // process killed by SIGPIPE does.
    if (e instanceof Deno.errors.BrokenPipe) return 128 + 13;
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`xip ${name}: internal error: ${msg.split("\n")[0]}`);
    return name === "fsck" ? 8 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
