/**
 * Each `xip` command works with the narrowest permissions the README
 * documents for it, and with less it fails with one line naming the flag it
 * needs, never an "internal error" (an env variable it may not read is
 * simply unset).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = join(ROOT, "src/cli/main.ts");
const ROOTFS = join(ROOT, "fixtures/rootfs");
/** What process Workers load their modules from. */
const XIP = `${ROOT}/src,${ROOT}/workers`;
const dec = new TextDecoder();

async function xip(perms: string[], ...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...perms, MAIN, ...args],
    env: { XIP_CHECK_INVARIANTS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** One line on stderr, matching `pattern`, and no internal error. */
function assertOneLine(err: string, pattern: RegExp): void {
  const lines = err.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, err);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(err, /internal error/);
}

const dir = Deno.makeTempDirSync({ prefix: "xip-perm-" });
const image = join(dir, "root.img");
Deno.test.afterAll(() => Deno.removeSync(dir, { recursive: true }));

Deno.test("xip mkfs --from works with --allow-read=DIR,HOSTDIR --allow-write=DIR only", async () => {
  const r = await xip(
    [`--allow-read=${dir},${ROOTFS}`, `--allow-write=${dir}`],
    "mkfs",
    image,
    "--size",
    "8M",
    "--from",
    ROOTFS,
  );
  assert.equal(r.code, 0, r.err);
  const denied = await xip([`--allow-read=${ROOTFS}`], "mkfs", join(dir, "x.img"));
  assert.equal(denied.code, 1);
  assertOneLine(
    denied.err,
    /^xip mkfs: image \S+x\.img: cannot save: not permitted \(run with --allow-(read|write)\)$/,
  );
});

Deno.test("xip ls, cat and fsck work with --allow-read=IMAGE only", async () => {
  const read = [`--allow-read=${image}`];
  const ls = await xip(read, "ls", image, "/bin");
  assert.equal(ls.code, 0, ls.err);
  assert.match(ls.out, / hello$/m);
  const cat = await xip(read, "cat", image, "/etc/motd");
  assert.equal(cat.code, 0, cat.err);
  assert.match(cat.out, /xip/);
  const fsck = await xip(read, "fsck", image);
  assert.equal(fsck.code, 0, fsck.out + fsck.err);
  for (const [cmd, code] of [["ls", 1], ["cat", 1], ["fsck", 8]] as const) {
    const r = await xip([], cmd, image, ...(cmd === "cat" ? ["/etc/motd"] : []));
    assert.equal(r.code, code, cmd);
    assertOneLine(
      r.err,
      new RegExp(`^xip ${cmd}: image \\S+: not permitted \\(run with --allow-read\\)$`),
    );
  }
});

Deno.test("xip run works with --allow-read=DIR,XIP --allow-write=DIR, and without --allow-env", async () => {
  const r = await xip(
    [`--allow-read=${dir},${XIP}`, `--allow-write=${dir}`],
    "run",
    image,
    "--stats",
    "-",
    "--",
    "/bin/hello",
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  assert.match(r.out, /^hello from xip\n/);
  assert.equal(JSON.parse(r.out.slice(r.out.indexOf("{"))).procs, 1);
});

Deno.test("xip run --snapshot works with --allow-read=IMAGE,XIP only", async () => {
  const r = await xip(
    [`--allow-read=${image},${XIP}`],
    "run",
    image,
    "--snapshot",
    "--",
    "/bin/hello",
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^hello from xip\n/);
});

Deno.test("xip run with too few permissions says which flag it needs, in one line", async () => {
  const noWorkers = await xip(
    [`--allow-read=${image}`],
    "run",
    image,
    "--snapshot",
    "--",
    "/bin/hello",
  );
  assert.equal(noWorkers.code, 1);
  assertOneLine(
    noWorkers.err,
    /^xip run: starting process Workers needs read access to \S+ \(--allow-read\)$/,
  );
  const noSave = await xip([`--allow-read=${image},${XIP}`], "run", image, "--", "/bin/hello");
  assert.equal(noSave.code, 1);
  assertOneLine(
    noSave.err,
    /^xip run: image \S+: writing it back needs --allow-(read|write) for \S+ \(or use --snapshot\)$/,
  );
  assert.equal(noSave.out, "", "nothing ran");
});
