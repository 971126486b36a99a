/**
 * The guest of the "hart tiers" measurement: one static, libc-free RV32IM
 * program, `tiers WORKLOAD N`, built at bench time with Debian's clang and
 * ld.lld (the flags of guest/build.ts), so that qemu-riscv32 and xip run the
 * very same bytes:
 *
 * - `tiers crc N`: a bitwise CRC-32 (eight shift-and-mask steps a byte) over
 *   a 4 KiB buffer, N times; the loop of bench/hart_bench.ts, in C;
 * - `tiers fannkuch N`: fannkuch-redux of size N, the integer benchmark of
 *   the Computer Language Benchmarks Game (for every permutation of N
 *   elements, flip prefixes until the first element is 0; print the checksum
 *   and the most flips). Written here from the benchmark's description.
 *   N = 7 prints 228 and 16, N = 9 prints 8629 and 30 (the published values).
 *
 * Each prints its result, so a wrong translation shows as a different line.
 *
 * @module
 */

const CFLAGS = [
  "--target=riscv32-unknown-linux-gnu",
  "-march=rv32im",
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
const LDFLAGS = ["--build-id=none", "-z", "max-page-size=4096", "--no-relax", "-static"];

const SOURCE = `
typedef unsigned int u32;

static long sys3(long n, long a, long b, long c) {
  register long a7 __asm__("a7") = n;
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
  return a0;
}

static void put(const char *s) {
  long n = 0;
  while (s[n]) n++;
  sys3(64, 1, (long)s, n); /* write(1, s, n) */
}

static void putNum(long v) {
  char b[16];
  int i = 15;
  int neg = v < 0;
  unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
  b[i] = 0;
  do { b[--i] = '0' + u % 10; u /= 10; } while (u);
  if (neg) b[--i] = '-';
  put(b + i);
}

static long atoi10(const char *p) {
  long v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

static unsigned char buf[4096];

static u32 crcLoop(long rounds) {
  u32 s = 12345;
  for (int i = 0; i < 4096; i++) { s = s * 1103515245u + 12345u; buf[i] = s >> 24; }
  u32 crc = 0xffffffffu;
  for (long r = 0; r < rounds; r++) {
    for (int i = 0; i < 4096; i++) {
      crc ^= buf[i];
      for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
  }
  return ~crc;
}

/* Returns the most flips; *checksum gets the alternating sum of flips. */
static int fannkuch(int n, long *checksum) {
  int perm[16], cur[16], count[16];
  int most = 0, r = n;
  long sum = 0, index = 0;
  for (int i = 0; i < n; i++) cur[i] = i;
  for (;;) {
    for (; r != 1; r--) count[r - 1] = r;
    for (int i = 0; i < n; i++) perm[i] = cur[i];
    int flips = 0;
    for (int first = perm[0]; first != 0; first = perm[0]) {
      for (int i = 0, j = first; i < j; i++, j--) {
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
      }
      flips++;
    }
    if (flips > most) most = flips;
    sum += (index & 1) ? -flips : flips;
    /* The next permutation: rotate the first r+1 elements until a count runs out. */
    for (;;) {
      if (r == n) { *checksum = sum; return most; }
      int head = cur[0];
      for (int i = 0; i < r; i++) cur[i] = cur[i + 1];
      cur[r] = head;
      if (--count[r] > 0) break;
      r++;
    }
    index++;
  }
}

__attribute__((used)) void tiers_main(long *sp) {
  long argc = sp[0];
  const char **argv = (const char **)(sp + 1);
  if (argc < 3) { put("usage: tiers crc|fannkuch N\\n"); sys3(94, 2, 0, 0); }
  long n = atoi10(argv[2]);
  if (argv[1][0] == 'c') {
    put("crc32: "); putNum(crcLoop(n) & 0x7fffffff); put("\\n");
  } else {
    long sum;
    int most = fannkuch((int)n, &sum);
    putNum(sum); put("\\nPfannkuchen("); putNum(n); put(") = "); putNum(most); put("\\n");
  }
  sys3(94, 0, 0, 0); /* exit_group(0) */
  for (;;) {}
}

__asm__(
  "  .text\\n"
  "  .globl _start\\n"
  "  .type _start, @function\\n"
  "_start:\\n"
  "  mv a0, sp\\n"
  "  andi sp, sp, -16\\n"
  "  call tiers_main\\n");
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

/**
 * Build bin/tiers (a static ET_EXEC) into `dir`.
 *
 * @returns null, or a one-line reason (toolchain missing, build failed)
 */
export async function buildTiersGuest(dir: string): Promise<string | null> {
  const work = await Deno.makeTempDir({ prefix: "xip-bench-tiers-" });
  try {
    await Deno.writeTextFile(`${work}/tiers.c`, SOURCE);
    await Deno.mkdir(`${dir}/bin`, { recursive: true });
    return await run("clang", [...CFLAGS, "-c", "tiers.c", "-o", "tiers.o"], work) ??
      await run("ld.lld", [...LDFLAGS, "-e", "_start", "-o", `${dir}/bin/tiers`, "tiers.o"], work);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
