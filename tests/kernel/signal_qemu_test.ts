/**
 * Differential test of signal handling: the static programs sigbasic
 * (handlers, masks, queues, the alternate stack, synchronous signals,
 * siglongjmp out of SIGSEGV, sigtimedwait, sigsuspend, refusals) and
 * sigdie (death by each kind of default action) run under qemu-riscv32
 * and under xip, and must print the same and exit the same.
 *
 * Where qemu-riscv32 7.2 is known to differ from Linux the program marks
 * the line "linux-only:" and the test checks xip against Linux's answer
 * instead: qemu leaves sa_mask out of a handler's mask and keeps unknown
 * sa_flags bits, and it reports a real-time signal's death with the host's
 * signal number (SIGRTMIN+8 is 40 on riscv Linux, 42 on a glibc host).
 *
 * When qemu-riscv32 is missing this suite fails saying so; XIP_NO_QEMU=1
 * marks the comparisons ignored, never passed.
 */
import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";
import { haveQemu, QEMU, STATIC_DIR } from "../guest/_qemu.ts";
import { assertInvariants } from "../_invariants.ts";
import { makeGuestTree, within } from "./_guest_image.ts";

const available = await haveQemu();
const optOut = Deno.env.get("XIP_NO_QEMU") === "1";
const dec = new TextDecoder();

interface Case {
  program: string;
  args: string[];
  /** Exit status on Linux, when qemu cannot tell it (see the module comment). */
  linuxStatus?: number;
}

const DIE_MODES = [
  "term",
  "abrt",
  "usr1",
  "kill",
  "segv-blocked",
  "segv-ignored",
  "resethand",
  "badstack",
  "blocked-term",
];
const CASES: Case[] = [
  { program: "sigbasic", args: [] },
  ...DIE_MODES.map((m) => ({ program: "sigdie", args: [m] })),
  { program: "sigdie", args: ["rt"], linuxStatus: 168 },
];

/** What Linux prints on the lines qemu gets wrong. */
const LINUX_ONLY = [
  "linux-only: in handler usr2 (sa_mask) blocked=1",
  "linux-only: unknown sa_flags cleared: siginfo=1 restorer=0 unsupported=0",
];

/**
 * Run a static program under qemu-riscv32 with core dumps off. The shell
 * does not exec qemu, so it reports a death by any host signal as 128 + n
 * (Deno cannot name real-time signals it did not expect).
 */
async function underQemu(
  program: string,
  args: string[],
): Promise<{ stdout: string; status: number }> {
  const cwd = await Deno.makeTempDir({ prefix: "xip-qemu-sig-" });
  try {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        'ulimit -c 0; "$@"; echo "qemu-status $?" >&2',
        "sh",
        QEMU,
        "-0",
        program,
        STATIC_DIR + program,
        ...args,
      ],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const m = /qemu-status (\d+)\s*$/.exec(dec.decode(out.stderr));
    if (m === null) throw new Error(`${program}: no status from the shell`);
    return { stdout: dec.decode(out.stdout), status: Number(m[1]) };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

const common = (s: string) => s.split("\n").filter((l) => !l.startsWith("linux-only:")).join("\n");
const linuxOnly = (s: string) => s.split("\n").filter((l) => l.startsWith("linux-only:"));

if (!available && !optOut) {
  Deno.test("qemu-riscv32 is installed (needed for the signal differential suite)", () => {
    assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
  });
} else {
  Deno.test({
    name: "signal programs print and exit as under qemu-riscv32 (and as Linux where qemu differs)",
    ignore: !available,
    fn: async () => {
      const tree = makeGuestTree();
      const m = await Machine.boot({
        from: tree,
        size: 16 * 1024 * 1024,
        ram: 32 * 1024 * 1024,
        maxProcs: CASES.length,
        warm: 2,
        lockdep: true,
        stderr: () => {},
      });
      try {
        const runs = CASES.map((c) => {
          const out: Uint8Array[] = [];
          const p = m.spawn(`/static/${c.program}`, [c.program, ...c.args], {
            stdout: (d) => out.push(d),
          });
          return within(p.wait(), 60_000, c.program).then((s) => ({
            stdout: out.map((b) => dec.decode(b)).join(""),
            status: s.code,
          }));
        });
        for (const [i, c] of CASES.entries()) {
          const name = [c.program, ...c.args].join(" ");
          const ref = await underQemu(c.program, c.args);
          const got = await runs[i]!;
          assert.equal(common(got.stdout), common(ref.stdout), `${name}: stdout differs from qemu`);
          assert.equal(got.status, c.linuxStatus ?? ref.status, `${name}: status`);
          if (c.program === "sigbasic") {
            assert.deepEqual(linuxOnly(got.stdout), LINUX_ONLY, "sigbasic: Linux-only lines");
            assert.ok(got.stdout.endsWith("done\n"), "sigbasic ran to the end");
          }
        }
        assertInvariants(m, { fsck: true }, "after every signal program exited");
      } finally {
        await within(m.shutdown(), 30_000, "shutdown");
        Deno.removeSync(tree, { recursive: true });
      }
    },
  });
}
