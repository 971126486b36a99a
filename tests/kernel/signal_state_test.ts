/**
 * Unit tests of the signal machinery below the system calls: pending sets
 * and the real-time queue (signal_state.ts), the sending rules
 * (signal_send.ts), and the riscv rt_sigframe (signal_frame.ts).
 */
import assert from "node:assert/strict";
import { EAGAIN } from "../../src/abi/errno.ts";
import { REG_A0, REG_A1, REG_A2, REG_RA, REG_SP } from "../../src/abi/regs.ts";
import {
  CLD_EXITED,
  RT_SIGFRAME_SIZE,
  SA_ONSTACK,
  SI_QUEUE,
  SI_USER,
  SIGCHLD,
  SIGCONT,
  SIGINFO,
  SIGKILL,
  SIGPIPE,
  SIGSTOP,
  SIGTERM,
  SIGTSTP,
  SIGUSR1,
  SS_DISABLE,
  SS_ONSTACK,
  UCONTEXT,
} from "../../src/abi/signal.ts";
import { SIGNAL_GROUP_EXIT, sigqueueMax } from "../../src/abi/layout/signal.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { Hart } from "../../src/hw/hart.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { mmRoot } from "../../src/mm/pgtable.ts";
import { doSigaltstack, restoreRtFrame, setupRtFrame } from "../../src/kernel/signal_frame.ts";
import {
  fatalSignalPending,
  notifyParentExit,
  SEND_DROPPED,
  SEND_FATAL,
  SEND_QUEUED,
  sendSigSelf,
  sendToGroup,
  sendToTask,
  siginfoKill,
} from "../../src/kernel/signal_send.ts";
import {
  getAction,
  groupField,
  groupPending,
  lockTaskSighand,
  pendingAdd,
  pendingFlush,
  pendingHas,
  pendingSet,
  pendingTake,
  setAction,
  setBlockedLocked,
  siginfoNew,
  sigqueueUsed,
  sigunlock,
  taskField,
  taskPending,
} from "../../src/kernel/signal_state.ts";
import {
  signalExec,
  signalFork,
  signalRelease,
  signalSpawn,
} from "../../src/kernel/signal_lifecycle.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { makeBench, SCRATCH, SCRATCH_BYTES } from "./_task.ts";

function machine(): Memory {
  const mem = createMemory({ ramFrames: 16, deviceFrames: 0, deviceMemmap: false, maxTasks: 6 });
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  return mem;
}

const rtInfo = (sig: number, value: number) => {
  const i = siginfoNew(sig, SI_QUEUE);
  i[SIGINFO.value / 4] = value;
  return i;
};

Deno.test("pendingAdd() keeps one standard signal with its first siginfo, and queues RT signals in order", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(2), 100);
  const p = taskPending(mem, asTaskSlot(2));
  assert.equal(pendingAdd(mem, p, SIGUSR1, siginfoKill(SIGUSR1, SI_USER, 7), false), 1);
  assert.equal(pendingAdd(mem, p, SIGUSR1, siginfoKill(SIGUSR1, SI_USER, 8), false), 0);
  for (const [sig, v] of [[40, 1], [35, 2], [40, 3], [35, 4]]) {
    assert.equal(pendingAdd(mem, p, sig!, rtInfo(sig!, v!), true), 1);
  }
  assert.equal(sigqueueUsed(mem), 4);
  assert.equal(pendingTake(mem, p, SIGUSR1)[SIGINFO.pid / 4], 7, "the first sender's info");
  assert.ok(!pendingHas(mem.k32, p, SIGUSR1));
  const take = (sig: number) => pendingTake(mem, p, sig)[SIGINFO.value / 4];
  assert.deepEqual([take(35), take(40)], [2, 1]);
  assert.ok(pendingHas(mem.k32, p, 35) && pendingHas(mem.k32, p, 40), "one more of each");
  assert.deepEqual([take(35), take(40)], [4, 3]);
  assert.deepEqual(pendingSet(mem.k32, p), { lo: 0, hi: 0 });
  assert.equal(sigqueueUsed(mem), 0, "every entry back in the pool");
});

Deno.test("the RT queue is bounded: sigqueue gets -EAGAIN, kill still marks the signal without info", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(2), 100);
  const p = taskPending(mem, asTaskSlot(2));
  const max = sigqueueMax(mem.layout.config);
  for (let i = 0; i < max; i++) assert.equal(pendingAdd(mem, p, 33, rtInfo(33, i), true), 1);
  assert.equal(pendingAdd(mem, p, 50, rtInfo(50, 1), true), -EAGAIN);
  assert.ok(!pendingHas(mem.k32, p, 50), "a refused sigqueue leaves nothing pending");
  assert.equal(pendingAdd(mem, p, 50, null, false), 1, "kill() is never refused");
  const lost = pendingTake(mem, p, 50);
  assert.deepEqual([lost[0], lost[2], lost[SIGINFO.pid / 4]], [50, SI_USER, 0]);
  assert.ok(pendingFlush(mem, p, { lo: 0, hi: 1 << (33 - 33) }));
  assert.equal(sigqueueUsed(mem), 0);
  signalRelease(mem, asTaskSlot(2));
});

Deno.test("sendToGroup(): ignored signals are dropped unless blocked, SIGCONT and stops cancel each other", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(2), 100);
  const g = taskField(mem, asTaskSlot(2), "group");
  const h = taskField(mem, asTaskSlot(2), "sighand");
  const locked = (fn: () => void) => {
    const l = lockTaskSighand(mem, asTaskSlot(2));
    try {
      fn();
    } finally {
      sigunlock(mem, l);
    }
  };
  const shared = (sig: number) => pendingHas(mem.k32, groupPending(mem, g), sig);
  assert.equal(sendToGroup(mem, g, SIGCHLD, null), SEND_DROPPED, "ignored by default");
  // Blocked, an ignored signal is queued: its disposition may change before it is unblocked.
  locked(() =>
    setBlockedLocked(mem, asTaskSlot(2), { lo: (1 << (SIGCHLD - 1)) | (1 << (SIGTSTP - 1)), hi: 0 })
  );
  assert.equal(sendToGroup(mem, g, SIGCHLD, null), SEND_QUEUED);
  assert.ok(shared(SIGCHLD));
  assert.equal(sendToGroup(mem, g, SIGTSTP, null), SEND_QUEUED);
  assert.ok(shared(SIGTSTP));
  assert.equal(sendToGroup(mem, g, SIGCONT, null), SEND_DROPPED, "SIGCONT's own action: ignore");
  assert.ok(!shared(SIGTSTP), "SIGCONT discards a pending stop signal");
  locked(() => setBlockedLocked(mem, asTaskSlot(2), { lo: 1 << (SIGCONT - 1), hi: 0 }));
  assert.equal(sendToGroup(mem, g, SIGCONT, null), SEND_QUEUED);
  assert.equal(sendToGroup(mem, g, SIGSTOP, null), SEND_QUEUED);
  assert.ok(!shared(SIGCONT), "a stop signal discards a pending SIGCONT");
  locked(() => setBlockedLocked(mem, asTaskSlot(2), { lo: 0, hi: 0 }));
  // SIG_IGN: dropped. SIG_DFL for SIGTERM: fatal, the group exits, every thread gets SIGKILL.
  locked(() => setAction(mem, h, SIGTERM, { handler: 1, flags: 0, mask: { lo: 0, hi: 0 } }));
  assert.equal(sendToGroup(mem, g, SIGTERM, null), SEND_DROPPED);
  locked(() => setAction(mem, h, SIGTERM, { handler: 0, flags: 0, mask: { lo: 0, hi: 0 } }));
  assert.equal(getAction(mem, h, SIGTERM).handler, 0);
  assert.equal(sendToGroup(mem, g, SIGTERM, null), SEND_FATAL);
  assert.ok(fatalSignalPending(mem, asTaskSlot(2)));
  assert.ok((groupField(mem, g, "flags") & SIGNAL_GROUP_EXIT) !== 0);
  assert.equal(groupField(mem, g, "exitCode"), SIGTERM);
  assert.equal(sendToGroup(mem, g, SIGUSR1, null), SEND_DROPPED, "a dying group takes nothing");
  signalRelease(mem, asTaskSlot(2));
});

Deno.test("sendToTask(): SIGKILL and SIGSTOP cannot be blocked; an unknown task is -ESRCH", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(3), 5);
  const lk = lockTaskSighand(mem, asTaskSlot(3));
  setBlockedLocked(mem, asTaskSlot(3), { lo: -1, hi: -1 });
  sigunlock(mem, lk);
  const b = taskField(mem, asTaskSlot(3), "blockedLo");
  assert.equal(b & ((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))), 0);
  assert.equal(sendToTask(mem, asTaskSlot(3), SIGKILL, null), SEND_FATAL);
  assert.ok(sendToTask(mem, asTaskSlot(4), SIGUSR1, null) < 0);
  signalRelease(mem, asTaskSlot(3));
});

Deno.test("setupRtFrame() writes Linux's riscv rt_sigframe; restoreRtFrame() reads it back", () => {
  const bench = makeBench();
  try {
    const { mem, t } = bench;
    const hart = new Hart(mem.phys, {
      pageFault: () => false,
      ecall: () => false,
      trap: () => false,
      poll: () => true,
    }, { rootPfn: mmRoot(mem, t.mm) });
    for (let r = 1; r < 32; r++) hart.x[r] = 0x1000 * r + r;
    const top = SCRATCH + SCRATCH_BYTES - 20; // unaligned, as a stack pointer may be mid-function
    hart.x[REG_SP] = top;
    hart.pc = 0x12344;
    const info = siginfoKill(SIGUSR1, SI_USER, 42);
    const act = { handler: 0x5000, flags: 0, mask: { lo: 0, hi: 0 } };
    const saved = { ...Object.fromEntries([...hart.x.entries()]) };
    assert.equal(setupRtFrame(mem, t.mm, t.tid, hart, SIGUSR1, info, act, { lo: 0x8, hi: 0x2 }), 0);
    const frame = hart.x[REG_SP]! >>> 0;
    assert.equal(frame % 16, 0, "16-byte aligned");
    assert.equal(frame, (top - RT_SIGFRAME_SIZE) & ~15);
    assert.deepEqual(
      [hart.pc, hart.x[REG_A0], hart.x[REG_A1], hart.x[REG_A2]],
      [0x5000, SIGUSR1, frame, frame + 128],
    );
    assert.equal(hart.x[REG_RA], 0, "no [vdso] in this bench's mm: ra 0");
    const b = bench.peek(frame, RT_SIGFRAME_SIZE);
    const dv = new DataView(b.buffer);
    assert.deepEqual([dv.getInt32(0, true), dv.getInt32(8, true), dv.getInt32(12, true)], [
      SIGUSR1,
      SI_USER,
      42,
    ]);
    const uc = 128, mc = uc + UCONTEXT.mcontext;
    assert.equal(dv.getInt32(uc + UCONTEXT.stack + 4, true), SS_DISABLE, "uc_stack: no altstack");
    assert.deepEqual([dv.getInt32(uc + UCONTEXT.sigmask, true), dv.getInt32(uc + 24, true)], [
      8,
      2,
    ]);
    assert.equal(dv.getUint32(mc, true), 0x12344, "gregs[0] is the pc");
    for (let r = 1; r < 32; r++) assert.equal(dv.getInt32(mc + 4 * r, true), saved[r], `x${r}`);
    hart.x.fill(0);
    hart.x[REG_SP] = frame;
    const back = restoreRtFrame(mem, t.mm, hart);
    assert.ok(back !== null);
    assert.deepEqual(back.mask, { lo: 8, hi: 2 });
    assert.equal(hart.pc, 0x12344);
    for (let r = 1; r < 32; r++) assert.equal(hart.x[r], saved[r], `restored x${r}`);
    // A frame whose extension header is not the empty END header is bad.
    bench.poke(frame + mc + 128 + 520, new Uint8Array([1, 0, 0, 0]));
    hart.x[REG_SP] = frame;
    assert.equal(restoreRtFrame(mem, t.mm, hart), null);
  } finally {
    bench.close();
  }
});

Deno.test("doSigaltstack(): SA_ONSTACK frames go on the alternate stack, which cannot change while in use", () => {
  const bench = makeBench();
  try {
    const { mem, t } = bench;
    const hart = new Hart(mem.phys, {
      pageFault: () => false,
      ecall: () => false,
      trap: () => false,
      poll: () => true,
    }, { rootPfn: mmRoot(mem, t.mm) });
    const alt = { sp: SCRATCH, size: 8192, flags: 0 };
    assert.deepEqual(doSigaltstack(mem, t.tid, alt, 0x7fff_0000), {
      sp: 0,
      size: 0,
      flags: SS_DISABLE,
    });
    hart.x[REG_SP] = 0x7fff_0000;
    const act = { handler: 0x5000, flags: SA_ONSTACK, mask: { lo: 0, hi: 0 } };
    setupRtFrame(mem, t.mm, t.tid, hart, SIGUSR1, siginfoNew(SIGUSR1, 0), act, { lo: 0, hi: 0 });
    const sp = hart.x[REG_SP]! >>> 0;
    assert.ok(sp >= SCRATCH && sp < SCRATCH + 8192, "the frame is on the alternate stack");
    const cur = doSigaltstack(mem, t.tid, null, sp);
    assert.ok(typeof cur !== "number" && cur.flags === SS_ONSTACK);
    assert.equal(doSigaltstack(mem, t.tid, { sp: 0, size: 0, flags: SS_DISABLE }, sp), -1, "EPERM");
  } finally {
    bench.close();
  }
});

Deno.test("sendSigSelf() raises SIGPIPE for the caller's process with SI_USER and its own pid", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(2), 77);
  assert.equal(
    sendSigSelf(mem, asTaskSlot(2), SIGPIPE),
    SEND_FATAL,
    "SIGPIPE's default terminates",
  );
  const g = taskField(mem, asTaskSlot(2), "group");
  assert.equal(groupField(mem, g, "exitCode"), SIGPIPE);
  signalRelease(mem, asTaskSlot(2));
  signalSpawn(mem, asTaskSlot(2), 78);
  const h = lockTaskSighand(mem, asTaskSlot(2));
  setAction(mem, h, SIGPIPE, { handler: 0x4000, flags: 0, mask: { lo: 0, hi: 0 } });
  sigunlock(mem, h);
  assert.equal(sendSigSelf(mem, asTaskSlot(2), SIGPIPE), SEND_QUEUED);
  const p = groupPending(mem, taskField(mem, asTaskSlot(2), "group"));
  const info = pendingTake(mem, p, SIGPIPE);
  assert.deepEqual([info[0], info[2], info[SIGINFO.pid / 4]], [SIGPIPE, SI_USER, 78]);
  assert.ok(
    (taskField(mem, asTaskSlot(2), "flags") & 1) !== 0,
    "TIF_SIGPENDING set for the caller",
  );
  signalRelease(mem, asTaskSlot(2));
});

Deno.test("signalFork() copies or shares dispositions, inherits the mask, never the pending signals", () => {
  const mem = machine();
  signalSpawn(mem, asTaskSlot(2), 10);
  let h = lockTaskSighand(mem, asTaskSlot(2));
  setAction(mem, h, SIGUSR1, { handler: 0x4000, flags: 0, mask: { lo: 0, hi: 0 } });
  setBlockedLocked(mem, asTaskSlot(2), { lo: 1 << (SIGTERM - 1), hi: 0 });
  sigunlock(mem, h);
  assert.equal(sendToTask(mem, asTaskSlot(2), SIGTERM, null), SEND_QUEUED, "blocked: pending");
  // fork(): a copy of the dispositions, a new group whose parent is the caller's.
  signalFork(mem, asTaskSlot(2), asTaskSlot(3), 11, {
    sighand: false,
    thread: false,
    vmNoVfork: false,
  });
  const ph = taskField(mem, asTaskSlot(2), "sighand"),
    ch = taskField(mem, asTaskSlot(3), "sighand");
  assert.notEqual(ch, ph);
  assert.equal(getAction(mem, ch, SIGUSR1).handler, 0x4000);
  assert.equal(taskField(mem, asTaskSlot(3), "blockedLo"), 1 << (SIGTERM - 1));
  assert.deepEqual(pendingSet(mem.k32, taskPending(mem, asTaskSlot(3))), { lo: 0, hi: 0 });
  const cg = taskField(mem, asTaskSlot(3), "group");
  assert.equal(groupField(mem, cg, "parent"), taskField(mem, asTaskSlot(2), "group"));
  assert.equal(groupField(mem, cg, "tgid"), 11);
  // A thread shares both; exec in the child resets its handlers.
  signalFork(mem, asTaskSlot(3), asTaskSlot(4), 12, {
    sighand: true,
    thread: true,
    vmNoVfork: true,
  });
  assert.equal(taskField(mem, asTaskSlot(4), "sighand"), ch);
  assert.equal(taskField(mem, asTaskSlot(4), "group"), cg);
  assert.equal(groupField(mem, cg, "live"), 2);
  signalRelease(mem, asTaskSlot(4));
  signalExec(mem, asTaskSlot(3));
  assert.equal(getAction(mem, taskField(mem, asTaskSlot(3), "sighand"), SIGUSR1).handler, 0);
  assert.equal(getAction(mem, ph, SIGUSR1).handler, 0x4000, "the parent keeps its handler");
  // The child exits: the parent gets SIGCHLD (CLD_EXITED, status) and its wait word moves.
  h = lockTaskSighand(mem, asTaskSlot(2));
  setAction(mem, h, SIGCHLD, { handler: 0x4100, flags: 0, mask: { lo: 0, hi: 0 } });
  sigunlock(mem, h);
  const pg = taskField(mem, asTaskSlot(2), "group");
  const ev = groupField(mem, pg, "childEvents");
  assert.equal(notifyParentExit(mem, cg, 7, 0, false), false, "no autoreap");
  assert.equal(groupField(mem, pg, "childEvents"), ev + 1);
  const info = pendingTake(mem, groupPending(mem, pg), SIGCHLD);
  assert.deepEqual([info[2], info[SIGINFO.pid / 4], info[SIGINFO.status / 4]], [CLD_EXITED, 11, 7]);
  h = lockTaskSighand(mem, asTaskSlot(2));
  setAction(mem, h, SIGCHLD, { handler: 1, flags: 0, mask: { lo: 0, hi: 0 } });
  sigunlock(mem, h);
  assert.equal(notifyParentExit(mem, cg, 0, SIGTERM, false), true, "SIG_IGN: autoreap");
  assert.ok(!pendingHas(mem.k32, groupPending(mem, pg), SIGCHLD));
  signalRelease(mem, asTaskSlot(3));
  signalRelease(mem, asTaskSlot(2));
  assert.equal(sigqueueUsed(mem), 0);
});
