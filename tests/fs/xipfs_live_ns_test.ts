import assert from "node:assert/strict";
import { XFT_DIR, XFT_REG, XFT_SYMLINK, XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import {
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
} from "../../src/abi/errno.ts";
import { asIno, type Ino } from "../../src/abi/types.ts";
import type { InodeRef, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { freshLive, fsckClean, type LiveFs } from "./_live.ts";

const BS = XIPFS_BLOCK_SIZE;

function ref(fs: XipFs, ino: Ino | number): InodeRef {
  assert.ok(ino > 0, `expected an inode, got ${ino}`);
  const r = fs.iget(asIno(ino));
  if (typeof r === "number") throw new Error(`iget ${ino}: ${r}`);
  return r;
}

/** A tree: /a (file), /d (dir), /d/x (file), /d/e (empty dir), /s -> d/x. */
function tree(): LiveFs & { root: InodeRef; d: InodeRef } {
  const live = freshLive();
  const { fs } = live;
  const root = ref(fs, fs.rootIno);
  assert.ok(fs.create(root, "a", 0o644) > 0);
  const d = ref(fs, fs.mkdir(root, "d", 0o755));
  assert.ok(fs.create(d, "x", 0o600) > 0);
  assert.ok(fs.mkdir(d, "e", 0o700) > 0);
  assert.ok(fs.symlink(root, "s", "d/x") > 0);
  return { ...live, root, d };
}

const names = (fs: XipFs, dir: InodeRef) => {
  const r = fs.readdir(dir, 0);
  if (typeof r === "number") throw new Error(`readdir ${r}`);
  return r.map((e) => e.name).sort();
};

Deno.test("namespace ops return Linux errnos for bad requests", () => {
  const t = tree();
  const { fs, root, d } = t;
  const a = ref(fs, fs.lookup(root, "a"));
  assert.ok(fs.mkdir(root, "z0", 0o755) > 0);
  const long = "n".repeat(256);
  const cases: [string, () => number, number][] = [
    ["lookup missing", () => fs.lookup(root, "nope"), -ENOENT],
    ["lookup in a file", () => fs.lookup(a, "x"), -ENOTDIR],
    ["lookup too long", () => fs.lookup(root, long), -ENAMETOOLONG],
    ["create existing", () => fs.create(root, "a", 0o644), -EEXIST],
    ["create dot", () => fs.create(root, ".", 0o644), -EEXIST],
    ["create in a file", () => fs.create(a, "y", 0o644), -ENOTDIR],
    ["create too long", () => fs.create(root, long, 0o644), -ENAMETOOLONG],
    ["create with slash", () => fs.create(root, "p/q", 0o644), -EINVAL],
    ["mkdir existing", () => fs.mkdir(root, "d", 0o755), -EEXIST],
    ["unlink missing", () => fs.unlink(root, "nope"), -ENOENT],
    ["unlink a directory", () => fs.unlink(root, "d"), -EISDIR],
    ["rmdir a file", () => fs.rmdir(root, "a"), -ENOTDIR],
    ["rmdir non-empty", () => fs.rmdir(root, "d"), -ENOTEMPTY],
    ["rmdir dot", () => fs.rmdir(root, "."), -EINVAL],
    ["rmdir dotdot", () => fs.rmdir(d, ".."), -ENOTEMPTY],
    ["rename missing", () => fs.rename(root, "nope", root, "z"), -ENOENT],
    ["rename file over dir", () => fs.rename(root, "a", d, "e"), -EISDIR],
    ["rename dir over file", () => fs.rename(d, "e", root, "a"), -ENOTDIR],
    ["rename dir over non-empty dir", () => fs.rename(root, "z0", root, "d"), -ENOTEMPTY],
    ["rename dir into itself", () => fs.rename(root, "d", d, "inside"), -EINVAL],
    ["rename over an ancestor", () => fs.rename(d, "e", root, "d"), -ENOTEMPTY],
    ["rename dot", () => fs.rename(root, ".", root, "z"), -EBUSY],
    ["readlink of a file", () => fs.readlink(a) as number, -EINVAL],
    ["symlink empty target", () => fs.symlink(root, "empty", ""), -EINVAL],
    ["symlink target too long", () => fs.symlink(root, "big", "t".repeat(BS)), -ENAMETOOLONG],
  ];
  for (const [what, call, want] of cases) assert.equal(call(), want, what);
  assert.deepEqual(names(fs, root), [".", "..", "a", "d", "s", "z0"], "nothing changed");
  fs.iput(a);
  fs.iput(d);
  fs.iput(root);
  fsckClean(t);
});

Deno.test("mkdir() and rmdir() keep link counts; readdir() lists . and .. and resumes at a cookie", () => {
  const t = tree();
  const { fs, root, d } = t;
  assert.equal(fs.getattr(root).nlink, 3, "root: . , .. and d/..");
  assert.equal(fs.getattr(d).nlink, 3, "d: entry, . and e/..");
  for (let i = 0; i < 200; i++) assert.ok(fs.create(d, `file-with-a-long-name-${i}`, 0o644) > 0);
  const all = fs.readdir(d, 0);
  if (typeof all === "number") throw new Error(String(all));
  assert.equal(all.length, 204);
  assert.deepEqual(all.slice(0, 2).map((e) => [e.name, e.type]), [[".", XFT_DIR], ["..", XFT_DIR]]);
  // Page through with a small max: same entries, in order.
  const paged: string[] = [];
  for (let cookie = 0;;) {
    const part = fs.readdir(d, cookie, 7);
    if (typeof part === "number") throw new Error(String(part));
    if (part.length === 0) break;
    paged.push(...part.map((e) => e.name));
    cookie = part.at(-1)!.next;
  }
  assert.deepEqual(paged, all.map((e) => e.name));
  assert.ok(fs.getattr(d).size > BS, "directory grew past one block");
  assert.equal(fs.rmdir(d, "e"), 0);
  assert.equal(fs.getattr(d).nlink, 2);
  assert.equal(fs.lookup(d, "e"), -ENOENT);
  fs.iput(d);
  fs.iput(root);
  fsckClean(t);
});

Deno.test("rename() moves within and across directories and replaces targets", () => {
  const t = tree();
  const { fs, root, d } = t;
  const a = fs.lookup(root, "a");
  // same directory
  assert.equal(fs.rename(root, "a", root, "b"), 0);
  assert.equal(fs.lookup(root, "a"), -ENOENT);
  assert.equal(fs.lookup(root, "b"), a);
  // across directories, replacing a file (the replaced inode is freed)
  const x = fs.lookup(d, "x");
  const xr = ref(fs, x);
  assert.equal(fs.getattr(xr).nlink, 1);
  fs.iput(xr);
  assert.equal(fs.rename(root, "b", d, "x"), 0);
  assert.equal(fs.lookup(d, "x"), a);
  assert.equal(fs.lookup(root, "b"), -ENOENT);
  assert.equal(fs.iget(asIno(x)), -ENOENT, "the replaced file was freed");
  // a directory across directories: its ".." follows, link counts move
  const e = fs.lookup(d, "e");
  assert.equal(fs.rename(d, "e", root, "e2"), 0);
  const e2 = ref(fs, e);
  assert.equal(fs.lookup(e2, ".."), fs.rootIno);
  assert.equal(fs.getattr(d).nlink, 2);
  assert.equal(fs.getattr(root).nlink, 4);
  // a directory over an empty directory
  assert.ok(fs.mkdir(root, "empty", 0o755) > 0);
  assert.equal(fs.rename(root, "e2", root, "empty"), 0);
  assert.equal(fs.lookup(root, "empty"), e);
  assert.equal(fs.getattr(root).nlink, 4);
  // onto itself: nothing happens
  assert.equal(fs.rename(root, "empty", root, "empty"), 0);
  fs.iput(e2);
  fs.iput(d);
  fs.iput(root);
  fsckClean(t);
});

Deno.test("symlink() stores short and long targets; readlink() returns them", () => {
  const t = tree();
  const { fs, root } = t;
  const long = "p/".repeat(100) + "end";
  const s = ref(fs, fs.lookup(root, "s"));
  const l = ref(fs, fs.symlink(root, "long", long));
  assert.equal(fs.readlink(s), "d/x");
  assert.equal(fs.readlink(l), long);
  assert.equal(fs.getattr(l).size, long.length);
  const types = fs.readdir(root, 0);
  if (typeof types === "number") throw new Error(String(types));
  assert.equal(types.find((e) => e.name === "long")!.type, XFT_SYMLINK);
  assert.equal(types.find((e) => e.name === "a")!.type, XFT_REG);
  fs.iput(s);
  fs.iput(l);
  assert.equal(fs.unlink(root, "long"), 0);
  fs.iput(root);
  fsckClean(t);
});

Deno.test("unlink() of an open file keeps its data until the last iput, then frees it (orphan)", () => {
  const t = tree();
  const { fs, root } = t;
  const free0 = fs.freeBlocks();
  const ip = ref(fs, fs.create(root, "tmp", 0o644));
  const data = new Uint8Array(20 * BS).fill(9);
  assert.equal(fs.daxWrite(ip, 0, data), data.length);
  assert.equal(fs.unlink(root, "tmp"), 0);
  assert.equal(fs.lookup(root, "tmp"), -ENOENT);
  assert.equal(fs.getattr(ip).nlink, 0);
  const out = new Uint8Array(data.length);
  assert.equal(fs.daxRead(ip, 0, out), data.length);
  assert.deepEqual(out, data);
  assert.ok(fs.freeBlocks() < free0);
  fs.iput(ip);
  assert.equal(fs.freeBlocks(), free0, "blocks freed at the last iput");
  assert.equal(fs.iget(ip.ino), -ENOENT, "inode freed");
  fs.iput(root);
  fsckClean(t);
});
