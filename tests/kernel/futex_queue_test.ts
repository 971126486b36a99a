/**
 * The futex wait queue (src/kernel/futex_q.ts) with real sleepers: the
 * static program futextest (guest/tests/futextest.c) runs threads and a
 * forked child that sleep in FUTEX_WAIT and checks, line by line, what
 * Linux does with them: REQUEUE and CMP_REQUEUE move sleepers instead of
 * waking them (a wake of the first word then finds nobody), the counts
 * they return, a moved sleeper that is signalled (EINTR) or SIGKILLed
 * leaving the queue it was moved to, bitsets, a wake count of 0, WAKE_OP,
 * timeouts. qemu-riscv32 passes futex to the host's Linux, so its output
 * is the reference.
 *
 * `futextest pi` checks FUTEX_LOCK_PI against Linux's rules (kernel/futex/
 * pi.c) as fixed lines: qemu-user cannot be the reference there, because
 * its pthread_join returns before the host thread has exited, so a lock
 * taken after the join meets an owner that is still alive on the host
 * (and qemu has no set_robust_list).
 *
 * When qemu-riscv32 is missing the differential test fails saying so;
 * XIP_NO_QEMU=1 marks it ignored, never passed.
 */
import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";
import { haveQemu, runUnderQemu } from "../guest/_qemu.ts";
import { assertInvariants } from "../_invariants.ts";
import { makeGuestTree, within } from "./_guest_image.ts";

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";
const dec = new TextDecoder();

/** Linux's answers for `futextest pi` (see the module comment for why not qemu's). */
const PI_EXPECTED = [
  "pi: owner never existed: lock ESRCH, trylock ESRCH",
  "pi: lock 0, owner me",
  "pi: again EDEADLK; unlock 0, word 0; unlock again EPERM",
  "pi: a waiter marked the word: owner me WAITERS",
  "pi: unlock with a waiter: 0",
  "pi: the waiter's lock 0, handed over by name: yes; word after its unlock 0",
  // attach_to_pi_owner -> handle_exit_race: the owner is gone and left the word as it was.
  "pi plain owner exited holding it: owner dead",
  "pi plain: a new lock: ESRCH, owner dead WAITERS",
  // handle_futex_death: TID 0 | OWNER_DIED; futex_lock_pi_atomic takes it keeping the bit.
  "pi robust owner exited holding it: owner none OWNER_DIED",
  "pi robust: a new lock: 0, owner me OWNER_DIED",
  "pi robust: unlock 0",
  // exit_pi_state_list leaves the pi_state ownerless; fixup_pi_state_owner sets OWNER_DIED.
  "pi plain owner exits under a sleeping waiter: lock 0, owner me WAITERS OWNER_DIED",
  "pi plain: unlock 0",
  "pi robust owner exits under a sleeping waiter: lock 0, owner me WAITERS OWNER_DIED",
  "pi robust: unlock 0",
  "done",
].join("\n") + "\n";

async function boot(tree: string): Promise<Machine> {
  return await Machine.boot({
    from: tree,
    size: 16 * 1024 * 1024,
    ram: 32 * 1024 * 1024,
    maxProcs: 8,
    warm: 2,
    lockdep: true,
    stderr: () => {},
  });
}

async function runXip(m: Machine, args: string[]): Promise<{ stdout: string; code: number }> {
  const out: Uint8Array[] = [];
  const p = m.spawn("/static/futextest", ["futextest", ...args], { stdout: (d) => out.push(d) });
  const got = await within(p.wait(), 60_000, `futextest ${args.join(" ")}`);
  return { stdout: out.map((b) => dec.decode(b)).join(""), code: got.code };
}

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the futex queue differential test)", () => {
    assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
  });
} else {
  Deno.test({
    name:
      "futextest prints and exits as under qemu-riscv32: REQUEUE moves sleepers, CMP_REQUEUE counts, a moved sleeper signalled or killed leaves its queue, bitsets, WAKE_OP, timeouts",
    ignore: !available,
    fn: async () => {
      const tree = makeGuestTree();
      const m = await boot(tree);
      try {
        const got = await runXip(m, []);
        const ref = await runUnderQemu({
          name: "futextest",
          program: "futextest",
          argv0: "futextest",
          args: [],
          stdout: "",
          status: 0,
        });
        assert.ok(ref.stdout.endsWith("done\n"), `qemu ran futextest to the end:\n${ref.stdout}`);
        assert.equal(got.stdout, ref.stdout, "stdout differs from qemu-riscv32");
        assert.equal(got.code, ref.status, "exit status");
        assertInvariants(m, {}, "after futextest");
      } finally {
        await within(m.shutdown(), 30_000, "shutdown");
        Deno.removeSync(tree, { recursive: true });
      }
    },
  });
}

Deno.test("futextest pi: LOCK_PI gives ESRCH for a dead owner that did not release the word, FUTEX_OWNER_DIED after a robust release or an owner's death under a waiter, and UNLOCK_PI hands over", async () => {
  const tree = makeGuestTree();
  const m = await boot(tree);
  try {
    const got = await runXip(m, ["pi"]);
    assert.equal(got.stdout, PI_EXPECTED);
    assert.equal(got.code, 0);
    assertInvariants(m, {}, "after futextest pi");
  } finally {
    await within(m.shutdown(), 30_000, "shutdown");
    Deno.removeSync(tree, { recursive: true });
  }
});
