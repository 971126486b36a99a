/**
 * Stage 2 of the translator, lay out blocks: cut the frame at its leaders
 * into basic blocks, in address order, and work out what the emitter needs
 * to know about them as a whole.
 *
 * The emitted function nests one wasm `block` per basic block inside a
 * dispatch `loop` (v86's jit.rs does the same): a `br_table` on the entry
 * word jumps to any block; a forward branch is a direct `br` to its target's
 * label; a branch back to the block it is in becomes a `loop` around that
 * block; any other backward branch goes through the dispatch loop again.
 *
 * @module
 */

import {
  branchImm,
  endsBlock,
  FRAME_WORDS,
  type FrameCode,
  jalImm,
  K_BRANCH,
  K_JAL,
} from "./discover.ts";

/** One basic block: words [start, end). */
export interface Block {
  readonly start: number;
  readonly end: number;
  /** The block ends with a branch or jal back to its own start: emit it as a `loop`. */
  readonly selfLoop: boolean;
}

/** The frame cut into blocks. */
export interface BlockLayout {
  readonly blocks: readonly Block[];
  /** For each word: the index of the block that starts there, or -1. */
  readonly blockAt: Int16Array;
  /** Bit r set: register x_r is read somewhere (the prologue loads it). */
  readonly reads: number;
  /** Bit r set: register x_r is written somewhere (the epilogue stores it). */
  readonly writes: number;
}

/** The in-frame word a branch or jal at word `i` targets, or -1 (out of the frame or misaligned). */
export function staticTarget(code: FrameCode, i: number): number {
  const insn = code.words[i]!;
  const k = code.kind[i]!;
  let t: number;
  if (k === K_BRANCH) t = i * 4 + branchImm(insn);
  else if (k === K_JAL) t = i * 4 + jalImm(insn);
  else return -1;
  return t >= 0 && t < FRAME_WORDS * 4 && (t & 3) === 0 ? t >> 2 : -1;
}

/** Registers an instruction of `opcode` reads (bit mask) and writes. */
function regUse(insn: number): [number, number] {
  const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31;
  const d = 1 << rd, s1 = 1 << rs1, s2 = 1 << rs2;
  switch (insn & 0x7f) {
    case 0x37:
    case 0x17:
    case 0x6f:
      return [0, d];
    case 0x67:
    case 0x03:
    case 0x13:
      return [s1, d];
    case 0x63:
      return [s1 | s2, 0];
    case 0x23:
      return [s1 | s2, 0];
    case 0x33:
    case 0x2f:
      return [s1 | s2, d];
    default:
      return [0, 0];
  }
}

/** Cut `code` into blocks at its leaders. */
export function layOutBlocks(code: FrameCode): BlockLayout {
  const blocks: Block[] = [];
  const blockAt = new Int16Array(FRAME_WORDS).fill(-1);
  let reads = 0, writes = 0;
  let start = 0;
  for (let i = 0; i < FRAME_WORDS; i++) {
    const [r, w] = regUse(code.words[i]!);
    reads |= r;
    writes |= w;
    const last = i + 1 === FRAME_WORDS || code.leader[i + 1] === 1;
    if (!last) continue;
    const k = code.kind[i]!;
    const selfLoop = endsBlock(k) && staticTarget(code, i) === start;
    blockAt[start] = blocks.length;
    blocks.push({ start, end: i + 1, selfLoop });
    start = i + 1;
  }
  // x0 is never loaded or stored: it reads as 0 and writes to it are dropped.
  return { blocks, blockAt, reads: reads & ~1, writes: writes & ~1 };
}
