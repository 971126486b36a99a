/**
 * Device images on the host file system: load one into memory, and save a
 * device back atomically (a crash leaves either the old image or the new
 * one, never a torn mix).
 *
 * Failures are the user's, not the kernel's (a missing file, a file of the
 * wrong size), so they throw ImageError with a one-line message that the
 * CLI prints as is.
 *
 * @module
 */

import { PAGE_SIZE } from "../abi/types.ts";

/** A device image could not be read, written or used. The message is one line. */
export class ImageError extends Error {
  /** Always "ImageError". */
  override name = "ImageError";
}

/**
 * Largest image loadImage accepts unless told otherwise: 4 GiB, the most one
 * wasm32 memory holds. A machine needs RAM beside it, so Machine.boot also
 * checks RAM plus image against that limit.
 */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024 * 1024;

/** Copy chunk for saveImage and readImageInto: Deno does host I/O through plain buffers, not SAB-backed views. */
const SAVE_CHUNK = 1 << 20;

/** Why a host file operation failed, in a few words ("not found", "permission denied", ...). */
export function hostErrorText(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "not found";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.NotCapable) {
    const flag = /--allow-[a-z-]+/.exec(err.message)?.[0];
    return flag === undefined ? "not permitted" : `not permitted (run with ${flag})`;
  }
  return err instanceof Error ? err.message.split("\n")[0]! : String(err);
}

/**
 * The size of a device image file, checked: a non-zero multiple of PAGE_SIZE
 * and at most `maxBytes`. Reads nothing but the file's metadata.
 *
 * @throws ImageError when the file is missing, not a regular file, empty, of the wrong size or too big
 */
export function imageFileSize(path: string, maxBytes: number = MAX_IMAGE_BYTES): number {
  let size: number;
  try {
    const st = Deno.statSync(path);
    if (!st.isFile) throw new ImageError(`image ${path}: not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(`image ${path}: ${hostErrorText(err)}`);
  }
  if (size === 0) throw new ImageError(`image ${path}: empty`);
  if (size % PAGE_SIZE !== 0) {
    throw new ImageError(`image ${path}: size ${size} is not a multiple of ${PAGE_SIZE}`);
  }
  if (size > maxBytes) {
    throw new ImageError(`image ${path}: size ${size} exceeds the limit of ${maxBytes} bytes`);
  }
  return size;
}

/**
 * Read a whole device image. Its size must be a non-zero multiple of
 * PAGE_SIZE and at most `maxBytes`; the size is checked before the file is
 * read, so an oversized file costs nothing.
 *
 * @throws ImageError when the file is missing, unreadable, empty, of the wrong size or too big
 */
export function loadImage(path: string, maxBytes: number = MAX_IMAGE_BYTES): Uint8Array {
  const size = imageFileSize(path, maxBytes);
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    throw new ImageError(`image ${path}: ${hostErrorText(err)}`);
  }
  // The file may have changed between stat and read.
  if (bytes.length !== size) {
    throw new ImageError(`image ${path}: changed size while being read`);
  }
  return bytes;
}

/**
 * Read the image at `path` straight into `dst` (the device region of a
 * machine's physical memory), so that a multi-GiB image is never held twice.
 * The file must be exactly `dst.length` bytes, as imageFileSize reported.
 *
 * @throws ImageError when the file cannot be read or no longer has that size
 */
export function readImageInto(path: string, dst: Uint8Array): void {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const chunk = new Uint8Array(Math.min(SAVE_CHUNK, dst.length));
    let off = 0;
    while (off < dst.length) {
      const n = file.readSync(chunk.subarray(0, Math.min(chunk.length, dst.length - off)));
      if (n === null) break;
      dst.set(chunk.subarray(0, n), off);
      off += n;
    }
    if (off !== dst.length || file.readSync(chunk.subarray(0, 1)) !== null) {
      throw new ImageError(`image ${path}: changed size while being read`);
    }
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(`image ${path}: ${hostErrorText(err)}`);
  } finally {
    file?.close();
  }
}

function dirAndBase(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return i < 0 ? [".", path] : [i === 0 ? "/" : path.slice(0, i), path.slice(i + 1)];
}

/** The temporary file name a save of `base` by process `pid` uses. */
const tempName = (base: string, pid: number): string => `.${base}.xip-${pid}.tmp`;

/**
 * Remove temporary files of earlier saves of `base` in `dir` whose process
 * is gone (killed with SIGKILL midway: nothing else can leave one).
 */
function removeStaleTemps(dir: string, base: string): void {
  const re = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.xip-(\\d+)\\.tmp$`);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = re.exec(e.name);
    if (m === null) continue;
    const pid = Number(m[1]);
    let alive = pid === Deno.pid;
    try {
      alive ||= Deno.statSync(`/proc/${pid}`).isDirectory;
    } catch { /* no such process */ }
    if (!alive) {
      try {
        Deno.removeSync(`${dir}/${e.name}`);
      } catch { /* raced with someone else's cleanup */ }
    }
  }
}

/**
 * Write `bytes` to `path` atomically: into a temporary file in the same
 * directory, fsync it, rename it over `path`, then fsync the directory so
 * the rename itself is durable. On failure the temporary file is removed
 * and `path` is untouched. A symlink at `path` is followed (its target is
 * replaced) and the old file's permission bits are kept. Temporary files
 * left by a save that was killed with SIGKILL are removed first; SIGINT
 * and SIGTERM cannot stop a save midway while the caller listens for them
 * (xip run and mkfs do).
 *
 * The caller must keep `bytes` stable while this runs (no Worker writing the
 * device), or the saved image may mix old and new pages.
 *
 * @throws ImageError naming the path and the cause
 */
export function saveImageBytes(bytes: Uint8Array, path: string): void {
  let target = path;
  let mode = 0o644;
  try {
    target = Deno.realPathSync(path);
    mode = (Deno.statSync(target).mode ?? 0o644) & 0o7777;
  } catch { /* a new file */ }
  const [dir, base] = dirAndBase(target);
  removeStaleTemps(dir, base);
  const tmp = `${dir}/${tempName(base, Deno.pid)}`;
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode });
    const chunk = new Uint8Array(Math.min(SAVE_CHUNK, bytes.length));
    for (let off = 0; off < bytes.length; off += chunk.length) {
      const n = Math.min(chunk.length, bytes.length - off);
      chunk.set(bytes.subarray(off, off + n));
      let done = 0;
      while (done < n) done += file.writeSync(chunk.subarray(done, n));
    }
    file.syncSync();
    file.close();
    file = undefined;
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, target);
  } catch (err) {
    try {
      file?.close();
    } catch { /* already failing; the close error adds nothing */ }
    try {
      Deno.removeSync(tmp);
    } catch { /* it may never have been created */ }
    throw new ImageError(`image ${path}: cannot save: ${hostErrorText(err)}`);
  }
  syncDir(dir);
}

/** fsync a directory so a rename in it survives a crash. Best effort: not every OS allows it. */
function syncDir(dir: string): void {
  let d: Deno.FsFile | undefined;
  try {
    d = Deno.openSync(dir, { read: true });
    d.syncSync();
  } catch {
    // Opening a directory for fsync is not portable (Windows); the data
    // itself was already synced before the rename.
  } finally {
    d?.close();
  }
}
