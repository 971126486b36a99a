/**
 * The lock checker of checkInvariants (invariants.ts): at quiescence no
 * task holds a lock and no known lock word is taken.
 *
 * Two independent views, so that a lock whose holder record was lost (or a
 * record whose lock word was cleared) is caught either way:
 * - every task's held-lock stack (src/sync/held.ts) is empty;
 * - every lock word the kernel tables declare is free: per mm the mmap_lock
 *   and page_table_lock; the page-cache index lock; the inode-cache lock and
 *   per inode slot i_rwsem, invalidate_lock, the block-map lock and the
 *   i_mmap lock; the rename and sync locks of the mounted xipfs; the
 *   open-file table lock and every fd table's lock; every DAX entry bit;
 *   PG_locked of every struct page; and no task is recorded asleep on a
 *   bit lock (HEADER.bitWaiters, TASK.bitWait).
 *
 * A mutex is free when its owner field is 0, an rwsem when it has neither
 * readers nor a writer (a stale "waiters" flag with no holder is harmless:
 * the next release clears it), a bit lock when its bit is clear.
 *
 * @module
 */

import {
  DAXENT_LOCK_BIT,
  DAXENT_WORDS,
  DAXPMD_LOCK_WORDS,
  DAXPMD_LOCKS,
  FDT,
  fdtBase,
  fdtMax,
  FILES,
  FUTEX_HASH,
  HEADER,
  HWPOISON,
  ICACHE,
  ICACHE_SLOTS,
  ISLOT,
  ISLOT_WORDS,
  memmapFrames,
  MM,
  mmBase,
  PAGE,
  PAGE_WORDS,
  PCACHE,
  PROC,
  PROC_RUNNING,
  procBase,
  PROCS_HDR,
  SB_INFO,
  TASK,
  taskBase,
} from "../abi/layout/mod.ts";
import { asTaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { PG_locked } from "../mm/memmap.ts";
import { HELD_ACQUIRING, heldLocks, KIND_BIT, KIND_MUTEX, MODE_READ } from "../sync/held.ts";
import { lockClassName } from "../sync/lockdep.ts";
import { MUTEX_OWNER_MASK, MUTEX_WORDS } from "../sync/mutex.ts";
import { RWSEM_READERS_MASK, RWSEM_WRITER_MASK, RWSEM_WRITER_SHIFT } from "../sync/rwsem.ts";

const kindName = (kind: number): string =>
  kind === KIND_MUTEX ? "mutex" : kind === KIND_BIT ? "bit lock" : "rwsem";

/** Every task's held-lock stack is empty. */
function checkHeldStacks(mem: Memory, out: string[]): void {
  const k = mem.k32;
  for (let tid = 1; tid < mem.layout.config.maxTasks; tid++) {
    for (const h of heldLocks(k, asTaskSlot(tid))) {
      const mode = h.kind === KIND_MUTEX || h.kind === KIND_BIT
        ? ""
        : h.mode === MODE_READ
        ? " for read"
        : " for write";
      out.push(
        `lock: task ${tid} ${h.state === HELD_ACQUIRING ? "is acquiring" : "holds"} ${
          lockClassName(h.cls)
        } ${kindName(h.kind)}${mode} at word ${h.word}${h.bit >= 0 ? ` bit ${h.bit}` : ""}`,
      );
    }
    if (Atomics.load(k, taskBase(mem.layout, tid) + TASK.bitWait) !== 0) {
      out.push(`lock: task ${tid} is recorded asleep on a bit lock`);
    }
  }
  const waiters = Atomics.load(k, HEADER.bitWaiters);
  if (waiters !== 0) out.push(`lock: ${waiters} task(s) counted asleep on bit locks`);
}

function mutexFree(k: Int32Array, w: number, name: string, out: string[]): void {
  const owner = Atomics.load(k, w) & MUTEX_OWNER_MASK;
  if (owner !== 0) out.push(`lock: ${name} (mutex at word ${w}) is held by task ${owner}`);
}

function rwsemFree(k: Int32Array, w: number, name: string, out: string[]): void {
  const v = Atomics.load(k, w);
  const readers = v & RWSEM_READERS_MASK;
  const writer = (v & RWSEM_WRITER_MASK) >>> RWSEM_WRITER_SHIFT;
  if (readers !== 0 || writer !== 0) {
    out.push(
      `lock: ${name} (rwsem at word ${w}) is held: ${readers} reader(s), writer task ${writer}`,
    );
  }
}

/** Every lock word the layout declares is free. */
function checkLockWords(mem: Memory, out: string[]): void {
  const k = mem.k32;
  const l = mem.layout;
  for (let mm = 1; mm < l.config.maxTasks; mm++) {
    const b = mmBase(l, mm);
    rwsemFree(k, b + MM.mmapLock, `mm ${mm} mmap_lock`, out);
    mutexFree(k, b + MM.pageTableLock, `mm ${mm} page_table_lock`, out);
  }
  mutexFree(k, l.pcache.base + PCACHE.lock, "page-cache index lock", out);
  mutexFree(k, l.icache.base + ICACHE.lock, "inode-cache lock", out);
  for (let slot = 1; slot < ICACHE_SLOTS; slot++) {
    const b = l.icache.base + ICACHE.slots + slot * ISLOT_WORDS;
    rwsemFree(k, b + ISLOT.iRwsem, `inode slot ${slot} i_rwsem`, out);
    rwsemFree(k, b + ISLOT.invalidateLock, `inode slot ${slot} invalidate_lock`, out);
    mutexFree(k, b + ISLOT.bmapLock, `inode slot ${slot} block-map lock`, out);
    mutexFree(k, b + ISLOT.iMmapLock, `inode slot ${slot} i_mmap lock`, out);
  }
  mutexFree(k, l.xipfs.base + SB_INFO.renameLock, "xipfs rename lock", out);
  mutexFree(k, l.xipfs.base + SB_INFO.syncLock, "xipfs sync lock", out);
  mutexFree(k, l.files.base + FILES.lock, "open-file table lock", out);
  mutexFree(k, l.procs.base + PROCS_HDR.tasklistLock, "tasklist lock", out);
  for (let b = 0; b < FUTEX_HASH; b++) {
    mutexFree(k, l.procs.base + PROCS_HDR.futexHash + b * MUTEX_WORDS, `futex bucket ${b}`, out);
  }
  mutexFree(k, l.hwpoison.base + HWPOISON.lock, "hwpoison lock", out);
  for (let t = 0; t < fdtMax(l.config); t++) {
    mutexFree(k, fdtBase(l.files.base, t) + FDT.lock, `fd table ${t} lock`, out);
  }
  for (let i = 0; i < DAXPMD_LOCKS; i++) {
    rwsemFree(k, l.daxpmd.base + i * DAXPMD_LOCK_WORDS, `DAX PMD-range lock ${i}`, out);
  }
  for (let i = 0; i < DAXENT_WORDS; i++) {
    if ((Atomics.load(k, l.daxent.base + i) & (1 << DAXENT_LOCK_BIT)) !== 0) {
      out.push(`lock: DAX entry word ${i} is locked`);
    }
  }
  const frames = memmapFrames(l.config);
  for (let pfn = 0; pfn < frames; pfn++) {
    const flags = Atomics.load(k, l.memmap.base + pfn * PAGE_WORDS + PAGE.flags);
    if ((flags & (1 << PG_locked)) !== 0) out.push(`lock: frame ${pfn} is PG_locked`);
  }
}

/** No futex queue entry belongs to a slot whose process has no running task (futex_q.ts). */
function checkFutexQueue(mem: Memory, out: string[]): void {
  const l = mem.layout;
  for (let slot = 2; slot < l.config.maxTasks; slot++) {
    const b = procBase(l, slot);
    const key = Atomics.load(mem.k32, b + PROC.futexKey);
    if (key === 0) continue;
    const state = Atomics.load(mem.k32, b + PROC.state);
    if (state !== PROC_RUNNING) {
      out.push(`futex: slot ${slot} (state ${state}) is still queued on futex key ${key}`);
    }
  }
}

/** No lock held: both views (see the module comment). */
export function checkLocks(mem: Memory, out: string[]): void {
  checkHeldStacks(mem, out);
  checkLockWords(mem, out);
  checkFutexQueue(mem, out);
}
