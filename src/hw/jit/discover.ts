/**
 * Stage 1 of the translator, discover: decode every word of one 4 KiB frame
 * as an instruction, classify it, and find the leaders (the words where a
 * basic block starts).
 *
 * The whole frame is swept linearly (QEMU and v86 follow control flow from
 * known entry points instead): a function start follows the previous
 * function's return, a return address follows its call, a switch case
 * usually follows the previous case's jump, so most places control arrives
 * at are leaders found here. Data that the sweep reads as code costs a
 * little wasm and is never run. The rest (a case that falls through into
 * the next, a computed goto, a trap resumed mid-block) are the frame's
 * recorded entries (entries.ts), which the caller passes in: each is a
 * leader too.
 *
 * Classification mirrors the interpreter's decoder (hart.ts) exactly: any
 * encoding the interpreter treats as illegal, and anything tier 1 does not
 * translate, is K_TIER0, which ends its block and is run by the interpreter.
 *
 * @module
 */

/** Words in a frame. */
export const FRAME_WORDS = 1024;

/** Instruction classes. */
export const K_OP = 0; // lui, auipc, OP, OP-IMM, fence: no control transfer, no memory
export const K_LOAD = 1;
export const K_STORE = 2;
export const K_AMO = 3; // amo*.w
export const K_LR = 4;
export const K_SC = 5;
export const K_BRANCH = 6; // conditional, ends the block
export const K_JAL = 7; // ends the block
export const K_JALR = 8; // ends the block
export const K_TIER0 = 9; // ecall, ebreak, CSR, fence.i, illegal, misaligned jal: the interpreter runs it

/** funct5 values of the A extension that exist (bit set = valid), as in hart.ts. */
const AMO_VALID = (1 << 0x00) | (1 << 0x01) | (1 << 0x02) | (1 << 0x03) | (1 << 0x04) |
  (1 << 0x08) | (1 << 0x0c) | (1 << 0x10) | (1 << 0x14) | (1 << 0x18) | (1 << 0x1c);

/** The byte offset, relative to the instruction, of a B-type branch target. */
export function branchImm(insn: number): number {
  return ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) |
    (((insn >>> 8) & 0xf) << 1);
}

/** The byte offset, relative to the instruction, of a jal target. */
export function jalImm(insn: number): number {
  return ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) |
    (((insn >>> 21) & 0x3ff) << 1);
}

/** The class of one instruction word (see K_*). */
export function classify(insn: number, wordOffset: number): number {
  const f3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  switch (insn & 0x7f) {
    case 0x37: // lui
    case 0x17: // auipc
      return K_OP;
    case 0x6f: // jal: a target that is not word-aligned traps, which the interpreter does
      return ((wordOffset * 4 + jalImm(insn)) & 3) !== 0 ? K_TIER0 : K_JAL;
    case 0x67:
      return f3 === 0 ? K_JALR : K_TIER0;
    case 0x63:
      return f3 === 2 || f3 === 3 ? K_TIER0 : K_BRANCH;
    case 0x03:
      return f3 === 3 || f3 > 5 ? K_TIER0 : K_LOAD;
    case 0x23:
      return f3 > 2 ? K_TIER0 : K_STORE;
    case 0x13:
      if (f3 === 1) return (insn >>> 25) === 0 ? K_OP : K_TIER0; // slli
      if (f3 === 5) return (insn >>> 25) === 0 || (insn >>> 25) === 0x20 ? K_OP : K_TIER0;
      return K_OP;
    case 0x33: {
      const f7 = insn >>> 25;
      if (f7 === 0 || f7 === 1) return K_OP; // RV32I ALU, M
      if (f7 === 0x20 && (f3 === 0 || f3 === 5)) return K_OP; // sub, sra
      return K_TIER0;
    }
    case 0x0f: // fence is a no-op here; fence.i drops translations, in the interpreter
      return f3 === 0 ? K_OP : K_TIER0;
    case 0x2f: {
      const f5 = insn >>> 27;
      if (f3 !== 2 || ((AMO_VALID >>> f5) & 1) === 0) return K_TIER0;
      if (f5 === 0x02) return rs2 === 0 ? K_LR : K_TIER0;
      if (f5 === 0x03) return K_SC;
      void rs1;
      return K_AMO;
    }
    default: // ecall, ebreak, CSR reads, illegal
      return K_TIER0;
  }
}

/** What discover finds in a frame. */
export interface FrameCode {
  /** The frame's words as the translation read them. */
  readonly words: Int32Array;
  /** K_* of each word. */
  readonly kind: Uint8Array;
  /** 1 where a basic block starts. */
  readonly leader: Uint8Array;
}

/** True when a word of class `k` ends its basic block. */
export const endsBlock = (k: number): boolean =>
  k === K_BRANCH || k === K_JAL || k === K_JALR || k === K_TIER0;

/** `addi x0, x0, 0`, the canonical nop: what toolchains pad with. */
const NOP = 0x0000_0013;

/**
 * Decode and classify the FRAME_WORDS words of a frame and mark its leaders:
 * word 0, every in-frame target of a branch or jal, every word after an
 * instruction that ends a block, and every word after a nop. Nops are
 * padding: before a function aligned past the previous one's return, and
 * at the end of each PLT entry (`auipc; lw; jalr; nop`), whose next entry
 * is reached only by an indirect call. Without them such an entry would be
 * a mid-block arrival at every call, stepped by the interpreter up to the
 * next leader (measured: 6 of the 37 instructions of each iteration of
 * bin/counter, which calls into libxc through the PLT twice an iteration).
 *
 * @param words the frame's contents (copied by the caller: the frame may change under it)
 * @param entries the frame's recorded entries (a bit set of FRAME_WORDS bits), leaders as well
 */
export function discover(words: Int32Array, entries?: Int32Array): FrameCode {
  const kind = new Uint8Array(FRAME_WORDS);
  const leader = new Uint8Array(FRAME_WORDS);
  leader[0] = 1;
  for (let i = 0; i < FRAME_WORDS; i++) {
    if (entries !== undefined && ((entries[i >>> 5]! >>> (i & 31)) & 1) !== 0) leader[i] = 1;
    const insn = words[i]!;
    const k = classify(insn, i);
    kind[i] = k;
    if ((endsBlock(k) || insn === NOP) && i + 1 < FRAME_WORDS) leader[i + 1] = 1;
    let t = -1;
    if (k === K_BRANCH) t = i * 4 + branchImm(insn);
    else if (k === K_JAL) t = i * 4 + jalImm(insn);
    if (t >= 0 && t < FRAME_WORDS * 4 && (t & 3) === 0) leader[t >> 2] = 1;
  }
  return { words, kind, leader };
}
