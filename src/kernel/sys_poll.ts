/**
 * ppoll_time64(2) (riscv32 has no poll, ppoll or select; musl builds them
 * on this), Linux's do_sys_poll and poll_select_finish.
 *
 * Waiting on many files at once: every file type whose readiness changes
 * bumps one machine-wide word, the poll word (SOCKHDR.pollEvent; sockets
 * bump it with each of their own wakes, other drivers call pollWake), and
 * a poller sleeps on it. The poller reads the word before it asks its
 * files, so a change that lands between the scan and the sleep makes the
 * sleep return at once. Every poller looks again at every change anywhere
 * (a thundering herd, cheap at xip's scale), and at least every
 * POLL_SLICE_MS, for files whose driver does not bump the word yet.
 *
 * @module
 */

import { EFAULT, EINTR, EINVAL } from "../abi/errno.ts";
import { FDT_FDS, ICACHE_SLOTS } from "../abi/layout/mod.ts";
import { ipcParts, SOCKHDR } from "../abi/layout/ipc.ts";
import { POLLERR, POLLFD, POLLFD_BYTES, POLLHUP, POLLNVAL } from "../abi/poll.ts";
import { ERESTARTNOHAND, getSigset, type SigSet, SIGSET_SIZE } from "../abi/signal.ts";
import * as nr from "../abi/syscall_nr.ts";
import type { Memory } from "../hw/memory.ts";
import { signalSleep } from "./signal_task.ts";
import { readTimespec } from "./sys_proc.ts";
import { taskBlocked } from "./signal_state.ts";
import { setCurrentBlocked } from "./sys_signal.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { putU64, userRead, userWrite } from "./uaccess_task.ts";

/** Longest sleep between two looks at the files, for drivers that never bump the poll word. */
export const POLL_SLICE_MS = 10;

/** Word index of the poll word in mem.k32. */
export function pollWord(mem: Memory): number {
  return mem.layout.ipc.base + ipcParts(mem.layout.config, ICACHE_SLOTS).sock + SOCKHDR.pollEvent;
}

/**
 * A file's readiness changed: wake every poller to look again (Linux's
 * wake_up on a file's wait queue, for all files at once). Any thread, any
 * locks held (it only bumps and notifies a word).
 */
export function pollWake(mem: Memory): void {
  const w = pollWord(mem);
  Atomics.add(mem.k32, w, 1);
  Atomics.notify(mem.k32, w);
}

/**
 * Ask each pollfd's file for its events, filling revents (the events
 * asked for, plus POLLERR, POLLHUP and POLLNVAL always; 0 for a negative
 * fd). Returns how many have any.
 */
function scan(t: Task, dv: DataView, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const at = i * POLLFD_BYTES;
    const fd = dv.getInt32(at + POLLFD.fd, true);
    let rev = 0;
    if (fd >= 0) {
      const want = dv.getUint16(at + POLLFD.events, true) | POLLERR | POLLHUP | POLLNVAL;
      rev = t.files.poll(fd) & want;
    }
    dv.setUint16(at + POLLFD.revents, rev, true);
    if (rev !== 0) count++;
  }
  return count;
}

/**
 * ppoll_time64(fds, nfds, tmo, sigmask, sigsetsize): wait until one of
 * `nfds` files has an event it asks for, the timeout (a relative
 * timespec; NULL: none) passes, or a signal comes. With `sigmask`, that is
 * the blocked mask while it waits (put back at once, or after the handler
 * when a signal ends the wait). The revents are written back in every
 * case, and a non-zero timeout is updated to the time left, as Linux does.
 * Entry: no lock held; killable while it sleeps.
 *
 * @returns the number of files with events (0: timed out), or -EINVAL
 *   (nfds over the fd table, a bad timeout or sigsetsize), -EFAULT,
 *   -ERESTARTNOHAND (a signal: EINTR once a handler runs)
 */
export function sysPpollTime64(
  t: Task,
  fds: number,
  nfds: number,
  tmo: number,
  sigmask: number,
  sigsetsize: number,
): number {
  const n = nfds >>> 0;
  if (n > FDT_FDS) return -EINVAL;
  let deadline = Infinity, update = false;
  if (tmo !== 0) {
    const ms = readTimespec(t, tmo);
    if (ms < 0) return ms;
    deadline = performance.now() + ms;
    update = ms > 0; // no update for a zero timeout
  }
  const raw = n === 0 ? new Uint8Array(0) : userRead(t, fds, n * POLLFD_BYTES);
  if (typeof raw === "number") return raw;
  let saved: SigSet | null = null;
  if (sigmask !== 0) {
    if (sigsetsize !== SIGSET_SIZE) return -EINVAL;
    const b = userRead(t, sigmask, SIGSET_SIZE);
    if (typeof b === "number") return b;
    saved = taskBlocked(t.mem, t.tid);
    setCurrentBlocked(t, getSigset(new DataView(b.buffer), 0));
  }
  let ret = pollWait(t, new DataView(raw.buffer), n, deadline);
  // poll_select_finish: the old mask back now, unless a handler is to run under the new one.
  if (saved !== null) {
    if (ret === -ERESTARTNOHAND) {
      t.sig.savedSigmask = saved;
      t.sig.restoreSigmask = true;
    } else setCurrentBlocked(t, saved);
  }
  if (n > 0 && userWrite(t, fds, raw) < 0) return -EFAULT;
  if (update) {
    const left = Math.max(0, deadline - performance.now());
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    putU64(dv, 0, Math.floor(left / 1000));
    putU64(dv, 8, Math.floor((left % 1000) * 1e6));
    // A timeout in read-only memory keeps its value; then the call cannot be restarted.
    if (userWrite(t, tmo, b) < 0 && ret === -ERESTARTNOHAND) ret = -EINTR;
  }
  return ret;
}

/**
 * do_poll: scan, and sleep on the poll word until something is ready, the
 * deadline passes (then scan once more) or a signal is pending. A zero
 * timeout scans once, but a pending signal still wins, as in Linux.
 */
function pollWait(t: Task, dv: DataView, n: number, deadline: number): number {
  const k = t.mem.k32;
  const w = pollWord(t.mem);
  for (let timedOut = false;;) {
    const seen = Atomics.load(k, w);
    const count = scan(t, dv, n);
    if (count === 0 && t.sig.pending()) return -ERESTARTNOHAND;
    if (count > 0 || timedOut) return count;
    const left = deadline - performance.now();
    if (left <= 0) {
      timedOut = true;
      continue;
    }
    signalSleep(t.sig, k, w, seen, Math.min(left, POLL_SLICE_MS));
  }
}

export const POLL_SYSCALLS: readonly SyscallDef[] = [
  // A poller sleeps holding nothing: a hard kill may end it anywhere.
  defineSyscall(
    nr.SYS_ppoll_time64,
    "ppoll_time64",
    ["ptr", "uint", "ptr", "ptr", "size"],
    sysPpollTime64,
    { killable: true },
  ),
];
