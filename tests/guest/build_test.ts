/**
 * `deno task guest` must reproduce the committed fixtures byte for byte, so
 * the binaries in git are exactly what guest/ builds and a rebuild leaves
 * `git status` clean. Needs clang and ld.lld; without them the case is
 * reported as ignored with a warning (the fixtures themselves are still
 * checked by fixtures_test.ts and qemu_test.ts).
 *
 * The third-party part (musl, Lua: guest/thirdparty.ts) is rebuilt and
 * compared only when $XIP_THIRDPARTY names the directory of their
 * tarballs; otherwise that case is ignored and says so in one line. It
 * takes a minute or two (musl's build).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function haveToolchain(): Promise<boolean> {
  for (const tool of ["clang", "ld.lld"]) {
    try {
      await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
  return true;
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await listFiles(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    else out.push(prefix + e.name);
  }
  return out.sort();
}

const toolchain = await haveToolchain();
if (!toolchain) console.warn("clang/ld.lld not found: the fixture rebuild check is IGNORED");

const thirdparty = Deno.env.get("XIP_THIRDPARTY") ?? "";
if (thirdparty === "") {
  console.warn("XIP_THIRDPARTY not set: the musl/Lua rebuild check is IGNORED");
}

/** Build into a fresh directory (third-party too when `dir` is given) and compare with fixtures/. */
async function rebuildMatches(dir: string): Promise<void> {
  const out = await Deno.makeTempDir({ prefix: "xip-guest-build-" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}guest/build.ts`, "--out", out],
      env: { XIP_THIRDPARTY: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const built = await listFiles(out);
    assert.ok(built.includes("rootfs/lib/libc.so"));
    if (dir !== "") assert.ok(built.includes("rootfs/lib/ld-musl-riscv32.so.1"));
    for (const f of built) {
      const fresh = await Deno.readFile(`${out}/${f}`);
      const committed = await Deno.readFile(`${ROOT}fixtures/${f}`);
      assert.ok(
        fresh.length === committed.length && fresh.every((b, i) => b === committed[i]),
        `fixtures/${f} differs from a fresh build: run \`deno task guest\` and commit`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

Deno.test({
  name: "guest/build.ts reproduces the committed fixtures byte for byte",
  ignore: !toolchain,
  fn: () => rebuildMatches(""),
});

Deno.test({
  name: "guest/build.ts --thirdparty reproduces the musl and Lua fixtures byte for byte",
  ignore: !toolchain || thirdparty === "",
  fn: () => rebuildMatches(thirdparty),
});

Deno.test("guest/build.ts answers bad usage with one line and status 2, --help with its usage", async () => {
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}guest/build.ts`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: r.code, stdout: text(r.stdout), stderr: text(r.stderr) };
  };
  for (const args of [["--bogus"], ["extra"], ["--thirdparty"]]) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^guest: .+ \(--help for usage\)\n$/, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
  }
  const h = await run("--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^usage: deno task guest \[--out DIR\] \[--thirdparty DIR\]\n/);
  assert.match(h.stdout, /exit status: 0 built; 1 a build step failed; 2 bad usage\./);
});
