/**
 * The wire encodings of the live view, shared by the server (src/ui) and
 * the page (src/ui/web, bundled from this very file), so that both sides
 * run one implementation.
 *
 * A frame map is one byte per frame (a kind code, or a count of mapping
 * processes). It is sent run-length encoded, then base64: a machine's frames
 * come in long runs (free RAM, unmapped device blocks), so 16384 RAM frames
 * usually take a few hundred bytes.
 *
 * ```
 *  runs:  [ value u8 | length LEB128 ] [ value u8 | length LEB128 ] ...
 *  e.g.   5 free frames, 2 anonymous, 1 free  ->  00 05 03 02 00 01
 * ```
 *
 * Fault records and rate samples go as arrays (packFault, packRate), with
 * their kinds named once in the stream's hello.
 *
 * Plain functions over Uint8Array and strings: no Deno or DOM API.
 *
 * @module
 */

import type { FaultTuple, RateSample, RateTuple } from "./protocol.ts";

/**
 * Encode `codes` as runs (see the module comment).
 *
 * @returns the run bytes; decodeRuns(encodeRuns(x)) equals x
 */
export function encodeRuns(codes: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < codes.length;) {
    const v = codes[i]!;
    let j = i + 1;
    while (j < codes.length && codes[j] === v) j++;
    out.push(v);
    for (let len = j - i;; len = Math.floor(len / 128)) {
      if (len < 128) {
        out.push(len);
        break;
      }
      out.push((len & 0x7f) | 0x80);
    }
    i = j;
  }
  return Uint8Array.from(out);
}

/**
 * Decode runs into exactly `length` codes.
 *
 * @throws RangeError when the runs are malformed or do not add up to `length`
 */
export function decodeRuns(runs: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < runs.length;) {
    const v = runs[i++]!;
    let len = 0;
    for (let shift = 1;; shift *= 128) {
      if (i >= runs.length || shift > 2 ** 35) throw new RangeError("decodeRuns: truncated run");
      const b = runs[i++]!;
      len += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) break;
    }
    if (len === 0 || at + len > length) throw new RangeError("decodeRuns: runs overflow the map");
    out.fill(v, at, at + len);
    at += len;
  }
  if (at !== length) throw new RangeError(`decodeRuns: ${at} codes for a map of ${length}`);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i] as const));

/** Standard base64 (RFC 4648, with padding). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!, b = bytes[i + 1], c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! +
      (b === undefined ? "=" : B64[(n >> 6) & 63]!) + (c === undefined ? "=" : B64[n & 63]!);
  }
  return s;
}

/**
 * Decode standard base64.
 *
 * @throws RangeError on a character outside the alphabet or a bad length
 */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new RangeError("fromBase64: length is not a multiple of 4");
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  for (let i = 0, o = 0; i < text.length; i += 4, o += 3) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const ch = text[i + k]!;
      const padded = i + 4 === text.length && k >= 4 - pad;
      const v = padded ? (ch === "=" ? 0 : undefined) : B64_INDEX.get(ch);
      if (v === undefined) throw new RangeError(`fromBase64: bad character "${ch}"`);
      n = n * 64 + v;
    }
    out[o] = n >> 16;
    if (o + 1 < out.length) out[o + 1] = (n >> 8) & 0xff;
    if (o + 2 < out.length) out[o + 2] = n & 0xff;
  }
  return out;
}

/** A frame map as runs in base64: what /api/frames and the stream send per array. */
export const encodeFrameCodes = (codes: Uint8Array): string => toBase64(encodeRuns(codes));

/** The inverse of encodeFrameCodes. @throws RangeError on malformed input */
export const decodeFrameCodes = (text: string, length: number): Uint8Array =>
  decodeRuns(fromBase64(text), length);

/** A kind of frame as the page draws it: a name, a label for people, and a CSS colour. */
export interface KindInfo {
  readonly name: string;
  readonly label: string;
  readonly color: string;
}

/** GET /api/frames: the whole physical frame map. */
export interface FrameMap {
  readonly ram_frames: number;
  readonly device_frames: number;
  /** The first device frame's pfn (= ram_frames). */
  readonly device_base: number;
  /** RAM frame kinds, indexed by code. */
  readonly ram_kinds: readonly KindInfo[];
  /** Device frame kinds, indexed by code. */
  readonly device_kinds: readonly KindInfo[];
  /** encodeFrameCodes of one kind code per RAM frame. */
  readonly ram: string;
  /** encodeFrameCodes of the number of processes mapping each RAM frame (capped at 255). */
  readonly ram_mappers: string;
  readonly device: string;
  readonly device_mappers: string;
  /** The most processes mapping any one device frame, and RAM frame. */
  readonly device_max_mappers: number;
  readonly ram_max_mappers: number;
}

/** One record of the fault ring, as the API sends it. */
export interface FaultRecord {
  /** Ring ticket: increases by one per fault, machine-wide. */
  readonly n: number;
  readonly pid: number;
  readonly va: number;
  /** Fault kind name, as in the stats' `faults` object. */
  readonly kind: string;
  readonly pfn: number;
}

/**
 * A fault record as the stream sends it: [n, pid, va, kind, pfn], the kind
 * as its index in `kinds` (the hello's fault_kinds). About a quarter of
 * the bytes of the record as an object, and faults come in bursts.
 *
 * @returns the tuple; unpackFault(packFault(r, kinds), kinds) equals r for a kind in `kinds`
 * @throws RangeError when `kinds` does not name r.kind
 */
export function packFault(r: FaultRecord, kinds: readonly string[]): FaultTuple {
  const kind = kinds.indexOf(r.kind);
  if (kind < 0) throw new RangeError(`packFault: no fault kind "${r.kind}"`);
  return [r.n, r.pid, r.va, kind, r.pfn];
}

/** The inverse of packFault; a kind index out of range is named "kindN". */
export function unpackFault(t: FaultTuple, kinds: readonly string[]): FaultRecord {
  const [n, pid, va, kind, pfn] = t;
  return { n, pid, va, kind: kinds[kind] ?? `kind${kind}`, pfn };
}

/**
 * A rate sample as the stream sends it: [t, rate of kinds[0], rate of
 * kinds[1], ...]; a kind the sample lacks is 0.
 */
export function packRate(s: RateSample, kinds: readonly string[]): RateTuple {
  return [s.t, ...kinds.map((k) => s.faults[k] ?? 0)];
}

/** The inverse of packRate: every kind of `kinds`, 0 where the tuple is short. */
export function unpackRate(t: RateTuple, kinds: readonly string[]): RateSample {
  const faults: Record<string, number> = {};
  kinds.forEach((k, i) => faults[k] = t[i + 1] ?? 0);
  return { t: t[0] ?? 0, faults };
}
