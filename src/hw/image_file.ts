/**
 * The host file behind a device image, as the Machine and the tools use it:
 * checked before it is read, locked for as long as it is used, written in
 * place, and its writes recordable for crash testing.
 *
 * Locking (qemu's image locking, with flock(2) in place of qemu's OFD byte
 * locks): a writer (xip run, fsck -p/-y, mkfs over an existing image) holds
 * an exclusive lock for its whole life; a reader (run --snapshot, ls, cat,
 * fsck -n) holds a shared one. A second writer, or a reader while a writer
 * runs, is refused at once with one line naming the holder, found in
 * /proc/locks. The locks are advisory, per open file description: two
 * Machines in one Deno process exclude each other too.
 *
 * Write-back keeps the file's identity: xip writes the blocks that changed
 * in place, through the path as opened (a symlink is followed, the mode,
 * owner and hard links stay), as qemu writes a raw image in place, rather
 * than writing a copy and renaming it over the original. What makes that
 * safe against a crash midway is the order of the writes and fsck repair
 * (src/fs/xipfs/xipfs_sync.ts; tests/crash). Space is reserved before the first
 * write: holes of a sparse image are filled with the zeros they hold, so a
 * later in-place write cannot fail for want of space.
 *
 * Every pwrite and fdatasync on an image goes through `imagePwrite` and
 * `imageSync`, in any thread; when a record file is set (`setImageLog`,
 * per thread, from the mount options), each is also appended to it
 * (tests/crash/_log_writes.ts reads the log back and replays it).
 *
 * @module
 */

import { PAGE_SIZE } from "../abi/types.ts";
import { hostErrorText, ImageError, MAX_IMAGE_BYTES } from "./image.ts";

/** How long a writer waits for readers of the image to finish, in ms. */
const READER_WAIT_MS = 2000;
const NAP = new Int32Array(new SharedArrayBuffer(4));

/** Bytes written per call when the source is a view into a SharedArrayBuffer. */
const COPY_CHUNK = 1 << 20;

/** A host error as one short phrase (hostErrorText, plus the write errors in words). */
export function describeHostError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ENOSPC") return "no space left on the host device";
  if (code === "EROFS") return "read-only file system";
  if (code === "EDQUOT") return "disk quota exceeded";
  return hostErrorText(err);
}

// ---------------------------------------------------------------------------
// the write record (crash testing)

/** Record kinds of an image write log. */
export const LOG_WRITE = 1;
export const LOG_FLUSH = 2;
export const LOG_MARK = 3;
/** Bytes of a record header: kind u32, length u32, offset f64. */
export const LOG_HEADER = 16;

let logFile: Deno.FsFile | null = null;
let logPath: string | null = null;

/**
 * Append every image write and flush this thread makes to `path` (null:
 * stop). Each record is one append, atomic among threads and processes.
 */
export function setImageLog(path: string | null): void {
  if (path === logPath) return;
  logFile?.close();
  logFile = path === null ? null : Deno.openSync(path, { append: true, create: true });
  logPath = path;
}

/** Append one record: kind, payload length, offset, payload. */
export function appendLogRecord(
  file: Deno.FsFile,
  kind: number,
  off: number,
  data: Uint8Array | null,
): void {
  const rec = new Uint8Array(LOG_HEADER + (data?.length ?? 0));
  const dv = new DataView(rec.buffer);
  dv.setUint32(0, kind, true);
  dv.setUint32(4, data?.length ?? 0, true);
  dv.setFloat64(8, off, true);
  if (data !== null) rec.set(data, LOG_HEADER);
  for (let done = 0; done < rec.length;) done += file.writeSync(rec.subarray(done));
}

/**
 * pwrite all of `src` at byte `off` of `file`, copying out of shared
 * memory in chunks (Deno writes from plain buffers).
 *
 * @throws the host error
 */
export function imagePwrite(file: Deno.FsFile, off: number, src: Uint8Array): void {
  const chunk = new Uint8Array(Math.min(COPY_CHUNK, src.length));
  for (let at = 0; at < src.length; at += chunk.length) {
    const n = Math.min(chunk.length, src.length - at);
    const part = chunk.subarray(0, n);
    part.set(src.subarray(at, at + n));
    file.seekSync(off + at, Deno.SeekMode.Start);
    for (let done = 0; done < n;) {
      const w = file.writeSync(part.subarray(done));
      if (w <= 0) throw new Error("short write");
      done += w;
    }
    if (logFile !== null) appendLogRecord(logFile, LOG_WRITE, off + at, part);
  }
}

/** fdatasync `file` (and record the flush). @throws the host error */
export function imageSync(file: Deno.FsFile): void {
  file.syncDataSync();
  if (logFile !== null) appendLogRecord(logFile, LOG_FLUSH, 0, null);
}

// ---------------------------------------------------------------------------
// locking

/** The flock(2) locks on the file with inode `ino` (from /proc/locks): pid and whether shared. */
export function flockHolders(ino: number): { pid: number; shared: boolean }[] {
  let locks: string;
  try {
    locks = Deno.readTextFileSync("/proc/locks");
  } catch {
    return [];
  }
  const out: { pid: number; shared: boolean }[] = [];
  for (const line of locks.split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 11029 fe:00:2146491 0 EOF"
    const f = line.trim().split(/\s+/);
    if (f[1] !== "FLOCK" || !f[5]?.endsWith(`:${ino}`)) continue;
    out.push({ pid: Number(f[4]), shared: f[3] === "READ" });
  }
  return out;
}

/** Who holds a lock on the file with inode `ino`: "pid N (command line)", or null. */
function lockHolder(ino: number | null): string | null {
  if (ino === null) return null;
  for (const { pid } of flockHolders(ino)) {
    if (pid === Deno.pid) return `this process (pid ${pid})`;
    let cmd = "";
    try {
      const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter((s) => s);
      // "deno run -A .../src/cli/main.ts run IMG ..." reads better as "xip run IMG ...".
      const main = argv.findIndex((a) => a.endsWith("cli/main.ts"));
      const shown = main >= 0 ? ["xip", ...argv.slice(main + 1)] : argv;
      if (shown.length > 0) shown[0] = shown[0]!.split("/").at(-1)!;
      cmd = shown.join(" ");
    } catch { /* gone, or not ours to read */ }
    if (cmd.length > 120) cmd = cmd.slice(0, 117) + "...";
    return cmd === "" ? `pid ${pid}` : `pid ${pid} (${cmd})`;
  }
  return null;
}

/**
 * Take the write lock of an existing file at `path` that is about to be
 * replaced (mkfs over an image), so that a Machine running on it is not
 * pulled from under it. Nothing to lock when there is no regular file.
 *
 * @returns the locked handle (close it after the replacement), or null
 * @throws ImageError naming the holder when it is in use
 */
export function lockForReplace(path: string): Deno.FsFile | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    return null;
  }
  if (!st.isFile) return null;
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch {
    return null; // unreadable: the save reports what is wrong
  }
  if (f.tryLockSync(true)) return f;
  f.close();
  const holder = lockHolder(st.ino);
  throw new ImageError(`image ${path} is in use${holder === null ? "" : ` by ${holder}`}`);
}

/** How an image is opened. */
export interface ImageOpenOptions {
  /** Open for writing, with an exclusive lock (default: read-only, shared lock). */
  write?: boolean;
  /** Largest size accepted (default MAX_IMAGE_BYTES). */
  maxBytes?: number;
}

/**
 * Which host file `st` describes ("dev:ino"): a path that names another
 * file now (renamed over, replaced) has another identity.
 */
export const fileIdentity = (st: Deno.FileInfo): string => `${st.dev}:${st.ino}`;

/** An image file, open and locked. */
export class ImageFile {
  #file: Deno.FsFile | null;

  private constructor(
    readonly path: string,
    file: Deno.FsFile,
    readonly size: number,
    readonly writable: boolean,
    readonly sparse: boolean,
    /** fileIdentity of the file opened and locked (fstat: not the path's). */
    readonly identity: string,
  ) {
    this.#file = file;
  }

  /**
   * Open `path` and lock it. Checks come before any byte is read: a regular
   * file (not a FIFO, a device or a directory), a non-zero multiple of
   * 4096 bytes, at most `maxBytes`; for writing, the file must open
   * read-write.
   *
   * @throws ImageError with one line: missing, wrong kind, wrong size, too
   *   big, not writable, or locked (naming the holder)
   */
  static open(path: string, opts: ImageOpenOptions = {}): ImageFile {
    const write = opts.write ?? false;
    const max = opts.maxBytes ?? MAX_IMAGE_BYTES;
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch (e) {
      throw new ImageError(`image ${path}: ${describeHostError(e)}`);
    }
    if (!st.isFile) {
      const kind = st.isDirectory
        ? "a directory"
        : st.isFifo
        ? "a FIFO"
        : st.isCharDevice
        ? "a character device"
        : st.isBlockDevice
        ? "a block device"
        : st.isSocket
        ? "a socket"
        : "not a regular file";
      throw new ImageError(`image ${path}: ${kind}, not an image file`);
    }
    if (st.size === 0) throw new ImageError(`image ${path}: empty`);
    if (st.size % PAGE_SIZE !== 0) {
      throw new ImageError(`image ${path}: size ${st.size} is not a multiple of ${PAGE_SIZE}`);
    }
    if (st.size > max) {
      throw new ImageError(`image ${path}: size ${st.size} exceeds the limit of ${max} bytes`);
    }
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write });
    } catch (e) {
      const why = describeHostError(e);
      if (write && (e instanceof Deno.errors.PermissionDenied || why.startsWith("read-only"))) {
        throw new ImageError(
          `image ${path}: cannot be written (${why}); use --snapshot to run without writing it`,
        );
      }
      throw new ImageError(`image ${path}: ${why}`);
    }
    let locked = false;
    try {
      // A writer waits a moment for readers: ls, cat and fsck -n hold their
      // shared lock only while they read. A writer in the way refuses at once.
      const until = performance.now() + READER_WAIT_MS;
      for (;;) {
        locked = file.tryLockSync(write);
        if (locked || !write || performance.now() > until) break;
        const holders = st.ino === null ? [] : flockHolders(st.ino);
        if (holders.length === 0 || holders.some((h) => !h.shared)) break;
        Atomics.wait(NAP, 0, 0, 20);
      }
    } catch (e) {
      file.close();
      throw new ImageError(`image ${path}: cannot lock: ${describeHostError(e)}`);
    }
    if (!locked) {
      file.close();
      const holder = lockHolder(st.ino);
      throw new ImageError(
        `image ${path} is in use${holder === null ? "" : ` by ${holder}`}` +
          (write ? ": refusing a second writer" : ": a writer holds it"),
      );
    }
    // Fewer blocks allocated than the size needs: a sparse file.
    const sparse = st.blocks !== null && st.blocks * 512 < st.size;
    let identity: string;
    try {
      identity = fileIdentity(file.statSync());
    } catch (e) {
      file.close();
      throw new ImageError(`image ${path}: ${describeHostError(e)}`);
    }
    return new ImageFile(path, file, st.size, write, sparse, identity);
  }

  #open(): Deno.FsFile {
    if (this.#file === null) throw new ImageError(`image ${this.path}: already closed`);
    return this.#file;
  }

  /**
   * The whole image. The file must keep its size while it is read.
   *
   * @throws ImageError on a read error or a size change
   */
  read(): Uint8Array {
    const out = new Uint8Array(this.size);
    this.readInto(out);
    return out;
  }

  /**
   * Read the whole image into `dst` (exactly `size` bytes: a device region).
   *
   * @throws ImageError on a read error or a size change
   */
  readInto(dst: Uint8Array): void {
    const f = this.#open();
    try {
      f.seekSync(0, Deno.SeekMode.Start);
      const chunk = new Uint8Array(Math.min(COPY_CHUNK, dst.length));
      let done = 0;
      while (done < dst.length) {
        const n = f.readSync(chunk.subarray(0, Math.min(chunk.length, dst.length - done)));
        if (n === null || n === 0) break;
        dst.set(chunk.subarray(0, n), done);
        done += n;
      }
      if (done !== dst.length || f.statSync().size !== this.size) {
        throw new ImageError(`image ${this.path}: changed size while being read`);
      }
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(`image ${this.path}: cannot read: ${describeHostError(e)}`);
    }
  }

  /**
   * Make sure later in-place writes cannot run out of space: when the file
   * is sparse, write every all-zero block of `bytes` (the image as read)
   * back as it is, which allocates the holes, then fdatasync. Not recorded:
   * it changes no byte.
   *
   * @throws ImageError naming the host error (ENOSPC: the space is not there)
   */
  reserve(bytes: Uint8Array): void {
    if (!this.sparse || !this.writable) return;
    const f = this.#open();
    const zero = new Uint8Array(PAGE_SIZE * 64);
    try {
      for (let b = 0; b < bytes.length;) {
        if (!isZero(bytes, b, PAGE_SIZE)) {
          b += PAGE_SIZE;
          continue;
        }
        let n = PAGE_SIZE;
        while (b + n < bytes.length && n < zero.length && isZero(bytes, b + n, PAGE_SIZE)) {
          n += PAGE_SIZE;
        }
        f.seekSync(b, Deno.SeekMode.Start);
        for (let done = 0; done < n;) done += f.writeSync(zero.subarray(done, n));
        b += n;
      }
      f.syncDataSync();
    } catch (e) {
      throw new ImageError(
        `image ${this.path}: cannot reserve the space its in-place writes need: ${
          describeHostError(e)
        }`,
      );
    }
  }

  /** pwrite `src` at `off` (see imagePwrite). @throws ImageError */
  pwrite(off: number, src: Uint8Array): void {
    try {
      imagePwrite(this.#open(), off, src);
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(`image ${this.path}: cannot write: ${describeHostError(e)}`);
    }
  }

  /** fdatasync (see imageSync). @throws ImageError */
  sync(): void {
    try {
      imageSync(this.#open());
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(`image ${this.path}: cannot write: ${describeHostError(e)}`);
    }
  }

  /** Release the lock and close. Idempotent. */
  close(): void {
    const f = this.#file;
    this.#file = null;
    try {
      f?.close();
    } catch { /* closing only releases the lock */ }
  }
}

function isZero(b: Uint8Array, off: number, n: number): boolean {
  const w = new Uint32Array(b.buffer, b.byteOffset + off, n / 4);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  return true;
}
