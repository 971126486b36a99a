/**
 * The pipe ring (src/kernel/pipe.ts) on its own, then between Workers:
 * capacity and PIPE_BUF atomicity, EOF after the last writer, EPIPE and
 * SIGPIPE after the last reader, O_NONBLOCK, blocking and wake-ups, and
 * that the ring's pages are pipe buffers to the invariants and are given
 * back with the pipe.
 */

import assert from "node:assert/strict";
import { EAGAIN, ENXIO, EPIPE } from "../../src/abi/errno.ts";
import { ERESTARTSYS } from "../../src/abi/signal.ts";
import { PIPE_BUF, PIPE_CAPACITY, PIPES_MAX } from "../../src/abi/layout/pipe.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  pipeAlloc,
  pipeBuffered,
  pipeGet,
  pipePut,
  pipeRead,
  pipeWrite,
} from "../../src/kernel/pipe.ts";
import { procAlloc } from "../../src/kernel/proc.ts";
import { SIGPIPE, SIGTERM } from "../../src/kernel/signal.ts";
import { killTaskGroup } from "../../src/kernel/signal_send.ts";
import { groupPending, pendingHas, taskField } from "../../src/kernel/signal_state.ts";
import { signalSpawn } from "../../src/kernel/signal_lifecycle.ts";
import { boot } from "../mm/_mm_helpers.ts";
import { assertInvariants } from "../_invariants.ts";
import { runJobWorkers } from "../fs/_job_workers.ts";
import type { PipeJob, PipeReport } from "./pipe_worker.ts";
import { asTaskSlot } from "../../src/abi/types.ts";

const ME = asTaskSlot(1); // the test's own task slot (the main thread)

function fresh(): { mem: Memory; id: number } {
  const mem = boot({ ramFrames: 256, deviceFrames: 0, maxTasks: 6 });
  const id = pipeAlloc(mem);
  assert.ok(id > 0);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  return { mem, id };
}

const bytes = (n: number, v = 0x5a) => new Uint8Array(n).fill(v);

Deno.test("pipeWrite/pipeRead: bytes come out in order; a read takes what is there, never more than asked", () => {
  const { mem, id } = fresh();
  assert.equal(pipeWrite(mem, ME, id, Uint8Array.of(1, 2, 3), false), 3);
  assert.equal(pipeWrite(mem, ME, id, Uint8Array.of(4, 5), false), 2);
  assert.equal(pipeBuffered(mem, id), 5);
  const a = new Uint8Array(4);
  assert.equal(pipeRead(mem, ME, id, a, false), 4);
  assert.deepEqual([...a], [1, 2, 3, 4]);
  const b = new Uint8Array(10);
  assert.equal(pipeRead(mem, ME, id, b, false), 1, "a read does not wait to fill its buffer");
  assert.equal(b[0], 5);
  assert.equal(pipeRead(mem, ME, id, b, true), -EAGAIN, "empty with O_NONBLOCK");
});

Deno.test("a pipe holds 64 KiB; a small write that does not fit whole is EAGAIN, a large one writes what fits", () => {
  const { mem, id } = fresh();
  assert.equal(PIPE_CAPACITY, 65536);
  assert.equal(pipeWrite(mem, ME, id, bytes(PIPE_CAPACITY - 100), true), PIPE_CAPACITY - 100);
  assert.equal(pipeWrite(mem, ME, id, bytes(101), true), -EAGAIN, "atomic: all or nothing");
  assert.equal(pipeWrite(mem, ME, id, bytes(PIPE_BUF + 1), true), 100, "large: a partial write");
  assert.equal(pipeWrite(mem, ME, id, bytes(PIPE_BUF + 1), true), -EAGAIN, "full");
  assert.equal(pipeRead(mem, ME, id, new Uint8Array(PIPE_CAPACITY), false), PIPE_CAPACITY);
  // The ring wraps: stream offsets past the capacity reuse the pages.
  const data = Uint8Array.from({ length: 3 * PIPE_BUF }, (_, i) => i & 0xff);
  for (let round = 0; round < 40; round++) {
    assert.equal(pipeWrite(mem, ME, id, data, false), data.length);
    const back = new Uint8Array(data.length);
    assert.equal(pipeRead(mem, ME, id, back, false), data.length);
    assert.deepEqual(back, data, `round ${round}`);
  }
});

Deno.test("read returns 0 (EOF) once the last writer closed and the ring is drained", () => {
  const { mem, id } = fresh();
  pipeGet(mem, id, "write"); // a second writer
  pipeWrite(mem, ME, id, Uint8Array.of(9), false);
  pipePut(mem, id, "write");
  const b = new Uint8Array(4);
  assert.equal(pipeRead(mem, ME, id, b, true), 1);
  assert.equal(pipeRead(mem, ME, id, b, true), -EAGAIN, "one writer is still open");
  pipePut(mem, id, "write");
  assert.equal(pipeRead(mem, ME, id, b, false), 0, "EOF, without blocking");
  assert.equal(pipeRead(mem, ME, id, b, true), 0);
});

/** A process in slot 2 with signal state, as the Machine spawns one. */
function withProcess(): Memory {
  const mem = boot({ ramFrames: 256, deviceFrames: 0, maxTasks: 6 });
  signalSpawn(mem, asTaskSlot(2), procAlloc(mem, asTaskSlot(2), 0));
  return mem;
}

Deno.test("write with no reader left is EPIPE and raises SIGPIPE on the writer", () => {
  const mem = withProcess();
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  pipePut(mem, id, "read");
  assert.equal(pipeWrite(mem, asTaskSlot(2), id, bytes(10), false), -EPIPE);
  const g = taskField(mem, asTaskSlot(2), "group");
  assert.ok(pendingHas(mem.k32, groupPending(mem, g), SIGPIPE), "SIGPIPE is pending");
});

Deno.test("a write of 0 bytes is 0 without a reader too, and raises no SIGPIPE (pipe_write)", () => {
  const mem = withProcess();
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  pipePut(mem, id, "read");
  assert.equal(pipeWrite(mem, asTaskSlot(2), id, bytes(0), false), 0);
  const g = taskField(mem, asTaskSlot(2), "group");
  assert.ok(!pendingHas(mem.k32, groupPending(mem, g), SIGPIPE), "no SIGPIPE");
  assert.equal(pipeWrite(mem, asTaskSlot(2), id, bytes(1), false), -EPIPE);
  assert.ok(pendingHas(mem.k32, groupPending(mem, g), SIGPIPE), "SIGPIPE once a byte is written");
});

Deno.test("a blocked read or write is interrupted by a signal (ERESTARTSYS) and a freed pipe's id is stale", () => {
  const mem = withProcess();
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  assert.ok(killTaskGroup(mem, asTaskSlot(2), SIGTERM) >= 0);
  assert.equal(pipeRead(mem, asTaskSlot(2), id, new Uint8Array(4), false), -ERESTARTSYS);
  assert.equal(pipeWrite(mem, asTaskSlot(2), id, bytes(PIPE_CAPACITY), false), PIPE_CAPACITY);
  assert.equal(
    pipeWrite(mem, asTaskSlot(2), id, bytes(1), false),
    -ERESTARTSYS,
    "a full pipe blocks too",
  );
  pipePut(mem, id, "read");
  pipePut(mem, id, "write");
  assert.equal(pipeRead(mem, asTaskSlot(2), id, new Uint8Array(4), false), -ENXIO);
  assert.equal(pipeGet(mem, id, "read"), -ENXIO);
});

Deno.test("ring pages are pipe buffers to checkInvariants, allocated on demand and freed with the pipe", () => {
  const mem = boot({ ramFrames: 256, deviceFrames: 0, maxTasks: 6 });
  const free = freeFrameCount(mem);
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  assert.equal(freeFrameCount(mem), free, "no page before the first write");
  pipeWrite(mem, ME, id, bytes(2 * 4096 + 1), false);
  assert.equal(freeFrameCount(mem), free - 3);
  assertInvariants(mem, {}, "with a pipe holding 3 pages");
  pipePut(mem, id, "write");
  pipePut(mem, id, "read");
  assert.equal(freeFrameCount(mem), free, "every page back");
  assertInvariants(mem, {}, "after the pipe is gone");
});

Deno.test("pipeAlloc() fails with ENFILE when every record is taken", () => {
  const mem = boot({ ramFrames: 64, deviceFrames: 0, maxTasks: 4 });
  const ids: number[] = [];
  for (let i = 0; i < PIPES_MAX; i++) ids.push(pipeAlloc(mem));
  assert.ok(ids.every((i) => i > 0));
  assert.equal(pipeAlloc(mem), -23 /* ENFILE */);
  pipeGet(mem, ids[7]!, "read");
  pipePut(mem, ids[7]!, "read");
  assert.ok(pipeAlloc(mem) > 0, "a freed record is reused");
});

const WORKER = new URL("./pipe_worker.ts", import.meta.url).href;

async function runPipe(
  mem: Memory,
  id: number,
  jobs: Omit<PipeJob, "phys" | "kernel" | "id">[],
): Promise<PipeReport[]> {
  const full = jobs.map((j) => ({ ...j, phys: mem.phys, kernel: mem.kernel, id }));
  const reports = await runJobWorkers<PipeJob, PipeReport>(
    WORKER,
    full,
    60_000,
    (error) => ({ error, bytes: 0, perFill: [], torn: 0, patternOk: false }),
  );
  for (const r of reports) assert.equal(r.error, undefined, r.error);
  return reports;
}

Deno.test("two Workers: a stream of 2 MiB in random chunk sizes arrives whole and in order", async () => {
  const seed = (Date.now() ^ 0x5eed) >>> 0;
  const mem = boot({ ramFrames: 512, deviceFrames: 0, maxTasks: 6 });
  const free = freeFrameCount(mem);
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  pipeGet(mem, id, "write");
  const common = { records: 512, recordSize: 4096, fill: 0, chunkMax: 20_000 };
  const [w, r] = await runPipe(mem, id, [
    { ...common, tid: 2, role: "write", seed },
    { ...common, tid: 3, role: "read", seed: seed + 1 },
  ]);
  assert.equal(w!.bytes, 512 * 4096, `seed ${seed}`);
  assert.equal(r!.bytes, 512 * 4096, `seed ${seed}`);
  assert.ok(r!.patternOk, `the stream was corrupted (seed ${seed})`);
  assert.equal(freeFrameCount(mem), free, "the pipe's pages are back");
});

Deno.test("writes of PIPE_BUF bytes from three Workers are never torn", async () => {
  const seed = (Date.now() ^ 0xa70) >>> 0;
  const mem = boot({ ramFrames: 512, deviceFrames: 0, maxTasks: 8 });
  const id = pipeAlloc(mem);
  pipeGet(mem, id, "read");
  for (let i = 0; i < 3; i++) pipeGet(mem, id, "write");
  const common = { records: 200, recordSize: PIPE_BUF, chunkMax: 3000 };
  const reports = await runPipe(mem, id, [
    { ...common, tid: 2, role: "write", seed, fill: 1 },
    { ...common, tid: 3, role: "write", seed: seed + 1, fill: 2 },
    { ...common, tid: 4, role: "write", seed: seed + 2, fill: 3 },
    { ...common, tid: 5, role: "read", seed: seed + 3, fill: 1 },
  ]);
  const r = reports[3]!;
  assert.equal(r.torn, 0, `torn records (seed ${seed})`);
  assert.deepEqual([r.perFill[1], r.perFill[2], r.perFill[3]], [
    200 * PIPE_BUF,
    200 * PIPE_BUF,
    200 * PIPE_BUF,
  ]);
});
