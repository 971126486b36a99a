import assert from "node:assert/strict";
import { HEADER, TASK_DEAD } from "../../src/abi/layout/mod.ts";
import { asTaskSlot, type TaskSlot } from "../../src/abi/types.ts";
import { bitIsLocked } from "../../src/sync/bitlock.ts";
import {
  HELD_ACQUIRING,
  heldDesc,
  heldLocks,
  heldPush,
  KIND_BIT,
  KIND_MUTEX,
  KIND_RWSEM,
  MODE_EXCL,
  MODE_READ,
} from "../../src/sync/held.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { MUTEX_WORDS, mutexOwner } from "../../src/sync/mutex.ts";
import { lockHolders, recoverTask } from "../../src/sync/recover.ts";
import {
  downRead,
  RWSEM_WAITERS,
  RWSEM_WORDS,
  RWSEM_WRITER_SHIFT,
  RWSEM_WRITER_WAITING,
  rwsemReaders,
  rwsemWriter,
  upRead,
} from "../../src/sync/rwsem.ts";
import { setCurrentTid, taskInit, taskState } from "../../src/sync/current.ts";
import {
  allDone,
  enterMainTask,
  killWorker,
  MAIN_TID,
  makeKernel,
  rng,
  sleep,
  testSeed,
  withWorkers,
} from "./_helpers.ts";

const OTHER_BITS = 0x0f00_00f0;

Deno.test("recoverTask() releases the mutex, rwsem read and write holds and bit lock of a killed Worker and wakes their waiters", async () => {
  const kern = makeKernel();
  const { k } = kern;
  const seed = testSeed();
  const m = kern.alloc(MUTEX_WORDS), rwR = kern.alloc(RWSEM_WORDS), rwW = kern.alloc(RWSEM_WORDS);
  const flags = kern.alloc(1), park = kern.alloc(1), bit = 9;
  k[flags] = OTHER_BITS;
  const dead = asTaskSlot(2);
  await withWorkers(kern, seed, async (spawn) => {
    const holder = spawn(dead, "holdAll", { m, rwR, rwW, flags, bit, park, timeoutMs: 60_000 });
    await holder.expect("holding", 20_000);

    // Every lock records its holder.
    assert.equal(mutexOwner(k, m), dead);
    assert.equal(rwsemReaders(k, rwR), 1);
    assert.deepEqual(lockHolders(k, rwR), [dead]);
    assert.equal(rwsemWriter(k, rwW), dead);
    assert.deepEqual(lockHolders(k, flags, bit), [dead]);
    assert.deepEqual(heldLocks(k, dead).map((h) => [h.word, h.kind, h.mode]), [
      [m, KIND_MUTEX, MODE_EXCL],
      [rwR, KIND_RWSEM, MODE_READ],
      [rwW, KIND_RWSEM, MODE_EXCL],
      [flags, KIND_BIT, MODE_EXCL],
    ]);

    // Waiters for each lock, blocked before the holder dies.
    const takers = [
      spawn(3, "takeOne", { w: m, which: 0 }),
      spawn(4, "takeOne", { w: rwR, which: 1 }), // writer vs the dead reader
      spawn(5, "takeOne", { w: rwW, which: 2 }), // reader vs the dead writer
      spawn(6, "takeOne", { w: flags, which: 3, bit }),
    ];
    for (const t of takers) await t.expect("trying", 20_000);
    await sleep(30);
    assert.equal(rwsemReaders(k, rwW), 0, "nobody got in while the holder lived");

    await killWorker(kern, holder);
    assert.equal(mutexOwner(k, m), dead, "a killed task's locks stay held");
    assert.equal(recoverTask(k, dead), 4);
    assert.equal(taskState(k, dead), TASK_DEAD);
    assert.deepEqual(heldLocks(k, dead), []);

    for (const t of takers) await t.expect("got", 10_000);
    await allDone(takers, 10_000);
    assert.equal(k[m], 0);
    assert.equal(k[rwR], 0);
    assert.equal(k[rwW], 0);
    assert.equal(k[flags], OTHER_BITS, "other bits of the flags word survived");
    assert.equal(k[HEADER.bitWaiters], 0);
  });
});

Deno.test("recoverTask() leaves a lock alone when the dead Worker was only waiting for it", async () => {
  const kern = makeKernel();
  const { k } = kern;
  const seed = testSeed();
  const m = kern.alloc(MUTEX_WORDS), release = kern.alloc(1);
  await withWorkers(kern, seed, async (spawn) => {
    const holder = spawn(2, "holdUntil", { w: m, which: 0, release, timeoutMs: 20_000 });
    await holder.expect("got", 20_000);
    const waiter = spawn(3, "takeOne", { w: m, which: 0 });
    await waiter.expect("trying", 20_000);
    await sleep(30);
    await killWorker(kern, waiter); // wakes from its lock wait to notice
    assert.equal(heldLocks(k, asTaskSlot(3)).length, 1, "the waiter's ACQUIRING entry");
    assert.equal(recoverTask(k, asTaskSlot(3)), 0);
    assert.equal(mutexOwner(k, m), 2, "still the live holder's");
    Atomics.store(k, release, 1);
    Atomics.notify(k, release);
    await holder.done(10_000);
    assert.equal(k[m], 0);
  });
});

/** Simulate a task that died right after the atomic op of an acquire, before marking it HELD. */
function diedAfterCas(
  kern: ReturnType<typeof makeKernel>,
  tid: TaskSlot,
  w: number,
  kind: number,
  mode: number,
) {
  taskInit(kern.k, tid);
  setCurrentTid(tid);
  heldPush(kern.k, w, heldDesc(LockClass.TEST_A, kind, mode, 0), kind === KIND_BIT ? 0 : -1, true);
}

Deno.test("recoverTask() releases a mutex and an rwsem write hold whose entry is still ACQUIRING", () => {
  const kern = makeKernel();
  const { k } = kern;
  const m = kern.alloc(MUTEX_WORDS), rw = kern.alloc(RWSEM_WORDS);
  const t = asTaskSlot(5);
  diedAfterCas(kern, t, m, KIND_MUTEX, MODE_EXCL);
  Atomics.store(k, m, t); // the CAS happened
  diedAfterCas(kern, asTaskSlot(6), rw, KIND_RWSEM, MODE_EXCL);
  Atomics.store(k, rw, 6 << RWSEM_WRITER_SHIFT);
  assert.equal(recoverTask(k, t), 1);
  assert.equal(recoverTask(k, asTaskSlot(6)), 1);
  assert.equal(k[m], 0);
  assert.equal(k[rw], 0);
});

Deno.test("recoverTask() clears the writer-waiting mark a dead waiting writer left on an rwsem", () => {
  const kern = makeKernel();
  const { k } = kern;
  const rw = kern.alloc(RWSEM_WORDS);
  enterMainTask(kern);
  downRead(k, rw, LockClass.TEST_A);
  diedAfterCas(kern, asTaskSlot(7), rw, KIND_RWSEM, MODE_EXCL);
  Atomics.or(k, rw, RWSEM_WRITER_WAITING | RWSEM_WAITERS); // it went to sleep, then died
  assert.equal(recoverTask(k, asTaskSlot(7)), 0);
  assert.equal(k[rw]! & RWSEM_WRITER_WAITING, 0, "readers would queue behind a dead writer");
  setCurrentTid(MAIN_TID);
  upRead(k, rw);
  assert.equal(k[rw], 0);
});

Deno.test("recoverTask() does not release a bit lock whose entry is still ACQUIRING", () => {
  const kern = makeKernel();
  const { k } = kern;
  const flags = kern.alloc(1);
  k[flags] = 1; // held by someone else; the dead task was trying
  diedAfterCas(kern, asTaskSlot(3), flags, KIND_BIT, MODE_EXCL);
  assert.deepEqual(heldLocks(k, asTaskSlot(3)).map((h) => [h.word, h.bit, h.state]), [[
    flags,
    0,
    HELD_ACQUIRING,
  ]]);
  assert.equal(recoverTask(k, asTaskSlot(3)), 0);
  assert.equal(bitIsLocked(k, flags, 0), true);
});

Deno.test("recoverTask() leaves every lock free when a Worker is killed at a random moment of a contended lock/unlock loop", async () => {
  const seed = testSeed();
  const rand = rng(seed);
  for (let round = 0; round < 12; round++) {
    const kern = makeKernel();
    const { k } = kern;
    const m = kern.alloc(MUTEX_WORDS), rw = kern.alloc(RWSEM_WORDS), flags = kern.alloc(1);
    const beat = kern.alloc(2), stop = kern.alloc(1), gate = kern.gate(2);
    k[flags] = OTHER_BITS;
    await withWorkers(kern, seed + round, async (spawn) => {
      const common = { m, rw, flags, bit: 1, stop, gate };
      const victim = spawn(2, "churn", { ...common, beat });
      const survivor = spawn(3, "churn", { ...common, beat: beat + 1 });
      while (Atomics.load(k, beat) < 100) await sleep(1);
      await sleep(rand(20));
      await killWorker(kern, victim);
      recoverTask(k, asTaskSlot(2));
      // The survivor must keep making progress, then stop cleanly.
      const before = Atomics.load(k, beat + 1);
      for (let i = 0; Atomics.load(k, beat + 1) < before + 1000; i++) {
        if (i > 2000) throw new Error(`survivor stuck after recovery in round ${round}`);
        await sleep(5);
      }
      Atomics.store(k, stop, 1);
      await survivor.done(10_000);
      assert.equal(k[m], 0, `mutex word in round ${round}`);
      assert.equal(k[rw], 0, `rwsem word in round ${round}`);
      assert.equal(k[flags], OTHER_BITS, `flags word in round ${round}`);
      assert.equal(k[HEADER.bitWaiters], 0, `bit waiters in round ${round}`);
    });
  }
});
