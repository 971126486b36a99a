/**
 * File names for /proc/PID/maps: inode number -> path, by searching the
 * mounted filesystem (Linux keeps the dentry in the VMA's struct file and
 * prints d_path; xip's VMA holds only the inode, so procfs finds a name).
 *
 * Each thread remembers the names it found (per machine). A remembered
 * name is checked with one path lookup before it is used: when it no
 * longer leads to the inode, the file was unlinked or renamed, and the
 * search runs again; if the inode has no name any more, the old one is
 * shown with " (deleted)", as Linux shows an unlinked mapped file. An
 * inode never seen with a name is shown as `[ino N] (deleted)`.
 *
 * The search is breadth-first from the root, so a file with several hard
 * links is named by its shallowest link (Linux names the link it was
 * opened through). It visits at most SEARCH_DIRS directories.
 *
 * Locks: none held on entry. lookup and readdir take each directory's
 * i_rwsem, which ranks above mmap_lock, so callers resolve names only
 * after dropping the mm's locks.
 *
 * @module
 */

import { DT_DIR } from "../../abi/fcntl.ts";
import { asIno, type Ino } from "../../abi/types.ts";
import { pathLookup } from "../namei.ts";
import type { VfsFs } from "../vfs_fs.ts";

/** Most directories one search reads. */
export const SEARCH_DIRS = 4096;

/** Names this thread found, per machine (keyed by the kernel-table buffer). */
const memo = new WeakMap<ArrayBufferLike, Map<number, string>>();

function memoOf(fs: VfsFs): Map<number, string> {
  let m = memo.get(fs.mem.k32.buffer);
  if (m === undefined) {
    m = new Map();
    memo.set(fs.mem.k32.buffer, m);
  }
  return m;
}

/** Whether absolute `path` still names inode `ino` (not following a final symlink). */
function stillNames(fs: VfsFs, path: string, ino: number): boolean {
  const ip = pathLookup(fs, fs.rootIno, path, false);
  if (typeof ip === "number") return false;
  const same = ip.ino === ino;
  fs.iput(ip);
  return same;
}

/**
 * Breadth-first search from the root for the inodes in `want`, recording
 * each one's first path in `found`. Stops when all are found or after
 * SEARCH_DIRS directories.
 */
function search(fs: VfsFs, want: Set<number>, found: Map<number, string>): void {
  const queue: [Ino, string][] = [[fs.rootIno, ""]];
  for (let dirs = 0; queue.length > 0 && want.size > 0 && dirs < SEARCH_DIRS; dirs++) {
    const [ino, path] = queue.shift()!;
    const dir = fs.iget(ino);
    if (typeof dir === "number") continue;
    try {
      fs.readdir(dir, 0, (e) => {
        if (e.name === "." || e.name === "..") return true;
        const child = `${path}/${e.name}`;
        if (want.delete(e.ino)) found.set(e.ino, child);
        if (e.dtype === DT_DIR) queue.push([asIno(e.ino), child]);
        return want.size > 0;
      });
    } finally {
      fs.iput(dir);
    }
  }
}

/**
 * Names for inode numbers `inos` on filesystem `fs` (see the module
 * comment for remembered, deleted and unknown inodes). Entry: no lock held.
 */
export function inodePaths(fs: VfsFs, inos: Iterable<number>): Map<number, string> {
  const known = memoOf(fs);
  const out = new Map<number, string>();
  const want = new Set<number>();
  for (const ino of inos) {
    if (out.has(ino) || want.has(ino)) continue;
    const old = known.get(ino);
    if (old !== undefined && stillNames(fs, old, ino)) out.set(ino, old);
    else want.add(ino);
  }
  if (want.size === 0) return out;
  const found = new Map<number, string>();
  search(fs, new Set(want), found);
  for (const ino of want) {
    const p = found.get(ino);
    if (p !== undefined) {
      known.set(ino, p);
      out.set(ino, p);
      continue;
    }
    const old = known.get(ino);
    out.set(ino, old !== undefined ? `${old} (deleted)` : `[ino ${ino}] (deleted)`);
  }
  return out;
}
