import assert from "node:assert/strict";
import {
  applyMergePatch,
  createMergePatch,
  type Json,
  jsonEqual,
  type JsonObject,
} from "../../src/ui/delta.ts";
import {
  type FaultRecord,
  packFault,
  packRate,
  unpackFault,
  unpackRate,
} from "../../src/ui/encode.ts";
import { rng } from "./_rng.ts";

const clone = <T>(v: T): T => structuredClone(v);

/** What the page does: apply the patch, as it came over the wire, to its copy of `from`. */
function patched(from: Json, to: Json): Json {
  const patch = createMergePatch(from, to);
  if (patch === undefined) return clone(from);
  return applyMergePatch(clone(from), JSON.parse(JSON.stringify(patch)));
}

Deno.test("createMergePatch() sends changed members, names gone ones null, omits the rest", () => {
  const before = { procs: { "1": { ips: 900, state: "user" }, "2": { ips: 5 } }, run: "a" };
  const after = { procs: { "1": { ips: 950, state: "user" } }, run: "a" };
  assert.deepEqual(createMergePatch(before, after), { procs: { "1": { ips: 950 }, "2": null } });
  assert.equal(createMergePatch(before, clone(before)), undefined);
  // Arrays and scalars go whole; a new member goes whole.
  assert.deepEqual(createMergePatch({ exit: [0] }, { exit: [0, 1] }), { exit: [0, 1] });
  assert.deepEqual(createMergePatch({ a: 1 }, { a: 1, b: { c: [2] } }), { b: { c: [2] } });
  assert.deepEqual(createMergePatch({ a: { b: 1 } }, { a: 7 }), { a: 7 });
  assert.deepEqual(createMergePatch({ a: 7 }, { a: { b: 1 } }), { a: { b: 1 } });
  // A member set to undefined is absent, as in JSON.
  assert.deepEqual(createMergePatch({ a: 1, b: 2 }, { a: 1, b: undefined }), { b: null });
});

Deno.test("createMergePatch() throws RangeError when the new state holds a null member", () => {
  assert.throws(() => createMergePatch({ a: 1 }, { a: null }), RangeError);
  assert.throws(() => createMergePatch({}, { a: { b: { c: null } } }), RangeError);
  assert.throws(() => createMergePatch(undefined, { a: { b: null } }), RangeError);
  // Inside an array a null is a value like any other: arrays go whole.
  assert.deepEqual(createMergePatch({ a: [1] }, { a: [null, 1] }), { a: [null, 1] });
});

Deno.test("applyMergePatch() follows RFC 7386's examples", () => {
  // RFC 7386 §3 and appendix A, as pairs of target, patch and result.
  const cases: [Json, Json, Json][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    assert.deepEqual(applyMergePatch(clone(target), patch), want, JSON.stringify([target, patch]));
  }
});

/** A random state like the view's: nested objects of numbers, strings and arrays. */
function randomObject(r: () => number, depth: number): JsonObject {
  const o: JsonObject = {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) o[`k${Math.floor(r() * 8)}`] = randomValue(r, depth + 1);
  return o;
}

function randomValue(r: () => number, depth: number): Json {
  const x = r();
  if (depth < 4 && x < 0.35) return randomObject(r, depth);
  if (x < 0.55) return Math.floor(r() * 5);
  if (x < 0.7) return ["user", "kernel", "", "sleeping"][Math.floor(r() * 4)]!;
  if (x < 0.8) return r() < 0.5;
  if (x < 0.9) return Array.from({ length: Math.floor(r() * 3) }, () => Math.floor(r() * 3));
  return [null, { a: 1 }];
}

/** `o` with a few members changed, added or removed, at any depth. */
function mutate(r: () => number, o: JsonObject, depth = 0): JsonObject {
  const out = clone(o);
  for (const k of Object.keys(out)) {
    const x = r();
    const v = out[k]!;
    if (x < 0.15) delete out[k];
    else if (x < 0.3) out[k] = randomValue(r, depth + 1);
    else if (x < 0.6 && typeof v === "object" && v !== null && !Array.isArray(v)) {
      out[k] = mutate(r, v, depth + 1);
    }
  }
  if (r() < 0.3) out[`k${Math.floor(r() * 8)}`] = randomValue(r, depth + 1);
  return out;
}

Deno.test("applyMergePatch(prev, createMergePatch(prev, next)) equals next over a random walk of states", () => {
  const seed = 0x19d1;
  const r = rng(seed);
  for (let walk = 0; walk < 50; walk++) {
    let prev: JsonObject = randomObject(r, 0);
    let page: Json = clone(prev); // what a page that got every patch holds
    for (let step = 0; step < 40; step++) {
      const next = mutate(r, prev);
      const at = `walk ${walk} step ${step} (seed 0x${seed.toString(16)})`;
      assert.deepEqual(patched(prev, next), next, at);
      const patch = createMergePatch(prev, next);
      assert.equal(patch === undefined, jsonEqual(prev, next), `${at}: a patch iff a change`);
      if (patch !== undefined) page = applyMergePatch(page, JSON.parse(JSON.stringify(patch)));
      assert.deepEqual(page, next, `${at}: the page drifted from the server`);
      prev = next;
    }
  }
});

Deno.test("createMergePatch() of a view-like state that moved a little is a small part of it", () => {
  const row = (pid: number, instret: number) => ({
    pid,
    program: "/bin/compute",
    state: "user",
    rss: { device: 5, anon: 30, pagetable: 4, pagecache: 0, zero: 0, kernel: 0 },
    faults: { dax: 5, file_minor: 0, file_major: 0, cow: 6, anon: 24, zero: 0, dax_pmd: 0 },
    instret,
    ips: instret / 2,
  });
  const state = (i: number) => ({
    run: "bench",
    procs: Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((p) => [p, row(p, 1e8 + p * i)])),
  });
  const patch = createMergePatch(state(1), state(2));
  assert.deepEqual(Object.keys((patch as { procs: object }).procs).length, 8);
  for (const p of Object.values((patch as { procs: Record<string, object> }).procs)) {
    assert.deepEqual(Object.keys(p), ["instret", "ips"]);
  }
  const full = JSON.stringify(state(2)).length, sent = JSON.stringify(patch).length;
  assert.ok(sent * 4 < full, `a patch of ${sent} bytes for a state of ${full}`);
});

Deno.test("packFault() and unpackFault() round-trip a record through its kind index", () => {
  const kinds = ["dax", "file_minor", "anon"];
  const r: FaultRecord = { n: 2 ** 31 - 1, pid: 7, va: 0xfffff000, kind: "anon", pfn: 16422 };
  assert.deepEqual(packFault(r, kinds), [2 ** 31 - 1, 7, 0xfffff000, 2, 16422]);
  assert.deepEqual(unpackFault(packFault(r, kinds), kinds), r);
  assert.throws(() => packFault({ ...r, kind: "cow" }, kinds), RangeError);
  assert.equal(unpackFault([1, 1, 0, 9, 0], kinds).kind, "kind9");
});

Deno.test("packRate() and unpackRate() keep every kind, 0 where the sample has none", () => {
  const kinds = ["dax", "cow", "anon"];
  const tuple = packRate({ t: 12.5, faults: { dax: 60, anon: 20 } }, kinds);
  assert.deepEqual(tuple, [12.5, 60, 0, 20]);
  assert.deepEqual(unpackRate(tuple, kinds), { t: 12.5, faults: { dax: 60, cow: 0, anon: 20 } });
  assert.deepEqual(unpackRate([3], kinds).faults, { dax: 0, cow: 0, anon: 0 });
});
