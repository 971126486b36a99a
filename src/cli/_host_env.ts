/**
 * The host's argv and environment as exact bytes, for `xip run` to pass to
 * the guest unchanged, as qemu-user does. Deno decodes both as UTF-8 and
 * replaces what is not (Deno.args, Deno.env), so the bytes come from
 * /proc/self/cmdline and /proc/self/environ, used only where they agree
 * with what Deno decoded (a mismatch, or no /proc, falls back to the text).
 *
 * @module
 */

import type { ArgString } from "../kernel/exec_stack.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** NUL-separated entries of a /proc file, or null when it cannot be read. */
function procEntries(path: string): Uint8Array[] | null {
  let raw: Uint8Array;
  try {
    raw = Deno.readFileSync(path);
  } catch {
    return null;
  }
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      out.push(raw.subarray(at, i));
      at = i + 1;
    }
  }
  if (at < raw.length) out.push(raw.subarray(at));
  return out;
}

/** `text` as ArgString: its exact bytes when they differ from its UTF-8 encoding. */
function exact(text: string, bytes: Uint8Array | undefined): ArgString {
  if (bytes === undefined || dec.decode(bytes) !== text) return text;
  const utf8 = enc.encode(text);
  return utf8.length === bytes.length && utf8.every((b, i) => b === bytes[i])
    ? text
    : bytes.slice();
}

/**
 * `args`, which must be the tail of this process's own Deno.args, with
 * each entry as the exact bytes the host passed.
 */
export function hostArgs(args: string[]): ArgString[] {
  const all = Deno.args;
  const isTail = args.length <= all.length &&
    args.every((a, i) => a === all[all.length - args.length + i]);
  const raw = isTail ? procEntries("/proc/self/cmdline") : null;
  if (raw === null || raw.length < args.length) return args;
  const tail = raw.slice(raw.length - args.length);
  return args.map((a, i) => exact(a, tail[i]));
}

/**
 * The host environment as "K=V" entries, exact bytes where the host's are
 * not UTF-8. Deno.env leaves such entries out, so the start-up environment
 * (/proc/self/environ) is the base: an entry Deno.env holds with another
 * value, or added, is taken as text; one it lacks is kept only when Deno
 * could not decode it (else it was removed since start).
 */
export function hostEnviron(): ArgString[] {
  // Without --allow-env the guests start with an empty environment.
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return [];
  const env = Deno.env.toObject();
  const out: ArgString[] = [];
  const seen = new Set<string>();
  for (const e of procEntries("/proc/self/environ") ?? []) {
    const text = dec.decode(e);
    const eq = text.indexOf("=");
    if (eq <= 0) continue;
    const k = text.slice(0, eq);
    if (seen.has(k)) continue;
    seen.add(k);
    if (k in env) out.push(exact(`${k}=${env[k]}`, e));
    else if (text.includes("\ufffd")) out.push(e.slice());
  }
  for (const [k, v] of Object.entries(env)) if (!seen.has(k)) out.push(`${k}=${v}`);
  return out;
}

/** The name of a "K=V" entry. */
const keyOf = (e: ArgString): string => {
  const t = typeof e === "string" ? e : dec.decode(e);
  const eq = t.indexOf("=");
  return eq < 0 ? t : t.slice(0, eq);
};

/**
 * The guest environment: the host's (none with `clear`), without the names
 * in `unset`, then with each "K=V" of `set` replacing or adding K, as
 * qemu-user's -U and -E do.
 */
export function guestEnviron(
  host: ArgString[],
  opts: { clear: boolean; unset: string[]; set: string[] },
): ArgString[] {
  let env = opts.clear ? [] : host.slice();
  const drop = new Set([...opts.unset, ...opts.set.map(keyOf)]);
  env = env.filter((e) => !drop.has(keyOf(e)));
  return [...env, ...opts.set];
}
