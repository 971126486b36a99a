/**
 * execve from a running process, end to end (guest/bin/exectest.c): a
 * failed execve leaves the caller running, fork + execve and vfork +
 * execve pass argv and envp, keep the pid and close exactly the
 * close-on-exec fds, reset handled signals but keep ignored ones, the mask
 * and pending signals; then many fork/exec/exit/wait cycles leave the
 * machine consistent. qemu-riscv32 cannot be the reference here: without
 * binfmt_misc it cannot exec a RISC-V program, so the expected lines come
 * from the program's definition and Linux's execve(2).
 */

import assert from "node:assert/strict";
import { type BootOptions } from "../../src/kernel/machine.ts";
import { makeTree, run, within, withMachine } from "./_machine.ts";

const EXECTEST = [
  "execve of a missing file: -1 ENOENT, still running",
  "execve of a text file: -1 ENOEXEC, still running",
  "execve of a directory: -1 EACCES, still running",
  "show: fork two words | XIPVAR=42 | fd 3 closed, fd 4 open | USR1 default, USR2 ignored, TERM blocked and pending",
  "fork + exec: exited 3",
  "show: vfork two words | XIPVAR=42 | fd 3 closed, fd 4 open | USR1 default, USR2 not ignored, TERM unblocked",
  "vfork parent resumed",
  "vfork + exec: exited 3",
  "vfork + failed exec: exited 127",
  "",
].join("\n");

const tree = makeTree();

const MODES: BootOptions[] = [
  { dax: "always", memmap: "device" },
  { dax: "never", memmap: "none" },
];

for (const mode of MODES) {
  Deno.test(`execve: argv, envp, the pid, close-on-exec and failures as Linux (dax ${mode.dax}, memmap ${mode.memmap})`, async () => {
    await withMachine(tree, mode, async (m) => {
      for (const prog of ["/bin/exectest", "/static/exectest"]) {
        const r = await run(m, prog, [prog]);
        assert.equal(r.stdout, EXECTEST, prog);
        assert.equal(r.code, 0, `${prog}: ${r.message ?? ""}`);
        await within(m.settled(), 30_000, "children reaped");
      }
    });
  });
}

Deno.test("fork/exec/exit/wait: 150 cycles of each kind leave every frame back and the invariants intact", async () => {
  await withMachine(tree, { dax: "always", memmap: "device" }, async (m) => {
    const e = await run(m, "/bin/proctest", ["proctest", "cycles", "150", "/bin/true"]);
    assert.equal(e.stdout, "150 cycles of fork, exec, wait: ok\n", e.message);
    const s = await run(m, "/static/proctest", ["proctest", "cycles", "150", "/static/true"]);
    assert.equal(s.stdout, "150 cycles of fork, exec, wait: ok\n", s.message);
    const x = await run(m, "/bin/proctest", ["proctest", "cycles", "150"]);
    assert.equal(x.stdout, "150 cycles of fork, exit, wait: ok\n", x.message);
    await within(m.settled(), 30_000, "children reaped");
  });
});

// The same cycles with a musl program as the one exec'd: each child is a
// dynamic musl process (PT_INTERP), so every exec maps musl's ld.so in place
// and relocates /usr/bin/hello in user space, and exits through musl's exit.
for (const mode of MODES) {
  Deno.test(`fork/exec/wait of a dynamic musl program: 30 cycles (dax ${mode.dax})`, async () => {
    await withMachine(tree, mode, async (m) => {
      const n = 30;
      const r = await run(m, "/bin/proctest", ["proctest", "cycles", `${n}`, "/usr/bin/hello"]);
      const one = "hello from xip\nargv[0] = /usr/bin/hello\n";
      assert.equal(r.stdout, one.repeat(n) + `${n} cycles of fork, exec, wait: ok\n`, r.message);
      await within(m.settled(), 30_000, "children reaped");
    });
  });
}

addEventListener("unload", () => Deno.removeSync(tree, { recursive: true }));
