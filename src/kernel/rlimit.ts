/**
 * Resource limits (Linux's signal_struct.rlim), reduced: the values a
 * process reports through prlimit64 (sys_info.ts). RLIMIT_NOFILE is not
 * here: it lives in the fd table, where open and dup enforce it.
 *
 * @module
 */

import { STACK_SIZE } from "./exec_stack.ts";

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_NLIMITS = 16;
/** RLIM_INFINITY as a 64-bit value. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** A process's limits other than RLIMIT_NOFILE: [soft, hard] per resource. */
export type Rlimits = [bigint, bigint][];

/** Linux's defaults for a root shell (INIT_RLIMITS), with the stack exec really gives. */
export function defaultRlimits(): Rlimits {
  const inf: [bigint, bigint] = [RLIM_INFINITY, RLIM_INFINITY];
  const r: Rlimits = Array.from({ length: RLIMIT_NLIMITS }, () => [...inf] as [bigint, bigint]);
  r[RLIMIT_STACK] = [BigInt(STACK_SIZE), RLIM_INFINITY];
  r[RLIMIT_CORE] = [0n, RLIM_INFINITY];
  r[RLIMIT_MEMLOCK] = [8n << 20n, 8n << 20n];
  r[11] = [4096n, 4096n]; // RLIMIT_SIGPENDING
  r[12] = [819200n, 819200n]; // RLIMIT_MSGQUEUE
  r[13] = [0n, 0n]; // RLIMIT_NICE
  r[14] = [0n, 0n]; // RLIMIT_RTPRIO
  return r;
}
