/**
 * A tiny RV32IMA encoder for tests and benchmarks: each function returns one
 * 32-bit instruction word (uint32). Immediates are checked for range so a
 * test cannot silently encode something else.
 *
 * @module
 */

// ABI register numbers.
export const ZERO = 0, RA = 1, SP = 2, GP = 3, TP = 4;
export const T0 = 5, T1 = 6, T2 = 7, S0 = 8, S1 = 9;
export const A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, A6 = 16, A7 = 17;
export const S2 = 18, S3 = 19, S4 = 20, S5 = 21, T3 = 28, T4 = 29, T5 = 30, T6 = 31;

function checkImm(imm: number, bits: number, what: string): void {
  const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1) - 1;
  if (!Number.isInteger(imm) || imm < lo || imm > hi) throw new RangeError(`${what}: imm ${imm}`);
}

const r = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;

const i = (imm: number, rs1: number, f3: number, rd: number, op: number): number => {
  checkImm(imm, 12, "I");
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
};

const s = (imm: number, rs2: number, rs1: number, f3: number): number => {
  checkImm(imm, 12, "S");
  return ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    ((imm & 31) << 7) | 0x23) >>> 0;
};

const b = (imm: number, rs2: number, rs1: number, f3: number): number => {
  checkImm(imm, 13, "B");
  if (imm & 1) throw new RangeError(`B: odd offset ${imm}`);
  return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
    (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
};

export const lui = (rd: number, imm20: number): number =>
  (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0;
export const auipc = (rd: number, imm20: number): number =>
  (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0;
export const jal = (rd: number, off: number): number => {
  checkImm(off, 21, "J");
  if (off & 1) throw new RangeError(`J: odd offset ${off}`);
  return ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) |
    (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
};
export const jalr = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 0, rd, 0x67);

export const beq = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 0);
export const bne = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 1);
export const blt = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 4);
export const bge = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 5);
export const bltu = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 6);
export const bgeu = (rs1: number, rs2: number, off: number): number => b(off, rs2, rs1, 7);

export const lb = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 0, rd, 0x03);
export const lh = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 1, rd, 0x03);
export const lw = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 2, rd, 0x03);
export const lbu = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 4, rd, 0x03);
export const lhu = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 5, rd, 0x03);
export const sb = (rs2: number, rs1: number, imm: number): number => s(imm, rs2, rs1, 0);
export const sh = (rs2: number, rs1: number, imm: number): number => s(imm, rs2, rs1, 1);
export const sw = (rs2: number, rs1: number, imm: number): number => s(imm, rs2, rs1, 2);

export const addi = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 0, rd, 0x13);
export const slti = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 2, rd, 0x13);
export const sltiu = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 3, rd, 0x13);
export const xori = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 4, rd, 0x13);
export const ori = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 6, rd, 0x13);
export const andi = (rd: number, rs1: number, imm: number): number => i(imm, rs1, 7, rd, 0x13);
export const slli = (rd: number, rs1: number, sh: number): number => r(0, sh, rs1, 1, rd, 0x13);
export const srli = (rd: number, rs1: number, sh: number): number => r(0, sh, rs1, 5, rd, 0x13);
export const srai = (rd: number, rs1: number, sh: number): number => r(0x20, sh, rs1, 5, rd, 0x13);

const op = (f7: number, f3: number) => (rd: number, rs1: number, rs2: number): number =>
  r(f7, rs2, rs1, f3, rd, 0x33);
export const add = op(0, 0), sub = op(0x20, 0), sll = op(0, 1), slt = op(0, 2), sltu = op(0, 3);
export const xor = op(0, 4), srl = op(0, 5), sra = op(0x20, 5), or = op(0, 6), and = op(0, 7);
export const mul = op(1, 0), mulh = op(1, 1), mulhsu = op(1, 2), mulhu = op(1, 3);
export const div = op(1, 4), divu = op(1, 5), rem = op(1, 6), remu = op(1, 7);

const amo = (f5: number) => (rd: number, rs2: number, rs1: number): number =>
  r(f5 << 2, rs2, rs1, 2, rd, 0x2f);
export const lrW = (rd: number, rs1: number): number => r(0x02 << 2, 0, rs1, 2, rd, 0x2f);
export const scW = amo(0x03);
export const amoswapW = amo(0x01), amoaddW = amo(0x00), amoxorW = amo(0x04);
export const amoandW = amo(0x0c), amoorW = amo(0x08), amominW = amo(0x10);
export const amomaxW = amo(0x14), amominuW = amo(0x18), amomaxuW = amo(0x1c);

export const fence = (): number => 0x0ff0000f;
export const fenceI = (): number => 0x0000100f;
/** Zicbom cbo.* (MISC-MEM, funct3 2, rd x0): op 0 inval, 1 clean, 2 flush; address in rs1. */
export const cbo = (op: number, rs1: number): number => i(op, rs1, 2, 0, 0x0f);
export const ecall = (): number => 0x00000073;
export const ebreak = (): number => 0x00100073;
/** csrr rd, csr (csrrs rd, csr, x0). */
export const csrr = (rd: number, csr: number): number =>
  ((csr << 20) | (2 << 12) | (rd << 7) | 0x73) >>> 0;
export const CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02;
export const CSR_CYCLEH = 0xc80, CSR_INSTRETH = 0xc82;

/** Load a full 32-bit constant: lui + addi (two words). */
export function li(rd: number, value: number): number[] {
  const v = value | 0;
  const lo = (v << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  return [lui(rd, hi), addi(rd, rd, lo)];
}

/**
 * A program under construction, with backward and forward labels.
 *
 * @example
 * ```ts
 * const p = new Program();
 * p.emit(...li(T0, 10));
 * p.label("top");
 * p.emit(addi(T0, T0, -1));
 * p.branch((off) => bne(T0, ZERO, off), "top");
 * ```
 */
export class Program {
  readonly words: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; make: (off: number) => number }[] = [];

  emit(...w: number[]): this {
    this.words.push(...w);
    return this;
  }
  label(name: string): this {
    this.labels.set(name, this.words.length);
    return this;
  }
  /** Emit a branch or jal to `label`; `make` builds it from the byte offset. */
  branch(make: (off: number) => number, label: string): this {
    this.fixups.push({ at: this.words.length, label, make });
    this.words.push(0);
    return this;
  }
  /** Byte offset of `label` from the start. */
  offsetOf(label: string): number {
    const at = this.labels.get(label);
    if (at === undefined) throw new Error(`no label ${label}`);
    return at * 4;
  }
  /** Resolve the branches and return the instruction words. */
  assemble(): Uint32Array {
    for (const f of this.fixups) {
      this.words[f.at] = f.make(this.offsetOf(f.label) - f.at * 4);
    }
    return Uint32Array.from(this.words);
  }
}
