import assert from "node:assert/strict";
import { ENOENT, ENXIO } from "../../src/abi/errno.ts";
import { O_CREAT, O_RDWR, SEEK_CUR, SEEK_DATA, SEEK_HOLE, SEEK_SET } from "../../src/abi/fcntl.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import {
  type Proc,
  vfsClose,
  vfsFsync,
  vfsFtruncate,
  vfsLseek,
  vfsPread,
  vfsPwrite,
  vfsRead,
  vfsWrite,
} from "../../src/fs/vfs.ts";
import { vfsOpen, vfsRename, vfsUnlink } from "../../src/fs/vfs_path.ts";
import { boot, MODES } from "./_vfs_harness.ts";

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The model of one file: bytes, and the blocks that hold data (written since the last cut). */
interface MFile {
  data: Uint8Array;
  blocks: Set<number>;
}

interface MFd {
  fd: number;
  file: MFile;
  pos: number;
}

const NAMES = ["a", "b", "c", "d", "e"];
const MAX_POS = 12 * PAGE_SIZE;

function resize(f: MFile, size: number): void {
  const n = new Uint8Array(size);
  n.set(f.data.subarray(0, Math.min(size, f.data.length)));
  if (size < f.data.length) {
    const keep = Math.ceil(size / PAGE_SIZE);
    for (const b of [...f.blocks]) if (b >= keep) f.blocks.delete(b);
  }
  f.data = n;
}

function modelWrite(f: MFile, pos: number, src: Uint8Array): void {
  if (pos + src.length > f.data.length) resize(f, pos + src.length);
  f.data.set(src, pos);
  for (let b = Math.floor(pos / PAGE_SIZE); b * PAGE_SIZE < pos + src.length; b++) f.blocks.add(b);
}

function modelSeek(f: MFile, pos: number, data: boolean): number {
  const size = f.data.length;
  if (pos >= size) return -ENXIO;
  for (let b = Math.floor(pos / PAGE_SIZE); b * PAGE_SIZE < size; b++) {
    if (f.blocks.has(b) === data) return Math.max(pos, b * PAGE_SIZE);
  }
  return data ? -ENXIO : size;
}

/** Run `ops` random operations against the VFS and the model; throws on the first mismatch. */
function run(proc: Proc, seed: number, ops: number): void {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  const names = new Map<string, MFile>();
  const fds: MFd[] = [];
  const bytes = (n: number) => new Uint8Array(n).map(() => int(256));
  for (let i = 0; i < ops; i++) {
    const r = rand();
    const where = `op ${i}`;
    if (r < 0.12 || fds.length === 0) { // open (creating)
      const name = pick(NAMES);
      if (fds.length >= 12) continue;
      const fd = vfsOpen(proc, "/" + name, O_CREAT | O_RDWR);
      assert.ok(fd >= 0, `${where}: open ${name} -> ${fd}`);
      let f = names.get(name);
      if (!f) names.set(name, f = { data: new Uint8Array(0), blocks: new Set() });
      fds.push({ fd, file: f, pos: 0 });
    } else if (r < 0.18) { // close
      const k = int(fds.length);
      assert.equal(vfsClose(proc, fds[k]!.fd), 0, `${where}: close`);
      fds.splice(k, 1);
    } else if (r < 0.32) { // write at pos
      const m = pick(fds);
      const src = bytes(1 + int(2 * PAGE_SIZE));
      assert.equal(vfsWrite(proc, m.fd, src), src.length, `${where}: write`);
      modelWrite(m.file, m.pos, src);
      m.pos += src.length;
    } else if (r < 0.44) { // pwrite anywhere (holes beyond EOF)
      const m = pick(fds);
      const src = bytes(1 + int(PAGE_SIZE + 100));
      const pos = int(MAX_POS);
      assert.equal(vfsPwrite(proc, m.fd, src, pos), src.length, `${where}: pwrite`);
      modelWrite(m.file, pos, src);
    } else if (r < 0.5) { // lseek beyond EOF, then write
      const m = pick(fds);
      const pos = m.file.data.length + int(3 * PAGE_SIZE);
      assert.equal(vfsLseek(proc, m.fd, pos, SEEK_SET), pos, `${where}: lseek`);
      m.pos = pos;
      const src = bytes(1 + int(50));
      assert.equal(vfsWrite(proc, m.fd, src), src.length, `${where}: write after lseek`);
      modelWrite(m.file, pos, src);
      m.pos += src.length;
    } else if (r < 0.62) { // read at pos
      const m = pick(fds);
      const buf = new Uint8Array(1 + int(2 * PAGE_SIZE));
      const n = vfsRead(proc, m.fd, buf);
      const want = m.file.data.subarray(m.pos, m.pos + buf.length);
      assert.equal(n, want.length, `${where}: read length`);
      assert.deepEqual(buf.subarray(0, n), want, `${where}: read bytes`);
      m.pos += n;
    } else if (r < 0.72) { // pread anywhere
      const m = pick(fds);
      const pos = int(MAX_POS);
      const buf = new Uint8Array(1 + int(2 * PAGE_SIZE));
      const n = vfsPread(proc, m.fd, buf, pos);
      const want = m.file.data.subarray(pos, pos + buf.length);
      assert.equal(n, want.length, `${where}: pread length`);
      assert.deepEqual(buf.subarray(0, n), want, `${where}: pread bytes`);
    } else if (r < 0.8) { // truncate grow or shrink
      const m = pick(fds);
      const size = int(MAX_POS);
      assert.equal(vfsFtruncate(proc, m.fd, size), 0, `${where}: ftruncate ${size}`);
      resize(m.file, size);
    } else if (r < 0.86) { // SEEK_DATA / SEEK_HOLE
      const m = pick(fds);
      const pos = int(MAX_POS);
      const data = rand() < 0.5;
      const got = vfsLseek(proc, m.fd, pos, data ? SEEK_DATA : SEEK_HOLE);
      assert.equal(
        got,
        modelSeek(m.file, pos, data),
        `${where}: SEEK_${data ? "DATA" : "HOLE"} ${pos}`,
      );
      if (got >= 0) m.pos = got;
      else assert.equal(vfsLseek(proc, m.fd, m.pos, SEEK_SET), m.pos);
    } else if (r < 0.9) { // unlink
      const name = pick(NAMES);
      assert.equal(vfsUnlink(proc, "/" + name), names.has(name) ? 0 : -ENOENT, `${where}: unlink`);
      names.delete(name);
    } else if (r < 0.95) { // rename
      const from = pick(NAMES);
      const to = pick(NAMES);
      const f = names.get(from);
      assert.equal(vfsRename(proc, "/" + from, "/" + to), f ? 0 : -ENOENT, `${where}: rename`);
      if (f) {
        names.delete(from);
        names.set(to, f);
      }
    } else { // fsync
      assert.equal(vfsFsync(proc, pick(fds).fd), 0, `${where}: fsync`);
    }
    if (fds.length > 0 && rand() < 0.02) {
      const m = pick(fds);
      assert.equal(vfsLseek(proc, m.fd, 0, SEEK_CUR), m.pos, `${where}: position`);
    }
  }
  for (const m of fds) assert.equal(vfsClose(proc, m.fd), 0);
  for (const [name, f] of names) {
    const fd = vfsOpen(proc, "/" + name, O_RDWR);
    const buf = new Uint8Array(f.data.length + 1);
    assert.equal(vfsPread(proc, fd, buf, 0), f.data.length, `final ${name} size`);
    assert.deepEqual(buf.subarray(0, f.data.length), f.data, `final ${name} bytes`);
    assert.equal(vfsClose(proc, fd), 0);
  }
}

const envSeed = Deno.env.get("VFS_SEED");
const SEED = envSeed !== undefined
  ? Number(envSeed)
  : (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
const OPS = Number(Deno.env.get("VFS_OPS") ?? 3000);

const CASES = [
  ...MODES.map((mode) => ({ mode, ramFrames: 128, what: "" })),
  { mode: "pagecache" as const, ramFrames: 32, what: " under RAM pressure (eviction)" },
];

for (const { mode, ramFrames, what } of CASES) {
  Deno.test(`vfs random ops match an in-memory model and leave fsck clean in ${mode} mode${what}`, () => {
    const m = boot(mode, { deviceBlocks: 2048, ramFrames });
    try {
      run(m.proc, SEED, OPS);
      assert.deepEqual(m.unmountAndFsck().errors, [], "fsck");
    } catch (e) {
      console.error(`vfs random test failed in ${mode} mode: rerun with VFS_SEED=${SEED}`);
      throw e;
    }
  });
}
