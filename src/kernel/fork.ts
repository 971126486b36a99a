/**
 * clone, fork and vfork (Linux's kernel/fork.c copy_process and
 * kernel_clone), run by the parent in its own Worker.
 *
 * The parent builds the whole child in shared memory, as Linux builds it
 * before it is first scheduled: a process slot and pid (procClaim), its
 * task record, an mm (a copy made by dupMm, or the parent's own with
 * CLONE_VM), a copy of the fd table (the open files shared), and the
 * register frame it starts from (the parent's, with a0 = 0). Then it marks
 * the slot START_PENDING and rings the Machine's doorbell. The Machine,
 * which waits on the doorbell with Atomics.waitAsync and so never blocks,
 * gives the child a Worker from its pool; the Worker reads the frame and
 * runs. The parent returns the child's pid at once, without waiting for
 * any of that: neither side ever blocks on something only the other's
 * event loop could settle.
 *
 * vfork (CLONE_VFORK, with CLONE_VM as posix_spawn uses it): the parent
 * then sleeps, killable, until the child execs or exits (exit.ts
 * vforkRelease).
 *
 * @module
 */

import { tstatCommFork } from "../mm/fault_ring.ts";
import { EAGAIN, EINVAL, ENOSYS, ETIMEDOUT, isErr } from "../abi/errno.ts";
import { PROCS_HDR, START_PENDING } from "../abi/layout/mod.ts";
import { REG_A0, REG_SP, REG_TP } from "../abi/regs.ts";
import { asTaskSlot, asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { dupMm } from "../mm/fork.ts";
import { mmGet, mmPut } from "../mm/mm.ts";
import { enterIdle, switchMm } from "../mm/tlb_flush.ts";
import { copyToUser } from "../mm/uaccess.ts";
import { taskExit, taskInit, withNoKill } from "../sync/mod.ts";
import {
  procClaim,
  procGet,
  procRetiring,
  procSet,
  procSlot,
  procUnclaim,
  procWord,
} from "./proc.ts";
import { signalFork } from "./signal_lifecycle.ts";
import { credFork, nprocCheck } from "./sys_cred.ts";
import { sleepOnWord } from "./sleep.ts";
import type { Task } from "./task.ts";
import { accessOk } from "./uaccess_task.ts";

// clone flags (include/uapi/linux/sched.h).
export const CSIGNAL = 0xff;
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_PIDFD = 0x1000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_VFORK = 0x4000;
export const CLONE_PARENT = 0x8000;
export const CLONE_THREAD = 0x10000;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_CHILD_CLEARTID = 0x200000;
export const CLONE_DETACHED = 0x400000;
export const CLONE_UNTRACED = 0x800000;
export const CLONE_CHILD_SETTID = 0x1000000;
/** Every namespace flag (CLONE_NEWCGROUP .. CLONE_NEWNET, CLONE_NEWNS, CLONE_IO): xip has none. */
const CLONE_NAMESPACES = 0x7e02_0000 | 0x8000_0000;

/** What the child starts from, besides its slot's frame. */
export interface CloneRequest {
  flags: number;
  /** New stack pointer (0: the parent's). */
  newsp: number;
  /** Where the parent wants the child's tid (CLONE_PARENT_SETTID). */
  ptid: number;
  /** The child's thread pointer (CLONE_SETTLS). */
  tls: number;
  /** CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID address. */
  ctid: number;
}

/**
 * Check `flags` as Linux's copy_process does, for what xip supports.
 *
 * @returns 0, -EINVAL (an inconsistent or unsupported combination)
 */
function checkFlags(flags: number): number {
  if ((flags & CLONE_NAMESPACES) !== 0 || (flags & CLONE_PIDFD) !== 0) return -EINVAL;
  if ((flags & CLONE_THREAD) !== 0 && (flags & CLONE_SIGHAND) === 0) return -EINVAL;
  if ((flags & CLONE_SIGHAND) !== 0 && (flags & CLONE_VM) === 0) return -EINVAL;
  return 0;
}

/**
 * Store tid `v` at user address `va` of mm `mm`. A bad address is ignored,
 * as Linux ignores the result of these put_user calls.
 */
function putTid(mem: Memory, mm: MmId, va: number, v: number): void {
  va >>>= 0;
  if (!accessOk(va, 4)) return;
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  copyToUser(mem, mm, asVirt(va), b);
}

/**
 * clone(flags, newsp, ptid, tls, ctid) for the calling task (riscv's
 * argument order). Entry: a syscall of `t`, no lock held.
 *
 * A thread (CLONE_THREAD, with CLONE_VM, CLONE_SIGHAND and CLONE_FILES as
 * pthread_create passes them) shares the mm, the fd table and the signal
 * dispositions, joins the thread group (getpid is the leader's pid, gettid
 * its own), and is nobody's child: it is reaped as it exits.
 *
 * @returns the child's pid (a thread's tid) to the parent, or -EAGAIN (no
 *   process slot, the Machine's limit; or RLIMIT_NPROC, sys_cred.ts), -ENOMEM (no mm or memory to copy
 *   it), -EMFILE (no fd table), -EINVAL (bad flags), -ENOSYS (no Machine to
 *   run the child); -ERESTARTSYS when a vfork parent is killed while it waits
 */
export function doClone(t: Task, req: CloneRequest): number {
  const bad = checkFlags(req.flags);
  if (bad < 0) return bad;
  if (t.host === null || t.sig.hart === null) return -ENOSYS;
  const mem = t.mem;
  const over = nprocCheck(t); // copy_process: RLIMIT_NPROC of the caller's real uid
  if (over < 0) return over;
  // Children hang off their group's leader, so any thread may wait for
  // them; a thread, or a CLONE_PARENT child, gets the group's own parent.
  const leader = procSlot(mem, t.slot, "leader");
  const sibling = (req.flags & (CLONE_THREAD | CLONE_PARENT)) !== 0;
  const claim = claimSlot(t, sibling ? procSlot(mem, leader, "parentSlot") : leader);
  if (typeof claim === "number") return claim;
  const { slot, pid } = claim;
  credFork(mem, t.slot, slot);
  if ((req.flags & CLONE_THREAD) !== 0) {
    for (const f of ["tgid", "leader", "pgid", "sid", "parent"] as const) {
      procSet(mem, slot, f, procGet(mem, leader, f));
    }
  }
  // The child's pieces are ours alone until the slot is marked pending.
  const err = withNoKill(() => buildChild(t, req, slot, pid));
  if (err < 0) return err;
  t.host.ringDoorbell();
  if ((req.flags & CLONE_VFORK) !== 0) {
    const w = procWord(mem, t.slot, "vforkChild");
    while (Atomics.load(mem.k32, w) === slot) {
      // Killable, not interruptible, as Linux's wait_for_vfork_done.
      const r = sleepOnWord(mem, t.slot, w, slot, Infinity, true);
      if (r < 0) {
        // Leave the child running; just stop waiting for it.
        Atomics.compareExchange(mem.k32, w, slot, 0);
        return r;
      }
    }
  }
  return pid;
}

/** How long a fork waits for the Machine to retire exited processes' slots. */
const CLAIM_WAIT_MS = 2000;

/**
 * procClaim for a child of `t` whose parent slot is `parent`. When every
 * slot is taken but some only wait for the Machine to retire their
 * Workers (procRetiring: exited and reaped, which Linux would have freed
 * already), sleep until a slot is freed, killable and at most
 * CLAIM_WAIT_MS, and try again: a process that forks and reaps quickly
 * must not see EAGAIN because the Machine's event loop is behind.
 *
 * @returns the slot and pid, or -EAGAIN (every slot held by a live
 *   process or an unreaped zombie), -ERESTARTSYS (a fatal signal)
 */
function claimSlot(t: Task, parent: TaskSlot): { slot: TaskSlot; pid: number } | number {
  const mem = t.mem;
  const live = mem.layout.procs.base + PROCS_HDR.live;
  const deadline = performance.now() + CLAIM_WAIT_MS;
  for (;;) {
    const seen = Atomics.load(mem.k32, live);
    const claim = procClaim(mem, parent);
    if (claim !== -EAGAIN || procRetiring(mem) === 0) return claim;
    const r = sleepOnWord(mem, t.slot, live, seen, deadline, true);
    if (r === -ETIMEDOUT) return -EAGAIN;
    if (r < 0) return r;
  }
}

/**
 * Fill claimed slot `slot` with a child of `t` and mark it START_PENDING.
 * Entry: a no-kill region. On failure everything is given back.
 *
 * @returns 0 or -errno
 */
function buildChild(t: Task, req: CloneRequest, slot: TaskSlot, pid: number): number {
  const mem = t.mem;
  const tid = asTaskSlot(slot);
  taskInit(mem.k32, tid);
  switchMm(mem, tid, 0);
  enterIdle(mem, tid);
  const fail = (e: number, mm: MmId | 0): number => {
    if (mm !== 0) mmPut(mem, mm);
    taskExit(mem.k32, tid);
    procUnclaim(mem, slot);
    return e;
  };
  let mm: MmId;
  if ((req.flags & CLONE_VM) !== 0) {
    mmGet(mem, t.mm);
    mm = t.mm;
  } else {
    const dup = dupMm(mem, t.mm);
    if (isErr(dup)) return fail(dup, 0);
    mm = dup;
  }
  const fdTable = (req.flags & CLONE_FILES) !== 0 ? t.files.shareTable() : t.files.dupTable();
  if (fdTable < 0) return fail(fdTable, mm);
  procSet(mem, slot, "mm", mm);
  procSet(mem, slot, "fdTable", fdTable);
  // Dispositions copied (or shared), the blocked mask inherited, nothing pending.
  signalFork(mem, t.tid, slot, pid, {
    sighand: (req.flags & CLONE_SIGHAND) !== 0,
    thread: (req.flags & CLONE_THREAD) !== 0,
    vmNoVfork: (req.flags & (CLONE_VM | CLONE_VFORK)) === CLONE_VM,
  });
  // A thread is never its parent's child to wait for, and signals no one at exit.
  procSet(mem, slot, "childSig", (req.flags & CLONE_THREAD) !== 0 ? 0 : req.flags & CSIGNAL);
  if ((req.flags & CLONE_CHILD_CLEARTID) !== 0) procSet(mem, slot, "clearTid", req.ctid);
  writeFrame(t, slot, req);
  if ((req.flags & CLONE_PARENT_SETTID) !== 0) putTid(mem, t.mm, req.ptid, pid);
  if ((req.flags & CLONE_CHILD_SETTID) !== 0) putTid(mem, mm, req.ctid, pid);
  if ((req.flags & CLONE_VFORK) !== 0) procSet(mem, t.slot, "vforkChild", slot);
  tstatCommFork(mem, t.tid, tid, pid); // the live view names the child's program
  procSet(mem, slot, "start", START_PENDING);
  return 0;
}

/** The child's first registers: the parent's, returning 0 from clone, on its own stack and TLS if given. */
function writeFrame(t: Task, slot: TaskSlot, req: CloneRequest): void {
  const regs = t.sig.hart!;
  const mem = t.mem;
  const base = procWord(mem, slot, "frame");
  Atomics.store(mem.k32, base, regs.pc | 0);
  for (let r = 1; r < 32; r++) Atomics.store(mem.k32, base + r, regs.x[r]!);
  Atomics.store(mem.k32, base + REG_A0, 0);
  if (req.newsp !== 0) Atomics.store(mem.k32, base + REG_SP, req.newsp);
  if ((req.flags & CLONE_SETTLS) !== 0) Atomics.store(mem.k32, base + REG_TP, req.tls);
}

/** Ring the Machine's doorbell: a child is pending in some slot. Any thread. */
export function ringDoorbell(mem: Memory): void {
  const w = mem.layout.procs.base + PROCS_HDR.doorbell;
  Atomics.add(mem.k32, w, 1);
  Atomics.notify(mem.k32, w);
}

/** The pc and registers a cloned child starts with, read from its slot's frame. */
export function readFrame(mem: Memory, slot: TaskSlot): { pc: number; x: Int32Array } {
  const base = procWord(mem, slot, "frame");
  const x = new Int32Array(32);
  for (let r = 1; r < 32; r++) x[r] = Atomics.load(mem.k32, base + r);
  return { pc: Atomics.load(mem.k32, base) >>> 0, x };
}
