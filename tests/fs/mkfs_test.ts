import assert from "node:assert/strict";
import {
  XIP_FL_DAX,
  XIPFS_BLOCK_SIZE,
  XIPFS_SYMLINK_INLINE_MAX,
} from "../../src/abi/layout/mod.ts";
import { ELOOP, ENOENT } from "../../src/abi/errno.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfs, MkfsError, mkfsInto } from "../../src/fs/xipfs/mkfs.ts";
import { fileRead, symlinkRead } from "../../src/fs/xipfs/xipfs_file.ts";
import {
  inodeGet,
  inodeGetSize,
  openVolume,
  S_IALLUGO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type XipVol,
} from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { listPath } from "../../src/cli/cmd_ls.ts";
import { makeHostTree, sha256 } from "./_host_tree.ts";

const tree = makeHostTree(7);
const image = mkfs({ sizeBytes: 16 << 20, from: tree.dir });
const vol: XipVol = (() => {
  const o = openVolume(image);
  if (!o.ok) throw new Error(o.error);
  return o.vol;
})();

Deno.test.afterAll(() => Deno.removeSync(tree.dir, { recursive: true }));

Deno.test("mkfs() from a host tree gives an image fsck finds clean", () => {
  assert.deepEqual(fsck(image), { status: 0, errors: [] });
});

for (const f of tree.files) {
  Deno.test(`mkfs() copies ${f.path} (${f.bytes.length} bytes) byte for byte, mode 0${f.perm.toString(8)}`, async () => {
    const ino = namei(vol, f.path);
    assert.ok(ino > 0, `namei(${f.path}) = ${ino}`);
    const mode = inodeGet(vol, ino, "mode");
    assert.equal(mode & S_IFMT, S_IFREG);
    assert.equal(mode & S_IALLUGO, f.perm);
    assert.equal(inodeGetSize(vol, ino), f.bytes.length);
    const data = fileRead(vol, ino, 0, f.bytes.length + 10);
    assert.ok(data instanceof Uint8Array);
    assert.equal(await sha256(data), await sha256(f.bytes));
    assert.equal(
      inodeGet(vol, ino, "flags") & XIP_FL_DAX,
      XIP_FL_DAX,
      "regular files get the DAX flag",
    );
  });
}

Deno.test("mkfs() keeps directories' permission bits and counts their links", () => {
  for (const [d, perm] of Object.entries(tree.dirs)) {
    const ino = namei(vol, d);
    assert.equal(inodeGet(vol, ino, "mode"), S_IFDIR | perm, d);
  }
  // /data holds deep/ (one subdirectory): 2 + 1
  assert.equal(inodeGet(vol, namei(vol, "/data"), "links"), 3);
  // root: ".", "..", and the ".." of bin, lib, data
  assert.equal(inodeGet(vol, namei(vol, "/"), "links"), 5);
});

Deno.test("mkfs() stores short symlink targets inline and long ones in a block", () => {
  for (const [p, target] of Object.entries(tree.symlinks)) {
    const ino = namei(vol, p, false);
    assert.equal(inodeGet(vol, ino, "mode"), S_IFLNK | 0o777);
    assert.equal(symlinkRead(vol, ino), target);
    const inline = target.length <= XIPFS_SYMLINK_INLINE_MAX;
    assert.equal(inodeGet(vol, ino, "blocks"), inline ? 0 : 1, p);
  }
});

Deno.test("mkfs() keeps host hard links as one inode with two links", () => {
  const a = namei(vol, "/hello.txt");
  assert.equal(namei(vol, "/data/hardlink"), a);
  assert.equal(inodeGet(vol, a, "links"), 2);
});

Deno.test("mkfs() leaves whole zero blocks of a host file as holes", () => {
  const ino = namei(vol, "/data/deep/er/sparse");
  for (let ib = 0; ib < 20; ib++) {
    const b = bmapLookup(vol, ino, ib);
    if (ib >= 3 && ib < 6) assert.equal(b, 0, `iblock ${ib} should be a hole`);
    else assert.ok(b > 0, `iblock ${ib} should be mapped`);
  }
  assert.equal(inodeGet(vol, ino, "blocks"), 17 + 1, "17 data blocks + the indirect block");
});

Deno.test("mkfs() maps the double-indirect range for a file of 1100 blocks", () => {
  const ino = namei(vol, "/data/big.bin");
  assert.ok(bmapLookup(vol, ino, 1036) > 0);
  assert.ok(bmapLookup(vol, ino, 1100) > 0);
  assert.equal(bmapLookup(vol, ino, 1101), 0);
  // 1101 data blocks + single indirect + double indirect + one indirect under it
  assert.equal(inodeGet(vol, ino, "blocks"), 1101 + 3);
});

Deno.test("namei() follows symlinks, . and .., and reports ENOENT", () => {
  assert.equal(namei(vol, "/bin/rel"), namei(vol, "/hello.txt"));
  assert.equal(namei(vol, "/abs"), namei(vol, "/data/deep/er/sparse"));
  assert.equal(namei(vol, "/lib/long"), namei(vol, "/lib/medium.so"));
  assert.equal(namei(vol, "/data/deep/../../bin/./prog"), namei(vol, "bin/prog"));
  assert.equal(namei(vol, "/.."), vol.sb.rootIno);
  assert.equal(namei(vol, "/dangling"), -ENOENT);
  assert.ok(namei(vol, "/dangling", false) > 0);
});

Deno.test("listPath() prints ls -l rows: mode, links, size, name, and link targets", () => {
  const rows = listPath(vol, "/");
  const names = rows.map((r) => /^\S+ +\d+ +\d+ (.*)$/.exec(r)?.[1]);
  assert.deepEqual(names, [
    "abs -> /data/deep/er/sparse",
    "bin",
    "dangling -> /nope",
    "data",
    "empty",
    "hello.txt",
    "lib",
  ]);
  assert.match(rows.find((r) => r.endsWith(" hello.txt"))!, /^-rw-r--r-- 2 +13 hello\.txt$/);
  assert.match(listPath(vol, "/bin/prog")[0]!, /^-rwxr-xr-x 1 20603 \/bin\/prog$/);
  assert.match(listPath(vol, "/data/suid")[0]!, /^-rwsr-xr-x /);
  assert.match(listPath(vol, "/data")[2]!, /^-rw-r--r-- 2 +13 hardlink$/);
  assert.match(listPath(vol, "/data")[1]!, /^drwx------ 3 +4096 deep$/);
  assert.match(listPath(vol, "/")[1]!, /^drwxr-xr-x 2 +4096 bin$/);
});

Deno.test("mkfs() with dax: false leaves the DAX flag clear", () => {
  const img = mkfs({ sizeBytes: 1 << 20, dax: false });
  const o = openVolume(img);
  assert.ok(o.ok);
  assert.equal(inodeGet(o.vol, o.vol.sb.rootIno, "flags") & XIP_FL_DAX, 0);
});

Deno.test("mkfs() refuses bad sizes and trees that do not fit", () => {
  for (const sizeBytes of [0, 4095, 10000, 4096 * 15, 5 * 1024 ** 3, NaN]) {
    assert.throws(() => mkfs({ sizeBytes }), MkfsError, `size ${sizeBytes}`);
  }
  assert.throws(() => mkfs({ sizeBytes: 1 << 20, from: tree.dir }), /no space left/);
  assert.throws(() => mkfs({ sizeBytes: 1 << 20, from: tree.dir, inodes: 3 }), /out of inodes/);
  assert.throws(() => mkfs({ sizeBytes: 1 << 20, from: "/definitely/not/here" }), /cannot read/);
});

Deno.test("mkfsInto() reformats a dirty buffer completely", () => {
  const dev = new Uint8Array(new SharedArrayBuffer(1 << 20));
  dev.fill(0xa5);
  const v = mkfsInto(dev, {});
  assert.deepEqual(fsck(dev), { status: 0, errors: [] });
  assert.equal(namei(v, "/x"), -ENOENT);
  assert.equal(inodeGetSize(v, v.sb.rootIno), XIPFS_BLOCK_SIZE);
});

Deno.test("namei() gives ELOOP for a symlink cycle", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.symlinkSync("b", dir + "/a");
    Deno.symlinkSync("a", dir + "/b");
    Deno.symlinkSync("self/x", dir + "/self");
    const o = openVolume(mkfs({ sizeBytes: 1 << 20, from: dir }));
    assert.ok(o.ok);
    assert.equal(namei(o.vol, "/a"), -ELOOP);
    assert.equal(namei(o.vol, "/self"), -ELOOP);
    assert.ok(namei(o.vol, "/a", false) > 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mkfs() lays out a file of 4 MiB or more in 1024-aligned extents with the hint set, zeros included", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const big = new Uint8Array(9 * 1024 * 1024 + 100).map((_, i) => (i >> 12) & 0xff);
    big.fill(0, 4096, 3 * 4096); // whole zero blocks: no holes inside an extent
    Deno.writeFileSync(`${dir}/small`, new Uint8Array(5000).fill(1));
    Deno.writeFileSync(`${dir}/big`, big);
    const img = mkfs({ sizeBytes: 24 << 20, from: dir });
    assert.deepEqual(fsck(img).errors, []);
    const o = openVolume(img);
    if (!o.ok) throw new Error(o.error);
    const ino = namei(o.vol, "/big", false);
    assert.ok(ino > 0);
    assert.equal(inodeGet(o.vol, ino, "extsize"), 1024);
    const blocks = Math.ceil(big.length / XIPFS_BLOCK_SIZE);
    for (let g = 0; g < blocks; g += 1024) {
      const b0 = bmapLookup(o.vol, ino, g);
      assert.equal(b0 % 1024, 0, `extent ${g / 1024} starts aligned`);
      for (let i = 0; i < Math.min(1024, blocks - g); i++) {
        assert.equal(bmapLookup(o.vol, ino, g + i), b0 + i, `block ${g + i} in its extent`);
      }
    }
    assert.deepEqual(fileRead(o.vol, ino, 0, big.length), big);
    const flat = mkfs({ sizeBytes: 24 << 20, from: dir, pmdAlign: false });
    const f = openVolume(flat);
    if (!f.ok) throw new Error(f.error);
    assert.equal(inodeGet(f.vol, namei(f.vol, "/big", false), "extsize"), 0, "pmdAlign: false");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
