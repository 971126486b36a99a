/**
 * StackedFs (src/fs/stacked_fs.ts): a layer passes every call on an inode
 * it does not own to the layer below with every argument (the table below
 * must name every VfsFs method, or the type check fails), serves its own
 * inodes through its hooks, and guards the names it covers.
 */

import assert from "node:assert/strict";
import { EBUSY, EEXIST, EISDIR, ENOTDIR, EXDEV } from "../../src/abi/errno.ts";
import { asIno, asInodeSlot } from "../../src/abi/types.ts";
import { type Cover, specialAttr, StackedFs } from "../../src/fs/stacked_fs.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../../src/fs/vfs_fs.ts";

/** The methods of VfsFs (aopsLookup is a function-valued field, copied from below). */
type VfsMethod = Exclude<
  {
    [K in keyof VfsFs]-?: Required<VfsFs>[K] extends (...a: never[]) => unknown ? K : never;
  }[keyof VfsFs],
  "aopsLookup"
>;

const lowerIp: VInode = { ino: asIno(5), slot: asInodeSlot(7) };
const dir2: VInode = { ino: asIno(6), slot: asInodeSlot(8) };
const buf = new Uint8Array(3);
const emit = (_e: VDirent): boolean => true;

/** One call of every method, every optional argument given (a missing key is a type error). */
const CALLS: { [K in VfsMethod]: Parameters<Required<VfsFs>[K]> } = {
  iget: [asIno(5)],
  iput: [lowerIp],
  handle: [asIno(5), asInodeSlot(7)],
  isDax: [lowerIp],
  stream: [lowerIp],
  poll: [lowerIp, 0o4000],
  getattr: [lowerIp],
  size: [lowerIp],
  iRwsem: [lowerIp],
  open: [lowerIp, 0o2],
  getBlock: [lowerIp, 9, true],
  daxRead: [lowerIp, 11, buf, 0o4000],
  daxWrite: [lowerIp, 12, buf, 0o4000],
  daxAppend: [lowerIp, buf, 0o4000],
  setSize: [lowerIp, 4096],
  truncate: [lowerIp, 10],
  punchHole: [lowerIp, 4096, 8192],
  fallocate: [lowerIp, 0x10, 0, 4096],
  fsync: [lowerIp],
  writeAccess: [lowerIp, "deny"],
  lookup: [lowerIp, "a"],
  create: [lowerIp, "b", 0o100644],
  mkdir: [lowerIp, "c", 0o755],
  mknod: [lowerIp, "d", 0o140755],
  link: [lowerIp, dir2, "e"],
  unlink: [lowerIp, "f"],
  rmdir: [lowerIp, "g"],
  rename: [lowerIp, "h", dir2, "i", true],
  symlink: [lowerIp, "j", "/target"],
  readlink: [lowerIp],
  readdir: [lowerIp, 3, emit],
};

/** A lower VfsFs that records each call and answers with a token naming it. */
function recordingLower(): { fs: VfsFs; calls: [string, unknown[]][] } {
  const calls: [string, unknown[]][] = [];
  const fields: Record<string, unknown> = {
    mem: { layout: { files: { base: 100 } } },
    dev: {},
    rootIno: asIno(1),
    maxBytes: 1 << 30,
    aops: {},
    aopsLookup: {},
  };
  const fs = new Proxy({}, {
    get: (_t, prop) =>
      typeof prop === "string" && prop in fields ? fields[prop] : (...args: unknown[]) => {
        calls.push([String(prop), args]);
        return `lower.${String(prop)}`;
      },
  }) as VfsFs;
  return { fs, calls };
}

const OWN = 1000;
const ownIp: VInode = { ino: asIno(OWN), slot: asInodeSlot(1) };

/** A layer owning inode OWN, covering "mnt" (a directory) and "node" in every lower directory. */
class TestLayer extends StackedFs {
  protected override owns(ino: number): boolean {
    return ino === OWN;
  }
  protected override ownGetattr(ip: VInode): VAttr {
    return specialAttr(ip.ino, 0o20666, 0);
  }
  protected override cover(_dir: VInode, name: string): Cover | null {
    if (name === "mnt") return { ino: asIno(OWN), dir: true };
    return name === "node" ? { ino: asIno(OWN), dir: false } : null;
  }
  protected override ownDaxRead(_ip: VInode, pos: number): number {
    return 1000 + pos;
  }
}

Deno.test("StackedFs forwards every VfsFs method on a lower inode with every argument", () => {
  const { fs, calls } = recordingLower();
  const layer = new TestLayer(fs);
  for (const [name, args] of Object.entries(CALLS)) {
    calls.length = 0;
    const f = layer[name as VfsMethod] as (...a: unknown[]) => unknown;
    const r = f.apply(layer, args);
    assert.deepEqual(calls, [[name, args]], `${name} reaches the lower layer once, unchanged`);
    if (name !== "iput" && name !== "setSize") {
      assert.deepEqual(r, `lower.${name}`, `${name} returns the lower layer's answer`);
    }
  }
});

Deno.test("StackedFs copies the lower layer's fields (root, limits, page-cache ops)", () => {
  const { fs } = recordingLower();
  const layer = new TestLayer(fs);
  for (const k of ["mem", "dev", "rootIno", "maxBytes", "aops", "aopsLookup"] as const) {
    assert.equal(layer[k], fs[k], k);
  }
});

Deno.test("StackedFs serves its own inodes through its hooks and never calls the layer below", () => {
  const { fs, calls } = recordingLower();
  const layer = new TestLayer(fs);
  assert.deepEqual(layer.daxRead(ownIp, 5, buf), 1005);
  assert.deepEqual(layer.getattr(ownIp).mode, 0o20666);
  assert.deepEqual(layer.isDax(ownIp), true);
  assert.deepEqual(layer.handle(asIno(OWN), asInodeSlot(4)), { ino: asIno(OWN), slot: 4 });
  assert.deepEqual(layer.lookup(ownIp, "x"), -ENOTDIR);
  assert.deepEqual(layer.rename(ownIp, "x", lowerIp, "y"), -ENOTDIR);
  assert.deepEqual(layer.link(ownIp, lowerIp, "y"), -EXDEV, "a special inode links into no mount");
  assert.deepEqual(layer.link(lowerIp, ownIp, "y"), -ENOTDIR);
  assert.deepEqual(layer.iRwsem(ownIp) > 100, true, "procfs's stand-in rwsem in FILES");
  assert.deepEqual(calls, []);
});

Deno.test("StackedFs answers for a covered name in a lower directory as for a mount point", () => {
  const { fs, calls } = recordingLower();
  const layer = new TestLayer(fs);
  assert.deepEqual(layer.lookup(lowerIp, "mnt"), OWN);
  assert.deepEqual(layer.create(lowerIp, "mnt", 0o644), -EEXIST);
  assert.deepEqual(layer.mkdir(lowerIp, "node", 0o755), -EEXIST);
  assert.deepEqual(layer.symlink(lowerIp, "mnt", "/x"), -EEXIST);
  assert.deepEqual(layer.link(dir2, lowerIp, "node"), -EEXIST);
  assert.deepEqual(layer.unlink(lowerIp, "mnt"), -EISDIR);
  assert.deepEqual(layer.unlink(lowerIp, "node"), -EBUSY);
  assert.deepEqual(layer.rmdir(lowerIp, "mnt"), -EBUSY);
  assert.deepEqual(layer.rename(lowerIp, "a", dir2, "mnt"), -EBUSY);
  assert.deepEqual(layer.rename(lowerIp, "node", dir2, "b"), -EBUSY);
  assert.deepEqual(calls, []);
});
