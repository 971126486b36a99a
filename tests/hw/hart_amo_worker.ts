/**
 * Test Worker: runs one hart over a shared physical memory until the guest
 * exits (ecall with a7 = 93), then posts the stop reason and counters. With
 * `jit`, the hart runs under tier 1 (src/hw/jit) on the machine's shared
 * translator memory.
 */
import { Hart, type HartEnv } from "../../src/hw/hart.ts";
import { type JitMode, JitRuntime } from "../../src/hw/jit/runtime.ts";
import { JitShared } from "../../src/hw/jit/shared.ts";

interface Start {
  phys: WebAssembly.Memory;
  frames: number;
  rootPfn: number;
  pc: number;
  budget: number;
  /** Word index in physical memory that both Workers count on before starting, so they overlap. */
  gate: number;
  /** Tier 1: the translator memory and the mode. */
  jit?: { memory: WebAssembly.Memory; mode: JitMode };
}

/** The Worker global, typed without pulling in the deno.worker lib for the whole check. */
const port = self as unknown as {
  onmessage: ((ev: MessageEvent<Start>) => void) | null;
  postMessage(msg: unknown): void;
};

port.onmessage = (ev: MessageEvent<Start>) => {
  const { phys, frames, rootPfn, pc, budget, gate } = ev.data;
  const m32 = new Int32Array(phys.buffer);
  let exitCode = -1;
  const env: HartEnv = {
    pageFault: () => false,
    ecall: (h) => {
      exitCode = h.x[10]!;
      return h.x[17] !== 93;
    },
    trap: () => false,
    poll: () => true,
  };
  const j = ev.data.jit;
  const jit = j ? new JitRuntime({ mode: j.mode, phys, shared: JitShared.attach(j.memory) }) : null;
  const hart = new Hart(phys, env, { rootPfn, pc, frames, jit });
  // Start together: arrive, then spin until both have arrived.
  Atomics.add(m32, gate, 1);
  while (Atomics.load(m32, gate) < 2) { /* spin: the test's watchdog bounds this */ }
  const reason = hart.run(budget);
  port.postMessage({
    reason,
    exitCode,
    instret: hart.instret,
    cause: hart.cause,
    jit: jit?.stats ?? null,
  });
};
