/**
 * Entry sets (src/hw/jit/entries.ts): a word that control reaches in the
 * middle of what the linear sweep sees as one block is recorded, and the
 * frame is translated again with a block there, so that it runs translated
 * instead of one instruction at a time; the set is shared with another
 * Worker (which then does not rediscover it) and forgotten at a bump of the
 * frame's generation; retranslation is bounded.
 */

import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, A2, A3, A7, RA, S1, T0, T1, T2, ZERO } from "./_asm.ts";
import { publishAsAnotherWorker, setup, TestMachine, TEXT_VA, URX } from "./_hart_machine.ts";
import { Hart, POLL_INTERVAL } from "../../src/hw/hart.ts";
import { EXIT_MISS } from "../../src/hw/hart_state.ts";
import { ENTRY_SET_WORDS } from "../../src/abi/layout/jit.ts";
import { hasEntry, readEntries, recordEntry } from "../../src/hw/jit/entries.ts";
import {
  COLD_SAMPLE,
  type JitLocalStats,
  JitRuntime,
  MAX_ROUNDS,
} from "../../src/hw/jit/runtime.ts";

const WATCHDOG_MS = 60_000;

/** Where the called straight-line run starts, in words: after the padding, so no leader precedes it. */
const RUN = 64;

/**
 * A loop that calls, `n` times, through a register, into the middle of a
 * straight-line run (words RUN.. end with a return): the sweep sees the run
 * as one block starting after the exit's ecall, so each target in `mids`
 * (word offsets into the run) is an arrival between leaders. It exits with
 * a checksum.
 */
function midCallProgram(n: number, mids: number[]): Uint32Array {
  const p = new A.Program();
  p.emit(...A.li(T0, n), A.addi(A0, ZERO, 0), A.addi(A1, ZERO, 0));
  p.label("top");
  for (const mid of mids) p.emit(...A.li(S1, TEXT_VA + (RUN + mid) * 4), A.jalr(RA, S1, 0));
  return finish(p);
}

/** The loop's end, the exit, the padding and the straight-line run at RUN. */
function finish(p: A.Program): Uint32Array {
  p.emit(A.addi(T0, T0, -1)).branch((o) => A.bne(T0, ZERO, o), "top");
  p.emit(A.andi(A0, A0, 0x7f), A.addi(A7, ZERO, 93), A.ecall());
  if (p.words.length > RUN) throw new Error("midCallProgram: the loop runs into the run");
  while (p.words.length < RUN) p.emit(A.addi(T2, T2, 1)); // never run: no nops, no leaders
  for (let k = 0; k < 24; k++) p.emit(A.addi(A0, A0, k + 1), A.xor(A1, A1, A0));
  p.emit(A.jalr(ZERO, RA, 0));
  return p.assemble();
}

/**
 * Like midCallProgram, but iteration t (counting down from 32) calls word
 * RUN + 1 + 3 * ((t >> 1) & 15): each of 16 targets is arrived at twice in
 * a row, so each becomes a recorded entry only after the one before it was
 * retranslated for.
 */
function pairedCallProgram(): Uint32Array {
  const p = new A.Program();
  p.emit(...A.li(T0, 32), A.addi(A0, ZERO, 0), A.addi(A1, ZERO, 0));
  p.emit(...A.li(A3, TEXT_VA + (RUN + 1) * 4));
  p.label("top");
  p.emit(A.srli(T1, T0, 1), A.andi(T1, T1, 15), A.slli(A2, T1, 1), A.add(T1, T1, A2));
  p.emit(A.slli(T1, T1, 2), A.add(S1, A3, T1), A.jalr(RA, S1, 0));
  return finish(p);
}

/** Run to the exit on the interpreter and on tier 1 (eager), `budget` at a time; both must agree. */
function runBoth(words: Uint32Array, budget: number) {
  const i = setup(words, { jit: null }), j = setup(words, { jit: "eager" });
  for (const s of [i, j]) while (s.hart.run(budget) === "budget");
  assert.equal(j.env.exitCode, i.env.exitCode);
  assert.equal(j.hart.instret, i.hart.instret);
  assert.deepEqual([...j.hart.x], [...i.hart.x]);
  return j;
}

Deno.test("an entry in the middle of a straight-line run is recorded and then runs translated", () => {
  const N = 200, MID = 13;
  // Also exact against the interpreter when the budget cuts in anywhere.
  runBoth(midCallProgram(N, [MID]), 97);
  const j = runBoth(midCallProgram(N, [MID]), 1 << 30);
  const st = j.hart.jit!.stats;
  const sh = j.m.jitShared;
  // The first arrival is recorded and stepped; the second finds it recorded and retranslates.
  assert.equal(st.retranslated, 1, "one retranslation gave the entry a block");
  assert.equal(sh.counters().entryMisses, 2, "two arrivals without a block");
  assert.equal(sh.counters().retranslations, 1);
  // Stepping stops at the first arrival: the rest of the N calls run translated. (After each
  // poll the interpreter also runs up to the next block start: at most 2 runs a poll.)
  const polls = Math.ceil(j.hart.instret / POLL_INTERVAL);
  const stepped = j.hart.instret - st.instructions;
  const bound = 60 + polls * 100;
  assert.ok(stepped <= bound, `only the first call's run was stepped (${stepped} interpreted)`);
  assert.ok(j.hart.instret > 30 * N);
  // Between blocks (the first arrival, after a poll) the interpreter runs up to the next block
  // in one go: one miss each, not one an instruction.
  assert.ok(st.exits[EXIT_MISS] <= 2 + polls, `misses: ${st.exits[EXIT_MISS]}`);
  const set = new Int32Array(ENTRY_SET_WORDS);
  assert.ok(readEntries(sh, j.textPfn, sh.genWord(j.textPfn), set));
  assert.ok(hasEntry(set, RUN + MID), "the shared entry set holds the word");
});

Deno.test("retranslation for new entries is bounded by MAX_ROUNDS, and the code stays exact", () => {
  // Twice as many targets, found one after the other, as the bound allows retranslations for.
  runBoth(pairedCallProgram(), 61);
  const j = runBoth(pairedCallProgram(), 1 << 30);
  const st = j.hart.jit!.stats;
  assert.equal(st.retranslated, MAX_ROUNDS - 1, "the first translation and MAX_ROUNDS - 1 more");
  assert.ok(st.exits[EXIT_MISS] > 2 * MAX_ROUNDS, "the entries past the bound are stepped");
});

/** What the Worker (hart_amo_worker.ts) reports. */
interface WorkerResult {
  reason: string;
  exitCode: number;
  instret: number;
  jit: JitLocalStats | null;
}

/** Run the hart at TEXT_VA of `m` in a Worker of its own, under tier 1 on `m`'s translator memory. */
async function runInWorker(m: TestMachine): Promise<WorkerResult> {
  const gate = (m.allocFrame() * 4096) / 4;
  Atomics.store(m.m32, gate, 1); // the Worker waits for one partner: there is none
  const w = new Worker(new URL("./hart_amo_worker.ts", import.meta.url).href, { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const done = new Promise<WorkerResult>((resolve, reject) => {
      w.onmessage = (ev: MessageEvent<WorkerResult>) => resolve(ev.data);
      w.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("watchdog: the Worker hung")), WATCHDOG_MS);
    });
    w.postMessage({
      phys: m.physMemory,
      frames: m.frames,
      rootPfn: m.root,
      pc: TEXT_VA,
      budget: 1 << 30,
      gate,
      jit: { memory: m.jitShared.memory, mode: "eager" },
    });
    return await Promise.race([done, watchdog]);
  } finally {
    clearTimeout(timer);
    w.terminate();
  }
}

/** A hart env that ends the run at the first ecall, noting a0 in `out.code`. */
function exitEnv(out: { code: number }) {
  return {
    pageFault: () => false,
    ecall: (h: Hart) => {
      out.code = h.x[A0]!;
      return false;
    },
    trap: () => false,
    poll: () => true,
  };
}

/**
 * Run the hart at TEXT_VA of `m` to its exit on this thread, under a fresh
 * tier-1 runtime (`mode`, eager by default), or the interpreter alone (null).
 */
function runHere(m: TestMachine, mode: "eager" | "auto" | JitRuntime | null = "eager") {
  const out = { code: -1 };
  const rt = mode === null || mode instanceof JitRuntime ? mode : m.jitRuntime(mode);
  const h = new Hart(m.physMemory!, exitEnv(out), {
    rootPfn: m.root,
    pc: TEXT_VA,
    frames: m.frames,
    jit: rt,
  });
  assert.equal(h.run(1 << 30), "exit");
  return { rt: rt!, code: out.code, instret: h.instret };
}

/** The program in device frame 0 at TEXT_VA, run to its exit on this thread (tier 1). */
function firstProcess(words: Uint32Array) {
  const m = new TestMachine();
  const text = m.devicePfn(0);
  m.load(text, words);
  m.map(TEXT_VA, text, URX);
  const r = runHere(m);
  assert.equal(r.rt.stats.retranslated, 1);
  return { m, text, code: r.code, instret: r.instret };
}

Deno.test("another Worker that translates the frame itself starts a block at the recorded entry at once", async () => {
  const first = firstProcess(midCallProgram(100, [9]));
  const sh = first.m.jitShared;
  // No product to install: the second Worker must translate, from the shared entry set.
  Atomics.store(sh.i32, sh.layout.dir + first.text, 0);
  const r = await runInWorker(first.m);
  assert.equal(r.reason, "exit");
  assert.equal(r.exitCode, first.code);
  assert.equal(r.instret, first.instret);
  assert.equal(r.jit!.translated, 1);
  assert.equal(r.jit!.sharedInstalls, 0);
  assert.equal(r.jit!.exits[EXIT_MISS], 0, "no arrival without a block: nothing rediscovered");
  assert.equal(r.jit!.retranslated, 0);
  assert.equal(sh.counters().entryMisses, 2, "only the first process's two arrivals");
});

Deno.test("another Worker installs the product made with the entry, and misses nothing", async () => {
  const first = firstProcess(midCallProgram(100, [9]));
  const r = await runInWorker(first.m);
  assert.equal(r.exitCode, first.code);
  assert.equal(r.jit!.translated, 0);
  assert.equal(r.jit!.sharedInstalls, 1);
  assert.equal(r.jit!.exits[EXIT_MISS], 0);
  assert.equal(first.m.jitShared.counters().translations, 2, "the first process's two only");
});

Deno.test("a bump of the frame's generation forgets its entry set with its translations", () => {
  const first = firstProcess(midCallProgram(100, [9]));
  const sh = first.m.jitShared;
  const set = new Int32Array(ENTRY_SET_WORDS);
  const before = sh.genWord(first.text);
  assert.ok(readEntries(sh, first.text, before, set) && hasEntry(set, RUN + 9));
  assert.ok(sh.noteChange(first.text), "the frame was marked: a bump");
  const after = sh.genWord(first.text);
  assert.equal(readEntries(sh, first.text, after, new Int32Array(ENTRY_SET_WORDS)), false);
  // The next arrival takes the slot over for the new generation, without the old bits.
  assert.equal(recordEntry(sh, first.text, 5), false);
  const now = new Int32Array(ENTRY_SET_WORDS);
  assert.ok(readEntries(sh, first.text, after, now));
  assert.ok(hasEntry(now, 5) && !hasEntry(now, RUN + 9));
  // A process run after the bump finds the entry again and retranslates for it.
  const r = runHere(first.m);
  assert.equal(r.code, first.code);
  assert.equal(r.rt.stats.retranslated, 1, "the entry was rediscovered after the bump");
});

/** Where crossFrameCalls' loop calls frame B, in words. */
const MID = 13;

/**
 * Frame A (device frame 0, at TEXT_VA) calls, `n` times through a register,
 * into the middle of a straight-line run in frame B (device frame 1, the
 * next page): 15 instructions and two changes of fetch page a call.
 */
function crossFrameCalls(n: number) {
  const a = new A.Program();
  a.emit(...A.li(T0, n), A.addi(A0, ZERO, 0), A.addi(A1, ZERO, 0));
  a.emit(...A.li(S1, TEXT_VA + 4096 + MID * 4));
  a.label("top").emit(A.jalr(RA, S1, 0), A.addi(T0, T0, -1)).branch(
    (o) => A.bne(T0, ZERO, o),
    "top",
  );
  a.emit(A.andi(A0, A0, 0x7f), A.addi(A7, ZERO, 93), A.ecall());
  const b = new A.Program();
  for (let k = 0; k < 12; k++) b.emit(A.addi(A0, A0, k + 1), A.xor(A1, A1, A0));
  b.emit(A.jalr(ZERO, RA, 0));
  const m = new TestMachine();
  const [fa, fb] = [m.devicePfn(0), m.devicePfn(1)];
  m.load(fa, a.assemble());
  m.load(fb, b.assemble());
  m.map(TEXT_VA, fa, URX);
  m.map(TEXT_VA + 4096, fb, URX);
  return { m, fa, fb };
}

/** Count the calls of `rt.enter`. */
function countEnters(rt: JitRuntime): { calls: number } {
  const n = { calls: 0 };
  const enter = rt.enter.bind(rt);
  rt.enter = (...args) => {
    n.calls++;
    return enter(...args);
  };
  return n;
}

Deno.test("auto: a cold runtime is asked once per COLD_SAMPLE instructions; once it holds a translation, at every change of page", () => {
  const N = 20_000; // 300 k instructions, 40 k changes of page: far short of COLD_INSNS
  const { m, fa } = crossFrameCalls(N);
  const ref = runHere(m, null);
  const cold = m.jitRuntime("auto");
  const coldCalls = countEnters(cold);
  const r = runHere(m, cold);
  assert.equal(r.code, ref.code);
  assert.equal(r.instret, ref.instret);
  assert.equal(cold.stats.translated + cold.stats.sharedInstalls, 0, "cold: nothing translated");
  assert.ok(coldCalls.calls > 0, "sampled at all");
  assert.ok(
    coldCalls.calls <= Math.ceil(ref.instret / COLD_SAMPLE) + 1,
    `${coldCalls.calls} calls for ${ref.instret} instructions`,
  );
  // Frame A's product, published by another Worker, is installed on a sample: from then on the
  // runtime is warm, and every return from frame B (interpreted) to frame A asks it.
  publishAsAnotherWorker(m, fa, m.jitShared.markCode(fa));
  const warm = m.jitRuntime("auto");
  const warmCalls = countEnters(warm);
  const w = runHere(m, warm);
  assert.equal(w.code, ref.code);
  assert.equal(w.instret, ref.instret);
  assert.equal(warm.stats.sharedInstalls, 1);
  assert.equal(warm.stats.translated, 0);
  assert.ok(warmCalls.calls >= N - 2_000, `${warmCalls.calls} calls for ${N} returns to A`);
});

Deno.test("auto: tier 0 records the word it enters another frame at, and the first translation starts a block there", () => {
  const N = 720_000; // 15 instructions a call, 10.8 M in all: past COLD_INSNS
  const { m, fb } = crossFrameCalls(N);
  const { rt, code, instret } = runHere(m, "auto");
  assert.equal(rt.stats.translated, 2, "both frames, once each");
  assert.equal(rt.stats.retranslated, 0);
  assert.equal(rt.stats.exits[EXIT_MISS] <= Math.ceil(instret / POLL_INTERVAL), true);
  assert.equal(m.jitShared.counters().entryMisses, 0, "no arrival without a block");
  const set = new Int32Array(ENTRY_SET_WORDS);
  assert.ok(readEntries(m.jitShared, fb, m.jitShared.genWord(fb), set));
  assert.ok(hasEntry(set, MID), "tier 0's arrival is in the shared set");
  assert.ok(
    rt.stats.instructions > 0.05 * instret,
    "the calls after the translation ran translated",
  );
  // The interpreter alone gives the same result.
  const ref = runHere(m, null);
  assert.equal(ref.instret, instret);
  assert.equal(ref.code, code);
});
