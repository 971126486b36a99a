/**
 * A hart's private state, in one buffer of its own: the register file, the
 * words the two execution tiers exchange, and the three TLBs.
 *
 * The interpreter (tier 0, hart.ts) indexes this buffer through typed views;
 * translated code (tier 1, src/hw/jit) imports the same buffer as its wasm
 * memory 1 and addresses it with the byte offsets below. So a switch of tier
 * copies nothing: registers, TLB entries and the LR reservation are where
 * both tiers look. The buffer is private to the Worker (a plain ArrayBuffer,
 * or a non-shared WebAssembly.Memory when the hart may run translated code).
 *
 * ```
 *  byte 0      128          192                     192 + 8E    + 16E       + 24E         + 24E + 12S
 *  +-----------+------------+-----------------------+-----------+-----------+-------------+
 *  | x0 .. x31 | control    | fetch TLB             | load TLB  | store TLB | entry slots |
 *  | int32 each| words      | tag[E] then delta[E]  | tag, delta| tag, delta| pfn[S],     |
 *  |           | (STATE)    |                       |           |           | gen[S], fn[S]|
 *  +-----------+------------+-----------------------+-----------+-----------+-------------+
 *  E = entries per TLB (a power of two); tags and deltas are int32 (see tlb.ts)
 *  S = STATE_SLOTS: the translations tier 1 may enter, direct-mapped by pfn
 *      (src/hw/jit/runtime.ts): the frame, its codeGen word, its table index
 * ```
 *
 * @module
 */

import { Tlb } from "./hart_tlb.ts";

/** Byte offsets of the control words. */
export const STATE = {
  /** x0..x31, 4 bytes each. */
  x: 0,
  /** LR reservation: physical byte address, or -1 when none is held. */
  resPa: 128,
  /** The value LR read (what SC compares with). */
  resVal: 132,
  /** Why translated code returned: EXIT_JUMP, EXIT_BUDGET, EXIT_STEP or EXIT_MISS. */
  exitKind: 136,
  /** The instruction budget translated code had left when it returned. */
  budget: 140,
  /** Set to 1 by a slow-path helper whose access faulted, else 0. */
  fault: 144,
  /** Frames the dispatcher entered without returning to JavaScript (a counter that wraps). */
  chained: 148,
} as const;

/** Entry slots (a power of two). */
export const STATE_SLOTS = 1024;

/**
 * Why translated code returned to the interpreter, in STATE.exitKind:
 * - EXIT_JUMP: control left the frame, or the frame's code changed; dispatch again at the pc;
 * - EXIT_BUDGET: the next block needs more instructions than the budget has left; the
 *   interpreter runs the few that remain, exactly up to the poll point;
 * - EXIT_STEP: the instruction at the pc must run in the interpreter (it traps, or it is one
 *   tier 1 leaves to tier 0: ecall, a CSR read, fence.i, a TLB miss of an AMO); registers,
 *   memory and the retired count are exactly those before it. After that one instruction the
 *   interpreter dispatches again.
 * - EXIT_MISS (from a translation to its runtime, never to the interpreter): the frame was
 *   entered at a word where its translation starts no block; nothing ran. The runtime records
 *   the word as an entry of the frame and translates the frame again, or steps (EXIT_STEP).
 */
export const EXIT_JUMP = 0;
export const EXIT_BUDGET = 1;
export const EXIT_STEP = 2;
export const EXIT_MISS = 3;

/** Byte offset of the first TLB. */
export const STATE_TLB = 192;

/** Byte offsets of the TLB arrays for `entries` entries per TLB. */
export function stateTlbOffsets(entries: number): {
  fetchTag: number;
  fetchDelta: number;
  loadTag: number;
  loadDelta: number;
  storeTag: number;
  storeDelta: number;
} {
  const t = 4 * entries;
  return {
    fetchTag: STATE_TLB,
    fetchDelta: STATE_TLB + t,
    loadTag: STATE_TLB + 2 * t,
    loadDelta: STATE_TLB + 3 * t,
    storeTag: STATE_TLB + 4 * t,
    storeDelta: STATE_TLB + 5 * t,
  };
}

/** Byte offsets of the entry slots' arrays for `entries` entries per TLB. */
export function stateSlotOffsets(entries: number): { pfn: number; gen: number; fn: number } {
  const base = STATE_TLB + 24 * entries;
  return { pfn: base, gen: base + 4 * STATE_SLOTS, fn: base + 8 * STATE_SLOTS };
}

/** Bytes of the state for `entries` entries per TLB. */
export const stateBytes = (entries: number): number => STATE_TLB + 24 * entries + 12 * STATE_SLOTS;

/** One hart's state buffer and the views both tiers share. */
export class HartState {
  /** All of the buffer, in words. */
  readonly i32: Int32Array;
  /** The register file, x0..x31 as int32. */
  readonly x: Int32Array;
  readonly fetchTlb: Tlb;
  readonly loadTlb: Tlb;
  readonly storeTlb: Tlb;
  /** Entry slots: the frame (-1: empty), its codeGen word, its function's table index. */
  readonly slotPfn: Int32Array;
  readonly slotGen: Int32Array;
  readonly slotFn: Int32Array;

  /**
   * @param entries entries per TLB, a power of two
   * @param buffer the backing store, at least stateBytes(entries) long (default: a fresh ArrayBuffer)
   * @throws KernelPanic (from Tlb) when `entries` is not a power of two
   */
  constructor(
    readonly entries: number,
    readonly buffer: ArrayBuffer = new ArrayBuffer(stateBytes(entries)),
  ) {
    if (buffer.byteLength < stateBytes(entries)) {
      throw new RangeError(`HartState: buffer of ${buffer.byteLength} bytes is too small`);
    }
    this.i32 = new Int32Array(buffer);
    this.x = new Int32Array(buffer, STATE.x, 32);
    const o = stateTlbOffsets(entries);
    this.fetchTlb = new Tlb(entries, buffer, o.fetchTag, o.fetchDelta);
    this.loadTlb = new Tlb(entries, buffer, o.loadTag, o.loadDelta);
    this.storeTlb = new Tlb(entries, buffer, o.storeTag, o.storeDelta);
    const s = stateSlotOffsets(entries);
    this.slotPfn = new Int32Array(buffer, s.pfn, STATE_SLOTS);
    this.slotGen = new Int32Array(buffer, s.gen, STATE_SLOTS);
    this.slotFn = new Int32Array(buffer, s.fn, STATE_SLOTS);
    this.slotPfn.fill(-1);
    this.reset();
  }

  /** Zero the registers and control words, drop the reservation, empty the TLBs (not the slots). */
  reset(): void {
    this.i32.fill(0, 0, STATE_TLB / 4);
    this.i32[STATE.resPa / 4] = -1;
    this.fetchTlb.flush();
    this.loadTlb.flush();
    this.storeTlb.flush();
  }
}
