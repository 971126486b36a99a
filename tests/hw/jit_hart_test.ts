/**
 * Tier 1 on one hart: translated code against the interpreter on the same
 * programs (registers, memory, pc, instret, traps), exact budgets, a fault at
 * every position of a block, self-modifying code with and without fence.i,
 * the debug check, and translations shared between runtimes.
 */

import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, A2, A3, A7, RA, S0, S1, S2, S3, T0, T1, T2, ZERO } from "./_asm.ts";
import {
  DATA_VA,
  publishAsAnotherWorker,
  setup,
  TestMachine,
  TEXT_VA,
  URW,
  URWX,
  URX,
} from "./_hart_machine.ts";
import { Hart } from "../../src/hw/hart.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import type { JitMode } from "../../src/hw/jit/runtime.ts";
import { claimFrame, frameClaimed, releaseFrame } from "../../src/hw/jit/cache.ts";

type Setup = ReturnType<typeof setup>;

/** The same program on the interpreter and on tier 1 ("eager"). */
function twins(words: ArrayLike<number>, opts: Parameters<typeof setup>[1] = {}): [Setup, Setup] {
  return [setup(words, { ...opts, jit: null }), setup(words, { ...opts, jit: "eager" })];
}

function state(s: Setup) {
  return {
    pc: s.hart.pc,
    x: [...s.hart.x],
    instret: s.hart.instret,
    cycle: s.hart.cycle,
    data: [...s.m.u8.subarray(s.dataPfn * 4096, s.dataPfn * 4096 + 64)],
  };
}

/** Seeded generator (mulberry32): failures print the seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A counted loop of ALU, M and memory work on the data page, then exit(a0). */
function loopProgram(n: number): number[] {
  const p = new A.Program();
  p.emit(...A.li(S0, DATA_VA), ...A.li(T0, n), A.addi(A0, ZERO, 1), A.addi(A1, ZERO, 7));
  p.label("top").emit(
    A.mul(A2, A0, A1),
    A.add(A0, A0, A2),
    A.andi(A3, A0, 0x3c),
    A.add(A3, A3, S0),
    A.lw(T1, A3, 0),
    A.xor(T1, T1, A0),
    A.sw(T1, A3, 0),
    A.divu(A1, A0, T0),
    A.addi(A1, A1, 3),
    A.addi(T0, T0, -1),
  ).branch((o) => A.bne(T0, ZERO, o), "top");
  p.emit(A.addi(A7, ZERO, 93), A.ecall());
  return [...p.assemble()];
}

Deno.test("tier 1 stops exactly at every budget: pc, registers and instret match the interpreter", () => {
  const [i, j] = twins(loopProgram(40));
  for (let b = 1; b <= 70; b++) {
    const ri = i.hart.run(b), rj = j.hart.run(b);
    assert.equal(rj, ri, `budget ${b}`);
    assert.deepEqual(state(j), state(i), `after run(${b})`);
  }
  assert.ok(j.hart.jit!.stats.instructions > 0, "tier 1 never ran");
  while (i.hart.run(1000) === "budget");
  while (j.hart.run(1000) === "budget");
  assert.deepEqual(state(j), state(i));
  assert.equal(j.env.exitCode, i.env.exitCode);
});

Deno.test("tier 1 takes a fault at every position of a block exactly where the interpreter does", () => {
  // One block of eight memory accesses, each on a page of its own.
  const PAGES = 8;
  const q = new A.Program();
  q.emit(A.addi(T0, ZERO, 0x55));
  q.emit(A.jal(ZERO, 4)); // the accesses start a block of their own
  const at: number[] = [];
  for (let k = 0; k < PAGES; k++) {
    const kind = k % 3;
    const imm = 4 * (k % 4);
    // lui+addi never fault; the access after them may.
    q.emit(...A.li(S2, DATA_VA + 0x10000 + k * 4096 - imm));
    at.push(q.words.length);
    q.emit(
      kind === 0 ? A.sw(T0, S2, imm) : kind === 1 ? A.lw(10 + k % 6, S2, imm) : A.lbu(S3, S2, imm),
    );
  }
  q.emit(A.addi(A7, ZERO, 93), A.ecall());
  for (let k = 0; k < PAGES; k++) {
    const runs = twins(q.assemble());
    // What tier 1 had retired when the fault reached the kernel: everything before the access.
    let retiredByJit = -1;
    for (const s of runs) {
      for (let m = 0; m < PAGES; m++) {
        if (m !== k) s.m.map(DATA_VA + 0x10000 + m * 4096, s.m.allocFrame(), URW);
      }
      // The fault handler maps the missing page and retries.
      s.env.onPageFault = (va) => {
        if (s.hart.jit) retiredByJit = s.hart.jit.stats.instructions;
        s.m.map(va & ~0xfff, s.m.allocFrame(), URW);
        return true;
      };
    }
    const [i, j] = runs;
    const ri = i.hart.run(10_000), rj = j.hart.run(10_000);
    assert.equal(rj, ri);
    assert.equal(j.env.traps.length, 1, `fault at access ${k}`);
    assert.deepEqual(j.env.traps, i.env.traps, `fault at access ${k}`);
    assert.equal(j.env.traps[0]!.pc, TEXT_VA + 4 * at[k]!, `the access at position ${k}`);
    assert.equal(retiredByJit, at[k], `tier 1 retired exactly the ${at[k]} instructions before it`);
    assert.deepEqual(state(j), state(i));
  }
});

Deno.test("tier 1 sees a store into the next instruction of the running page without fence.i", () => {
  const p = new A.Program();
  p.emit(...A.li(T0, 0), A.auipc(T0, 0)); // t0 = this pc
  p.emit(...A.li(T1, A.addi(A0, ZERO, 42)));
  p.emit(A.sw(T1, T0, 5 * 4)); // the word after the next
  p.emit(A.addi(ZERO, ZERO, 0));
  p.emit(A.addi(A0, ZERO, 1)); // replaced before it runs
  p.emit(A.addi(A7, ZERO, 93), A.ecall());
  for (const s of twins(p.assemble(), { hart: {} })) {
    s.m.map(TEXT_VA, s.textPfn, URWX);
    assert.equal(s.hart.run(1000), "exit");
    assert.equal(s.env.exitCode, 42, s.hart.jit ? "tier 1" : "interpreter");
  }
});

/** A program that calls `f` (at word `fAt`, maybe on the next page), patches it, fences, calls it again. */
function patchProgram(fAt: number, fence: boolean): Uint32Array {
  const p = new A.Program();
  p.emit(...A.li(S0, TEXT_VA + fAt * 4));
  p.emit(A.jalr(RA, S0, 0), A.addi(S1, A0, 0)); // s1 = f()
  p.emit(...A.li(T1, A.addi(A0, ZERO, 2)));
  p.emit(A.sw(T1, S0, 0)); // f now returns 2
  if (fence) p.emit(A.fenceI());
  p.emit(A.jalr(RA, S0, 0)); // a0 = f()
  p.emit(A.slli(S1, S1, 4), A.add(A0, A0, S1)); // exit(16 * first + second)
  p.emit(A.addi(A7, ZERO, 93), A.ecall());
  while (p.words.length < fAt) p.emit(A.addi(ZERO, ZERO, 0));
  p.emit(A.addi(A0, ZERO, 1), A.jalr(ZERO, RA, 0)); // f
  return p.assemble();
}

for (const [where, fAt] of [["the same page", 64], ["the next page", 1024 + 8]] as const) {
  for (const fence of [true, false]) {
    Deno.test(`tier 1 runs a function patched on ${where} ${fence ? "after fence.i" : "without fence.i"}`, () => {
      const words = patchProgram(fAt, fence);
      for (const s of twins(words.subarray(0, 1024))) {
        const next = s.m.allocFrame();
        s.m.load(next, words.subarray(1024));
        s.m.map(TEXT_VA, s.textPfn, URWX);
        s.m.map(TEXT_VA + 4096, next, URWX);
        assert.equal(s.hart.run(10_000), "exit");
        assert.equal(s.env.exitCode, 16 * 1 + 2, s.hart.jit ? "tier 1" : "interpreter");
      }
    });
  }
}

Deno.test("fence.i finds a frame whose bytes changed behind the marks, and the new code runs", () => {
  // A store that bypasses the marks (another hart's stale store TLB entry would): f changes
  // while its translation stays keyed to the same generation. fence.i must still see it.
  const p = new A.Program();
  p.emit(...A.li(S0, TEXT_VA + 4096));
  p.emit(A.jalr(RA, S0, 0), A.addi(S1, A0, 0));
  p.emit(A.addi(A7, ZERO, 64), A.ecall()); // a "syscall" in which the test rewrites f
  p.emit(A.fenceI(), A.jalr(RA, S0, 0));
  p.emit(A.slli(S1, S1, 4), A.add(A0, A0, S1), A.addi(A7, ZERO, 93), A.ecall());
  const s = setup(p.assemble(), { jit: "eager" });
  const f = s.m.allocFrame();
  s.m.load(f, [A.addi(A0, ZERO, 1), A.jalr(ZERO, RA, 0)]);
  s.m.map(TEXT_VA + 4096, f, URX);
  s.env.onEcall = (h) => {
    if (h.x[A7] === 64) {
      s.m.setWord(f, 0, A.addi(A0, ZERO, 3)); // no codeGen bump
      return true;
    }
    s.env.exitCode = h.x[A0]!;
    return false;
  };
  assert.equal(s.hart.run(10_000), "exit");
  assert.equal(s.env.exitCode, 16 + 3);
  assert.equal(s.hart.jit!.stats.fenceMismatches, 1);
});

Deno.test("the debug check panics when a frame's bytes change under its translation without a bump", () => {
  const p = new A.Program();
  p.emit(...A.li(S0, TEXT_VA + 4096));
  p.label("top").emit(A.jalr(RA, S0, 0));
  p.branch((o) => A.jal(ZERO, o), "top");
  const m = new TestMachine();
  const text = m.allocFrame(), f = m.allocFrame();
  m.load(text, p.assemble());
  m.load(f, [A.addi(A0, A0, 1), A.jalr(ZERO, RA, 0)]);
  m.map(TEXT_VA, text, URX);
  m.map(TEXT_VA + 4096, f, URX);
  const jit = m.jitRuntime("eager", { check: true });
  const env = { pageFault: () => false, ecall: () => false, trap: () => false, poll: () => true };
  const h = new Hart(m.physMemory!, env, { rootPfn: m.root, pc: TEXT_VA, frames: m.frames, jit });
  assert.equal(h.run(5000), "budget");
  m.setWord(f, 0, A.addi(A0, A0, 2));
  assert.throws(
    () => h.run(5000),
    (e) => e instanceof KernelPanic && /without a codeGen bump/.test(e.message),
  );
});

Deno.test("a second runtime installs a frame from the first one's product instead of translating it", () => {
  const m = new TestMachine();
  const text = m.devicePfn(0);
  m.load(text, loopProgram(500));
  m.map(TEXT_VA, text, URX);
  m.map(DATA_VA, m.allocFrame(), URW);
  const results: number[] = [];
  const stats = [];
  for (const mode of ["eager", "eager"] as JitMode[]) {
    let code = -1;
    const env = {
      pageFault: () => false,
      ecall: (h: Hart) => {
        code = h.x[A0]!;
        return false;
      },
      trap: () => false,
      poll: () => true,
    };
    const jit = m.jitRuntime(mode);
    const h = new Hart(m.physMemory!, env, { rootPfn: m.root, pc: TEXT_VA, frames: m.frames, jit });
    assert.equal(h.run(1_000_000), "exit");
    results.push(code);
    stats.push(jit.stats);
  }
  assert.equal(stats[0]!.translated, 1);
  assert.equal(stats[1]!.translated, 0);
  assert.equal(stats[1]!.sharedInstalls, 1);
  assert.equal(m.jitShared.counters().translations, 1);
});

/** The loop program on device text, a hart on `jit` (or the interpreter); its exit code once it exits. */
function claimRig(jit: JitMode | null, n = 3000) {
  const m = new TestMachine();
  const text = m.devicePfn(0);
  m.load(text, loopProgram(n));
  m.map(TEXT_VA, text, URX);
  m.map(DATA_VA, m.allocFrame(), URW);
  let code = -1;
  const env = {
    pageFault: () => false,
    ecall: (h: Hart) => {
      code = h.x[A0]!;
      return false;
    },
    trap: () => false,
    poll: () => true,
  };
  const rt = jit === null ? undefined : m.jitRuntime(jit);
  const h = new Hart(m.physMemory!, env, {
    rootPfn: m.root,
    pc: TEXT_VA,
    frames: m.frames,
    jit: rt,
  });
  return { m, text, h, rt: rt!, code: () => code };
}

Deno.test("a runtime interprets a frame another Worker is translating, then installs its product", () => {
  const ref = claimRig(null);
  assert.equal(ref.h.run(1_000_000), "exit");
  const r = claimRig("eager");
  const sh = r.m.jitShared;
  const gen = sh.markCode(r.text);
  assert.ok(claimFrame(sh, r.text, gen), "the other Worker's claim");
  assert.equal(r.h.run(5000), "budget");
  assert.equal(r.rt.stats.translated, 0, "no translation while the claim is held");
  assert.equal(r.rt.stats.entries, 0);
  assert.equal(r.rt.stats.claimWaits, 1);
  publishAsAnotherWorker(r.m, r.text, gen);
  releaseFrame(sh, r.text, gen);
  assert.equal(r.h.run(1_000_000), "exit");
  assert.equal(r.rt.stats.translated, 0);
  assert.equal(r.rt.stats.sharedInstalls, 1, "installed the published product");
  assert.ok(r.rt.stats.entries > 0);
  assert.equal(r.code(), ref.code());
  assert.equal(r.h.instret, ref.h.instret);
  assert.equal(sh.counters().translations, 0);
});

Deno.test("a claim whose holder never publishes is outwaited: the runtime translates after CLAIM_WAIT_MS", () => {
  const r = claimRig("eager");
  const sh = r.m.jitShared;
  const gen = sh.markCode(r.text);
  assert.ok(claimFrame(sh, r.text, gen), "a claim by a Worker that died");
  assert.equal(r.h.run(5000), "budget");
  assert.equal(r.rt.stats.translated, 0);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300); // past CLAIM_WAIT_MS
  assert.equal(r.h.run(1_000_000), "exit");
  assert.equal(r.rt.stats.translated, 1);
  assert.equal(frameClaimed(sh, r.text, gen), false, "the dead claim is cleared");
});

Deno.test("auto: a fresh runtime translates nothing itself until it has interpreted COLD_INSNS (10 M) instructions", () => {
  // About 33 k instructions in one hot frame: past the heat threshold, short of COLD_INSNS.
  const short = claimRig("auto", 3000);
  assert.equal(short.h.run(10_000_000), "exit");
  assert.equal(short.rt.stats.translated, 0, "the emitter stays cold for a short run");
  // A product another Worker published is installed at once: no emitter needed.
  const shared = claimRig("auto", 3000);
  const gen = shared.m.jitShared.markCode(shared.text);
  publishAsAnotherWorker(shared.m, shared.text, gen);
  assert.equal(shared.h.run(10_000_000), "exit");
  assert.equal(shared.rt.stats.sharedInstalls, 1);
  assert.equal(shared.code(), short.code());
  // About 11 M instructions: translated once the runtime has interpreted 10 M.
  const long = claimRig("auto", 1_000_000);
  assert.equal(long.h.run(20_000_000), "exit");
  assert.equal(long.rt.stats.translated, 1);
  assert.ok(long.rt.stats.instructions > 0 && long.rt.stats.instructions < 2_000_000);
  const ref = claimRig(null, 1_000_000);
  assert.equal(ref.h.run(20_000_000), "exit");
  assert.equal(long.code(), ref.code());
  assert.equal(long.h.instret, ref.h.instret);
});

Deno.test("tier 1 matches the interpreter on seeded random programs", () => {
  const seed = Number(Deno.env.get("JIT_SEED") ?? Date.now() % 1_000_000);
  const next = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[next() % a.length]!;
  const REGS = [A0, A1, A2, A3, T1, T2, S1, S3];
  const rops = [
    A.add,
    A.sub,
    A.sll,
    A.slt,
    A.sltu,
    A.xor,
    A.srl,
    A.sra,
    A.or,
    A.and,
    A.mul,
    A.mulh,
    A.mulhsu,
    A.mulhu,
    A.div,
    A.divu,
    A.rem,
    A.remu,
  ];
  for (let round = 0; round < 25; round++) {
    const p = new A.Program();
    p.emit(...A.li(S0, DATA_VA));
    for (const r of REGS) p.emit(...A.li(r, next() | 0));
    p.emit(...A.li(T0, 3 + (next() % 5))); // loop count
    p.label("top");
    let labels = 0;
    for (let n = 0; n < 40; n++) {
      const k = next() % 10;
      const rd = pick(REGS), rs1 = pick(REGS), rs2 = pick(REGS);
      if (k < 4) p.emit(pick(rops)(rd, rs1, rs2));
      else if (k < 5) p.emit(A.addi(rd, rs1, (next() % 4096) - 2048));
      else if (k < 6) p.emit(A.srai(rd, rs1, next() % 32), A.xori(rd, rd, next() % 2048));
      else if (k < 7) p.emit(A.andi(T2, rs1, 0x3c), A.add(T2, T2, S0), A.lw(rd, T2, 0));
      else if (k < 8) p.emit(A.andi(T2, rs1, 0x3f), A.add(T2, T2, S0), A.sb(rs2, T2, 1));
      else if (k < 9) {
        const l = `f${labels++}`;
        p.branch((o) => pick([A.beq, A.bne, A.blt, A.bge, A.bltu, A.bgeu])(rs1, rs2, o), l);
        p.emit(A.addi(rd, rd, 1), A.xor(rd, rd, rs1));
        p.label(l);
      } else p.emit(A.lui(rd, next() & 0xfffff), A.auipc(rs1, next() & 0xff));
    }
    p.emit(A.addi(T0, T0, -1)).branch((o) => A.bne(T0, ZERO, o), "top");
    p.emit(A.addi(A7, ZERO, 93), A.ecall());
    const [i, j] = twins(p.assemble());
    const budget = 1 + (next() % 300);
    for (;;) {
      const ri = i.hart.run(budget), rj = j.hart.run(budget);
      assert.equal(rj, ri, `seed ${seed} round ${round}`);
      assert.deepEqual(state(j), state(i), `seed ${seed} round ${round}`);
      if (ri !== "budget") break;
    }
  }
});
