import assert from "node:assert/strict";
import { XDIRENT, XIPFS_BLOCK_SIZE, XSUPER } from "../../src/abi/layout/mod.ts";
import { asIno, type Ino } from "../../src/abi/types.ts";
import { fsck, FSCK_MAX_ERRORS } from "../../src/fs/xipfs/fsck.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { bmapLookup, SLOT_IND } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { dirIterate, dirRemoveEntry } from "../../src/fs/xipfs/xipfs_dir.ts";
import {
  blockInUse,
  inodePtrOffset,
  inodeSet,
  inodeSetSize,
  openVolume,
  setBlockInUse,
  setInodeInUse,
  superGet,
  superSet,
  type XipVol,
} from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { randomBytes, rng } from "./_host_tree.ts";

/** A small tree: nested directories, a file with an indirect block, symlinks. */
function smallTree(): string {
  const rand = rng(3);
  const dir = Deno.makeTempDirSync({ prefix: "xipfs-fsck-" });
  Deno.mkdirSync(dir + "/d/e", { recursive: true });
  Deno.writeFileSync(dir + "/a.txt", new TextEncoder().encode("alpha\n"));
  Deno.writeFileSync(dir + "/d/big", randomBytes(20 * XIPFS_BLOCK_SIZE, rand));
  Deno.writeFileSync(dir + "/d/e/small", randomBytes(100, rand));
  Deno.symlinkSync("../a.txt", dir + "/d/ln");
  Deno.symlinkSync("/" + "y".repeat(80), dir + "/longln");
  return dir;
}

const treeDir = smallTree();
const base = mkfs({ sizeBytes: 1 << 20, from: treeDir });
Deno.removeSync(treeDir, { recursive: true });

function open(img: Uint8Array): XipVol {
  const o = openVolume(img);
  if (!o.ok) throw new Error(o.error);
  return o.vol;
}

/** A copy of the base image with `damage` applied. */
function corrupt(damage: (vol: XipVol) => void): Uint8Array {
  const img = base.slice();
  damage(open(img));
  return img;
}

const ino = (vol: XipVol, path: string): Ino => {
  const i = namei(vol, path, false);
  assert.ok(i > 0, `${path}: ${i}`);
  return i;
};

/** Device offset of directory entry `name` of directory `dir`. */
function entryOffset(vol: XipVol, dir: Ino, name: string): number {
  let pos = -1;
  dirIterate(vol, dir, (e) => {
    if (e.name === name) pos = e.pos;
    return e.name === name;
  });
  assert.ok(pos >= 0, `no entry ${name}`);
  const b = bmapLookup(vol, dir, Math.floor(pos / XIPFS_BLOCK_SIZE));
  return b * XIPFS_BLOCK_SIZE + (pos % XIPFS_BLOCK_SIZE);
}

Deno.test("fsck() finds the mkfs image clean", () => {
  assert.deepEqual(fsck(base), { status: 0, errors: [] });
});

interface Case {
  what: string;
  image: () => Uint8Array;
  status: 4 | 8;
  line: RegExp;
}

const CASES: Case[] = [
  {
    what: "the magic number is wrong",
    image: () => corrupt((v) => v.view.setUint32(XSUPER.magic, 0x1234_5678, true)),
    status: 8,
    line: /^bad magic 0x12345678: not an xipfs image$/,
  },
  {
    what: "the version is unknown",
    image: () => corrupt((v) => v.view.setUint32(XSUPER.version, 9, true)),
    status: 8,
    line: /^unsupported xipfs version 9/,
  },
  {
    what: "a geometry field no longer matches the checksum",
    image: () => corrupt((v) => v.view.setUint32(XSUPER.inodeCount, 5000, true)),
    status: 8,
    line: /^superblock checksum mismatch/,
  },
  {
    what: "the image is truncated",
    image: () => base.slice(0, base.length - XIPFS_BLOCK_SIZE),
    status: 8,
    line: /^image truncated: the superblock says 256 blocks/,
  },
  {
    what: "the image is shorter than a superblock",
    image: () => base.slice(0, 100),
    status: 8,
    line: /too small to hold a superblock/,
  },
  {
    what: "the image is empty",
    image: () => new Uint8Array(0),
    status: 8,
    line: /too small/,
  },
  {
    what: "the free blocks count is off by one",
    image: () => corrupt((v) => superSet(v, "freeBlocks", superGet(v, "freeBlocks") + 1)),
    status: 4,
    line: /^superblock free blocks count \d+, bitmap has \d+ free$/,
  },
  {
    what: "the free inodes count is wrong",
    image: () => corrupt((v) => superSet(v, "freeInodes", 0)),
    status: 4,
    line: /^superblock free inodes count 0, bitmap has \d+ free$/,
  },
  {
    what: "a used block is marked free in the bitmap",
    image: () => corrupt((v) => setBlockInUse(v, bmapLookup(v, ino(v, "/d/big"), 3), false)),
    status: 4,
    line: /^block \d+ is used by inode \d+ but marked free$/,
  },
  {
    what: "an unused block is marked in use (leak)",
    image: () => corrupt((v) => setBlockInUse(v, v.sb.totalBlocks - 1, true)),
    status: 4,
    line: /^block 255 is marked in use but no inode uses it \(leak\)$/,
  },
  {
    what: "a metadata block is marked free",
    image: () => corrupt((v) => setBlockInUse(v, 0, false)),
    status: 4,
    line: /^metadata block 0 is marked free/,
  },
  {
    what: "a direct block pointer is out of range",
    image: () =>
      corrupt((v) => v.view.setUint32(inodePtrOffset(v.sb, ino(v, "/a.txt"), 0), 99999, true)),
    status: 4,
    line: /^inode \d+: data block pointer 99999 \(iblock 0\) out of range \[\d+, 256\)$/,
  },
  {
    what: "the indirect block pointer points into the inode table",
    image: () =>
      corrupt((v) =>
        v.view.setUint32(
          inodePtrOffset(v.sb, ino(v, "/d/big"), SLOT_IND),
          v.sb.inodeTableStart,
          true,
        )
      ),
    status: 4,
    line: /^inode \d+: indirect block pointer \d+ \(iblock 12\) out of range/,
  },
  {
    what: "two files claim the same block",
    image: () =>
      corrupt((v) => {
        const b = bmapLookup(v, ino(v, "/d/big"), 0);
        v.view.setUint32(inodePtrOffset(v.sb, ino(v, "/d/e/small"), 0), b, true);
      }),
    status: 4,
    line: /^block \d+ is claimed by inode \d+ and inode \d+$/,
  },
  {
    what: "a block is mapped past i_size",
    image: () => corrupt((v) => inodeSetSize(v, ino(v, "/d/big"), 5 * XIPFS_BLOCK_SIZE)),
    status: 4,
    line: /^inode \d+: block \d+ mapped at iblock 5, past i_size 20480$/,
  },
  {
    what: "a link count is wrong",
    image: () => corrupt((v) => inodeSet(v, ino(v, "/d/e/small"), "links", 3)),
    status: 4,
    line: /^inode \d+: link count 3, expected 1$/,
  },
  {
    what: "a directory's link count misses a subdirectory",
    image: () => corrupt((v) => inodeSet(v, ino(v, "/d"), "links", 2)),
    status: 4,
    line: /^inode \d+: link count 2, expected 3$/,
  },
  {
    what: "i_blocks is wrong",
    image: () => corrupt((v) => inodeSet(v, ino(v, "/d/big"), "blocks", 1)),
    status: 4,
    line: /^inode \d+: i_blocks 1, counted 21$/,
  },
  {
    what: "a directory entry has a bad rec_len",
    image: () =>
      corrupt((v) =>
        v.view.setUint16(entryOffset(v, ino(v, "/d"), "big") + XDIRENT.recLen, 6, true)
      ),
    status: 4,
    line: /^directory \d+ block 0: bad rec_len 6 at offset \d+$/,
  },
  {
    what: "a rec_len runs past the block",
    image: () =>
      corrupt((v) =>
        v.view.setUint16(entryOffset(v, ino(v, "/d"), "big") + XDIRENT.recLen, 4092, true)
      ),
    status: 4,
    line: /^directory \d+ block 0: rec_len 4092 at offset \d+ runs past the block$/,
  },
  {
    what: "a directory entry points to a free inode",
    image: () =>
      corrupt((v) =>
        v.view.setUint32(entryOffset(v, ino(v, "/"), "a.txt") + XDIRENT.ino, v.sb.inodeCount, true)
      ),
    status: 4,
    line: /^directory 1: entry "a\.txt" points to free inode \d+$/,
  },
  {
    what: "a directory entry points outside the inode table",
    image: () =>
      corrupt((v) =>
        v.view.setUint32(entryOffset(v, ino(v, "/"), "a.txt") + XDIRENT.ino, 1 << 30, true)
      ),
    status: 4,
    line: /^directory 1: entry "a\.txt" points to inode 1073741824, outside 1\.\.\d+$/,
  },
  {
    what: "a directory entry holds a slash in its name",
    image: () =>
      corrupt((v) => {
        v.dev[entryOffset(v, ino(v, "/"), "a.txt") + XDIRENT.name + 1] = 0x2f;
      }),
    status: 4,
    line: /^directory 1 block 0: invalid name at offset \d+$/,
  },
  {
    what: "a directory's .. is wrong",
    image: () =>
      corrupt((v) => v.view.setUint32(entryOffset(v, ino(v, "/d/e"), "..") + XDIRENT.ino, 1, true)),
    status: 4,
    line: /^directory \d+: second entry is "\.\." -> 1, expected "\.\." -> \d+$/,
  },
  {
    what: "an entry's type disagrees with the inode",
    image: () =>
      corrupt((v) => {
        v.dev[entryOffset(v, ino(v, "/"), "a.txt") + XDIRENT.type] = 2;
      }),
    status: 4,
    line: /^directory 1: entry "a\.txt" has type 2 but inode \d+ is a file$/,
  },
  {
    what: "an inode is in use but no directory names it",
    image: () => corrupt((v) => dirRemoveEntry(v, ino(v, "/d/e"), "small")),
    status: 4,
    line: /^inode \d+ \(file\) is not reachable from \/ \(orphan\)$/,
  },
  {
    what: "an in-use inode is marked free in the inode bitmap",
    image: () => corrupt((v) => setInodeInUse(v, ino(v, "/a.txt"), false)),
    status: 4,
    line: /^inode \d+ is in use but marked free in the inode bitmap$/,
  },
  {
    what: "a free inode is marked in use",
    image: () => corrupt((v) => setInodeInUse(v, v.sb.inodeCount, true)),
    status: 4,
    line: /^inode \d+ is marked in use in the inode bitmap but is free \(mode 0\)$/,
  },
  {
    what: "a directory's size is not a multiple of the block size",
    image: () => corrupt((v) => inodeSetSize(v, ino(v, "/d"), 100)),
    status: 4,
    line: /^inode \d+: directory size 100 is not a positive multiple of 4096$/,
  },
  {
    what: "the root is not a directory",
    image: () => corrupt((v) => inodeSet(v, v.sb.rootIno, "mode", 0o100644)),
    status: 4,
    line: /^root inode 1 is not an in-use directory$/,
  },
];

for (const c of CASES) {
  Deno.test(`fsck() returns ${c.status} with a matching line when ${c.what}`, () => {
    const r = fsck(c.image());
    assert.equal(r.status, c.status, r.errors.join("\n"));
    assert.ok(
      r.errors.some((l) => c.line.test(l)),
      `no line matches ${c.line}:\n${r.errors.join("\n")}`,
    );
    for (const l of r.errors) assert.ok(!l.includes("\n"), "every error is one line");
  });
}

Deno.test("fsck() caps the error lines and counts the rest", () => {
  const img = corrupt((v) => {
    for (let b = v.sb.dataStart; b < v.sb.totalBlocks; b++) setBlockInUse(v, b, !blockInUse(v, b));
  });
  const r = fsck(img);
  assert.equal(r.status, 4);
  assert.equal(r.errors.length, FSCK_MAX_ERRORS + 1);
  assert.match(r.errors.at(-1)!, /^\.\.\. and \d+ more errors$/);
});

Deno.test("fsck() does not change the image", () => {
  const img = corrupt((v) => inodeSet(v, asIno(2), "links", 9));
  const before = img.slice();
  fsck(img);
  assert.deepEqual(img, before);
});

// ---------------------------------------------------------------------------
// Random mutations: fsck must classify every image and never throw.

const FUZZ_SEED = Number(Deno.env.get("XIPFS_FUZZ_SEED") ?? 20261122);
const FUZZ_ROUNDS = Number(Deno.env.get("XIPFS_FUZZ_ROUNDS") ?? 600);

Deno.test(`fsck() never throws on ${FUZZ_ROUNDS} randomly mutated images (seed ${FUZZ_SEED})`, () => {
  const rand = rng(FUZZ_SEED);
  const v = open(base);
  // Bytes worth hitting: superblock, bitmaps, inode table, and the root directory's block.
  const metaEnd = v.sb.dataStart * XIPFS_BLOCK_SIZE;
  const rootBlock = bmapLookup(v, v.sb.rootIno, 0) * XIPFS_BLOCK_SIZE;
  const counts = [0, 0, 0];
  for (let round = 0; round < FUZZ_ROUNDS; round++) {
    let img = base.slice();
    const mutations = 1 + Math.floor(rand() * 8);
    for (let m = 0; m < mutations; m++) {
      const where = rand();
      const off = where < 0.15
        ? Math.floor(rand() * 128) // superblock (mostly fatal)
        : where < 0.7
        ? Math.floor(rand() * metaEnd)
        : where < 0.9
        ? rootBlock + Math.floor(rand() * XIPFS_BLOCK_SIZE)
        : Math.floor(rand() * img.length);
      img[off] = rand() < 0.5
        ? Math.floor(rand() * 256)
        : img[off]! ^ (1 << Math.floor(rand() * 8));
    }
    if (rand() < 0.05) img = img.slice(0, Math.floor(rand() * img.length));
    let r;
    try {
      r = fsck(img);
    } catch (e) {
      throw new Error(`fsck threw in round ${round} (seed ${FUZZ_SEED}): ${e}`);
    }
    assert.ok([0, 4, 8].includes(r.status), `round ${round} seed ${FUZZ_SEED}: status ${r.status}`);
    assert.ok(
      !r.errors.some((l) => l.startsWith("internal error")),
      `round ${round} seed ${FUZZ_SEED}: ${r.errors.find((l) => l.startsWith("internal"))}`,
    );
    assert.equal(r.status === 0, r.errors.length === 0, `round ${round} seed ${FUZZ_SEED}`);
    counts[r.status / 4]!++;
  }
  // The mix must exercise every outcome, or the mutations are too tame or too wild.
  assert.ok(counts[1]! > 0 && counts[2]! > 0, `outcomes 0/4/8: ${counts.join("/")}`);
});
