/**
 * Stage 3 of the translator, emit: one frame's blocks as one WebAssembly
 * function, `run(entryWord, budget, pageVa) -> nextPc`, in a module of its
 * own (QEMU's tcg_gen_code; v86's jit_generate_module).
 *
 * The module imports memory 0, the machine's physical memory (shared), and
 * memory 1, the hart's private state (hart_state.ts: registers, control
 * words, TLBs), and two slow-path helpers in JavaScript. Guest registers are
 * wasm locals, loaded in the prologue and stored in the epilogue. The code
 * never depends on the virtual address it runs at: auipc, link values and
 * every pc come from `pageVa`, so one translation serves every process and
 * address that maps the frame.
 *
 * Budget: each block subtracts its length on entry and leaves with
 * EXIT_BUDGET, before running anything, when the budget would go negative,
 * so the interpreter reaches the poll point exactly. Every exit in the
 * middle of a block gives back what the block did not retire.
 *
 * Exits: a static exit packs (word << 16 | refund << 2 | kind) into one
 * local and branches to a common handler; a dynamic one (jalr, a jump out of
 * the frame) sets the next pc and leaves with EXIT_JUMP.
 *
 * An entry at a word where no block starts runs nothing and leaves with
 * EXIT_MISS; the runtime records the word as an entry of the frame and may
 * translate the frame again with a block there (runtime.ts, entries.ts).
 *
 * Traps are exact by rollback: an access that faults, an AMO whose address
 * misses the TLB, a misaligned jump target, and every K_TIER0 instruction
 * leave with EXIT_STEP at that instruction, registers as they were before
 * it, and the interpreter executes it (and traps, if it does).
 *
 * @module
 */

import {
  EXIT_BUDGET,
  EXIT_JUMP,
  EXIT_MISS,
  EXIT_STEP,
  STATE,
  stateTlbOffsets,
} from "../hart_state.ts";
import { type Block, type BlockLayout, staticTarget } from "./blocks.ts";
import {
  branchImm,
  FRAME_WORDS,
  type FrameCode,
  jalImm,
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
} from "./discover.ts";
import { ATOMIC, BLOCK_EMPTY, I32, I64, OP, WasmBuf, wasmModule } from "./wasm.ts";

/** The name of the one exported function. */
export const RUN_EXPORT = "run";

/** Slow-path status of the `st` helper. */
export const ST_OK = 0;
export const ST_FAULT = 1;
/** The store wrote into a frame marked as code: leave, so the entry check sees the new generation. */
export const ST_CODE = 2;

// Local indices: the three parameters, x1..x31, then temporaries.
const L_OFF = 0, L_BUDGET = 1, L_VA = 2;
const reg = (r: number): number => 2 + r; // x1 -> 3 ... x31 -> 33
const L_A = 34, L_P = 35, L_E = 36, L_EX = 37, L_NPC = 38, L_T = 39, L_KIND = 40;
const LOCALS = 41 - 3;

// Function indices: the imports come first.
const F_LD = 0, F_ST = 1;

// Label ids for the label stack (blocks use their index, >= 0).
const LB_DONE = -1, LB_STATIC = -2, LB_MISS = -3, LB_DISPATCH = -4, LB_ANON = -5;

/**
 * The structured-control-flow labels currently open, innermost last. A
 * label id (a block index, or one of the LB_* below 0) is open at most once
 * at a time, except LB_ANON, whose depth is always that of the innermost one.
 */
class Labels {
  readonly #stack: number[] = [];
  /** Stack position of each open id: blocks at [id], the LB_* at [blocks - id]. */
  readonly #pos: Int32Array;
  #anon: number[] = [];
  constructor(readonly blocks: number) {
    this.#pos = new Int32Array(blocks + 8).fill(-1);
  }
  #slot(id: number): number {
    return id >= 0 ? id : this.blocks - id;
  }
  push(id: number): void {
    if (id === LB_ANON) this.#anon.push(this.#stack.length);
    else this.#pos[this.#slot(id)] = this.#stack.length;
    this.#stack.push(id);
  }
  pop(): void {
    const id = this.#stack.pop()!;
    if (id === LB_ANON) this.#anon.pop();
    else this.#pos[this.#slot(id)] = -1;
  }
  /** The branch depth of label `id` from here. */
  depth(id: number): number {
    const p = id === LB_ANON ? this.#anon[this.#anon.length - 1] ?? -1 : this.#pos[this.#slot(id)]!;
    if (p < 0) throw new Error(`emit: label ${id} is not open`);
    return this.#stack.length - 1 - p;
  }
}

/** Options of emitFrame. */
export interface EmitOptions {
  /** Entries per TLB of the hart state the code runs against. */
  tlbEntries: number;
}

/** Emit the module for a frame. */
export function emitFrame(
  code: FrameCode,
  layout: BlockLayout,
  opts: EmitOptions,
): Uint8Array<ArrayBuffer> {
  const e = new Emitter(code, layout, opts.tlbEntries);
  return wasmModule({
    types: [
      { params: [I32, I32, I32], results: [I32] },
      { params: [I32, I32], results: [I32] },
      { params: [I32, I32, I32], results: [I32] },
    ],
    funcImports: [
      { module: "env", field: "ld", type: 1 },
      { module: "env", field: "st", type: 2 },
    ],
    memImports: [
      { module: "env", field: "phys", min: 0, max: 65536, shared: true },
      { module: "env", field: "state", min: 1 },
    ],
    funcType: 0,
    locals: [[LOCALS, I32]],
    body: e.body(),
    exportName: RUN_EXPORT,
  });
}

class Emitter {
  readonly w = new WasmBuf(16384);
  readonly labels: Labels;
  readonly tlb: ReturnType<typeof stateTlbOffsets>;
  readonly tlbMask: number;
  /** The block being emitted. */
  block: Block = { start: 0, end: 0, selfLoop: false };
  blockIndex = 0;

  constructor(readonly code: FrameCode, readonly layout: BlockLayout, tlbEntries: number) {
    this.tlb = stateTlbOffsets(tlbEntries);
    this.tlbMask = tlbEntries - 1;
    this.labels = new Labels(layout.blocks.length);
  }

  body(): WasmBuf {
    const w = this.w;
    const { blocks } = this.layout;
    const used = this.layout.reads | this.layout.writes;
    for (let r = 1; r < 32; r++) {
      if ((used >>> r) & 1) w.i32Const(0).mem(OP.i32Load, 2, 1, STATE.x + 4 * r).localSet(reg(r));
    }
    this.open(OP.block, LB_DONE);
    this.open(OP.block, LB_STATIC);
    this.open(OP.block, LB_MISS);
    this.open(OP.loop, LB_DISPATCH);
    for (let j = blocks.length - 1; j >= 0; j--) this.open(OP.block, j);
    // Dispatch on the entry word: a leader goes to its block, any other word to MISS.
    w.localGet(L_OFF).op(OP.brTable).u32(FRAME_WORDS);
    const miss = this.labels.depth(LB_MISS);
    for (let i = 0; i < FRAME_WORDS; i++) {
      const b = this.layout.blockAt[i]!;
      w.u32(b >= 0 ? this.labels.depth(b) : miss);
    }
    w.u32(miss);
    for (let j = 0; j < blocks.length; j++) {
      this.close(); // the end of block j's label: its code follows
      this.blockIndex = j;
      this.block = blocks[j]!;
      this.emitBlock();
    }
    // The last block fell off the end of the frame: continue on the next page.
    this.staticExit(FRAME_WORDS, 0, EXIT_JUMP);
    this.close(); // loop
    this.close(); // MISS: the entry word is not a leader; the runtime records it (EXIT_MISS)
    w.localGet(L_OFF).i32Const(16).op(OP.i32Shl).i32Const(EXIT_MISS).op(OP.i32Or).localSet(L_EX);
    this.close(); // STATIC: unpack ex into the next pc, the refund and the kind
    w.localGet(L_VA).localGet(L_EX).i32Const(16).op(OP.i32ShrU).i32Const(2).op(OP.i32Shl)
      .op(OP.i32Add).localSet(L_NPC);
    w.localGet(L_BUDGET).localGet(L_EX).i32Const(2).op(OP.i32ShrU).i32Const(0x7ff).op(OP.i32And)
      .op(OP.i32Add).localSet(L_BUDGET);
    w.localGet(L_EX).i32Const(3).op(OP.i32And).localSet(L_KIND);
    this.close(); // DONE: a dynamic exit lands here with kind EXIT_JUMP (the local's zero)
    for (let r = 1; r < 32; r++) {
      if ((this.layout.writes >>> r) & 1) {
        w.i32Const(0).localGet(reg(r)).mem(OP.i32Store, 2, 1, STATE.x + 4 * r);
      }
    }
    w.i32Const(0).localGet(L_BUDGET).mem(OP.i32Store, 2, 1, STATE.budget);
    w.i32Const(0).localGet(L_KIND).mem(OP.i32Store, 2, 1, STATE.exitKind);
    w.localGet(L_NPC);
    w.end();
    return w;
  }

  open(kind: number, label: number, type: number = BLOCK_EMPTY): void {
    this.w.open(kind, type);
    this.labels.push(label);
  }

  close(): void {
    this.w.end();
    this.labels.pop();
  }

  /** Leave through the common handler: next pc = pageVa + 4 * word, budget += refund. */
  staticExit(word: number, refund: number, kind: number): void {
    this.w.i32Const((word << 16) | (refund << 2) | kind).localSet(L_EX);
    this.w.br(this.labels.depth(LB_STATIC));
  }

  /** Leave with EXIT_STEP at word `i`: the interpreter runs it; what follows it is given back. */
  rollback(i: number): void {
    this.staticExit(i, this.block.end - i, EXIT_STEP);
  }

  /** Leave with EXIT_JUMP to the pc on the stack. */
  dynamicExit(): void {
    this.w.localSet(L_NPC).br(this.labels.depth(LB_DONE));
  }

  getReg(r: number): void {
    if (r === 0) this.w.i32Const(0);
    else this.w.localGet(reg(r));
  }

  /** Pop the value on the stack into x_rd (x0: dropped). */
  setReg(rd: number): void {
    if (rd === 0) this.w.op(OP.drop);
    else this.w.localSet(reg(rd));
  }

  emitBlock(): void {
    const w = this.w;
    const b = this.block;
    const len = b.end - b.start;
    if (b.selfLoop) this.open(OP.loop, this.blockIndex);
    // Charge the block; if the budget cannot cover it, leave before it runs.
    w.localGet(L_BUDGET).i32Const(len).op(OP.i32Sub).localTee(L_BUDGET).i32Const(0).op(OP.i32LtS);
    this.open(OP.if, LB_ANON);
    this.staticExit(b.start, len, EXIT_BUDGET);
    this.close();
    for (let i = b.start; i < b.end; i++) this.emitInsn(i);
    if (b.selfLoop) this.close();
  }

  emitInsn(i: number): void {
    const insn = this.code.words[i]!;
    switch (this.code.kind[i]) {
      case K_OP:
        return this.emitOp(insn, i);
      case K_LOAD:
        return this.emitLoad(insn, i);
      case K_STORE:
        return this.emitStore(insn, i);
      case K_AMO:
      case K_LR:
      case K_SC:
        return this.emitAtomic(insn, i);
      case K_BRANCH:
        return this.emitBranch(insn, i);
      case K_JAL:
        return this.emitJal(insn, i);
      case K_JALR:
        return this.emitJalr(insn, i);
      case K_TIER0:
      default:
        return this.rollback(i);
    }
  }

  /** Branch to the in-frame word `t`, which is a leader, after this block's charge was made. */
  gotoWord(t: number): void {
    const j = this.layout.blockAt[t]!;
    if (j > this.blockIndex || (j === this.blockIndex && this.block.selfLoop)) {
      this.w.br(this.labels.depth(j));
    } else {
      this.w.i32Const(t).localSet(L_OFF).br(this.labels.depth(LB_DISPATCH));
    }
  }

  emitOp(insn: number, i: number): void {
    const w = this.w;
    const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31;
    const f3 = (insn >>> 12) & 7;
    const imm = insn >> 20;
    switch (insn & 0x7f) {
      case 0x37: // lui
        if (rd !== 0) w.i32Const(insn & 0xfffff000).localSet(reg(rd));
        return;
      case 0x17: // auipc: relative to the page's address, known only at run time
        if (rd !== 0) {
          w.localGet(L_VA).i32Const((i * 4 + (insn & 0xfffff000)) | 0).op(OP.i32Add).localSet(
            reg(rd),
          );
        }
        return;
      case 0x0f: // fence: plain accesses are unordered, AMOs sequentially consistent
        return;
      case 0x13: {
        if (rd === 0) return; // nops (addi x0, ...) and hints have no effect
        this.getReg(rs1);
        switch (f3) {
          case 0: // addi
            if (imm !== 0) w.i32Const(imm).op(OP.i32Add);
            break;
          case 2: // slti
            w.i32Const(imm).op(OP.i32LtS);
            break;
          case 3: // sltiu
            w.i32Const(imm).op(OP.i32LtU);
            break;
          case 4: // xori
            w.i32Const(imm).op(OP.i32Xor);
            break;
          case 6: // ori
            w.i32Const(imm).op(OP.i32Or);
            break;
          case 7: // andi
            w.i32Const(imm).op(OP.i32And);
            break;
          case 1: // slli
            w.i32Const(rs2).op(OP.i32Shl);
            break;
          default: // srli srai
            w.i32Const(rs2).op((insn >>> 25) === 0 ? OP.i32ShrU : OP.i32ShrS);
        }
        w.localSet(reg(rd));
        return;
      }
      case 0x33: {
        if (rd === 0) return;
        this.emitAlu(((insn >>> 22) & 0x3f8) | f3, rs1, rs2);
        w.localSet(reg(rd));
        return;
      }
    }
  }

  /** Push the result of an OP instruction (funct7 << 3 | funct3) on the stack. */
  emitAlu(fn: number, rs1: number, rs2: number): void {
    const w = this.w;
    const a = () => this.getReg(rs1), b = () => this.getReg(rs2);
    const binary = (op: number) => {
      a();
      b();
      w.op(op);
    };
    /** The high word of a 64-bit product of `rs1` and `rs2` extended by `ea` and `eb`. */
    const mulHigh = (ea: number, eb: number) => {
      a();
      w.op(ea);
      b();
      w.op(eb).op(OP.i64Mul).u8(OP.i64Const).s32(32).op(OP.i64ShrU).op(OP.i32WrapI64);
    };
    switch (fn) {
      case 0x000:
        return binary(OP.i32Add);
      case 0x100:
        return binary(OP.i32Sub);
      case 0x001:
        return binary(OP.i32Shl);
      case 0x002:
        return binary(OP.i32LtS);
      case 0x003:
        return binary(OP.i32LtU);
      case 0x004:
        return binary(OP.i32Xor);
      case 0x005:
        return binary(OP.i32ShrU);
      case 0x105:
        return binary(OP.i32ShrS);
      case 0x006:
        return binary(OP.i32Or);
      case 0x007:
        return binary(OP.i32And);
      case 0x008:
        return binary(OP.i32Mul);
      case 0x009:
        return mulHigh(OP.i64ExtendI32S, OP.i64ExtendI32S);
      case 0x00a:
        return mulHigh(OP.i64ExtendI32S, OP.i64ExtendI32U);
      case 0x00b:
        return mulHigh(OP.i64ExtendI32U, OP.i64ExtendI32U);
      case 0x00c: // div: x/0 = -1; INT_MIN / -1 = INT_MIN (wasm would trap on both)
        b();
        w.op(OP.i32Eqz);
        w.open(OP.if, I32);
        w.i32Const(-1);
        w.op(OP.else);
        b();
        w.i32Const(-1).op(OP.i32Eq);
        w.open(OP.if, I32);
        w.i32Const(0);
        a();
        w.op(OP.i32Sub);
        w.op(OP.else);
        binary(OP.i32DivS);
        w.end().end();
        return;
      case 0x00d: // divu: x/0 = 2^32 - 1
        b();
        w.op(OP.i32Eqz);
        w.open(OP.if, I32);
        w.i32Const(-1);
        w.op(OP.else);
        binary(OP.i32DivU);
        w.end();
        return;
      case 0x00e: // rem: x%0 = x (wasm rem_s gives 0 for INT_MIN % -1 already)
      case 0x00f: // remu: x%0 = x
        b();
        w.op(OP.i32Eqz);
        w.open(OP.if, I32);
        a();
        w.op(OP.else);
        binary(fn === 0x00e ? OP.i32RemS : OP.i32RemU);
        w.end();
        return;
    }
    throw new Error(`emit: OP function ${fn.toString(16)} was classified as translatable`);
  }

  /**
   * Compute the address into L_A and its TLB index into L_E, and leave on
   * the stack whether the TLB at `tagOffset` holds the page and the address
   * is aligned to `size`.
   */
  tlbHit(base: number, offset: number, tagOffset: number, size: number): void {
    const w = this.w;
    this.getReg(base);
    if (offset !== 0) w.i32Const(offset).op(OP.i32Add);
    w.localTee(L_A).i32Const(12).op(OP.i32ShrU).localTee(L_P);
    w.i32Const(this.tlbMask).op(OP.i32And).i32Const(2).op(OP.i32Shl).localTee(L_E);
    w.mem(OP.i32Load, 2, 1, tagOffset).localGet(L_P).op(OP.i32Eq);
    if (size > 1) w.localGet(L_A).i32Const(size - 1).op(OP.i32And).op(OP.i32Eqz).op(OP.i32And);
  }

  /** Push the physical address of L_A through the TLB whose deltas are at `deltaOffset`. */
  physAddr(deltaOffset: number): void {
    this.w.localGet(L_A).localGet(L_E).mem(OP.i32Load, 2, 1, deltaOffset).op(OP.i32Add);
  }

  emitLoad(insn: number, i: number): void {
    const w = this.w;
    const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, f3 = (insn >>> 12) & 7;
    const size = 1 << (f3 & 3);
    this.tlbHit(rs1, insn >> 20, this.tlb.loadTag, size);
    this.open(OP.if, LB_ANON, I32);
    this.physAddr(this.tlb.loadDelta);
    const op = [OP.i32Load8S, OP.i32Load16S, OP.i32Load, 0, OP.i32Load8U, OP.i32Load16U][f3]!;
    w.mem(op, f3 & 3, 0);
    w.op(OP.else);
    // A miss, a misaligned or a page-crossing access: the interpreter's slow path.
    w.localGet(L_A).i32Const(f3).u8(OP.call).u32(F_LD);
    w.i32Const(0).mem(OP.i32Load, 2, 1, STATE.fault);
    this.open(OP.if, LB_ANON);
    this.rollback(i);
    this.close();
    this.close();
    this.setReg(rd);
  }

  emitStore(insn: number, i: number): void {
    const w = this.w;
    const rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31, f3 = (insn >>> 12) & 7;
    const size = 1 << f3;
    const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
    this.tlbHit(rs1, imm, this.tlb.storeTag, size);
    this.open(OP.if, LB_ANON);
    this.physAddr(this.tlb.storeDelta);
    this.getReg(rs2);
    w.mem([OP.i32Store8, OP.i32Store16, OP.i32Store][f3]!, f3, 0);
    w.op(OP.else);
    w.localGet(L_A);
    this.getReg(rs2);
    w.i32Const(f3).u8(OP.call).u32(F_ST).localTee(L_T);
    this.open(OP.if, LB_ANON);
    w.localGet(L_T).i32Const(ST_FAULT).op(OP.i32Eq);
    this.open(OP.if, LB_ANON);
    this.rollback(i);
    this.close();
    // It wrote into a code frame: leave after it, so the next entry sees the new generation.
    this.staticExit(i + 1, this.block.end - i - 1, EXIT_JUMP);
    this.close();
    this.close();
  }

  /** lr.w, sc.w and the AMOs as wasm atomics on memory 0; a TLB miss leaves for the interpreter. */
  emitAtomic(insn: number, i: number): void {
    const w = this.w;
    const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31;
    const f5 = insn >>> 27;
    const isLr = f5 === 0x02;
    this.tlbHit(rs1, 0, isLr ? this.tlb.loadTag : this.tlb.storeTag, 4);
    w.op(OP.i32Eqz);
    this.open(OP.if, LB_ANON);
    this.rollback(i); // misaligned (the interpreter traps) or not in the TLB (it fills it)
    this.close();
    this.physAddr(isLr ? this.tlb.loadDelta : this.tlb.storeDelta);
    w.localSet(L_P); // the physical address
    if (isLr) {
      w.i32Const(0).localGet(L_P).mem(OP.i32Store, 2, 1, STATE.resPa);
      w.localGet(L_P).atomic(ATOMIC.i32Load, 2, 0).localTee(L_T);
      w.i32Const(0).localGet(L_T).mem(OP.i32Store, 2, 1, STATE.resVal);
      this.setReg(rd);
      return;
    }
    if (f5 === 0x03) { // sc.w: succeeds iff the reservation is this word and it still holds resVal
      w.i32Const(0).mem(OP.i32Load, 2, 1, STATE.resPa).localGet(L_P).op(OP.i32Eq);
      w.open(OP.if, I32);
      w.localGet(L_P).i32Const(0).mem(OP.i32Load, 2, 1, STATE.resVal).localTee(L_T);
      this.getReg(rs2);
      w.atomic(ATOMIC.i32RmwCmpxchg, 2, 0).localGet(L_T).op(OP.i32Ne);
      w.op(OP.else).i32Const(1).end();
      w.i32Const(0).i32Const(-1).mem(OP.i32Store, 2, 1, STATE.resPa);
      this.setReg(rd);
      return;
    }
    const rmw: Record<number, number> = {
      0x00: ATOMIC.i32RmwAdd,
      0x01: ATOMIC.i32RmwXchg,
      0x04: ATOMIC.i32RmwXor,
      0x08: ATOMIC.i32RmwOr,
      0x0c: ATOMIC.i32RmwAnd,
    };
    const op = rmw[f5];
    if (op !== undefined) {
      w.localGet(L_P);
      this.getReg(rs2);
      w.atomic(op, 2, 0);
      this.setReg(rd);
      return;
    }
    // amomin/max[u].w: a compare-and-swap loop (wasm has no atomic min or max).
    const lt = f5 === 0x10 || f5 === 0x14 ? OP.i32LtS : OP.i32LtU;
    const wantOld = f5 === 0x10 || f5 === 0x18; // min keeps old when old < b
    this.open(OP.loop, LB_ANON);
    w.localGet(L_P).localGet(L_P).atomic(ATOMIC.i32Load, 2, 0).localTee(L_T);
    // new = (old < b) == wantOld ? old : b
    w.localGet(L_T);
    this.getReg(rs2);
    w.localGet(L_T);
    this.getReg(rs2);
    w.op(lt);
    if (!wantOld) w.op(OP.i32Eqz);
    w.op(OP.select);
    w.atomic(ATOMIC.i32RmwCmpxchg, 2, 0).localGet(L_T).op(OP.i32Ne);
    w.brIf(this.labels.depth(LB_ANON));
    this.close();
    w.localGet(L_T);
    this.setReg(rd);
  }

  emitBranch(insn: number, i: number): void {
    const w = this.w;
    const rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31, f3 = (insn >>> 12) & 7;
    this.getReg(rs1);
    this.getReg(rs2);
    w.op([OP.i32Eq, OP.i32Ne, 0, 0, OP.i32LtS, OP.i32GeS, OP.i32LtU, OP.i32GeU][f3]!);
    const t = i * 4 + branchImm(insn);
    const inFrame = staticTarget(this.code, i);
    if (inFrame >= 0 && this.branchIsDirect(inFrame)) {
      w.brIf(this.labels.depth(this.layout.blockAt[inFrame]!));
      return;
    }
    this.open(OP.if, LB_ANON);
    if ((t & 3) !== 0) this.rollback(i); // taken to a misaligned target: the interpreter traps
    else if (inFrame >= 0) this.gotoWord(inFrame);
    else {
      w.localGet(L_VA).i32Const(t).op(OP.i32Add);
      this.dynamicExit();
    }
    this.close();
  }

  /** A branch to word `t` can be one `br_if` (forward, or back to the start of a loop block). */
  branchIsDirect(t: number): boolean {
    const j = this.layout.blockAt[t]!;
    return j > this.blockIndex || (j === this.blockIndex && this.block.selfLoop);
  }

  emitJal(insn: number, i: number): void {
    const w = this.w;
    const rd = (insn >>> 7) & 31;
    if (rd !== 0) w.localGet(L_VA).i32Const(i * 4 + 4).op(OP.i32Add).localSet(reg(rd));
    const t = i * 4 + jalImm(insn);
    const inFrame = staticTarget(this.code, i);
    if (inFrame >= 0) this.gotoWord(inFrame);
    else {
      w.localGet(L_VA).i32Const(t).op(OP.i32Add);
      this.dynamicExit();
    }
  }

  emitJalr(insn: number, i: number): void {
    const w = this.w;
    const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31;
    this.getReg(rs1);
    w.i32Const(insn >> 20).op(OP.i32Add).i32Const(-2).op(OP.i32And).localTee(L_T);
    w.i32Const(2).op(OP.i32And);
    this.open(OP.if, LB_ANON);
    this.rollback(i); // a target that is not word-aligned traps, in the interpreter
    this.close();
    if (rd !== 0) w.localGet(L_VA).i32Const(i * 4 + 4).op(OP.i32Add).localSet(reg(rd));
    // Within this page: dispatch on the word; elsewhere: leave.
    w.localGet(L_T).localGet(L_VA).op(OP.i32Xor).i32Const(12).op(OP.i32ShrU).op(OP.i32Eqz);
    this.open(OP.if, LB_ANON);
    w.localGet(L_T).i32Const(2).op(OP.i32ShrU).i32Const(FRAME_WORDS - 1).op(OP.i32And)
      .localSet(L_OFF).br(this.labels.depth(LB_DISPATCH));
    this.close();
    w.localGet(L_T);
    this.dynamicExit();
  }
}

void K_BRANCH;
void K_JAL;
void K_JALR;
void I64;
