import assert from "node:assert/strict";
import { XSUPER } from "../../src/abi/layout/mod.ts";
import { makeHostTree, sha256 } from "../fs/_host_tree.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: Uint8Array;
  out: string;
  err: string;
}

async function xip(...args: string[]): Promise<Run> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    // xip run ends by checking the machine's invariants and fsck (exit 70 when they fail).
    env: { XIP_CHECK_INVARIANTS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: r.stdout, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** stderr is exactly one line, and no stack trace leaked into it. */
function assertOneLine(r: Run, pattern: RegExp): void {
  const lines = r.err.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `stderr: ${JSON.stringify(r.err)}`);
  assert.match(lines[0]!, pattern);
  assert.ok(!/\n\s+at /.test(r.err), "no stack trace");
}

const tree = makeHostTree(11);
const work = Deno.makeTempDirSync({ prefix: "xipfs-cli-" });
const image = `${work}/root.img`;
let made: Run | undefined;
/** mkfs through the CLI once, for the tests that read an image. */
async function madeImage(): Promise<string> {
  made ??= await xip("mkfs", image, "--size", "16M", "--from", tree.dir);
  assert.equal(made.code, 0, made.err);
  return image;
}

Deno.test.afterAll(() => {
  Deno.removeSync(tree.dir, { recursive: true });
  Deno.removeSync(work, { recursive: true });
});

for (const cmd of [[], ["mkfs"], ["ls"], ["cat"], ["fsck"], ["run"], ["demo"]]) {
  Deno.test(`xip ${cmd.join(" ")} --help exits 0 and prints usage, as xip help ${cmd[0] ?? ""} does`, async () => {
    const r = await xip(...cmd, "--help");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^usage: xip/);
    assert.equal(r.err, "");
    const h = await xip("help", ...cmd);
    assert.equal(h.code, 0, h.err);
    assert.equal(h.out, r.out);
    if (cmd.length > 0) assert.match(r.out, new RegExp(`^usage: xip ${cmd[0]} `));
    for (const line of r.out.split("\n")) assert.ok(line.length <= 80, `long help line: ${line}`);
  });
}

Deno.test("xip --version prints the version of deno.json", async () => {
  const r = await xip("--version");
  assert.equal(r.code, 0, r.err);
  const version = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)))
    .version;
  assert.equal(r.out, `xip ${version}\n`);
});

const USAGE_ERRORS: [string[], RegExp][] = [
  [["ls", "img", "--bogus"], /^xip ls: unknown option --bogus \(try xip help ls\)$/],
  // A negative number reaches the option's own check (node's parseArgs calls it "ambiguous").
  [["mkfs", "img", "--size", "-5"], /^xip mkfs: bad size "-5"/],
  [
    ["run", "img", "--procs", "-3", "--", "/bin/hello"],
    /^xip run: --procs must be a whole number from 1 to 1024 \(got "-3"\)/,
  ],
  [["run", "img", "--ram", "-64M", "--", "/bin/hello"], /^xip run: bad size "-64M"/],
  [["mkfs", "img", "--size", "12Q"], /^xip mkfs: bad size "12Q": expected a number/],
  [["mkfs", "img", "--size", "10000"], /^xip mkfs: --size 10000 is not a multiple of 4096 \(/],
  [["mkfs", "img", "--size", "8K"], /^xip mkfs: --size 8192 is outside/],
  [["mkfs", "img", "--size", "8G"], /^xip mkfs: --size \d+ is outside/],
  [["mkfs", "img", "--size"], /^xip mkfs: option --size needs a value \(try xip help mkfs\)$/],
  [["mkfs", "img", "--no-dax=1"], /^xip mkfs: option --no-dax takes no value/],
  [["mkfs", "img", "--inodes", "x"], /^xip mkfs: --inodes must be a whole number/],
  [["mkfs"], /^xip mkfs: missing IMAGE \(try xip help mkfs\)$/],
  [["cat", "img"], /^xip cat: missing PATH \(try xip help cat\)$/],
  [["ls", "a", "b", "c"], /^xip ls: unexpected argument "c" \(try xip help ls\)$/],
  [["demo", "--procs", "0"], /^xip demo: --procs must be a whole number from 1 to 1024/],
  [["help", "frobnicate"], /^xip help: unknown command "frobnicate" \(try xip help\)$/],
  [["frobnicate"], /^xip: unknown command "frobnicate" \(try xip help\)$/],
  [[], /^xip: missing command \(try xip help\)$/],
];

Deno.test("xip fsck exits 16 (e2fsck's usage error) with one line for bad usage", async () => {
  for (
    const [args, pattern] of [
      [["fsck", "-x", "img"], /^xip fsck: unknown option -x \(try xip help fsck\)$/],
      [["fsck", "-n", "-y", "img"], /^xip fsck: -n, -p and -y exclude each other/],
      [["fsck"], /^xip fsck: missing IMAGE/],
    ] as const
  ) {
    const r = await xip(...args);
    assert.equal(r.code, 16, args.join(" "));
    assertOneLine(r, pattern);
  }
});

for (const [args, pattern] of USAGE_ERRORS) {
  Deno.test(`xip ${args.join(" ")} exits 2 with one line on stderr`, async () => {
    const r = await xip(...args);
    assert.equal(r.code, 2);
    assertOneLine(r, pattern);
    assert.equal(r.out, "");
  });
}

Deno.test("xip ls/cat/fsck on a missing image give one line: exit 1, 1 and 8", async () => {
  for (const [cmd, code] of [["ls", 1], ["cat", 1], ["fsck", 8]] as const) {
    const r = await xip(cmd, `${work}/missing.img`, ...(cmd === "cat" ? ["/x"] : []));
    assert.equal(r.code, code, cmd);
    assertOneLine(r, new RegExp(`^xip ${cmd}: image \\S+/missing\\.img: not found$`));
  }
});

Deno.test("xip run on a missing image exits 1 with one line", async () => {
  const r = await xip("run", `${work}/missing.img`, "--", "/bin/hello");
  assert.equal(r.code, 1);
  assertOneLine(r, /^xip run: image .*missing\.img: not found$/);
});

Deno.test("xip mkfs --from writes an image that xip fsck finds clean, leaving no temp file", async () => {
  const img = await madeImage();
  assert.match(made!.out, /root\.img: 4096 blocks \(\d+ free\), 1024 inodes \(\d+ free\)/);
  assert.deepEqual([...Deno.readDirSync(work)].map((e) => e.name), ["root.img"]);
  const r = await xip("fsck", img);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /root\.img: clean, \d+\/1024 inodes, \d+\/4096 blocks\n$/);
});

Deno.test("xip cat prints each file's bytes exactly (SHA-256 equal to the host's)", async () => {
  const img = await madeImage();
  for (const f of tree.files) {
    const r = await xip("cat", img, f.path);
    assert.equal(r.code, 0, r.err);
    assert.equal(await sha256(r.stdout), await sha256(f.bytes), f.path);
  }
  const viaLink = await xip("cat", img, "/abs");
  assert.equal(
    await sha256(viaLink.stdout),
    await sha256(tree.files.find((f) => f.path === "/data/deep/er/sparse")!.bytes),
  );
});

Deno.test("xip ls lists like ls -l, with modes, sizes and symlink targets", async () => {
  const img = await madeImage();
  const r = await xip("ls", img, "/bin");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "-rwxr-xr-x 1 20603 prog\nlrwxrwxrwx 1    12 rel -> ../hello.txt\n");
  const root = await xip("ls", img);
  assert.match(root.out, /^drwxr-x--- 3 +4096 data$/m);
  assert.match(root.out, /^-rw-r--r-- 1 +0 empty$/m);
});

Deno.test("xip ls/cat report path errors in one line with exit 1", async () => {
  const img = await madeImage();
  const cases: [string[], RegExp][] = [
    [["cat", img, "/data"], /^xip cat: \/data: Is a directory \(EISDIR\)$/],
    [["cat", img, "/dangling"], /^xip cat: \/dangling: No such file or directory \(ENOENT\)$/],
    [["ls", img, "/hello.txt/x"], /^xip ls: \/hello\.txt\/x: Not a directory \(ENOTDIR\)$/],
  ];
  for (const [args, pattern] of cases) {
    const r = await xip(...args);
    assert.equal(r.code, 1, args.join(" "));
    assertOneLine(r, pattern);
  }
});

Deno.test("xip on a corrupt or truncated image: fsck exits 8, ls and cat exit 1, one line each", async () => {
  const good = Deno.readFileSync(await madeImage());
  const badMagic = good.slice();
  new DataView(badMagic.buffer).setUint32(XSUPER.magic, 0xdead_beef, true);
  const variants: [string, Uint8Array, RegExp][] = [
    ["magic.img", badMagic, /bad magic 0xdeadbeef: not an xipfs image$/],
    ["trunc.img", good.slice(0, 8192), /image truncated/],
    ["odd.img", good.slice(0, 5000), /size 5000 is not a multiple of 4096$/],
  ];
  for (const [name, bytes, pattern] of variants) {
    const path = `${work}/${name}`;
    Deno.writeFileSync(path, bytes);
    const f = await xip("fsck", path);
    assert.equal(f.code, 8, name);
    assertOneLine(f, pattern);
    const l = await xip("ls", path);
    assert.equal(l.code, 1, name);
    assertOneLine(l, pattern);
    const c = await xip("cat", path, "/hello.txt");
    assert.equal(c.code, 1, name);
    assertOneLine(c, pattern);
    Deno.removeSync(path);
  }
});

Deno.test("xip fsck exits 4 and prints one line per error on a damaged image", async () => {
  const bytes = Deno.readFileSync(await madeImage());
  new DataView(bytes.buffer).setUint32(XSUPER.freeInodes, 1, true);
  const path = `${work}/counts.img`;
  Deno.writeFileSync(path, bytes);
  const r = await xip("fsck", path);
  Deno.removeSync(path);
  assert.equal(r.code, 4);
  const lines = r.out.trim().split("\n");
  assert.match(lines[0]!, /counts\.img: superblock free inodes count 1, bitmap has \d+ free$/);
  assert.match(lines.at(-1)!, /1 error line\(s\)/);
});

Deno.test("xip mkfs that fails leaves the old image and no temp file behind", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "xipfs-cli-atomic-" });
  try {
    const path = `${dir}/x.img`;
    Deno.writeFileSync(path, new TextEncoder().encode("old"));
    const r = await xip("mkfs", path, "--size", "1M", "--from", tree.dir);
    assert.equal(r.code, 1);
    assertOneLine(r, /^xip mkfs: no space left on the image/);
    assert.equal(new TextDecoder().decode(Deno.readFileSync(path)), "old");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.img"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
