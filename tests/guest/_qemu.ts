/**
 * Running static fixtures under qemu-riscv32, the reference hart, for the
 * suites that compare against it (tests/guest/qemu_test.ts and
 * tests/kernel/differential_test.ts).
 *
 * @module
 */
import type { StaticCase } from "./_expected.ts";

export const STATIC_DIR = new URL("../../fixtures/static/", import.meta.url).pathname;
export const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
export const QEMU = "qemu-riscv32";

export async function haveQemu(): Promise<boolean> {
  try {
    await new Deno.Command(QEMU, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Run one case with core dumps off (a SIGSEGV case must not leave a core
 * file). With `dynamic`, run the rootfs program of the same name through
 * the static reference loader xld instead of the static build.
 */
export async function runUnderQemu(
  c: StaticCase,
  dynamic = false,
): Promise<{ stdout: string; status: number }> {
  const target = dynamic
    ? [STATIC_DIR + "xld", ROOTFS, `/bin/${c.program}`]
    : ["-0", c.argv0, STATIC_DIR + c.program];
  const cwd = await Deno.makeTempDir({ prefix: "xip-qemu-" });
  try {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        'ulimit -c 0; exec "$@"',
        "sh",
        QEMU,
        ...target,
        ...c.args,
      ],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // A child killed by a signal: the shell exec'd qemu, which re-raises the
    // guest's fatal signal on itself, so Deno sees the signal.
    const status = out.signal ? 128 + signalNumber(out.signal) : out.code;
    return { stdout: new TextDecoder().decode(out.stdout), status };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

function signalNumber(sig: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGSEGV: 11, SIGABRT: 6, SIGKILL: 9 };
  const n = numbers[sig];
  if (n === undefined) throw new Error(`unexpected signal ${sig}`);
  return n;
}
