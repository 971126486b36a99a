/**
 * `xip fsck IMAGE`: check an image; exit 0 clean, 4 errors found, 8 unusable.
 *
 * @module
 */

import { fsck, FSCK_UNUSABLE } from "../fs/fsck.ts";
import { openVolume, superGet } from "../fs/xipfs_format.ts";
import { type CommandSpec, positionalArgs } from "./_command.ts";
import { CliError, printLine, readImageFile } from "./_common.ts";

/** `xip fsck`. */
export const FSCK: CommandSpec = {
  name: "fsck",
  usage: "IMAGE",
  summary: "check an image (exit 0 clean, 4 errors found, 8 unusable)",
  about: `Check the xipfs image IMAGE without changing it: superblock (magic, version,
checksum, geometry), block and inode bitmaps against what is in use (no
block used twice, no leaks), inode reachability from / (orphans), link
counts, directory structure (".", "..", rec_len, names, entries naming
in-use inodes) and sizes. Each problem is printed on one line.`,
  options: [],
  exit: `(as fsck(8)) 0 clean, 4 errors found (left uncorrected),
8 unusable (cannot be read: missing file, bad magic, version or checksum,
truncated image), 2 bad usage.`,
  run: (p) => checkImage(positionalArgs(p, 1, 1, ["IMAGE"])[0]!),
};

/** Check `image` and print the findings; the fsck exit status. */
async function checkImage(image: string): Promise<number> {
  const bytes = readImageFile(image, FSCK_UNUSABLE);
  const r = fsck(bytes);
  if (r.status === FSCK_UNUSABLE) {
    throw new CliError(`image ${image}: ${r.errors[0] ?? "unusable"}`, 8);
  }
  for (const line of r.errors) await printLine(`${image}: ${line}`);
  const opened = openVolume(bytes);
  if (r.status === 0 && opened.ok) {
    const { sb } = opened.vol;
    const usedInodes = sb.inodeCount - superGet(opened.vol, "freeInodes");
    const usedBlocks = sb.totalBlocks - superGet(opened.vol, "freeBlocks");
    await printLine(
      `${image}: clean, ${usedInodes}/${sb.inodeCount} inodes, ${usedBlocks}/${sb.totalBlocks} blocks`,
    );
  } else {
    await printLine(`${image}: ${r.errors.length} error line(s); the image needs repair`);
  }
  return r.status;
}
