/**
 * A minimal WebAssembly binary writer: the opcodes and encodings the
 * translator emits (MVP, multi-memory, threads), and the module framing.
 * Nothing here knows RISC-V.
 *
 * Multi-memory: a load or store names its memory in the memarg (alignment
 * flags with bit 6 set, then the memory index), so memory 0 (the machine's
 * physical memory, shared) and memory 1 (the hart's private state) are
 * both one instruction away.
 *
 * @module
 */

/** Opcodes used by the emitter (core spec numbering). */
export const OP = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Load8S: 0x2c,
  i32Load8U: 0x2d,
  i32Load16S: 0x2e,
  i32Load16U: 0x2f,
  i32Store: 0x36,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
} as const;

/** Atomic opcodes, after the 0xfe prefix. */
export const ATOMIC = {
  prefix: 0xfe,
  i32Load: 0x10,
  i32RmwAdd: 0x1e,
  i32RmwAnd: 0x2c,
  i32RmwOr: 0x33,
  i32RmwXor: 0x3a,
  i32RmwXchg: 0x41,
  i32RmwCmpxchg: 0x48,
} as const;

/** Value and block types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const BLOCK_EMPTY = 0x40;

/** A growable byte buffer with the LEB128 encodings of the binary format. */
export class WasmBuf {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  #room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const b = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    b.set(this.bytes.subarray(0, this.length));
    this.bytes = b;
  }

  u8(b: number): this {
    this.#room(1);
    this.bytes[this.length++] = b;
    return this;
  }

  /** Unsigned LEB128 of a uint32. */
  u32(v: number): this {
    this.#room(5);
    let x = v >>> 0;
    do {
      const b = x & 0x7f;
      x >>>= 7;
      this.bytes[this.length++] = x !== 0 ? b | 0x80 : b;
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 of an int32. */
  s32(v: number): this {
    this.#room(5);
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
      this.bytes[this.length++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  append(b: Uint8Array | WasmBuf): this {
    const src = b instanceof WasmBuf ? b.bytes.subarray(0, b.length) : b;
    this.#room(src.length);
    this.bytes.set(src, this.length);
    this.length += src.length;
    return this;
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).append(b);
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  // Instructions.

  op(o: number): this {
    return this.u8(o);
  }
  i32Const(v: number): this {
    return this.u8(OP.i32Const).s32(v);
  }
  localGet(i: number): this {
    return this.u8(OP.localGet).u32(i);
  }
  localSet(i: number): this {
    return this.u8(OP.localSet).u32(i);
  }
  localTee(i: number): this {
    return this.u8(OP.localTee).u32(i);
  }
  br(depth: number): this {
    return this.u8(OP.br).u32(depth);
  }
  brIf(depth: number): this {
    return this.u8(OP.brIf).u32(depth);
  }
  /** `block`, `loop` or `if` with a block type (BLOCK_EMPTY or a value type). */
  open(kind: number, type: number = BLOCK_EMPTY): this {
    return this.u8(kind).u8(type);
  }
  end(): this {
    return this.u8(OP.end);
  }
  /**
   * A load or store with its memarg: `align` is log2 of the natural
   * alignment, `mem` the memory index, `offset` a constant added to the address.
   */
  mem(opcode: number, align: number, mem: number, offset = 0): this {
    this.u8(opcode);
    return this.memarg(align, mem, offset);
  }
  /** An atomic memory instruction (0xfe prefix). */
  atomic(opcode: number, align: number, mem: number, offset = 0): this {
    this.u8(ATOMIC.prefix).u32(opcode);
    return this.memarg(align, mem, offset);
  }
  memarg(align: number, mem: number, offset: number): this {
    if (mem === 0) return this.u32(align).u32(offset);
    return this.u32(align | 0x40).u32(mem).u32(offset);
  }
}

/** A function import of the module: `module.field` of type index `type`. */
export interface FuncImport {
  module: string;
  field: string;
  type: number;
}

/** A memory import: limits in 64 KiB pages; `shared` needs `max`. */
export interface MemImport {
  module: string;
  field: string;
  min: number;
  max?: number;
  shared?: boolean;
}

/** A funcref table import of at least `min` elements. */
export interface TableImport {
  module: string;
  field: string;
  min: number;
}

/** A function type: parameter and result value types. */
export interface FuncType {
  params: number[];
  results: number[];
}

/** What `wasmModule` frames: one defined function, exported as `exportName`. */
export interface ModuleSpec {
  types: FuncType[];
  funcImports: FuncImport[];
  memImports: MemImport[];
  tableImports?: TableImport[];
  /** Type index of the defined function. */
  funcType: number;
  /** Its locals after the parameters, as [count, value type] runs. */
  locals: [number, number][];
  /** Its body, up to and including the final `end`. */
  body: WasmBuf;
  exportName: string;
}

function section(out: WasmBuf, id: number, content: WasmBuf): void {
  out.u8(id).u32(content.length).append(content);
}

/** Encode a module with imports and one exported function. */
export function wasmModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new WasmBuf(spec.body.length + 256);
  out.append(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));

  const types = new WasmBuf();
  types.u32(spec.types.length);
  for (const t of spec.types) {
    types.u8(0x60).u32(t.params.length);
    for (const p of t.params) types.u8(p);
    types.u32(t.results.length);
    for (const r of t.results) types.u8(r);
  }
  section(out, 1, types);

  const imports = new WasmBuf();
  const tables = spec.tableImports ?? [];
  imports.u32(spec.funcImports.length + spec.memImports.length + tables.length);
  for (const f of spec.funcImports) imports.name(f.module).name(f.field).u8(0x00).u32(f.type);
  for (const m of spec.memImports) {
    imports.name(m.module).name(m.field).u8(0x02);
    const flags = (m.max !== undefined ? 1 : 0) | (m.shared ? 2 : 0);
    imports.u8(flags).u32(m.min);
    if (m.max !== undefined) imports.u32(m.max);
  }
  for (const t of tables) {
    imports.name(t.module).name(t.field).u8(0x01).u8(0x70).u8(0x00).u32(t.min);
  }
  section(out, 2, imports);

  const funcs = new WasmBuf();
  funcs.u32(1).u32(spec.funcType);
  section(out, 3, funcs);

  const exports = new WasmBuf();
  exports.u32(1).name(spec.exportName).u8(0x00).u32(spec.funcImports.length);
  section(out, 7, exports);

  const fn = new WasmBuf(spec.body.length + 64);
  fn.u32(spec.locals.length);
  for (const [n, t] of spec.locals) fn.u32(n).u8(t);
  fn.append(spec.body);
  const code = new WasmBuf(fn.length + 8);
  code.u32(1).u32(fn.length).append(fn);
  section(out, 10, code);
  const bytes = new Uint8Array(out.length);
  bytes.set(out.view());
  return bytes;
}
