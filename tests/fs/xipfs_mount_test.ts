import assert from "node:assert/strict";
import {
  XIP_FL_DAX,
  XIPFS_BLOCK_SIZE,
  XIPFS_STATE_CLEAN,
  XIPFS_STATE_DIRTY,
} from "../../src/abi/layout/mod.ts";
import { EBUSY } from "../../src/abi/errno.ts";
import { asIno, asTaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { HostFileDevice } from "../../src/hw/host_device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import { openVolume, superGet } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { attachXipfs, type DaxOption, mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";
import { freshLive, fsckClean, newFile, pcRead, pcWrite } from "./_live.ts";

const BS = XIPFS_BLOCK_SIZE;

function bareMemory(image?: Uint8Array, ramFrames = 256) {
  const mem = createMemory({ ramFrames, deviceFrames: 2048, deviceMemmap: false, maxTasks: 4 }, {
    image,
  });
  setDebug(mem.k32, DEBUG_LOCKDEP, true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  return mem;
}

function tempImage(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ prefix: "xip-livefs-", suffix: ".img" });
  Deno.writeFileSync(path, bytes);
  return path;
}

Deno.test("mountXipfs() refuses dax=always on a device without directAccess, with one clear line", () => {
  const path = tempImage(mkfs({ sizeBytes: 1 << 20 }));
  const mem = bareMemory();
  const dev = new HostFileDevice(path);
  try {
    const r = mountXipfs(mem, dev, { dax: "always" });
    assert.ok(!(r instanceof XipFs));
    assert.match(r.error, /dax=always.*directAccess/);
    assert.ok(!r.error.includes("\n"));
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});

Deno.test("mountXipfs() refuses a bad image with one line and leaves the machine unmounted", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["zeroed", new Uint8Array(1 << 20), /bad magic/],
    ["truncated", mkfs({ sizeBytes: 8 << 20 }).subarray(0, 1 << 20), /truncated/],
  ];
  for (const [name, img, re] of cases) {
    const mem = bareMemory(img.length % BS === 0 ? img : undefined);
    // A memory device larger than the truncated image still only holds what was loaded:
    // use a HostFileDevice for the truncated case so the device size is the image size.
    const path = tempImage(img);
    const dev = name === "truncated" ? new HostFileDevice(path) : new MemDevice(mem);
    try {
      const r = mountXipfs(mem, dev, { dax: "never" });
      assert.ok(!(r instanceof XipFs), name);
      assert.match(r.error, re, name);
      assert.ok(!r.error.includes("\n"));
      assert.ok(!(attachXipfs(mem, new MemDevice(mem)) instanceof XipFs), "not mounted");
    } finally {
      if (dev instanceof HostFileDevice) dev.close();
      Deno.removeSync(path);
    }
  }
});

const DAX_CASES: [DaxOption, boolean, boolean][] = [
  // mount option, S_DAX of a file with XIP_FL_DAX, of a file without
  ["always", true, true],
  ["inode", true, false],
  ["never", false, false],
];

for (const [opt, withFlag, without] of DAX_CASES) {
  Deno.test(`isDax() follows the mount option and the inode flag under dax=${opt}`, () => {
    const { fs } = freshLive({ mount: { dax: opt } });
    assert.equal(fs.daxMode, opt);
    const a = newFile(fs, "flagged"); // inherits XIP_FL_DAX from the root (mkfs sets it)
    const b = newFile(fs, "plain", 0);
    assert.equal(fs.isDax(a), withFlag);
    assert.equal(fs.isDax(b), without);
    assert.equal(fs.getattr(a).dax, withFlag);
    fs.iput(a);
    fs.iput(b);
  });
}

Deno.test("create() inherits XIP_FL_DAX from its directory", () => {
  const { fs } = freshLive({ mount: { dax: "inode" }, daxFlag: false });
  const a = newFile(fs, "a");
  assert.equal(fs.isDax(a), false);
  const b = newFile(fs, "b", XIP_FL_DAX);
  assert.equal(fs.isDax(b), true);
  fs.iput(a);
  fs.iput(b);
});

Deno.test("mount marks the superblock dirty and unmount marks it clean; busy inodes block unmount", () => {
  const live = freshLive();
  const { fs, dev } = live;
  assert.equal(superGet(fs.vol, "state"), XIPFS_STATE_DIRTY);
  assert.equal(superGet(fs.vol, "mountCount"), 1);
  assert.ok(!(mountXipfs(live.mem, dev, { dax: "never" }) instanceof XipFs), "already mounted");
  const ip = newFile(fs, "f");
  assert.equal(fs.unmount(), -EBUSY);
  fs.iput(ip);
  assert.equal(fs.unmount(), 0);
  assert.equal(superGet(fs.vol, "state"), XIPFS_STATE_CLEAN);
  fsckClean(live);
  assert.ok(!(attachXipfs(live.mem, dev) instanceof XipFs), "attach after unmount");
});

Deno.test("a bio-only device mounts in page-cache mode: metadata in the page cache, data via bio, unmount writes it all", () => {
  const path = tempImage(mkfs({ sizeBytes: 2 << 20 }));
  const mem = bareMemory(undefined, 64); // small RAM: eviction of data pages runs too
  const dev = new HostFileDevice(path, { mem });
  try {
    const fs = mountXipfs(mem, dev, { dax: "inode" });
    if (!(fs instanceof XipFs)) throw new Error(fs.error);
    const live = { mem, dev: new MemDevice(mem), fs, image: new Uint8Array() };
    const root = fs.iget(fs.rootIno);
    if (typeof root === "number") throw new Error("root");
    const d = fs.mkdir(root, "dir", 0o755);
    assert.ok(d > 0);
    const dref = fs.iget(asIno(d));
    if (typeof dref === "number") throw new Error("dir");
    const files: [string, Uint8Array][] = [];
    for (let i = 0; i < 30; i++) {
      const data = Uint8Array.from({ length: 1000 * i + 17 }, (_, k) => (k + i) & 0xff);
      files.push([`f${i}`, data]);
      const ino = fs.create(dref, `f${i}`, 0o644);
      assert.ok(ino > 0, `create f${i}: ${ino}`);
      const ip = fs.iget(asIno(ino));
      if (typeof ip === "number") throw new Error("iget");
      assert.equal(fs.isDax(ip), false, "no DAX without directAccess");
      pcWrite(live, ip, 0, data);
      assert.deepEqual(pcRead(live, ip, 0, data.length), data);
      fs.iput(ip);
    }
    const big = fs.create(root, "big", 0o644);
    const bip = fs.iget(asIno(big));
    if (typeof bip === "number") throw new Error("big");
    pcWrite(live, bip, 0, new Uint8Array(300 * BS).fill(7)); // needs the indirect block
    assert.equal(fs.truncate(bip, 20 * BS), 0);
    fs.iput(bip);
    assert.equal(fs.symlink(root, "link", "dir/f3"), fs.lookup(root, "link"));
    assert.equal(fs.unlink(dref, "f0"), 0);
    fs.iput(dref);
    fs.iput(root);
    assert.equal(fs.unmount(), 0);
    const img = Deno.readFileSync(path);
    const res = fsck(img);
    assert.deepEqual(res.errors, []);
    const o = openVolume(img);
    if (!o.ok) throw new Error(o.error);
    assert.equal(superGet(o.vol, "state"), XIPFS_STATE_CLEAN);
    for (const [name, data] of files.slice(1)) {
      const ino = namei(o.vol, `/dir/${name}`);
      assert.ok(ino > 0, name);
      assert.deepEqual(fileRead(o.vol, ino, 0, 1 << 20), data, name);
    }
    assert.equal(namei(o.vol, "/dir/f0"), -2);
    assert.deepEqual(fileRead(o.vol, namei(o.vol, "/link"), 0, 100), files[3]![1].subarray(0, 100));
  } finally {
    dev.close();
    Deno.removeSync(path);
  }
});
