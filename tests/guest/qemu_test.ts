/**
 * Runs every static fixture under qemu-riscv32 (the reference hart) and
 * checks stdout and exit status against tests/guest/_expected.ts.
 *
 * qemu-riscv32 comes from Debian's qemu-user package. When it is missing
 * this suite fails with a message saying so; set XIP_NO_QEMU=1 to run
 * without it, which reports every case as ignored (never as passed).
 */
import assert from "node:assert/strict";
import { STATIC_CASES, type StaticCase } from "./_expected.ts";

const STATIC_DIR = new URL("../../fixtures/static/", import.meta.url).pathname;
const QEMU = "qemu-riscv32";

async function haveQemu(): Promise<boolean> {
  try {
    await new Deno.Command(QEMU, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Run one case with core dumps off (a SIGSEGV case must not leave a core file). */
async function runUnderQemu(c: StaticCase): Promise<{ stdout: string; status: number }> {
  const cwd = await Deno.makeTempDir({ prefix: "xip-qemu-" });
  try {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        'ulimit -c 0; exec "$@"',
        "sh",
        QEMU,
        "-0",
        c.argv0,
        STATIC_DIR + c.program,
        ...c.args,
      ],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // A child killed by a signal: the shell exec'd qemu, which re-raises the
    // guest's fatal signal on itself, so Deno sees the signal.
    const status = out.signal ? 128 + signalNumber(out.signal) : out.code;
    return { stdout: new TextDecoder().decode(out.stdout), status };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

function signalNumber(sig: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGSEGV: 11, SIGABRT: 6, SIGKILL: 9 };
  const n = numbers[sig];
  if (n === undefined) throw new Error(`unexpected signal ${sig}`);
  return n;
}

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the static fixture suite)", () => {
    assert.fail(
      "qemu-riscv32 not found: install Debian's qemu-user package, " +
        "or set XIP_NO_QEMU=1 to skip the qemu reference runs",
    );
  });
} else {
  if (!available) {
    console.warn("XIP_NO_QEMU=1 and qemu-riscv32 is missing: static fixture runs are IGNORED");
  }
  for (const c of STATIC_CASES) {
    Deno.test({
      name: `qemu-riscv32: ${c.name}`,
      ignore: !available,
      fn: async () => {
        const got = await runUnderQemu(c);
        assert.equal(got.stdout, c.stdout);
        assert.equal(got.status, c.status);
      },
    });
  }
}

/** Run a static fixture under qemu-riscv32 directly (no signals expected). */
async function qemu(program: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(QEMU, {
    args: [STATIC_DIR + program, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test({
  name: "qemu-riscv32: counter processes sharing one file add up under the futex mutex",
  ignore: !available,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "xip-counter-" });
    try {
      const path = `${dir}/count`;
      const procs = 4, n = 2500;
      const runs = await Promise.all(
        Array.from({ length: procs }, () => qemu("counter", [path, String(n)])),
      );
      for (const r of runs) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      const bytes = await Deno.readFile(path);
      assert.equal(bytes.length, 4096, "counter grows the file to one page");
      const dv = new DataView(bytes.buffer);
      assert.equal(dv.getUint32(0, true), procs * n, "lost increments");
      assert.equal(dv.getUint32(4, true), 0, "mutex word left locked");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "qemu-riscv32: counter rejects missing arguments with status 2",
  ignore: !available,
  fn: async () => {
    const r = await qemu("counter", ["only-a-path"]);
    assert.equal(r.code, 2);
    assert.match(new TextDecoder().decode(r.stderr), /^usage: counter PATH N/);
  },
});

Deno.test({
  name: "qemu-riscv32: maps copies /proc/self/maps (qemu's emulated one) to stdout",
  ignore: !available,
  fn: async () => {
    const r = await qemu("maps", []);
    assert.equal(r.code, 0);
    const lines = new TextDecoder().decode(r.stdout).trimEnd().split("\n");
    assert.ok(lines.length >= 3, "too few mappings");
    for (const line of lines) assert.match(line, /^[0-9a-f]+-[0-9a-f]+ [-r][-w][-x][ps] /);
  },
});
