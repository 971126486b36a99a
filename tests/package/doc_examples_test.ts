/**
 * The `@example` blocks of the public API run: `deno test --doc` on every
 * file that has them, in a subprocess. (Type-checking them is part of
 * `deno task check`, `deno check --doc`; here they are only run, which is
 * what can fail at run time: a wrong path, a wrong call, a hang.)
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Every file of the public API with runnable examples. */
export const DOC_FILES = [
  "mod.ts",
  "sync.ts",
  "internals.ts",
  "src/kernel/machine.ts",
  "src/fs/xipfs/mkfs.ts",
  "src/fs/xipfs/fsck.ts",
  "src/sync/arena.ts",
];

Deno.test("every runnable @example of the public API runs", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--doc", "--no-check", "--lock=deno.lock", "--frozen", ...DOC_FILES],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, text);
  const ran = /ok \| (\d+) passed \| 0 failed/.exec(text);
  assert.ok(ran !== null, text);
  // mod, sync, internals, Machine (3), mkfs, fsck, arena.
  assert.ok(Number(ran[1]) >= 9, `only ${ran[1]} examples ran:\n${text}`);
});
