/**
 * musl conformance: every group of mtest (guest/musl/: stdio, malloc and
 * mmap, strings, time, files, directories, errno paths, identity and
 * limits, signals) prints the same lines and exits with the same status under xip
 * as under qemu-riscv32, dynamic (PT_INTERP, musl's ld.so from the image)
 * and static (ET_EXEC, musl's own TLS setup from AT_PHDR), in both DAX
 * modes. Each group also says PASSED by itself, so a check that fails the
 * same way on both is still caught.
 *
 * When qemu-riscv32 is missing this suite fails saying so; XIP_NO_QEMU=1
 * marks the comparison ignored, never passed.
 */
import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";
import { assertInvariants } from "../_invariants.ts";
import { makeGuestTree, within } from "../kernel/_guest_image.ts";
import { haveQemu } from "./_qemu.ts";
import { MTEST_GROUPS } from "../../guest/build.ts";
import { runOnMachine, runQemu, runQemuDynamic, type RunResult, STATIC_MUSL } from "./_musl.ts";

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the musl conformance suite)", () => {
    assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
  });
}

/** The reference outputs, computed once for both DAX modes. */
let reference: Promise<Map<string, RunResult>> | null = null;
function qemuReference(): Promise<Map<string, RunResult>> {
  reference ??= (async () => {
    const out = new Map<string, RunResult>();
    await Promise.all(MTEST_GROUPS.flatMap((g) => [
      runQemuDynamic("/usr/bin/mtest", [g]).then((r) => out.set(`dynamic ${g}`, r)),
      runQemu([`${STATIC_MUSL}/mtest`, g]).then((r) => out.set(`static ${g}`, r)),
    ]));
    return out;
  })();
  return reference;
}

for (const dax of ["always", "never"] as const) {
  Deno.test({
    name:
      `mtest groups print the same under xip (dax=${dax}) as under qemu-riscv32, dynamic and static`,
    ignore: !available,
    fn: async () => {
      const tree = makeGuestTree();
      const m = await Machine.boot({
        from: tree,
        size: 32 * 1024 * 1024,
        ram: 64 * 1024 * 1024,
        dax,
        maxProcs: 8, // the threads group runs 4 threads beside main, and forks a child with 3
        warm: 2,
        stderr: () => {},
        log: () => {},
      });
      try {
        const ref = await qemuReference();
        for (const g of MTEST_GROUPS) {
          for (
            const [kind, path] of [["dynamic", "/usr/bin/mtest"], ["static", "/static/musl/mtest"]]
          ) {
            const got = await runOnMachine(m, path!, ["mtest", g]);
            const want = ref.get(`${kind} ${g}`)!;
            assert.equal(got.stdout, want.stdout, `${kind} ${g}: stdout differs from qemu`);
            assert.equal(got.status, want.status, `${kind} ${g}: status differs from qemu`);
            assert.match(got.stdout, /\nPASSED\n/, `${kind} ${g}: a check failed`);
          }
        }
        assertInvariants(m, { fsck: true }, "after every mtest group exited");
      } finally {
        await within(m.shutdown(), 30_000, "shutdown");
        Deno.removeSync(tree, { recursive: true });
      }
    },
  });
}
