import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, A2, A3, A4, A7, RA, T0, T1, ZERO } from "./_asm.ts";
import { DATA_VA, setup, TEXT_VA, URX } from "./_hart_machine.ts";

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/** Run `words` with registers preset (a7 = 93 so ecall exits) and return the machine. */
function runProg(words: number[], regs: Record<number, number> = {}, budget = 1000) {
  const s = setup(words);
  s.hart.x[A7] = 93;
  for (const [r, v] of Object.entries(regs)) s.hart.x[Number(r)] = v;
  const reason = s.hart.run(budget);
  return { ...s, reason };
}

// ---------------------------------------------------------------------------
// Register-register and M extension.

type Rop = (rd: number, rs1: number, rs2: number) => number;
const ROPS: [string, Rop, number, number, number][] = [
  ["add", A.add, 1, 2, 3],
  ["add", A.add, INT_MAX, 1, INT_MIN],
  ["sub", A.sub, 0, 1, -1],
  ["sub", A.sub, INT_MIN, 1, INT_MAX],
  ["sll", A.sll, 1, 31, INT_MIN],
  ["sll", A.sll, 1, 32, 1], // only the low 5 bits of rs2 count
  ["slt", A.slt, -1, 1, 1],
  ["slt", A.slt, 1, -1, 0],
  ["slt", A.slt, 5, 5, 0],
  ["sltu", A.sltu, -1, 1, 0],
  ["sltu", A.sltu, 1, -1, 1],
  ["xor", A.xor, 0x0ff0, 0x00ff, 0x0f0f],
  ["srl", A.srl, INT_MIN, 31, 1],
  ["srl", A.srl, -1, 0, -1],
  ["srl", A.srl, -1, 31, 1],
  ["sra", A.sra, INT_MIN, 31, -1],
  ["sra", A.sra, -16, 2, -4],
  ["or", A.or, 0x0ff0, 0x00ff, 0x0fff],
  ["and", A.and, 0x0ff0, 0x00ff, 0x00f0],
  ["mul", A.mul, -3, 7, -21],
  ["mul", A.mul, 0x10000, 0x10000, 0],
  ["mul", A.mul, INT_MIN, -1, INT_MIN],
  ["mulh", A.mulh, -1, -1, 0],
  ["mulh", A.mulh, INT_MIN, INT_MIN, 0x40000000],
  ["mulh", A.mulh, -1, 1, -1],
  ["mulh", A.mulh, INT_MAX, INT_MAX, 0x3fffffff],
  ["mulh", A.mulh, INT_MIN, INT_MAX, -0x40000000],
  ["mulhsu", A.mulhsu, -1, -1, -1], // -1 * 0xffffffff
  ["mulhsu", A.mulhsu, INT_MIN, -1, INT_MIN],
  ["mulhsu", A.mulhsu, 2, -1, 1],
  ["mulhu", A.mulhu, -1, -1, -2],
  ["mulhu", A.mulhu, 0x10000, 0x10000, 1],
  ["mulhu", A.mulhu, INT_MIN, 2, 1],
  ["div", A.div, 7, -2, -3],
  ["div", A.div, -7, 2, -3],
  ["div", A.div, 42, 0, -1],
  ["div", A.div, INT_MIN, -1, INT_MIN],
  ["div", A.div, INT_MIN, 1, INT_MIN],
  ["divu", A.divu, -1, 2, INT_MAX],
  ["divu", A.divu, 42, 0, -1],
  ["divu", A.divu, INT_MIN, -1, 0],
  ["rem", A.rem, -7, 2, -1],
  ["rem", A.rem, 7, -2, 1],
  ["rem", A.rem, 42, 0, 42],
  ["rem", A.rem, -42, 0, -42],
  ["rem", A.rem, INT_MIN, -1, 0],
  ["remu", A.remu, -1, 10, 5],
  ["remu", A.remu, -42, 0, -42],
];

for (const [name, enc, a, b, want] of ROPS) {
  Deno.test(`run() ${name} gives ${want} when rs1=${a}, rs2=${b}`, () => {
    const { hart, reason } = runProg([enc(A0, A1, A2), A.ecall()], { [A1]: a, [A2]: b });
    assert.equal(reason, "exit");
    assert.equal(hart.x[A0], want);
  });
}

/** A seeded generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) | 0;
  };
}

Deno.test("run() mulh/mulhsu/mulhu/div/rem match a BigInt reference on random operands", () => {
  const seed = Date.now() & 0xffff;
  const next = rng(seed);
  const hi = (p: bigint) => Number(BigInt.asIntN(32, p >> 32n));
  const specials = [0, 1, -1, INT_MIN, INT_MAX, 0x10000, -0x10000];
  const words = [
    A.mulh(10, 11, 12),
    A.mulhsu(13, 11, 12),
    A.mulhu(14, 11, 12),
    A.div(15, 11, 12),
    A.rem(16, 11, 12),
    A.mul(18, 11, 12),
    A.ecall(),
  ];
  for (let k = 0; k < 400; k++) {
    const a = k < 49 ? specials[k % 7]! : next();
    const b = k < 49 ? specials[Math.floor(k / 7)]! : next();
    const { hart } = runProg(words, { [A1]: a, [A2]: b });
    const sa = BigInt(a), sb = BigInt(b), ua = BigInt(a >>> 0), ub = BigInt(b >>> 0);
    const msg = `seed ${seed} a=${a} b=${b}`;
    assert.equal(hart.x[10], hi(sa * sb), `mulh ${msg}`);
    assert.equal(hart.x[13], hi(sa * ub), `mulhsu ${msg}`);
    assert.equal(hart.x[14], hi(ua * ub), `mulhu ${msg}`);
    assert.equal(hart.x[18], Number(BigInt.asIntN(32, sa * sb)), `mul ${msg}`);
    if (b !== 0 && !(a === INT_MIN && b === -1)) {
      assert.equal(hart.x[15], Number(BigInt.asIntN(32, sa / sb)), `div ${msg}`);
      assert.equal(hart.x[16], Number(BigInt.asIntN(32, sa % sb)), `rem ${msg}`);
    }
  }
});

// ---------------------------------------------------------------------------
// Register-immediate.

type Iop = (rd: number, rs1: number, imm: number) => number;
const IOPS: [string, Iop, number, number, number][] = [
  ["addi", A.addi, 5, -6, -1],
  ["addi", A.addi, INT_MAX, 1, INT_MIN],
  ["slti", A.slti, -1, 0, 1],
  ["slti", A.slti, 0, -1, 0],
  ["sltiu", A.sltiu, 5, -1, 1], // imm -1 compares as 0xffffffff
  ["sltiu", A.sltiu, -1, 5, 0],
  ["xori", A.xori, 0x5a5, -1, ~0x5a5],
  ["ori", A.ori, 0x100, 0x0ff, 0x1ff],
  ["andi", A.andi, -1, 0x7ff, 0x7ff],
  ["andi", A.andi, -1, -2048, -2048],
  ["slli", A.slli, 1, 31, INT_MIN],
  ["slli", A.slli, 3, 0, 3],
  ["srli", A.srli, INT_MIN, 31, 1],
  ["srli", A.srli, -1, 1, INT_MAX],
  ["srai", A.srai, INT_MIN, 31, -1],
  ["srai", A.srai, 0x40000000, 30, 1],
];

for (const [name, enc, a, imm, want] of IOPS) {
  Deno.test(`run() ${name} gives ${want} when rs1=${a}, imm=${imm}`, () => {
    const { hart } = runProg([enc(A0, A1, imm), A.ecall()], { [A1]: a });
    assert.equal(hart.x[A0], want);
  });
}

Deno.test("run() lui and auipc build upper immediates relative to 0 and pc", () => {
  const { hart } = runProg([A.lui(A0, 0x12345), A.auipc(A1, 1), A.auipc(A2, 0xfffff), A.ecall()]);
  assert.equal(hart.x[A0], 0x12345000);
  assert.equal(hart.x[A1], TEXT_VA + 4 + 0x1000);
  assert.equal(hart.x[A2], TEXT_VA + 8 - 0x1000);
});

Deno.test("run() keeps x0 zero when it is written", () => {
  const { hart } = runProg([
    A.addi(ZERO, ZERO, 5),
    A.lui(ZERO, 1),
    A.add(A0, ZERO, ZERO),
    A.ecall(),
  ], {
    [A0]: 9,
  });
  assert.equal(hart.x[0], 0);
  assert.equal(hart.x[A0], 0);
});

// ---------------------------------------------------------------------------
// Control transfer.

type Bop = (rs1: number, rs2: number, off: number) => number;
const BRANCHES: [string, Bop, number, number, boolean][] = [
  ["beq", A.beq, 3, 3, true],
  ["beq", A.beq, 3, 4, false],
  ["bne", A.bne, 3, 4, true],
  ["bne", A.bne, 3, 3, false],
  ["blt", A.blt, -1, 1, true],
  ["blt", A.blt, 1, -1, false],
  ["blt", A.blt, 2, 2, false],
  ["bge", A.bge, 1, -1, true],
  ["bge", A.bge, 2, 2, true],
  ["bge", A.bge, -1, 1, false],
  ["bltu", A.bltu, 1, -1, true],
  ["bltu", A.bltu, -1, 1, false],
  ["bgeu", A.bgeu, -1, 1, true],
  ["bgeu", A.bgeu, 1, -1, false],
  ["bgeu", A.bgeu, 7, 7, true],
];

for (const [name, enc, a, b, taken] of BRANCHES) {
  Deno.test(`run() ${name} is ${taken ? "taken" : "not taken"} when rs1=${a}, rs2=${b}`, () => {
    const words = [enc(A1, A2, 12), A.addi(A0, ZERO, 1), A.ecall(), A.addi(A0, ZERO, 2), A.ecall()];
    const { env } = runProg(words, { [A1]: a, [A2]: b });
    assert.equal(env.exitCode, taken ? 2 : 1);
  });
}

Deno.test("run() branches backwards", () => {
  const p = new A.Program().emit(A.addi(T0, ZERO, 10), A.addi(A0, ZERO, 0)).label("top")
    .emit(A.addi(A0, A0, 3), A.addi(T0, T0, -1)).branch((o) => A.bne(T0, ZERO, o), "top")
    .emit(A.ecall());
  const { env } = runProg([...p.assemble()]);
  assert.equal(env.exitCode, 30);
});

Deno.test("run() jal links pc+4 and jumps forwards and backwards", () => {
  const words = [
    A.jal(RA, 12), // 0 → 12
    A.addi(A0, ZERO, 1), // 4: skipped
    A.ecall(), // 8: reached from 16
    A.addi(A0, RA, 0), // 12: a0 = ra
    A.jal(ZERO, -8), // 16 → 8
  ];
  const { env } = runProg(words);
  assert.equal(env.exitCode, TEXT_VA + 4);
});

Deno.test("run() jalr clears bit 0 of the target and reads rs1 before writing rd", () => {
  const words = [
    A.jalr(T0, T0, 1), // t0 = TEXT_VA + 12 - 1; target (t0 + 1) & ~1 = TEXT_VA + 12
    A.addi(A0, ZERO, 1),
    A.ecall(),
    A.addi(A0, T0, 0),
    A.ecall(),
  ];
  const { env } = runProg(words, { [T0]: TEXT_VA + 12 - 1 + 1 });
  assert.equal(env.exitCode, TEXT_VA + 4);
});

Deno.test("run() traps with cause 0 on the jump when a jalr target is not 4-aligned", () => {
  const { env, hart, reason } = runProg([A.addi(A1, ZERO, 0), A.jalr(RA, T0, 2)], {
    [T0]: TEXT_VA,
  });
  assert.equal(reason, "trap");
  assert.deepEqual(env.traps.map((t) => [t.cause, t.tval, t.pc]), [[0, TEXT_VA + 2, TEXT_VA + 4]]);
  assert.equal(hart.x[RA], 0, "rd is not written by a trapping jump");
});

Deno.test("run() wraps pc from 0xfffffffc to 0", () => {
  const s = setup([]);
  const hi = s.m.allocFrame(), lo = s.m.allocFrame();
  s.m.load(hi, [A.addi(A0, ZERO, 7)], 0xffc);
  s.m.load(lo, [A.ecall()]);
  s.m.map(0xfffff000, hi, URX);
  s.m.map(0, lo, URX);
  s.hart.pc = 0xfffffffc;
  s.hart.x[A7] = 93;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 7);
});

// ---------------------------------------------------------------------------
// Loads and stores.

const BYTES = [0x80, 0xff, 0x7f, 0x01, 0x34, 0x12, 0xcd, 0xab];
const LOADS: [string, Iop, number, number][] = [
  ["lb", A.lb, 0, -128],
  ["lb", A.lb, 2, 127],
  ["lbu", A.lbu, 0, 0x80],
  ["lbu", A.lbu, 1, 0xff],
  ["lh", A.lh, 0, -128], // 0xff80
  ["lh", A.lh, 2, 0x017f],
  ["lh", A.lh, 6, 0xabcd - 0x10000],
  ["lhu", A.lhu, 0, 0xff80],
  ["lhu", A.lhu, 6, 0xabcd],
  ["lw", A.lw, 0, 0x017fff80],
  ["lw", A.lw, 4, 0xabcd1234 | 0],
];

for (const [name, enc, off, want] of LOADS) {
  Deno.test(`run() ${name} at offset ${off} gives ${want}`, () => {
    const s = setup([enc(A0, A1, off), A.ecall()]);
    s.m.u8.set(BYTES, s.dataPfn * 4096);
    s.hart.x[A7] = 93;
    s.hart.x[A1] = DATA_VA;
    s.hart.run(10);
    assert.equal(s.hart.x[A0], want);
  });
}

Deno.test("run() lw with a negative offset reaches below the base register", () => {
  const s = setup([A.lw(A0, A1, -4), A.ecall()]);
  s.m.setWord(s.dataPfn, 8, 0x55aa);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = DATA_VA + 12;
  s.hart.run(10);
  assert.equal(s.hart.x[A0], 0x55aa);
});

const STORES: [string, Iop, number, number[]][] = [
  ["sb", (v, b, o) => A.sb(v, b, o), 1, [0xee, 0x11, 0xee, 0xee, 0xee]],
  ["sh", (v, b, o) => A.sh(v, b, o), 2, [0xee, 0xee, 0x11, 0x22, 0xee]],
  ["sw", (v, b, o) => A.sw(v, b, o), 0, [0x11, 0x22, 0x33, 0x44, 0xee]],
];

for (const [name, enc, off, want] of STORES) {
  Deno.test(`run() ${name} writes only its width at offset ${off}`, () => {
    const s = setup([enc(A2, A1, off), A.ecall()]);
    const base = s.dataPfn * 4096;
    s.m.u8.fill(0xee, base, base + 8);
    s.hart.x[A7] = 93;
    s.hart.x[A1] = DATA_VA;
    s.hart.x[A2] = 0x44332211;
    s.hart.run(10);
    assert.deepEqual([...s.m.u8.subarray(base, base + 5)], want);
  });
}

// ---------------------------------------------------------------------------
// A extension.

type Amo = (rd: number, rs2: number, rs1: number) => number;
const AMOS: [string, Amo, number, number, number][] = [
  ["amoswap.w", A.amoswapW, 5, 9, 9],
  ["amoadd.w", A.amoaddW, 5, 9, 14],
  ["amoadd.w", A.amoaddW, INT_MAX, 1, INT_MIN],
  ["amoxor.w", A.amoxorW, 0b1100, 0b1010, 0b0110],
  ["amoand.w", A.amoandW, 0b1100, 0b1010, 0b1000],
  ["amoor.w", A.amoorW, 0b1100, 0b1010, 0b1110],
  ["amomin.w", A.amominW, -5, 3, -5],
  ["amomin.w", A.amominW, 3, -5, -5],
  ["amomax.w", A.amomaxW, -5, 3, 3],
  ["amominu.w", A.amominuW, -5, 3, 3],
  ["amominu.w", A.amominuW, 3, -5, 3],
  ["amomaxu.w", A.amomaxuW, -5, 3, -5],
  ["amomaxu.w", A.amomaxuW, 3, -5, -5],
];

for (const [name, enc, mem, src, want] of AMOS) {
  Deno.test(`run() ${name} returns the old word and stores ${want} when mem=${mem}, rs2=${src}`, () => {
    const s = setup([enc(A0, A2, A1), A.ecall()]);
    s.m.setWord(s.dataPfn, 8, mem);
    s.hart.x[A7] = 93;
    s.hart.x[A1] = DATA_VA + 8;
    s.hart.x[A2] = src;
    assert.equal(s.hart.run(10), "exit");
    assert.equal(s.hart.x[A0], mem);
    assert.equal(s.m.word(s.dataPfn, 8), want);
  });
}

/** lr.w a0,(a1); sc.w a3,a2,(a1); ecall. Returns the machine after the lr only. */
function lrScMachine() {
  const s = setup([A.lrW(A0, A1), A.scW(A3, A2, A1), A.scW(A4, A2, A1), A.ecall()]);
  s.m.setWord(s.dataPfn, 0, 100);
  Object.assign(s.hart.x, { [A7]: 93, [A1]: DATA_VA, [A2]: 200, [A3]: -1, [A4]: -1 });
  assert.equal(s.hart.run(1), "budget");
  assert.equal(s.hart.x[A0], 100);
  return s;
}

Deno.test("run() sc.w succeeds after lr.w when nothing intervened, and a second sc.w fails", () => {
  const s = lrScMachine();
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.hart.x[A3], 0);
  assert.equal(s.hart.x[A4], 1, "the reservation is consumed by the first sc");
  assert.equal(s.m.word(s.dataPfn, 0), 200);
});

Deno.test("run() sc.w fails when another party stored a different value after lr.w", () => {
  const s = lrScMachine();
  s.m.setWord(s.dataPfn, 0, 101);
  s.hart.run(10);
  assert.equal(s.hart.x[A3], 1);
  assert.equal(s.m.word(s.dataPfn, 0), 101);
});

Deno.test("run() sc.w succeeds when another party stored the same value (documented ABA rule)", () => {
  const s = lrScMachine();
  s.m.setWord(s.dataPfn, 0, 100);
  s.hart.run(10);
  assert.equal(s.hart.x[A3], 0);
  assert.equal(s.m.word(s.dataPfn, 0), 200);
});

Deno.test("run() sc.w fails without a reservation and leaves memory alone", () => {
  const s = setup([A.scW(A3, A2, A1), A.ecall()]);
  s.m.setWord(s.dataPfn, 0, 100);
  Object.assign(s.hart.x, { [A7]: 93, [A1]: DATA_VA, [A2]: 200 });
  s.hart.run(10);
  assert.equal(s.hart.x[A3], 1);
  assert.equal(s.m.word(s.dataPfn, 0), 100);
});

Deno.test("run() sc.w fails when a trap (ecall) came between lr.w and sc.w", () => {
  const s = setup([A.lrW(A0, A1), A.ecall(), A.scW(A3, A2, A1), A.addi(A7, ZERO, 93), A.ecall()]);
  s.m.setWord(s.dataPfn, 0, 100);
  Object.assign(s.hart.x, { [A7]: 1, [A1]: DATA_VA, [A2]: 200 });
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.hart.x[A3], 1);
  assert.equal(s.m.word(s.dataPfn, 0), 100);
});

Deno.test("run() sc.w fails when the reservation was on another word", () => {
  const s = setup([A.lrW(A0, A1), A.scW(A3, A2, T1), A.ecall()]);
  Object.assign(s.hart.x, { [A7]: 93, [A1]: DATA_VA, [T1]: DATA_VA + 4, [A2]: 200 });
  s.hart.run(10);
  assert.equal(s.hart.x[A3], 1);
  assert.equal(s.m.word(s.dataPfn, 4), 0);
});

// ---------------------------------------------------------------------------
// System.

Deno.test("run() csrr instret/cycle count the instructions between two reads", () => {
  const words = [
    A.csrr(A0, A.CSR_INSTRET),
    A.addi(T0, ZERO, 1),
    A.addi(T0, T0, 1),
    A.csrr(A1, A.CSR_INSTRET),
    A.csrr(A2, A.CSR_CYCLE),
    A.csrr(A3, A.CSR_INSTRETH),
    A.csrr(A4, A.CSR_TIME),
    A.ecall(),
  ];
  const { hart, reason } = runProg(words);
  assert.equal(reason, "exit");
  assert.equal(hart.x[A0], 0);
  assert.equal(hart.x[A1], 3);
  assert.equal(hart.x[A2], 4);
  assert.equal(hart.x[A3], 0);
  assert.ok(hart.x[A4] !== 0, "time reads a clock");
  assert.equal(hart.instret, 8);
  assert.equal(hart.cycle, 8);
});

Deno.test("run() counts a trapping instruction in cycle but not in instret", () => {
  const s = setup([A.addi(T0, ZERO, 1), A.lw(A0, ZERO, 0), A.ecall()]);
  s.hart.x[A7] = 93;
  s.env.onPageFault = (va) => {
    s.m.map(va, s.dataPfn, 0x17);
    return true;
  };
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.hart.instret, 3);
  assert.equal(s.hart.cycle, 4);
});

Deno.test("run() fence and fence.i are no-ops", () => {
  const { hart, reason } = runProg([A.fence(), A.fenceI(), A.addi(A0, ZERO, 3), A.ecall()]);
  assert.equal(reason, "exit");
  assert.equal(hart.x[A0], 3);
});

Deno.test("run() ebreak reports cause 3 with tval = pc", () => {
  const { env, reason } = runProg([A.addi(T0, ZERO, 1), A.ebreak()]);
  assert.equal(reason, "trap");
  assert.deepEqual(env.traps.map((t) => [t.kind, t.cause, t.tval, t.pc]), [[
    "trap",
    3,
    TEXT_VA + 4,
    TEXT_VA + 4,
  ]]);
});

const ILLEGAL: [string, number][] = [
  ["all zeros", 0],
  ["all ones", 0xffffffff],
  ["compressed c.addi", 0x00000505],
  ["ld (rv64)", 0x0005b503],
  ["sd (rv64)", 0x00b53023],
  ["slli with funct7 bit", A.slli(A0, A0, 3) | (1 << 30)],
  ["srli with bad funct7", A.srli(A0, A0, 3) | (1 << 26)],
  ["add with funct7 = 2", A.add(A0, A1, A2) | (2 << 25)],
  ["branch funct3 2", A.beq(A0, A1, 8) | (2 << 12)],
  ["jalr funct3 1", A.jalr(A0, A1, 0) | (1 << 12)],
  ["csrrw cycle", (0xc00 << 20) | (1 << 12) | (A0 << 7) | 0x73],
  ["csrrs cycle with rs1 != 0", A.csrr(A0, 0xc00) | (A1 << 15)],
  ["csrr mstatus", A.csrr(A0, 0x300)],
  ["mret", 0x30200073],
  ["wfi", 0x10500073],
  ["amo funct3 3 (rv64)", A.amoaddW(A0, A1, A2) | (1 << 12)],
  ["amo funct5 0x05", (0x05 << 27) | (2 << 12) | 0x2f],
  ["lr.w with rs2 != 0", A.lrW(A0, A1) | (A2 << 20)],
  ["fence funct3 2", 0x0000200f],
];

for (const [name, bits] of ILLEGAL) {
  Deno.test(`run() reports illegal instruction (cause 2, tval = bits) for ${name}`, () => {
    const { env, reason, hart } = runProg([A.addi(T0, ZERO, 1), bits >>> 0], { [A1]: DATA_VA });
    assert.equal(reason, "trap");
    assert.deepEqual(env.traps.map((t) => [t.cause, t.tval >>> 0, t.pc]), [[
      2,
      bits >>> 0,
      TEXT_VA + 4,
    ]]);
    assert.equal(hart.cause, 2);
    assert.equal(hart.instret, 1);
  });
}

Deno.test("run() resumes at the pc the env sets after an illegal instruction", () => {
  const s = setup([0, A.addi(A0, ZERO, 5), A.ecall()]);
  s.hart.x[A7] = 93;
  s.env.onTrap = () => {
    s.hart.pc += 4;
    return true;
  };
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 5);
});

Deno.test("run() stops with budget after exactly maxInstructions and resumes where it stopped", () => {
  const s = setup([A.addi(A0, A0, 1), A.addi(A0, A0, 1), A.addi(A0, A0, 1), A.ecall()]);
  s.hart.x[A7] = 93;
  assert.equal(s.hart.run(2), "budget");
  assert.equal(s.hart.pc, TEXT_VA + 8);
  assert.equal(s.hart.x[A0], 2);
  assert.equal(s.hart.run(0), "budget");
  assert.equal(s.hart.run(5), "exit");
  assert.equal(s.hart.x[A0], 3);
  assert.equal(s.hart.instret, 4);
});

Deno.test("run() ecall hands a7/a0 to the env with pc past the ecall, and the env's a0 is kept", () => {
  const s = setup([
    A.addi(A7, ZERO, 64),
    A.addi(A0, ZERO, 1),
    A.ecall(),
    A.addi(A1, A0, 0),
    A.ecall(),
  ]);
  const seen: number[][] = [];
  s.env.onEcall = (h) => {
    seen.push([h.x[A7]!, h.x[A0]!, h.pc]);
    if (h.x[A7] === 93) return false;
    h.x[A0] = 42;
    h.x[A7] = 93;
    return true;
  };
  assert.equal(s.hart.run(20), "exit");
  assert.deepEqual(seen, [[64, 1, TEXT_VA + 12], [93, 42, TEXT_VA + 20]]);
  assert.equal(s.hart.x[A1], 42);
});

Deno.test("run() stops with poll when env.poll returns false", () => {
  const p = new A.Program().label("top").emit(A.addi(A0, A0, 1)).branch(
    (o) => A.jal(ZERO, o),
    "top",
  );
  const s = setup([...p.assemble()], { hart: { pollInterval: 16 } });
  let n = 0;
  s.env.onPoll = () => ++n < 3;
  assert.equal(s.hart.run(1000), "poll");
  assert.equal(s.hart.cycle, 32);
});

Deno.test("run() reports cause 0 when the env resumes at a misaligned pc", () => {
  const s = setup([0, A.ecall()]);
  s.env.onTrap = (cause) => {
    if (cause !== 2) return false;
    s.hart.pc = TEXT_VA + 2;
    return true;
  };
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(s.env.traps.map((t) => [t.cause, t.tval]), [[2, 0], [0, TEXT_VA + 2]]);
});

Deno.test("run() time CSR reads microseconds since the epoch", () => {
  const { hart } = runProg([A.csrr(A0, A.CSR_TIME), A.csrr(A1, 0xc81), A.ecall()]);
  const us = (hart.x[A1]! >>> 0) * 2 ** 32 + (hart.x[A0]! >>> 0);
  assert.ok(Math.abs(us / 1000 - Date.now()) < 5000, `time ${us}`);
});
