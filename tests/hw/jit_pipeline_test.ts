/**
 * The translator's stages one by one (src/hw/jit): the wasm writer,
 * discover, lay out blocks, emit, and the shared state (code generations,
 * marks, the product arena).
 */

import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, T0, ZERO } from "./_asm.ts";
import { CODEGEN_MARK, ENTRY_SET_WORDS, JITH } from "../../src/abi/layout/jit.ts";
import {
  classify,
  discover,
  FRAME_WORDS,
  K_AMO,
  K_BRANCH,
  K_JAL,
  K_JALR,
  K_LOAD,
  K_LR,
  K_OP,
  K_SC,
  K_STORE,
  K_TIER0,
} from "../../src/hw/jit/discover.ts";
import { layOutBlocks } from "../../src/hw/jit/blocks.ts";
import { emitFrame } from "../../src/hw/jit/emit.ts";
import { emitDispatcher } from "../../src/hw/jit/dispatch.ts";
import { findProduct, publishProduct } from "../../src/hw/jit/cache.ts";
import { addEntry } from "../../src/hw/jit/entries.ts";
import { codeFrameReused, codeWritten, JitShared } from "../../src/hw/jit/shared.ts";
import { I32, OP, WasmBuf, wasmModule } from "../../src/hw/jit/wasm.ts";

/** A frame of `words` followed by zeros (illegal instructions). */
function frameOf(words: ArrayLike<number>): Int32Array {
  const f = new Int32Array(FRAME_WORDS);
  for (let i = 0; i < words.length; i++) f[i] = words[i]!;
  return f;
}

Deno.test("WasmBuf.u32() and s32() write LEB128 as the spec's examples", () => {
  const cases: [number, boolean, number[]][] = [
    [0, false, [0]],
    [127, false, [0x7f]],
    [128, false, [0x80, 0x01]],
    [624485, false, [0xe5, 0x8e, 0x26]],
    [0xffffffff, false, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    [-1, true, [0x7f]],
    [63, true, [0x3f]],
    [64, true, [0xc0, 0x00]],
    [-64, true, [0x40]],
    [-65, true, [0xbf, 0x7f]],
    [-123456, true, [0xc0, 0xbb, 0x78]],
    [-0x80000000, true, [0x80, 0x80, 0x80, 0x80, 0x78]],
  ];
  for (const [v, signed, want] of cases) {
    const b = new WasmBuf(1);
    if (signed) b.s32(v);
    else b.u32(v);
    assert.deepEqual([...b.view()], want, `${signed ? "s" : "u"}32(${v})`);
  }
});

Deno.test("wasmModule() frames a module that imports two memories and runs", () => {
  // run(a, b, c) = mem1[0] + mem0[a] + b - c
  const body = new WasmBuf();
  body.i32Const(0).mem(OP.i32Load, 2, 1).localGet(0).mem(OP.i32Load, 2, 0).op(OP.i32Add);
  body.localGet(1).op(OP.i32Add).localGet(2).op(OP.i32Sub).end();
  const bytes = wasmModule({
    types: [{ params: [I32, I32, I32], results: [I32] }],
    funcImports: [],
    memImports: [
      { module: "env", field: "phys", min: 0, max: 65536, shared: true },
      { module: "env", field: "state", min: 1 },
    ],
    funcType: 0,
    locals: [],
    body,
    exportName: "run",
  });
  assert.ok(WebAssembly.validate(bytes));
  const phys = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const state = new WebAssembly.Memory({ initial: 1 });
  new Int32Array(phys.buffer)[2] = 1000;
  new Int32Array(state.buffer)[0] = 5;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { phys, state } });
  const run = inst.exports.run as (a: number, b: number, c: number) => number;
  assert.equal(run(8, 30, 4), 1031);
});

Deno.test("classify() sorts instructions as the interpreter decodes them", () => {
  const cases: [number, number][] = [
    [A.addi(A0, A0, 1), K_OP],
    [A.lui(A0, 1), K_OP],
    [A.auipc(A0, 1), K_OP],
    [A.mulh(A0, A1, T0), K_OP],
    [A.fence(), K_OP],
    [A.fenceI(), K_TIER0],
    [A.lw(A0, A1, 0), K_LOAD],
    [A.lhu(A0, A1, 0), K_LOAD],
    [A.sb(A0, A1, 0), K_STORE],
    [A.amoaddW(A0, A1, T0), K_AMO],
    [A.lrW(A0, A1), K_LR],
    [A.scW(A0, A1, T0), K_SC],
    [A.beq(A0, A1, 8), K_BRANCH],
    [A.jal(ZERO, 8), K_JAL],
    [A.jalr(ZERO, A0, 0), K_JALR],
    [A.ecall(), K_TIER0],
    [A.ebreak(), K_TIER0],
    [A.csrr(A0, A.CSR_CYCLE), K_TIER0],
    [0, K_TIER0], // all zeros: illegal
    [A.lw(A0, A1, 0) | (3 << 12), K_TIER0], // ld: not RV32
    [A.add(A0, A1, T0) | (0x10 << 25), K_TIER0], // bad funct7
    [A.slli(A0, A1, 3) | (1 << 25), K_TIER0], // slli with shamt[5]
    [A.lrW(A0, A1) | (5 << 20), K_TIER0], // lr.w with rs2 != 0
    [A.jalr(ZERO, A0, 0) | (1 << 12), K_TIER0], // jalr with funct3 != 0
  ];
  for (const [insn, k] of cases) assert.equal(classify(insn | 0, 0), k, insn.toString(16));
  // A jal whose target is not word-aligned traps: the interpreter runs it.
  assert.equal(classify(A.jal(ZERO, 6) | 0, 0), K_TIER0);
});

Deno.test("discover() marks word 0, branch targets and the words after block ends as leaders", () => {
  const p = new A.Program();
  p.emit(A.addi(A0, ZERO, 3)); // 0
  p.label("loop").emit(A.addi(A0, A0, -1)); // 1
  p.branch((o) => A.bne(A0, ZERO, o), "loop"); // 2
  p.emit(A.addi(A1, ZERO, 1)); // 3
  p.emit(A.ecall()); // 4
  p.emit(A.addi(A1, A1, 1)); // 5
  p.branch((o) => A.jal(ZERO, o), "end"); // 6
  p.emit(A.addi(A1, A1, 1)); // 7
  p.label("end").emit(A.jalr(ZERO, 1, 0)); // 8
  const code = discover(frameOf(p.assemble()));
  const leaders = [...code.leader.subarray(0, 10)].flatMap((b, i) => (b ? [i] : []));
  assert.deepEqual(leaders, [0, 1, 3, 5, 7, 8, 9]);
  const layout = layOutBlocks(code);
  const spans = layout.blocks.slice(0, 6).map((b) => [b.start, b.end, b.selfLoop]);
  assert.deepEqual(spans, [
    [0, 1, false],
    [1, 3, true], // the bne goes back to its own block's start
    [3, 5, false],
    [5, 7, false],
    [7, 8, false],
    [8, 9, false],
  ]);
  assert.equal(layout.blockAt[1], 1);
  assert.equal(layout.blockAt[2], -1);
  assert.equal((layout.reads >>> A0) & 1, 1);
  assert.equal((layout.writes >>> A1) & 1, 1);
  assert.equal(layout.reads & 1, 0, "x0 is never loaded");
});

Deno.test("discover() marks the word after a nop as a leader: PLT entries and padded functions", () => {
  const T1 = 6, T3 = A.T3;
  const plt = (
    n: number,
  ) => [A.auipc(T3, n), A.lw(T3, T3, 0), A.jalr(T1, T3, 0), A.addi(ZERO, ZERO, 0)];
  const words = [
    ...plt(1), // 0-3: a PLT entry, reached only through an indirect call
    ...plt(2), // 4-7: the next one
    A.addi(A0, A0, 1), // 8: straight-line code
    A.addi(A0, A0, 1), // 9
  ];
  const code = discover(frameOf(Uint32Array.from(words)));
  const leaders = [...code.leader.subarray(0, 10)].flatMap((b, i) => (b ? [i] : []));
  // 3 and 7 follow a jalr; 4 and 8 follow a nop; 1, 2, 5, 6 and 9 are mid-block.
  assert.deepEqual(leaders, [0, 3, 4, 7, 8]);
});

Deno.test("emitFrame() output validates for a frame of every instruction class and for random words", () => {
  const p = new A.Program();
  p.emit(A.lui(A0, 0x12345), A.auipc(A1, 3), A.mul(A0, A0, A1), A.div(A0, A0, A1));
  p.emit(A.rem(A0, A0, A1), A.mulhsu(A0, A0, A1), A.lw(T0, A0, 4), A.sh(T0, A0, -2));
  p.emit(A.amomaxuW(A0, A1, T0), A.lrW(A0, T0), A.scW(A1, A0, T0), A.fence(), A.fenceI());
  p.emit(A.beq(A0, A1, -8), A.jal(1, 4000), A.jalr(1, A0, 12), A.csrr(A0, A.CSR_INSTRET));
  const code = discover(frameOf(p.assemble()));
  assert.ok(WebAssembly.validate(emitFrame(code, layOutBlocks(code), { tlbEntries: 256 })));
  // Data read as code must still give a valid module.
  let s = 12345;
  for (let round = 0; round < 20; round++) {
    const words = new Int32Array(FRAME_WORDS);
    for (let i = 0; i < FRAME_WORDS; i++) {
      s = (Math.imul(s, 1103515245) + 12345) | 0;
      words[i] = s;
    }
    const c = discover(words);
    const bytes = emitFrame(c, layOutBlocks(c), { tlbEntries: 64 });
    assert.ok(WebAssembly.validate(bytes), `random frame ${round}`);
  }
});

Deno.test("emitDispatcher() output validates", () => {
  assert.ok(WebAssembly.validate(emitDispatcher(256, 64)));
  assert.ok(WebAssembly.validate(emitDispatcher(1, 1 << 20)));
});

Deno.test("JitShared.markCode() marks once and bumps the epoch; noteChange() kills a marked frame only", () => {
  const j = JitShared.create(8, { arenaBytes: 0 });
  const g0 = j.genWord(3);
  assert.equal(g0 & CODEGEN_MARK, 0);
  assert.equal(j.noteChange(3), false, "an unmarked frame is left alone");
  assert.equal(j.genWord(3), g0);
  const e0 = j.markEpoch();
  const key = j.markCode(3);
  assert.equal(key, g0 | CODEGEN_MARK);
  assert.equal(j.markEpoch(), e0 + 1);
  assert.equal(j.markCode(3), key, "marking again changes nothing");
  assert.equal(j.markEpoch(), e0 + 1);
  assert.ok(j.isCode(3));
  assert.equal(j.noteChange(3), true);
  assert.ok(!j.isCode(3));
  assert.notEqual(j.genWord(3) | CODEGEN_MARK, key, "a new generation");
  assert.equal(j.counters().invalidations, 1);
  // The kernel hooks: a write range covers every frame it touches.
  j.markCode(1);
  j.markCode(2);
  j.markCode(5);
  codeWritten({ jit: j }, 4096 + 4000, 200); // frames 1 and 2
  assert.deepEqual([j.isCode(1), j.isCode(2), j.isCode(5)], [false, false, true]);
  codeFrameReused({ jit: j }, 5);
  assert.ok(!j.isCode(5));
  codeWritten({ jit: null }, 0, 4096); // a machine without the translator: nothing to do
});

Deno.test("JitShared.attach() sees the creator's words and refuses a foreign memory", () => {
  const j = JitShared.create(16, { mode: "eager", arenaBytes: 1 << 16 });
  const k = JitShared.attach(j.memory);
  assert.equal(k.mode, "eager");
  j.markCode(7);
  assert.ok(k.isCode(7));
  assert.throws(
    () => JitShared.attach(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })),
    /does not match/,
  );
});

Deno.test("publishProduct() and findProduct() share bytes only for the same frame, generation and source", () => {
  // One 64 KiB page of arena (the smallest): 9 records of this size fit.
  const j = JitShared.create(16, { arenaBytes: 1 });
  const words = frameOf([A.addi(A0, A0, 1)]);
  const wasm = new Uint8Array(3000).map((_, i) => i & 0xff);
  const set = (...ws: number[]) => {
    const e = new Int32Array(ENTRY_SET_WORDS);
    for (const w of ws) addEntry(e, w);
    return e;
  };
  const info = { entries: set(7, 300), rounds: 2 };
  const none = set();
  assert.ok(publishProduct(j, 2, 5, 256, words, wasm, info));
  assert.deepEqual(findProduct(j, 2, 5, 256, words, none), { wasm, ...info });
  assert.deepEqual(findProduct(j, 2, 5, 256, words, set(300))?.wasm, wasm, "covers the entries");
  assert.equal(findProduct(j, 2, 5, 256, words, set(7, 8)), null, "lacks a block at word 8");
  assert.equal(findProduct(j, 3, 5, 256, words, none), null, "another frame");
  assert.equal(findProduct(j, 2, 7, 256, words, none), null, "another generation");
  assert.equal(findProduct(j, 2, 5, 64, words, none), null, "another TLB size");
  const changed = words.slice();
  changed[100] = 1;
  assert.equal(
    findProduct(j, 2, 5, 256, changed, none),
    null,
    "the frame no longer holds the source",
  );
  // The ring wraps: the oldest record is overwritten and no longer found.
  for (let pfn = 3; pfn < 16; pfn++) assert.ok(publishProduct(j, pfn, 5, 256, words, wasm, info));
  assert.equal(findProduct(j, 2, 5, 256, words, none), null, "overwritten by a later epoch");
  assert.deepEqual(findProduct(j, 15, 5, 256, words, none)?.wasm, wasm);
  const big = new Uint8Array(1 << 16);
  assert.ok(!publishProduct(j, 1, 5, 256, words, big, info), "too big for the arena");
  assert.ok(j.i32[JITH.ring]! >>> 24 >= 1, "the epoch moved on");
});
