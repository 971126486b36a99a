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
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const tree = makeGuestTree();
const work = Deno.makeTempDirSync({ prefix: "xip-run-" });
const image = `${work}/root.img`;
let made = false;
async function img(): Promise<string> {
  if (!made) {
    const r = await xip("mkfs", image, "--size", "16M", "--from", tree);
    assert.equal(r.code, 0, r.err);
    made = true;
  }
  return image;
}

Deno.test.afterAll(() => {
  Deno.removeSync(tree, { recursive: true });
  Deno.removeSync(work, { recursive: true });
});

Deno.test("xip run prints the program's output and exits with its status", async () => {
  const r = await xip("run", await img(), "--", "/bin/hello", "a b");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "hello from xip\nargv[0] = /bin/hello\nargv[1] = a b\n");
  const e = await xip("run", await img(), "--", "/static/exitcode");
  assert.equal(e.code, 42);
});

Deno.test("xip run draws no progress line when stderr is not a terminal", async () => {
  // compute 20 runs for several progress intervals, so a line would be drawn if enabled.
  const r = await xip("run", await img(), "--snapshot", "--", "/bin/compute", "20");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "", "stderr must stay empty off a terminal");
});

Deno.test("xip run --procs 3 prefixes each line with [pid] and --stats writes the JSON", async () => {
  const stats = `${work}/s.json`;
  const r = await xip("run", await img(), "--procs", "3", "--stats", stats, "--", "/bin/hello");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split("\n");
  assert.equal(lines.length, 6);
  for (const pid of [1, 2, 3]) {
    assert.deepEqual(lines.filter((l) => l.startsWith(`[${pid}] `)), [
      `[${pid}] hello from xip`,
      `[${pid}] argv[0] = /bin/hello`,
    ]);
  }
  const s = JSON.parse(Deno.readTextFileSync(stats));
  assert.equal(s.procs, 3);
  assert.deepEqual(s.exit, [0, 0, 0]);
  for (const k of ["faults", "ram", "device", "copied_bytes", "instret", "wall_ms"]) {
    assert.ok(k in s, k);
  }
  assert.equal(s.ram.total_frames, 64 * 1024 * 1024 / 4096);
});

Deno.test("xip run exits 139 with one line on stderr for a segfault, 127 for a missing program", async () => {
  const r = await xip("run", await img(), "--", "/bin/segv");
  assert.equal(r.code, 139);
  assert.equal(r.out, "segv: storing to the null address\n");
  assert.match(r.err.trim(), /^xip run: SIGSEGV at 0x00000000 \(pc 0x[0-9a-f]{8}\)$/);
  const m = await xip("run", await img(), "--", "/bin/nope");
  assert.equal(m.code, 127);
  assert.match(m.err.trim(), /^xip run: \/bin\/nope: no such file \(ENOENT\)$/);
});

Deno.test("xip run writes the image back atomically, and --snapshot leaves it untouched", async () => {
  const path = await img();
  const before = Deno.readFileSync(path);
  const r = await xip("run", path, "--snapshot", "--", "/bin/hello");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(Deno.readFileSync(path), before, "--snapshot");
  const w = await xip("run", path, "--", "/bin/hello");
  assert.equal(w.code, 0, w.err);
  assert.deepEqual(
    [...Deno.readDirSync(work)].map((e) => e.name).filter((n) => n.endsWith(".tmp")),
    [],
    "no temporary file left",
  );
  const f = await xip("fsck", path);
  assert.equal(f.code, 0, f.out + f.err);
});

const USAGE: [string[], RegExp][] = [
  [["run", "img"], /^xip run: missing -- PROGRAM/],
  [["run", "--", "/bin/hello"], /^xip run: missing IMAGE/],
  [["run", "img", "--procs", "0", "--", "/x"], /^xip run: --procs must be a whole number/],
  [
    ["run", "img", "--dax", "maybe", "--", "/x"],
    /^xip run: --dax must be one of always, never, inode/,
  ],
  [["run", "img", "--memmap", "x", "--", "/x"], /^xip run: --memmap must be one of none, device/],
  [["run", "img", "--jit", "on", "--", "/x"], /^xip run: --jit must be one of off, auto, eager/],
  [["run", "img", "--ram", "12Q", "--", "/x"], /^xip run: bad size "12Q"/],
  [["run", "img", "--bogus", "--", "/x"], /^xip run: unknown option --bogus \(try xip help run\)$/],
  [["run", "a", "b", "--", "/x"], /^xip run: unexpected argument "b"/],
];

for (const [args, pattern] of USAGE) {
  Deno.test(`xip ${args.join(" ")} exits 2 with one line`, async () => {
    const r = await xip(...args);
    assert.equal(r.code, 2, r.err);
    const lines = r.err.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0]!, pattern);
  });
}

Deno.test("xip run --jit eager translates, --jit off does not; the output is the same", async () => {
  const runs: Record<string, { out: string; translations: number }> = {};
  for (const jit of ["off", "eager"]) {
    const stats = `${work}/jit-${jit}.json`;
    const r = await xip(
      "run",
      await img(),
      "--snapshot",
      "--jit",
      jit,
      "--stats",
      stats,
      "--",
      "/bin/compute",
      "2",
    );
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(Deno.readTextFileSync(stats));
    runs[jit] = { out: r.out, translations: s.jit.translations };
  }
  assert.equal(runs.off!.translations, 0);
  assert.ok(runs.eager!.translations > 0, "eager translated the frames it ran");
  assert.equal(runs.eager!.out, runs.off!.out);
});

Deno.test("xip run on a file that is not an xipfs image exits 1 with one line", async () => {
  const bad = `${work}/bad.img`;
  Deno.writeFileSync(bad, new Uint8Array(64 * 1024));
  const r = await xip("run", bad, "--", "/bin/hello");
  assert.equal(r.code, 1);
  const lines = r.err.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0]!, /^xip run: image \S+bad\.img: cannot mount: bad magic/);
});
