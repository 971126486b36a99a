import assert from "node:assert/strict";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const dec = new TextDecoder();

const work = Deno.makeTempDirSync({ prefix: "xip-ui-" });
const image = `${work}/root.img`;
Deno.writeFileSync(image, mkfs({ sizeBytes: 16 * 1024 * 1024, from: ROOTFS }));

Deno.test.afterAll(() => Deno.removeSync(work, { recursive: true }));

function xip(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A port nothing listens on right now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function statsAt(port: number): Promise<Record<string, unknown> | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/api/stats`);
    return r.ok ? await r.json() : (await r.body?.cancel(), null);
  } catch {
    return null; // not listening yet
  }
}

Deno.test("xip run --ui serves /api/stats with live counters while the run goes on", async () => {
  const port = freePort();
  const statsFile = `${work}/s.json`;
  const child = xip([
    "run",
    image,
    "--dax",
    "always",
    "--procs",
    "2",
    "--snapshot",
    "--ui",
    `127.0.0.1:${port}`,
    "--stats",
    statsFile,
    "--",
    "/bin/compute",
    "24",
  ]);
  const seen: number[] = [];
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const s = await statsAt(port);
    if (s !== null && (s.instret as number) > (seen.at(-1) ?? 0)) seen.push(s.instret as number);
    if (seen.length >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const out = await child.output();
  const err = dec.decode(out.stderr);
  assert.equal(out.code, 0, err);
  assert.ok(seen.length >= 2, `instret seen growing: ${seen.join(", ")}`);
  assert.equal(err, `xip run: live view at http://127.0.0.1:${port}/\n`);
  // The view ends with the run.
  assert.equal(await statsAt(port), null);
  const final = JSON.parse(Deno.readTextFileSync(statsFile));
  assert.equal(final.procs, 2);
  assert.ok(final.instret > seen.at(-1)!);
});

Deno.test("xip run --ui refuses a bad address (2), --ui-hold alone (2), a busy port (1)", async () => {
  const run = async (...extra: string[]) => {
    const o = await xip(["run", image, "--snapshot", ...extra, "--", "/bin/hello"]).output();
    return { code: o.code, err: dec.decode(o.stderr), out: dec.decode(o.stdout) };
  };
  const bad = await run("--ui", "nowhere:");
  assert.equal(bad.code, 2);
  assert.equal(
    bad.err,
    `xip run: --ui: bad address "nowhere:" (expected [HOST:]PORT) (try xip help run)\n`,
  );
  const hold = await run("--ui-hold");
  assert.equal(hold.code, 2);
  assert.equal(hold.err, "xip run: --ui-hold needs --ui (try xip help run)\n");
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const r = await run("--ui", String(port));
    assert.equal(r.code, 1);
    assert.equal(r.err, `xip run: --ui: cannot listen on 127.0.0.1:${port}: address in use\n`);
    assert.equal(r.out, "", "the run did not start");
  } finally {
    busy.close();
  }
});
