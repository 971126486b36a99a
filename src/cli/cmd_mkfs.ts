/**
 * `xip mkfs IMAGE [--size 64M] [--from HOSTDIR] [--inodes N] [--no-dax]`
 *
 * @module
 */

import { mkfs, MKFS_MAX_BYTES, MKFS_MIN_BYTES, MkfsError } from "../fs/xipfs/mkfs.ts";
import { openVolume, superGet } from "../fs/xipfs/xipfs_format.ts";
import { hostErrorText, ImageError, saveImageBytes } from "../hw/image.ts";
import { lockForReplace } from "../hw/image_file.ts";
import { withSignalsDeferred } from "./_signals.ts";
import { type CommandSpec, type Parsed, positionalArgs, stringOption } from "./_command.ts";
import { CliError, parseSize, printLine, usageError } from "./_common.ts";

/** `xip mkfs`. */
export const MKFS: CommandSpec = {
  name: "mkfs",
  usage: "IMAGE [--size 64M] [--from HOSTDIR] [--inodes N] [--no-dax]",
  summary: "make an xipfs image, optionally from a host directory",
  about: `Make an xipfs image file IMAGE, optionally holding a copy of HOSTDIR
(directories, regular files, symlinks, permission bits and mtimes; a name
that is not UTF-8 is skipped with a warning). The image is written
atomically (a temporary file, then a rename; a symlink is followed and the
old file's mode kept). An existing IMAGE that a run holds is refused;
SIGINT, SIGTERM and SIGHUP wait for the write to end, and temporary files
of a mkfs killed with SIGKILL are removed by the next one.`,
  options: [
    {
      name: "size",
      arg: "SIZE",
      help: "image size: bytes, or with a K, M or G suffix (default 64M);\n" +
        "a multiple of 4096, from 64K to 4G",
    },
    { name: "from", arg: "HOSTDIR", help: "copy this host directory tree into the image's root" },
    { name: "inodes", arg: "N", help: "number of inodes (default: one per 16 KiB)" },
    {
      name: "no-dax",
      help: "do not set the per-inode DAX flag (by default every file and\n" +
        "directory gets it, so dax=inode maps every file in place)",
    },
  ],
  exit: "0 done, 1 mkfs failed (no space, unreadable host file, I/O),\n2 bad usage.",
  run: makeImage,
};

/** Run `xip mkfs`. */
async function makeImage(p: Parsed): Promise<number> {
  const [image] = positionalArgs(p, 1, 1, ["IMAGE"]) as [string];
  const sizeBytes = parseSize(stringOption(p, "size") ?? "64M");
  if (sizeBytes % 4096 !== 0) throw usageError(`--size ${sizeBytes} is not a multiple of 4096`);
  if (sizeBytes < MKFS_MIN_BYTES || sizeBytes > MKFS_MAX_BYTES) {
    throw usageError(`--size ${sizeBytes} is outside ${MKFS_MIN_BYTES}..${MKFS_MAX_BYTES} bytes`);
  }
  let inodes: number | undefined;
  const inodesText = stringOption(p, "inodes");
  if (inodesText !== undefined) {
    inodes = Number(inodesText);
    if (!/^\d+$/.test(inodesText) || inodes < 1) {
      throw usageError(`--inodes must be a whole number of at least 1 (got "${inodesText}")`);
    }
  }
  const from = stringOption(p, "from");
  if (from !== undefined) {
    let isDir = false;
    try {
      isDir = Deno.statSync(from).isDirectory;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new CliError(`${from}: ${hostErrorText(e)}`, 1);
      }
    }
    if (!isDir) throw new CliError(`${from}: not a directory`, 1);
  }
  let img: Uint8Array;
  try {
    img = mkfs({
      sizeBytes,
      from,
      inodes,
      dax: !p.values["no-dax"],
      warn: (m) => console.error(`xip mkfs: ${m}`),
    });
  } catch (e) {
    if (e instanceof MkfsError) throw new CliError(e.message, 1);
    throw e;
  }
  // Replacing an image a Machine runs on would pull it from under it.
  let lock: Deno.FsFile | null = null;
  let sig = 0;
  try {
    lock = lockForReplace(image);
    [, sig] = await withSignalsDeferred(() => saveImageBytes(img, image));
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(e.message, 1);
    throw e;
  } finally {
    lock?.close();
  }
  if (sig !== 0) return 128 + sig; // the image is complete; stop as asked
  const opened = openVolume(img);
  if (opened.ok) {
    const { sb } = opened.vol;
    await printLine(
      `${image}: ${sb.totalBlocks} blocks (${
        superGet(opened.vol, "freeBlocks")
      } free), ${sb.inodeCount} inodes (${superGet(opened.vol, "freeInodes")} free)`,
    );
  }
  return 0;
}
