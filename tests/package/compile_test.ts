/**
 * `deno compile` of the CLI gives one binary that runs guests: the process
 * Worker's module is embedded with `--include workers/process.ts` (the
 * README's command), since the Machine builds the Worker's URL at run time
 * and the compiler cannot see it.
 *
 * deno compile downloads the runtime it embeds (denort). Where that download
 * is impossible the test says so in one line and is skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();
const dir = await Deno.makeTempDir({ prefix: "xip-compile-" });
const bin = join(dir, "xip");

const compiled = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--allow-read",
    "--allow-write",
    "--include",
    "workers/process.ts",
    "-o",
    bin,
    "src/cli/main.ts",
  ],
  cwd: ROOT,
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const compileErr = dec.decode(compiled.stderr);
const noRuntime = !compiled.success &&
  /denort|dl\.deno\.land|error sending request/.test(compileErr);
if (noRuntime) {
  console.warn(
    "compile_test: skipped: deno compile cannot download its runtime (denort) here",
  );
}

Deno.test({
  name: "deno compile --include workers/process.ts gives a binary that runs a guest",
  ignore: noRuntime,
  async fn() {
    try {
      assert.ok(compiled.success, `deno compile failed:\n${compileErr}`);
      const run = (...args: string[]) =>
        new Deno.Command(bin, { args, cwd: dir, stdout: "piped", stderr: "piped" }).output();
      const v = await run("--version");
      assert.match(dec.decode(v.stdout), /^xip \d+\.\d+\.\d+\n$/);
      const mk = await run(
        "mkfs",
        "root.img",
        "--size",
        "8M",
        "--from",
        join(ROOT, "fixtures/rootfs"),
      );
      assert.equal(mk.code, 0, dec.decode(mk.stderr));
      const r = await run("run", "root.img", "--snapshot", "--", "/bin/hello");
      assert.equal(r.code, 0, dec.decode(r.stderr));
      assert.match(dec.decode(r.stdout), /^hello from xip\n/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

if (noRuntime) await Deno.remove(dir, { recursive: true });
