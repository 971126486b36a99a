/**
 * Crash consistency in the manner of xfstests' dm-log-writes (generic/482),
 * as a library any test can drive with its own guests and its own oracle.
 *
 * Record. `startRecording(imagePath)` copies the image as it is (the state
 * a crash before the first write leaves) and names a log file; boot the
 * Machine with `imageLog: rec.logPath`, and every pwrite and fdatasync any
 * of its threads makes on the image file is appended to the log, in the
 * order the image saw them (src/hw/image_file.ts; all in-place writes of a
 * memory device run under SB_INFO.syncLock, so the order is one order). The
 * test appends its own marks with `rec.mark(label)` when it learns that
 * something is durable (fsx prints "durable SEQ" after its fsync returned):
 * a mark comes after the flush that made its claim true.
 *
 * Replay. A crash point keeps a prefix of the log: every write before the
 * last flush in the prefix (a flush makes what came before it durable),
 * and of the writes after that flush either all (a clean cut between two
 * records) or a seeded subset (torn order: the device had written some of
 * them, in any order, when the power went). Multi-block writes are split
 * into 4 KiB blocks, each its own record, so a cut or a tear can fall
 * inside one pwrite; a 4 KiB block is written whole (the host's page).
 *
 * Check. For each crash point `checkCrashPoints` replays the image, runs
 * `fsck -y` (fsckRepair), requires a second check to be clean and the
 * image to mount, then asks the oracle, with the marks made before the
 * cut, what is missing. A point fsck cannot bring to clean (or that does
 * not mount) counts as unrepairable, one whose oracle complains as lost.
 *
 * @module
 */

import { asTaskSlot, PAGE_SIZE } from "../../src/abi/types.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { fsckRepair } from "../../src/fs/xipfs/fsck_repair.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { MemDevice } from "../../src/hw/device.ts";
import {
  appendLogRecord,
  LOG_FLUSH,
  LOG_HEADER,
  LOG_MARK,
  LOG_WRITE,
} from "../../src/hw/image_file.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";

/** One record of the log. */
export type LogRecord =
  | { kind: "write"; off: number; data: Uint8Array }
  | { kind: "flush" }
  | { kind: "mark"; label: string };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A recording in progress. */
export interface Recording {
  /** The image as it was before the Machine wrote anything. */
  readonly base: Uint8Array;
  /** Pass as BootOptions.imageLog. */
  readonly logPath: string;
  /** Append a mark (main thread; atomic with the Machine's appends). */
  mark(label: string): void;
  /** The log so far, multi-block writes split into blocks. */
  read(): LogRecord[];
  /** Remove the log file. */
  remove(): void;
}

/** Start recording the writes a Machine will make on the image file at `imagePath`. */
export function startRecording(imagePath: string, logPath = `${imagePath}.log`): Recording {
  const base = Deno.readFileSync(imagePath);
  Deno.writeFileSync(logPath, new Uint8Array(0));
  const markFile = Deno.openSync(logPath, { append: true });
  return {
    base,
    logPath,
    mark(label) {
      appendLogRecord(markFile, LOG_MARK, 0, enc.encode(label));
    },
    read: () => parseLog(Deno.readFileSync(logPath)),
    remove() {
      markFile.close();
      try {
        Deno.removeSync(logPath);
      } catch { /* already gone */ }
    },
  };
}

/** Parse a log file (see src/hw/image_file.ts for the record format). */
export function parseLog(bytes: Uint8Array): LogRecord[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: LogRecord[] = [];
  for (let at = 0; at + LOG_HEADER <= bytes.length;) {
    const kind = dv.getUint32(at, true), len = dv.getUint32(at + 4, true);
    const off = dv.getFloat64(at + 8, true);
    const data = bytes.subarray(at + LOG_HEADER, at + LOG_HEADER + len);
    if (data.length < len) throw new Error(`log: record at ${at} is cut short`);
    at += LOG_HEADER + len;
    if (kind === LOG_FLUSH) out.push({ kind: "flush" });
    else if (kind === LOG_MARK) out.push({ kind: "mark", label: dec.decode(data) });
    else if (kind === LOG_WRITE) {
      // Each 4 KiB block of a write is its own record: a crash may land inside a pwrite.
      for (let b = 0; b < len; b += PAGE_SIZE) {
        out.push({
          kind: "write",
          off: off + b,
          data: data.slice(b, Math.min(len, b + PAGE_SIZE)),
        });
      }
    } else throw new Error(`log: unknown record kind ${kind} at ${at}`);
  }
  return out;
}

/** Where a crash happens: the log prefix [0, cut), and for a torn point which writes since the last flush landed. */
export interface CrashPoint {
  cut: number;
  /** Indexes of the writes after the last flush before `cut` that reached the device; absent: all. */
  kept?: Set<number>;
}

/** Index just past the last flush before `cut` (0 when none). */
function lastFlush(records: LogRecord[], cut: number): number {
  for (let i = cut - 1; i >= 0; i--) if (records[i]!.kind === "flush") return i + 1;
  return 0;
}

/** The image a crash at `p` leaves: `base` with the writes of the point applied in log order. */
export function replay(base: Uint8Array, records: LogRecord[], p: CrashPoint): Uint8Array {
  const img = base.slice();
  const durable = lastFlush(records, p.cut);
  for (let i = 0; i < p.cut; i++) {
    const r = records[i]!;
    if (r.kind !== "write") continue;
    if (i >= durable && p.kept !== undefined && !p.kept.has(i)) continue;
    img.set(r.data, r.off);
  }
  return img;
}

/** A small seeded generator (xorshift32). */
export function rand32(seed: number): () => number {
  let x = (seed >>> 0) || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/**
 * The crash points to try: right after every flush (and the very end), plus
 * `torn` seeded points cut between two records, each keeping a random
 * subset of the writes since the last flush.
 */
export function crashPoints(records: LogRecord[], torn: number, seed: number): CrashPoint[] {
  const points: CrashPoint[] = [{ cut: 0 }];
  records.forEach((r, i) => {
    if (r.kind === "flush") points.push({ cut: i + 1 });
  });
  points.push({ cut: records.length });
  const rnd = rand32(seed);
  const writes = records.map((r, i) => (r.kind === "write" ? i : -1)).filter((i) => i >= 0);
  for (let k = 0; k < torn && writes.length > 0; k++) {
    const cut = writes[Math.floor(rnd() * writes.length)]! + 1;
    const from = lastFlush(records, cut);
    const kept = new Set<number>();
    for (let i = from; i < cut; i++) if (records[i]!.kind === "write" && rnd() < 0.5) kept.add(i);
    points.push({ cut, kept });
  }
  return points;
}

/** The marks made before `cut`. */
export const marksBefore = (records: LogRecord[], cut: number): string[] =>
  records.slice(0, cut).flatMap((r) => (r.kind === "mark" ? [r.label] : []));

/** What the crash points showed. */
export interface CrashReport {
  /** Crash points tried: at flushes, and torn. */
  flushPoints: number;
  tornPoints: number;
  /** Points where the oracle found durable data missing. */
  lost: number;
  /** Points fsck -y could not bring to clean, or whose image did not mount. */
  unrepairable: number;
  /** Points whose image needed repairs (fsck -y exit 1). */
  repaired: number;
  /** One line per problem (the first few of each point). */
  problems: string[];
}

/**
 * Says what is missing from a repaired image, given the marks made before
 * the crash (empty: nothing missing).
 */
export type CrashOracle = (image: Uint8Array, marks: string[]) => string[];

/** Whether `image` mounts (and unmounts) on a fresh memory. */
function mounts(image: Uint8Array): string | null {
  const mem = createMemory({
    ramFrames: 128,
    deviceFrames: image.length / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image: image.slice() });
  if (mmBoot(mem) !== 0) return "mmBoot failed";
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const x = mountXipfs(mem, new MemDevice(mem), { dax: "always" });
  if (!(x instanceof XipFs)) return x.error;
  const rc = x.unmount();
  return rc < 0 ? `unmount: ${rc}` : null;
}

/** Replay and check every point (see the module comment). */
export function checkCrashPoints(
  base: Uint8Array,
  records: LogRecord[],
  points: CrashPoint[],
  oracle: CrashOracle,
): CrashReport {
  const report: CrashReport = {
    flushPoints: 0,
    tornPoints: 0,
    lost: 0,
    unrepairable: 0,
    repaired: 0,
    problems: [],
  };
  for (const p of points) {
    if (p.kept === undefined) report.flushPoints++;
    else report.tornPoints++;
    const where = `crash at record ${p.cut}/${records.length}${
      p.kept ? ` (torn, ${p.kept.size} kept)` : ""
    }`;
    const img = replay(base, records, p);
    const rep = fsckRepair(img, "yes");
    if (rep.status === 1) report.repaired++;
    const after = fsck(img, { state: true });
    const mountErr = after.status === 0 ? mounts(img) : null;
    if (rep.status > 1 || after.status !== 0 || mountErr !== null) {
      report.unrepairable++;
      report.problems.push(
        `${where}: fsck -y status ${rep.status}, then ${after.status}: ${
          [...rep.errors, ...after.errors].slice(0, 2).join("; ")
        }${mountErr !== null ? `; mount: ${mountErr}` : ""}`,
      );
      continue;
    }
    const missing = oracle(img, marksBefore(records, p.cut));
    if (missing.length > 0) {
      report.lost++;
      for (const m of missing.slice(0, 3)) report.problems.push(`${where}: ${m}`);
    }
  }
  return report;
}

/** One line with the figures. */
export const formatCrash = (r: CrashReport): string =>
  `crash points: ${
    r.flushPoints + r.tornPoints
  } (${r.flushPoints} at flushes, ${r.tornPoints} torn), ` +
  `${r.repaired} needed repair, lost ${r.lost}, unrepairable ${r.unrepairable}`;
