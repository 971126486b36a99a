/**
 * /bin/sh (guest/bin/sh.c) on a booted Machine: pipelines of real
 * programs (`hello | wc`, the acceptance line), lists, redirects,
 * parameters, statuses of signalled commands, background jobs and wait.
 * Each case is one `sh -c` run; the expected output is what a POSIX shell
 * prints for the same line (the builtin-only lines were checked against
 * the host's dash; the lines that run guest programs cannot be, as qemu-user
 * cannot exec a RISC-V program from a RISC-V one without binfmt_misc).
 * Ends with every child reaped and the invariants intact.
 */

import assert from "node:assert/strict";
import { makeTree, run, within, withMachine } from "./_machine.ts";

const tree = makeTree();

/** hello's two lines, as sh runs it (argv[0] is the word typed). */
const helloLines = (argv0: string) => `hello from xip\nargv[0] = ${argv0}\n`;
/** wc of stdin: lines, words, bytes, each in a column of 7. */
const wcLine = (text: string) => {
  const words = text.split(/\s+/).filter((w) => w !== "").length;
  const lines = text.split("\n").length - 1;
  return [lines, words, new TextEncoder().encode(text).length].map((n) => String(n).padStart(7))
    .join(" ") + "\n";
};

/** [sh -c line, extra argv, stdout, exit code]. */
const CASES: [string, string[], string, number][] = [
  ["hello | wc", [], wcLine(helloLines("hello")), 0],
  [
    "hello a b | wc | wc",
    [],
    wcLine(wcLine(helloLines("hello") + "argv[1] = a\nargv[2] = b\n")),
    0,
  ],
  ["/bin/hello", [], helloLines("/bin/hello"), 0],
  ["false || echo or; true && echo and; false && echo never; echo $?", [], "or\nand\n1\n", 0],
  ["! true; echo $?; ! false; echo $?", [], "1\n0\n", 0],
  ["X=5; Y=\"$X six\"; echo $X ${Y} '$X'", [], "5 5 six $X\n", 0],
  ["echo $0 $1 $2 $#", ["zero", "one", "two"], "zero one two 2\n", 0],
  ["echo one > /sh-out; echo two >> /sh-out; wc < /sh-out", [], wcLine("one\ntwo\n"), 0],
  ["hello 1>&2 | wc", [], wcLine(""), 0],
  ["/bin/segv; echo $?", [], "segv: storing to the null address\n139\n", 0],
  ["nosuch; echo $?", [], "127\n", 0],
  ["true & wait; echo waited $?", [], "waited 0\n", 0],
  ["exit 3", [], "", 3],
  ["hello | exit 4", [], "", 4],
];

Deno.test("sh: pipelines, lists, redirects, parameters and statuses (hello | wc)", async () => {
  await withMachine(tree, { dax: "always" }, async (m) => {
    for (const [line, args, want, code] of CASES) {
      const r = await run(m, "/bin/sh", ["sh", "-c", line, ...args]);
      assert.equal(r.stdout, want, `sh -c '${line}'`);
      assert.equal(r.code, code, `sh -c '${line}': status (${r.message ?? ""}) stderr ${r.stderr}`);
    }
    await within(m.settled(), 30_000, "every child reaped");
  });
});

Deno.test("sh: the acceptance line, xip run IMAGE -- /bin/sh -c 'hello | wc'", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "xip-sh-" });
  try {
    const image = `${dir}/root.img`;
    const xip = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../../src/cli/main.ts", import.meta.url).pathname, ...args],
        // xip run checks the machine's invariants and fsck at the end (exit 70 when they fail).
        env: { XIP_CHECK_INVARIANTS: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const mk = await xip("mkfs", image, "--size", "16M", "--from", tree);
    assert.equal(mk.code, 0, new TextDecoder().decode(mk.stderr));
    const r = await xip("run", image, "--", "/bin/sh", "-c", "hello | wc");
    assert.equal(new TextDecoder().decode(r.stdout), wcLine(helloLines("hello")));
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

addEventListener("unload", () => Deno.removeSync(tree, { recursive: true }));
