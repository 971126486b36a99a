/**
 * The POSIX record-lock table (src/fs/locks.ts): conflicts by owner and
 * type, merging of a owner's own locks, splitting on unlock, release by
 * owner and inode, deadlock detection for waiters, and ENOLCK when the
 * table is full, all without a leaked record.
 */
import assert from "node:assert/strict";
import { EAGAIN, EDEADLK, ENOLCK } from "../../src/abi/errno.ts";
import { FLOCK_EOF, FLOCKS_MAX } from "../../src/abi/layout/locks.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import {
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  type FileLock,
  locksInUse,
  locksRelease,
  locksSet,
  locksTest,
  locksWaitDone,
} from "../../src/fs/locks.ts";
import { boot } from "../mm/_mm_helpers.ts";

const INO = 7;
const lk = (owner: number, type: number, start: number, end: number): FileLock => ({
  owner,
  pid: owner * 10,
  type,
  start,
  end,
});

Deno.test("locksSet() grants overlapping read locks and refuses a write lock across owners", () => {
  const mem = boot();
  assert.equal(locksSet(mem, INO, lk(1, F_RDLCK, 0, 100)), 0);
  assert.equal(locksSet(mem, INO, lk(2, F_RDLCK, 50, 150)), 0);
  assert.equal(locksSet(mem, INO, lk(3, F_WRLCK, 120, 130)), -EAGAIN);
  assert.equal(locksSet(mem, INO + 1, lk(3, F_WRLCK, 0, FLOCK_EOF)), 0, "another inode");
  const c = locksTest(mem, INO, lk(3, F_WRLCK, 0, FLOCK_EOF))!;
  assert.deepEqual([c.owner, c.pid, c.start, c.end], [1, 10, 0, 100], "the first conflict");
  assert.equal(locksTest(mem, INO, lk(3, F_RDLCK, 0, FLOCK_EOF)), null, "reads never conflict");
  locksRelease(mem, 1);
  locksRelease(mem, 2);
  locksRelease(mem, 3);
  assert.equal(locksInUse(mem), 0);
});

Deno.test("an owner's locks of one type merge, and unlocking the middle splits them", () => {
  const mem = boot();
  assert.equal(locksSet(mem, INO, lk(1, F_WRLCK, 0, 10)), 0);
  assert.equal(locksSet(mem, INO, lk(1, F_WRLCK, 10, 20)), 0, "touching");
  assert.equal(locksSet(mem, INO, lk(1, F_WRLCK, 5, 30)), 0, "overlapping");
  assert.equal(locksInUse(mem), 1, "one merged lock");
  const all = locksTest(mem, INO, lk(2, F_RDLCK, 0, FLOCK_EOF))!;
  assert.deepEqual([all.start, all.end], [0, 30]);
  assert.equal(locksSet(mem, INO, lk(1, F_UNLCK, 10, 20)), 0);
  assert.equal(locksInUse(mem), 2, "split in two");
  assert.equal(locksTest(mem, INO, lk(2, F_WRLCK, 10, 20)), null, "the hole is free");
  assert.deepEqual(locksTest(mem, INO, lk(2, F_WRLCK, 25, 26))!.start, 20);
  assert.equal(
    locksSet(mem, INO, lk(1, F_RDLCK, 0, 5)),
    0,
    "a read lock over part of a write lock",
  );
  assert.equal(locksTest(mem, INO, lk(2, F_RDLCK, 0, 5)), null, "reads share it now");
  assert.equal(
    locksTest(mem, INO, lk(2, F_RDLCK, 5, 6))?.type,
    F_WRLCK,
    "the rest stays a write lock",
  );
  locksRelease(mem, 1, INO);
  assert.equal(locksInUse(mem), 0);
});

Deno.test("locksSet() with a waiter detects a cycle of owners waiting for each other (EDEADLK)", () => {
  const mem = boot({ maxTasks: 4 });
  assert.equal(locksSet(mem, INO, lk(1, F_WRLCK, 0, 10)), 0);
  assert.equal(locksSet(mem, INO, lk(2, F_WRLCK, 10, 20)), 0);
  assert.equal(
    locksSet(mem, INO, lk(2, F_WRLCK, 0, 10), asTaskSlot(2)),
    -EAGAIN,
    "owner 2 waits for 1",
  );
  assert.equal(
    locksSet(mem, INO, lk(1, F_WRLCK, 10, 20), asTaskSlot(3)),
    -EDEADLK,
    "1 waiting for 2 closes it",
  );
  locksWaitDone(mem, asTaskSlot(2));
  assert.equal(
    locksSet(mem, INO, lk(1, F_WRLCK, 10, 20), asTaskSlot(3)),
    -EAGAIN,
    "no cycle once 2 gave up",
  );
  locksWaitDone(mem, asTaskSlot(3));
  locksRelease(mem, 1);
  locksRelease(mem, 2);
  assert.equal(locksInUse(mem), 0);
});

Deno.test("locksSet() is ENOLCK when the table is full and changes nothing", () => {
  const mem = boot();
  for (let i = 0; i < FLOCKS_MAX; i++) {
    assert.equal(locksSet(mem, INO, lk(1, F_WRLCK, i * 10, i * 10 + 5)), 0);
  }
  assert.equal(locksSet(mem, INO, lk(2, F_WRLCK, 10_000, 10_001)), -ENOLCK);
  assert.equal(locksSet(mem, INO, lk(1, F_UNLCK, 1, 2)), -ENOLCK, "a split needs a record too");
  assert.equal(locksInUse(mem), FLOCKS_MAX);
  assert.equal(locksSet(mem, INO, lk(1, F_UNLCK, 0, FLOCK_EOF)), 0, "unlocking all needs none");
  assert.equal(locksInUse(mem), 0);
});
