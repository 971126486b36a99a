/**
 * Worker for getblock_concurrent_test.ts (not a test): attach to the
 * mounted xipfs, then for each round wait at the barrier and getBlock(create)
 * the round's holes in the given order, checking that each new block is
 * zero outside the marker area and stamping this worker's marker in it.
 */
import { asIno, asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { attachXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { barrierWait, setCurrentTid, taskExit, taskInit } from "../../src/sync/mod.ts";

/** Bytes at the start of each block where workers put their markers (word w = worker w). */
export const MARK_BYTES = 64;
/** Marker of worker w in a block: distinct from 0 and from the fill pattern. */
export const marker = (w: number, b: number): number => (0x5a000000 | (w << 20) | b) >>> 0;

export interface GbJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  worker: number;
  ino: number;
  /** Per round: the iblocks to fill, in this worker's order. */
  rounds: number[][];
  /** Scratch word index of the barrier. */
  barrier: number;
}

export interface GbReport {
  ok: boolean;
  error?: string;
  /** Per round, per iblock (in the round's given order): the block getBlock returned. */
  blocks?: number[][];
}

function run(j: GbJob): GbReport {
  try {
    const mem = attachMemory(j.phys, j.kernel);
    taskInit(mem.k32, asTaskSlot(j.tid));
    setCurrentTid(asTaskSlot(j.tid));
    const dev = new MemDevice(mem);
    const fs = attachXipfs(mem, dev);
    if (!(fs instanceof XipFs)) throw new Error(fs.error);
    const ip = fs.iget(asIno(j.ino));
    if (typeof ip === "number") throw new Error(`iget ${ip}`);
    const words = new Int32Array(dev.bytes.buffer, dev.bytes.byteOffset, dev.bytes.length / 4);
    const blocks: number[][] = [];
    for (const round of j.rounds) {
      if (!barrierWait(mem.k32, j.barrier, 20_000)) throw new Error("barrier timed out");
      const got: number[] = [];
      for (const ib of round) {
        const b = fs.getBlock(ip, ib, true);
        if (b <= 0) throw new Error(`getBlock(${ib}) = ${b}`);
        const base = b * PAGE_SIZE;
        for (let i = MARK_BYTES; i < PAGE_SIZE; i++) {
          if (dev.bytes[base + i] !== 0) {
            throw new Error(
              `block ${b} (iblock ${ib}) byte ${i} is ${dev.bytes[base + i]}, not zero`,
            );
          }
        }
        Atomics.store(words, base / 4 + j.worker, marker(j.worker, b));
        got.push(b);
      }
      blocks.push(got);
    }
    fs.iput(ip);
    fs.detach();
    taskExit(mem.k32, asTaskSlot(j.tid));
    return { ok: true, blocks };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.stack ?? err) };
  }
}

if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<GbJob>) => void) | null;
    postMessage(r: GbReport): void;
  };
  scope.onmessage = (e: MessageEvent<GbJob>) => scope.postMessage(run(e.data));
}
