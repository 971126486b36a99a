/**
 * Worker side of bench/sync_bench.ts: on each message, pass a start
 * barrier with its peer, run `n` lock/unlock pairs of one kind, reply.
 *
 * @module
 */

import { asTaskSlot } from "../src/abi/types.ts";
import { barrierWait } from "../src/sync/barrier.ts";
import { bitLock, bitUnlock } from "../src/sync/bitlock.ts";
import { LockClass } from "../src/sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../src/sync/mutex.ts";
import { downRead, downWrite, upRead, upWrite } from "../src/sync/rwsem.ts";
import { setCurrentTid, taskInit } from "../src/sync/current.ts";

/** One round of work. */
export interface BenchJob {
  readonly op: "atomic" | "mutex" | "rwsemRead" | "rwsemWrite" | "bit";
  readonly n: number;
  readonly w: number;
  readonly gate: number;
}

const scope = globalThis as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((ev: MessageEvent) => void) | null;
};

let k: Int32Array | null = null;

scope.onmessage = (ev: MessageEvent) => {
  if (k === null) {
    const { sab, tid } = ev.data as { sab: SharedArrayBuffer; tid: number };
    k = new Int32Array(sab);
    taskInit(k, asTaskSlot(tid));
    setCurrentTid(asTaskSlot(tid));
    scope.postMessage("ready");
    return;
  }
  const { op, n, w, gate } = ev.data as BenchJob;
  barrierWait(k, gate);
  switch (op) {
    case "atomic":
      for (let i = 0; i < n; i++) Atomics.add(k, w, 1);
      break;
    case "mutex":
      for (let i = 0; i < n; i++) {
        mutexLock(k, w, LockClass.TEST_A);
        k[w + 8]!++;
        mutexUnlock(k, w);
      }
      break;
    case "rwsemRead":
      for (let i = 0; i < n; i++) {
        downRead(k, w, LockClass.TEST_A);
        upRead(k, w);
      }
      break;
    case "rwsemWrite":
      for (let i = 0; i < n; i++) {
        downWrite(k, w, LockClass.TEST_A);
        k[w + 8]!++;
        upWrite(k, w);
      }
      break;
    case "bit":
      for (let i = 0; i < n; i++) {
        bitLock(k, w, 3, LockClass.TEST_A);
        k[w + 8]!++;
        bitUnlock(k, w, 3);
      }
      break;
  }
  scope.postMessage("done");
};
