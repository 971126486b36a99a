import assert from "node:assert/strict";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import {
  downRead,
  downReadTrylock,
  downWrite,
  downWriteTrylock,
  RWSEM_WORDS,
  RWSEM_WRITER_WAITING,
  rwsemReaders,
  rwsemWriter,
  upRead,
  upWrite,
} from "../../src/sync/rwsem.ts";
import { setCurrentTid, taskInit } from "../../src/sync/current.ts";
import {
  allDone,
  enterMainTask,
  MAIN_TID,
  makeKernel,
  sleep,
  testSeed,
  withWorkers,
} from "./_helpers.ts";
import { LOCK_RWSEM } from "./_helpers.ts";

Deno.test("downWrite() loses no update of a plain counter when 2 Workers contend", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const rw = kern.alloc(RWSEM_WORDS), ctr = kern.alloc(1), gate = kern.gate(2);
  const iters = 20_000;
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [2, 3].map((tid) =>
      spawn(tid, "counter", { lw: rw, ctr, kind: LOCK_RWSEM, bit: -1, iters, gate })
    );
    await allDone(ws, 30_000);
    assert.equal(kern.k[ctr], 2 * iters, "lost updates");
    assert.equal(kern.k[rw], 0, "rwsem word not back to zero");
  });
});

Deno.test("downRead() lets 2 readers in together while downWrite() excludes them and they never see a half-written update", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const rw = kern.alloc(RWSEM_WORDS), inside = kern.alloc(1), n = 16, data = kern.alloc(n);
  const gate = kern.gate(3);
  await withWorkers(kern, seed, async (spawn) => {
    const common = { rw, inside, data, n, gate };
    const ws = [
      spawn(2, "rwmix", { ...common, writer: 0, iters: 3000 }),
      spawn(3, "rwmix", { ...common, writer: 0, iters: 3000 }),
      spawn(4, "rwmix", { ...common, writer: 1, iters: 1000 }),
    ];
    const [r1, r2, w] = await allDone(ws, 60_000);
    assert.equal(r1!.torn, 0, "reader 1 saw a half-written update");
    assert.equal(r2!.torn, 0, "reader 2 saw a half-written update");
    assert.equal(w!.violations, 0, "a reader was inside while the writer held the lock");
    assert.equal(
      Math.max(r1!.maxInside!, r2!.maxInside!),
      2,
      "the two readers were never inside together",
    );
    assert.equal(kern.k[data + n - 1], 1000);
    assert.equal(kern.k[rw], 0);
  });
});

Deno.test("downWrite() gets the rwsem under a steady stream of overlapping readers", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const rw = kern.alloc(RWSEM_WORDS), stop = kern.alloc(1), started = kern.alloc(1);
  const inside = kern.alloc(1);
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [
      spawn(2, "readerStream", { rw, stop, started, inside }),
      spawn(3, "readerStream", { rw, stop, started, inside }),
      spawn(4, "writerVsStream", { rw, stop, started }),
    ];
    // The watchdog is the assertion: a starved writer never sets `stop`.
    await allDone(ws, 15_000);
    assert.equal(Atomics.load(kern.k, stop), 1);
    assert.equal(kern.k[rw], 0);
  });
});

Deno.test("downRead() queues behind a waiting writer even while only readers hold the rwsem", async () => {
  const kern = makeKernel();
  const { k } = kern;
  const seed = testSeed();
  const rw = kern.alloc(RWSEM_WORDS), release = kern.alloc(1), seq = kern.alloc(1);
  await withWorkers(kern, seed, async (spawn) => {
    const r1 = spawn(2, "holdUntil", { w: rw, which: 2, release, timeoutMs: 20_000 });
    await r1.expect("got", 20_000);
    const w = spawn(3, "takeOne", { w: rw, which: 1, seq });
    await w.expect("trying", 20_000);
    for (let i = 0; (Atomics.load(k, rw) & RWSEM_WRITER_WAITING) === 0; i++) {
      if (i > 2000) throw new Error("writer never marked itself waiting");
      await sleep(5);
    }
    enterMainTask(kern);
    assert.equal(
      downReadTrylock(k, rw, LockClass.TEST_A),
      false,
      "new reader jumped a waiting writer",
    );
    const r2 = spawn(4, "takeOne", { w: rw, which: 2, seq });
    await r2.expect("trying", 20_000);
    await sleep(50);
    assert.equal(rwsemReaders(k, rw), 1, "new reader entered while a writer waits");
    Atomics.store(k, release, 1);
    Atomics.notify(k, release);
    const [, wr, rr] = await allDone([r1, w, r2], 20_000);
    assert.equal(wr!.order, 0, "the writer went first");
    assert.equal(rr!.order, 1, "the late reader went after the writer");
    assert.equal(k[rw], 0);
  });
});

Deno.test("downReadTrylock() and downWriteTrylock() follow the holders", () => {
  const kern = makeKernel();
  const { k } = kern;
  const rw = kern.alloc(RWSEM_WORDS);
  enterMainTask(kern);
  taskInit(k, asTaskSlot(2));
  assert.equal(downReadTrylock(k, rw, LockClass.TEST_A), true);
  setCurrentTid(asTaskSlot(2));
  assert.equal(downReadTrylock(k, rw, LockClass.TEST_A), true, "readers share");
  assert.equal(rwsemReaders(k, rw), 2);
  assert.equal(downWriteTrylock(k, rw, LockClass.TEST_A), false, "writer excluded by readers");
  upRead(k, rw);
  setCurrentTid(MAIN_TID);
  upRead(k, rw);
  assert.equal(downWriteTrylock(k, rw, LockClass.TEST_A), true);
  assert.equal(rwsemWriter(k, rw), MAIN_TID);
  setCurrentTid(asTaskSlot(2));
  assert.equal(downReadTrylock(k, rw, LockClass.TEST_A), false, "reader excluded by writer");
  assert.equal(downWriteTrylock(k, rw, LockClass.TEST_A), false, "writer excluded by writer");
  setCurrentTid(MAIN_TID);
  upWrite(k, rw);
  assert.equal(k[rw], 0);
});

Deno.test("upRead() and upWrite() panic when the caller does not hold the rwsem that way", () => {
  const kern = makeKernel();
  const { k } = kern;
  const rw = kern.alloc(RWSEM_WORDS);
  enterMainTask(kern);
  assert.throws(() => upRead(k, rw), KernelPanic);
  assert.throws(() => upWrite(k, rw), KernelPanic);
  downRead(k, rw, LockClass.TEST_A);
  assert.throws(() => upWrite(k, rw), KernelPanic);
  upRead(k, rw);
  downWrite(k, rw, LockClass.TEST_A);
  assert.throws(() => upRead(k, rw), /held for write/);
  assert.throws(() => downRead(k, rw, LockClass.TEST_B), /holds the rwsem .* for write/);
});
