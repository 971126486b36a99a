/**
 * execve from a threaded process (Linux's de_thread; src/kernel/de_thread.ts),
 * end to end with guest/bin/threads.c: the other threads (two asleep in
 * futex waits, and the leader) are killed and waited for; a thread that is
 * not the leader takes the leader's identity, so the process keeps its pid
 * (the Machine's wait() and a parent's waitpid see the status of the new
 * image under it), getpid() == gettid(), /proc/PID names it and
 * /proc/self/task lists only it, and the exec'ing thread's old tid is gone.
 * A kill after the exec reaches the new image. qemu-riscv32 cannot be the
 * reference: without binfmt_misc it cannot exec a RISC-V program (the
 * execve fails there), so the expected lines follow Linux's execve(2).
 */

import assert from "node:assert/strict";
import { type BootOptions } from "../../src/kernel/machine.ts";
import { SIGTERM } from "../../src/kernel/signal.ts";
import { procSlot, run, within, withMachine } from "./_machine.ts";
import { makeTree } from "./_machine.ts";

const tree = makeTree();

const AFTER = [
  "after execve: getpid() is the process's pid: yes",
  "after execve: gettid() == getpid(): yes",
  "after execve: getppid() unchanged: yes",
];
const THREAD_GONE = "the exec'ing thread's old tid is gone: yes";
const ALONE = ["task entries: 1, own pid listed: yes", "/proc/PID names the process: yes"];

const MODES: BootOptions[] = [
  { dax: "always", memmap: "device" },
  { dax: "never", memmap: "none" },
];

for (const mode of MODES) {
  Deno.test(`execve from a thread that is not the leader: the process keeps its pid and ends with the new image's status (dax ${mode.dax}, memmap ${mode.memmap})`, async () => {
    await withMachine(tree, mode, async (m) => {
      for (const prog of ["/bin/threads", "/static/threads"]) {
        const r = await run(m, prog, [prog, "execthread"]);
        assert.equal(r.stdout, [...AFTER, THREAD_GONE, ...ALONE, ""].join("\n"), prog);
        assert.equal(r.code, 7, `${prog}: ${r.message ?? ""}`);
        const l = await run(m, prog, [prog, "execleader"]);
        assert.equal(l.stdout, [...AFTER, ...ALONE, ""].join("\n"), `${prog} from the leader`);
        assert.equal(l.code, 7, `${prog} from the leader: ${l.message ?? ""}`);
        const f = await run(m, prog, [prog, "forkexec"]);
        assert.equal(
          f.stdout,
          [
            ...AFTER,
            THREAD_GONE,
            ...ALONE,
            "parent: waitpid found the pid fork returned: yes",
            "parent: the child exited 7",
            "",
          ].join("\n"),
          `${prog} in a forked child`,
        );
        assert.equal(f.code, 0, `${prog} in a forked child: ${f.message ?? ""}`);
      }
      await within(m.settled(), 30_000, "every thread and child gone");
    });
  });
}

Deno.test("execve from a thread: the Machine's kill reaches the new image, under the same pid", async () => {
  await withMachine(tree, { dax: "inode" }, async (m) => {
    const dec = new TextDecoder();
    let out = "";
    let slept!: () => void;
    const sleeping = new Promise<void>((r) => slept = r);
    const p = m.spawn("/bin/threads", ["/bin/threads", "execthread", "sleep"], {
      stdout: (d) => {
        out += dec.decode(d);
        if (out.includes("sleeping\n")) slept();
      },
    });
    await within(sleeping, 60_000, "the new image sleeps");
    const slot = procSlot(m, p.pid);
    assert.ok(slot > 0, "the pid names a live slot");
    assert.ok(m.kill(p.pid, SIGTERM), "kill finds the process");
    const s = await within(p.wait(), 30_000, "the killed process");
    assert.equal(s.code, 128 + SIGTERM, s.message);
    assert.equal(s.signal, SIGTERM);
    assert.equal(out, [...AFTER, THREAD_GONE, ...ALONE, "sleeping", ""].join("\n"));
    await within(m.settled(), 30_000, "every thread gone");
    assert.equal(m.stats().procs, 1, "one process spawned, threads not counted");
  });
});
