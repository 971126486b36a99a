import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, A7, T0, T1, T2, T3, ZERO } from "./_asm.ts";
import { DATA_VA, TestMachine, TEXT_VA, URW, URX } from "./_hart_machine.ts";

const WATCHDOG_MS = 60_000;

interface Result {
  reason: string;
  exitCode: number;
  instret: number;
  cause: number;
  jit: { instructions: number } | null;
}

/**
 * The guest: n times { amoadd.w 1 on word 0 of the data page; an LR/SC
 * increment of word 1 }, then exit(0). Both kinds interleave in one loop so
 * the two harts contend on both words for the whole run.
 */
function incrementProgram(n: number): number[] {
  const p = new A.Program();
  p.emit(...A.li(T0, DATA_VA), ...A.li(T3, DATA_VA + 4), ...A.li(T1, n), A.addi(T2, ZERO, 1));
  p.label("top").emit(A.amoaddW(ZERO, T2, T0));
  p.label("lr").emit(A.lrW(A0, T3), A.addi(A0, A0, 1), A.scW(A1, A0, T3))
    .branch((o) => A.bne(A1, ZERO, o), "lr");
  p.emit(A.addi(T1, T1, -1)).branch((o) => A.bne(T1, ZERO, o), "top");
  p.emit(A.addi(A7, ZERO, 93), A.addi(A0, ZERO, 0), A.ecall());
  return [...p.assemble()];
}

for (const mode of [null, "eager"] as const) {
  Deno.test(`run() amoadd.w and lr.w/sc.w loops on 2 Workers over one phys buffer count exactly (${mode ?? "interpreter"})`, async () => {
    // No checkInvariants here: TestMachine is a bare phys buffer with a hand-built
    // page table and no kernel tables, so there is no kernel state to check.
    // Seeded iteration count, printed on failure so the run can be replayed.
    const seed = Number(Deno.env.get("HART_SEED") ?? (Date.now() % 100000));
    const n = 100_000 + (seed % 50_000);
    const m = new TestMachine(16, 4);
    const text = m.devicePfn(0); // text executes in place from the "device"
    m.load(text, incrementProgram(n));
    m.map(TEXT_VA, text, URX);
    const data = m.allocFrame();
    m.map(DATA_VA, data, URW);
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
        timer = setTimeout(
          () => reject(new Error(`watchdog: Workers hung (seed ${seed})`)),
          WATCHDOG_MS,
        );
      });
      const jit = mode === null ? undefined : { memory: m.jitShared.memory, mode };
      for (const w of workers) {
        w.postMessage({
          phys: m.physMemory,
          frames: m.frames,
          rootPfn: m.root,
          pc: TEXT_VA,
          budget: 100 * n,
          gate,
          jit,
        });
      }
      const results = await Promise.race([Promise.all(done), watchdog]);
      for (const r of results) {
        assert.equal(r.reason, "exit", `seed ${seed}: stopped with ${r.reason} cause ${r.cause}`);
        assert.equal(r.exitCode, 0);
      }
      assert.equal(m.word(data, 0), 2 * n, `amoadd total, seed ${seed}`);
      assert.equal(m.word(data, 4), 2 * n, `lr/sc total, seed ${seed}`);
      if (mode !== null) {
        for (const r of results) assert.ok(r.jit!.instructions > n, "tier 1 ran the loop");
      }
    } finally {
      clearTimeout(timer);
      for (const w of workers) w.terminate();
    }
  });
}
