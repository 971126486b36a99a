/**
 * The hart: an RV32IMA user-mode interpreter with Sv32 translation.
 *
 * One Worker runs one hart. The hart knows physical memory (one
 * SharedArrayBuffer: RAM frames, then memory-device frames), the root of the
 * current page table and a small trap interface, HartEnv. It never imports
 * the kernel: on a trap it calls the env, which enters the kernel in the
 * same thread.
 *
 * `run` is one hot loop in the manner of TinyEMU: pc, the register file, the
 * physical views and the TLB arrays are locals; the decoder is one switch on
 * the opcode with the mnemonic on each case; a TLB hit is one tag compare
 * and a typed-array access. Instructions are decoded every time they are
 * fetched, straight from the frame the PTE names, device or RAM: there is
 * no decoded-instruction cache, so nothing per process copies the text.
 *
 * Every synchronous trap leaves the switch through one exit (`break trap`),
 * which hands it to the env with `hart.pc` at the trapping instruction.
 *
 * Tier 1 (src/hw/jit): with a JitRuntime, the loop offers every change of
 * fetch page to `jit.enter`, which runs the frame's translation when it has
 * one (translating it first when it is due). Translated code retires
 * instructions out of the same chunk, so polls and the budget stay exact.
 * It returns when control leaves the frame (the loop dispatches again), when
 * the budget has too little left for its next block (the loop interprets
 * the rest up to the poll), or at an instruction it leaves to this loop
 * (EXIT_STEP: traps, ecall, CSRs, fence.i): the loop then executes exactly
 * that one instruction (or the `jit.exitSteps` up to the next block, when
 * the pc is between blocks), by shrinking the chunk to them, and
 * dispatches again.
 * It tells `jit.enter` whether the hart arrives at the pc or only goes on
 * there (after a poll, or after that one instruction): arrivals are the
 * entry points tier 1 records for the frame (src/hw/jit/entries.ts).
 * The registers, the TLBs and the LR reservation live in the hart's state
 * buffer (hart_state.ts), which both tiers use in place.
 *
 * Memory-model notes:
 * - FENCE is a no-op, and so is persistence ordering: Zicbom's cbo.clean
 *   and cbo.flush write their block back through `env.cacheBlock` before
 *   they retire, so nothing waits for the next FENCE. Plain loads and stores are plain typed-array accesses
 *   (JS "unordered"); AMOs, LR and SC are Atomics, which are sequentially
 *   consistent, so a guest that synchronises through AMOs or LR/SC (every
 *   lock libxc builds) is ordered correctly. The interpreter has no decode
 *   cache; FENCE.I drops the hart's translations when it has a JitRuntime.
 * - LR/SC: LR records the physical address and the value it read. SC
 *   succeeds iff that reservation is still held for the same physical word
 *   and `Atomics.compareExchange(word, valueLrRead, newValue)` finds the
 *   value unchanged. Caveat (ABA): a store by another party that writes the
 *   value back unchanged, or A→B→A, does not make SC fail. Every retry loop
 *   built on LR/SC (lock, increment, CAS) stays correct under that rule,
 *   since the SC only succeeds when the word holds what the LR saw. The
 *   reservation is dropped by every SC and every trap (ecall, fault), as the
 *   kernel would do with a dummy SC on a context switch.
 * - Misaligned loads and stores are emulated byte by byte (see hart_mmu.ts);
 *   misaligned LR raises cause 4 and misaligned SC/AMO cause 6.
 *
 * @module
 */

import {
  type Access,
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  CAUSE_BREAKPOINT,
  CAUSE_ECALL_U,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_MISALIGNED_FETCH,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS,
  CAUSE_STORE_PAGE_FAULT,
  CBO_BLOCK,
  CBO_CLEAN,
  CBO_FLUSH,
} from "../abi/sv32.ts";
import { asVirt } from "../abi/types.ts";
import { amoMinMax, div, divu, mulh, mulhsu, mulhu, rem, remu } from "./hart_alu.ts";
import { HartMmu } from "./hart_mmu.ts";
import { EXIT_BUDGET, EXIT_STEP, HartState, STATE } from "./hart_state.ts";
import type { JitRuntime } from "./jit/runtime.ts";
import { TLB_ENTRIES } from "./hart_tlb.ts";
import { type HartEnv, type HartOptions } from "./hart_env.ts";
export { type HartEnv, type HartOptions } from "./hart_env.ts";

/** Why `run` returned. On "trap", `hart.cause` and `hart.tval` say which. */
export type StopReason = "exit" | "trap" | "budget" | "poll";

/** Default instructions between poll points (well under a millisecond). */
export const POLL_INTERVAL = 8192;

/** funct5 values of the A extension that exist (bit set = valid). */
const AMO_VALID = (1 << 0x00) | (1 << 0x01) | (1 << 0x02) | (1 << 0x03) | (1 << 0x04) |
  (1 << 0x08) | (1 << 0x0c) | (1 << 0x10) | (1 << 0x14) | (1 << 0x18) | (1 << 0x1c);

/**
 * The counter CSRs (Zicntr), the only ones user mode may read here. time
 * counts microseconds since the Unix epoch (a 1 MHz timebase), the same in
 * every Worker.
 */
const CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02;
const CSR_CYCLEH = 0xc80, CSR_TIMEH = 0xc81, CSR_INSTRETH = 0xc82;
const TWO32 = 4294967296;

/** The access kind of a page-fault cause. */
function accessOfCause(cause: number): Access {
  if (cause === CAUSE_FETCH_PAGE_FAULT) return ACCESS_EXEC;
  if (cause === CAUSE_STORE_PAGE_FAULT) return ACCESS_WRITE;
  return ACCESS_READ;
}

export class Hart {
  /** x0..x31 as int32, in the state buffer. x[0] reads 0 at every instruction boundary. */
  readonly x: Int32Array;
  /** The next instruction's address, uint32. Valid whenever `run` is not executing. */
  pc: number;
  /** Instructions retired (the instret CSR). */
  instret = 0;
  /** Instructions attempted, including ones that trapped (the cycle CSR). */
  cycle = 0;
  /** Cause of the last trap handed to the env, or -1. */
  cause = -1;
  /** tval of the last trap. */
  tval = 0;
  readonly mmu: HartMmu;
  readonly pollInterval: number;
  /** Registers, control words (the LR reservation) and TLBs, shared with translated code. */
  readonly state: HartState;
  /** Tier 1, or null. */
  readonly jit: JitRuntime | null;

  /**
   * @param phys physical memory: RAM frames then device frames, 4 KiB each
   *   (the shared WebAssembly.Memory, or its buffer when there is no `jit`)
   * @param env the kernel's trap handlers
   * @throws Error when `jit` is given with a physical memory it cannot use
   */
  constructor(
    phys: SharedArrayBuffer | WebAssembly.Memory,
    readonly env: HartEnv,
    opts: HartOptions,
  ) {
    const buf = phys instanceof WebAssembly.Memory ? phys.buffer as SharedArrayBuffer : phys;
    this.jit = opts.jit ?? null;
    const entries = opts.tlbEntries ?? TLB_ENTRIES;
    if (this.jit !== null && this.jit.state.entries !== entries) {
      throw new Error(
        `Hart: the JitRuntime has ${this.jit.state.entries} TLB entries, not ${entries}`,
      );
    }
    this.state = this.jit !== null ? this.jit.state : new HartState(entries);
    const code = this.jit?.shared ?? opts.code ?? null;
    this.mmu = new HartMmu(buf, opts.rootPfn, this.state, opts.tlbGenWord, code, opts.frames);
    this.jit?.bind(this, this.mmu);
    this.x = this.state.x;
    this.pc = (opts.pc ?? 0) >>> 0;
    this.pollInterval = opts.pollInterval ?? POLL_INTERVAL;
  }

  /** The TLB generation this hart last flushed at: what it acknowledges to a shootdown. */
  get tlbGen(): number {
    return this.mmu.tlbGen;
  }

  /** Forget every cached translation. Safe to call from the env at any trap or poll. */
  flushTlb(): void {
    this.mmu.flushTlb();
  }

  /** Switch page tables (write satp) and flush, as exec or a context switch does. */
  setRoot(rootPfn: number): void {
    this.mmu.rootPfn = rootPfn;
    this.mmu.flushTlb();
  }

  /**
   * Execute up to `maxInstructions` instructions (attempts, counting ones
   * that trap), entering the env on traps and at poll points.
   *
   * @returns "exit" when env.ecall returned false, "trap" when a trap
   *   handler returned false (`cause`/`tval` set, `pc` at the instruction),
   *   "poll" when env.poll returned false, "budget" when the budget ran out;
   *   in every case the state is consistent and `run` may be called again
   */
  run(maxInstructions: number): StopReason {
    const x = this.x;
    const mmu = this.mmu;
    const env = this.env;
    const i8 = mmu.i8, u8 = mmu.u8, i16 = mmu.i16, u16 = mmu.u16, m32 = mmu.m32;
    const fTag = mmu.fetchTlb.tag, fDel = mmu.fetchTlb.delta;
    const lTag = mmu.loadTlb.tag, lDel = mmu.loadTlb.delta;
    const sTag = mmu.storeTlb.tag, sDel = mmu.storeTlb.delta;
    const mask = mmu.fetchTlb.mask;
    const st32 = this.state.i32;
    const jit = this.jit;
    if (jit !== null && jit.owner !== this) {
      throw new Error("Hart.run: another hart is bound to this JitRuntime now");
    }
    let pc = this.pc | 0;
    // The page the last fetch came from: most fetches skip the TLB index.
    let fVpn = -1, fDelta = 0;
    let budget = maxInstructions;
    // Instructions in the current chunk, and how many of them are left.
    let chunk = 0, left = 0;
    let cause = -1, tval = 0;
    // Tier 1 left one instruction to this loop: the instructions of the chunk after it, else -1.
    let stepRest = -1;
    // Where the loop goes on without arriving (after a poll, or after that one instruction, -2
    // while it runs): tier 1 records arrivals as the frame's entries, not these.
    let resumePc = -1;
    mmu.checkTlbGen();
    x[0] = 0;

    for (;;) {
      if (left === 0) {
        if (stepRest >= 0) {
          // That one instruction ran (or trapped): give the chunk back and dispatch again.
          left = stepRest;
          chunk += stepRest;
          stepRest = -1;
          fVpn = -1;
          if (resumePc === -2) resumePc = pc; // it did not trap: the next pc is no arrival
          if (left > 0) continue;
        }
        // Poll point: account the chunk, check the budget and the TLB generation.
        this.cycle += chunk;
        this.instret += chunk;
        chunk = 0;
        this.pc = pc >>> 0;
        if (budget <= 0) return "budget";
        mmu.checkTlbGen();
        resumePc = pc;
        if (!env.poll(this)) return "poll";
        pc = this.pc | 0;
        fVpn = -1;
        chunk = left = budget < this.pollInterval ? budget : this.pollInterval;
        budget -= chunk;
      }
      left--;
      trap: {
        if ((pc >>> 12) !== fVpn) {
          // Every pc the env sets passes here (fVpn is reset), so check its alignment once.
          if ((pc & 3) !== 0) {
            cause = CAUSE_MISALIGNED_FETCH;
            tval = pc >>> 0;
            break trap;
          }
          const vp = pc >>> 12, e = vp & mask;
          if (fTag[e] !== vp && mmu.translate(pc, ACCESS_EXEC) < 0) {
            cause = mmu.faultCause;
            tval = pc >>> 0;
            break trap;
          }
          fVpn = vp;
          fDelta = fDel[e]!;
          if (jit !== null && stepRest < 0) {
            // Tier 1 runs the frame if it has a translation, from the rest of this chunk (a cold
            // runtime is asked only now and then: JitRuntime.nextEnter).
            const now = this.instret + chunk - left;
            const n = now < jit.nextEnter
              ? -1
              : jit.enter(pc, (pc + fDelta) >>> 0, left + 1, now, pc !== resumePc);
            resumePc = -1;
            if (n >= 0) {
              left = left + 1 - n;
              pc = jit.exitPc | 0;
              const kind = jit.exitKind;
              if (kind === EXIT_STEP && left > 0) {
                const steps = jit.exitSteps < left ? jit.exitSteps : left;
                stepRest = left - steps;
                chunk -= stepRest;
                left = steps;
                resumePc = -2;
              } else if (kind !== EXIT_BUDGET) fVpn = -1;
              continue;
            }
          }
        }
        const insn = m32[(pc + fDelta) >>> 2]!;
        const rd = (insn >>> 7) & 31;
        const rs1 = (insn >>> 15) & 31;
        const rs2 = (insn >>> 20) & 31;
        const f3 = (insn >>> 12) & 7;
        let npc = (pc + 4) | 0;

        switch (insn & 0x7f) {
          case 0x37: // lui
            x[rd] = insn & 0xfffff000;
            break;
          case 0x17: // auipc
            x[rd] = (pc + (insn & 0xfffff000)) | 0;
            break;
          case 0x6f: { // jal
            const imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) |
              (((insn >>> 21) & 0x3ff) << 1);
            const t = (pc + imm) | 0;
            if ((t & 3) !== 0) {
              cause = CAUSE_MISALIGNED_FETCH;
              tval = t >>> 0;
              break trap;
            }
            x[rd] = npc;
            npc = t;
            break;
          }
          case 0x67: { // jalr
            const t = (x[rs1]! + (insn >> 20)) & ~1;
            if (f3 !== 0) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            if ((t & 3) !== 0) {
              cause = CAUSE_MISALIGNED_FETCH;
              tval = t >>> 0;
              break trap;
            }
            x[rd] = npc;
            npc = t;
            break;
          }
          case 0x63: { // beq bne blt bge bltu bgeu
            const a = x[rs1]!, b = x[rs2]!;
            let taken: boolean;
            switch (f3) {
              case 0: // beq
                taken = a === b;
                break;
              case 1: // bne
                taken = a !== b;
                break;
              case 4: // blt
                taken = a < b;
                break;
              case 5: // bge
                taken = a >= b;
                break;
              case 6: // bltu
                taken = (a >>> 0) < (b >>> 0);
                break;
              case 7: // bgeu
                taken = (a >>> 0) >= (b >>> 0);
                break;
              default:
                cause = CAUSE_ILLEGAL_INSTRUCTION;
                tval = insn >>> 0;
                break trap;
            }
            if (taken) {
              const imm = ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) |
                (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
              const t = (pc + imm) | 0;
              if ((t & 3) !== 0) {
                cause = CAUSE_MISALIGNED_FETCH;
                tval = t >>> 0;
                break trap;
              }
              npc = t;
            }
            break;
          }
          case 0x03: { // lb lh lw lbu lhu
            const va = (x[rs1]! + (insn >> 20)) | 0;
            const vp = va >>> 12, e = vp & mask;
            if (f3 === 3 || f3 > 5) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            if (lTag[e] === vp) {
              const pa = (va + lDel[e]!) >>> 0;
              if (f3 === 2) { // lw
                if ((pa & 3) === 0) {
                  x[rd] = m32[pa >>> 2]!;
                  break;
                }
              } else if (f3 === 4) { // lbu
                x[rd] = u8[pa]!;
                break;
              } else if (f3 === 0) { // lb
                x[rd] = i8[pa]!;
                break;
              } else if ((pa & 1) === 0) {
                x[rd] = f3 === 1 ? i16[pa >>> 1]! : u16[pa >>> 1]!; // lh lhu
                break;
              }
            }
            const v = mmu.load(va, f3);
            if (mmu.faultCause >= 0) {
              cause = mmu.faultCause;
              tval = mmu.faultVa;
              break trap;
            }
            x[rd] = v;
            break;
          }
          case 0x23: { // sb sh sw
            const va = (x[rs1]! + (((insn >> 25) << 5) | rd)) | 0;
            const v = x[rs2]!;
            const vp = va >>> 12, e = vp & mask;
            if (f3 > 2) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            if (sTag[e] === vp) {
              const pa = (va + sDel[e]!) >>> 0;
              if (f3 === 2) { // sw
                if ((pa & 3) === 0) {
                  m32[pa >>> 2] = v;
                  break;
                }
              } else if (f3 === 0) { // sb
                u8[pa] = v;
                break;
              } else if ((pa & 1) === 0) { // sh
                u16[pa >>> 1] = v;
                break;
              }
            }
            if (!mmu.store(va, f3, v)) {
              cause = mmu.faultCause;
              tval = mmu.faultVa;
              break trap;
            }
            break;
          }
          case 0x13: { // addi slti sltiu xori ori andi slli srli srai
            const a = x[rs1]!, imm = insn >> 20;
            switch (f3) {
              case 0: // addi
                x[rd] = (a + imm) | 0;
                break;
              case 2: // slti
                x[rd] = a < imm ? 1 : 0;
                break;
              case 3: // sltiu
                x[rd] = (a >>> 0) < (imm >>> 0) ? 1 : 0;
                break;
              case 4: // xori
                x[rd] = a ^ imm;
                break;
              case 6: // ori
                x[rd] = a | imm;
                break;
              case 7: // andi
                x[rd] = a & imm;
                break;
              case 1: // slli
                if ((insn >>> 25) !== 0) {
                  cause = CAUSE_ILLEGAL_INSTRUCTION;
                  tval = insn >>> 0;
                  break trap;
                }
                x[rd] = a << rs2;
                break;
              default: // 5: srli srai
                if ((insn >>> 25) === 0) x[rd] = (a >>> rs2) | 0;
                else if ((insn >>> 25) === 0x20) x[rd] = a >> rs2;
                else {
                  cause = CAUSE_ILLEGAL_INSTRUCTION;
                  tval = insn >>> 0;
                  break trap;
                }
            }
            break;
          }
          case 0x33: { // R-type: RV32I ALU and M
            const a = x[rs1]!, b = x[rs2]!;
            switch (((insn >>> 22) & 0x3f8) | f3) { // funct7 << 3 | funct3
              case 0x000: // add
                x[rd] = (a + b) | 0;
                break;
              case 0x100: // sub
                x[rd] = (a - b) | 0;
                break;
              case 0x001: // sll
                x[rd] = a << b;
                break;
              case 0x002: // slt
                x[rd] = a < b ? 1 : 0;
                break;
              case 0x003: // sltu
                x[rd] = (a >>> 0) < (b >>> 0) ? 1 : 0;
                break;
              case 0x004: // xor
                x[rd] = a ^ b;
                break;
              case 0x005: // srl
                x[rd] = (a >>> b) | 0;
                break;
              case 0x105: // sra
                x[rd] = a >> b;
                break;
              case 0x006: // or
                x[rd] = a | b;
                break;
              case 0x007: // and
                x[rd] = a & b;
                break;
              case 0x008: // mul
                x[rd] = Math.imul(a, b);
                break;
              case 0x009: // mulh
                x[rd] = mulh(a, b);
                break;
              case 0x00a: // mulhsu
                x[rd] = mulhsu(a, b);
                break;
              case 0x00b: // mulhu
                x[rd] = mulhu(a, b);
                break;
              case 0x00c: // div
                x[rd] = div(a, b);
                break;
              case 0x00d: // divu
                x[rd] = divu(a, b);
                break;
              case 0x00e: // rem
                x[rd] = rem(a, b);
                break;
              case 0x00f: // remu
                x[rd] = remu(a, b);
                break;
              default:
                cause = CAUSE_ILLEGAL_INSTRUCTION;
                tval = insn >>> 0;
                break trap;
            }
            break;
          }
          case 0x0f: { // fence fence.i; Zicbom cbo.clean cbo.flush (f3 2)
            if (
              f3 === 2 && rd === 0 && ((insn >>> 20) === CBO_CLEAN || (insn >>> 20) === CBO_FLUSH)
            ) {
              // Allowed where a load or a store would be; a failed check is a store/AMO fault.
              const va = x[rs1]!;
              const pa = mmu.translate(va, ACCESS_READ);
              if (pa < 0) {
                cause = mmu.faultCause === CAUSE_LOAD_PAGE_FAULT
                  ? CAUSE_STORE_PAGE_FAULT
                  : CAUSE_STORE_ACCESS;
                tval = mmu.faultVa;
                break trap;
              }
              if (env.cacheBlock !== undefined && !env.cacheBlock(pa & -CBO_BLOCK, insn >>> 20)) {
                cause = CAUSE_STORE_ACCESS;
                tval = va >>> 0;
                break trap;
              }
              break;
            }
            if (f3 > 1) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            if (f3 === 1 && jit !== null) jit.fenceI();
            break;
          }
          case 0x73: { // ecall ebreak csrr
            if (insn === 0x00000073) { // ecall
              cause = CAUSE_ECALL_U;
              tval = 0;
              break trap;
            }
            if (insn === 0x00100073) { // ebreak
              cause = CAUSE_BREAKPOINT;
              tval = pc >>> 0;
              break trap;
            }
            // Only reads: csrrs/csrrc (f3 2, 3) with rs1 = x0 and csrrsi/csrrci (6, 7) with uimm 0.
            if ((f3 & 2) === 0 || rs1 !== 0) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            const csr = insn >>> 20;
            // Counts before this instruction: the current one was taken off `left` already.
            const done = chunk - left - 1;
            let v: number;
            if (csr === CSR_INSTRET || csr === CSR_INSTRETH) v = this.instret + done;
            else if (csr === CSR_CYCLE || csr === CSR_CYCLEH) v = this.cycle + done;
            else if (csr === CSR_TIME || csr === CSR_TIMEH) {
              v = Math.floor((performance.timeOrigin + performance.now()) * 1000);
            } else {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            x[rd] = (csr & 0x080) !== 0 ? Math.floor(v / TWO32) | 0 : v | 0;
            break;
          }
          case 0x2f: { // lr.w sc.w amo*.w
            const f5 = insn >>> 27;
            if (f3 !== 2 || ((AMO_VALID >>> f5) & 1) === 0 || (f5 === 0x02 && rs2 !== 0)) {
              cause = CAUSE_ILLEGAL_INSTRUCTION;
              tval = insn >>> 0;
              break trap;
            }
            const va = x[rs1]!;
            if ((va & 3) !== 0) {
              cause = f5 === 0x02 ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE;
              tval = va >>> 0;
              break trap;
            }
            const vp = va >>> 12, e = vp & mask;
            if (f5 === 0x02) { // lr.w
              const pa = lTag[e] === vp ? (va + lDel[e]!) >>> 0 : mmu.translate(va, ACCESS_READ);
              if (pa < 0) {
                cause = mmu.faultCause;
                tval = mmu.faultVa;
                break trap;
              }
              const v = Atomics.load(m32, pa >>> 2);
              st32[STATE.resPa >> 2] = pa;
              st32[STATE.resVal >> 2] = v;
              x[rd] = v;
              break;
            }
            // The rest need write permission: their faults are store/AMO faults.
            const pa = sTag[e] === vp ? (va + sDel[e]!) >>> 0 : mmu.translate(va, ACCESS_WRITE);
            if (pa < 0) {
              cause = mmu.faultCause;
              tval = mmu.faultVa;
              break trap;
            }
            const w = pa >>> 2, b = x[rs2]!;
            switch (f5) {
              case 0x03: { // sc.w
                const rv = st32[STATE.resVal >> 2]!;
                x[rd] =
                  st32[STATE.resPa >> 2] === pa && Atomics.compareExchange(m32, w, rv, b) === rv
                    ? 0
                    : 1;
                st32[STATE.resPa >> 2] = -1;
                break;
              }
              case 0x01: // amoswap.w
                x[rd] = Atomics.exchange(m32, w, b);
                break;
              case 0x00: // amoadd.w
                x[rd] = Atomics.add(m32, w, b);
                break;
              case 0x04: // amoxor.w
                x[rd] = Atomics.xor(m32, w, b);
                break;
              case 0x0c: // amoand.w
                x[rd] = Atomics.and(m32, w, b);
                break;
              case 0x08: // amoor.w
                x[rd] = Atomics.or(m32, w, b);
                break;
              default: // amomin.w amomax.w amominu.w amomaxu.w
                x[rd] = amoMinMax(m32, w, b, f5);
            }
            // Not through the store TLB: it may have written a code frame.
            if (sTag[e] !== vp) mmu.noteStore(pa);
            break;
          }
          default:
            cause = CAUSE_ILLEGAL_INSTRUCTION;
            tval = insn >>> 0;
            break trap;
        }
        x[0] = 0;
        pc = npc;
        continue;
      }

      // The one exit for every trap: pc is the trapping instruction.
      this.cycle += chunk - left;
      this.instret += chunk - left - (cause === CAUSE_ECALL_U ? 0 : 1);
      chunk = left;
      this.pc = pc >>> 0;
      this.cause = cause;
      this.tval = tval;
      st32[STATE.resPa >> 2] = -1;
      mmu.faultCause = -1;
      if (cause === CAUSE_ECALL_U) {
        this.pc = (pc + 4) >>> 0;
        if (!env.ecall(this)) return "exit";
      } else if (
        cause === CAUSE_FETCH_PAGE_FAULT || cause === CAUSE_LOAD_PAGE_FAULT ||
        cause === CAUSE_STORE_PAGE_FAULT
      ) {
        if (!env.pageFault(asVirt(tval), accessOfCause(cause), cause)) return "trap";
      } else if (!env.trap(cause, tval)) return "trap";
      // Back to user mode: a kernel that weakened PTEs bumped the generation.
      mmu.checkTlbGen();
      x[0] = 0;
      pc = this.pc | 0;
      fVpn = -1;
      cause = -1;
      resumePc = -1;
    }
  }
}
