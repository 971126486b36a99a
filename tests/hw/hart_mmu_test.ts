import assert from "node:assert/strict";
import * as A from "./_asm.ts";
import { A0, A1, A2, A7, T0, ZERO } from "./_asm.ts";
import {
  DATA_VA,
  PTE_A,
  PTE_D,
  setup,
  TestMachine,
  TEXT_VA,
  UR,
  URW,
  URX,
} from "./_hart_machine.ts";
import {
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
} from "../../src/abi/sv32.ts";
import { Hart } from "../../src/hw/hart.ts";
import { sv32Walk, WALK_ACCESS_FAULT, WALK_PAGE_FAULT } from "../../src/hw/sv32_walk.ts";
import { Tlb } from "../../src/hw/hart_tlb.ts";
import { KernelPanic } from "../../src/abi/panic.ts";

const UNMAPPED = 0x0040_0000;
const URWX_ALL = PTE_V | PTE_U | PTE_R | PTE_W | PTE_X;

/** Faults as [kind, cause, tval, pc]. */
const faults = (env: { traps: { kind: string; cause: number; tval: number; pc: number }[] }) =>
  env.traps.map((t) => [t.kind, t.cause, t.tval >>> 0, t.pc]);

// ---------------------------------------------------------------------------
// Page faults: cause, tval, pc.

const FAULTS: [string, number[], number, number, number][] = [
  // name, program, expected cause, tval, pc of the faulting instruction
  ["lw from an unmapped page", [A.lw(A0, A1, 8)], 13, UNMAPPED + 8, TEXT_VA],
  ["lbu from an unmapped page", [A.lbu(A0, A1, 3)], 13, UNMAPPED + 3, TEXT_VA],
  ["sw to an unmapped page", [A.sw(A0, A1, 0)], 15, UNMAPPED, TEXT_VA],
  ["sb to an unmapped page", [A.sb(A0, A1, 5)], 15, UNMAPPED + 5, TEXT_VA],
  ["lr.w from an unmapped page", [A.lrW(A0, A1)], 13, UNMAPPED, TEXT_VA],
  ["amoadd.w to an unmapped page", [A.amoaddW(A0, A2, A1)], 15, UNMAPPED, TEXT_VA],
  ["sc.w to an unmapped page", [A.scW(A0, A2, A1)], 15, UNMAPPED, TEXT_VA],
  ["jump to an unmapped page", [A.addi(T0, ZERO, 0), A.jalr(ZERO, A1, 0)], 12, UNMAPPED, UNMAPPED],
];

for (const [name, words, cause, tval, pc] of FAULTS) {
  Deno.test(`run() reports page fault cause ${cause}, tval, pc for ${name}`, () => {
    const s = setup(words);
    s.hart.x[A1] = UNMAPPED;
    assert.equal(s.hart.run(10), "trap");
    assert.deepEqual(faults(s.env), [["pageFault", cause, tval, pc]]);
    assert.equal(s.hart.pc, pc);
    assert.equal(s.hart.cause, cause);
    assert.equal(s.hart.tval, tval);
  });
}

const PERMS: [string, number, number[], number][] = [
  ["a store to a read-only page", UR, [A.sw(A0, A1, 0)], 15],
  ["an amoswap to a read-only page", UR, [A.amoswapW(A0, A2, A1)], 15],
  ["an sc.w to a read-only page", UR, [A.lrW(A0, A1), A.scW(A0, A2, A1)], 15],
  ["a load from a page without U", PTE_V | PTE_R | PTE_W, [A.lw(A0, A1, 0)], 13],
  ["a store to a page without U", PTE_V | PTE_R | PTE_W, [A.sw(A0, A1, 0)], 15],
  ["a load from an execute-only page", PTE_V | PTE_U | PTE_X, [A.lw(A0, A1, 0)], 13],
  ["a load from a W-only (reserved) page", PTE_V | PTE_U | PTE_W, [A.lw(A0, A1, 0)], 13],
  ["a jump to a page without X", URW, [A.jalr(ZERO, A1, 0)], 12],
];

for (const [name, flags, words, cause] of PERMS) {
  Deno.test(`run() faults with cause ${cause} on ${name}`, () => {
    const s = setup(words, { dataFlags: flags });
    s.hart.x[A1] = DATA_VA;
    assert.equal(s.hart.run(10), "trap");
    assert.equal(s.env.traps.length, 1);
    assert.deepEqual([s.env.traps[0]!.cause, s.env.traps[0]!.tval], [cause, DATA_VA]);
    assert.equal(s.m.word(s.dataPfn, 0), 0, "memory is unchanged");
  });
}

Deno.test("run() faults on fetch from a page without U", () => {
  const s = setup([A.ecall()]);
  s.m.setPte(TEXT_VA, s.m.pte(TEXT_VA) & ~PTE_U);
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["pageFault", 12, TEXT_VA, TEXT_VA]]);
  assert.equal(s.env.traps[0]!.access, ACCESS_EXEC);
});

Deno.test("run() reports cause 4 for a misaligned lr.w and 6 for a misaligned amo/sc", () => {
  for (
    const [words, cause] of [[[A.lrW(A0, A1)], 4], [[A.amoaddW(A0, A2, A1)], 6], [[
      A.scW(A0, A2, A1),
    ], 6]] as const
  ) {
    const s = setup([...words]);
    s.hart.x[A1] = DATA_VA + 2;
    assert.equal(s.hart.run(10), "trap");
    assert.deepEqual(faults(s.env), [["trap", cause, DATA_VA + 2, TEXT_VA]]);
  }
});

// ---------------------------------------------------------------------------
// A and D bits, the fix-and-retry path.

Deno.test("run() sets A on a load and fetch, and D only on a store", () => {
  const s = setup([A.lw(A0, A1, 0), A.ecall(), A.sw(A0, A1, 0), A.ecall()], { dataFlags: URW });
  s.hart.x[A1] = DATA_VA;
  s.env.onEcall = (h) => {
    if (h.x[A7] === 93) return false;
    h.x[A7] = 93;
    // After the load only: A without D.
    assert.equal(s.m.pte(DATA_VA) & (PTE_A | PTE_D), PTE_A);
    return true;
  };
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.m.pte(DATA_VA) & (PTE_A | PTE_D), PTE_A | PTE_D);
  assert.equal(s.m.pte(TEXT_VA) & (PTE_A | PTE_D), PTE_A);
});

Deno.test("run() retries the access after pageFault maps the page", () => {
  const s = setup([A.lw(A0, A1, 4), A.sw(A0, A1, 8), A.ecall()]);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = UNMAPPED;
  const frame = s.m.allocFrame();
  s.m.setWord(frame, 4, 1234);
  s.env.onPageFault = (va, access) => {
    assert.equal(access, ACCESS_READ);
    s.m.map(va, frame, URW);
    return true;
  };
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.hart.x[A0], 1234);
  assert.equal(s.m.word(frame, 8), 1234);
  assert.deepEqual(faults(s.env), [["pageFault", 13, UNMAPPED + 4, TEXT_VA]]);
});

Deno.test("run() retries a store after pageFault upgrades a read-only PTE (COW-style)", () => {
  const s = setup([A.lw(A0, A1, 0), A.addi(A0, A0, 1), A.sw(A0, A1, 0), A.ecall()], {
    dataFlags: UR,
  });
  s.hart.x[A7] = 93;
  s.hart.x[A1] = DATA_VA;
  s.m.setWord(s.dataPfn, 0, 41);
  const copy = s.m.allocFrame();
  s.env.onPageFault = (va, access, cause) => {
    assert.deepEqual([va, access, cause], [DATA_VA, ACCESS_WRITE, 15]);
    s.m.setWord(copy, 0, s.m.word(s.dataPfn, 0));
    s.m.map(va, copy, URW);
    s.hart.flushTlb(); // the kernel changed a PTE this hart may have cached
    return true;
  };
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.m.word(copy, 0), 42);
  assert.equal(s.m.word(s.dataPfn, 0), 41);
});

// ---------------------------------------------------------------------------
// Page-crossing and misaligned accesses (emulated byte-wise).

/** Two virtually adjacent pages backed by non-adjacent frames, bytes 0..255 repeating. */
function crossing(words: number[]) {
  const s = setup(words);
  const lo = s.m.allocFrame();
  s.m.allocFrame(); // a gap, so adjacency in phys cannot hide a bug
  const hi = s.m.allocFrame();
  for (let k = 0; k < 4096; k++) {
    s.m.u8[lo * 4096 + k] = k & 0xff;
    s.m.u8[hi * 4096 + k] = (k + 0x80) & 0xff;
  }
  s.m.map(UNMAPPED, lo, URW);
  s.m.map(UNMAPPED + 4096, hi, URW);
  s.hart.x[A7] = 93;
  return { ...s, lo, hi };
}

const CROSS_LOADS: [string, number, number, number][] = [
  // name, insn, offset from the page boundary, expected
  ["lw", A.lw(A0, A1, 0), -2, 0x8180fffe | 0], // fe ff | 80 81
  ["lw", A.lw(A0, A1, 0), -1, 0x828180ff | 0],
  ["lw", A.lw(A0, A1, 0), -3, 0x80fffefd | 0],
  ["lh", A.lh(A0, A1, 0), -1, 0x80ff - 0x10000],
  ["lhu", A.lhu(A0, A1, 0), -1, 0x80ff],
  ["lw (misaligned, same page)", A.lw(A0, A1, 0), 5, 0x88878685 | 0],
  ["lh (misaligned, same page)", A.lh(A0, A1, 0), 1, 0x8281 - 0x10000],
];

for (const [name, insn, off, want] of CROSS_LOADS) {
  Deno.test(`run() ${name} at page boundary ${off >= 0 ? "+" : ""}${off} reads every byte`, () => {
    const s = crossing([insn, A.ecall()]);
    s.hart.x[A1] = UNMAPPED + 4096 + off;
    assert.equal(s.hart.run(10), "exit");
    assert.equal(s.hart.x[A0]! >>> 0, want >>> 0);
  });
}

Deno.test("run() sw across a page boundary writes both frames", () => {
  const s = crossing([A.sw(A2, A1, 0), A.sh(A2, A1, 8), A.ecall()]);
  s.hart.x[A1] = UNMAPPED + 4096 - 1;
  s.hart.x[A2] = 0x44332211;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.m.u8[s.lo * 4096 + 4095], 0x11);
  assert.deepEqual([...s.m.u8.subarray(s.hi * 4096, s.hi * 4096 + 3)], [0x22, 0x33, 0x44]);
  assert.deepEqual([...s.m.u8.subarray(s.hi * 4096 + 7, s.hi * 4096 + 9)], [0x11, 0x22]);
});

Deno.test("run() misaligned store faults on the second page with tval at it and writes nothing", () => {
  const s = crossing([A.sw(A2, A1, 0), A.ecall()]);
  s.m.setPte(UNMAPPED + 4096, 0);
  s.hart.x[A1] = UNMAPPED + 4096 - 2;
  s.hart.x[A2] = 0x44332211;
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["pageFault", 15, UNMAPPED + 4096, TEXT_VA]]);
  assert.deepEqual([...s.m.u8.subarray(s.lo * 4096 + 4094, s.lo * 4096 + 4096)], [0xfe, 0xff]);
});

Deno.test("run() misaligned load faults on the second page with tval at it", () => {
  const s = crossing([A.lw(A0, A1, 0), A.ecall()]);
  s.m.setPte(UNMAPPED + 4096, 0);
  s.hart.x[A1] = UNMAPPED + 4096 - 1;
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["pageFault", 13, UNMAPPED + 4096, TEXT_VA]]);
});

// ---------------------------------------------------------------------------
// TLB: flushTlb and the generation word.

/** lw a0; ecall (env changes the PTE to another frame); lw a1; exit. */
function remap(action: "nothing" | "flushTlb" | "bumpGen" | "setRoot") {
  const k32 = new Int32Array(new SharedArrayBuffer(64));
  const s = setup([A.lw(A0, A2, 0), A.ecall(), A.lw(A1, A2, 0), A.addi(A7, ZERO, 93), A.ecall()], {
    hart: { tlbGenWord: { k32, index: 3 } },
  });
  const other = s.m.allocFrame();
  s.m.setWord(s.dataPfn, 0, 1);
  s.m.setWord(other, 0, 2);
  s.hart.x[A2] = DATA_VA;
  s.env.onEcall = (h) => {
    if (h.x[A7] === 93) return false;
    s.m.map(DATA_VA, other, URW);
    if (action === "flushTlb") h.flushTlb();
    if (action === "bumpGen") Atomics.add(k32, 3, 1);
    if (action === "setRoot") h.setRoot(s.m.root);
    return true;
  };
  assert.equal(s.hart.run(20), "exit");
  return { ...s, k32 };
}

Deno.test("run() keeps using a cached translation until the TLB is flushed", () => {
  const s = remap("nothing");
  assert.deepEqual([s.hart.x[A0], s.hart.x[A1]], [1, 1]);
});

for (const action of ["flushTlb", "bumpGen", "setRoot"] as const) {
  Deno.test(`run() sees a changed PTE after ${action} at a trap`, () => {
    const s = remap(action);
    assert.deepEqual([s.hart.x[A0], s.hart.x[A1]], [1, 2]);
    if (action === "bumpGen") assert.equal(s.hart.tlbGen, 1);
  });
}

Deno.test("run() flushes at a poll point when the generation changes, before env.poll", () => {
  const k32 = new Int32Array(new SharedArrayBuffer(64));
  // A loop reading DATA_VA into a0 forever.
  const p = new A.Program().label("top").emit(A.lw(A0, A2, 0)).branch((o) => A.jal(ZERO, o), "top");
  const s = setup([...p.assemble()], { hart: { tlbGenWord: { k32, index: 0 }, pollInterval: 64 } });
  const other = s.m.allocFrame();
  s.m.setWord(s.dataPfn, 0, 1);
  s.m.setWord(other, 0, 2);
  s.hart.x[A2] = DATA_VA;
  assert.equal(s.hart.run(100), "budget");
  assert.equal(s.hart.x[A0], 1);
  // Another Worker's kernel changes the PTE and bumps the generation.
  s.m.map(DATA_VA, other, URW);
  Atomics.store(k32, 0, 7);
  const acks: number[] = [];
  s.env.onPoll = (h) => {
    acks.push(h.tlbGen);
    return true;
  };
  assert.equal(s.hart.run(200), "budget");
  assert.equal(s.hart.x[A0], 2);
  assert.ok(acks.length >= 1 && acks.every((g) => g === 7), `acks ${acks}`);
});

// ---------------------------------------------------------------------------
// Frames: device text, superpages, access faults.

Deno.test("run() executes text in place from a device frame", () => {
  const s = setup([A.addi(A0, ZERO, 11), A.lw(A1, A2, 0), A.add(A0, A0, A1), A.ecall()], {
    device: true,
  });
  assert.ok(s.textPfn >= s.m.ramFrames);
  s.hart.x[A7] = 93;
  s.hart.x[A2] = DATA_VA;
  s.m.setWord(s.dataPfn, 0, 31);
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 42);
});

Deno.test("run() translates through a 4 MiB superpage", () => {
  const s = setup([A.lw(A0, A1, 0), A.sw(A2, A1, 4), A.ecall()]);
  s.m.mapSuper(UNMAPPED, 0, URW); // frames 0..1023, of which the first 80 exist
  s.m.setWord(s.dataPfn, 0, 77);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = UNMAPPED + s.dataPfn * 4096;
  s.hart.x[A2] = 99;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.hart.x[A0], 77);
  assert.equal(s.m.word(s.dataPfn, 4), 99);
});

Deno.test("run() page-faults on a misaligned superpage", () => {
  const s = setup([A.lw(A0, A1, 0), A.ecall()]);
  s.m.mapSuper(UNMAPPED, 1, URW);
  s.hart.x[A1] = UNMAPPED;
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["pageFault", 13, UNMAPPED, TEXT_VA]]);
});

Deno.test("run() sets A on a superpage leaf for a load and A|D for a store, in the level-1 PTE", () => {
  const l1 = (m: TestMachine) => m.m32[m.root * 1024 + ((UNMAPPED >>> 22) & 0x3ff)]! >>> 0;
  const s = setup([A.lw(A0, A1, 0), A.ecall()]);
  s.m.mapSuper(UNMAPPED, 0, URW & ~(PTE_A | PTE_D));
  s.hart.x[A7] = 93;
  s.hart.x[A1] = UNMAPPED + s.dataPfn * 4096;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(l1(s.m) & (PTE_A | PTE_D), PTE_A, "a load sets A only");
  const w = setup([A.sw(A2, A1, 8), A.ecall()]);
  w.m.mapSuper(UNMAPPED, 0, URW & ~(PTE_A | PTE_D));
  w.hart.x[A7] = 93;
  w.hart.x[A1] = UNMAPPED + w.dataPfn * 4096;
  w.hart.x[A2] = 5;
  assert.equal(w.hart.run(10), "exit");
  assert.equal(l1(w.m) & (PTE_A | PTE_D), PTE_A | PTE_D, "a store sets A and D");
  assert.equal(w.m.word(w.dataPfn, 8), 5);
});

Deno.test("run() page-faults on a superpage without the permission: store to R, fetch from RW, no U", () => {
  const cases: [string, number[], number, number][] = [
    ["store to a read-only superpage", [A.sw(A0, A1, 0)], UR, 15],
    ["fetch from a non-executable superpage", [A.jalr(ZERO, A1, 0)], URW, 12],
    ["load from a supervisor superpage", [A.lw(A0, A1, 0)], URW & ~PTE_U, 13],
  ];
  for (const [what, words, flags, cause] of cases) {
    const s = setup(words);
    s.m.mapSuper(UNMAPPED, 0, flags);
    s.hart.x[A1] = UNMAPPED + s.dataPfn * 4096;
    assert.equal(s.hart.run(10), "trap", what);
    assert.equal(s.env.traps[0]!.cause, cause, what);
    assert.equal(s.env.traps[0]!.tval >>> 0, UNMAPPED + s.dataPfn * 4096, what);
  }
});

Deno.test("run() executes from a superpage and fills 4 KiB TLB entries from it", () => {
  // Code at frame textPfn seen through a superpage at UNMAPPED: jump there and run it.
  const s = setup([A.jalr(ZERO, A1, 0)]);
  s.m.mapSuper(UNMAPPED, 0, URX);
  s.m.load(s.textPfn, [A.addi(A0, ZERO, 9), A.ecall()], 64);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = UNMAPPED + s.textPfn * 4096 + 64;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 9);
  const vp = (UNMAPPED + s.textPfn * 4096) >>> 12;
  assert.equal(s.hart.mmu.fetchTlb.tag[vp & s.hart.mmu.fetchTlb.mask], vp, "a 4 KiB entry");
});

// ---------------------------------------------------------------------------
// Zicbom: cbo.clean and cbo.flush hand the block's physical address to the env.

/** A setup whose env records cacheBlock calls as [pa, op] and answers `ok`. */
function cboSetup(words: number[], ok = true, dataFlags = URW) {
  const s = setup(words, { dataFlags });
  const calls: [number, number][] = [];
  (s.env as unknown as { cacheBlock(pa: number, op: number): boolean }).cacheBlock = (pa, op) => {
    calls.push([pa, op]);
    return ok;
  };
  s.hart.x[A7] = 93;
  return { ...s, calls };
}

Deno.test("run() hands cbo.clean and cbo.flush the 64-byte block's physical address, then runs on", () => {
  const s = cboSetup([A.cbo(1, A1), A.cbo(2, A2), A.fence(), A.addi(A0, ZERO, 7), A.ecall()]);
  s.hart.x[A1] = DATA_VA + 0x47;
  s.hart.x[A2] = DATA_VA + 0xfff;
  assert.equal(s.hart.run(20), "exit");
  assert.equal(s.env.exitCode, 7);
  const pa = s.dataPfn * 4096;
  assert.deepEqual(s.calls, [[pa + 0x40, 1], [pa + 0xfc0, 2]]);
});

Deno.test("run() allows cbo.flush on a read-only page (a load would be allowed)", () => {
  const s = cboSetup([A.cbo(2, A1), A.ecall()], true, UR);
  s.hart.x[A1] = DATA_VA;
  assert.equal(s.hart.run(10), "exit");
  assert.deepEqual(s.calls, [[s.dataPfn * 4096, 2]]);
});

Deno.test("run() raises a store page fault (15) for cbo.flush on an unmapped page", () => {
  const s = cboSetup([A.cbo(2, A1), A.ecall()]);
  s.hart.x[A1] = UNMAPPED + 0x80;
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["pageFault", 15, UNMAPPED + 0x80, TEXT_VA]]);
  assert.equal(s.env.traps[0]!.access, ACCESS_WRITE);
  assert.deepEqual(s.calls, []);
});

Deno.test("run() raises a store access fault (7) when the block cannot be written back", () => {
  const s = cboSetup([A.cbo(1, A1), A.ecall()], false);
  s.hart.x[A1] = DATA_VA + 8;
  assert.equal(s.hart.run(10), "trap");
  assert.deepEqual(faults(s.env), [["trap", 7, DATA_VA + 8, TEXT_VA]]);
});

Deno.test("run() treats cbo.inval, cbo.zero and a cbo with rd != 0 as illegal instructions", () => {
  const withRd = A.cbo(2, A1) | (5 << 7);
  for (const insn of [A.cbo(0, A1), A.cbo(4, A1), withRd]) {
    const s = cboSetup([insn, A.ecall()]);
    s.hart.x[A1] = DATA_VA;
    assert.equal(s.hart.run(10), "trap");
    assert.deepEqual(faults(s.env), [["trap", 2, insn >>> 0, TEXT_VA]]);
    assert.deepEqual(s.calls, []);
  }
});

Deno.test("run() without an env cacheBlock treats cbo.flush as a no-op", () => {
  const s = setup([A.cbo(2, A1), A.addi(A0, ZERO, 3), A.ecall()]);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = DATA_VA;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 3);
});

Deno.test("run() reports an access fault (5, 7, 1) for a PTE naming a frame beyond memory", () => {
  for (
    const [words, cause] of [[[A.lw(A0, A1, 0)], 5], [[A.sw(A0, A1, 0)], 7], [
      [A.jalr(ZERO, A1, 0)],
      1,
    ]] as const
  ) {
    const s = setup([...words]);
    s.m.map(UNMAPPED, 5000, URWX_ALL);
    s.hart.x[A1] = UNMAPPED;
    assert.equal(s.hart.run(10), "trap");
    assert.equal(s.env.traps[0]!.kind, "trap");
    assert.equal(s.env.traps[0]!.cause, cause);
    assert.equal(s.env.traps[0]!.tval, UNMAPPED);
  }
});

// ---------------------------------------------------------------------------
// The walker and the TLB on their own.

Deno.test("sv32Walk() returns the frame, or page/access fault, by PTE", () => {
  const m = new TestMachine(8, 2);
  const f = m.allocFrame();
  m.map(0x1000, f, URX);
  m.map(0x2000, 9, UR);
  m.map(0x3000, 10, UR); // one past the last frame
  assert.equal(sv32Walk(m.m32, m.root, 0x1234, ACCESS_EXEC), f * 4096);
  assert.equal(sv32Walk(m.m32, m.root, 0x1234, ACCESS_WRITE), WALK_PAGE_FAULT);
  assert.equal(sv32Walk(m.m32, m.root, 0x2000, ACCESS_READ), 9 * 4096);
  // The buffer is whole 64 KiB wasm pages: the frame count bounds the walk, not its length.
  assert.equal(sv32Walk(m.m32, m.root, 0x3000, ACCESS_READ, m.frames), WALK_ACCESS_FAULT);
  assert.equal(sv32Walk(m.m32, m.root, 0x8000_0000, ACCESS_READ), WALK_PAGE_FAULT);
  assert.equal(sv32Walk(m.m32, 100, 0x1000, ACCESS_READ, m.frames), WALK_ACCESS_FAULT);
});

Deno.test("sv32Walk() treats a level-0 pointer PTE as a page fault", () => {
  const m = new TestMachine(8, 0);
  m.map(0x1000, 3, PTE_V); // pointer where a leaf must be
  assert.equal(sv32Walk(m.m32, m.root, 0x1000, ACCESS_READ), WALK_PAGE_FAULT);
});

Deno.test("Tlb() throws KernelPanic when entries is not a power of two", () => {
  assert.throws(() => new Tlb(100), KernelPanic);
  const t = new Tlb(4);
  t.fill(0xfffff123, 0x5000);
  assert.equal(t.tag[0xfffff & 3], 0xfffff);
  assert.equal((0xfffff123 + t.delta[0xfffff & 3]!) >>> 0, 0x5123);
  t.flush();
  assert.equal(t.tag[3], -1);
});

Deno.test("Hart() over a 1-entry TLB still runs code that thrashes it", () => {
  const s = setup([A.lw(A0, A1, 0), A.sw(A0, A2, 0), A.lw(A0, A2, 0), A.ecall()], {
    hart: { tlbEntries: 1 },
  });
  const f = s.m.allocFrame();
  s.m.map(UNMAPPED, f, URW);
  s.m.setWord(s.dataPfn, 0, 5);
  s.hart.x[A7] = 93;
  s.hart.x[A1] = DATA_VA;
  s.hart.x[A2] = UNMAPPED;
  assert.equal(s.hart.run(10), "exit");
  assert.equal(s.env.exitCode, 5);
  assert.equal(s.m.word(f, 0), 5);
  assert.ok(s.hart instanceof Hart);
});
