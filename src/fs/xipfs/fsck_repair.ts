/**
 * fsck repair: bring an xipfs image back to a consistent state, as e2fsck
 * -p and -y do for ext2 (`xip fsck -p|-y`). fsck.ts finds the problems;
 * this module fixes them, then fsck checks again.
 *
 * Passes, on a copy of the image (the caller's bytes change only when the
 * repair is kept), in e2fsck's order:
 *  1. inodes: an unknown file type, a bad directory or symlink size clear
 *     the inode; a block pointer out of range or to a block another inode
 *     already claimed is cleared (the first claimant keeps the block); a
 *     block past i_size grows i_size to cover it; i_blocks is recounted;
 *  2. directories, walked from the root (recreated empty if it is not a
 *     directory): a directory is rewritten, entries packed in order behind
 *     a correct "." and "..", when it has a hole (a fresh empty block fills
 *     it; with no block free, the directory's blocks move down over it, as
 *     e2fsck -D compresses a directory), a malformed entry (the rest of that block is lost), a misplaced
 *     or wrong "." or "..", a duplicate name, an entry naming a free or
 *     cleared inode or a directory that already has a parent; a wrong entry
 *     type is patched in place;
 *  3. unreachable inodes: one with no links left (an orphan: unlinked while
 *     open, then the crash) or an empty regular file is freed with its
 *     blocks; anything else is reattached to /lost+found as "#INO"
 *     (created 0700 when missing), a directory with its subtree;
 *  4. link counts set to the entries that name each inode;
 *  5. block and inode bitmaps rebuilt from what is in use, free counts
 *     recounted, and the superblock marked clean.
 *
 * Preen mode (-p) only makes the repairs a crash can leave behind and that
 * lose nothing a user wrote: orphans, empty unattached files, link counts,
 * bitmaps and counts, i_blocks, i_size, entries naming free inodes, entry
 * types, the dirty state. Anything else stops it before it changes the
 * image ("UNEXPECTED INCONSISTENCY", status 4), as e2fsck -p does.
 *
 * @module
 */

import { fsck, FSCK_UNUSABLE } from "./fsck.ts";
import { openVolume } from "./xipfs_format.ts";
import { Repairer } from "./fsck_repairer.ts";
export { LOST_FOUND } from "./fsck_repairer.ts";

/** How fsck repairs: preen (-p, safe repairs only) or yes (-y, everything). */
export type RepairMode = "preen" | "yes";

/** What fsckRepair did. */
export interface RepairResult {
  /** 0 nothing to do, 1 errors corrected, 4 errors left, 8 unusable (e2fsck's codes). */
  readonly status: 0 | 1 | 4 | 8;
  /** One line per repair made (or, when preen stopped, that would have been made). */
  readonly fixes: string[];
  /** The problems left: the final check's lines (status 4 or 8). */
  readonly errors: string[];
}

/** The line preen prints when a repair needs a person's consent. */
export const PREEN_HALT = "UNEXPECTED INCONSISTENCY; run xip fsck -y (or without -p) to repair";

/**
 * Repair `image` in place (see the module comment). Never throws.
 *
 * @returns the status, the repairs made and any problems left
 */
export function fsckRepair(image: Uint8Array, mode: RepairMode): RepairResult {
  const first = fsck(image, { state: true });
  if (first.status === FSCK_UNUSABLE) return { status: 8, fixes: [], errors: first.errors };
  if (first.status === 0) return { status: 0, fixes: [], errors: [] };
  const work = image.slice();
  let r: Repairer;
  try {
    const opened = openVolume(work);
    if (!opened.ok) return { status: 8, fixes: [], errors: [opened.error] };
    r = new Repairer(opened.vol);
    r.run();
  } catch (e) {
    return { status: 8, fixes: [], errors: [`internal error while repairing: ${String(e)}`] };
  }
  if (mode === "preen" && r.unsafe > 0) {
    return { status: 4, fixes: r.fixes, errors: [...first.errors, PREEN_HALT] };
  }
  image.set(work);
  const after = fsck(image, { state: true });
  if (after.status !== 0) return { status: 4, fixes: r.fixes, errors: after.errors };
  return { status: 1, fixes: r.fixes, errors: [] };
}
