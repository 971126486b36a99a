/**
 * Shared pieces of the `xip` subcommands: errors, size suffixes, loading an
 * image, errno messages, raw stdout, reading the environment.
 *
 * A subcommand (src/cli/_command.ts) returns its exit status and throws
 * only CliError (a one-line message plus a status); main.ts turns anything
 * else into a one-line "internal error".
 *
 * @module
 */

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
import { openVolume, type XipVol } from "../fs/xipfs/xipfs_format.ts";
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

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Parse a size such as "64M", "4096", "1G" or "512k" (binary units).
 *
 * @throws CliError (usage) when it is not a positive whole number of bytes
 */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw usageError(`bad size "${text}": expected a number with an optional K, M or G`);
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
 * @throws CliError(status) with one line ("image PATH: not found")
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
  if (!opened.ok) throw new CliError(`image ${path}: ${opened.error}`, status);
  return opened.vol;
}

/**
 * The environment variable `name`, or undefined when it is unset or this
 * process may not read it (run without --allow-env): an optional setting
 * never turns a narrow permission set into a failure.
 */
export function envGet(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/** Write all of `bytes` to stdout (writes may be partial on pipes). */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

/** Write a line of text to stdout. */
export const printLine = (text: string): Promise<void> =>
  writeStdout(new TextEncoder().encode(text + "\n"));
