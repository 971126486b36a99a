/**
 * Start-up: spawn to exit of a trivial static guest (fixtures/static/hello)
 * with a warm Worker pool (a Worker is waiting, as after the first process)
 * and a cold one (the Machine was booted with no warm Worker, so spawn
 * starts one), against the floor a Deno program pays for a thread: a bare
 * `new Worker` plus its first message round trip and terminate().
 *
 *   deno bench -A bench/startup_bench.ts    (XIP_BENCH_QUICK=1: 5 iterations each)
 *
 * @module
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const ITER = QUICK ? { n: 5, warmup: 1 } : {};
const HELLO = new URL("../fixtures/static/hello", import.meta.url).pathname;
const WORKER = new URL("./startup_worker.ts", import.meta.url).href;

const root = Deno.makeTempDirSync({ prefix: "xip-bench-startup-" });
Deno.mkdirSync(`${root}/bin`);
Deno.copyFileSync(HELLO, `${root}/bin/hello`);
const image = mkfs({ sizeBytes: 2 << 20, from: root });
Deno.removeSync(root, { recursive: true });

const quiet = (_d: Uint8Array): void => {};
// keepWarmMs: the warm machine's Worker must stay warm between the benchmarks' iterations.
const boot = (warm: number) =>
  Machine.boot({
    image: image.slice(),
    ram: 8 << 20,
    warm,
    stdout: quiet,
    stderr: quiet,
    keepWarmMs: Infinity,
  });

async function hello(m: Machine): Promise<void> {
  const s = await m.spawn("/bin/hello", ["hello"]).wait();
  if (s.code !== 0) throw new Error(`hello exited ${s.code}: ${s.message ?? ""}`);
}

Deno.bench({
  name: "bare new Worker + first message round trip",
  group: "startup",
  baseline: true,
  ...ITER,
  async fn() {
    const w = new Worker(WORKER, { type: "module" });
    const { promise, resolve } = Promise.withResolvers<void>();
    w.onmessage = () => resolve();
    w.postMessage(1);
    await promise;
    w.terminate();
  },
});

const warm = await boot(1);
await hello(warm); // the pool's Worker has run a process once: JIT and module graph warm

Deno.bench({
  name: "spawn → exit of hello, warm Worker pool",
  group: "startup",
  ...ITER,
  // async: Deno.bench awaits only async functions, not arrows that return a promise.
  fn: async () => {
    await hello(warm);
  },
});

Deno.bench({
  name: "spawn → exit of hello, cold Worker pool",
  group: "startup",
  ...ITER,
  async fn(b) {
    const m = await boot(0);
    b.start();
    await hello(m);
    b.end();
    await m.shutdown();
  },
});

globalThis.addEventListener("unload", () => {
  warm.shutdown();
});
