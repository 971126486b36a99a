import assert from "node:assert/strict";
import { KernelPanic } from "../../src/abi/panic.ts";
import { bitLock, bitTryLock, bitUnlock } from "../../src/sync/bitlock.ts";
import { DEBUG_LOCKDEP, setDebug } from "../../src/sync/debug.ts";
import { heldLocks } from "../../src/sync/held.ts";
import { LockClass, lockRank } from "../../src/sync/lockdep.ts";
import { MUTEX_WORDS, mutexLock, mutexTryLock, mutexUnlock } from "../../src/sync/mutex.ts";
import { downRead, downWrite, RWSEM_WORDS, upRead, upWrite } from "../../src/sync/rwsem.ts";
import { enterMainTask, type Kernel, MAIN_TID, makeKernel } from "./_helpers.ts";

/** A kernel with lockdep on and the main thread as task 1. */
function lockdepKernel(on = true): Kernel {
  const kern = makeKernel();
  setDebug(kern.k, DEBUG_LOCKDEP, on);
  enterMainTask(kern);
  return kern;
}

/** Take a lock of class `cls` by some primitive; returns its release. */
type Taker = (kern: Kernel, cls: LockClass, sub?: number) => () => void;
const TAKERS: Record<string, Taker> = {
  mutex(kern, cls, sub) {
    const w = kern.alloc(MUTEX_WORDS);
    mutexLock(kern.k, w, cls, sub);
    return () => mutexUnlock(kern.k, w);
  },
  rwsemRead(kern, cls, sub) {
    const w = kern.alloc(RWSEM_WORDS);
    downRead(kern.k, w, cls, sub);
    return () => upRead(kern.k, w);
  },
  rwsemWrite(kern, cls, sub) {
    const w = kern.alloc(RWSEM_WORDS);
    downWrite(kern.k, w, cls, sub);
    return () => upWrite(kern.k, w);
  },
  bit(kern, cls) {
    const w = kern.alloc(1);
    bitLock(kern.k, w, 7, cls);
    return () => bitUnlock(kern.k, w, 7);
  },
};

const BAD_ORDERS: [LockClass, LockClass][] = [
  [LockClass.PAGE_TABLE, LockClass.MMAP_LOCK],
  [LockClass.MMAP_LOCK, LockClass.I_RWSEM],
  [LockClass.PAGE_LOCK, LockClass.INVALIDATE_LOCK],
  [LockClass.PAGE_LOCK, LockClass.DAX_ENTRY], // same rank: never nested
  [LockClass.DAX_ENTRY, LockClass.PAGE_LOCK],
  [LockClass.FRAME_ALLOC, LockClass.PAGE_TABLE],
  [LockClass.PAGE_CACHE, LockClass.PAGE_LOCK],
  [LockClass.FILE_TABLE, LockClass.TASK_TABLE], // leaves never nest
  [LockClass.TEST_C, LockClass.TEST_A],
  [LockClass.TEST_B, LockClass.TEST_B], // same class without subclass
];

for (const [name, take] of Object.entries(TAKERS)) {
  for (const [held, bad] of BAD_ORDERS) {
    const msg = `lockdep: ${LockClass[bad]} taken while holding ${LockClass[held]}`;
    Deno.test(`${name} lock throws "${msg}" with DEBUG_LOCKDEP on`, () => {
      const kern = lockdepKernel();
      take(kern, held);
      assert.throws(
        () => take(kern, bad),
        (e: unknown) => e instanceof KernelPanic && e.message === msg,
      );
    });
  }
}

Deno.test("lockdep is silent against the order when DEBUG_LOCKDEP is off", () => {
  const kern = lockdepKernel(false);
  for (const [held, bad] of BAD_ORDERS.filter(([a, b]) => a !== b)) {
    const release = [take(kern, held), take(kern, bad)];
    release.reverse().forEach((r) => r());
  }
  function take(kern: Kernel, cls: LockClass) {
    return TAKERS.mutex!(kern, cls);
  }
  assert.equal(heldLocks(kern.k, MAIN_TID).length, 0);
});

Deno.test("lockdep accepts the whole lock order of docs/ARCHITECTURE.md §3 taken outermost first", () => {
  const kern = lockdepKernel();
  const chain = [
    LockClass.I_RWSEM,
    LockClass.TMPFS,
    LockClass.MMAP_LOCK,
    LockClass.INVALIDATE_LOCK,
    LockClass.DAX_ENTRY,
    LockClass.BLOCK_MAP,
    LockClass.BLOCK_ALLOC,
    LockClass.I_MMAP,
    LockClass.PAGE_TABLE,
    LockClass.INODE_CACHE,
    LockClass.PAGE_CACHE,
    LockClass.TASK_TABLE,
    LockClass.SIGHAND,
    LockClass.FRAME_ALLOC,
  ];
  for (let i = 1; i < chain.length; i++) assert.ok(lockRank(chain[i]!) > lockRank(chain[i - 1]!));
  const kinds = Object.values(TAKERS);
  const release = chain.map((cls, i) => kinds[i % kinds.length]!(kern, cls));
  assert.equal(heldLocks(kern.k, MAIN_TID).length, chain.length);
  release.reverse().forEach((r) => r());
  assert.equal(heldLocks(kern.k, MAIN_TID).length, 0);
});

Deno.test("lockdep allows one class twice with increasing subclasses (rename's two inodes)", () => {
  const kern = lockdepKernel();
  const a = TAKERS.rwsemWrite!(kern, LockClass.I_RWSEM, 0);
  const b = TAKERS.rwsemWrite!(kern, LockClass.I_RWSEM, 1);
  assert.throws(
    () => TAKERS.rwsemWrite!(kern, LockClass.I_RWSEM, 1),
    /I_RWSEM taken while holding I_RWSEM/,
  );
  b();
  a();
});

Deno.test("lockdep does not check trylocks but checks later locks against them", () => {
  const kern = lockdepKernel();
  const { k } = kern;
  const pt = kern.alloc(MUTEX_WORDS), mm = kern.alloc(MUTEX_WORDS), page = kern.alloc(1);
  mutexLock(k, pt, LockClass.PAGE_TABLE);
  assert.equal(
    mutexTryLock(k, mm, LockClass.MMAP_LOCK),
    true,
    "trylock against the order is allowed",
  );
  assert.equal(bitTryLock(k, page, 0, LockClass.PAGE_LOCK), true);
  mutexUnlock(k, pt);
  assert.throws(
    () => TAKERS.mutex!(kern, LockClass.I_RWSEM),
    /I_RWSEM taken while holding MMAP_LOCK/,
  );
  assert.throws(
    () => TAKERS.mutex!(kern, LockClass.INVALIDATE_LOCK),
    /INVALIDATE_LOCK taken while holding PAGE_LOCK/,
  );
});
