/**
 * The shared counter through the CLI, end to end: `xip run --procs 8 --
 * /bin/counter /count 1000` maps /count MAP_SHARED in 8 processes, which
 * increment one word under a futex lock in the shared page; the image
 * written back holds exactly 8000, read with `xip cat`, and fsck is clean.
 */

import assert from "node:assert/strict";
import { makeGuestTree } from "../kernel/_guest_image.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function xip(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    // xip run ends by checking the machine's invariants and fsck (exit 70 when they fail).
    env: { XIP_CHECK_INVARIANTS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: r.stdout, err: dec.decode(r.stderr) };
}

const tree = makeGuestTree();
const work = Deno.makeTempDirSync({ prefix: "xip-counter-" });
Deno.test.afterAll(() => {
  Deno.removeSync(tree, { recursive: true });
  Deno.removeSync(work, { recursive: true });
});

for (const dax of ["always", "never"] as const) {
  Deno.test(`xip run --dax ${dax} --procs 8 -- /bin/counter /count 1000 leaves 8000 in /count`, async () => {
    const image = `${work}/counter-${dax}.img`;
    const stats = `${work}/counter-${dax}.json`;
    const mk = await xip("mkfs", image, "--size", "16M", "--from", tree);
    assert.equal(mk.code, 0, mk.err);
    const r = await xip(
      "run",
      image,
      "--dax",
      dax,
      "--procs",
      "8",
      "--stats",
      stats,
      "--",
      "/bin/counter",
      "/count",
      "1000",
    );
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(Deno.readTextFileSync(stats));
    assert.deepEqual(s.exit, Array(8).fill(0));
    assert.equal(s.panics, 0);
    if (dax === "always") assert.equal(s.ram.pagecache_frames, 0);
    const cat = await xip("cat", image, "/count");
    assert.equal(cat.code, 0, cat.err);
    assert.equal(cat.out.length, 4096, "counter grew the file to one page");
    const word = new DataView(cat.out.buffer, cat.out.byteOffset).getUint32(0, true);
    assert.equal(word, 8000);
    const f = await xip("fsck", image);
    assert.equal(f.code, 0, dec.decode(f.out) + f.err);
  });
}
