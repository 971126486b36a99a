/**
 * The hart's interfaces to the rest of the machine: HartEnv, what the kernel provides for traps, ecalls and polls, and HartOptions (see hart.ts).
 *
 * @module
 */

import { type Access } from "../abi/sv32.ts";
import { type VirtAddr } from "../abi/types.ts";
import { type TlbGenWord } from "./hart_mmu.ts";
import type { JitRuntime } from "./jit/runtime.ts";
import type { JitShared } from "./jit/shared.ts";
import { Hart } from "./hart.ts";

/** The kernel as the hart sees it. Each method runs in the hart's own thread. */
export interface HartEnv {
  /**
   * A page fault (cause 12/13/15) at `va`. `hart.pc` is the faulting
   * instruction.
   *
   * @returns true to retry the instruction (the mapping was fixed, or
   *   `hart.pc` was redirected, e.g. to a signal handler); false to stop `run`
   *   with "trap"
   */
  pageFault(va: VirtAddr, access: Access, cause: number): boolean;
  /**
   * ECALL from U-mode. `hart.pc` already points past the ecall; the kernel
   * reads a7 and a0-a5 from `hart.x`, writes a0, and may set `hart.pc`.
   *
   * @returns false to stop `run` with "exit"
   */
  ecall(hart: Hart): boolean;
  /**
   * Any other synchronous trap: illegal instruction (2, tval = the bits),
   * breakpoint (3, tval = pc), misaligned fetch target (0), misaligned LR
   * (4) or SC/AMO (6), access faults (1/5/7). `hart.pc` is the trapping
   * instruction.
   *
   * @returns true to resume at `hart.pc` (the env must have changed it or
   *   the cause), false to stop `run` with "trap"
   */
  trap(cause: number, tval: number): boolean;
  /**
   * Called on entry to `run` and every `pollInterval` instructions, after the hart has checked
   * the TLB generation, so the kernel can acknowledge a shootdown (publish
   * `hart.tlbGen`) and deliver signals.
   *
   * @returns false to stop `run` with "poll"
   */
  poll(hart: Hart): boolean;
  /**
   * Zicbom cbo.clean / cbo.flush (`op` CBO_CLEAN or CBO_FLUSH) of the
   * CBO_BLOCK-byte block at physical address `pa` (aligned), after the
   * access check passed: write it back to its persistence domain (DAX
   * persistence, src/fs/dax_sync.ts). Absent: a no-op, as on a machine
   * whose caches are coherent with memory.
   *
   * @returns true when the block was written back; false raises a store
   *   access fault (cause 7, tval the address), as a bus error would
   */
  cacheBlock?(pa: number, op: number): boolean;
}

export interface HartOptions {
  /** satp.PPN: frame of the root page table. */
  readonly rootPfn: number;
  /** First instruction. */
  readonly pc?: number;
  /** Entries per TLB (fetch, load, store each), a power of two. */
  readonly tlbEntries?: number;
  /** The mm's TLB generation word; the hart flushes when it changes. */
  readonly tlbGenWord?: TlbGenWord;
  /** Instructions between poll points. Bounds the latency of a TLB shootdown. */
  readonly pollInterval?: number;
  /** Frames of physical memory (RAM plus device); default: every frame of the buffer. */
  readonly frames?: number;
  /**
   * The translator's shared code marks, when the machine translates: the
   * MMU keeps code frames out of the store TLB even if this hart only
   * interprets. Implied by `jit`.
   */
  readonly code?: JitShared | null;
  /**
   * Tier 1: the runtime this hart binds to (its state buffer becomes the
   * hart's). It must have been made for the same physical memory and TLB
   * size. Absent or null: the hart only interprets.
   */
  readonly jit?: JitRuntime | null;
}
