/**
 * `xip mkfs IMAGE [--size 64M] [--from HOSTDIR] [--inodes N] [--no-dax]`
 *
 * @module
 */

import { mkfs, MKFS_MAX_BYTES, MKFS_MIN_BYTES, MkfsError } from "../fs/mkfs.ts";
import { openVolume, superGet } from "../fs/xipfs_format.ts";
import { ImageError, saveImageBytes } from "../hw/image.ts";
import { lockForReplace } from "../hw/image_file.ts";
import { withSignalsDeferred } from "./_signals.ts";
import {
  CliError,
  parseCommand,
  parseSize,
  positionals,
  printLine,
  usageError,
} from "./_common.ts";

const USAGE = "xip mkfs IMAGE [--size 64M] [--from HOSTDIR] [--inodes N] [--no-dax]";

export const MKFS_HELP = `usage: ${USAGE}

Make an xipfs image file IMAGE, optionally holding a copy of HOSTDIR
(directories, regular files, symlinks, permission bits and mtimes).

options:
  --size SIZE     image size: bytes, or with a K, M or G suffix (default 64M);
                  a multiple of 4096, from 64K to 4G
  --from HOSTDIR  copy this host directory tree into the image's root
  --inodes N      number of inodes (default: one per 16 KiB)
  --no-dax        do not set the per-inode DAX flag (by default every file and
                  directory gets it, so dax=inode maps every file in place)
  -h, --help      show this help

The image is written atomically (a temporary file, then rename; a symlink
is followed and the old file's mode kept). An existing IMAGE that a run
holds is refused; SIGINT, SIGTERM and SIGHUP wait for the write to end, and
temporary files of a mkfs killed with SIGKILL are removed by the next one.
exit status: 0 done, 1 mkfs failed (no space, unreadable host file, I/O),
2 bad usage.`;

/** Run `xip mkfs`. */
export async function cmdMkfs(args: string[]): Promise<number> {
  const p = parseCommand(args, {
    size: { type: "string" },
    from: { type: "string" },
    inodes: { type: "string" },
    "no-dax": { type: "boolean" },
  });
  if (p.values.help) {
    await printLine(MKFS_HELP);
    return 0;
  }
  const [image] = positionals(p, 1, 1, USAGE) as [string];
  const sizeBytes = parseSize((p.values.size as string | undefined) ?? "64M");
  if (sizeBytes % 4096 !== 0) throw usageError(`size ${sizeBytes} is not a multiple of 4096`);
  if (sizeBytes < MKFS_MIN_BYTES || sizeBytes > MKFS_MAX_BYTES) {
    throw usageError(`size ${sizeBytes} is outside ${MKFS_MIN_BYTES}..${MKFS_MAX_BYTES} bytes`);
  }
  let inodes: number | undefined;
  if (p.values.inodes !== undefined) {
    inodes = Number(p.values.inodes);
    if (!/^\d+$/.test(p.values.inodes as string) || inodes < 1) {
      throw usageError(`bad inode count "${p.values.inodes}"`);
    }
  }
  const from = p.values.from as string | undefined;
  if (from !== undefined) {
    let isDir = false;
    try {
      isDir = Deno.statSync(from).isDirectory;
    } catch { /* reported below */ }
    if (!isDir) throw new CliError(`${from}: not a directory`, 1);
  }
  let img: Uint8Array;
  try {
    img = mkfs({
      sizeBytes,
      from,
      inodes,
      dax: !p.values["no-dax"],
      warn: (m) => console.error(m),
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
