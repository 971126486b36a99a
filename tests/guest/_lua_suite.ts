/**
 * Lua 5.4.8's official test suite (fixtures/lua-testes, from the release
 * tarball) run by the dynamic /bin/lua (musl's ld.so, liblua.so) under xip,
 * in both DAX modes, and compared file by file with the same build under
 * qemu-riscv32 -L fixtures/rootfs, which is the oracle: a file belongs in
 * the suite exactly when it passes there.
 *
 * Every file runs alone, from /testes, as all.lua's "user tests" mode does
 * for it: `lua -e "_U=true _soft=true _port=true _nomsg=true" FILE`
 * (skip tests of internals, long or memory-hungry parts and non-portable
 * ones), with PATH=/bin:/usr/bin as the only environment variable. The
 * comparison is stdout, stderr and the exit status, after blanking the
 * numbers of the few lines that report time or random draws (NOISY).
 *
 * Left out, with the reason (LEFT_OUT): the files that fail under qemu too,
 * and all.lua, the driver that runs all the others in one process.
 *
 * The full set takes minutes on the interpreter, so `deno task test` runs
 * LUA_QUICK (tests/guest/lua_test.ts) and `deno task test:lua` runs every
 * file (tests/guest/lua_full.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";
import { assertInvariants } from "../_invariants.ts";
import { within } from "../kernel/_guest_image.ts";
import { FIXTURES, LUA_TESTES, runOnMachine, runQemu, type RunResult } from "./_musl.ts";
import { haveQemu, ROOTFS } from "./_qemu.ts";

/** The mode all.lua sets for "user tests" (_U), given to each file. */
export const LUA_MODE = "_U=true _soft=true _port=true _nomsg=true";
const ENV = { PATH: "/bin:/usr/bin" };

/** Every file of testes/ that passes under qemu-riscv32 with this build and mode. */
export const LUA_PASSING = [
  "api.lua",
  "attrib.lua",
  "big.lua",
  "bitwise.lua",
  "bwcoercion.lua",
  "calls.lua",
  "closure.lua",
  "code.lua",
  "constructs.lua",
  "coroutine.lua",
  "cstack.lua",
  "db.lua",
  "errors.lua",
  "events.lua",
  "files.lua",
  "gc.lua",
  "gengc.lua",
  "goto.lua",
  "locals.lua",
  "main.lua",
  "math.lua",
  "nextvar.lua",
  "pm.lua",
  "sort.lua",
  "strings.lua",
  "tpack.lua",
  "tracegc.lua",
  "utf8.lua",
  "vararg.lua",
  "verybig.lua",
];

/** Files not run, and why. */
export const LEFT_OUT: Record<string, string> = {
  "literals.lua": "fails under qemu-riscv32 too: musl's setlocale accepts any name (pt_BR), " +
    "but has no locale with a decimal comma, so tonumber('3,4') is nil (literals.lua:298)",
  "all.lua": "the driver that runs the other files in one process; they run one by one here " +
    "(and it stops at literals.lua under qemu too)",
  "heavy.lua": "passes under qemu only because the host has gigabytes of RAM: it grows strings " +
    "until the 32-bit address space runs out (about 1 GiB of Lua memory), so on a machine " +
    "with less RAM than that (xip's default 64 MiB, or 256 MiB here) the OOM killer ends it, " +
    "as Linux's would; it also copies gigabytes, 4 minutes on the interpreter before that",
};

/**
 * The quick set for `deno task test`: every passing file that takes a few
 * seconds or less on the interpreter (the rest take 20 to 80 s each).
 */
export const LUA_QUICK = LUA_PASSING.filter((f) =>
  ![
    "calls.lua",
    "constructs.lua",
    "cstack.lua",
    "db.lua",
    "gc.lua",
    "heavy.lua",
    "locals.lua",
    "math.lua",
    "nextvar.lua",
    "sort.lua",
  ].includes(f)
);

/** Lines whose numbers depend on the clock or on random draws: their digits are blanked. */
const NOISY = [
  /random seeds:/,
  /random range in \d+ calls/,
  /msec\./,
  /comparisons/,
  /test done on/,
  /short-circuit optimizations \(\d+\)/,
];

/** `text` with the digits of NOISY lines replaced by '#'. */
export function normalize(text: string): string {
  return text.split("\n").map((l) => NOISY.some((r) => r.test(l)) ? l.replace(/\d+/g, "#") : l)
    .join("\n");
}

/** A host tree for the Machine: fixtures/rootfs, and the test suite at /testes. */
function luaTree(): string {
  const dir = Deno.makeTempDirSync({ prefix: "xip-lua-" });
  const copy = (from: string, to: string) => {
    Deno.mkdirSync(to, { recursive: true });
    for (const e of Deno.readDirSync(from)) {
      if (e.isDirectory) copy(`${from}/${e.name}`, `${to}/${e.name}`);
      else if (e.isFile) Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
    }
  };
  copy(ROOTFS, dir);
  copy(LUA_TESTES, `${dir}/testes`);
  return dir;
}

/** Run `files` under qemu, at most `par` at a time, each in a fresh copy of the suite. */
async function qemuRuns(files: string[], par: number): Promise<Map<string, RunResult>> {
  const out = new Map<string, RunResult>();
  const queue = [...files];
  await Promise.all(Array.from({ length: par }, async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const dir = Deno.makeTempDirSync({ prefix: "xip-lua-qemu-" });
      try {
        await new Deno.Command("cp", { args: ["-r", `${LUA_TESTES}/.`, dir] }).output();
        const lua = `${FIXTURES}rootfs/bin/lua`;
        out.set(
          f,
          await runQemu(["-0", "lua", lua, "-e", LUA_MODE, f], {
            sysroot: ROOTFS,
            cwd: dir,
            env: ENV,
          }),
        );
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    }
  }));
  return out;
}

/**
 * Declare the suite over `files`: one test per DAX mode, each on its own
 * Machine running two files at a time, every result compared with qemu's.
 */
export async function defineLuaSuite(files: string[], label: string): Promise<void> {
  const available = await haveQemu();
  const optOut = Deno.env.get("XIP_NO_QEMU") === "1";
  if (!available && !optOut) {
    Deno.test(`qemu-riscv32 is installed (the oracle of the ${label} Lua suite)`, () => {
      assert.fail("qemu-riscv32 not found: install Debian's qemu-user, or set XIP_NO_QEMU=1");
    });
  }
  for (const [f, why] of Object.entries(LEFT_OUT)) {
    Deno.test({ name: `lua suite (${label}): ${f} is left out: ${why}`, ignore: true, fn() {} });
  }
  let reference: Promise<Map<string, RunResult>> | null = null;
  for (const dax of ["always", "never"] as const) {
    Deno.test({
      name: `lua suite (${label}, dax=${dax}): ${files.length} files pass and match qemu-riscv32`,
      ignore: !available,
      fn: async () => {
        reference ??= qemuRuns(files, 2);
        const tree = luaTree();
        const m = await Machine.boot({
          from: tree,
          size: 64 * 1024 * 1024,
          ram: 256 * 1024 * 1024,
          dax,
          maxProcs: 2,
          warm: 2,
          log: () => {},
        });
        try {
          const queue = [...files];
          const got = new Map<string, RunResult>();
          await Promise.all([0, 1].map(async () => {
            for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
              const argv = ["lua", "-e", LUA_MODE, f];
              got.set(
                f,
                await runOnMachine(m, "/bin/lua", argv, { cwd: "/testes", env: ENV }, 900_000),
              );
            }
          }));
          const ref = await reference;
          for (const f of files) {
            const x = got.get(f)!, q = ref.get(f)!;
            assert.equal(
              q.status,
              0,
              `${f}: fails under qemu too (status ${q.status}): ${q.stderr}`,
            );
            assert.equal(x.status, 0, `${f}: status ${x.status} under xip: ${x.stderr}`);
            assert.equal(
              normalize(x.stdout),
              normalize(q.stdout),
              `${f}: stdout differs from qemu`,
            );
            assert.equal(
              normalize(x.stderr),
              normalize(q.stderr),
              `${f}: stderr differs from qemu`,
            );
          }
          assertInvariants(m, { fsck: true }, `after the ${label} Lua suite (dax=${dax})`);
        } finally {
          await within(m.shutdown(), 30_000, "shutdown");
          Deno.removeSync(tree, { recursive: true });
        }
      },
    });
  }
}
