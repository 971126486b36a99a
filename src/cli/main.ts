/**
 * The `xip` command: `xip <command> [options]`. Each command is declared as
 * a CommandSpec (src/cli/_command.ts); this module dispatches to it, prints
 * its help for `xip help CMD` and `xip CMD --help` alike, and turns every
 * failure into one line on stderr with a documented exit status. A stack
 * trace never reaches the user.
 *
 * ```sh
 * deno run --allow-read src/cli/main.ts ls root.img /bin
 * deno install -g --allow-read --allow-write -n xip --config deno.json src/cli/main.ts
 * ```
 *
 * @module
 */

import { CAT } from "./cmd_cat.ts";
import { type CommandSpec, helpText, parseCommandLine } from "./_command.ts";
import { CliError, EXIT_USAGE } from "./_common.ts";
import { DEMO } from "./cmd_demo.ts";
import { FSCK } from "./cmd_fsck.ts";
import { LS } from "./cmd_ls.ts";
import { MKFS } from "./cmd_mkfs.ts";
import { RUN } from "./cmd_run.ts";
import { VERSION } from "../version.ts";

/** Every subcommand, in the order `xip help` lists them. */
const COMMANDS: readonly CommandSpec[] = [MKFS, LS, CAT, FSCK, RUN, DEMO];

/** The top-level help: the commands and their one-line summaries. */
function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    "usage: xip <command> [options]",
    "       xip help [<command>]",
    "       xip --version",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    '"xip help CMD" (or "xip CMD --help") describes a command. Errors are one line on',
    "stderr; bad usage exits 2.",
  ].join("\n");
}

const enc = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(enc.encode(text + "\n"));
const err = (text: string) => Deno.stderr.writeSync(enc.encode(text + "\n"));

/**
 * Run `xip` with `argv` (without the program name), printing to this
 * process's stdout and stderr.
 *
 * @example List a directory of an image
 * ```ts ignore
 * import { main } from "@xip/xip/cli";
 *
 * const status = await main(["ls", "root.img", "/bin"]);
 * ```
 *
 * @param argv the arguments, e.g. `["run", "root.img", "--", "/bin/hello"]`
 * @returns the exit status
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    out(`xip ${VERSION}`);
    return 0;
  }
  if (name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    out(mainHelp());
    return 0;
  }
  if (name === undefined) {
    err("xip: missing command (try xip help)");
    return EXIT_USAGE;
  }
  if (name === "help") {
    const cmd = COMMANDS.find((c) => c.name === rest[0]);
    if (cmd === undefined || rest.length > 1) {
      err(`xip help: unknown command "${rest.join(" ")}" (try xip help)`);
      return EXIT_USAGE;
    }
    out(helpText(cmd));
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    err(`xip: unknown command "${name}" (try xip help)`);
    return EXIT_USAGE;
  }
  try {
    const parsed = parseCommandLine(cmd, [...rest]);
    if (parsed.values.help) {
      out(helpText(cmd));
      return 0;
    }
    return await cmd.run(parsed);
  } catch (e) {
    if (e instanceof CliError) {
      const usage = e.status === EXIT_USAGE;
      err(`xip ${name}: ${e.message}${usage ? ` (try xip help ${name})` : ""}`);
      return usage ? (cmd.usageStatus ?? EXIT_USAGE) : e.status;
    }
    // stdout closed under us (xip ls IMAGE | head): end quietly, as a
    // process killed by SIGPIPE does.
    if (e instanceof Deno.errors.BrokenPipe) return 128 + 13;
    const msg = e instanceof Error ? e.message : String(e);
    err(`xip ${name}: internal error: ${msg.split("\n")[0]}`);
    return name === "fsck" ? 8 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
