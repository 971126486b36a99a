/**
 * The tier-1 runtime of this Worker (src/hw/jit/runtime.ts): one a Worker
 * and machine, made at the first process that needs it and kept, so the
 * next process this Worker runs starts with every translation whose frame
 * did not change (the text of a program run again, from the device or the
 * page cache).
 *
 * @module
 */

import type { Memory } from "../hw/memory.ts";
import { JitRuntime } from "../hw/jit/runtime.ts";
import type { JitShared } from "../hw/jit/shared.ts";
import { DEBUG_JITCHECK, debugFlags } from "../sync/debug.ts";

const runtimes = new WeakMap<JitShared, JitRuntime>();

/**
 * The runtime a hart of `mem`'s machine binds to in this thread, or null
 * when the machine does not translate. Reads DEBUG_JITCHECK now, so the
 * switch applies from the next process on.
 */
export function processJit(mem: Memory): JitRuntime | null {
  const shared = mem.jit;
  if (shared === null || mem.physMemory === null) return null;
  let rt = runtimes.get(shared);
  if (rt === undefined) {
    rt = new JitRuntime({
      mode: shared.mode,
      phys: mem.physMemory,
      shared,
      hotInsns: shared.hotInsns,
    });
    runtimes.set(shared, rt);
  }
  rt.check = (debugFlags(mem.k32) & DEBUG_JITCHECK) !== 0;
  return rt;
}

/** Machine.boot's `jit` option. */
export type JitOption = "off" | "auto" | "eager";

/** The default when Machine.boot is given no `jit`. */
export const JIT_DEFAULT: JitOption = "auto";

function envText(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission: the built-in default
  }
}

/**
 * The tier-1 mode of a machine: the boot option, else XIP_JIT (off, auto or
 * eager: how the test suites run everything under both tiers), else
 * JIT_DEFAULT.
 *
 * @throws RangeError for an XIP_JIT that is none of those
 */
export function jitBootMode(option: JitOption | undefined): JitOption {
  if (option !== undefined) return option;
  const env = envText("XIP_JIT");
  if (env === undefined || env === "") return JIT_DEFAULT;
  if (env === "off" || env === "auto" || env === "eager") return env;
  throw new RangeError(`XIP_JIT must be off, auto or eager (got "${env}")`);
}

/** Whether to turn DEBUG_JITCHECK on at boot: the option, else XIP_JIT_CHECK=1. */
export function jitBootCheck(option: boolean | undefined): boolean {
  return option ?? envText("XIP_JIT_CHECK") === "1";
}
