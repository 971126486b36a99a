/**
 * The OOM killer (Linux's mm/oom_kill.c, reduced): what a process does when
 * a page fault finds no frame even after direct reclaim emptied what the
 * page cache could give. As in Linux, the faulting process is not simply
 * the one that dies: the process holding the most RAM is chosen, SIGKILLed,
 * and every faulting process waits for its memory and retries the access.
 * Only one victim is chosen at a time: while an earlier victim is still
 * dying (SIGKILL pending), its memory is on the way, and nobody else dies.
 * So when processes together need more frames than RAM, the big ones die
 * one by one and the rest run to the end, instead of every process that
 * happened to fault at that moment dying at once.
 *
 * Any thread that runs a process; no lock is taken: the choice reads
 * gauges with Atomics and may race with another faulter choosing at the
 * same moment (both then most likely pick the same process; at worst two
 * die, as two racing OOM kills could in Linux without oom_lock).
 *
 * @module
 */

import { MM } from "../abi/layout/mod.ts";
import type { Memory } from "../hw/memory.ts";
import { mmField } from "../mm/mm.ts";
import { PROC_EXITING, PROC_RUNNING, procGet, procMm } from "./proc.ts";
import { fatalSignalPending, sendSigkill } from "./signal_send.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

/** What outOfMemory decided for the faulting process. */
export const OOM_DIE = 0;
/** Another process is dying to free memory: wait a little and retry the access. */
export const OOM_RETRY = 1;

/** RAM frames a process would give back by dying: its anonymous pages and page tables. */
function badness(mem: Memory, slot: TaskSlot): number {
  const mm = procMm(mem, slot);
  if (mm === 0) return 0;
  return mmField(mem, mm, MM.rssAnon) + mmField(mem, mm, MM.ptFrames);
}

/**
 * The fault of the process in `self` (its slot) found no frame after
 * reclaim. If a process is already dying with SIGKILL, wait for it;
 * (or for one tearing down its mm); otherwise SIGKILL the process with the
 * largest badness (self included, ties going to self, so a lone process
 * just dies).
 * Entry: no lock held (call it after the fault returned).
 *
 * @returns OOM_DIE when `self` is the victim (it must exit with SIGKILL),
 *   OOM_RETRY when another process is dying to give memory back
 */
export function outOfMemory(mem: Memory, self: TaskSlot): number {
  let victim = self;
  let worst = badness(mem, self);
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const slot = asTaskSlot(i);
    if (slot === self) continue;
    const state = procGet(mem, slot, "state");
    const b = badness(mem, slot);
    // A victim still dying (SIGKILL pending, or tearing down with its mm not
    // yet released): its frames are on the way, nobody else needs to die.
    if (state === PROC_EXITING && procMm(mem, slot) !== 0) return OOM_RETRY;
    if (state !== PROC_RUNNING) continue;
    if (fatalSignalPending(mem, slot)) {
      if (b > 0) return OOM_RETRY;
      continue;
    }
    if (b > worst) [victim, worst] = [slot, b];
  }
  if (victim === self) return OOM_DIE;
  sendSigkill(mem, victim);
  return OOM_RETRY;
}
