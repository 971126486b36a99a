/**
 * `xip run` at its edges with the host, as a user running it like qemu-user
 * would: stdin reaches the guest, a closed or full stdout becomes the
 * guest's EPIPE (status 141) or ENOSPC while the image is still saved, the
 * host environment and non-UTF-8 argv bytes pass unchanged.
 */

import assert from "node:assert/strict";
import { makeGuestTree } from "../kernel/_guest_image.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

const tree = makeGuestTree();
const work = Deno.makeTempDirSync({ prefix: "xip-hostio-" });
Deno.test.afterAll(() => {
  Deno.removeSync(tree, { recursive: true });
  Deno.removeSync(work, { recursive: true });
});

/** Run a shell command line with $XIP set to the xip command; stdout, stderr, status. */
async function sh(line: string, stdin?: Uint8Array, env: Record<string, string> = {}) {
  const child = new Deno.Command("bash", {
    args: ["-c", line],
    env: { XIP: `${Deno.execPath()} run -A ${MAIN}`, ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Feed stdin while the output is collected: a guest echoing it would
  // otherwise block on a full stdout pipe, and this write with it.
  const feed = stdin === undefined ? Promise.resolve() : (async () => {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  })();
  const [r] = await Promise.all([child.output(), feed]);
  return { code: r.code, out: r.stdout, err: dec.decode(r.stderr) };
}

let n = 0;
async function freshImage(): Promise<string> {
  const img = `${work}/img${n++}`;
  const r = await sh(`$XIP mkfs ${img} --size 16M --from ${tree}`);
  assert.equal(r.code, 0, r.err);
  return img;
}

Deno.test("xip run: a closed stdout gives the guest SIGPIPE (141), no stack trace, and the image is saved", async () => {
  const img = await freshImage();
  const r = await sh(
    `$XIP run ${img} -- /bin/spew 100000 /saved | head -1; echo "status \${PIPESTATUS[0]}" >&2`,
  );
  assert.equal(dec.decode(r.out), "line 0\n");
  assert.match(r.err, /^status 141\n$/, r.err);
  const c = await sh(`$XIP cat ${img} /saved`);
  assert.equal(c.code, 0, c.err);
  assert.equal(dec.decode(c.out), "saved\n");
});

Deno.test("xip run: a full stdout gives the guest ENOSPC, and the image is saved", async () => {
  const img = await freshImage();
  const r = await sh(`$XIP run ${img} -- /bin/spew 10 /saved > /dev/full`);
  assert.equal(r.code, 1, r.err);
  assert.equal(r.err, "spew: write: errno 28\n");
  const c = await sh(`$XIP cat ${img} /saved`);
  assert.equal(dec.decode(c.out), "saved\n");
});

Deno.test("xip run: stdin reaches fd 0 byte for byte", async () => {
  const img = await freshImage();
  const input = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  const r = await sh(`$XIP run ${img} --snapshot -- /bin/cat`, input);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out, input);
  // A guest that does not read leaves the host's stdin alone.
  const s = await sh(`{ $XIP run ${img} --snapshot -- /bin/hello >/dev/null; cat; }`, input);
  assert.deepEqual(s.out, input);
});

Deno.test("xip run: the host environment reaches the guest; --env, --unset and --env-clear edit it", async () => {
  const img = await freshImage();
  const env = { XIP_T_KEEP: "kept", XIP_T_DROP: "dropped" };
  const r = await sh(
    `$XIP run ${img} --snapshot --env XIP_T_NEW=a=b --unset XIP_T_DROP -- /bin/env`,
    undefined,
    env,
  );
  assert.equal(r.code, 0, r.err);
  const lines = dec.decode(r.out).split("\n");
  assert.ok(lines.includes("XIP_T_KEEP=kept"), "host variable passed");
  assert.ok(lines.includes("XIP_T_NEW=a=b"), "--env added");
  assert.ok(!lines.some((l) => l.startsWith("XIP_T_DROP=")), "--unset removed");
  const c = await sh(
    `$XIP run ${img} --snapshot --env-clear --env ONLY=1 -- /bin/env`,
    undefined,
    env,
  );
  assert.equal(dec.decode(c.out), "ONLY=1\n");
  const bad = await sh(`$XIP run ${img} --snapshot --env NOEQUALS -- /bin/env`);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^xip run: --env wants K=V/);
});

Deno.test("xip run: argv and environment bytes that are not UTF-8 pass unchanged", async () => {
  const img = await freshImage();
  const r = await sh(`$XIP run ${img} --snapshot -- /bin/hello $'a\\xffb\\x80'`);
  assert.equal(r.code, 0, r.err);
  const want = new Uint8Array([...new TextEncoder().encode("argv[1] = a"), 0xff, 0x62, 0x80, 10]);
  const out = r.out;
  const at = out.length - want.length;
  assert.deepEqual(out.subarray(at), want);
  const e = await sh(`env $'XIP_T_RAW=\\xfe\\xff' $XIP run ${img} --snapshot -- /bin/env`);
  const raw = new Uint8Array([...new TextEncoder().encode("XIP_T_RAW="), 0xfe, 0xff, 10]);
  const hay = Array.from(e.out).join(",");
  assert.ok(hay.includes(Array.from(raw).join(",")), "raw environment bytes");
});
