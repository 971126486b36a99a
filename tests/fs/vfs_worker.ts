/**
 * Worker for vfs_concurrent_test.ts (not a test): one process. Attach to
 * the mounted xipfs, make an fd table, then (barrier between phases):
 *   1. write records to its own file and read them back;
 *   2. pwrite its stripes of the shared file (records of different
 *      Workers share pages), reading its stripes back;
 *   3. optionally append tagged records to the shared append file.
 */
import { O_APPEND, O_RDWR, O_WRONLY } from "../../src/abi/fcntl.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { attachXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { XipVfs } from "../../src/fs/xipfs/vfs_xipfs.ts";
import {
  vfsClose,
  vfsPread,
  vfsProcCreate,
  vfsProcExit,
  vfsPwrite,
  vfsWrite,
} from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { barrierWait, setCurrentTid, taskExit, taskInit } from "../../src/sync/mod.ts";

export interface VfsJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  worker: number;
  workers: number;
  seed: number;
  /** Records per phase. */
  records: number;
  /** Bytes per record in phases 1 and 2. */
  recBytes: number;
  /** Bytes per appended record (0: skip phase 3). */
  appendBytes: number;
  /** Scratch word index of the barrier. */
  barrier: number;
}

export interface VfsReport {
  ok: boolean;
  error?: string;
}

/** The bytes of record `i` of worker `w`: deterministic from the seed, first byte = w. */
export function record(seed: number, w: number, i: number, n: number): Uint8Array {
  let x = (seed ^ (w * 0x9e3779b1) ^ (i * 0x85ebca6b)) >>> 0;
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[k] = x >>> 24;
  }
  out[0] = w;
  return out;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

function run(j: VfsJob): VfsReport {
  const mem = attachMemory(j.phys, j.kernel);
  taskInit(mem.k32, asTaskSlot(j.tid));
  setCurrentTid(asTaskSlot(j.tid));
  try {
    const x = attachXipfs(mem, new MemDevice(mem));
    if (!(x instanceof XipFs)) throw new Error(x.error);
    const fs = new XipVfs(x);
    const proc = vfsProcCreate(fs);
    if (typeof proc === "number") throw new Error(`vfsProcCreate ${proc}`);
    const wait = (what: string) =>
      check(barrierWait(mem.k32, j.barrier, 20_000), `barrier ${what}`);
    const R = j.recBytes;

    wait("start");
    const own = vfsOpen(proc, `/own${j.worker}`, O_RDWR);
    check(own >= 0, `open own ${own}`);
    for (let i = 0; i < j.records; i++) {
      const n = vfsWrite(proc, own, record(j.seed, j.worker, i, R));
      check(n === R, `own write ${i}: ${n}`);
    }
    for (let i = 0; i < j.records; i++) {
      const buf = new Uint8Array(R);
      check(vfsPread(proc, own, buf, i * R) === R, `own pread ${i}`);
      check(eq(buf, record(j.seed, j.worker, i, R)), `own record ${i} differs`);
    }

    wait("shared");
    const sh = vfsOpen(proc, "/shared", O_RDWR);
    check(sh >= 0, `open shared ${sh}`);
    for (let i = 0; i < j.records; i++) {
      const at = (i * j.workers + j.worker) * R;
      const n = vfsPwrite(proc, sh, record(j.seed, j.worker, i, R), at);
      check(n === R, `shared pwrite ${i}: ${n}`);
      const buf = new Uint8Array(R);
      check(vfsPread(proc, sh, buf, at) === R, `shared pread ${i}`);
      check(
        eq(buf, record(j.seed, j.worker, i, R)),
        `shared record ${i} differs right after writing`,
      );
    }

    if (j.appendBytes > 0) {
      wait("append");
      const ap = vfsOpen(proc, "/append", O_WRONLY | O_APPEND);
      check(ap >= 0, `open append ${ap}`);
      for (let i = 0; i < j.records; i++) {
        const n = vfsWrite(proc, ap, record(j.seed, j.worker, i, j.appendBytes));
        check(n === j.appendBytes, `append ${i}: ${n}`);
      }
      check(vfsClose(proc, ap) === 0, "close append");
    }
    check(vfsClose(proc, own) === 0 && vfsClose(proc, sh) === 0, "close");
    check(vfsProcExit(fs, proc.fdt) === 0, "vfsProcExit");
    x.detach();
    taskExit(mem.k32, asTaskSlot(j.tid));
    return { ok: true };
  } catch (err) {
    return { ok: false, error: `worker ${j.worker}: ${String((err as Error)?.stack ?? err)}` };
  }
}

if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<VfsJob>) => void) | null;
    postMessage(r: VfsReport): void;
  };
  scope.onmessage = (e) => scope.postMessage(run(e.data));
}
