/**
 * The arithmetic of the M and A extensions that is not one JS operator.
 *
 * Registers are int32. The high-half multiplies are exact without BigInt:
 * each operand is split into 16-bit halves, so every partial product is
 * below 2^32 and every sum below 2^53, exact in a double.
 *
 * @module
 */

/** High 32 bits of the unsigned 64-bit product of `a` and `b` (mulhu), as int32. */
export function mulhu(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16;
  const bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl;
  const hl = ah * bl;
  const lh = al * bh;
  // Bits 16..47 of the product, before the carry into the high word.
  const mid = (ll >>> 16) + (hl & 0xffff) + (lh & 0xffff);
  return (ah * bh + (hl >>> 16) + (lh >>> 16) + Math.floor(mid / 65536)) | 0;
}

/** mulh: high half of signed × signed. */
export function mulh(a: number, b: number): number {
  // Reading a negative operand as unsigned adds 2^32 to it, which adds the
  // other operand to the high word; take those back out.
  return (mulhu(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** mulhsu: high half of signed `a` × unsigned `b`. */
export function mulhsu(a: number, b: number): number {
  return (mulhu(a, b) - (a < 0 ? b : 0)) | 0;
}

/** div: division by zero gives -1; INT_MIN / -1 overflows to INT_MIN. */
export function div(a: number, b: number): number {
  if (b === 0) return -1;
  if (b === -1) return -a | 0; // also INT_MIN / -1 = INT_MIN
  return (a / b) | 0;
}

/** divu: division by zero gives 2^32 - 1. */
export function divu(a: number, b: number): number {
  if (b === 0) return -1;
  return ((a >>> 0) / (b >>> 0)) | 0;
}

/** rem: x % 0 is x; INT_MIN % -1 is 0. The sign follows the dividend, as JS's %. */
export function rem(a: number, b: number): number {
  if (b === 0) return a;
  if (b === -1) return 0;
  return (a % b) | 0;
}

/** remu: x % 0 is x. */
export function remu(a: number, b: number): number {
  if (b === 0) return a;
  return ((a >>> 0) % (b >>> 0)) | 0;
}

/** funct5 of amomin.w, amomax.w, amominu.w, amomaxu.w. */
export const AMO_MIN = 0x10;
export const AMO_MAX = 0x14;
export const AMO_MINU = 0x18;
export const AMO_MAXU = 0x1c;

/**
 * amomin/max[u].w as a compareExchange loop on word `w` of the physical
 * buffer: Atomics has no min or max.
 *
 * @returns the old value of the word
 */
export function amoMinMax(m32: Int32Array, w: number, b: number, funct5: number): number {
  for (;;) {
    const old = Atomics.load(m32, w);
    let v: number;
    if (funct5 === AMO_MIN) v = old < b ? old : b;
    else if (funct5 === AMO_MAX) v = old > b ? old : b;
    else if (funct5 === AMO_MINU) v = (old >>> 0) < (b >>> 0) ? old : b;
    else v = (old >>> 0) > (b >>> 0) ? old : b;
    if (Atomics.compareExchange(m32, w, old, v) === old) return old;
  }
}
