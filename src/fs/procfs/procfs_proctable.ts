/**
 * procfs's view of the shared process table (region `procs`,
 * src/abi/layout/mod.ts, kept by src/kernel/proc.ts). src/fs sits below
 * src/kernel, so the records are read here straight from the layout with
 * Atomics, never through the kernel's accessors.
 *
 * A process is shown from the slot's claim (PROC_RUNNING) until it is
 * reaped: a zombie keeps its /proc/PID directory, with empty maps once its
 * mm is released, as in Linux. /proc lists thread-group leaders; every
 * thread has a /proc/TID directory of its own all the same, reached by
 * name, and is listed in its process's /proc/PID/task.
 *
 * @module
 */

import { PROC, PROC_FREE, PROC_REAPED, procBase } from "../../abi/layout/mod.ts";
import type { Memory } from "../../hw/memory.ts";
import type { ProcInfo } from "./procfs.ts";
import { asMmId, type MmId } from "../../abi/types.ts";

/** A live record of the table: its pid (a thread's tid), thread group and mm slot (0: none). */
interface ProcRecord {
  pid: number;
  tgid: number;
  mm: MmId;
}

/** Every claimed record, in slot order. Any thread; no lock (each word is atomic). */
function records(mem: Memory): ProcRecord[] {
  const out: ProcRecord[] = [];
  const k = mem.k32;
  for (let slot = 1; slot < mem.layout.config.maxTasks; slot++) {
    const b = procBase(mem.layout, slot);
    const st = Atomics.load(k, b + PROC.state);
    if (st === PROC_FREE || st === PROC_REAPED) continue;
    const pid = Atomics.load(k, b + PROC.pid);
    const tgid = Atomics.load(k, b + PROC.tgid) || pid;
    if (pid > 0) out.push({ pid, tgid, mm: asMmId(Atomics.load(k, b + PROC.mm)) });
  }
  return out;
}

/**
 * A ProcInfo over the process table of `mem`. `selfPid` tells which
 * process the calling thread runs (a Worker: its task's pid; the Machine's
 * main thread: 0).
 */
export function procTableInfo(mem: Memory, selfPid: () => number): ProcInfo {
  return {
    lookupPid(pid: number): { mm: MmId } | null {
      const r = records(mem).find((p) => p.pid === pid);
      return r === undefined ? null : { mm: r.mm };
    },
    selfPid,
    pids(): number[] {
      return records(mem).filter((p) => p.pid === p.tgid).map((p) => p.pid).sort((a, b) => a - b);
    },
    threads(pid: number): number[] {
      return records(mem).filter((p) => p.tgid === pid).map((p) => p.pid).sort((a, b) => a - b);
    },
  };
}
