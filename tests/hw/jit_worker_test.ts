/**
 * Tier 1 across Workers: a hart rewrites code that another hart runs
 * translated, then the runner executes fence.i and must run the new code.
 */

import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A7, RA, S0, S1, T0, T1, ZERO } from "./_asm.ts";
import { TestMachine, URW, URX } from "./_hart_machine.ts";

const WATCHDOG_MS = 60_000;

const RUNNER_VA = 0x0001_0000; // the runner's text
const WRITER_VA = 0x0002_0000; // the writer's text
const F_VA = 0x0003_0000; // f, executable for the runner
const F_RW_VA = 0x0004_0000; // the same frame, writable for the writer
const FLAGS_VA = 0x0005_0000; // word 0: go, word 1: f ran once, word 2: f patched

interface Result {
  reason: string;
  exitCode: number;
  cause: number;
  jit: { instructions: number; fenceMismatches: number; translated: number } | null;
}

/** Spin until the word at FLAGS_VA + off is non-zero. */
function waitFlag(p: A.Program, off: number, label: string): void {
  p.label(label).emit(A.lw(T0, S1, off)).branch((o) => A.beq(T0, ZERO, o), label);
}

/** The runner: wait for go, call f, say so, wait for the patch, fence.i, exit(16 * first + second). */
function runner(fence: boolean): Uint32Array {
  const p = new A.Program();
  p.emit(...A.li(S0, F_VA), ...A.li(S1, FLAGS_VA));
  waitFlag(p, 0, "go");
  p.emit(A.jalr(RA, S0, 0), A.addi(S0 + 10, A0, 0)); // s10 = f()
  p.emit(A.addi(T1, ZERO, 1), A.sw(T1, S1, 4));
  waitFlag(p, 8, "patched");
  if (fence) p.emit(A.fenceI());
  p.emit(A.jalr(RA, S0, 0)); // a0 = f()
  p.emit(A.slli(T1, S0 + 10, 4), A.add(A0, A0, T1), A.addi(A7, ZERO, 93), A.ecall());
  return p.assemble();
}

/**
 * The writer: store to f's frame first (so its store TLB may hold the frame
 * from before the runner marks it), then go, wait until f ran, patch f, say so.
 */
function writer(): Uint32Array {
  const p = new A.Program();
  p.emit(...A.li(S0, F_RW_VA), ...A.li(S1, FLAGS_VA));
  p.emit(A.lw(T1, S0, 64), A.sw(T1, S0, 64)); // a store that changes nothing
  p.emit(A.addi(T1, ZERO, 1), A.sw(T1, S1, 0));
  waitFlag(p, 4, "ran");
  p.emit(...A.li(T1, A.addi(A0, ZERO, 2)), A.sw(T1, S0, 0));
  p.emit(A.addi(T1, ZERO, 1), A.sw(T1, S1, 8));
  p.emit(A.addi(A0, ZERO, 0), A.addi(A7, ZERO, 93), A.ecall());
  return p.assemble();
}

for (const mode of [null, "eager"] as const) {
  Deno.test(`a store from another Worker followed by fence.i runs the new code (${mode ?? "interpreter"})`, async () => {
    const m = new TestMachine(32, 4);
    const [rText, wText, f, flags] = [
      m.allocFrame(),
      m.allocFrame(),
      m.allocFrame(),
      m.allocFrame(),
    ];
    m.load(rText, runner(true));
    m.load(wText, writer());
    m.load(f, [A.addi(A0, ZERO, 1), A.jalr(ZERO, RA, 0)]);
    m.map(RUNNER_VA, rText, URX);
    m.map(WRITER_VA, wText, URX);
    m.map(F_VA, f, URX);
    m.map(F_RW_VA, f, URW);
    m.map(FLAGS_VA, flags, URW);
    const gate = (m.allocFrame() * 4096) / 4;
    const workers = [0, 1].map(() =>
      new Worker(new URL("./hart_amo_worker.ts", import.meta.url).href, { type: "module" })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const done = workers.map((w) =>
        new Promise<Result>((resolve, reject) => {
          w.onmessage = (ev: MessageEvent<Result>) => resolve(ev.data);
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
        })
      );
      const watchdog = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("watchdog: Workers hung")), WATCHDOG_MS);
      });
      const jit = mode === null ? undefined : { memory: m.jitShared.memory, mode };
      [RUNNER_VA, WRITER_VA].forEach((pc, i) =>
        workers[i]!.postMessage({
          phys: m.physMemory,
          frames: m.frames,
          rootPfn: m.root,
          pc,
          budget: 1 << 30,
          gate,
          jit,
        })
      );
      const [r, w] = await Promise.race([Promise.all(done), watchdog]);
      assert.equal(w!.reason, "exit");
      assert.equal(r!.reason, "exit", `runner stopped with cause ${r!.cause}`);
      assert.equal(r!.exitCode, 16 * 1 + 2, "f ran once before the patch and once after");
      if (mode !== null) assert.ok(r!.jit!.translated >= 2, "the runner ran f translated");
    } finally {
      clearTimeout(timer);
      for (const w of workers) w.terminate();
    }
  });
}
