/**
 * The package as a user meets it: imported by its name through the exports
 * of deno.json (`@xip/xip`, `@xip/xip/sync`, `@xip/xip/internals`,
 * `@xip/xip/cli`), running a guest, and the README's library example run as
 * written, with only --allow-read.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  fsck,
  FSCK_CLEAN,
  ImageError,
  Machine,
  MachineError,
  type MachineStats,
  mkfs,
  MKFS_DEFAULT_BYTES,
  STATS_VERSION,
  VERSION,
} from "@xip/xip";
import {
  createLockArena,
  enterTask,
  heldLocks,
  KernelPanic,
  LockClass,
  MUTEX_WORDS,
  mutexLock,
  mutexOwner,
  mutexUnlock,
  taskExit,
} from "@xip/xip/sync";
import { computeLayout, PAGE_SIZE } from "@xip/xip/internals";
import { main } from "@xip/xip/cli";

const ROOT = new URL("../../", import.meta.url).pathname;
const ROOTFS = join(ROOT, "fixtures/rootfs");
const dec = new TextDecoder();

Deno.test("@xip/xip: mkfs defaults to 64 MiB, fsck finds it clean, and a Machine runs a guest from it", async () => {
  const image = mkfs({ from: ROOTFS });
  assert.equal(image.length, MKFS_DEFAULT_BYTES);
  assert.equal(MKFS_DEFAULT_BYTES, 64 * 1024 * 1024);
  assert.equal(fsck(image).status, FSCK_CLEAN);
  let out = "";
  let stats: MachineStats;
  {
    await using m = await Machine.boot({
      image,
      dax: "always",
      stdout: (b) => out += dec.decode(b),
    });
    const { code, signal } = await m.spawn("/bin/hello", ["hello", "pkg"]).wait();
    assert.deepEqual([code, signal], [0, 0]);
    stats = m.stats();
  }
  assert.equal(out, "hello from xip\nargv[0] = hello\nargv[1] = pkg\n");
  assert.equal(stats.version, STATS_VERSION);
  assert.equal(stats.page_size, PAGE_SIZE);
  assert.ok(stats.faults.dax > 0, "the program ran in place");
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
});

Deno.test("@xip/xip: await using shuts the machine down, and the errors are exported classes", async () => {
  let held: Machine | undefined;
  {
    await using m = await Machine.boot({ from: ROOTFS, warm: 0 });
    held = m;
  }
  assert.throws(() => held!.spawn("/bin/hello"), MachineError);
  await assert.rejects(Machine.boot({ image: join(ROOT, "no-such.img") }), ImageError);
  await assert.rejects(Machine.boot({ ram: 12345 }), MachineError);
});

Deno.test("@xip/xip/sync: a lock arena's mutex works in a task and refuses a thread outside one", () => {
  const arena = createLockArena({ maxTasks: 4 });
  const lock = arena.alloc(MUTEX_WORDS);
  assert.throws(() => mutexLock(arena.k, lock, LockClass.NONE), KernelPanic);
  const me = enterTask(arena.k, 1);
  try {
    mutexLock(arena.k, lock, LockClass.NONE);
    assert.equal(mutexOwner(arena.k, lock), me);
    assert.deepEqual(heldLocks(arena.k, me).map((h) => h.word), [lock]);
    mutexUnlock(arena.k, lock);
    assert.equal(mutexOwner(arena.k, lock), 0);
  } finally {
    taskExit(arena.k, me);
  }
});

Deno.test("@xip/xip/internals and @xip/xip/cli: the layout and the command", async () => {
  const l = computeLayout({ ramFrames: 256, deviceFrames: 256, deviceMemmap: false, maxTasks: 4 });
  assert.ok(l.regions.length > 10 && l.bytes > 0);
  assert.equal(await main(["help"]), 0);
  assert.equal(await main(["frobnicate"]), 2);
});

/**
 * Run `code` as a script saved in the checkout (where `@xip/xip` resolves, as
 * the README says), with only --allow-read, under a timeout.
 */
async function runScript(code: string, timeoutMs: number) {
  const script = join(ROOT, `pkg_test_${crypto.randomUUID().slice(0, 8)}.ts`);
  Deno.writeTextFileSync(script, code);
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", script],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return { code: r.code, signal: r.signal, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  } finally {
    Deno.removeSync(script);
  }
}

Deno.test("the README's library example runs as written, with only --allow-read", async () => {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const section = readme.slice(readme.indexOf("## Use it as a library"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, "no ts block in the README's library section");
  assert.match(code, /from "@xip\/xip"/);
  const r = await runScript(code, 120_000);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^exit 0: [1-9]\d* DAX faults, [1-9]\d* instructions$/m);
});

Deno.test("a script that never calls shutdown() exits after its last process", async () => {
  const r = await runScript(
    `import { Machine } from "@xip/xip";
const m = await Machine.boot({ from: "fixtures/rootfs", stdout: () => {} });
console.log((await m.spawn("/bin/hello").wait()).code);
`,
    60_000,
  );
  assert.equal(r.signal, null, "killed by the timeout: the script hung");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "0\n");
});
