/**
 * Worker side of the src/sync tests: runs one named scenario as task `tid`
 * on the shared kernel buffer, then posts its result. Scenarios throw on
 * any violation they observe; the error is posted back as "failed".
 *
 * @module
 */

import { asTaskSlot } from "../../src/abi/types.ts";
import { barrierWait } from "../../src/sync/barrier.ts";
import { bitLock, bitUnlock, waitOnBit } from "../../src/sync/bitlock.ts";
import { complete, waitForCompletion } from "../../src/sync/completion.ts";
import { perturbSeed } from "../../src/sync/debug.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../../src/sync/mutex.ts";
import { downRead, downWrite, upRead, upWrite } from "../../src/sync/rwsem.ts";
import { readSeqBegin, readSeqRetry, writeSeqBegin, writeSeqEnd } from "../../src/sync/seqcount.ts";
import {
  KILL_POLL_MS,
  killCheck,
  setCurrentTid,
  taskExit,
  taskInit,
} from "../../src/sync/current.ts";
import { LOCK_MUTEX, LOCK_RWSEM, rng, type WorkerMsg, type WorkerStart } from "./_helpers.ts";

type Args = Record<string, number>;
interface Ctx {
  readonly k: Int32Array;
  readonly tid: number;
  readonly a: Args;
  readonly rand: (n: number) => number;
  readonly progress: (what: string) => void;
}

/** The Worker global scope, typed for what we use of it. */
const scope = globalThis as unknown as {
  postMessage(m: WorkerMsg): void;
  onmessage: ((ev: MessageEvent<WorkerStart>) => void) | null;
};
const post = (m: WorkerMsg) => scope.postMessage(m);
const arg = (a: Args, name: string): number => {
  const v = a[name];
  if (v === undefined) throw new Error(`missing argument ${name}`);
  return v;
};

/** Burn a few loads; widens race windows inside critical sections. */
function jitter(k: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) Atomics.load(k, 0);
}

function takeLock(k: Int32Array, w: number, which: number, bit: number): void {
  if (which === 0) mutexLock(k, w, LockClass.TEST_A);
  else if (which === 1) downWrite(k, w, LockClass.TEST_A);
  else if (which === 2) downRead(k, w, LockClass.TEST_A);
  else bitLock(k, w, bit, LockClass.TEST_A);
}

function dropLock(k: Int32Array, w: number, which: number, bit: number): void {
  if (which === 0) mutexUnlock(k, w);
  else if (which === 1) upWrite(k, w);
  else if (which === 2) upRead(k, w);
  else bitUnlock(k, w, bit);
}

const SCENARIOS: Record<string, (c: Ctx) => Args> = {
  /** iters plain read-modify-writes of k[ctr] under the lock at lw. */
  counter({ k, a, rand }) {
    const lw = arg(a, "lw"), ctr = arg(a, "ctr"), kind = arg(a, "kind"), bit = arg(a, "bit");
    for (let i = arg(a, "iters"); i > 0; i--) {
      if (kind === LOCK_MUTEX) mutexLock(k, lw, LockClass.TEST_A);
      else if (kind === LOCK_RWSEM) downWrite(k, lw, LockClass.TEST_A);
      else bitLock(k, lw, bit, LockClass.TEST_A);
      const v = k[ctr]!;
      jitter(k, rand(8));
      k[ctr] = v + 1;
      if (kind === LOCK_MUTEX) mutexUnlock(k, lw);
      else if (kind === LOCK_RWSEM) upWrite(k, lw);
      else bitUnlock(k, lw, bit);
    }
    return {};
  },

  /** role 0 completes c1 and waits c2, role 1 the reverse, `rounds` times. */
  pingpong({ k, a }) {
    const [give, take] = arg(a, "role") === 0
      ? [arg(a, "c1"), arg(a, "c2")]
      : [arg(a, "c2"), arg(a, "c1")];
    const rounds = arg(a, "rounds"), to = arg(a, "timeoutMs");
    for (let r = 0; r < rounds; r++) {
      if (arg(a, "role") === 0) complete(k, give);
      if (!waitForCompletion(k, take, to)) throw new Error(`lost wake-up in round ${r}`);
      if (arg(a, "role") === 1) complete(k, give);
    }
    return {};
  },

  /**
   * Mutex hand-off that forces the sleeping path: in round r, task r%2
   * holds m, the other announces it is about to block and blocks in
   * mutexLock; the holder naps, then unlocks; the blocked one must wake.
   */
  handoff({ k, a, tid }) {
    const m = arg(a, "m"), turn = arg(a, "turn"), bar = arg(a, "bar"), held = arg(a, "held");
    const role = arg(a, "role"), to = arg(a, "timeoutMs");
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let r = 1; r <= arg(a, "rounds"); r++) {
      if (r % 2 === role) {
        mutexLock(k, m, LockClass.TEST_A);
        Atomics.store(k, held, r);
        Atomics.notify(k, held);
        // Wait on the value just checked: re-reading it for Atomics.wait could
        // see the partner's store and then sleep past its notify.
        for (let v = Atomics.load(k, turn); v !== r; v = Atomics.load(k, turn)) {
          if (Atomics.wait(k, turn, v, to) === "timed-out") {
            throw new Error(`partner never announced round ${r}`);
          }
        }
        Atomics.wait(nap, 0, 0, 0.3); // let the partner fall asleep in mutexLock
        mutexUnlock(k, m);
      } else {
        for (let v = Atomics.load(k, held); v !== r; v = Atomics.load(k, held)) {
          if (Atomics.wait(k, held, v, to) === "timed-out") {
            throw new Error(`holder never took round ${r}`);
          }
        }
        Atomics.store(k, turn, r);
        Atomics.notify(k, turn);
        mutexLock(k, m, LockClass.TEST_A); // blocks until the hand-off
        if (Atomics.load(k, m) === 0) throw new Error("mutex word clear while held");
        mutexUnlock(k, m);
      }
      if (!barrierWait(k, bar, to)) throw new Error(`task ${tid} stuck at barrier, round ${r}`);
    }
    return {};
  },

  /**
   * Readers: hold rw for read, count themselves in `inside`, wait briefly
   * for a partner, check the writer's data is whole. Writer: write the data
   * words one by one under the write lock, checking nobody is inside.
   */
  rwmix({ k, a, rand }) {
    const rw = arg(a, "rw"), inside = arg(a, "inside"), data = arg(a, "data"), n = arg(a, "n");
    let maxInside = 0, torn = 0, violations = 0;
    if (arg(a, "writer") === 1) {
      for (let j = 1; j <= arg(a, "iters"); j++) {
        downWrite(k, rw, LockClass.TEST_A);
        if (Atomics.load(k, inside) !== 0) violations++;
        for (let i = 0; i < n; i++) {
          k[data + i] = j;
          jitter(k, rand(16));
        }
        if (Atomics.load(k, inside) !== 0) violations++;
        upWrite(k, rw);
        jitter(k, 200 + rand(400));
      }
    } else {
      for (let j = 0; j < arg(a, "iters"); j++) {
        downRead(k, rw, LockClass.TEST_A);
        const now = Atomics.add(k, inside, 1) + 1;
        // Wait (bounded) for the other reader to join us.
        for (let s = 0; s < 2000 && Atomics.load(k, inside) < 2; s++) jitter(k, 4);
        maxInside = Math.max(maxInside, now, Atomics.load(k, inside));
        const first = k[data]!;
        for (let i = 1; i < n; i++) if (k[data + i] !== first) torn++;
        Atomics.sub(k, inside, 1);
        upRead(k, rw);
      }
    }
    return { maxInside, torn, violations };
  },

  /**
   * Readers re-take rw for read until `stop` is set, and leave only once
   * the partner is inside (or a bounded wait ran out), so without writer
   * preference the reader count would never drop to zero.
   */
  readerStream({ k, a }) {
    const rw = arg(a, "rw"), stop = arg(a, "stop"), started = arg(a, "started");
    const inside = arg(a, "inside");
    let n = 0;
    while (Atomics.load(k, stop) === 0) {
      downRead(k, rw, LockClass.TEST_A);
      Atomics.add(k, inside, 1);
      for (let s = 0; s < 500_000 && Atomics.load(k, inside) < 2; s++) jitter(k, 1);
      Atomics.sub(k, inside, 1);
      upRead(k, rw);
      if (++n === 200) Atomics.add(k, started, 1);
    }
    return { n };
  },

  /** Waits until both readers stream, then takes rw for write and stops them. */
  writerVsStream({ k, a }) {
    const rw = arg(a, "rw"), stop = arg(a, "stop"), started = arg(a, "started");
    while (Atomics.load(k, started) < 2) Atomics.wait(k, started, Atomics.load(k, started), 1);
    downWrite(k, rw, LockClass.TEST_A);
    Atomics.store(k, stop, 1);
    upWrite(k, rw);
    return {};
  },

  /** Writer: iters updates of n words under mutex m and seqcount sq. */
  seqWriter({ k, a, rand }) {
    const m = arg(a, "m"), sq = arg(a, "sq"), data = arg(a, "data"), n = arg(a, "n");
    for (let j = 1; j <= arg(a, "iters"); j++) {
      mutexLock(k, m, LockClass.TEST_A);
      writeSeqBegin(k, sq);
      for (let i = 0; i < n; i++) {
        k[data + i] = j * 1000 + i;
        jitter(k, rand(8));
      }
      writeSeqEnd(k, sq);
      mutexUnlock(k, m);
    }
    Atomics.store(k, arg(a, "stop"), 1);
    return {};
  },

  /** Reader: read the n words consistently until `stop`; count torn accepts. */
  seqReader({ k, a }) {
    const sq = arg(a, "sq"), data = arg(a, "data"), n = arg(a, "n"), stop = arg(a, "stop");
    const copy = new Int32Array(n);
    let torn = 0, accepted = 0, retries = 0;
    while (Atomics.load(k, stop) === 0) {
      let s: number;
      do {
        s = readSeqBegin(k, sq);
        for (let i = 0; i < n; i++) copy[i] = k[data + i]!;
      } while (readSeqRetry(k, sq, s) && ++retries);
      accepted++;
      const base = copy[0]!;
      for (let i = 1; i < n; i++) if (copy[i] !== base + i) torn++;
    }
    return { torn, accepted, retries };
  },

  /** Each of `gens` generations: publish g in slot tid, pass the barrier, check all slots. */
  barrier({ k, a, tid }) {
    const b = arg(a, "b"), slots = arg(a, "slots"), first = arg(a, "firstTid");
    const parties = arg(a, "parties"), to = arg(a, "timeoutMs");
    for (let g = 1; g <= arg(a, "gens"); g++) {
      Atomics.store(k, slots + tid, g);
      if (!barrierWait(k, b, to)) throw new Error(`barrier timed out in generation ${g}`);
      for (let t = first; t < first + parties; t++) {
        const s = Atomics.load(k, slots + t);
        if (s !== g && s !== g + 1) throw new Error(`generation ${g}: task ${t} is at ${s}`);
      }
    }
    return {};
  },

  /** waitOnBit with a timeout; reports whether it saw the bit clear. */
  waitBit({ k, a, progress }) {
    progress("waiting");
    return { ok: waitOnBit(k, arg(a, "flags"), arg(a, "bit"), arg(a, "timeoutMs")) ? 1 : 0 };
  },

  /** Wait on a completion nobody completes. */
  completionTimeout({ k, a }) {
    const ok = waitForCompletion(k, arg(a, "c"), arg(a, "timeoutMs"));
    return { ok: ok ? 1 : 0 };
  },

  /** Take a mutex, an rwsem for read, one for write and a bit lock; then park. */
  holdAll({ k, a, progress }) {
    mutexLock(k, arg(a, "m"), LockClass.TEST_A);
    downRead(k, arg(a, "rwR"), LockClass.TEST_B);
    downWrite(k, arg(a, "rwW"), LockClass.TEST_C);
    bitLock(k, arg(a, "flags"), arg(a, "bit"), LockClass.NONE);
    progress("holding");
    // Park like an idle hart: sleep, but poll for a kill.
    const deadline = performance.now() + arg(a, "timeoutMs");
    while (performance.now() < deadline) {
      Atomics.wait(k, arg(a, "park"), 0, KILL_POLL_MS);
      killCheck(k);
    }
    throw new Error("holdAll was never killed");
  },

  /**
   * Take one lock (which = 0 mutex, 1 rwsem write, 2 rwsem read, 3 bit),
   * note the order of taking in `seq` if given, then release it.
   */
  takeOne({ k, a, progress }) {
    const w = arg(a, "w"), which = arg(a, "which");
    progress("trying");
    takeLock(k, w, which, a.bit ?? -1);
    const order = a.seq === undefined ? -1 : Atomics.add(k, a.seq, 1);
    progress("got");
    dropLock(k, w, which, a.bit ?? -1);
    return { order };
  },

  /** Take one lock like takeOne, then hold it until k[release] becomes non-zero. */
  holdUntil({ k, a, progress }) {
    const w = arg(a, "w"), which = arg(a, "which"), release = arg(a, "release");
    takeLock(k, w, which, a.bit ?? -1);
    progress("got");
    while (Atomics.load(k, release) === 0) {
      if (Atomics.wait(k, release, 0, arg(a, "timeoutMs")) === "timed-out") {
        throw new Error("never released");
      }
    }
    dropLock(k, w, which, a.bit ?? -1);
    return {};
  },

  /**
   * Lock/unlock every kind in a loop, forever or until `stop`, bumping
   * `beat` each round; the test terminates it at a random moment.
   */
  churn({ k, a, rand }) {
    const m = arg(a, "m"), rw = arg(a, "rw"), flags = arg(a, "flags"), bit = arg(a, "bit");
    const beat = arg(a, "beat"), stop = arg(a, "stop");
    while (Atomics.load(k, stop) === 0) {
      switch (rand(4)) {
        case 0:
          mutexLock(k, m, LockClass.TEST_A);
          jitter(k, rand(32));
          mutexUnlock(k, m);
          break;
        case 1:
          downRead(k, rw, LockClass.TEST_A);
          jitter(k, rand(32));
          upRead(k, rw);
          break;
        case 2:
          downWrite(k, rw, LockClass.TEST_A);
          jitter(k, rand(32));
          upWrite(k, rw);
          break;
        default:
          bitLock(k, flags, bit, LockClass.TEST_A);
          jitter(k, rand(32));
          bitUnlock(k, flags, bit);
      }
      Atomics.add(k, beat, 1);
    }
    return {};
  },
};

post({ type: "progress", what: "ready" });

scope.onmessage = (ev: MessageEvent<WorkerStart>) => {
  const { sab, tid, scenario, args, seed } = ev.data;
  const k = new Int32Array(sab);
  try {
    const run = SCENARIOS[scenario];
    if (run === undefined) throw new Error(`no scenario ${scenario}`);
    taskInit(k, asTaskSlot(tid));
    setCurrentTid(asTaskSlot(tid));
    perturbSeed(seed ^ tid);
    // Start together: Worker start-up (~40 ms) is longer than most runs.
    if (args.gate !== undefined && !barrierWait(k, args.gate, 20_000)) {
      throw new Error("start gate timed out");
    }
    const result = run({
      k,
      tid,
      a: args,
      rand: rng(seed ^ (tid * 0x9e3779b1)),
      progress: (what) => post({ type: "progress", what }),
    });
    taskExit(k, asTaskSlot(tid));
    post({ type: "done", result });
  } catch (e) {
    post({ type: "failed", error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
