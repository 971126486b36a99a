/**
 * `xip run --strace`: every system call of every process on stderr, one
 * line each in strace's format, the program's own output untouched on
 * stdout; and `xip run` on a fresh image of fixtures/rootfs runs the
 * dynamic musl lua (the acceptance line).
 */
import assert from "node:assert/strict";
import * as asm from "../hw/_asm.ts";
import { tinyElf } from "../kernel/_guest_image.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}src/cli/main.ts`;
const dec = new TextDecoder();

async function xip(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { XIP_CHECK_INVARIANTS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Calls 999, 999 and 700 (no such calls), then exit_group(0). */
function enosysProgram(): Uint8Array {
  const call = (n: number) => [asm.addi(asm.A7, asm.ZERO, n), asm.ecall()];
  return tinyElf(
    Uint32Array.of(
      ...call(999),
      ...call(999),
      ...call(700),
      asm.addi(asm.A0, asm.ZERO, 0),
      ...call(94),
    ),
  );
}

const work = Deno.makeTempDirSync({ prefix: "xip-strace-" });
const image = `${work}/root.img`;
let made = false;
/** An image of fixtures/rootfs, plus /t/enosys. */
async function img(): Promise<string> {
  if (!made) {
    const tree = `${work}/tree`;
    await new Deno.Command("cp", { args: ["-r", `${ROOT}fixtures/rootfs`, tree] }).output();
    Deno.mkdirSync(`${tree}/t`);
    Deno.writeFileSync(`${tree}/t/enosys`, enosysProgram(), { mode: 0o755 });
    const r = await xip("mkfs", image, "--from", tree);
    assert.equal(r.code, 0, r.err);
    made = true;
  }
  return image;
}

Deno.test.afterAll(() => Deno.removeSync(work, { recursive: true }));

Deno.test("xip run -- /bin/lua -e 'print(1+1)' prints 2 on an image of fixtures/rootfs", async () => {
  const r = await xip("run", await img(), "--snapshot", "--", "/bin/lua", "-e", "print(1+1)");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "2\n");
});

Deno.test("xip run --strace prints each system call of each process as strace does", async () => {
  const r = await xip(
    "run",
    await img(),
    "--snapshot",
    "--strace",
    "--procs",
    "2",
    "--",
    "/bin/lua",
    "-e",
    "io.write('hi\\n') os.exit(3)",
  );
  assert.equal(r.code, 3, r.err);
  const out = r.out.split("\n").filter((l) => l !== "").sort();
  assert.deepEqual(out.map((l) => l.replace(/^\[\d+\] /, "")), ["hi", "hi"], "stdout untouched");
  const lines = r.err.split("\n").filter((l) => l.startsWith("[pid "));
  const pids = new Set(lines.map((l) => l.match(/^\[pid (\d+)\]/)![1]));
  assert.equal(pids.size, 2, "both processes are traced");
  for (const pid of pids) {
    const mine = lines.filter((l) => l.startsWith(`[pid ${pid}] `)).map((l) =>
      l.slice(l.indexOf("] ") + 2)
    );
    // musl's ld.so finds liblua.so: the example line, exactly.
    assert.ok(
      mine.includes('openat(AT_FDCWD, "/lib/liblua.so", O_RDONLY|O_LARGEFILE|O_CLOEXEC) = 3'),
      mine.join("\n"),
    );
    assert.ok(
      mine.some((l) => /^mmap2\(NULL, \d+, PROT_READ, MAP_PRIVATE, 3, 0\) = 0x[0-9a-f]+$/.test(l)),
    );
    // mmap2's page offset in bytes, a signal set by name, the "how" by name.
    assert.ok(
      mine.some((l) =>
        /^mmap2\(0x[0-9a-f]+, \d+, PROT_READ\|PROT_EXEC, MAP_PRIVATE\|MAP_FIXED, 3, 0x[0-9a-f]+000\) = /
          .test(l)
      ),
      "a text segment mapped at its byte offset",
    );
    assert.ok(
      mine.includes("rt_sigprocmask(SIG_UNBLOCK, [RT_1 RT_2], NULL, 8) = 0"),
      "musl unblocks its two internal signals (33, 34) at start",
    );
    assert.ok(mine.some((l) => l.startsWith("writev(1, ") && l.endsWith(" = 3")), "the write");
    assert.ok(mine.includes("exit_group(3) = ?"), "exit_group does not return");
    assert.equal(mine.at(-1), "+++ exited with 3 +++");
    // An error result carries its errno name and text.
    assert.ok(
      mine.some((l) => l.endsWith("= -1 ENOENT (No such file or directory)")),
      "ld.so looks for /etc/ld-musl-riscv32-sf.path, which does not exist",
    );
  }
});

Deno.test("xip run reports each unimplemented system call number once, and it returns ENOSYS", async () => {
  const r = await xip(
    "run",
    await img(),
    "--snapshot",
    "--strace",
    "--procs",
    "3",
    "--",
    "/t/enosys",
  );
  assert.equal(r.code, 0, r.err);
  const notices = r.err.split("\n").filter((l) => l.includes("is not implemented"));
  assert.equal(notices.length, 2, `one notice per number for three processes:\n${r.err}`);
  for (const n of ["999", "700"]) {
    assert.equal(notices.filter((l) => l.includes(`(${n})`)).length, 1);
  }
  assert.match(
    notices[0]!,
    /^xip: pid \d+: system call syscall_999 \(999\) is not implemented: -ENOSYS$/,
  );
  const traced = r.err.split("\n").filter((l) => /^\[pid \d+\] syscall_999\(/.test(l));
  assert.equal(traced.length, 6, "every call is still traced");
  for (const l of traced) assert.match(l, / = -1 ENOSYS \(Function not implemented\)$/);
});

Deno.test("xip run --strace shows signal sets by name, and a mostly full set as ~[...]", async () => {
  const r = await xip(
    "run",
    await img(),
    "--snapshot",
    "--strace",
    "--",
    "/usr/bin/mtest",
    "signals",
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\nPASSED\n/);
  const calls = r.err.split("\n").filter((l) => l.startsWith("[pid ")).map((l) =>
    l.slice(l.indexOf("] ") + 2)
  );
  // musl's raise() blocks every application signal around its tkill: all
  // but 32..34, which musl keeps for itself, so strace inverts the set.
  assert.ok(calls.includes("rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1 RT_2], [], 8) = 0"));
  // The old set is shown after the call; a query passes set NULL.
  assert.ok(calls.includes("rt_sigprocmask(SIG_BLOCK, NULL, [USR1], 8) = 0"));
  assert.ok(calls.includes("rt_sigpending([USR1], 8) = 0"), "a pending blocked SIGUSR1");
});
