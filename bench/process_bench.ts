/**
 * Processes making processes, measured inside the guest so that only the
 * fork, exec, exit and wait path is timed, not spawn: one process of
 * `proctest cycles N [PATH]` forks N children one after another, each
 * exits (or execs PATH, a static or a dynamic hello, which exits), and
 * waits for each. A bench iteration is one such process; the time per
 * cycle is the iteration's time / CYCLES. The Machine is warm: its pool
 * has run the program before, and every child's Worker goes back to the
 * pool.
 *
 * Threads: the threaded compute (threads compute N LIMIT) with 1 and 2
 * threads, LIMIT sized so one thread computes for about a second; the
 * scaling is the ratio of the two means (2 cores).
 *
 *   deno bench -A bench/process_bench.ts    (XIP_BENCH_QUICK=1: 3 iterations each)
 *
 * @module
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const ITER = QUICK ? { n: 3, warmup: 1 } : { n: 10, warmup: 2 };
/** Cycles per bench iteration. */
export const CYCLES = 50;
/** Primes below this take one thread a second or more with the translator (hart speed dependent). */
const LIMIT = QUICK ? "300000" : "3000000";

const FIX = new URL("../fixtures/", import.meta.url).pathname;
const root = Deno.makeTempDirSync({ prefix: "xip-bench-process-" });
for (const d of ["bin", "lib", "static"]) Deno.mkdirSync(`${root}/${d}`);
for (const f of ["proctest", "hello", "threads", "true"]) {
  Deno.copyFileSync(`${FIX}rootfs/bin/${f}`, `${root}/bin/${f}`);
}
Deno.copyFileSync(`${FIX}rootfs/lib/libc.so`, `${root}/lib/libc.so`);
for (const f of ["hello", "proctest", "threads"]) {
  Deno.copyFileSync(`${FIX}static/${f}`, `${root}/static/${f}`);
}
const image = mkfs({ sizeBytes: 8 << 20, from: root });
Deno.removeSync(root, { recursive: true });

const quiet = (_d: Uint8Array): void => {};
const m = await Machine.boot({
  image: image.slice(),
  dax: "always",
  ram: 64 << 20,
  maxProcs: 8,
  warm: 3,
  stdout: quiet,
  stderr: quiet,
});

async function run(path: string, argv: string[]): Promise<void> {
  const s = await m.spawn(path, argv).wait();
  if (s.code !== 0) throw new Error(`${argv.join(" ")} exited ${s.code}: ${s.message ?? ""}`);
}

const cycles = (exec?: string) => () =>
  run("/static/proctest", ["proctest", "cycles", String(CYCLES), ...(exec ? [exec] : [])]);

await cycles()(); // warm the pool and the module graph
await cycles("/static/hello")();

Deno.bench({
  name: `fork+exit+wait x${CYCLES}`,
  group: "fork",
  baseline: true,
  ...ITER,
  fn: async () => await cycles()(),
});

Deno.bench({
  name: `fork+exec+exit+wait of static hello x${CYCLES}`,
  group: "fork",
  ...ITER,
  fn: async () => await cycles("/static/hello")(),
});

Deno.bench({
  name: `fork+exec+exit+wait of dynamic hello x${CYCLES}`,
  group: "fork",
  ...ITER,
  fn: async () => await cycles("/bin/hello")(),
});

Deno.bench({
  name: "threaded compute, 1 thread",
  group: "threads",
  baseline: true,
  n: QUICK ? 2 : 4,
  warmup: 1,
  fn: async () => await run("/static/threads", ["threads", "compute", "1", LIMIT]),
});

Deno.bench({
  name: "threaded compute, 2 threads",
  group: "threads",
  n: QUICK ? 2 : 4,
  warmup: 1,
  fn: async () => await run("/static/threads", ["threads", "compute", "2", LIMIT]),
});

globalThis.addEventListener("unload", () => void m.shutdown());
