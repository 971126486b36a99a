import assert from "node:assert/strict";
import {
  decodeFrameCodes,
  decodeRuns,
  encodeFrameCodes,
  encodeRuns,
  fromBase64,
  toBase64,
} from "../../src/ui/encode.ts";
import { rng } from "./_rng.ts";

Deno.test("encodeRuns() writes a value byte and a LEB128 length per run", () => {
  assert.deepEqual([...encodeRuns(Uint8Array.of(0, 0, 0, 0, 0, 3, 3, 0))], [0, 5, 3, 2, 0, 1]);
  assert.deepEqual([...encodeRuns(new Uint8Array(0))], []);
  // 128 = 0x80 0x01; 16384 = 0x80 0x80 0x01
  assert.deepEqual([...encodeRuns(new Uint8Array(128).fill(7))], [7, 0x80, 0x01]);
  assert.deepEqual([...encodeRuns(new Uint8Array(16384))], [0, 0x80, 0x80, 0x01]);
  assert.deepEqual([...encodeRuns(new Uint8Array(300).fill(255))], [255, 0xac, 0x02]);
});

Deno.test("decodeRuns() inverts encodeRuns() for runs short and long, and random maps", () => {
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    Uint8Array.of(9),
    new Uint8Array(1 << 20).fill(1),
    Uint8Array.from({ length: 5000 }, (_, i) => i & 1), // no run longer than 1
  ];
  const seed = 0x51de;
  const r = rng(seed);
  for (let k = 0; k < 40; k++) {
    const codes: number[] = [];
    while (codes.length < 4000) {
      const v = Math.floor(r() * 6), len = 1 + Math.floor(r() ** 4 * 3000);
      for (let i = 0; i < len; i++) codes.push(v);
    }
    cases.push(Uint8Array.from(codes));
  }
  for (const [i, c] of cases.entries()) {
    const back = decodeRuns(encodeRuns(c), c.length);
    assert.deepEqual(back, c, `case ${i} (seed 0x${seed.toString(16)}) did not round-trip`);
  }
});

Deno.test("decodeRuns() throws RangeError on truncated, overflowing, empty or short runs", () => {
  assert.throws(() => decodeRuns(Uint8Array.of(1), 1), RangeError); // no length
  assert.throws(() => decodeRuns(Uint8Array.of(1, 0x80), 128), RangeError); // length cut off
  assert.throws(() => decodeRuns(Uint8Array.of(1, 5), 4), RangeError); // past the map
  assert.throws(() => decodeRuns(Uint8Array.of(1, 0), 0), RangeError); // empty run
  assert.throws(() => decodeRuns(Uint8Array.of(1, 3), 4), RangeError); // short
  assert.throws(() => decodeRuns(new Uint8Array(8).fill(0xff), 10), RangeError); // endless varint
});

Deno.test("toBase64() and fromBase64() agree with btoa and atob for every length mod 3", () => {
  const r = rng(7);
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const want = btoa(String.fromCharCode(...bytes));
    assert.equal(toBase64(bytes), want, `length ${n}`);
    assert.deepEqual(fromBase64(want), bytes, `length ${n}`);
  }
});

Deno.test("fromBase64() throws RangeError on bad characters, misplaced padding or bad length", () => {
  assert.throws(() => fromBase64("abc"), RangeError);
  assert.throws(() => fromBase64("ab!d"), RangeError);
  assert.throws(() => fromBase64("a=bc"), RangeError);
  assert.throws(() => fromBase64("ab==abcd"), RangeError);
});

Deno.test("encodeFrameCodes() keeps a mostly free 16384-frame map under 200 characters", () => {
  const codes = new Uint8Array(16384);
  for (const [start, len, kind] of [[100, 30, 3], [5000, 4, 2], [9000, 200, 4]]) {
    codes.fill(kind!, start, start! + len!);
  }
  const text = encodeFrameCodes(codes);
  assert.ok(text.length < 200, `${text.length} characters`);
  assert.deepEqual(decodeFrameCodes(text, codes.length), codes);
});
