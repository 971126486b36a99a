/**
 * Differential test: every static fixture runs under qemu-riscv32 (the
 * reference) and under xip, and the two must print the same bytes and exit
 * with the same status. Unlike tests/guest/qemu_test.ts and
 * machine_test.ts, which each compare against the expectations in
 * tests/guest/_expected.ts, this compares the two runtimes directly, so a
 * case the expectations table gets wrong is still caught.
 *
 * When qemu-riscv32 is missing this suite fails saying so; XIP_NO_QEMU=1
 * marks the cases ignored, never passed.
 */
import assert from "node:assert/strict";
import { suiteJit } from "../hw/_hart_machine.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { STATIC_CASES } from "../guest/_expected.ts";
import { haveQemu, runUnderQemu } from "../guest/_qemu.ts";
import { makeGuestTree, within } from "./_guest_image.ts";
import { assertInvariants } from "../_invariants.ts";

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";
const dec = new TextDecoder();

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the xip-vs-qemu differential suite)", () => {
    assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
  });
} else {
  Deno.test({
    name: "xip and qemu-riscv32 print the same output and status for every static fixture",
    ignore: !available,
    fn: async () => {
      const tree = makeGuestTree();
      const m = await Machine.boot({
        jit: suiteJit(),
        from: tree,
        size: 16 * 1024 * 1024,
        ram: 32 * 1024 * 1024,
        maxProcs: STATIC_CASES.length,
        warm: 4,
        stderr: () => {},
      });
      try {
        const xip = STATIC_CASES.map((c) => {
          const out: Uint8Array[] = [];
          const p = m.spawn(`/static/${c.program}`, [c.argv0, ...c.args], {
            stdout: (d) => out.push(d),
          });
          return within(p.wait(), 120_000, c.name).then((s) => ({
            stdout: out.map((b) => dec.decode(b)).join(""),
            status: s.code,
          }));
        });
        for (const [i, c] of STATIC_CASES.entries()) {
          const ref = await runUnderQemu(c);
          const got = await xip[i]!;
          assert.equal(got.stdout, ref.stdout, `${c.name}: stdout differs from qemu`);
          assert.equal(got.status, ref.status, `${c.name}: status differs from qemu`);
        }
        assertInvariants(m, { fsck: true }, "after every fixture exited");
      } finally {
        await within(m.shutdown(), 30_000, "shutdown");
        Deno.removeSync(tree, { recursive: true });
      }
    },
  });
}
