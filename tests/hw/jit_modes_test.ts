/**
 * The hart, exec and qemu-differential suites once more, with every frame
 * translated at its first dispatch (XIP_JIT=eager) and the debug check on
 * (XIP_JIT_CHECK=1): their results must be those of the interpreter, which
 * the same suites check in the ordinary run. One `deno test` child runs
 * them, so this costs what those suites cost and no more. The rest of the
 * tree under tier 1 is `deno task test:jit` (too long for every run).
 */

import assert from "node:assert/strict";

const SUITES = [
  "tests/hw/hart_isa_test.ts",
  "tests/hw/hart_mmu_test.ts",
  "tests/kernel/exec_run_test.ts",
  "tests/kernel/machine_test.ts",
  "tests/kernel/differential_test.ts",
  "tests/kernel/signal_qemu_test.ts",
  "tests/integration/exec_test.ts",
];

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name:
    "the hart, exec, signal and qemu-differential suites pass with XIP_JIT=eager and the debug check",
  // The child reports its own failures; sanitizers would only see the subprocess.
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--parallel", ...SUITES],
      cwd: ROOT,
      env: { XIP_JIT: "eager", XIP_JIT_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const summary = text.match(/(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
    assert.ok(out.success && summary !== null, `child suites failed:\n${text.slice(-6000)}`);
    assert.equal(summary[3], "0");
    assert.ok(Number(summary[2]) >= 200, `only ${summary[2]} tests ran`);
  },
});
