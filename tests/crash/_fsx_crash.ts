/**
 * The crash-consistency workload: fsx guests (guest/bin/fsx.c) running on a
 * Machine whose image writes are recorded (_log_writes.ts), and the oracle
 * that checks their LOG files in a crashed-then-repaired image: every
 * record fsx reported durable ("durable SEQ", printed after its fsync
 * returned) before the crash is there, at its path, byte for byte.
 *
 * @module
 */

import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import { inodeGetSize, openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { verifyFsxLog } from "../integration/_fsx_log.ts";
import { makeGuestTree, within } from "../kernel/_guest_image.ts";
import { type LogRecord, rand32, startRecording } from "./_log_writes.ts";

/** What a recorded fsx run left. */
export interface FsxRecording {
  base: Uint8Array;
  records: LogRecord[];
  /** The fsx seeds, for the report. */
  seeds: number[];
  /** "durable" lines seen. */
  durable: number;
}

/** Options of recordFsxRun. */
export interface FsxRunOptions {
  dax: "always" | "never";
  guests: number;
  ops: number;
  seed: number;
  /** Image bytes (default 8 MiB). */
  size?: number;
}

const MARK = /^durable (\/\S+) (\d+)$/;

/**
 * Make an image of the guest tree, record a Machine running `guests` fsx
 * processes on it (file /fN, LOG /logN, `ops` ops each), and return the
 * base image and the log.
 */
export async function recordFsxRun(o: FsxRunOptions): Promise<FsxRecording> {
  const dir = Deno.makeTempDirSync({ prefix: "xip-crash-" });
  const tree = makeGuestTree();
  try {
    const img = `${dir}/crash.img`;
    Deno.writeFileSync(img, mkfs({ sizeBytes: o.size ?? 8 << 20, from: tree }));
    const rec = startRecording(img);
    const m = await Machine.boot({
      image: img,
      imageLog: rec.logPath,
      dax: o.dax,
      maxProcs: o.guests,
      warm: o.guests,
      ram: 32 << 20,
      stderr: () => {},
    });
    const rnd = rand32(o.seed);
    const seeds: number[] = [];
    let durable = 0;
    try {
      const runs = [];
      for (let g = 0; g < o.guests; g++) {
        const seed = Math.floor(rnd() * 0xffff_ffff) >>> 0;
        seeds.push(seed);
        const log = `/log${g}`;
        let partial = "";
        const out: string[] = [];
        const p = m.spawn("/bin/fsx", ["fsx", `/f${g}`, String(seed), String(o.ops), log], {
          stdout: (d) => {
            const lines = (partial + new TextDecoder().decode(d)).split("\n");
            partial = lines.pop()!;
            for (const l of lines) {
              out.push(l);
              const mm = /^durable (\d+)$/.exec(l);
              if (mm !== null) {
                rec.mark(`durable ${log} ${mm[1]}`);
                durable++;
              }
            }
          },
        });
        runs.push(
          within(p.wait(), 600_000, `fsx ${g}`).then((s) => {
            if (s.code !== 0) {
              throw new Error(
                `fsx ${g} (seed ${seed}) exited ${s.code}: ${out.slice(-3).join(" | ")}`,
              );
            }
          }),
        );
      }
      await Promise.all(runs);
    } finally {
      await m.shutdown();
    }
    const records = rec.read();
    rec.remove();
    return { base: rec.base, records, seeds, durable };
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(tree, { recursive: true });
  }
}

/**
 * The oracle: for each LOG named in a "durable LOG SEQ" mark, the repaired
 * image must hold records 0..SEQ intact at that path.
 */
export function fsxOracle(image: Uint8Array, marks: string[]): string[] {
  const want = new Map<string, number>();
  for (const m of marks) {
    const mm = MARK.exec(m);
    if (mm !== null) want.set(mm[1]!, Math.max(want.get(mm[1]!) ?? -1, Number(mm[2])));
  }
  if (want.size === 0) return [];
  const o = openVolume(image);
  if (!o.ok) return [`the image does not open: ${o.error}`];
  const missing: string[] = [];
  for (const [path, seq] of want) {
    const ino = namei(o.vol, path, true);
    if (ino < 0) {
      missing.push(`${path}: gone (${ino}), records 0..${seq} were durable`);
      continue;
    }
    const bytes = fileRead(o.vol, ino, 0, inodeGetSize(o.vol, ino));
    if (typeof bytes === "number") {
      missing.push(`${path}: unreadable (${bytes})`);
      continue;
    }
    const v = verifyFsxLog(bytes);
    if (v.records <= seq) {
      missing.push(
        `${path}: ${v.records} intact records, ${seq + 1} were durable (${v.problem ?? "short"})`,
      );
    }
  }
  return missing;
}
