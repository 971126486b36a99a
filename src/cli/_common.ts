/**
 * Shared pieces of the `xip` subcommands: argument parsing with one-line
 * errors, size suffixes, loading an image, errno messages, raw stdout.
 *
 * A subcommand is `(args) => Promise<number>`: it returns its exit status
 * and throws only CliError (a one-line message plus a status); main.ts
 * turns anything else into a one-line "internal error".
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  EINVAL,
  EISDIR,
  ELOOP,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  errnoName,
  EUCLEAN,
} from "../abi/errno.ts";
import { openVolume, type XipVol } from "../fs/xipfs_format.ts";
import { ImageError } from "../hw/image.ts";
import { ImageFile } from "../hw/image_file.ts";

/** Exit status for bad usage: unknown flag, bad value, missing argument. */
export const EXIT_USAGE = 2;

/** A failure to report as one line on stderr, with an exit status. */
export class CliError extends Error {
  override name = "CliError";
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** A usage error (exit 2). */
export const usageError = (msg: string): CliError => new CliError(msg, EXIT_USAGE);

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

/** The parsed command line of one subcommand. */
export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

/**
 * Parse `args` strictly (node:util parseArgs). `--help`/`-h` is always
 * accepted. An unknown option or a missing value becomes a usage error.
 */
export function parseCommand(args: string[], options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(args, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (e) {
    // parseArgs messages carry advice after the first sentence; keep one line.
    const first = String((e as Error).message).split(/\.\s|\n/)[0] ?? "bad arguments";
    throw usageError(first);
  }
}

/**
 * `--opt -5` as `--opt=-5` for options that take a value: node's parseArgs
 * calls a value starting with "-" ambiguous, so the option's own check
 * (which names the value) would never run. Only before a "--".
 */
function joinNegativeValues(args: string[], options: OptionSpec): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== "string") continue;
    takesValue.set(`--${name}`, name);
    if (spec.short !== undefined) takesValue.set(`-${spec.short}`, name);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = takesValue.get(a);
    const next = args[i + 1];
    if (name !== undefined && next !== undefined && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Require exactly `min`..`max` positionals, else a usage error. */
export function positionals(p: Parsed, min: number, max: number, usage: string): string[] {
  if (p.positionals.length < min) throw usageError(`missing argument (usage: ${usage})`);
  if (p.positionals.length > max) {
    throw usageError(`unexpected argument "${p.positionals[max]}" (usage: ${usage})`);
  }
  return p.positionals;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Parse a size such as "64M", "4096", "1G" or "512k" (binary units).
 *
 * @throws CliError (usage) when it is not a positive whole number of bytes
 */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw usageError(`bad size "${text}" (expected a number with an optional K, M or G)`);
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`bad size "${text}"`);
  return n;
}

const ERRNO_TEXT: Record<number, string> = {
  [ENOENT]: "No such file or directory",
  [ENOTDIR]: "Not a directory",
  [EISDIR]: "Is a directory",
  [ELOOP]: "Too many levels of symbolic links",
  [ENAMETOOLONG]: "File name too long",
  [EINVAL]: "Invalid argument",
  [EUCLEAN]: "Structure needs cleaning (the image is corrupt; run xip fsck)",
};

/** "No such file or directory (ENOENT)" for -2. */
export const errnoMessage = (e: number): string =>
  `${ERRNO_TEXT[Math.abs(e)] ?? "error"} (${errnoName(e)})`;

/**
 * Read a whole image file under a shared lock (src/hw/image_file.ts): what
 * it is and how big are checked before a byte is read, so a FIFO, a device
 * such as /dev/zero or a file far too large fails at once.
 *
 * @throws CliError(status) with one line
 */
export function readImageFile(path: string, status: number): Uint8Array {
  let f: ImageFile | null = null;
  try {
    f = ImageFile.open(path);
    return f.read();
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(e.message, status);
    throw e;
  } finally {
    f?.close();
  }
}

/** Load and open an image, or throw CliError(status) naming what is wrong. */
export function loadVolume(path: string, status: number): XipVol {
  const opened = openVolume(readImageFile(path, status));
  if (!opened.ok) throw new CliError(`${path}: ${opened.error}`, status);
  return opened.vol;
}

/** Write all of `bytes` to stdout (writes may be partial on pipes). */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

/** Write a line of text to stdout. */
export const printLine = (text: string): Promise<void> =>
  writeStdout(new TextEncoder().encode(text + "\n"));
