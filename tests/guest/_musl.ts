/**
 * Running musl guests (fixtures/rootfs/usr/bin, fixtures/static/musl, the
 * dynamic lua) under a Machine and under qemu-riscv32, for the suites that
 * compare the two: tests/guest/musl_test.ts and the Lua suites.
 *
 * Under qemu a dynamic program runs with `-L fixtures/rootfs`, so its
 * PT_INTERP (/lib/ld-musl-riscv32.so.1) and its libraries come from the
 * same committed tree the xip image is made of.
 *
 * @module
 */

import { Machine, type SpawnOptions } from "../../src/kernel/machine.ts";
import { within } from "../kernel/_guest_image.ts";
import { QEMU, ROOTFS } from "./_qemu.ts";

export const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;
export const STATIC_MUSL = `${FIXTURES}static/musl`;
export const LUA_TESTES = `${FIXTURES}lua-testes`;

const dec = new TextDecoder();

/** What a run printed and how it ended. */
export interface RunResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Run `path` with `argv` on `m`, collecting its output; rejects after `ms`. */
export async function runOnMachine(
  m: Machine,
  path: string,
  argv: string[],
  opts: SpawnOptions = {},
  ms = 120_000,
): Promise<RunResult> {
  const out: Uint8Array[] = [], err: Uint8Array[] = [];
  const p = m.spawn(path, argv, {
    ...opts,
    stdout: (d) => out.push(d),
    stderr: (d) => err.push(d),
  });
  const s = await within(p.wait(), ms, `${argv.join(" ")}`);
  const text = (bs: Uint8Array[]) => bs.map((b) => dec.decode(b)).join("");
  return { stdout: text(out), stderr: text(err), status: s.code };
}

/**
 * Run qemu-riscv32 with `args` (after the qemu options) in `cwd`, with core
 * dumps off and stdin from /dev/null. `sysroot` adds `-L sysroot`.
 */
export async function runQemu(
  args: string[],
  opts: { cwd?: string; sysroot?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const qargs = [...(opts.sysroot ? ["-L", opts.sysroot] : []), ...args];
  const out = await new Deno.Command("sh", {
    args: ["-c", 'ulimit -c 0; exec "$@" </dev/null', "sh", QEMU, ...qargs],
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.env !== undefined, // the guest sees exactly `env` (qemu passes its own on)
    stdout: "piped",
    stderr: "piped",
  }).output();
  const status = out.signal ? 128 + (out.signal === "SIGSEGV" ? 11 : 6) : out.code;
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), status };
}

/** qemu running a dynamic rootfs program: `-L fixtures/rootfs fixtures/rootfs/PATH ARGS`. */
export const runQemuDynamic = (path: string, args: string[], cwd?: string) =>
  runQemu([`${ROOTFS}${path}`, ...args], { sysroot: ROOTFS, cwd });
