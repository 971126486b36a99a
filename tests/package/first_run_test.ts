/**
 * A first run is quiet: `deno task demo` on an empty Deno cache downloads no
 * npm package (the demo imports none; only the benchmark report does, and
 * deno.json keeps `deno task` from installing the lockfile's packages up
 * front).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task demo on an empty DENO_DIR downloads no npm package", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "xip-first-run-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "demo", "--procs", "1", "--iterations", "1", "--increments", "10"],
      cwd: ROOT,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the demo failed:\n${text}`);
    assert.match(text, /\/count holds 10; expected 1 × 10 = 10: exact/);
    let npm: string[] = [];
    try {
      npm = [...Deno.readDirSync(join(denoDir, "npm"))].map((e) => e.name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    assert.deepEqual(npm, [], "the demo downloaded npm packages");
    assert.doesNotMatch(text, /Download/, "the demo downloaded something");
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
