/**
 * Sv32 paging facts (RISC-V privileged spec, "Sv32: Page-Based 32-bit
 * Virtual-Memory Systems") and RISC-V trap causes.
 *
 * A virtual address splits into two 10-bit indices and a 12-bit offset:
 *
 * ```
 *  31        22 21        12 11           0
 * +------------+------------+--------------+
 * |   VPN[1]   |   VPN[0]   |    offset    |
 * +------------+------------+--------------+
 * ```
 *
 * A PTE holds a 22-bit PPN and ten flag bits. Bits 8-9 (RSW) belong to
 * software; xip uses bit 8 for `pte_special`, as Linux's riscv port does:
 *
 * ```
 *  31                     10 9   8 7 6 5 4 3 2 1 0
 * +-------------------------+-----+-+-+-+-+-+-+-+-+
 * |          PPN            | RSW |D|A|G|U|X|W|R|V|
 * +-------------------------+-----+-+-+-+-+-+-+-+-+
 *                             ^ bit 8: SPECIAL
 * ```
 *
 * A PTE with V set and R, W, X all clear points to the next level.
 *
 * @module
 */

import { type Pfn, type Pte, type VirtAddr } from "./types.ts";

export const PTE_V = 1 << 0;
export const PTE_R = 1 << 1;
export const PTE_W = 1 << 2;
export const PTE_X = 1 << 3;
export const PTE_U = 1 << 4;
export const PTE_G = 1 << 5;
export const PTE_A = 1 << 6;
export const PTE_D = 1 << 7;
/** Software bit: the frame has no struct page to refcount (Linux's pte_special). */
export const PTE_SPECIAL = 1 << 8;
export const PTE_FLAGS_MASK = 0x3ff;
export const PTE_PPN_SHIFT = 10;

/** Entries in one page-table page (4 KiB of 4-byte PTEs). */
export const PTES_PER_TABLE = 1024;

/** Index into the level-`level` table for `va` (level 1 is the root). */
export const px = (level: 0 | 1, va: VirtAddr): number => (va >>> (12 + 10 * level)) & 0x3ff;
/** Frame named by a PTE. */
export const pteToPfn = (pte: Pte): Pfn => (pte >>> PTE_PPN_SHIFT) as Pfn;
/** Build a PTE naming `pfn` with `flags`. */
export const pfnToPte = (pfn: Pfn, flags: number): Pte =>
  (((pfn << PTE_PPN_SHIFT) | (flags & PTE_FLAGS_MASK)) >>> 0) as Pte;
/** True for a valid PTE that points to the next level rather than a leaf. */
export const pteIsTable = (pte: Pte): boolean =>
  (pte & PTE_V) !== 0 && (pte & (PTE_R | PTE_W | PTE_X)) === 0;
export const pteIsLeaf = (pte: Pte): boolean =>
  (pte & PTE_V) !== 0 && (pte & (PTE_R | PTE_W | PTE_X)) !== 0;
export const pteIsSpecial = (pte: Pte): boolean => (pte & PTE_SPECIAL) !== 0;

/**
 * Access kinds. Their values are the PTE permission bits they need, so a
 * permission check is one AND: `(pte & access) !== 0`.
 */
export const ACCESS_READ = PTE_R;
export const ACCESS_WRITE = PTE_W;
export const ACCESS_EXEC = PTE_X;
export type Access = typeof ACCESS_READ | typeof ACCESS_WRITE | typeof ACCESS_EXEC;

/** mcause/scause values for synchronous exceptions. */
export const CAUSE_MISALIGNED_FETCH = 0;
export const CAUSE_FETCH_ACCESS = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_MISALIGNED_LOAD = 4;
export const CAUSE_LOAD_ACCESS = 5;
export const CAUSE_MISALIGNED_STORE = 6;
export const CAUSE_STORE_ACCESS = 7;
export const CAUSE_ECALL_U = 8;
export const CAUSE_FETCH_PAGE_FAULT = 12;
export const CAUSE_LOAD_PAGE_FAULT = 13;
export const CAUSE_STORE_PAGE_FAULT = 15;

/**
 * Zicbom cache-block operations: MISC-MEM (opcode 0x0f) with funct3 2, rd
 * x0, the operation in imm[11:0] and the address in rs1; the block is
 * CBO_BLOCK bytes. cbo.inval (0) is not enabled for U-mode (Linux leaves
 * envcfg.CBIE clear), and cbo.zero (Zicboz, 4) is not implemented: both
 * are illegal instructions.
 */
export const CBO_CLEAN = 1;
export const CBO_FLUSH = 2;
export const CBO_BLOCK = 64;

/** The page-fault cause for an access kind. */
export function faultCause(access: Access): number {
  if (access === ACCESS_EXEC) return CAUSE_FETCH_PAGE_FAULT;
  if (access === ACCESS_WRITE) return CAUSE_STORE_PAGE_FAULT;
  return CAUSE_LOAD_PAGE_FAULT;
}
