/**
 * checkInvariants: the machine's consistency check at quiescence, the
 * oracle every concurrency, chaos and fuzz suite ends with (issue 8), and
 * what `machine.checkInvariants()` will expose.
 *
 * When it may be called: at quiescence, that is, no Worker runs kernel code
 * (every process has exited or been reaped, or the callers have stopped
 * their Workers and run recoverTask for the ones they killed). It takes no
 * lock and reads with Atomics, so it never blocks on a lock a broken state
 * left held; on a running machine its answers are racy and meaningless.
 *
 * The rules, each checked by a small checker (file in brackets):
 *
 * 1. Frame classes [_invariants_mm.ts checkFrameClasses]. Every RAM frame is
 *    exactly one of:
 *    - free: its frame-allocator bit is clear, and its struct page is clear
 *      (flags, refcount, mapcount, mapping, index, private all 0; the
 *      next/prev links are not checked);
 *    - the zero page (MMG.zeroPfn), or the [vdso] page (src/kernel/vdso.ts);
 *    - a page table: reachable from a live mm's root (the root itself or a
 *      level-0 table it names), PG_pagetable set, mapped by no PTE;
 *    - page cache: in the page-cache index, with the struct page's
 *      (mapping, index) equal to the index entry's, PG_uptodate, indexed
 *      once, and its mapping an inode slot that holds an inode (or the
 *      xipfs metadata mapping on bio devices);
 *    - anonymous: PG_anon, mapping 0;
 *    - a pipe buffer: a ring page of a live pipe (layout/pipe.ts), no
 *      flags, mapping 0, mapped by no PTE;
 *    - a message-queue page: a store page of a live System V message
 *      queue (ipc_msg.ts), or a socket buffer: a receive-ring page of a
 *      live AF_UNIX socket (unix_sock.ts), the same rules.
 *    A frame in use in no class is a leak (unless the caller declares pins
 *    on it, e.g. a page still pinned by gup after truncate took it out of
 *    the cache); a free frame in any class, or mapped, is reported.
 * 2. Counts [checkCounts]. For every frame in use (device frames too when
 *    they have a struct page):
 *      refcount = PTEs + pins + page cache + kernel
 *    where PTEs counts the leaf PTEs (present or PROT_NONE) that hold a
 *    reference: not pte_special, not the zero page, not in a VM_PFNMAP VMA
 *    (Linux's vm_normal_page); pins are the references the caller declares
 *    (`opts.pins`); page cache is 1 for a frame in the index (the cache's
 *    own reference); kernel is 1 for the zero page, the vdso page, page
 *    tables, pipe buffers, message-queue pages and socket buffers (the
 *    allocation reference they keep). An
 *    anonymous page's allocation reference becomes its first PTE's
 *    (accountMap haveRef), so it has no kernel term. Metadata pages of a bio-device xipfs are also pinned by
 *    every thread's memo (metacache.ts), a number nobody records, so for
 *    them refcount is only checked to be at least the sum.
 *      mapcount = PTEs (the same counted PTEs).
 * 3. PTEs [checkPtes]. Each present leaf lies inside a VMA of its mm and
 *    grants no permission the VMA lacks (W needs VM_WRITE, X VM_EXEC, R
 *    VM_READ or VM_WRITE). A RAM target is allocated (never a free frame),
 *    is not a page table; the zero page is mapped pte_special and read-only;
 *    any other RAM frame is not pte_special. A page-cache page is mapped
 *    only by a VMA of its own file at its own offset, and writable only in
 *    a shared mapping; an anonymous frame never by a shared file VMA. A
 *    device frame is pte_special exactly when it has no struct page, is
 *    mapped only by file VMAs, writable only when shared, and (given a
 *    volume) its block is inside the volume, marked in use in the xipfs
 *    block bitmap, and is the block the VMA's inode maps at that page
 *    offset (bmap), so no stale mapping survives a truncate or a
 *    reallocation. Table entries that are neither tables nor leaves, and
 *    frames past physical memory, are reported too.
 * 3b. Megapages [_invariants_huge.ts checkHuges]. Every leaf in a root
 *    table (a 4 MiB megapage, src/mm/huge_memory.ts) names 1024 device
 *    frames from a 1024-aligned pfn, is pte_special (holds no reference),
 *    lies inside one DAX file VMA that covers all 4 MiB at a 4 MiB-aligned
 *    file offset, grants no permission the VMA lacks (W only when shared),
 *    and (given a volume) names exactly the 1024 in-use blocks the inode
 *    maps there.
 * 3c. Poison [_invariants_poison.ts checkPoison]. No leaf PTE or megapage
 *    maps a poisoned device block (memory failure unmapped it everywhere;
 *    faults refuse it); the poison bitmap's count is its population; given
 *    a volume, the list saved in its block 0 names exactly those blocks.
 * 4. VMAs [checkVmas]. Each live mm's list is sorted, page aligned, without
 *    overlap, its records name the mm and MM.vmaCount matches; every used
 *    VMA slot is on a live mm's list; file VMAs are on their inode's i_mmap
 *    list and that list holds only VMAs of that inode.
 * 5. Gauges [checkGauges]. FALLOC.freeFrames equals the clear bits and the
 *    bits past the last RAM frame are set; MMG.pagetableFrames and each
 *    mm's ptFrames equal the reachable tables; MMG.anonFrames and each mm's
 *    rssAnon/rssFile equal its counted PTEs of anonymous / other frames; no
 *    mm is left half torn down, no page table is reachable from two mms.
 * 6. Locks [_invariants_locks.ts checkLocks]: every held-lock stack is
 *    empty and every declared lock word is free.
 * 7. fsck (only with `opts.fsck`): the device image checks clean. Callable
 *    when the metadata on the device is current and no unlinked file is
 *    still open: on a memory device at any quiescent point (xipfs keeps its
 *    metadata in place there, in DAX and page-cache modes alike; file data
 *    still in dirty page-cache pages is not fsck's business), or after
 *    unmount; on a bio device pass the image bytes after sync/unmount.
 * 8. Shared memory and IPC [_invariants_ipc.ts checkIpc]: shmem inodes'
 *    page counts and reference counts (VMAs, open files, tmpfs links,
 *    System V segments) are exact; tmpfs entries name linked inodes;
 *    segments' attach counts equal their VMAs; no semop sleeper is left,
 *    semaphore values are in range, undo entries name live semaphores;
 *    each message queue's store agrees with its counts; every socket but
 *    a connection waiting for accept is owned by exactly one open file,
 *    and every socket open file names a live socket.
 *
 * @module
 */

import { SB_INFO, SB_INFO_MOUNTED } from "../abi/layout/mod.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { fsck } from "../fs/xipfs/fsck.ts";
import { openVolume, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import { physWords } from "../mm/pgtable.ts";
import {
  checkCounts,
  checkFrameClasses,
  checkGauges,
  checkPtes,
  checkVmas,
  type Pins,
} from "./_invariants_mm.ts";
import { checkLocks } from "./_invariants_locks.ts";
import { checkHuges } from "./_invariants_huge.ts";
import { checkPoison } from "./_invariants_poison.ts";
import { checkIpc } from "./_invariants_ipc.ts";
import { takeSnapshot } from "./_invariants_scan.ts";

/** Options of checkInvariants. */
export interface InvariantOptions {
  /**
   * References the caller still holds on purpose, pfn -> count (gup pins,
   * a page a test keeps). Each counts in the refcount rule.
   */
  pins?: ReadonlyMap<number, number>;
  /**
   * The xipfs volume whose blocks device PTEs must name (usually
   * `fs.vol` of the mounted XipFs). Default: the volume on the memory
   * device when the mount state says a memory device is mounted, else none
   * (then device PTEs are checked only for their pte_special rule).
   */
  vol?: XipVol | null;
  /**
   * Run fsck: `true` checks the memory device's image in place; a
   * Uint8Array is checked instead (a bio device's image after sync). See
   * rule 7 for when this is meaningful.
   */
  fsck?: boolean | Uint8Array;
  /** Skip the lock checker (for a caller that knowingly holds a lock, e.g. a test). */
  skipLocks?: boolean;
}

/** The memory device's bytes (all device frames). */
function deviceBytes(mem: Memory): Uint8Array {
  const c = mem.layout.config;
  return new Uint8Array(mem.phys, c.ramFrames * PAGE_SIZE, c.deviceFrames * PAGE_SIZE);
}

/** The volume on the memory device, or null when there is none to check against. */
function defaultVol(mem: Memory): XipVol | null {
  const x = mem.layout.xipfs.base;
  if (Atomics.load(mem.k32, x + SB_INFO.state) !== SB_INFO_MOUNTED) return null;
  if (Atomics.load(mem.k32, x + SB_INFO.bio) !== 0 || mem.layout.config.deviceFrames === 0) {
    return null;
  }
  const o = openVolume(deviceBytes(mem));
  return o.ok ? o.vol : null;
}

/** fsck lines, prefixed; [] when clean. */
function checkFsck(mem: Memory, what: true | Uint8Array, out: string[]): void {
  let image: Uint8Array;
  if (what === true) {
    const dev = deviceBytes(mem);
    const o = openVolume(dev);
    if (!o.ok) {
      out.push(`fsck: the memory device holds no volume: ${o.error}`);
      return;
    }
    image = dev.subarray(0, o.vol.sb.totalBlocks * PAGE_SIZE);
  } else image = what;
  const r = fsck(image);
  if (r.status !== 0 && r.errors.length === 0) out.push(`fsck: status ${r.status}`);
  for (const e of r.errors) out.push(`fsck: ${e}`);
}

/**
 * Check every invariant of the module comment on `mem`. Entry: quiescence
 * (no Worker in the kernel); takes no lock. Never throws for a broken
 * state: every problem becomes one line.
 *
 * @returns one precise line per violation; empty when the machine is consistent
 */
export function checkInvariants(mem: Memory, opts: InvariantOptions = {}): string[] {
  const out: string[] = [];
  const pins: Pins = opts.pins ?? new Map();
  const s = takeSnapshot(mem, physWords(mem));
  checkFrameClasses(s, pins, out);
  checkCounts(s, pins, out);
  const vol = opts.vol === undefined ? defaultVol(mem) : opts.vol;
  checkPtes(s, vol, out);
  checkHuges(s, vol, out);
  checkPoison(s, vol, out);
  checkVmas(s, out);
  checkGauges(s, out);
  checkIpc(s, out);
  if (opts.skipLocks !== true) checkLocks(mem, out);
  if (opts.fsck !== undefined && opts.fsck !== false) checkFsck(mem, opts.fsck, out);
  return out;
}
