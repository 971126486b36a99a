/**
 * `xip fsck [-n|-p|-y] [-f] IMAGE`: check an image, and repair it with -p
 * or -y, with e2fsck's interface and exit codes.
 *
 * @module
 */

import { XIPFS_BLOCK_SIZE } from "../abi/layout.ts";
import { fsck, FSCK_UNUSABLE } from "../fs/fsck.ts";
import { fsckRepair, LOST_FOUND } from "../fs/fsck_repair.ts";
import { openVolume, superGet } from "../fs/xipfs_format.ts";
import { ImageError } from "../hw/image.ts";
import { ImageFile } from "../hw/image_file.ts";
import { CliError, parseCommand, positionals, printLine, readImageFile } from "./_common.ts";

const USAGE = "xip fsck [-n|-p|-y] [-f] IMAGE";

/** e2fsck's exit codes (they may be ORed; xip fsck returns one). */
export const FSCK_EXIT = {
  clean: 0,
  corrected: 1,
  uncorrected: 4,
  operational: 8,
  usage: 16,
} as const;

export const FSCK_HELP = `usage: ${USAGE}

Check the xipfs image IMAGE, and with -p or -y repair it in place, as
e2fsck does for ext2. The check covers the superblock (magic, version,
checksum, geometry, and whether it was unmounted cleanly: after a crash or
a kill it was not, and that is reported), the block and inode bitmaps
against what is in use, every block pointer, directory structure, that
every inode is reachable from /, link counts and the free counts. Each
problem is printed on one line.

options:
  -n   check only and change nothing (the default)
  -p   preen: make, without asking, the repairs a crash leaves behind and
       that lose nothing written: free orphan inodes (unlinked while open)
       and empty unattached files, fix link counts, bitmaps, free counts,
       i_blocks and i_size, drop entries naming free inodes, mark the image
       clean. Anything else stops it before it changes the image (exit 4).
  -y   repair everything: also clear inodes of unknown type, bad block
       pointers and doubly claimed blocks (the lower inode keeps them),
       rewrite damaged directories, and reattach unreachable inodes under
       /${LOST_FOUND} as "#INO" (creating it).
  -f   force a full check: accepted as e2fsck's; xip fsck always checks in
       full.
  -h, --help   show this help

While it repairs, fsck holds IMAGE's write lock (a running xip run is
refused) and writes the blocks that changed in place, superblock last.
A second "xip fsck -n" after -y finds the image clean.

exit status (e2fsck's): 0 no errors, 1 errors were corrected, 4 errors
left uncorrected, 8 operational error (IMAGE cannot be opened, read,
locked or written, or is no xipfs image: bad magic, version or checksum,
truncated), 16 usage error.`;

/** Run `xip fsck`. */
export async function cmdFsck(args: string[]): Promise<number> {
  let p;
  let image: string;
  try {
    p = parseCommand(args, {
      n: { type: "boolean", short: "n" },
      p: { type: "boolean", short: "p" },
      y: { type: "boolean", short: "y" },
      f: { type: "boolean", short: "f" },
    });
    if (p.values.help) {
      await printLine(FSCK_HELP);
      return 0;
    }
    [image] = positionals(p, 1, 1, USAGE) as [string];
    const modes = [p.values.n, p.values.p, p.values.y].filter((v) => v === true).length;
    if (modes > 1) throw new CliError(`-n, -p and -y exclude each other (usage: ${USAGE})`, 2);
  } catch (e) {
    if (e instanceof CliError && e.status === 2) throw new CliError(e.message, FSCK_EXIT.usage);
    throw e;
  }
  if (p.values.p || p.values.y) return await repair(image, p.values.p ? "preen" : "yes");
  return await check(image);
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
    throw new CliError(`${image}: ${r.errors[0] ?? "unusable"}`, FSCK_EXIT.operational);
  }
  for (const line of r.errors) await printLine(`${image}: ${line}`);
  if (r.status === 0) await printLine(`${image}: clean, ${usage(bytes)}`);
  else {
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
      throw new CliError(`${image}: ${r.errors[0] ?? "unusable"}`, FSCK_EXIT.operational);
    }
    if (r.status === 4 && mode === "preen") {
      for (const line of r.errors) await printLine(`${image}: ${line}`);
      return FSCK_EXIT.uncorrected;
    }
    writeChanged(f, before, bytes);
    for (const line of r.fixes) await printLine(`${image}: ${line}`);
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
