/**
 * The process Worker: one Worker runs one process at a time (one hart).
 *
 * Protocol (structured-clone messages; all shared state is in the two
 * SharedArrayBuffers):
 *   main → worker  { t: "init", phys, kernel, mount }   attach memory and the fs
 *   worker → main  { t: "ready" } | { t: "fail", error } the fs could not be attached
 *   main → worker  { t: "run", start: ProcessStart }    run one process to completion
 *   worker → main  { t: "out", console, fd: 1 | 2, data } console output for a stream the
 *                                                      Machine delivers itself, in order
 *   worker → main  { t: "exit", result: ProcessResult }  the process is a zombie
 * After "exit" the Worker may receive another "run" (the Machine keeps warm
 * Workers). Kill requests never arrive as messages: a running process does
 * not return to the event loop, so the Machine sets PROC.sigPending instead.
 *
 * @module
 */

import { attachMemory, type Memory } from "../src/hw/memory.ts";
import { attachKernelFs, type FsMountOptions, type KernelFs } from "../src/kernel/fs_mount.ts";
import { setConsoleTransport } from "../src/kernel/console.ts";
import { type ProcessStart, runProcess } from "../src/kernel/proc_run.ts";
import { exitWorker, setKillAction } from "../src/sync/task.ts";

// A killed task dies where it stands (src/sync/task.ts exitWorker) and the
// Machine recovers its locks and tears the process down.
setKillAction(exitWorker);

/** Messages the Machine sends. */
export type ToWorker =
  | { t: "init"; phys: SharedArrayBuffer; kernel: SharedArrayBuffer; mount: FsMountOptions }
  | { t: "run"; start: ProcessStart };

/** The Worker global, typed without the deno.worker lib. */
const port = self as unknown as {
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: unknown): void;
};

// Console streams that do not go to the host's own fds reach the Machine
// as messages, in order with the exit report that follows them.
setConsoleTransport({
  send(console, fd, data) {
    port.postMessage({ t: "out", console, fd, data });
    return 0;
  },
});

let mem: Memory | null = null;
let fs: KernelFs | null = null;

port.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") {
    mem = attachMemory(m.phys, m.kernel);
    // Attaching also registers this thread's file fault handlers (VMOPS_DAX,
    // VMOPS_FILEMAP) and truncate's unmap hook: see src/kernel/fs_mount.ts.
    const r = attachKernelFs(mem, m.mount);
    if ("error" in r) {
      port.postMessage({ t: "fail", error: r.error });
      return;
    }
    fs = r;
    port.postMessage({ t: "ready" });
    return;
  }
  if (fs === null) throw new Error("process worker: run before init");
  const result = runProcess(fs, m.start);
  port.postMessage({ t: "exit", result });
};
