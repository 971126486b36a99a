/**
 * TLB shootdown (docs/ARCHITECTURE.md §5). Each hart caches translations in a software
 * TLB private to its Worker; this module tells it when to drop them.
 *
 * Every task publishes three words in its TASK record (TASK_TLB): its mode
 * (idle, kernel, user), the mm it runs, and the mm TLB generation it has
 * flushed to. Code that clears or weakens PTEs of an mm calls flushTlbMm
 * *after* the PTE change: it bumps the mm's generation and waits until
 * every task that runs that mm in user mode has acknowledged the new
 * generation. A task in kernel or idle mode is not waited for: it cannot use
 * its TLB until enterUser, which compares generations and flushes first.
 *
 * Why this is enough (all accesses are sequentially consistent Atomics):
 * enterUser stores mode=user *before* it reads the mm's generation. If the
 * flusher read a mode other than user, that store comes later in the total
 * order, so enterUser's read sees the bumped generation and flushes. If the
 * flusher saw user mode, it waits for the ack, and the hart acks only a
 * generation it read *before* flushing, so no entry filled before the PTE
 * change survives an ack. Generations wrap; they are compared by signed
 * difference.
 *
 * The hart side: call tlbCheck (or tlbPoll / tlbCurrentGen / tlbAck) at a
 * bounded interval while in user mode (backward branches, traps), enterKernel
 * on a trap, enterUser before running user code again.
 *
 * @module
 */

import { MM, mmBase, TASK, TASK_LIVE, TASK_TLB, taskBase } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { type Memory } from "../hw/memory.ts";
import { asMmId, asTaskSlot, type MmId, type TaskSlot } from "../abi/types.ts";
import { noteWaitSleep } from "../sync/current.ts";

export const TLB_MODE_IDLE = 0;
export const TLB_MODE_KERNEL = 1;
export const TLB_MODE_USER = 2;

/** How long flushTlbMm waits for one task's ack before declaring it hung. */
export const TLB_ACK_TIMEOUT_MS = 10_000;
/** Spins on the ack word before the first Atomics.wait (a round trip costs ~37 µs). */
const ACK_SPIN = 200;
/** Each wait slice, so mode changes without a notify are seen promptly. */
const ACK_SLICE_MS = 1;

const tw = (mem: Memory, tid: TaskSlot, field: number): number => taskBase(mem.layout, tid) + field;
const mmGenWord = (mem: Memory, mm: MmId): number => mmBase(mem.layout, mm) + MM.tlbGen;

/**
 * Task `tid` now runs mm `mm` (0: none), in kernel mode; its TLB counts as
 * flushed to the mm's current generation. The caller (the hart's owner)
 * must empty its TLB as part of the switch, as a satp write does.
 */
export function switchMm(mem: Memory, tid: TaskSlot, mm: MmId | 0): void {
  const k32 = mem.k32;
  Atomics.store(k32, tw(mem, tid, TASK_TLB.mode), TLB_MODE_KERNEL);
  Atomics.store(k32, tw(mem, tid, TASK_TLB.mm), mm);
  const gen = mm === 0 ? 0 : Atomics.load(k32, mmGenWord(mem, mm));
  Atomics.store(k32, tw(mem, tid, TASK_TLB.gen), gen);
}

/** Task `tid` trapped into the kernel: flushers stop waiting for it. */
export function enterKernel(mem: Memory, tid: TaskSlot): void {
  const w = tw(mem, tid, TASK_TLB.mode);
  Atomics.store(mem.k32, w, TLB_MODE_KERNEL);
  Atomics.notify(mem.k32, tw(mem, tid, TASK_TLB.gen));
}

/** Task `tid` has nothing to run (parked in a wait, or exiting). */
export function enterIdle(mem: Memory, tid: TaskSlot): void {
  Atomics.store(mem.k32, tw(mem, tid, TASK_TLB.mode), TLB_MODE_IDLE);
  Atomics.notify(mem.k32, tw(mem, tid, TASK_TLB.gen));
}

/**
 * Task `tid` returns to user mode. Publishes the mode first, then calls
 * `flush` (which must empty the hart's TLB) if the mm's generation moved
 * since the last flush, and acknowledges it. Entry: no lock held.
 */
export function enterUser(mem: Memory, tid: TaskSlot, flush: () => void): void {
  Atomics.store(mem.k32, tw(mem, tid, TASK_TLB.mode), TLB_MODE_USER);
  tlbCheck(mem, tid, flush);
}

/** The mm generation task `tid` must reach; read it *before* flushing. */
export function tlbCurrentGen(mem: Memory, tid: TaskSlot): number {
  const mm = asMmId(Atomics.load(mem.k32, tw(mem, tid, TASK_TLB.mm)));
  return mm === 0 ? 0 : Atomics.load(mem.k32, mmGenWord(mem, mm));
}

/** True when task `tid`'s TLB may hold translations older than its mm's generation. */
export function tlbPoll(mem: Memory, tid: TaskSlot): boolean {
  return ((tlbCurrentGen(mem, tid) - Atomics.load(mem.k32, tw(mem, tid, TASK_TLB.gen))) | 0) > 0;
}

/**
 * Task `tid` has flushed its TLB after reading generation `gen` with
 * tlbCurrentGen: publish it and wake a waiting flusher.
 */
export function tlbAck(mem: Memory, tid: TaskSlot, gen: number): void {
  const w = tw(mem, tid, TASK_TLB.gen);
  Atomics.store(mem.k32, w, gen);
  Atomics.notify(mem.k32, w);
}

/** The hart's poll, done right: read the generation, flush if behind, ack. */
export function tlbCheck(mem: Memory, tid: TaskSlot, flush: () => void): void {
  const gen = tlbCurrentGen(mem, tid);
  if (((gen - Atomics.load(mem.k32, tw(mem, tid, TASK_TLB.gen))) | 0) <= 0) return;
  flush();
  tlbAck(mem, tid, gen);
}

/**
 * Make every earlier PTE change of mm `mm` visible to every hart: bump the
 * generation, then wait until each live task running `mm` in user mode has
 * acknowledged it. Call after clearing or weakening PTEs and before freeing
 * what they pointed to. Entry: any locks may be held (a task in user mode
 * holds none, so it cannot be waiting on them).
 *
 * @returns the new generation
 * @throws KernelPanic when a task neither acks nor leaves user mode for TLB_ACK_TIMEOUT_MS
 */
export function flushTlbMm(mem: Memory, mm: MmId): number {
  const k32 = mem.k32;
  const gen = Atomics.add(k32, mmGenWord(mem, mm), 1) + 1;
  const tasks = mem.layout.config.maxTasks;
  for (let i = 1; i < tasks; i++) waitForAck(mem, asTaskSlot(i), mm, gen);
  return gen;
}

/**
 * Whether task `tid` might still use a translation of `mm` older than
 * `gen`: the ack word's value to sleep on, or null when it cannot.
 */
function pendingAck(mem: Memory, tid: TaskSlot, mm: MmId, gen: number): number | null {
  const k32 = mem.k32;
  // Read the ack word first: sleeping on this value cannot miss an ack made after it.
  const seen = Atomics.load(k32, tw(mem, tid, TASK_TLB.gen));
  const waits = Atomics.load(k32, tw(mem, tid, TASK.state)) === TASK_LIVE &&
    Atomics.load(k32, tw(mem, tid, TASK_TLB.mode)) === TLB_MODE_USER &&
    Atomics.load(k32, tw(mem, tid, TASK_TLB.mm)) === mm &&
    ((seen - gen) | 0) < 0;
  return waits ? seen : null;
}

function waitForAck(mem: Memory, tid: TaskSlot, mm: MmId, gen: number): void {
  if (pendingAck(mem, tid, mm, gen) === null) return;
  for (let i = 0; i < ACK_SPIN; i++) if (pendingAck(mem, tid, mm, gen) === null) return;
  const w = tw(mem, tid, TASK_TLB.gen);
  const deadline = performance.now() + TLB_ACK_TIMEOUT_MS;
  for (
    let seen = pendingAck(mem, tid, mm, gen);
    seen !== null;
    seen = pendingAck(mem, tid, mm, gen)
  ) {
    if (performance.now() > deadline) {
      throw new KernelPanic("flushTlbMm", `task ${tid} did not ack generation ${gen} of mm ${mm}`);
    }
    // Slices, because a switch to kernel mode may come without a notify.
    noteWaitSleep();
    Atomics.wait(mem.k32, w, seen, ACK_SLICE_MS);
  }
}
