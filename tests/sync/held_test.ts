import assert from "node:assert/strict";
import { HELD_MAX, TASK_DEAD, TASK_FREE, TASK_LIVE } from "../../src/abi/layout/mod.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { bitLock, bitUnlock } from "../../src/sync/bitlock.ts";
import {
  HELD_HELD,
  heldLocks,
  KIND_BIT,
  KIND_MUTEX,
  KIND_RWSEM,
  MODE_EXCL,
  MODE_READ,
} from "../../src/sync/held.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { MUTEX_WORDS, mutexLock, mutexUnlock } from "../../src/sync/mutex.ts";
import { downRead, downWrite, RWSEM_WORDS, upRead, upWrite } from "../../src/sync/rwsem.ts";
import {
  currentTid,
  noKillEnter,
  noKillExit,
  taskChaosArm,
  taskExit,
  taskInit,
  taskKill,
  taskKillAcked,
  TaskKilled,
  taskState,
} from "../../src/sync/current.ts";
import { enterMainTask, MAIN_TID, makeKernel } from "./_helpers.ts";

Deno.test("heldLocks() lists every kind of lock with class, mode and bit", () => {
  const kern = makeKernel();
  const { k } = kern;
  enterMainTask(kern);
  const m = kern.alloc(MUTEX_WORDS), r = kern.alloc(RWSEM_WORDS), w = kern.alloc(RWSEM_WORDS);
  const f = kern.alloc(1);
  mutexLock(k, m, LockClass.TEST_A);
  downRead(k, r, LockClass.TEST_B, 2);
  downWrite(k, w, LockClass.TEST_C);
  bitLock(k, f, 9, LockClass.NONE);
  assert.deepEqual(heldLocks(k, MAIN_TID), [
    {
      word: m,
      cls: LockClass.TEST_A,
      kind: KIND_MUTEX,
      mode: MODE_EXCL,
      subclass: 0,
      state: HELD_HELD,
      bit: -1,
    },
    {
      word: r,
      cls: LockClass.TEST_B,
      kind: KIND_RWSEM,
      mode: MODE_READ,
      subclass: 2,
      state: HELD_HELD,
      bit: -1,
    },
    {
      word: w,
      cls: LockClass.TEST_C,
      kind: KIND_RWSEM,
      mode: MODE_EXCL,
      subclass: 0,
      state: HELD_HELD,
      bit: -1,
    },
    {
      word: f,
      cls: LockClass.NONE,
      kind: KIND_BIT,
      mode: MODE_EXCL,
      subclass: 0,
      state: HELD_HELD,
      bit: 9,
    },
  ]);
  bitUnlock(k, f, 9);
  upWrite(k, w);
  upRead(k, r);
  mutexUnlock(k, m);
  assert.deepEqual(heldLocks(k, MAIN_TID), []);
});

Deno.test("release out of order keeps the rest of the held-lock stack intact", () => {
  const kern = makeKernel();
  const { k } = kern;
  enterMainTask(kern);
  const ms = [0, 1, 2, 3, 4].map(() => kern.alloc(MUTEX_WORDS));
  ms.forEach((m) => mutexLock(k, m, LockClass.NONE));
  for (const i of [1, 3, 0]) mutexUnlock(k, ms[i]!);
  assert.deepEqual(heldLocks(k, MAIN_TID).map((h) => h.word), [ms[2], ms[4]]);
  // Hand-over-hand locking (take the next, drop the previous) never grows the stack.
  const pair = [kern.alloc(MUTEX_WORDS), kern.alloc(MUTEX_WORDS)];
  let prev = ms[4]!;
  for (let i = 0; i < 3 * HELD_MAX; i++) {
    const next = pair[i % 2]!;
    mutexLock(k, next, LockClass.NONE);
    mutexUnlock(k, prev);
    prev = next;
  }
  assert.deepEqual(heldLocks(k, MAIN_TID).map((h) => h.word), [ms[2], prev]);
});

Deno.test("taking more than HELD_MAX locks panics", () => {
  const kern = makeKernel();
  enterMainTask(kern);
  const f = kern.alloc(HELD_MAX + 1);
  for (let i = 0; i < HELD_MAX; i++) bitLock(kern.k, f + i, 0, LockClass.NONE);
  assert.throws(() => bitLock(kern.k, f + HELD_MAX, 0, LockClass.NONE), /more than 56 locks/);
});

Deno.test("taskExit() panics while the task holds a lock and frees it otherwise", () => {
  const kern = makeKernel();
  const { k } = kern;
  enterMainTask(kern);
  assert.equal(taskState(k, MAIN_TID), TASK_LIVE);
  const m = kern.alloc(MUTEX_WORDS);
  mutexLock(k, m, LockClass.NONE);
  assert.throws(() => taskExit(k, MAIN_TID), /exits holding 1 lock/);
  mutexUnlock(k, m);
  taskExit(k, MAIN_TID);
  assert.equal(taskState(k, MAIN_TID), TASK_FREE);
  assert.equal(currentTid(), 0);
});

Deno.test("taskInit() rejects tids outside 1..maxTasks-1 and live tasks", () => {
  const kern = makeKernel(4);
  assert.throws(() => taskInit(kern.k, asTaskSlot(0)), KernelPanic);
  assert.throws(() => taskInit(kern.k, asTaskSlot(4)), KernelPanic);
  taskInit(kern.k, asTaskSlot(3));
  assert.throws(() => taskInit(kern.k, asTaskSlot(3)), /already live/);
});

Deno.test("a killed task throws TaskKilled at its next lock operation and acknowledges", () => {
  const kern = makeKernel();
  const { k } = kern;
  enterMainTask(kern);
  const m = kern.alloc(MUTEX_WORDS), n = kern.alloc(MUTEX_WORDS);
  mutexLock(k, m, LockClass.NONE);
  assert.equal(taskKillAcked(k, MAIN_TID), false);
  assert.equal(taskKill(k, MAIN_TID), true);
  assert.throws(() => mutexLock(k, n, LockClass.NONE), TaskKilled);
  assert.equal(k[n], 0, "the lock word was not touched");
  assert.throws(() => mutexUnlock(k, m), TaskKilled);
  assert.equal(taskKillAcked(k, MAIN_TID), true);
  assert.equal(taskKill(k, MAIN_TID), false, "already dead");
});

Deno.test("a killed task inside a no-kill region takes and releases locks, then dies at its first kill point after it", () => {
  const kern = makeKernel();
  const { k } = kern;
  enterMainTask(kern);
  const m = kern.alloc(MUTEX_WORDS), n = kern.alloc(MUTEX_WORDS);
  noKillEnter();
  try {
    mutexLock(k, m, LockClass.TEST_A);
    assert.equal(taskKill(k, MAIN_TID), true);
    mutexLock(k, n, LockClass.TEST_B); // inside the region: goes on
    mutexUnlock(k, n);
    assert.equal(taskKillAcked(k, MAIN_TID), false, "not stopped inside the region");
  } finally {
    noKillExit();
  }
  assert.throws(() => mutexUnlock(k, m), TaskKilled);
  assert.equal(taskKillAcked(k, MAIN_TID), true);
  assert.equal(heldLocks(k, MAIN_TID).length, 1, "died holding the mutex, for recovery");
  assert.throws(() => noKillExit(), /not in a no-kill region/);
});

Deno.test("taskChaosArm() kills the task at its N-th lock operation, counting only while it holds the chosen class", () => {
  for (
    const [cls, points, diesAt] of [
      [0, 3, "lock b"], // lock a, unlock a, lock b
      [LockClass.TEST_B, 3, "unlock b"], // counted: lock c, unlock c, unlock b (all holding b)
      [LockClass.TEST_C, 1, "unlock c"], // counted: unlock c only
    ] as const
  ) {
    const kern = makeKernel();
    const { k } = kern;
    enterMainTask(kern);
    const a = kern.alloc(MUTEX_WORDS), b = kern.alloc(MUTEX_WORDS), c = kern.alloc(MUTEX_WORDS);
    taskChaosArm(k, MAIN_TID, points, cls);
    const steps: [string, () => void][] = [
      ["lock a", () => mutexLock(k, a, LockClass.TEST_A)],
      ["unlock a", () => mutexUnlock(k, a)],
      ["lock b", () => mutexLock(k, b, LockClass.TEST_B)],
      ["lock c", () => mutexLock(k, c, LockClass.TEST_C)],
      ["unlock c", () => mutexUnlock(k, c)],
      ["unlock b", () => mutexUnlock(k, b)],
    ];
    let died = "none";
    for (const [name, step] of steps) {
      try {
        step();
      } catch (e) {
        if (!(e instanceof TaskKilled)) throw e;
        died = name;
        break;
      }
    }
    assert.equal(died, diesAt, `class ${cls}, ${points} points`);
    assert.equal(taskState(k, MAIN_TID), TASK_DEAD);
    assert.equal(taskKillAcked(k, MAIN_TID), true);
  }
});
