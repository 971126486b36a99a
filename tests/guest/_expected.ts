/**
 * What each static fixture (fixtures/static/*) must print and how it must
 * exit, derived here from the C standard, the RISC-V ISA manual and the
 * programs' own definitions rather than from a previous run. qemu_test.ts
 * checks qemu-riscv32 against these cases; a differential test can run the
 * same cases on the xip hart.
 *
 * @module
 */

/** One run of a static fixture. */
export interface StaticCase {
  /** Test name. */
  readonly name: string;
  /** File under fixtures/static. */
  readonly program: string;
  /** argv[0] to present (qemu-riscv32 -0), so outputs do not depend on host paths. */
  readonly argv0: string;
  readonly args: readonly string[];
  readonly stdout: string;
  /** Exit status; 139 (128 + SIGSEGV) for a process killed by SIGSEGV. */
  readonly status: number;
}

const u32 = (v: number | bigint): number => Number(BigInt.asUintN(32, BigInt(v)));
const hex8 = (v: number | bigint): string => u32(v).toString(16).padStart(8, "0");

// ---- compute: the same generator, CRC, matrix and sort as libcompute ----

/** One step of libcompute's LCG (state * 1664525 + 1013904223 mod 2^32). */
function lcgNext(state: { s: number }): number {
  state.s = (Math.imul(state.s, 1664525) + 1013904223) >>> 0;
  return state.s;
}

/** lcg_fill: n bytes, each LCG word stored little-endian. */
function lcgFill(state: { s: number }, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = lcgNext(state);
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (w >>> (8 * k)) & 0xff;
  }
  return out;
}

/** Bitwise CRC-32 (reflected, polynomial 0xEDB88320), no table, continuing from crc. */
export function crc32(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
  }
  return ~c >>> 0;
}

function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** The output of `compute ITERATIONS` (guest/bin/compute.c). */
export function computeOutput(iterations: number): string {
  const BUF = 65536, N = 24, SORT_N = 2048;
  const st = { s: 12345 };
  let crc = 0, mat = 0, sorted = 0;
  for (let it = 0; it < iterations; it++) {
    crc = crc32(crc, lcgFill(st, BUF));

    const a = words(lcgFill(st, 4 * N * N));
    const b = words(lcgFill(st, 4 * N * N));
    let sum = 0;
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        let c = 0;
        for (let k = 0; k < N; k++) c = (c + Math.imul(a[i * N + k]!, b[k * N + j]!)) >>> 0;
        sum = (sum + Math.imul(c, i * N + j + 1)) >>> 0;
      }
    }
    mat = (mat + sum) >>> 0;

    const v = Int32Array.from(new Int32Array(lcgFill(st, 4 * SORT_N).buffer)).sort();
    let h = 17;
    for (const x of v) h = (Math.imul(h, 31) + (x >>> 0)) >>> 0;
    sorted = (sorted + h) >>> 0;
  }
  return [
    "libcompute initialized: yes",
    `iterations: ${iterations}`,
    `crc32: ${hex8(crc)}`,
    `matmul: ${hex8(mat)}`,
    `sort: ${hex8(sorted)}`,
    "",
  ].join("\n");
}

// ---- mext: RV32M semantics (ISA manual, "M" extension) ----

const MEXT_VALUES = [0, 1, 0xffffffff, 7, 0xfffffff9, 0x7fffffff, 0x80000000, 0x12345678];

const s32 = (v: number): bigint => BigInt.asIntN(32, BigInt(v));
const bu = (v: number): bigint => BigInt(v >>> 0);

/** Division rounds toward zero; x/0 is all ones, x%0 is x; INT_MIN/-1 overflows to INT_MIN, remainder 0. */
const MEXT_OPS: ReadonlyArray<readonly [string, (a: number, b: number) => bigint]> = [
  ["mul", (a, b) => s32(a) * s32(b)],
  ["mulh", (a, b) => (s32(a) * s32(b)) >> 32n],
  ["mulhsu", (a, b) => (s32(a) * bu(b)) >> 32n],
  ["mulhu", (a, b) => (bu(a) * bu(b)) >> 32n],
  ["div", (a, b) => {
    if (s32(b) === 0n) return -1n;
    if (s32(a) === -(2n ** 31n) && s32(b) === -1n) return s32(a);
    return s32(a) / s32(b);
  }],
  ["divu", (a, b) => (bu(b) === 0n ? 0xffffffffn : bu(a) / bu(b))],
  ["rem", (a, b) => {
    if (s32(b) === 0n) return s32(a);
    if (s32(a) === -(2n ** 31n) && s32(b) === -1n) return 0n;
    return s32(a) % s32(b);
  }],
  ["remu", (a, b) => (bu(b) === 0n ? bu(a) : bu(a) % bu(b))],
];

export function mextOutput(): string {
  const lines: string[] = [];
  for (const [name, fn] of MEXT_OPS) {
    for (const a of MEXT_VALUES) {
      for (const b of MEXT_VALUES) lines.push(`${name} ${hex8(a)} ${hex8(b)} = ${hex8(fn(a, b))}`);
    }
  }
  lines.push(`mext: ${lines.length} results`, "");
  return lines.join("\n");
}

// ---- amo: RV32A semantics ----

const AMO_VALUES = [0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0x12345678];

const AMO_OPS: ReadonlyArray<readonly [string, (m: number, v: number) => number | bigint]> = [
  ["amoswap", (_m, v) => v],
  ["amoadd", (m, v) => m + v],
  ["amoxor", (m, v) => (m ^ v) >>> 0],
  ["amoand", (m, v) => (m & v) >>> 0],
  ["amoor", (m, v) => (m | v) >>> 0],
  ["amomin", (m, v) => (s32(m) < s32(v) ? m : v)],
  ["amomax", (m, v) => (s32(m) > s32(v) ? m : v)],
  ["amominu", (m, v) => Math.min(m, v)],
  ["amomaxu", (m, v) => Math.max(m, v)],
];

export function amoOutput(): string {
  const lines: string[] = [];
  for (const [name, fn] of AMO_OPS) {
    for (const m of AMO_VALUES) {
      for (const v of AMO_VALUES) {
        lines.push(`${name} ${hex8(m)} ${hex8(v)} -> old ${hex8(m)} new ${hex8(fn(m, v))}`);
      }
    }
  }
  lines.push(
    "lr/sc: 1000 increments give 1000",
    // lr reads 5, the first sc stores 6, the second sc has no reservation.
    "lr/sc: loaded 5, second sc failed, memory 6",
    "mutex: trylock while held 0, after unlock 1, state 0",
    "",
  );
  return lines.join("\n");
}

// ---- format: printf per C11 7.21.6.1, in the order of guest/tests/format.c ----

const FORMAT_CASES: readonly string[] = [
  "0",
  "-42",
  "2147483647",
  "-2147483648",
  "4294967295",
  "deadbeef",
  "DEADBEEF",
  "0xff",
  "0XFF",
  "0", // # adds no prefix to zero
  "10",
  "010",
  "   42",
  "42   |",
  "00042",
  "-0042",
  "+42",
  " 42",
  "007",
  "    -007",
  "     007", // 0 flag ignored when a precision is given
  "", // precision 0 and value 0: no digits
  "-123456789",
  "4000000000",
  "-9223372036854775808",
  "18446744073709551615",
  "123456789abcdef",
  "44", // 300 as signed char
  "4464", // 70000 as unsigned short
  "12345",
  "xip",
  "   xip",
  "xip   |",
  "xi",
  "(null)", // libxc's choice, as glibc
  "A",
  "  B",
  "C  |",
  "%",
  "0x1234",
  "0x0", // libxc's choice for a null %p
  "    42",
  "42    |",
  "abc",
  "1 two 3 4",
  "      00ab",
  "+5    |",
];

export function formatOutput(): string {
  const a = 1234567890123456789n, b = 1000000007n, u = 2n ** 64n - 1n;
  const lines = FORMAT_CASES.map((s, i) =>
    `${String(i + 1).padStart(2, "0")} [${s}] ${new TextEncoder().encode(s).length}`
  );
  lines.push(
    "snprintf into 5 bytes: [abcd] 8",
    "snprintf into nothing: 5",
    'strtol("  -123abc", 10) = -123 rest [abc] errno 0',
    'strtol("0x1F", 0) = 31 rest [] errno 0',
    'strtol("0777", 0) = 511 rest [] errno 0',
    'strtol("z", 36) = 35 rest [] errno 0',
    'strtol("99999999999", 10) = 2147483647 rest [] errno 34', // ERANGE
    'strtol("-99999999999", 10) = -2147483648 rest [] errno 34',
    'strtol("junk", 10) = 0 rest [junk] errno 0',
    'strtoul("ffffffff", 16) = 4294967295',
    'strtoll("-9223372036854775808") = -9223372036854775808',
    'atoi("42") = 42',
    // BigInt division truncates toward zero, as C does.
    `div64: ${a / b} ${a % b} ${-a / b} ${-a % b}`,
    `udiv64: ${u / 10n} ${u % 10n}`,
    "",
  );
  return lines.join("\n");
}

// ---- alloc ----

export function allocOutput(): string {
  let sum = 0;
  for (let i = 0; i < 1 << 20; i++) sum = (sum + ((i * 7) & 0xff)) >>> 0;
  return [
    "small blocks: intact",
    "calloc: zeroed",
    "realloc: xip-data",
    `big block: 1048576 bytes, sum ${sum}`,
    "strdup: duplicate me",
    "",
  ].join("\n");
}

/** Every static fixture run, with its expected stdout and exit status. */
export const STATIC_CASES: readonly StaticCase[] = [
  {
    name: "hello prints the greeting and its argv",
    program: "hello",
    argv0: "/bin/hello",
    args: ["one", "two words"],
    stdout: "hello from xip\nargv[0] = /bin/hello\nargv[1] = one\nargv[2] = two words\n",
    status: 0,
  },
  {
    name: "compute prints the checksums of one iteration",
    program: "compute",
    argv0: "/bin/compute",
    args: [],
    stdout: computeOutput(1),
    status: 0,
  },
  {
    name: "compute folds every iteration into the checksums",
    program: "compute",
    argv0: "/bin/compute",
    args: ["3"],
    stdout: computeOutput(3),
    status: 0,
  },
  {
    name: "compute rejects a bad iteration count with status 2",
    program: "compute",
    argv0: "/bin/compute",
    args: ["0"],
    stdout: "",
    status: 2,
  },
  {
    name: "mext gives the RV32M results, division by zero and overflow included",
    program: "mext",
    argv0: "mext",
    args: [],
    stdout: mextOutput(),
    status: 0,
  },
  {
    name: "amo gives the RV32A results and LR/SC reservation rules",
    program: "amo",
    argv0: "amo",
    args: [],
    stdout: amoOutput(),
    status: 0,
  },
  {
    name: "format prints every printf case as C11 specifies",
    program: "format",
    argv0: "format",
    args: [],
    stdout: formatOutput(),
    status: 0,
  },
  {
    name: "alloc keeps blocks intact across free, calloc, realloc and mmap",
    program: "alloc",
    argv0: "alloc",
    args: [],
    stdout: allocOutput(),
    status: 0,
  },
  {
    name: "exitcode runs atexit handlers in reverse, then destructors, flushes, exits 42",
    program: "exitcode",
    argv0: "exitcode",
    args: [],
    stdout: "main: returning 42\natexit: registered second, runs first\n" +
      "atexit: registered first, runs second\n" +
      "destructor: runs after the atexit handlers (no newline)",
    status: 42,
  },
  ...["null", "text", "unmapped"].map((mode) => ({
    name: `segv ${mode} dies with SIGSEGV after flushing its message`,
    program: "segv",
    argv0: "segv",
    args: [mode],
    stdout: `segv: storing to the ${mode} address\n`,
    status: 139,
  })),
];
