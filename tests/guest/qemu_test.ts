/**
 * Runs every static fixture under qemu-riscv32 (the reference hart) and
 * checks stdout and exit status against tests/guest/_expected.ts.
 *
 * qemu-riscv32 comes from Debian's qemu-user package. When it is missing
 * this suite fails with a message saying so; set XIP_NO_QEMU=1 to run
 * without it, which reports every case as ignored (never as passed).
 */
import assert from "node:assert/strict";
import { STATIC_CASES } from "./_expected.ts";
import { haveQemu, QEMU, ROOTFS, runUnderQemu, STATIC_DIR } from "./_qemu.ts";

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
  // The dynamic rootfs programs must behave exactly like their static builds.
  for (const c of STATIC_CASES.filter((c) => ["hello", "compute", "segv"].includes(c.program))) {
    Deno.test({
      name: `qemu-riscv32 + xld: rootfs ${c.name}`,
      ignore: !available,
      fn: async () => {
        const got = await runUnderQemu(c, true);
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
  name:
    "qemu-riscv32: counter processes (static and dynamic) sharing one file add up under the mutex",
  ignore: !available,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "xip-counter-" });
    try {
      const path = `${dir}/count`;
      const procs = 4, n = 2500;
      // Half run the static build, half the dynamic one through xld.
      const runs = await Promise.all(
        Array.from(
          { length: procs },
          (_, i) =>
            i % 2
              ? qemu("counter", [path, String(n)])
              : qemu("xld", [ROOTFS, "/bin/counter", path, String(n)]),
        ),
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

Deno.test({
  name: "qemu-riscv32 + xld: rootfs maps prints the loaded program's mappings",
  ignore: !available,
  fn: async () => {
    const r = await qemu("xld", [ROOTFS, "/bin/maps"]);
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const lines = new TextDecoder().decode(r.stdout).trimEnd().split("\n");
    assert.ok(lines.length >= 3, "too few mappings");
    for (const line of lines) assert.match(line, /^[0-9a-f]+-[0-9a-f]+ [-r][-w][-x][ps] /);
    assert.ok(lines.some((l) => / r-xp /.test(l)), "no executable mapping");
  },
});

Deno.test({
  name: "qemu-riscv32 + xld: xld refuses a missing program with status 127",
  ignore: !available,
  fn: async () => {
    const r = await qemu("xld", [ROOTFS, "/bin/no-such-program"]);
    assert.equal(r.code, 127);
    assert.match(new TextDecoder().decode(r.stderr), /^xld: .*no-such-program: cannot open/);
  },
});
