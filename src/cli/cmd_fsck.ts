/**
 * `xip fsck [-n|-p|-y] [-f] IMAGE`: check an image, and repair it with -p
 * or -y, with e2fsck's interface and exit codes.
 *
 * @module
 */

import { XIPFS_BLOCK_SIZE } from "../abi/layout/mod.ts";
import { fsck, FSCK_NOT_CLEAN, FSCK_UNUSABLE } from "../fs/xipfs/fsck.ts";
import { fsckRepair, LOST_FOUND } from "../fs/xipfs/fsck_repair.ts";
import { openVolume, superGet } from "../fs/xipfs/xipfs_format.ts";
import { poisonReport } from "../fs/xipfs/xipfs_poison.ts";
import { ImageError } from "../hw/image.ts";
import { ImageFile } from "../hw/image_file.ts";
import { type CommandSpec, type Parsed, positionalArgs } from "./_command.ts";
import { CliError, printLine, readImageFile, usageError } from "./_common.ts";

/** e2fsck's exit codes (they may be ORed; xip fsck returns one). */
export const FSCK_EXIT = {
  clean: 0,
  corrected: 1,
  uncorrected: 4,
  operational: 8,
  usage: 16,
} as const;

/** `xip fsck`. */
export const FSCK: CommandSpec = {
  name: "fsck",
  usage: "[-n|-p|-y] [-f] IMAGE",
  summary: "check an image, and repair it with -p or -y (e2fsck's exit codes)",
  about: `Check the xipfs image IMAGE, and with -p or -y repair it in place, as
e2fsck does for ext2. The check covers the superblock (magic, version,
checksum, geometry, and whether it was unmounted cleanly: after a crash or
a kill it was not, and that is reported), the block and inode bitmaps
against what is in use, every block pointer, directory structure, that
every inode is reachable from /, link counts and the free counts. Each
problem is printed on one line. As with e2fsck, an image that was not
unmounted cleanly is checked and reported, but if nothing else is wrong
"fsck -n" exits 0; -p or -y mark it clean (exit 1).

While it repairs, fsck holds IMAGE's write lock (a running xip run is
refused) and writes the blocks that changed in place, superblock last.
A second "xip fsck -n" after -y finds the image clean. Poisoned blocks
(memory failure, xip run --poison) are listed with the files that own them
("hwpoison:" lines); they are not errors.`,
  options: [
    { name: "check-only", short: "n", help: "check only, change nothing (the default)" },
    {
      name: "preen",
      short: "p",
      help: "make the repairs a crash leaves behind and that lose\n" +
        "nothing written, without asking: free orphans (unlinked\n" +
        "while open) and empty unattached files; fix link counts,\n" +
        "bitmaps, free counts, i_blocks, i_size; drop entries that\n" +
        "name free inodes; mark the image clean. Anything else\n" +
        "stops it before it changes the image (exit 4)",
    },
    {
      name: "yes",
      short: "y",
      help: "repair everything: also clear inodes of unknown type, bad\n" +
        "pointers and doubly claimed blocks (the lower inode keeps\n" +
        "them), rewrite damaged directories, reattach unreachable\n" +
        `inodes as /${LOST_FOUND}/#INO (creating it)`,
    },
    {
      name: "force",
      short: "f",
      help: "force a full check (e2fsck's flag; xip always checks fully)",
    },
  ],
  exit: `(e2fsck's) 0 no errors, 1 errors were corrected, 4 errors left
uncorrected, 8 operational error (IMAGE cannot be opened, read, locked or
written, or is no xipfs image: bad magic, version or checksum, truncated),
16 usage error.`,
  usageStatus: 16,
  run: runFsck,
};

/** Run `xip fsck`. */
function runFsck(p: Parsed): Promise<number> {
  const [image] = positionalArgs(p, 1, 1, ["IMAGE"]) as [string];
  const modes = ["check-only", "preen", "yes"].filter((m) => p.values[m] === true).length;
  if (modes > 1) throw usageError("-n, -p and -y exclude each other");
  if (p.values.preen || p.values.yes) return repair(image, p.values.preen ? "preen" : "yes");
  return check(image);
}

/** The "N/M inodes, B/T blocks" summary of a readable image. */
function usage(bytes: Uint8Array): string {
  const o = openVolume(bytes);
  if (!o.ok) return "";
  const { sb } = o.vol;
  const inodes = sb.inodeCount - superGet(o.vol, "freeInodes");
  const blocks = sb.totalBlocks - superGet(o.vol, "freeBlocks");
  return `${inodes}/${sb.inodeCount} inodes, ${blocks}/${sb.totalBlocks} blocks`;
}

async function check(image: string): Promise<number> {
  const bytes = readImageFile(image, FSCK_EXIT.operational);
  const r = fsck(bytes, { state: true });
  if (r.status === FSCK_UNUSABLE) {
    throw new CliError(`image ${image}: ${r.errors[0] ?? "unusable"}`, FSCK_EXIT.operational);
  }
  for (const line of r.errors) await printLine(`${image}: ${line}`);
  for (const line of r.notes ?? []) await printLine(`${image}: hwpoison: ${line}`);
  // e2fsck -n on an fs that was not cleanly unmounted: "check forced", and
  // with nothing else wrong, exit 0 (only a repair can mark it clean).
  const onlyDirty = r.errors.length > 0 && r.errors.every((e) => e === FSCK_NOT_CLEAN);
  if (r.status === 0) await printLine(`${image}: clean, ${usage(bytes)}`);
  else if (onlyDirty) {
    await printLine(`${image}: no errors found, ${usage(bytes)}`);
    return FSCK_EXIT.clean;
  } else {
    await printLine(
      `${image}: ${r.errors.length} error line(s); the image needs repair (xip fsck -y ${image})`,
    );
  }
  return r.status === 0 ? FSCK_EXIT.clean : FSCK_EXIT.uncorrected;
}

async function repair(image: string, mode: "preen" | "yes"): Promise<number> {
  let f: ImageFile;
  try {
    f = ImageFile.open(image, { write: true });
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(e.message, FSCK_EXIT.operational);
    throw e;
  }
  try {
    const before = f.read();
    const bytes = before.slice();
    const r = fsckRepair(bytes, mode);
    if (r.status === 8) {
      throw new CliError(`image ${image}: ${r.errors[0] ?? "unusable"}`, FSCK_EXIT.operational);
    }
    if (r.status === 4 && mode === "preen") {
      for (const line of r.errors) await printLine(`${image}: ${line}`);
      return FSCK_EXIT.uncorrected;
    }
    writeChanged(f, before, bytes);
    for (const line of r.fixes) await printLine(`${image}: ${line}`);
    // Poison is no error to repair, but -y reports it as -n does.
    const o = openVolume(bytes);
    for (const line of o.ok ? poisonReport(o.vol).notes : []) {
      await printLine(`${image}: hwpoison: ${line}`);
    }
    for (const line of r.errors) await printLine(`${image}: left: ${line}`);
    if (r.status === 0) await printLine(`${image}: clean, ${usage(bytes)}`);
    else if (r.status === 1) {
      await printLine(`${image}: ${r.fixes.length} problem(s) corrected; clean, ${usage(bytes)}`);
    } else await printLine(`${image}: ${r.errors.length} error line(s) left uncorrected`);
    return r.status;
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(e.message, FSCK_EXIT.operational);
    throw e;
  } finally {
    f.close();
  }
}

/**
 * Write the blocks of `after` that differ from `before` in place: every
 * one but the superblock, a flush, then the superblock (which now says
 * clean) and a flush, so a crash midway leaves an image still marked dirty.
 */
function writeChanged(f: ImageFile, before: Uint8Array, after: Uint8Array): void {
  const B = XIPFS_BLOCK_SIZE;
  const differs = (b: number) => {
    for (let i = b * B; i < (b + 1) * B; i++) if (before[i] !== after[i]) return true;
    return false;
  };
  const blocks = after.length / B;
  let any = false;
  for (let b = 1; b < blocks;) {
    if (!differs(b)) {
      b++;
      continue;
    }
    let n = 1;
    while (b + n < blocks && differs(b + n)) n++;
    f.pwrite(b * B, after.subarray(b * B, (b + n) * B));
    any = true;
    b += n;
  }
  if (any) f.sync();
  if (differs(0)) {
    f.pwrite(0, after.subarray(0, B));
    f.sync();
  }
}
