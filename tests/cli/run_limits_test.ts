/**
 * `xip run`'s up-front limits (src/cli/_limits.ts): a command line that
 * cannot fit the host is refused at once, in one line, before a Worker
 * starts — `--procs 1024` used to take about 17 GB — and an image larger
 * than run loads is refused by its size, without being read.
 */

import assert from "node:assert/strict";
import { MAX_IMAGE_BYTES } from "../../src/hw/image.ts";
import { runHostBytes, WORKER_HOST_BYTES } from "../../src/cli/_limits.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const work = Deno.makeTempDirSync({ prefix: "xip-limits-" });
Deno.test.afterAll(() => Deno.removeSync(work, { recursive: true }));

async function xip(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    signal: AbortSignal.timeout(120_000),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const GIB = 1024 ** 3;
const image = `${work}/small.img`;
Deno.test.beforeAll(async () => {
  const r = await xip(["mkfs", image, "--size", "16M", "--from", "fixtures/rootfs"]);
  assert.equal(r.code, 0, r.err);
});

Deno.test("xip run --procs 1024 on a host with 8 GiB free is refused at once in one line", async () => {
  const r = await xip(["run", image, "--procs", "1024", "--", "/bin/hello"], {
    XIP_HOST_MEMORY: String(8 * GIB),
  });
  assert.equal(r.code, 1, r.err);
  assert.equal(r.out, "", "no guest ran");
  assert.match(
    r.err,
    /^xip run: --procs 1024 with --ram 64M would take about 16\.\d GiB of host memory .*; 8\.0 GiB is available\n$/,
  );
  // The same run with room for it passes the check (and runs).
  const ok = await xip(["run", image, "--snapshot", "--procs", "2", "--", "/bin/hello"], {
    XIP_HOST_MEMORY: String(8 * GIB),
  });
  assert.equal(ok.code, 0, ok.err);
});

Deno.test("the host memory estimate grows by a Worker per process, plus RAM and image", () => {
  const one = runHostBytes(1, 64 << 20, 16 << 20);
  const two = runHostBytes(2, 64 << 20, 16 << 20);
  // One more process: its Worker plus a few more bytes of per-task tables.
  assert.ok(two - one >= WORKER_HOST_BYTES && two - one < WORKER_HOST_BYTES + (1 << 20));
  assert.ok(runHostBytes(1, 128 << 20, 16 << 20) - one >= 64 << 20, "RAM counts");
  assert.ok(runHostBytes(1, 64 << 20, 32 << 20) - one >= 16 << 20, "the image counts");
});

Deno.test("xip run on an image larger than run supports is refused by its size, unread", async () => {
  const big = `${work}/big.img`;
  const f = Deno.openSync(big, { write: true, create: true });
  f.truncateSync(MAX_IMAGE_BYTES + 4096); // sparse: no disk used
  f.close();
  const r = await xip(["run", big, "--", "/bin/hello"]);
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.match(
    r.err,
    /^xip run: image \S+big\.img: 4\.0 GiB is larger than run supports \(4\.0 GiB/,
  );
  assert.equal(r.err.split("\n").length, 2, r.err);
  Deno.removeSync(big);
});
