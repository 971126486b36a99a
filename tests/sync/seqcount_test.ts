import assert from "node:assert/strict";
import { KernelPanic } from "../../src/abi/panic.ts";
import { MUTEX_WORDS } from "../../src/sync/mutex.ts";
import {
  readSeqBegin,
  readSeqRetry,
  SEQCOUNT_WORDS,
  writeSeqBegin,
  writeSeqEnd,
} from "../../src/sync/seqcount.ts";
import { allDone, makeKernel, testSeed, withWorkers } from "./_helpers.ts";

Deno.test("readSeqRetry() rejects every torn multi-word value written by another Worker", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const m = kern.alloc(MUTEX_WORDS), sq = kern.alloc(SEQCOUNT_WORDS), n = 12, data = kern.alloc(n);
  const stop = kern.alloc(1), gate = kern.gate(3);
  for (let i = 0; i < n; i++) kern.k[data + i] = i; // a consistent value: j = 0
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [
      spawn(2, "seqWriter", { m, sq, data, n, stop, iters: 50_000, gate }),
      spawn(3, "seqReader", { sq, data, n, stop, gate }),
      spawn(4, "seqReader", { sq, data, n, stop, gate }),
    ];
    const [, r1, r2] = await allDone(ws, 60_000);
    assert.equal(r1!.torn, 0, "reader 1 accepted a torn value");
    assert.equal(r2!.torn, 0, "reader 2 accepted a torn value");
    assert.ok(r1!.accepted! > 0 && r2!.accepted! > 0, "readers never completed a read");
    assert.equal(kern.k[sq]! % 2, 0);
  });
});

Deno.test("readSeqRetry() reports a write that overlapped the read section", () => {
  const { k, alloc } = makeKernel();
  const sq = alloc(SEQCOUNT_WORDS);
  const s = readSeqBegin(k, sq);
  assert.equal(readSeqRetry(k, sq, s), false);
  writeSeqBegin(k, sq);
  writeSeqEnd(k, sq);
  assert.equal(readSeqRetry(k, sq, s), true);
  assert.equal(readSeqRetry(k, sq, readSeqBegin(k, sq)), false);
});

Deno.test("writeSeqBegin() panics when writers are not serialised", () => {
  const { k, alloc } = makeKernel();
  const sq = alloc(SEQCOUNT_WORDS);
  writeSeqBegin(k, sq);
  assert.throws(() => writeSeqBegin(k, sq), KernelPanic);
  const fresh = alloc(SEQCOUNT_WORDS);
  assert.throws(() => writeSeqEnd(k, fresh), KernelPanic);
});
