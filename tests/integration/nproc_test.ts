/**
 * User ids and RLIMIT_NPROC (src/kernel/sys_cred.ts), end to end with
 * guest/bin/nproc.c: root is exempt; setuid, setreuid and setresuid follow
 * Linux's permission rules; a non-root real uid without the capabilities
 * (effective uid 0) gets EAGAIN from fork and pthread_create once it has
 * RLIMIT_NPROC tasks; the limit is inherited at fork, and only root may
 * raise a hard limit.
 *
 * The expected lines are Linux's. qemu-riscv32 runs the same static
 * program with the host's credentials, so it is a reference only where the
 * host decides the same way: when the test runs as root and no host
 * process has uid 1000 (the limit counts the host's processes of the uid).
 */

import assert from "node:assert/strict";
import { haveQemu, STATIC_DIR } from "../guest/_qemu.ts";
import { makeTree, run, withMachine } from "./_machine.ts";

const tree = makeTree();

const NPROC = [
  "root: uid 0, euid 0, resuid 0 0 0",
  "RLIMIT_NPROC 2: ok",
  "root, RLIMIT_NPROC 2: 3 of 3 forks",
  "setuid(1000) as root: ok",
  "after setuid(1000): uid 1000, euid 1000, resuid 1000 1000 1000",
  "setuid(0) as uid 1000: EPERM",
  "raising the hard limit as uid 1000: EPERM",
  "uid 1000, RLIMIT_NPROC 2: 1 of 3 forks, then EAGAIN",
  "lowering the limit to 1: ok",
  "pthread_create at the limit: EAGAIN",
  "setresuid(1000, 0, 0): ok",
  "real uid 1000, euid 0, RLIMIT_NPROC 2: 3 of 3 forks",
  "setresuid(-1, 1000, -1): ok",
  "after dropping the euid: uid 1000, euid 1000, resuid 1000 1000 0",
  "real and effective uid 1000, RLIMIT_NPROC 2: 1 of 3 forks, then EAGAIN",
  "setresuid(-1, 0, -1) through the saved uid: ok",
  "setreuid(1000, 1000): ok",
  "after setreuid: uid 1000, euid 1000, resuid 1000 1000 1000",
  "setreuid(-1, 0) as uid 1000: EPERM",
  "",
].join("\n");

Deno.test("RLIMIT_NPROC: a non-root real uid without capabilities gets EAGAIN at its limit; root is exempt; setuid/setreuid/setresuid as Linux", async () => {
  await withMachine(tree, { dax: "always", maxProcs: 12 }, async (m) => {
    for (const prog of ["/bin/nproc", "/static/nproc"]) {
      const r = await run(m, prog, ["nproc"]);
      assert.equal(r.stdout, NPROC, prog);
      assert.equal(r.code, 0, `${prog}: ${r.message ?? ""}`);
    }
  });
});

/** Why the host cannot give Linux's answer for uid 1000, or null when it can. */
function hostUnlike(): string | null {
  if (Deno.uid() !== 0) return "the test does not run as root";
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const st = Deno.readTextFileSync(`/proc/${e.name}/status`);
      if (/^Uid:\s+1000\s/m.test(st)) return "a host process runs as uid 1000";
    } catch { /* it exited meanwhile */ }
  }
  return null;
}

const unlike = (await haveQemu()) ? hostUnlike() : "qemu-riscv32 is not installed";

Deno.test({
  name: `RLIMIT_NPROC: qemu-riscv32 (the host's Linux) prints the same lines${
    unlike === null ? "" : ` [skipped: ${unlike}]`
  }`,
  ignore: unlike !== null,
  fn: async () => {
    const out = await new Deno.Command("qemu-riscv32", {
      args: [STATIC_DIR + "nproc"],
      stdout: "piped",
      stderr: "null", // qemu's own complaints when its children cannot make threads
    }).output();
    // glib's "Bail out!" lines are qemu's own: its children at the limit cannot start its threads.
    const lines = new TextDecoder().decode(out.stdout).split("\n");
    assert.equal(lines.filter((l) => !l.startsWith("Bail out! ")).join("\n"), NPROC);
    assert.equal(out.code, 0);
  },
});
