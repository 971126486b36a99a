/**
 * Worker for exit_worker_test.ts: become task `tid` of the kernel buffer,
 * take mutex `a`, arm the chaos countdown to die at the next lock operation,
 * and try to take mutex `b`. With `action` "exitWorker" the task dies at
 * that kill point; with "bare" (Deno.exit alone, the old action) it runs on
 * for a few statements after acknowledging. `progress` counts what it did.
 */

import { LockClass } from "../../src/sync/lockdep.ts";
import { mutexLock } from "../../src/sync/mutex.ts";
import {
  exitWorker,
  setCurrentTid,
  setKillAction,
  taskChaosArm,
  taskInit,
} from "../../src/sync/current.ts";
import type { TaskSlot } from "../../src/abi/types.ts";

const port = self as unknown as {
  onmessage: ((ev: MessageEvent) => void) | null;
  postMessage(m: unknown): void;
};

port.onmessage = (ev: MessageEvent) => {
  const { sab, tid, a, b, progress, action } = ev.data as {
    sab: SharedArrayBuffer;
    tid: number;
    a: number;
    b: number;
    progress: number;
    action: "exitWorker" | "bare";
  };
  const k = new Int32Array(sab);
  const bareExit: (code: number) => void = Deno.exit;
  setKillAction(
    action === "exitWorker" ? exitWorker : () => {
      bareExit(0);
      return undefined as never; // the old action: returns, as Deno.exit does in a Worker
    },
  );
  taskInit(k, tid as TaskSlot);
  setCurrentTid(tid as TaskSlot);
  mutexLock(k, a, LockClass.TEST_A);
  Atomics.store(k, progress, 1);
  taskChaosArm(k, tid as TaskSlot, 1);
  mutexLock(k, b, LockClass.TEST_B);
  Atomics.store(k, progress, 2);
};
