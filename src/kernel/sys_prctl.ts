/**
 * prctl(2), the options xip has (Linux's kernel/sys.c prctl, reduced):
 * PR_MCE_KILL and PR_MCE_KILL_GET, the memory-failure kill policy
 * (src/kernel/memory_failure.ts). Every other option is -EINVAL, as Linux
 * answers an option it does not know. Other groups add theirs to PRCTLS.
 *
 * @module
 */

import { EINVAL } from "../abi/errno.ts";
import { MCE_KILL_DEFAULT, MCE_KILL_EARLY, MCE_KILL_LATE } from "../abi/layout/mod.ts";
import * as nr from "../abi/syscall_nr.ts";
import { procGet, procSet } from "./proc.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";

export const PR_MCE_KILL = 33;
export const PR_MCE_KILL_GET = 34;
/** PR_MCE_KILL's arg2. */
export const PR_MCE_KILL_CLEAR = 0;
export const PR_MCE_KILL_SET = 1;
/** PR_MCE_KILL_SET's arg3, and what PR_MCE_KILL_GET returns. */
export const PR_MCE_KILL_LATE = 0;
export const PR_MCE_KILL_EARLY = 1;
export const PR_MCE_KILL_DEFAULT = 2;

/** An option's handler: the task and arg2..arg5; returns a0. */
export type PrctlFn = (t: Task, a2: number, a3: number, a4: number, a5: number) => number;

/**
 * PR_MCE_KILL: CLEAR (arg3 0) back to the system default; SET with LATE,
 * EARLY or DEFAULT. arg4 and arg5 must be 0.
 */
function mceKill(t: Task, how: number, policy: number, a4: number, a5: number): number {
  if (a4 !== 0 || a5 !== 0) return -EINVAL;
  if (how === PR_MCE_KILL_CLEAR) {
    if (policy !== 0) return -EINVAL;
    procSet(t.mem, t.slot, "mceKill", MCE_KILL_DEFAULT);
    return 0;
  }
  if (how !== PR_MCE_KILL_SET) return -EINVAL;
  const v = policy === PR_MCE_KILL_EARLY
    ? MCE_KILL_EARLY
    : policy === PR_MCE_KILL_LATE
    ? MCE_KILL_LATE
    : policy === PR_MCE_KILL_DEFAULT
    ? MCE_KILL_DEFAULT
    : -1;
  if (v < 0) return -EINVAL;
  procSet(t.mem, t.slot, "mceKill", v);
  return 0;
}

/** PR_MCE_KILL_GET: the policy, or PR_MCE_KILL_DEFAULT. arg2..arg5 must be 0. */
function mceKillGet(t: Task, a2: number, a3: number, a4: number, a5: number): number {
  if ((a2 | a3 | a4 | a5) !== 0) return -EINVAL;
  const v = procGet(t.mem, t.slot, "mceKill");
  return v === MCE_KILL_EARLY
    ? PR_MCE_KILL_EARLY
    : v === MCE_KILL_LATE
    ? PR_MCE_KILL_LATE
    : PR_MCE_KILL_DEFAULT;
}

/** Option → handler. */
export const PRCTLS: Map<number, PrctlFn> = new Map([
  [PR_MCE_KILL, mceKill],
  [PR_MCE_KILL_GET, mceKillGet],
]);

/** prctl(option, arg2, arg3, arg4, arg5). */
export function sysPrctl(t: Task, option: number, a2: number, a3: number, a4: number, a5: number) {
  const fn = PRCTLS.get(option);
  return fn === undefined ? -EINVAL : fn(t, a2, a3, a4, a5);
}

export const PRCTL_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_prctl, "prctl", ["int", "hex", "hex", "hex", "hex"], sysPrctl),
];
