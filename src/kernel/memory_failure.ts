/**
 * Memory failure, the kernel's side (Linux's mm/memory-failure.c:
 * memory_failure, kill_procs with PR_MCE_KILL's early kill, and
 * madvise_inject_error's entry): poison device blocks, take them out of
 * every process (src/fs/hwpoison.ts memoryFailure), and send SIGBUS with
 * BUS_MCEERR_AO at once to the processes that asked for early kill and
 * map a poisoned page. Every other process learns of the poison when it
 * touches the page: the fault raises SIGBUS with BUS_MCEERR_AR
 * (proc_run.ts), as Linux's default late kill.
 *
 * Where poison comes from: machine.poison(offset, len) and
 * `xip run --poison` (the firmware's address range scrub),
 * madvise(MADV_HWPOISON) from a guest, and the list saved in the image
 * (loaded at mount, src/fs/xipfs/xipfs_poison.ts).
 *
 * @module
 */

import { EINVAL } from "../abi/errno.ts";
import { MCE_KILL_EARLY, PROC_RUNNING } from "../abi/layout/mod.ts";
import { BUS_MCEERR_AO, SIGBUS, SIGINFO } from "../abi/signal.ts";
import { asTaskSlot, PAGE_SHIFT, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { memoryFailure, type PoisonVictim } from "../fs/hwpoison.ts";
import { setPoison } from "../fs/xipfs/xipfs_poison.ts";
import type { XipCtx } from "../fs/xipfs/xipfs_ctx.ts";
import { setMemoryFailureHook } from "../mm/madvise_hwpoison.ts";
import { procGet, procMm } from "./proc.ts";
import { faultInfo, sendToTask } from "./signal_send.ts";

/**
 * Early kill (kill_procs for PR_MCE_KILL_EARLY tasks): every task whose mm
 * maps a poisoned page and whose policy is early gets SIGBUS, BUS_MCEERR_AO,
 * si_addr the page's address in it, si_addr_lsb PAGE_SHIFT. Any thread; no
 * lock held.
 *
 * @returns the signals sent
 */
export function killEarly(mem: Memory, victims: readonly PoisonVictim[]): number {
  let sent = 0;
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const slot = asTaskSlot(i);
    if (procGet(mem, slot, "state") !== PROC_RUNNING) continue;
    if (procGet(mem, slot, "mceKill") !== MCE_KILL_EARLY) continue;
    const mm = procMm(mem, slot);
    const v = victims.find((x) => x.mm === mm);
    if (mm === 0 || v === undefined) continue;
    const info = faultInfo(SIGBUS, BUS_MCEERR_AO, v.va);
    info[SIGINFO.addrLsb / 4] = PAGE_SHIFT;
    if (sendToTask(mem, slot, SIGBUS, info) > 0) sent++;
  }
  return sent;
}

/**
 * Poison device blocks [first, first + n) and handle the failure of those
 * newly poisoned: unmap everywhere, early kill. Any thread; no lock held
 * (the madvise path holds its own mm's mmap_lock for reading, which the
 * unmap tolerates).
 *
 * @returns the blocks newly poisoned
 */
export function poisonBlocks(c: XipCtx, first: number, n: number): number {
  const changed = setPoison(c, first, n, true);
  killEarly(c.mem, memoryFailure(c, changed));
  return changed.length;
}

/**
 * machine.poison / `xip run --poison`: poison the device bytes
 * [offset, offset + len), every 4 KiB block they touch (a poisoned sector
 * poisons its page, as memory failure works on pages). Entry: no lock
 * held; takes what poisonBlocks takes.
 *
 * @returns the blocks newly poisoned, or -EINVAL for a range that is not
 *   inside the device
 */
export function poisonDeviceRange(c: XipCtx, offset: number, len: number): number {
  const bytes = c.mem.layout.config.deviceFrames * PAGE_SIZE;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0) {
    return -EINVAL;
  }
  if (offset + len > bytes) return -EINVAL;
  const first = Math.floor(offset / PAGE_SIZE);
  return poisonBlocks(c, first, Math.ceil((offset + len) / PAGE_SIZE) - first);
}

/**
 * Install this thread's madvise(MADV_HWPOISON) handler over the mounted
 * file system (the kernel's wiring does it in every thread). Entry: no
 * lock held; takes none (the handler takes what poisonBlocks takes).
 */
export function installMemoryFailure(c: XipCtx): void {
  setMemoryFailureHook((mem: Memory, pfns: readonly Pfn[]) => {
    const ram = mem.layout.config.ramFrames;
    for (const pfn of pfns) poisonBlocks(c, pfn - ram, 1);
    return 0;
  });
}
