/**
 * lockWordProblems() (src/abi/layout/lock_words.ts): the one check that
 * every lock field of every layout record has its lock's words to itself,
 * which computeLayout runs once per thread.
 */

import assert from "node:assert/strict";
import { LOCKED_RECORDS } from "../../src/abi/layout/lock_fields.ts";
import { LOCK_SIZES, lockWordProblems } from "../../src/abi/layout/lock_words.ts";
import { MM } from "../../src/abi/layout/mod.ts";
import { MUTEX_WORDS, RWSEM_WORDS } from "../../src/sync/mod.ts";

Deno.test("lockWordProblems() finds none in the layouts with src/sync's lock sizes", () => {
  assert.deepEqual(lockWordProblems(LOCKED_RECORDS), []);
  assert.deepEqual(LOCK_SIZES, { mutex: MUTEX_WORDS, rwsem: RWSEM_WORDS });
});

Deno.test("lockWordProblems() names the field a grown lock would overwrite", () => {
  const mutex3 = lockWordProblems(LOCKED_RECORDS, { mutex: MUTEX_WORDS + 1, rwsem: RWSEM_WORDS });
  assert.ok(
    mutex3.includes(`MM.pageTableLock: vmaHead (word ${MM.vmaHead}) lies inside its mutex`),
    mutex3.join("\n"),
  );
  const rwsem5 = lockWordProblems(LOCKED_RECORDS, { mutex: MUTEX_WORDS, rwsem: RWSEM_WORDS + 1 });
  assert.ok(
    rwsem5.includes(`MM.mmapLock: pageTableLock (word ${MM.pageTableLock}) lies inside its rwsem`),
    rwsem5.join("\n"),
  );
  assert.ok(rwsem5.some((p) => p.startsWith("ISLOT.iRwsem: invalidateLock")), rwsem5.join("\n"));
  assert.ok(
    mutex3.some((p) => p.startsWith("PROCS_HDR.futexHash: futexSeq")),
    "the futex buckets would run into futexSeq: " + mutex3.join("\n"),
  );
});

Deno.test("lockWordProblems() reports a lock or an array past its record's end, and a missing field", () => {
  const problems = lockWordProblems([
    { name: "R", fields: { n: 0, lock: 30 }, words: 32, locks: { lock: "rwsem" } },
    {
      name: "S",
      fields: { lock: 0, ring: 2 },
      words: 8,
      locks: { lock: "mutex" },
      arrays: { ring: 7 },
    },
    { name: "T", fields: { n: 0 }, locks: { lock: "mutex" } },
  ]);
  assert.deepEqual(problems, [
    "R.lock: its rwsem of 4 words runs past 32",
    "S.ring: its array of 7 words runs past 8",
    "T.lock: no such field",
  ]);
});
