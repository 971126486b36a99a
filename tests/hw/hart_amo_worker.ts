/**
 * Test Worker: runs one hart over a shared physical buffer until the guest
 * exits (ecall with a7 = 93), then posts the stop reason and counters.
 */
import { Hart, type HartEnv } from "../../src/hw/hart.ts";

interface Start {
  phys: SharedArrayBuffer;
  rootPfn: number;
  pc: number;
  budget: number;
  /** Word index in `phys` both Workers count on before starting, so they overlap. */
  gate: number;
}

/** The Worker global, typed without pulling in the deno.worker lib for the whole check. */
const port = self as unknown as {
  onmessage: ((ev: MessageEvent<Start>) => void) | null;
  postMessage(msg: unknown): void;
};

port.onmessage = (ev: MessageEvent<Start>) => {
  const { phys, rootPfn, pc, budget, gate } = ev.data;
  const m32 = new Int32Array(phys);
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
  const hart = new Hart(phys, env, { rootPfn, pc });
  // Start together: arrive, then spin until both have arrived.
  Atomics.add(m32, gate, 1);
  while (Atomics.load(m32, gate) < 2) { /* spin: the test's watchdog bounds this */ }
  const reason = hart.run(budget);
  port.postMessage({ reason, exitCode, instret: hart.instret, cause: hart.cause });
};
