/**
 * Recovery of the locks of a dead task, and inspection of who holds what.
 *
 * A Worker that is killed leaves its locks held. The main thread then calls
 * recoverTask, which walks the dead task's held-lock stack and releases
 * each lock, as the kernel walks a robust-futex list when a thread exits
 * (Linux exit_robust_list).
 *
 * When to call it. In Deno 2.9 `worker.terminate()` does not stop a Worker
 * that runs or sleeps in JavaScript (see src/sync/current.ts), so the protocol
 * is: taskKill(k, tid), wait until taskKillAcked(k, tid) (at most about
 * KILL_POLL_MS if the task sleeps on a lock; its next kill point if it
 * runs; a process Worker then ends itself with Deno.exit), then
 * recoverTask(k, tid). The Machine does it through recoverDeadTask
 * (src/kernel/reap.ts), which also puts back the references a dead task
 * may hold besides its locks. A task
 * whose thread is known never to run again (it exited, or it is parked on
 * a word nobody will wake) may be recovered without the acknowledgement.
 * Recovering a task whose thread may still take or release locks corrupts
 * them.
 *
 * Entries in state HELD_HELD are released. An entry in HELD_ACQUIRING means
 * the task stopped between pushing it and marking it held:
 *
 * - mutex, rwsem writer: the owner field is written by the CAS that takes
 *   the lock, so the word says whether the task got it; release if it did.
 *   A dead *waiting* writer may have left WW set; it is cleared and all
 *   sleepers woken (live waiting writers set it again).
 * - rwsem reader, bit lock: the word cannot say who incremented or set it.
 *   A killed task never stops between the atomic operation and the mark:
 *   its kill check points all come before the lock word is touched. So an
 *   ACQUIRING entry of these kinds never holds.
 *
 * Defence in depth, should an isolate ever be killed with V8's
 * TerminateExecution (Deno has done so after a grace period in some
 * versions): every acquire marks its entry HELD in the statement right
 * after the successful atomic operation, and every release marks it NONE
 * right after. V8 handles a termination request only where generated code
 * checks the stack guard: JS function entry, loop back edges (and interrupt
 * budget checks there and on return), and blocking calls such as
 * Atomics.wait. An Atomics builtin followed by a typed-array store contains
 * no such point, so the pair is not split. This is V8 design (its tests
 * terminate "at method entry" and "at loop interrupt checks"), not a spec
 * guarantee, and it could not be tested here because Deno 2.9.6 never
 * terminated a running isolate in our measurements.
 *
 * @module
 */

import {
  HEADER,
  HELD,
  HELD_ENTRY_WORDS,
  HELD_MAX,
  TASK,
  TASK_DEAD,
  TASK_WORDS,
} from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { bitForceUnlock } from "./bitlock.ts";
import {
  descKind,
  descMode,
  HELD_ACQUIRING,
  HELD_HELD,
  HELD_NONE,
  KIND_BIT,
  KIND_MUTEX,
  KIND_RWSEM,
  MODE_READ,
} from "./held.ts";
import { mutexForceUnlock } from "./mutex.ts";
import { rwsemForceUpRead, rwsemForceUpWrite } from "./rwsem.ts";
import { taskRecord } from "./current.ts";

export { heldLocks } from "./held.ts";
export type { HeldLock } from "./held.ts";

/**
 * Release every lock the dead task `tid` holds, then mark it TASK_DEAD with
 * an empty stack (taskInit may reuse the tid).
 * Entry: `tid`'s thread will not touch a lock again: it acknowledged
 * taskKill, exited, or is parked where nobody will wake it (see the module
 * comment). The caller is another task or no task.
 *
 * @returns how many locks were released
 * @throws KernelPanic if the stack contradicts a lock word (a HELD mutex or
 *   rwsem writer entry whose word names someone else), or tid is out of range
 */
export function recoverTask(k: Int32Array, tid: TaskSlot): number {
  const max = k[HEADER.maxTasks]!;
  if (tid < 1 || tid >= max) throw new KernelPanic("recoverTask", `tid ${tid} out of range`);
  const t = taskRecord(k, tid);
  const depth = Math.min(Atomics.load(k, t + TASK.depth), HELD_MAX);
  let released = 0;
  for (let i = depth - 1; i >= 0; i--) {
    const e = t + TASK.held + i * HELD_ENTRY_WORDS;
    const state = Atomics.load(k, e + HELD.state);
    if (state === HELD_NONE) continue;
    if (state !== HELD_HELD && state !== HELD_ACQUIRING) {
      throw new KernelPanic("recoverTask", `task ${tid} entry ${i} has state ${state}`);
    }
    if (recoverEntry(k, tid, e, state === HELD_HELD)) released++;
    Atomics.store(k, e + HELD.state, HELD_NONE);
  }
  if (Atomics.load(k, t + TASK.bitWait) !== 0) {
    Atomics.sub(k, HEADER.bitWaiters, 1);
    Atomics.store(k, t + TASK.bitWait, 0);
  }
  Atomics.store(k, t + TASK.depth, 0);
  Atomics.store(k, t + TASK.state, TASK_DEAD);
  return released;
}

function recoverEntry(k: Int32Array, tid: TaskSlot, e: number, held: boolean): boolean {
  const w = Atomics.load(k, e + HELD.word);
  const d = Atomics.load(k, e + HELD.desc);
  switch (descKind(d)) {
    case KIND_MUTEX: {
      const mine = mutexForceUnlock(k, w, tid);
      if (held && !mine) {
        throw new KernelPanic("recoverTask", `task ${tid} recorded mutex ${w} it does not own`);
      }
      return mine;
    }
    case KIND_RWSEM:
      if (descMode(d) === MODE_READ) {
        if (held) rwsemForceUpRead(k, w);
        return held;
      } else {
        const mine = rwsemForceUpWrite(k, w, tid);
        if (held && !mine) {
          throw new KernelPanic("recoverTask", `task ${tid} recorded rwsem ${w} it does not own`);
        }
        return mine;
      }
    case KIND_BIT:
      return held ? bitForceUnlock(k, w, Atomics.load(k, e + HELD.bit)) : false;
    default:
      throw new KernelPanic("recoverTask", `task ${tid} entry has unknown kind ${descKind(d)}`);
  }
}

/**
 * The tasks whose held-lock stacks record the lock at `w` (bit `bit` for a
 * bit lock, -1 otherwise) as held: the owner of a mutex, the writer or every
 * reader of an rwsem, the holder of a bit lock. Scans every task: for
 * diagnostics and tests, not for hot paths. Racy against live tasks.
 */
export function lockHolders(k: Int32Array, w: number, bit = -1): TaskSlot[] {
  const max = k[HEADER.maxTasks]!;
  const out: TaskSlot[] = [];
  for (let tid = 1; tid < max; tid++) {
    const t = k[HEADER.tasksBase]! + tid * TASK_WORDS;
    const depth = Math.min(Atomics.load(k, t + TASK.depth), HELD_MAX);
    for (let i = 0; i < depth; i++) {
      const e = t + TASK.held + i * HELD_ENTRY_WORDS;
      if (
        Atomics.load(k, e + HELD.state) === HELD_HELD &&
        Atomics.load(k, e + HELD.word) === w &&
        Atomics.load(k, e + HELD.bit) === bit
      ) {
        out.push(asTaskSlot(tid));
        break;
      }
    }
  }
  return out;
}
