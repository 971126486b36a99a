/**
 * The live view's stream sends what changed, not the whole state: each
 * update carries a JSON merge patch (RFC 7386) from the state the stream
 * was sent last to the state now. Shared by the server (src/ui/view.ts),
 * which makes the patches, and the page (src/ui/web/app.ts), which applies
 * them; both run this one file.
 *
 * A merge patch is the new value where it differs and nothing where it
 * does not: objects are compared member by member, a member that is gone
 * is named with null, and any other value (a number, a string, an array)
 * is sent whole when it changed.
 *
 * ```
 *  before  { procs: { "1": { ips: 900, state: "user" }, "2": { ips: 5 } } }
 *  after   { procs: { "1": { ips: 950, state: "user" } } }
 *  patch   { procs: { "1": { ips: 950 }, "2": null } }
 * ```
 *
 * The one rule that follows: no member of an object in the state may be
 * null, since a null in a patch deletes (inside an array it may: arrays go
 * whole). createMergePatch throws when it meets one.
 *
 * Plain functions over JSON values: no Deno or DOM API.
 *
 * @module
 */

/** A JSON value, as JSON.parse returns it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON object: the shape a merge patch recurses into. */
export type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep equality of two JSON values (member order does not matter). */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

/**
 * The merge patch that turns `from` into `to`; undefined when they are
 * equal. Values are compared by identity first, so a part of the state
 * kept as the same object between two calls (the frame map) costs nothing.
 *
 * @returns a patch p with applyMergePatch(clone(from), p) deep-equal to `to`
 * @throws RangeError when `to` holds a null (a patch could not set it)
 */
export function createMergePatch(from: unknown, to: unknown): Json | undefined {
  if (from === to) return undefined;
  if (!isObject(to)) {
    if (to === null) throw new RangeError("createMergePatch: a state cannot hold null");
    return jsonEqual(from as Json, to as Json) ? undefined : to as Json;
  }
  if (!isObject(from)) {
    assertNoNullMember(to);
    return to;
  }
  let patch: JsonObject | undefined;
  // A member whose value is undefined is absent, as JSON.stringify has it.
  for (const k of Object.keys(from)) {
    if (to[k] === undefined && from[k] !== undefined) (patch ??= {})[k] = null;
  }
  for (const k of Object.keys(to)) {
    if (to[k] === undefined) continue;
    const sub = createMergePatch(from[k], to[k]);
    if (sub !== undefined) (patch ??= {})[k] = sub;
  }
  return patch;
}

/** Throw if a member of `o`, or of an object below it, is null (arrays are values: not searched). */
function assertNoNullMember(o: JsonObject): void {
  for (const v of Object.values(o)) {
    if (v === null) throw new RangeError("createMergePatch: a state cannot hold null");
    if (isObject(v)) assertNoNullMember(v);
  }
}

/**
 * Apply `patch` to `target` (RFC 7386 MergePatch). Objects in `target` are
 * changed in place, so the caller keeps one state and patches it; the
 * result must still be taken from the return value, since a patch that is
 * not an object replaces the target altogether.
 */
export function applyMergePatch(target: unknown, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
