/**
 * Worker for pipe_test.ts: one end of a pipe, driven as task `tid`. A
 * writer writes `records` records of `recordSize` bytes (each filled with
 * its own byte `fill`, or the running pattern when fill is 0) in chunks of
 * seeded random sizes, then closes its end. A reader reads in random-sized
 * chunks until EOF, then closes its end, and reports what it saw.
 */
/// <reference lib="deno.worker" />

import { asTaskSlot } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { pipePut, pipeRead, pipeWrite } from "../../src/kernel/pipe.ts";
import { setCurrentTid, taskExit, taskInit } from "../../src/sync/mod.ts";
import { rng } from "../mm/_mm_helpers.ts";

export interface PipeJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  id: number;
  role: "read" | "write";
  seed: number;
  records: number;
  recordSize: number;
  fill: number;
  chunkMax: number;
}

export interface PipeReport {
  error?: string;
  bytes: number;
  /** Reader: bytes of each fill value seen in whole records (index = fill). */
  perFill: number[];
  /** Reader: records that mixed two fills (a torn atomic write). */
  torn: number;
  /** Reader: whether a pattern stream matched byte for byte. */
  patternOk: boolean;
}

/** The pattern byte at stream offset `i`. */
export const patternByte = (i: number): number => (i * 7 + (i >>> 9)) & 0xff;

self.onmessage = (ev: MessageEvent<PipeJob>) => {
  const j = ev.data;
  const mem = attachMemory(j.phys, j.kernel);
  const tid = asTaskSlot(j.tid);
  taskInit(mem.k32, tid);
  setCurrentTid(tid);
  const rand = rng(j.seed);
  const report: PipeReport = {
    bytes: 0,
    perFill: new Array(256).fill(0),
    torn: 0,
    patternOk: true,
  };
  try {
    if (j.role === "write") {
      const total = j.records * j.recordSize;
      const buf = new Uint8Array(j.recordSize);
      for (let rec = 0; rec < j.records; rec++) {
        for (let k = 0; k < j.recordSize; k++) {
          buf[k] = j.fill !== 0 ? j.fill : patternByte(rec * j.recordSize + k);
        }
        // A record goes in one write when it is atomic; otherwise in random chunks.
        for (let off = 0; off < j.recordSize;) {
          const n = j.fill !== 0 ? j.recordSize : Math.max(1, Math.floor(rand() * j.chunkMax));
          const w = pipeWrite(mem, tid, j.id, buf.subarray(off, off + n), false);
          if (w <= 0) throw new Error(`write returned ${w} at ${report.bytes} of ${total}`);
          off += w;
          report.bytes += w;
        }
      }
      pipePut(mem, j.id, "write");
    } else {
      let record = new Uint8Array(j.recordSize), inRecord = 0;
      for (;;) {
        const dst = new Uint8Array(Math.max(1, Math.floor(rand() * j.chunkMax)));
        const n = pipeRead(mem, tid, j.id, dst, false);
        if (n < 0) throw new Error(`read returned ${n}`);
        if (n === 0) break;
        for (let k = 0; k < n; k++) {
          const b = dst[k]!;
          if (j.fill === 0 && b !== patternByte(report.bytes + k)) report.patternOk = false;
          record[inRecord++] = b;
          if (inRecord === j.recordSize) {
            const first = record[0]!;
            if (record.some((x) => x !== first)) report.torn++;
            else report.perFill[first]! += j.recordSize;
            record = new Uint8Array(j.recordSize);
            inRecord = 0;
          }
        }
        report.bytes += n;
      }
      pipePut(mem, j.id, "read");
    }
    taskExit(mem.k32, tid);
  } catch (e) {
    report.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  self.postMessage(report);
};
