/**
 * RISC-V integer registers by their psABI names (x0..x31), so that kernel
 * code says `regs[REG_A0]` where it means the first argument, never
 * `regs[10]`. The syscall ABI: the number in a7, arguments in a0..a5, the
 * result in a0.
 *
 * @module
 */

export const REG_ZERO = 0;
/** Return address. */
export const REG_RA = 1;
/** Stack pointer. */
export const REG_SP = 2;
/** Global pointer. */
export const REG_GP = 3;
/** Thread pointer (TLS). */
export const REG_TP = 4;
export const REG_T0 = 5;
export const REG_T1 = 6;
export const REG_T2 = 7;
/** s0, the frame pointer. */
export const REG_S0 = 8;
export const REG_S1 = 9;
export const REG_A0 = 10;
export const REG_A1 = 11;
export const REG_A2 = 12;
export const REG_A3 = 13;
export const REG_A4 = 14;
export const REG_A5 = 15;
export const REG_A6 = 16;
export const REG_A7 = 17;
export const REG_S2 = 18;
export const REG_S11 = 27;
export const REG_T3 = 28;
export const REG_T6 = 31;

/** Number of integer registers. */
export const NREGS = 32;
