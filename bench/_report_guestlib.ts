/**
 * Synthetic guest libraries for the memory-footprint measurement: a shared
 * library `libpad.so` whose text is a sled of `nop`s of a chosen size ending
 * in `ret`, and a libc-free program `bin/pad DEADLINE_MS` that calls the
 * sled once (so every text page is fetched, and faulted in where text is
 * mapped) and then spins on clock_gettime until the wall clock passes
 * DEADLINE_MS (ms since the epoch), so that every process of a run is alive
 * at the same time and the peak-RAM counter sees them all.
 *
 * Built at bench time with Debian's clang and ld.lld, the flags of
 * guest/build.ts. Without them, buildPadRoots returns the reason.
 *
 * @module
 */

/** Flags as in guest/build.ts: RV32IMA, freestanding, no relaxation. */
const CFLAGS = [
  "--target=riscv32-unknown-linux-gnu",
  "-march=rv32ima",
  "-mabi=ilp32",
  "-O2",
  "-ffreestanding",
  "-fno-builtin",
  "-nostdlib",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-unwind-tables",
  "-mno-relax",
];
const LDFLAGS = ["--build-id=none", "-z", "max-page-size=4096", "-z", "now", "--no-relax"];

const NOP = "0x00000013"; // addi x0, x0, 0

/** The library: `sled` runs textBytes/4 - 1 nops and returns. */
function libSource(textBytes: number): string {
  const nops = textBytes / 4 - 1;
  return `__asm__(
  "  .text\\n"
  "  .globl sled\\n"
  "  .type sled, @function\\n"
  "sled:\\n"
  "  .fill ${nops}, 4, ${NOP}\\n"
  "  ret\\n"
  "  .size sled, . - sled\\n");
`;
}

/** The program: call the sled, spin until argv[1] (ms on the epoch), exit 0. */
const PROGRAM = `extern void sled(void);

static long sys2(long n, long a, long b) {
  register long a7 __asm__("a7") = n;
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1) : "memory");
  return a0;
}

static long long now_ms(void) {
  long long ts[2];
  sys2(403, 0, (long)ts); /* clock_gettime64(CLOCK_REALTIME) */
  return ts[0] * 1000 + (long)ts[1] / 1000000;
}

__attribute__((used)) void pad_main(long *sp) {
  long long deadline = 0;
  if (sp[0] > 1) {
    for (const char *p = (const char *)sp[2]; *p >= '0' && *p <= '9'; p++) {
      deadline = deadline * 10 + (*p - '0');
    }
  }
  sled();
  while (now_ms() < deadline) {
  }
  sys2(94, 0, 0); /* exit_group(0) */
  for (;;) {
  }
}

__asm__(
  "  .text\\n"
  "  .globl _start\\n"
  "  .type _start, @function\\n"
  "_start:\\n"
  "  mv a0, sp\\n"
  "  andi sp, sp, -16\\n"
  "  call pad_main\\n");
`;

async function run(cmd: string, args: string[], cwd: string): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
    if (out.success) return null;
    return `${cmd} failed: ${new TextDecoder().decode(out.stderr).split("\n")[0]}`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return `${cmd} not installed`;
    throw e;
  }
}

/** One root tree per text size: bin/pad and lib/libpad.so. */
export interface PadRoot {
  textBytes: number;
  dir: string;
}

/**
 * Build a root tree (bin/pad, lib/libpad.so) for every size in `sizes`
 * (bytes, multiples of 4096) under a fresh temporary directory.
 *
 * @returns the trees, or a one-line reason (toolchain missing, build failed)
 */
export async function buildPadRoots(sizes: number[]): Promise<PadRoot[] | string> {
  const work = await Deno.makeTempDir({ prefix: "xip-bench-pad-" });
  await Deno.writeTextFile(`${work}/pad.c`, PROGRAM);
  const why = await run("clang", [...CFLAGS, "-fPIE", "-c", "pad.c", "-o", "pad.o"], work);
  if (why !== null) return why;
  const roots: PadRoot[] = [];
  for (const size of sizes) {
    const dir = `${work}/root-${size}`;
    await Deno.mkdir(`${dir}/bin`, { recursive: true });
    await Deno.mkdir(`${dir}/lib`, { recursive: true });
    await Deno.writeTextFile(`${work}/lib-${size}.c`, libSource(size));
    const steps: [string, string[]][] = [
      ["clang", [...CFLAGS, "-fPIC", "-c", `lib-${size}.c`, "-o", `lib-${size}.o`]],
      ["ld.lld", [
        "-shared",
        "--hash-style=both",
        ...LDFLAGS,
        "-soname",
        "libpad.so",
        "-o",
        `${dir}/lib/libpad.so`,
        `lib-${size}.o`,
      ]],
      ["ld.lld", [
        "-pie",
        "--no-dynamic-linker",
        ...LDFLAGS,
        "-o",
        `${dir}/bin/pad`,
        "pad.o",
        `${dir}/lib/libpad.so`,
      ]],
    ];
    for (const [cmd, args] of steps) {
      const e = await run(cmd, args, work);
      if (e !== null) return e;
    }
    roots.push({ textBytes: size, dir });
  }
  return roots;
}
