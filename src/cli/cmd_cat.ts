/**
 * `xip cat IMAGE PATH`: write a file's bytes from an image to stdout.
 *
 * @module
 */

import { XIPFS_BLOCK_SIZE } from "../abi/layout/mod.ts";
import { fileRead } from "../fs/xipfs/xipfs_file.ts";
import { inodeGetSize } from "../fs/xipfs/xipfs_format.ts";
import { namei } from "../fs/xipfs/xipfs_namei.ts";
import { type CommandSpec, positionalArgs } from "./_command.ts";
import { CliError, errnoMessage, loadVolume, writeStdout } from "./_common.ts";

/** Bytes copied per write to stdout. */
const CHUNK = 256 * XIPFS_BLOCK_SIZE;

/** `xip cat`. */
export const CAT: CommandSpec = {
  name: "cat",
  usage: "IMAGE PATH",
  summary: "write a file of an image to stdout",
  about: `Write the bytes of file PATH of the xipfs image IMAGE to stdout, raw.
Symlinks are followed (at most 40, then ELOOP); holes read as zeros.`,
  options: [],
  exit: `0 done, 1 the image is unreadable or corrupt (bad magic,
version or checksum, truncated), PATH does not resolve or is a directory,
2 bad usage.`,
  run: (p) => {
    const [image, path] = positionalArgs(p, 2, 2, ["IMAGE", "PATH"]) as [string, string];
    return catFile(image, path);
  },
};

/** Write file `path` of image `image` to stdout; the exit status. */
async function catFile(image: string, path: string): Promise<number> {
  const vol = loadVolume(image, 1);
  const ino = namei(vol, path, true);
  if (ino < 0) throw new CliError(`${path}: ${errnoMessage(ino)}`, 1);
  const size = inodeGetSize(vol, ino);
  for (let pos = 0; pos < size; pos += CHUNK) {
    const bytes = fileRead(vol, ino, pos, CHUNK);
    if (typeof bytes === "number") throw new CliError(`${path}: ${errnoMessage(bytes)}`, 1);
    await writeStdout(bytes);
  }
  if (size === 0) {
    const probe = fileRead(vol, ino, 0, 0); // a directory of size 0 is still a directory
    if (typeof probe === "number") throw new CliError(`${path}: ${errnoMessage(probe)}`, 1);
  }
  return 0;
}
