/**
 * `xip mkfs` writing an image: a non-UTF-8 host name is skipped with a
 * warning instead of aborting, a SIGTERM during the save waits for it (no
 * temporary file, a complete image), a temporary file left by a SIGKILL is
 * removed by the next mkfs, and an image a run holds is not replaced.
 */

import assert from "node:assert/strict";
import { flockHolders } from "../../src/hw/image_file.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const work = Deno.makeTempDirSync({ prefix: "xip-mkfs-save-" });
Deno.test.afterAll(() => Deno.removeSync(work, { recursive: true }));

function xipCmd(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    signal: AbortSignal.timeout(300_000),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function xip(args: string[]) {
  const r = await xipCmd(args).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("xip mkfs --from skips a file whose name is not UTF-8, with one warning line", async () => {
  const dir = `${work}/nonutf8`;
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/ok.txt`, "ok\n");
  // A name with a 0xff byte, made by the shell (Deno's paths are UTF-8).
  const sh = await new Deno.Command("bash", { args: ["-c", `touch "$1"$'/a\\xffb'`, "_", dir] })
    .output();
  assert.equal(sh.code, 0);
  const r = await xip(["mkfs", `${work}/n.img`, "--size", "1M", "--from", dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^xip mkfs: skipping .*\/a\ufffdb: the name is not UTF-8\n$/);
  const c = await xip(["cat", `${work}/n.img`, "/ok.txt"]);
  assert.equal(c.out, "ok\n");
});

Deno.test("xip mkfs: a SIGTERM during the save waits for it: exit 143, no temp file, the image complete", async () => {
  const dir = `${work}/term`;
  Deno.mkdirSync(dir);
  const img = `${dir}/big.img`;
  const child = xipCmd(["mkfs", img, "--size", "1G"]).spawn();
  // Wait for the temporary file to appear, then signal in the middle of the save.
  const deadline = Date.now() + 120_000;
  while (![...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".tmp"))) {
    if (Date.now() > deadline) throw new Error("mkfs never started its save");
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGTERM");
  const r = await child.output();
  assert.equal(r.code, 143, dec.decode(r.stderr));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["big.img"]);
  assert.equal(Deno.statSync(img).size, 1024 ** 3);
  const f = await xip(["fsck", img]);
  assert.equal(f.code, 0, f.out);
});

Deno.test("xip mkfs removes a temporary file left by a mkfs killed with SIGKILL", async () => {
  const dir = `${work}/stale`;
  Deno.mkdirSync(dir);
  // pid 2^22 + 1 is above any Linux pid_max: no such process.
  const stale = `${dir}/.x.img.xip-4194305.tmp`;
  Deno.writeTextFileSync(stale, "half an image");
  const r = await xip(["mkfs", `${dir}/x.img`, "--size", "1M"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.img"]);
});

Deno.test("xip mkfs over an image a run holds is refused, naming the run", async () => {
  const img = `${work}/held.img`;
  assert.equal((await xip(["mkfs", img, "--size", "16M", "--from", "fixtures/rootfs"])).code, 0);
  const run = xipCmd(["run", img, "--", "/bin/counter", "/c", "3000000"]).spawn();
  try {
    const ino = Deno.statSync(img).ino!;
    const deadline = Date.now() + 120_000;
    while (!flockHolders(ino).some((h) => !h.shared)) {
      if (Date.now() > deadline) throw new Error("the run never locked the image");
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await xip(["mkfs", img, "--size", "1M"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^xip mkfs: image .*held\.img is in use by pid \d+ \(xip run /);
  } finally {
    await run.output();
  }
  assert.equal((await xip(["fsck", img])).code, 0);
});
