/**
 * Putting back what a dead task held. A process Worker that is killed the
 * hard way stops at a kill point (src/sync/current.ts) without unwinding: its
 * locks are still held and a few references are still taken. What it can
 * hold there is bounded by construction:
 *
 * - locks: every one is on its held-lock stack (recoverTask releases them);
 * - a page lock comes with exactly one page reference of its holder (the
 *   rule of lockPage in src/fs/pagecache/pagecache_page.ts), dropped here;
 * - the open-file reference of the fd system call it was in (TASK.fileRef);
 * - a shrinking truncate between setting i_size and freeing the blocks
 *   past it (TASK.truncOp), which is finished here, as ext4 finishes the
 *   truncates of the inodes on its orphan list;
 * - everything else it held (fresh frames, page references before a lock,
 *   unlinked blocks) only inside no-kill regions, where it cannot stop.
 *
 * @module
 */

import { TASK } from "../abi/layout/mod.ts";
import type { TaskSlot } from "../abi/types.ts";
import { fdPut } from "../fs/vfs.ts";
import { finishTruncate } from "../fs/xipfs/xipfs_truncate.ts";
import { pfnOfFlagsWord, putPage } from "../mm/memmap.ts";
import { HELD_HELD, heldLocks } from "../sync/held.ts";
import { LockClass } from "../sync/lockdep.ts";
import { recoverTask } from "../sync/recover.ts";
import { taskNoteClear, taskNoteOf } from "../sync/current.ts";
import type { KernelFs } from "./fs_mount.ts";

/**
 * Release everything dead task `tid` held beyond its mm and file table
 * (which the caller then tears down as for any exit), and clear its notes
 * so that a second call undoes nothing twice. Entry: the task's thread
 * will never run again (it acknowledged its kill); the calling thread is
 * the Machine's task and holds no lock.
 */
export function recoverDeadTask(fs: KernelFs, tid: TaskSlot): void {
  const { mem } = fs;
  const k = mem.k32;
  const pages = heldLocks(k, tid)
    .filter((h) => h.cls === LockClass.PAGE_LOCK && h.state === HELD_HELD)
    .map((h) => pfnOfFlagsWord(mem, h.word));
  recoverTask(k, tid);
  for (const pfn of pages) putPage(mem, pfn);
  if (taskNoteOf(k, tid, TASK.truncOp) !== 0) {
    // An error here (a corrupt map) leaves the inode as fsck will report it.
    finishTruncate(fs.xip.ctx, tid);
    taskNoteClear(k, tid, TASK.truncOp);
  }
  const fileRef = taskNoteOf(k, tid, TASK.fileRef);
  if (fileRef !== 0) {
    taskNoteClear(k, tid, TASK.fileRef);
    fdPut(fs.vfs, fileRef - 1);
  }
}
