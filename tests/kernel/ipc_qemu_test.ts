/**
 * Differential test of shared memory and System V IPC in one process: the
 * static program ipcbasic (System V shm, sem and msg with their error
 * cases and *_STAT fields, POSIX shm_open and sem_open on /dev/shm,
 * MAP_SHARED|MAP_ANONYMOUS) and ipcfork (the same between a parent and
 * its forked children: shared anonymous memory, an inherited segment,
 * SEM_UNDO at a child's exit, semaphore and message ping-pong, an unnamed
 * POSIX semaphore), unixbasic (AF_UNIX sockets) and linktest (hard links
 * on xipfs and tmpfs; sem_open linking its semaphore into place while
 * forked children race to create it) and polltest (poll and ppoll on
 * sockets and files) run under qemu-riscv32, which passes the IPC calls to
 * the host's Linux kernel and /dev/shm, and under xip: the output and exit
 * status must be the same. Afterwards every IPC object is gone and the
 * machine's invariants hold.
 *
 * When qemu-riscv32 is missing this suite fails saying so; XIP_NO_QEMU=1
 * marks the comparison ignored, never passed.
 */
import assert from "node:assert/strict";
import { shmemInodes, shmemPages } from "../../src/fs/shmem.ts";
import { haveQemu, runUnderQemu } from "../guest/_qemu.ts";
import type { StaticCase } from "../guest/_expected.ts";
import { assertInvariants } from "../_invariants.ts";
import { withGuestMachine, within } from "./_guest_image.ts";

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";
const dec = new TextDecoder();
/** A program as a static case (its expected output is qemu's, so none is given here). */
const staticCase = (program: string): StaticCase => ({
  name: program,
  program,
  argv0: program,
  args: [],
  stdout: "",
  status: 0,
});

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the IPC differential suite)", () => {
    assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
  });
} else {
  Deno.test({
    name:
      "ipcbasic, ipcfork, unixbasic and linktest print and exit as under qemu-riscv32 (System V IPC, shm_open, sem_open, shared memory across fork, AF_UNIX, hard links, poll)",
    ignore: !available,
    fn: async () => {
      await withGuestMachine({ maxProcs: 6, warm: 1, lockdep: true }, async (m) => {
        for (const program of ["ipcbasic", "ipcfork", "unixbasic", "linktest", "polltest"]) {
          const out: Uint8Array[] = [];
          const p = m.spawn(`/static/${program}`, [program], { stdout: (d) => out.push(d) });
          const got = await within(p.wait(), 60_000, program);
          const stdout = out.map((b) => dec.decode(b)).join("");
          const ref = await runUnderQemu(staticCase(program));
          assert.equal(stdout, ref.stdout, `${program}: stdout differs from qemu`);
          assert.equal(got.code, ref.status, `${program}: status`);
          assert.ok(stdout.endsWith("done\n"), `${program} ran to the end`);
        }
        assert.equal(shmemPages(m.mem), 0, "no shmem page is left");
        assert.equal(shmemInodes(m.mem), 1, "only the tmpfs root is left");
        assertInvariants(m, { fsck: true }, "after the IPC programs");
      });
    },
  });
}
