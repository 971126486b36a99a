/**
 * What the stress harness checks values against.
 *
 * Own files: each Worker owns STRESS_OWN_FILES files that only it touches,
 * and keeps a byte model of each (content and size); every read of an own
 * file, through read(2) or through a mapping, must equal the model.
 *
 * Shared files: every Worker reads and writes them at once, so a byte
 * model cannot say what a read must return. Instead the file is an array
 * of RECORD_BYTES records, and record slot s is written only by Worker
 * (s % K) (one writer per slot, many readers), each time with a higher
 * sequence number. A record carries its writer, slot, sequence number and
 * a checksum over a payload derived from all three, so any reader can tell
 * a valid record from garbage without knowing who wrote last:
 *
 * ```
 *  0      4       8      12     16                                    64
 * +------+-------+------+------+--------------------------------------+
 * | magic| writer| slot | seq  | payload: 12 words f(writer,slot,seq) |
 * +------+-------+------+------+--------------------------------------+
 * ```
 *
 * A reader accepts zeros (never written) or a valid record; a record torn
 * by a concurrent store (possible through mappings, as on Linux) is retried
 * until it settles, and only a slot that never settles is a violation.
 * Reads must also be monotonic: once a reader has seen seq n in a slot it
 * must never see a lower one (coherence between read(2), mappings and the
 * page cache or device). At the end, with every Worker stopped, each slot
 * must hold exactly the last record its writer reported.
 */

export const RECORD_BYTES = 64;
export const RECORD_MAGIC = 0x5245_4331; // "REC1"
/** Records per shared file. */
export const SHARED_SLOTS = 256;
export const SHARED_BYTES = SHARED_SLOTS * RECORD_BYTES; // 16 KiB: 4 pages
export const SHARED_FILES = 2;
export const STRESS_OWN_FILES = 2;
/** Largest size an own file reaches (its mapping's length). */
export const OWN_MAX = 64 * 1024;

const mix = (a: number, b: number): number => {
  let h = Math.imul(a ^ 0x9e37_79b9, 0x85eb_ca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

/** Build the record (writer, slot, seq). */
export function makeRecord(writer: number, slot: number, seq: number): Uint8Array {
  const r = new Uint8Array(RECORD_BYTES);
  const dv = new DataView(r.buffer);
  dv.setUint32(0, RECORD_MAGIC, true);
  dv.setUint32(4, writer, true);
  dv.setUint32(8, slot, true);
  dv.setUint32(12, seq, true);
  for (let w = 0; w < 12; w++) dv.setUint32(16 + 4 * w, mix(mix(writer, slot), seq + w), true);
  return r;
}

/** What a record slot holds: "zero", a valid record's seq, or "bad". */
export function readRecord(
  bytes: Uint8Array,
  slot: number,
  writers: number,
): { seq: number } | "zero" | "bad" {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, RECORD_BYTES);
  let zero = true;
  for (let i = 0; i < RECORD_BYTES; i++) {
    if (bytes[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return "zero";
  if (dv.getUint32(0, true) !== RECORD_MAGIC) return "bad";
  const writer = dv.getUint32(4, true);
  const seq = dv.getUint32(12, true);
  if (writer !== slot % writers || dv.getUint32(8, true) !== slot) return "bad";
  const want = makeRecord(writer, slot, seq);
  for (let i = 16; i < RECORD_BYTES; i++) if (bytes[i] !== want[i]) return "bad";
  return { seq };
}

/** The byte model of one own file. */
export class OwnFile {
  /** Content up to OWN_MAX; bytes at or past `size` are kept zero. */
  readonly bytes = new Uint8Array(OWN_MAX);
  size = 0;
  /** A write failed part way (RAM pressure): content unknown until truncated to 0. */
  poisoned = false;

  write(pos: number, src: Uint8Array): void {
    this.bytes.set(src, pos);
    this.size = Math.max(this.size, pos + src.length);
  }

  truncate(size: number): void {
    if (size < this.size) this.bytes.fill(0, size);
    this.size = size;
  }

  punch(off: number, len: number): void {
    this.bytes.fill(0, off, Math.min(off + len, this.size));
  }

  /** The first offset where `got` (read at `pos`) differs from the model, or -1. */
  diff(pos: number, got: Uint8Array): number {
    for (let i = 0; i < got.length; i++) {
      const want = pos + i < this.size ? this.bytes[pos + i]! : 0;
      if (got[i] !== want) return pos + i;
    }
    return -1;
  }
}

/**
 * The churn file: every Worker truncates it (shrink and grow), writes it
 * and reads it, through read(2)/write(2) and through MAP_SHARED mappings, at
 * once: the truncate-versus-fault race. Writers only ever store churnByte(o)
 * at offset o, so a byte read is valid when it is 0 (a hole, truncated and
 * regrown, or the tail of a partial page) or churnByte(o). Anything else
 * came from another file: a freed block seen through a stale mapping, or a
 * page-cache page that outlived its truncate. fallocate races the faults
 * too: punch, zero and allocate keep the rule; collapse and insert keep it
 * because they move by multiples of CHURN_PERIOD.
 */
export const CHURN_MAX = 64 * 1024;

/**
 * Collapse and insert (fallocate) move the churn file's bytes by multiples
 * of this, so churnByte repeats with it: the value a byte may hold depends
 * on its offset modulo CHURN_PERIOD.
 */
export const CHURN_PERIOD = 16 * 1024;

/** The only non-zero value offset `o` of the churn file may hold. */
export const churnByte = (o: number): number =>
  ((Math.imul(o % CHURN_PERIOD, 0x9e37_79b1) >>> 24) & 0xff) | 1;

/** Bytes for [pos, pos + len) of the churn file. */
export function churnBytes(pos: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = churnByte(pos + i);
  return b;
}

/** The first offset of `got` (read at `pos`) that is neither 0 nor churnByte, or -1. */
export function churnBad(pos: number, got: Uint8Array): number {
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== 0 && got[i] !== churnByte(pos + i)) return pos + i;
  }
  return -1;
}
