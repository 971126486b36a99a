/**
 * The hart's MMU: views of the physical buffer, the three TLBs, the Sv32
 * root, the TLB generation, and the slow paths of memory access.
 *
 * The hart's hot loop reads the TLB arrays and the views directly; it calls
 * in here only on a TLB miss, a misaligned access or a page-crossing one.
 *
 * The TLB arrays live in the hart's state buffer (hart_state.ts), where
 * translated code reads them too.
 *
 * Code frames (src/hw/jit): when the machine translates guest code, a frame
 * marked as code never enters the store TLB (QEMU's NOTDIRTY, v86's
 * has_code), so every store to it comes through `store` here, which bumps
 * the frame's code generation after writing.
 *
 * Misaligned loads and stores are emulated, not trapped: the access is split
 * into bytes and each byte is translated (so an access that crosses a page
 * boundary uses both frames). Linux emulates them for user space too, so a
 * guest sees the same result either way; emulating here keeps the trap
 * interface small. A misaligned store translates every page it touches
 * before writing any byte, so a fault leaves memory unchanged and the
 * instruction can be retried. The bytes are written with plain stores, so
 * another Worker may observe a torn misaligned value, as on real hardware.
 *
 * @module
 */

import {
  type Access,
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  CAUSE_FETCH_ACCESS,
  CAUSE_LOAD_ACCESS,
  CAUSE_STORE_ACCESS,
  faultCause,
} from "../abi/sv32.ts";
import type { HartState } from "./hart_state.ts";
import type { JitShared } from "./jit/shared.ts";
import { sv32Walk, WALK_PAGE_FAULT } from "./sv32_walk.ts";
import type { Tlb } from "./hart_tlb.ts";

/** A word of shared memory the kernel bumps when PTEs of this mm were cleared or weakened. */
export interface TlbGenWord {
  readonly k32: Int32Array;
  readonly index: number;
}

/** The access-fault cause for an access kind. */
function accessFaultCause(access: Access): number {
  if (access === ACCESS_EXEC) return CAUSE_FETCH_ACCESS;
  if (access === ACCESS_WRITE) return CAUSE_STORE_ACCESS;
  return CAUSE_LOAD_ACCESS;
}

/** Width in bytes of a load/store by its funct3 (lb/sb 0, lh/sh 1, lw/sw 2, lbu 4, lhu 5). */
const widthOf = (funct3: number): number => 1 << (funct3 & 3);

export class HartMmu {
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly m32: Int32Array;
  readonly fetchTlb: Tlb;
  readonly loadTlb: Tlb;
  readonly storeTlb: Tlb;
  /** satp.PPN: frame of the root page table. Change it through Hart.setRoot. */
  rootPfn: number;
  /** The generation this hart last flushed at (compared with the TlbGenWord). */
  tlbGen = 0;
  readonly genWord: TlbGenWord | null;

  /** Set by a failing slow-path access: the trap cause, or -1 when none is pending. */
  faultCause = -1;
  /** The faulting virtual address (uint32) when faultCause >= 0. */
  faultVa = 0;
  /** Set by `store` when it wrote into a frame marked as code (the caller clears it). */
  codeStored = false;
  /** The translator's code marks, or null when the machine translates nothing. */
  readonly code: JitShared | null;
  /** Frames of physical memory: a PTE naming a frame at or past it is an access fault. */
  readonly frames: number;

  /**
   * @param phys physical memory
   * @param state where the TLBs live
   * @param frames frames of physical memory (RAM plus device); default: all of `phys`
   */
  constructor(
    phys: SharedArrayBuffer,
    rootPfn: number,
    state: HartState,
    genWord?: TlbGenWord,
    code: JitShared | null = null,
    frames: number = Math.floor(phys.byteLength / 4096),
  ) {
    this.u8 = new Uint8Array(phys);
    this.i8 = new Int8Array(phys);
    this.u16 = new Uint16Array(phys);
    this.i16 = new Int16Array(phys);
    this.m32 = new Int32Array(phys);
    this.fetchTlb = state.fetchTlb;
    this.loadTlb = state.loadTlb;
    this.storeTlb = state.storeTlb;
    this.code = code;
    this.frames = frames;
    this.rootPfn = rootPfn;
    this.genWord = genWord ?? null;
    if (this.genWord) this.tlbGen = Atomics.load(this.genWord.k32, this.genWord.index);
  }

  /** Forget every translation (sfence.vma with no arguments). */
  flushTlb(): void {
    this.fetchTlb.flush();
    this.loadTlb.flush();
    this.storeTlb.flush();
  }

  /**
   * Flush if the kernel bumped the generation since the last flush, and
   * record the new one. Called at poll points and before returning to user
   * mode after a trap.
   *
   * @returns true when it flushed
   */
  checkTlbGen(): boolean {
    const w = this.genWord;
    if (w === null) return false;
    const gen = Atomics.load(w.k32, w.index);
    if (gen === this.tlbGen) return false;
    this.flushTlb();
    this.tlbGen = gen;
    return true;
  }

  /**
   * Translate `va` for `access`, through the TLB of that kind, walking and
   * filling it on a miss.
   *
   * @returns the physical byte address of `va`, or -1 with faultCause and
   *   faultVa set (page fault 12/13/15 or access fault 1/5/7)
   */
  translate(va: number, access: Access): number {
    const tlb = access === ACCESS_READ
      ? this.loadTlb
      : access === ACCESS_WRITE
      ? this.storeTlb
      : this.fetchTlb;
    const vp = va >>> 12;
    const e = vp & tlb.mask;
    if (tlb.tag[e] === vp) return (va + tlb.delta[e]!) >>> 0;
    const frame = sv32Walk(this.m32, this.rootPfn, va, access, this.frames);
    if (frame < 0) {
      this.faultCause = frame === WALK_PAGE_FAULT ? faultCause(access) : accessFaultCause(access);
      this.faultVa = va >>> 0;
      return -1;
    }
    // A code frame stays out of the store TLB: its stores must reach `store`.
    if (access !== ACCESS_WRITE || this.code === null || !this.code.isCode(frame >>> 12)) {
      tlb.fill(va, frame);
    }
    return frame + (va & 0xfff);
  }

  /**
   * After a store that did not go through the store TLB wrote physical
   * address `pa`: if its frame is code, bump the frame's generation (its
   * translations die) and set `codeStored`.
   */
  noteStore(pa: number): void {
    const code = this.code;
    if (code !== null && code.isCode(pa >>> 12) && code.noteChange(pa >>> 12)) {
      this.codeStored = true;
    }
  }

  /**
   * The slow path of lb/lh/lw/lbu/lhu: a TLB miss or a misaligned address.
   *
   * @param funct3 the load's funct3 (0 lb, 1 lh, 2 lw, 4 lbu, 5 lhu)
   * @returns the loaded value as the register holds it (int32); on a fault
   *   returns 0 with faultCause set
   */
  load(va: number, funct3: number): number {
    const n = widthOf(funct3);
    let v = 0;
    if ((va & (n - 1)) === 0) {
      const pa = this.translate(va, ACCESS_READ);
      if (pa < 0) return 0;
      v = n === 4 ? this.m32[pa >>> 2]! : n === 2 ? this.u16[pa >>> 1]! : this.u8[pa]!;
    } else {
      const lo = this.translate(va, ACCESS_READ);
      if (lo < 0) return 0;
      const last = (va + n - 1) | 0;
      let hi = lo;
      if ((last ^ va) >>> 12 !== 0) {
        // Crosses into the next page: tval is that page's first byte.
        const next = this.translate(last & ~0xfff, ACCESS_READ);
        if (next < 0) return 0;
        hi = next + ((va - (last & ~0xfff)) | 0);
      }
      for (let i = n - 1; i >= 0; i--) {
        const b = ((va + i) ^ va) >>> 12 === 0 ? this.u8[lo + i]! : this.u8[hi + i]!;
        v = (v << 8) | b;
      }
    }
    if (funct3 === 0) return (v << 24) >> 24;
    if (funct3 === 1) return (v << 16) >> 16;
    return v | 0;
  }

  /**
   * The slow path of sb/sh/sw. Every page touched is translated before any
   * byte is written.
   *
   * @returns true when stored; false with faultCause set
   */
  store(va: number, funct3: number, value: number): boolean {
    const n = widthOf(funct3);
    if ((va & (n - 1)) === 0) {
      const pa = this.translate(va, ACCESS_WRITE);
      if (pa < 0) return false;
      if (n === 4) this.m32[pa >>> 2] = value;
      else if (n === 2) this.u16[pa >>> 1] = value;
      else this.u8[pa] = value;
      this.noteStore(pa);
      return true;
    }
    const lo = this.translate(va, ACCESS_WRITE);
    if (lo < 0) return false;
    const last = (va + n - 1) | 0;
    let hi = lo;
    if ((last ^ va) >>> 12 !== 0) {
      const next = this.translate(last & ~0xfff, ACCESS_WRITE);
      if (next < 0) return false;
      hi = next + ((va - (last & ~0xfff)) | 0);
    }
    for (let i = 0; i < n; i++) {
      const b = (value >>> (8 * i)) & 0xff;
      if (((va + i) ^ va) >>> 12 === 0) this.u8[lo + i] = b;
      else this.u8[hi + i] = b;
    }
    this.noteStore(lo);
    if (hi !== lo) this.noteStore(hi);
    return true;
  }
}
