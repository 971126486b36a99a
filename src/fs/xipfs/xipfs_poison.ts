/**
 * The poison list of an xipfs image: bytes XPOISON.magic.. of block 0, past
 * the superblock (layout/mod.ts), a magic, a run count, then (first block,
 * blocks) runs; an image without the magic has no poison. The live file
 * system loads it into the device's bitmap at mount (hwpoisonLoad) and
 * rewrites it whenever a bit changes (setPoison), so the poison persists
 * with the image as pmem's badblocks do across a reboot. Offline (fsck,
 * `xip ls -l`) it says which files own poisoned blocks, as xfs_scrub's
 * media-error report does.
 *
 * @module
 */

import { XIPFS_ROOT_INO, XPOISON, XPOISON_MAGIC, XPOISON_MAX_RUNS } from "../../abi/layout/mod.ts";
import { ENOSPC } from "../../abi/errno.ts";
import { asIno, type Ino } from "../../abi/types.ts";
import { badblockRuns, badblockSet } from "../../hw/badblocks.ts";
import { LockClass, mutexLock, mutexUnlock } from "../../sync/mod.ts";
import { markBlockDirty } from "./balloc.ts";
import type { XipCtx } from "./xipfs_ctx.ts";
import { bmapWalk } from "./xipfs_bmap.ts";
import { dirIterate } from "./xipfs_dir.ts";
import { blockOff, inodeGet, inodeInUse, isDirMode, type XipVol } from "./xipfs_format.ts";

/** The list as stored: runs of [first block, blocks]; null when it is malformed (with why). */
export function readPoisonList(vol: XipVol): { runs: [number, number][] } | { error: string } {
  const v = vol.view, at = blockOff(vol, 0);
  const magic = v.getUint32(at + XPOISON.magic, true);
  if (magic === 0) return { runs: [] };
  if (magic !== XPOISON_MAGIC) return { error: `poison list: bad magic 0x${magic.toString(16)}` };
  const n = v.getUint32(at + XPOISON.count, true);
  if (n > XPOISON_MAX_RUNS) {
    return { error: `poison list: ${n} runs, more than ${XPOISON_MAX_RUNS}` };
  }
  const runs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const first = v.getUint32(at + XPOISON.runs + 8 * i, true);
    const blocks = v.getUint32(at + XPOISON.runs + 8 * i + 4, true);
    if (blocks === 0 || first + blocks > vol.sb.totalBlocks) {
      return { error: `poison list: run ${i} [${first}, +${blocks}) is outside the image` };
    }
    runs.push([first, blocks]);
  }
  return { runs };
}

/** A file that owns poisoned blocks: its inode and [file block, device block] pairs. */
export interface PoisonedFile {
  readonly ino: Ino;
  readonly blocks: [number, number][];
}

/**
 * The in-use inodes whose block maps name a poisoned block, by inode
 * number; metadata blocks (inode table, bitmaps) that are poisoned are
 * reported with ino 0 and file block -1. Reads only.
 */
export function poisonedFiles(vol: XipVol): PoisonedFile[] {
  const list = readPoisonList(vol);
  if ("error" in list || list.runs.length === 0) return [];
  const bad = new Set<number>();
  for (const [first, n] of list.runs) for (let b = first; b < first + n; b++) bad.add(b);
  const out: PoisonedFile[] = [];
  const meta: [number, number][] = [];
  for (const b of bad) if (b < vol.sb.dataStart) meta.push([-1, b]);
  if (meta.length > 0) out.push({ ino: asIno(0), blocks: meta.sort((x, y) => x[1] - y[1]) });
  for (let i = 1; i <= vol.sb.inodeCount; i++) {
    if (!inodeInUse(vol, i) || inodeGet(vol, asIno(i), "mode") === 0) continue;
    const hits: [number, number][] = [];
    bmapWalk(vol, asIno(i), (b, iblock, kind, valid) => {
      if (valid && bad.has(b)) hits.push([kind === "data" ? iblock : -1, b]);
    });
    if (hits.length > 0) out.push({ ino: asIno(i), blocks: hits });
  }
  return out;
}

/**
 * A path for each inode of `want`, found by walking the tree from the root
 * (the first name met; a directory is entered once, so a corrupt tree
 * cannot loop). Inodes not reached are left out. Reads only.
 */
function pathsOf(vol: XipVol, want: ReadonlySet<number>): Map<number, string> {
  const found = new Map<number, string>();
  const seen = new Set<number>([XIPFS_ROOT_INO]);
  const stack: [Ino, string][] = [[asIno(XIPFS_ROOT_INO), ""]];
  while (stack.length > 0 && found.size < want.size) {
    const [dir, path] = stack.pop()!;
    dirIterate(vol, dir, (e) => {
      if (e.name === "." || e.name === "..") return;
      const p = `${path}/${e.name}`;
      if (want.has(e.ino) && !found.has(e.ino)) found.set(e.ino, p);
      const mode = inodeInUse(vol, e.ino) ? inodeGet(vol, e.ino, "mode") : 0;
      if (isDirMode(mode) && !seen.has(e.ino)) {
        seen.add(e.ino);
        stack.push([e.ino, p]);
      }
    });
  }
  return found;
}

/**
 * fsck's poison pass: an error for a malformed list, else one note per
 * file that owns poisoned blocks ("/lib/x.so (inode 12): 2 poisoned
 * blocks at file blocks 3, 4"), metadata first. Reads only.
 */
export function poisonReport(vol: XipVol): { errors: string[]; notes: string[] } {
  const list = readPoisonList(vol);
  if ("error" in list) return { errors: [list.error], notes: [] };
  const files = poisonedFiles(vol);
  const paths = pathsOf(vol, new Set(files.map((f) => f.ino as number).filter((i) => i > 0)));
  const notes = files.map((f) => {
    const n = f.blocks.length, s = n === 1 ? "" : "s";
    if (f.ino === 0) {
      return `metadata: ${n} poisoned block${s} (device blocks ${
        f.blocks.map((x) => x[1]).join(", ")
      })`;
    }
    const where = f.blocks.map(([ib, b]) => (ib < 0 ? `map block ${b}` : `file block ${ib}`));
    return `${paths.get(f.ino) ?? "(unreachable)"} (inode ${f.ino}): ${n} poisoned block${s} at ${
      where.join(", ")
    }`;
  });
  const total = list.runs.reduce((a, r) => a + r[1], 0);
  if (total > 0) {
    notes.unshift(`${total} poisoned block${total === 1 ? "" : "s"} in ${list.runs.length} run(s)`);
  }
  return { errors: [], notes };
}

/** Word index of the lock that guards the bitmap and the list. */
const lockWord = (c: XipCtx): number => c.mem.layout.hwpoison.base;

/**
 * Read the poison list of the mounted image into the bitmap (mount: the
 * main thread, before any Worker). Runs past the device are ignored.
 */
export function hwpoisonLoad(c: XipCtx): void {
  const v = c.vol.view, at = blockOff(c.vol, 0);
  if (v.getUint32(at + XPOISON.magic, true) !== XPOISON_MAGIC) return;
  const n = Math.min(v.getUint32(at + XPOISON.count, true), XPOISON_MAX_RUNS);
  for (let i = 0; i < n; i++) {
    const first = v.getUint32(at + XPOISON.runs + 8 * i, true);
    const blocks = v.getUint32(at + XPOISON.runs + 8 * i + 4, true);
    badblockSet(c.mem, first, blocks, true);
  }
}

/**
 * Write the bitmap's runs into block 0 and mark it dirty. Entry: the
 * poison lock held.
 *
 * @returns 0, or -ENOSPC when the runs do not fit (the first ones are kept)
 */
function persistList(c: XipCtx): number {
  const runs = badblockRuns(c.mem);
  const v = c.vol.view, at = blockOff(c.vol, 0);
  const n = Math.min(runs.length, XPOISON_MAX_RUNS);
  v.setUint32(at + XPOISON.magic, runs.length === 0 ? 0 : XPOISON_MAGIC, true);
  v.setUint32(at + XPOISON.count, n, true);
  for (let i = 0; i < XPOISON_MAX_RUNS; i++) {
    v.setUint32(at + XPOISON.runs + 8 * i, i < n ? runs[i]![0] : 0, true);
    v.setUint32(at + XPOISON.runs + 8 * i + 4, i < n ? runs[i]![1] : 0, true);
  }
  markBlockDirty(c, 0);
  return runs.length > XPOISON_MAX_RUNS ? -ENOSPC : 0;
}

/**
 * Poison device blocks [b, b + n) (or clear them: `on` false), keeping the
 * list in the image up to date. Any thread; takes the poison lock (a leaf).
 *
 * @returns the blocks whose state changed
 */
export function setPoison(c: XipCtx, b: number, n: number, on: boolean): number[] {
  mutexLock(c.k32, lockWord(c), LockClass.NONE);
  try {
    const changed = badblockSet(c.mem, b, n, on);
    if (changed.length > 0) persistList(c);
    return changed;
  } finally {
    mutexUnlock(c.k32, lockWord(c));
  }
}
