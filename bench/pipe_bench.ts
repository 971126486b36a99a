/**
 * Pipe throughput between two processes against a raw SharedArrayBuffer
 * ring between two Workers (bench/pipe_ring_worker.ts): the same amount of
 * data, the same 64 KiB capacity, the same 16 KiB chunks. The pipe's side
 * is one process of `pipetest blast KIB 16384`: a child writes KIB KiB in
 * 16 KiB writes and the parent reads them in 16 KiB reads (so every byte
 * is copied from user memory into the pipe's pages and out again, across
 * two Workers); the ring's side moves the same total between two Workers
 * with plain typed-array copies. Bytes per second are the total divided by
 * the mean time. (Fork and wait are in the pipe's time: a few ms.)
 *
 *   deno bench -A bench/pipe_bench.ts    (XIP_BENCH_QUICK=1: 3 iterations each)
 *
 * @module
 */

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";
import { RING_CAP, RING_DATA } from "./pipe_ring_worker.ts";

const QUICK = Deno.env.get("XIP_BENCH_QUICK") === "1";
const ITER = QUICK ? { n: 3, warmup: 1 } : { n: 8, warmup: 2 };
/** KiB moved per iteration. */
export const KIB = QUICK ? 4096 : 16384;
/** Bytes per read and write, both sides. */
const CHUNK = 16384;

const FIX = new URL("../fixtures/static/", import.meta.url).pathname;
const root = Deno.makeTempDirSync({ prefix: "xip-bench-pipe-" });
Deno.mkdirSync(`${root}/bin`);
Deno.copyFileSync(`${FIX}pipetest`, `${root}/bin/pipetest`);
const image = mkfs({ sizeBytes: 4 << 20, from: root });
Deno.removeSync(root, { recursive: true });

const quiet = (_d: Uint8Array): void => {};
const m = await Machine.boot({ image, ram: 32 << 20, warm: 2, stdout: quiet, stderr: quiet });

async function pipe(): Promise<void> {
  const s = await m.spawn("/bin/pipetest", ["pipetest", "blast", String(KIB), String(CHUNK)])
    .wait();
  if (s.code !== 0) throw new Error(`pipetest exited ${s.code}`);
}
await pipe();

const URL_ = new URL("./pipe_ring_worker.ts", import.meta.url).href;
const writer = new Worker(URL_, { type: "module" });
const reader = new Worker(URL_, { type: "module" });

function ring(): Promise<void> {
  const sab = new SharedArrayBuffer(RING_DATA + RING_CAP);
  const total = KIB * 1024;
  const done = (w: Worker) => new Promise<void>((r) => (w.onmessage = () => r()));
  const both = Promise.all([done(writer), done(reader)]).then(() => {});
  writer.postMessage({ sab, role: "write", total, chunk: CHUNK });
  reader.postMessage({ sab, role: "read", total, chunk: CHUNK });
  return both;
}
await ring();

Deno.bench({
  name: `raw SAB ring between two Workers, ${KIB} KiB`,
  group: "pipe",
  baseline: true,
  ...ITER,
  fn: async () => await ring(),
});

Deno.bench({
  name: `pipe between two processes (pipetest blast), ${KIB} KiB`,
  group: "pipe",
  ...ITER,
  fn: async () => await pipe(),
});

globalThis.addEventListener("unload", () => {
  writer.terminate();
  reader.terminate();
});
