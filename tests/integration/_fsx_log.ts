/**
 * Test helper (not a test): the LOG file of guest/bin/fsx.c and the lines
 * it prints. The format is documented at the top of fsx.c: record SEQ is 16
 * bytes at offset 16 * SEQ, four little-endian u32 words
 *   magic 0x4c585346, SEQ, SEQ * 2654435761 mod 2^32, FNV-1a 32 of bytes 0..11.
 * fsx appends one after every 8th op, fsyncs the LOG and only then prints
 * `durable SEQ`: records 0..SEQ must survive anything that happens later.
 *
 * @module
 */

import { O_RDONLY } from "../../src/abi/fcntl.ts";
import { vfsFstat, vfsPread, vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import type { Machine } from "../../src/kernel/machine.ts";

/** Bytes of one LOG record. */
export const FSX_LOG_RECORD = 16;
/** fsx appends a record after every this many ops. */
export const FSX_LOG_EVERY = 8;
const MAGIC = 0x4c585346;

function fnv1a(bytes: Uint8Array): number {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** What verifyFsxLog found. */
export interface FsxLogCheck {
  /** Valid records at the start of the log, with sequence numbers 0, 1, 2, ... */
  records: number;
  /**
   * Set when anything follows those records: a damaged or out-of-order
   * record, or a torn tail. After a clean run there is none; after a kill
   * the caller decides whether a problem past the last durable record matters.
   */
  problem?: string;
}

/** Parse and check a whole LOG file. */
export function verifyFsxLog(bytes: Uint8Array): FsxLogCheck {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let seq = 0;
  for (; (seq + 1) * FSX_LOG_RECORD <= bytes.length; seq++) {
    const at = seq * FSX_LOG_RECORD;
    const word = (i: number) => dv.getUint32(at + 4 * i, true);
    const bad = word(0) !== MAGIC
      ? `bad magic 0x${word(0).toString(16)}`
      : word(1) !== seq
      ? `sequence ${word(1)} where ${seq} belongs`
      : word(2) !== Math.imul(seq, 2654435761) >>> 0
      ? "bad sequence check word"
      : word(3) !== fnv1a(bytes.subarray(at, at + 12))
      ? "bad checksum"
      : null;
    if (bad !== null) return { records: seq, problem: `record ${seq} at byte ${at}: ${bad}` };
  }
  const tail = bytes.length - seq * FSX_LOG_RECORD;
  return tail === 0 ? { records: seq } : {
    records: seq,
    problem: `${tail} bytes of a torn record after record ${seq - 1}`,
  };
}

/** The highest SEQ of the `durable SEQ` lines fsx printed, or -1 when none. */
export function lastDurable(stdout: string): number {
  let last = -1;
  for (const m of stdout.matchAll(/^durable (\d+)$/gm)) last = Math.max(last, Number(m[1]));
  return last;
}

/** Records a complete run of `ops` ops leaves in its LOG. */
export const fsxLogRecords = (ops: number): number => Math.floor(ops / FSX_LOG_EVERY);

/**
 * The bytes of `path` in a Machine's file system, read on the main thread
 * through the VFS (so page-cache data not yet written back counts too).
 * Call it when no process is running.
 *
 * @throws Error when the file cannot be opened or read
 */
export function readGuestFile(m: Machine, path: string): Uint8Array {
  const proc = vfsProcCreate(m.fs.vfs);
  if (typeof proc === "number") throw new Error(`vfsProcCreate: ${proc}`);
  try {
    const fd = vfsOpen(proc, path, O_RDONLY);
    if (fd < 0) throw new Error(`open ${path}: ${fd}`);
    const st = vfsFstat(proc, fd);
    if (typeof st === "number") throw new Error(`fstat ${path}: ${st}`);
    const buf = new Uint8Array(st.size);
    const n = vfsPread(proc, fd, buf, 0);
    if (n !== st.size) throw new Error(`pread ${path}: ${n} of ${st.size}`);
    return buf;
  } finally {
    vfsProcExit(m.fs.vfs, proc.fdt);
  }
}
