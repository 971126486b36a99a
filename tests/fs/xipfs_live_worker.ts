/**
 * Worker for xipfs_live_concurrent_test.ts (not a test): namespace and DAX
 * traffic from one Worker on a filesystem other Workers use at the same
 * time. Creates files in the shared directory and in its own, writes them,
 * renames half of them across directories, unlinks a quarter, and reports
 * the names it expects to survive with their sizes.
 */
import { asIno, asTaskSlot, type Ino } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { attachXipfs, type InodeRef, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { barrierWait, setCurrentTid, taskExit, taskInit } from "../../src/sync/mod.ts";

export interface NsJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  worker: number;
  files: number;
  shared: number;
  own: number;
  barrier: number;
  seed: number;
}

export interface NsReport {
  ok: boolean;
  error?: string;
  /** name -> size of the files that must exist at the end, per directory. */
  shared?: [string, number][];
  own?: [string, number][];
}

function must(fs: XipFs, ino: Ino | number, what: string): InodeRef {
  if (ino < 0) throw new Error(`${what}: ${ino}`);
  const r = fs.iget(asIno(ino));
  if (typeof r === "number") throw new Error(`iget ${what}: ${r}`);
  return r;
}

function run(j: NsJob): NsReport {
  try {
    const mem = attachMemory(j.phys, j.kernel);
    taskInit(mem.k32, asTaskSlot(j.tid));
    setCurrentTid(asTaskSlot(j.tid));
    const fs = attachXipfs(mem, new MemDevice(mem));
    if (!(fs instanceof XipFs)) throw new Error(fs.error);
    const shared = must(fs, j.shared, "shared");
    const own = must(fs, j.own, "own");
    if (!barrierWait(mem.k32, j.barrier, 20_000)) throw new Error("barrier timed out");
    const keepShared = new Map<string, number>();
    const keepOwn = new Map<string, number>();
    let s = j.seed >>> 0;
    const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < j.files; i++) {
      const name = `w${j.worker}-${i}`;
      const ip = must(fs, fs.create(shared, name, 0o644), `create ${name}`);
      const size = 1 + Math.floor(rand() * 5 * 4096);
      const data = new Uint8Array(size).fill((j.worker * 31 + i) & 0xff);
      if (fs.daxWrite(ip, Math.floor(rand() * 3) * 4096, data) !== size) throw new Error("write");
      const fsize = fs.getattr(ip).size;
      fs.iput(ip);
      const r = rand();
      if (r < 0.25) {
        const rc = fs.unlink(shared, name);
        if (rc !== 0) throw new Error(`unlink ${name}: ${rc}`);
      } else if (r < 0.65) {
        const rc = fs.rename(shared, name, own, `moved-${i}`);
        if (rc !== 0) throw new Error(`rename ${name}: ${rc}`);
        keepOwn.set(`moved-${i}`, fsize);
      } else {
        keepShared.set(name, fsize);
      }
    }
    fs.iput(shared);
    fs.iput(own);
    taskExit(mem.k32, asTaskSlot(j.tid));
    return { ok: true, shared: [...keepShared], own: [...keepOwn] };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.stack ?? err) };
  }
}

if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<NsJob>) => void) | null;
    postMessage(r: NsReport): void;
  };
  scope.onmessage = (e: MessageEvent<NsJob>) => scope.postMessage(run(e.data));
}
