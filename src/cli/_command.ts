/**
 * How an `xip` subcommand is declared: one table of options, from which
 * both the parser and the `--help` text are made, so that adding an option
 * is adding one entry.
 *
 * ```ts
 * export const FOO: CommandSpec = {
 *   name: "foo",
 *   usage: "IMAGE [options]",
 *   summary: "one line for xip help",
 *   about: "What it does, in a paragraph or two.",
 *   options: [{ name: "size", arg: "SIZE", help: "image size (default 64M)" }],
 *   exit: "0 done, 1 failed, 2 bad usage.",
 *   run: (p) => ...,
 * };
 * ```
 *
 * Error messages follow one style (main.ts prints them): one line,
 * `xip CMD: [SUBJECT: ]problem`, starting in lower case, no final period.
 * The subject is `image PATH` for an image file, the path for a file inside
 * the image, or the option (`--size`). Usage errors (exit 2) end with
 * "(try xip help CMD)", which main.ts adds.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { usageError } from "./_common.ts";

/** One option of a subcommand. */
export interface OptionSpec {
  /** The long name, without the dashes: `"procs"` is `--procs`. */
  readonly name: string;
  /** A one-letter alias, without the dash. */
  readonly short?: string;
  /**
   * The value's placeholder in the help (`"N"`, `"SIZE"`); an option
   * without one is a flag and takes no value.
   */
  readonly arg?: string;
  /** The option may be given more than once; its values are collected in order. */
  readonly multiple?: boolean;
  /** What it does, with its default; `\n` starts a new help line. */
  readonly help: string;
}

/** The parsed command line of one subcommand. */
export interface Parsed {
  /** Option values by long name: a string, `true` for a flag, a list for `multiple`. */
  readonly values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not options, in order. */
  readonly positionals: string[];
  /** Everything after a `--`, untouched (empty when there was none). */
  readonly rest: string[];
}

/** A subcommand: its option table, its help, and what it runs. */
export interface CommandSpec {
  /** The word after `xip`. */
  readonly name: string;
  /** What follows `xip NAME` in the usage line. */
  readonly usage: string;
  /** One line for the list of commands in `xip help`. */
  readonly summary: string;
  /** What the command does: the paragraphs between the usage line and the options. */
  readonly about: string;
  /** The options, in the order the help lists them (`--help` is added). */
  readonly options: readonly OptionSpec[];
  /** The text after "exit status:". */
  readonly exit: string;
  /** More help after the exit status (environment variables, examples). */
  readonly notes?: string;
  /**
   * Whether `--` ends the options and what follows it is passed on as
   * `Parsed.rest` (`xip run IMAGE -- PROGRAM ARGS`).
   */
  readonly passThrough?: boolean;
  /** Run the command; resolves to its exit status, throws CliError for a failure. */
  readonly run: (p: Parsed) => Promise<number>;
  /** The exit status of a usage error, when not 2 (fsck: e2fsck's 16). */
  readonly usageStatus?: number;
}

const HELP_OPTION: OptionSpec = { name: "help", short: "h", help: "show this help" };

/** The left column of an option's help line: "-h, --help" or "--procs N". */
function optionLabel(o: OptionSpec): string {
  const long = `--${o.name}${o.arg === undefined ? "" : ` ${o.arg}`}`;
  return o.short === undefined ? long : `-${o.short}, ${long}`;
}

/** Indent every line but the first of `text` by `n` spaces. */
const hang = (text: string, n: number): string => text.split("\n").join("\n" + " ".repeat(n));

/** The `--help` text of `spec`. */
export function helpText(spec: CommandSpec): string {
  const options = [...spec.options, HELP_OPTION];
  const width = Math.min(24, Math.max(...options.map((o) => optionLabel(o).length)) + 4);
  const lines = options.map((o) => {
    const label = optionLabel(o);
    const pad = label.length + 2 >= width
      ? `${label}\n${" ".repeat(width)}`
      : label.padEnd(width - 2);
    return `  ${pad}${hang(o.help, width)}`;
  });
  return [
    `usage: xip ${spec.name} ${spec.usage}`,
    "",
    spec.about,
    "",
    "options:",
    ...lines,
    "",
    `exit status: ${spec.exit}`,
    ...(spec.notes === undefined ? [] : ["", spec.notes]),
  ].join("\n");
}

/** A one-line usage error from a node:util parseArgs failure. */
function parseArgsError(e: unknown): Error {
  const err = e as { code?: string; message?: string };
  const msg = String(err.message ?? e);
  const opt = /'(-[^' ]*)/.exec(msg)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return usageError(`unknown option ${opt}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(msg)
        ? usageError(`option ${opt} needs a value`)
        : usageError(`option ${opt} takes no value`);
    default:
      return usageError(msg.split(/\.\s|\n/)[0]!.replace(/^\w/, (c) => c.toLowerCase()));
  }
}

/**
 * Parse `args` against the option table of `spec`, strictly: an unknown
 * option, a missing value or a value given to a flag is a usage error.
 *
 * @throws CliError (exit 2) with one line
 */
export function parseCommandLine(spec: CommandSpec, args: string[]): Parsed {
  const dash = spec.passThrough ? args.indexOf("--") : -1;
  const head = dash < 0 ? args : args.slice(0, dash);
  const rest = dash < 0 ? [] : args.slice(dash + 1);
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const o of [...spec.options, HELP_OPTION]) {
    options[o.name] = {
      type: o.arg === undefined ? "boolean" : "string",
      ...(o.short === undefined ? {} : { short: o.short }),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(head, options),
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals, rest };
  } catch (e) {
    throw parseArgsError(e);
  }
}

/**
 * `--opt -5` as `--opt=-5` for options that take a value: node's parseArgs
 * calls a value starting with "-" ambiguous, so the option's own check
 * (which names the value) would never run.
 */
function joinNegativeValues(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== "string") continue;
    takesValue.set(`--${name}`, name);
    if (spec.short !== undefined) takesValue.set(`-${spec.short}`, name);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = takesValue.get(a);
    const next = args[i + 1];
    if (name !== undefined && next !== undefined && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Exactly `min`..`max` positionals named by `names` (for the message), else a usage error. */
export function positionalArgs(p: Parsed, min: number, max: number, names: string[]): string[] {
  if (p.positionals.length < min) throw usageError(`missing ${names[p.positionals.length]}`);
  if (p.positionals.length > max) {
    throw usageError(`unexpected argument "${p.positionals[max]}"`);
  }
  return p.positionals;
}

/** The value of string option `name`, or undefined when it was not given. */
export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * The value of option `name` when it must be one of `allowed`.
 *
 * @throws CliError (usage) for another value
 */
export function choiceOption<T extends string>(
  p: Parsed,
  name: string,
  allowed: readonly T[],
  dflt: T,
): T {
  const v = p.values[name];
  if (v === undefined) return dflt;
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  throw usageError(`--${name} must be one of ${allowed.join(", ")} (got "${String(v)}")`);
}

/**
 * The value of option `name` as a whole number in `min..max`, or `dflt`.
 *
 * @throws CliError (usage) when it is not one
 */
export function intOption(p: Parsed, name: string, min: number, max: number, dflt: number): number {
  const v = stringOption(p, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw usageError(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
  }
  return n;
}
