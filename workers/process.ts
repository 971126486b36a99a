/**
 * The process Worker: one Worker runs one process at a time (one hart).
 *
 * Protocol (structured-clone messages; all shared state is in the two
 * SharedArrayBuffers):
 *   main → worker  { t: "init", phys, kernel, jit, mount }  attach memory and the fs (phys is
 *                                                      the shared WebAssembly.Memory; jit the
 *                                                      translator's buffer, or null)
 *   worker → main  { t: "ready" } | { t: "fail", error } the fs could not be attached
 *   main → worker  { t: "run", start: ProcessStart }    run one process to completion
 *   worker → main  { t: "out", console, fd: 1 | 2, data, ticket }
 *                                                      output on a console stream the
 *                                                      Machine delivers itself, in order
 *   worker → main  { t: "strace", line, ticket }         a --strace line, in order with output
 *   worker → main  { t: "enosys", nr }                   a process called an unimplemented number
 *   worker → main  { t: "exit", result, ticket }         the process is a zombie
 * Each ticketed event carries a ticket taken when it happened
 * (PROCS_HDR.outSeq), by which the Machine orders the events of different
 * Workers (src/kernel/out_order.ts).
 * After "exit" the Worker may receive another "run" (the Machine keeps warm
 * Workers). Kill requests never arrive as messages: a running process does
 * not return to the event loop, so the Machine queues a signal in shared
 * memory instead (src/kernel/signal_send.ts), which the hart's poll notices.
 * Nor do fork requests: a process that clones leaves the child in shared
 * memory and rings the Machine's doorbell (src/kernel/fork.ts).
 *
 * @module
 */

import { PROCS_HDR } from "../src/abi/layout/mod.ts";
import { attachMemory, type Memory } from "../src/hw/memory.ts";
import { attachKernelFs, type FsMountOptions, type KernelFs } from "../src/kernel/fs_mount.ts";
import { setConsoleTransport } from "../src/kernel/console.ts";
import { ringDoorbell } from "../src/kernel/fork.ts";
import { type ProcessStart, runProcess } from "../src/kernel/proc_run.ts";
import { processJit } from "../src/kernel/proc_jit.ts";
import type { KernelLog } from "../src/kernel/task.ts";
import { exitWorker, setKillAction } from "../src/sync/current.ts";

// A killed task dies where it stands (src/sync/current.ts exitWorker) and the
// Machine recovers its locks and tears the process down.
setKillAction(exitWorker);

/** Messages the Machine sends. */
export type ToWorker =
  | {
    t: "init";
    phys: WebAssembly.Memory;
    kernel: SharedArrayBuffer;
    jit: WebAssembly.Memory | null;
    mount: FsMountOptions;
  }
  | { t: "run"; start: ProcessStart };

/** The Worker global, typed without the deno.worker lib. */
const port = self as unknown as {
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: unknown): void;
};

let mem: Memory | null = null;

/** A ticket for an event reported to the Machine (src/kernel/out_order.ts). */
const takeTicket = (m: Memory): number =>
  Atomics.add(m.k32, m.layout.procs.base + PROCS_HDR.outSeq, 1);
let fs: KernelFs | null = null;
/** Numbers already reported as unimplemented by this Worker (the Machine dedups across Workers). */
const enosysSent = new Set<number>();

port.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") {
    mem = attachMemory(m.phys, m.kernel, m.jit);
    // Attaching also registers this thread's file fault handlers (VMOPS_DAX,
    // VMOPS_FILEMAP) and truncate's unmap hook: see src/kernel/fs_mount.ts.
    const r = attachKernelFs(mem, m.mount);
    if ("error" in r) {
      port.postMessage({ t: "fail", error: r.error });
      return;
    }
    fs = r;
    // Console streams that do not go to the host's own fds reach the
    // Machine as messages, ordered with the exits by their tickets.
    const k = mem;
    setConsoleTransport({
      send(console, fd, data) {
        port.postMessage({ t: "out", console, fd, data, ticket: takeTicket(k) });
        return 0;
      },
    });
    // Tier 1's runtime (its state memory and dispatcher) is made now, while the Worker is only
    // warming, not in the first exec it runs.
    processJit(mem);
    port.postMessage({ t: "ready" });
    return;
  }
  if (fs === null) throw new Error("process worker: run before init");
  const mm = mem!;
  const klog: KernelLog = {
    strace: m.start.strace ?? false,
    trace: (line) => port.postMessage({ t: "strace", line, ticket: takeTicket(mm) }),
    enosys(nr) {
      if (enosysSent.has(nr)) return;
      enosysSent.add(nr);
      port.postMessage({ t: "enosys", nr });
    },
  };
  const result = runProcess(fs, m.start, {
    ringDoorbell() {
      ringDoorbell(mm);
    },
  }, klog);
  port.postMessage({ t: "exit", result, ticket: takeTicket(mm) });
};
