/**
 * The dispatcher: a small wasm function, one per runtime, that runs
 * translated frames one after another without returning to JavaScript
 * (QEMU's goto_tb / lookup_and_goto_ptr chaining; v86 returns to its Rust
 * main loop instead).
 *
 * `dispatch(pc, budget) -> pc` loops: the frame that the fetch TLB maps pc
 * to, if its entry slot holds a translation of it whose codeGen word is
 * still the frame's, is called through the function table; when it leaves
 * with EXIT_JUMP the loop goes on at the new pc. Anything else returns to
 * the interpreter with the state words as the frame left them: another exit
 * kind, a fetch TLB miss or a misaligned pc (the interpreter walks, faults
 * or traps), a frame without a translation (heat, translate), or a budget
 * that ran out (the poll). So an entry is still only through a fetch TLB
 * hit, and still checks the frame's generation, once per entry.
 *
 * It imports the hart state as memory 0, the translator's shared memory
 * (codeGen) as memory 1, and the runtime's function table.
 *
 * Measured before it was kept (tests/kernel helpers, `compute 100` under
 * "eager", M instructions per CPU-second, three runs each, interleaved, a
 * loaded machine): returning to JavaScript at every change of frame 699-752,
 * through the dispatcher 947-974; JavaScript entries per run fell from
 * about 1.5 M to 30 k (one or two a poll).
 *
 * @module
 */

import { EXIT_JUMP, STATE, STATE_SLOTS, stateSlotOffsets, stateTlbOffsets } from "../hart_state.ts";
import { BLOCK_EMPTY, I32, OP, WasmBuf, wasmModule } from "./wasm.ts";

/** The dispatcher's export. */
export const DISPATCH_EXPORT = "dispatch";

const L_PC = 0, L_BUDGET = 1, L_E = 2, L_PFN = 3, L_S = 4, L_NPC = 5;

/** Emit the dispatcher for a hart state with `tlbEntries` entries per TLB; codeGen at byte `genBase` of memory 1. */
export function emitDispatcher(tlbEntries: number, genBase: number): Uint8Array<ArrayBuffer> {
  const tlb = stateTlbOffsets(tlbEntries);
  const slots = stateSlotOffsets(tlbEntries);
  const w = new WasmBuf(512);
  // Leave with EXIT_JUMP at pc: the interpreter takes it from there.
  const leave = (depth: number) => {
    w.i32Const(0).localGet(L_BUDGET).mem(OP.i32Store, 2, 0, STATE.budget);
    w.i32Const(0).i32Const(EXIT_JUMP).mem(OP.i32Store, 2, 0, STATE.exitKind);
    w.localGet(L_PC).br(depth);
  };
  w.open(OP.block, I32); // the result: the pc to go on at
  w.open(OP.loop, BLOCK_EMPTY);
  // Misaligned, out of budget, or not in the fetch TLB: back to the interpreter.
  w.localGet(L_PC).i32Const(3).op(OP.i32And).localGet(L_BUDGET).i32Const(0).op(OP.i32LeS)
    .op(OP.i32Or);
  w.open(OP.if, BLOCK_EMPTY);
  leave(2);
  w.end();
  w.localGet(L_PC).i32Const(12).op(OP.i32ShrU).i32Const(tlbEntries - 1).op(OP.i32And)
    .i32Const(2).op(OP.i32Shl).localTee(L_E);
  w.mem(OP.i32Load, 2, 0, tlb.fetchTag).localGet(L_PC).i32Const(12).op(OP.i32ShrU).op(OP.i32Ne);
  w.open(OP.if, BLOCK_EMPTY);
  leave(2);
  w.end();
  // The frame, and its slot: it must hold a translation of this frame at its current generation.
  w.localGet(L_PC).localGet(L_E).mem(OP.i32Load, 2, 0, tlb.fetchDelta).op(OP.i32Add)
    .i32Const(12).op(OP.i32ShrU).localTee(L_PFN);
  w.i32Const(STATE_SLOTS - 1).op(OP.i32And).i32Const(2).op(OP.i32Shl).localTee(L_S);
  w.mem(OP.i32Load, 2, 0, slots.pfn).localGet(L_PFN).op(OP.i32Ne);
  w.localGet(L_S).mem(OP.i32Load, 2, 0, slots.gen);
  w.localGet(L_PFN).i32Const(2).op(OP.i32Shl).mem(OP.i32Load, 2, 1, genBase).op(OP.i32Ne);
  w.op(OP.i32Or);
  w.open(OP.if, BLOCK_EMPTY);
  leave(2);
  w.end();
  // Run it.
  w.localGet(L_PC).i32Const(2).op(OP.i32ShrU).i32Const(1023).op(OP.i32And);
  w.localGet(L_BUDGET);
  w.localGet(L_PC).i32Const(-4096).op(OP.i32And);
  w.localGet(L_S).mem(OP.i32Load, 2, 0, slots.fn);
  w.u8(OP.callIndirect).u32(0).u32(0);
  w.localSet(L_NPC);
  w.i32Const(0).i32Const(0).mem(OP.i32Load, 2, 0, STATE.chained).i32Const(1).op(OP.i32Add)
    .mem(OP.i32Store, 2, 0, STATE.chained);
  w.i32Const(0).mem(OP.i32Load, 2, 0, STATE.budget).localSet(L_BUDGET);
  w.localGet(L_NPC).localSet(L_PC);
  // Another frame: go on; any other exit: back to the interpreter, state as the frame left it.
  w.i32Const(0).mem(OP.i32Load, 2, 0, STATE.exitKind).i32Const(EXIT_JUMP).op(OP.i32Eq);
  w.brIf(0);
  w.localGet(L_PC).br(1);
  w.end(); // loop
  w.op(OP.unreachable);
  w.end(); // block
  w.end(); // function
  return wasmModule({
    types: [
      { params: [I32, I32, I32], results: [I32] },
      { params: [I32, I32], results: [I32] },
    ],
    funcImports: [],
    memImports: [
      { module: "env", field: "state", min: 1 },
      { module: "env", field: "jit", min: 0, max: 65536, shared: true },
    ],
    tableImports: [{ module: "env", field: "table", min: 0 }],
    funcType: 1,
    locals: [[4, I32]],
    body: w,
    exportName: DISPATCH_EXPORT,
  });
}
