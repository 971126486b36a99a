import assert from "node:assert/strict";
import { XDIRENT, XFT_REG, XIPFS_BLOCK_SIZE, XIPFS_STATE_DIRTY } from "../../src/abi/layout/mod.ts";
import {
  asBlock,
  asIno,
  asTaskSlot,
  type BlockNo,
  type Ino,
  PAGE_SIZE,
} from "../../src/abi/types.ts";
import { fsck, FSCK_NOT_CLEAN } from "../../src/fs/xipfs/fsck.ts";
import { fsckRepair, LOST_FOUND, PREEN_HALT } from "../../src/fs/xipfs/fsck_repair.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { bmapInsert, bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { dirAddEntry, dirIterate, dirRemoveEntry } from "../../src/fs/xipfs/xipfs_dir.ts";
import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import {
  blockInUse,
  inodeGet,
  inodeGetSize,
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
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { randomBytes, rng } from "./_host_tree.ts";

const tree = Deno.makeTempDirSync({ prefix: "xipfs-repair-" });
const rand = rng(7);
Deno.mkdirSync(`${tree}/d/e`, { recursive: true });
Deno.writeFileSync(`${tree}/a.txt`, new TextEncoder().encode("alpha\n"));
const BIG = randomBytes(20 * XIPFS_BLOCK_SIZE, rand);
Deno.writeFileSync(`${tree}/d/big`, BIG);
Deno.writeFileSync(`${tree}/d/e/small`, randomBytes(100, rand));
Deno.symlinkSync("../a.txt", `${tree}/d/ln`);
const base = mkfs({ sizeBytes: 1 << 20, from: tree });
Deno.removeSync(tree, { recursive: true });

function open(img: Uint8Array): XipVol {
  const o = openVolume(img);
  if (!o.ok) throw new Error(o.error);
  return o.vol;
}
const ino = (vol: XipVol, path: string): Ino => {
  const i = namei(vol, path, false);
  assert.ok(i > 0, `${path}: ${i}`);
  return i;
};
function damaged(fn: (v: XipVol) => void): Uint8Array {
  const img = base.slice();
  fn(open(img));
  return img;
}

/** The repaired image checks clean (state included) and mounts. */
function assertRepaired(img: Uint8Array, what: string): void {
  const again = fsck(img, { state: true });
  assert.deepEqual(again, { status: 0, errors: [] }, `${what}: fsck after repair`);
  const mem = createMemory({
    ramFrames: 128,
    deviceFrames: img.length / PAGE_SIZE,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image: img });
  assert.equal(mmBoot(mem), 0);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const x = mountXipfs(mem, new MemDevice(mem), { dax: "always" });
  assert.ok(x instanceof XipFs, `${what}: mount`);
  assert.equal(x.unmount(), 0);
}

const CASES: { what: string; damage: (v: XipVol) => void; preen: boolean }[] = [
  {
    what: "the superblock says not cleanly unmounted",
    damage: (v) => superSet(v, "state", XIPFS_STATE_DIRTY),
    preen: true,
  },
  {
    what: "a link count is wrong",
    damage: (v) => inodeSet(v, ino(v, "/a.txt"), "links", 5),
    preen: true,
  },
  {
    what: "a block is leaked and the free counts are off",
    damage: (v) => {
      setBlockInUse(v, v.sb.totalBlocks - 1, true);
      superSet(v, "freeInodes", 3);
    },
    preen: true,
  },
  {
    what: "an orphan: an inode with no links and no entry",
    damage: (v) => {
      const i = ino(v, "/d/big");
      dirRemoveEntry(v, ino(v, "/d"), "big");
      inodeSet(v, i, "links", 0);
    },
    preen: true,
  },
  {
    what: "an entry names a free inode",
    damage: (v) => {
      const i = ino(v, "/a.txt");
      inodeSet(v, i, "mode", 0);
      setInodeInUse(v, i, false);
    },
    preen: true,
  },
  {
    what: "two inodes claim one block",
    damage: (v) => {
      const b = bmapLookup(v, ino(v, "/d/big"), 0);
      v.view.setUint32(inodePtrOffset(v.sb, ino(v, "/d/e/small"), 0), b, true);
    },
    preen: false,
  },
  {
    what: "a block pointer is out of range",
    damage: (v) => v.view.setUint32(inodePtrOffset(v.sb, ino(v, "/d/big"), 3), 0xffff_ff00, true),
    preen: false,
  },
  {
    what: "a directory entry's rec_len is broken",
    damage: (v) => {
      const b = bmapLookup(v, ino(v, "/d"), 0);
      v.view.setUint16(b * XIPFS_BLOCK_SIZE + 12 + XDIRENT.recLen, 3, true); // ".." entry
    },
    preen: false,
  },
  {
    what: "the root is not a directory",
    damage: (v) => inodeSet(v, v.sb.rootIno, "mode", 0o100644),
    preen: false,
  },
  {
    what: "an unknown file type",
    damage: (v) => inodeSet(v, ino(v, "/d/ln"), "mode", 0o060644),
    preen: false,
  },
];

for (const c of CASES) {
  Deno.test(`fsckRepair() -y corrects it, then fsck is clean and the image mounts, when ${c.what}`, () => {
    const img = damaged(c.damage);
    assert.notEqual(fsck(img, { state: true }).status, 0, "the damage is seen");
    const r = fsckRepair(img, "yes");
    assert.equal(r.status, 1, `${r.fixes.join("\n")}\n${r.errors.join("\n")}`);
    assert.ok(r.fixes.length > 0);
    for (const l of r.fixes) assert.ok(!l.includes("\n"), "one line per repair");
    assertRepaired(img, c.what);
  });

  Deno.test(`fsckRepair() -p ${c.preen ? "corrects" : "stops, changing nothing,"} when ${c.what}`, () => {
    const img = damaged(c.damage);
    const before = img.slice();
    const r = fsckRepair(img, "preen");
    if (c.preen) {
      assert.equal(r.status, 1, r.errors.join("\n"));
      assertRepaired(img, c.what);
    } else {
      assert.equal(r.status, 4);
      assert.equal(r.errors.at(-1), PREEN_HALT);
      assert.deepEqual(img, before, "preen changed the image");
    }
  });
}

Deno.test("fsckRepair() returns 0 and changes nothing on a clean image; 8 on an unusable one", () => {
  const img = base.slice();
  assert.deepEqual(fsckRepair(img, "yes"), { status: 0, fixes: [], errors: [] });
  assert.deepEqual(img, base);
  const junk = new Uint8Array(64 * 1024);
  assert.equal(fsckRepair(junk, "yes").status, 8);
});

Deno.test("fsck(state) reports a dirty superblock; without it the mounted state passes", () => {
  const img = damaged((v) => superSet(v, "state", XIPFS_STATE_DIRTY));
  assert.deepEqual(fsck(img, { state: true }), { status: 4, errors: [FSCK_NOT_CLEAN] });
  assert.deepEqual(fsck(img), { status: 0, errors: [] });
});

Deno.test("fsckRepair() reattaches an unreachable file and directory under /lost+found with their data", () => {
  const img = damaged((v) => {
    dirRemoveEntry(v, ino(v, "/d"), "big"); // a file with links 1 and no entry
    dirRemoveEntry(v, v.sb.rootIno, "d"); // a whole subtree
  });
  const v0 = open(img);
  const bigIno = findByData(v0);
  const r = fsckRepair(img, "yes");
  assert.equal(r.status, 1, r.errors.join("\n"));
  assertRepaired(img, "lost+found");
  const v = open(img);
  const lf = ino(v, `/${LOST_FOUND}`);
  const names: string[] = [];
  dirIterate(v, lf, (e) => void names.push(e.name));
  assert.ok(names.includes(`#${bigIno}`), names.join(" "));
  const got = fileRead(v, ino(v, `/${LOST_FOUND}/#${bigIno}`), 0, BIG.length);
  assert.ok(typeof got !== "number");
  assert.deepEqual(got, BIG);
  // The directory came back with its subtree: /lost+found/#D/e/small.
  const dEntry = names.find((n) => n.startsWith("#") && n !== `#${bigIno}`)!;
  assert.ok(namei(v, `/${LOST_FOUND}/${dEntry}/e/small`, false) > 0);
  assert.ok(blockInUse(v, bmapLookup(v, ino(v, `/${LOST_FOUND}/#${bigIno}`), 0)));
  assert.equal(superGet(v, "state"), 1);
});

/** The inode whose first block holds BIG's first bytes. */
function findByData(v: XipVol): number {
  for (let i = 1; i <= v.sb.inodeCount; i++) {
    if (inodeGet(v, asIno(i), "mode") === 0) continue;
    if (inodeGetSize(v, asIno(i)) !== BIG.length) continue;
    return i;
  }
  throw new Error("no inode of BIG's size");
}

Deno.test("fsckRepair() -y closes a directory hole by compacting the directory when no block is free, and keeps its entries", () => {
  // Make / span three blocks, then take every free block and punch out the middle one.
  const img = base.slice();
  const v = open(img);
  const root = v.sb.rootIno;
  const allocBlock = (): BlockNo => {
    for (let b = v.sb.dataStart; b < v.sb.totalBlocks; b++) {
      if (blockInUse(v, b)) continue;
      setBlockInUse(v, b, true);
      v.dev.fill(0, b * XIPFS_BLOCK_SIZE, (b + 1) * XIPFS_BLOCK_SIZE);
      return asBlock(b);
    }
    return asBlock(-28);
  };
  const target = ino(v, "/a.txt");
  const names: string[] = [];
  const nblocks = (w: XipVol) => Math.floor(inodeGetSize(w, root) / XIPFS_BLOCK_SIZE);
  for (let i = 0; nblocks(v) < 3; i++) {
    const f = `file-with-a-long-name-${String(i).padStart(4, "0")}`;
    assert.equal(dirAddEntry(v, root, f, target, XFT_REG, allocBlock), 0, f);
    names.push(f);
  }
  const blockOf = new Map<string, number>();
  dirIterate(v, root, (e) => void blockOf.set(e.name, Math.floor(e.pos / XIPFS_BLOCK_SIZE)));
  const survivors = names.filter((n) => blockOf.get(n) !== 1);
  assert.ok(names.some((n) => blockOf.get(n) === 2), "block 2 holds entries");
  // The hole: /'s block 1 now belongs to /d/e/small, so it is not free either.
  const small = ino(v, "/d/e/small");
  v.view.setUint32(inodePtrOffset(v.sb, small, 1), bmapLookup(v, root, 1), true);
  inodeSet(v, small, "blocks", inodeGet(v, small, "blocks") + 1);
  inodeSetSize(v, small, 2 * XIPFS_BLOCK_SIZE);
  v.view.setUint32(inodePtrOffset(v.sb, root, 1), 0, true);
  inodeSet(v, root, "blocks", inodeGet(v, root, "blocks") - 1);
  // Every other block goes to /d/big, so the repair has none to fill the hole with.
  const big = ino(v, "/d/big");
  let ib = Math.floor(inodeGetSize(v, big) / XIPFS_BLOCK_SIZE);
  for (let b = allocBlock(); b > 0; b = allocBlock()) {
    assert.equal(bmapInsert(v, big, ib++, b, allocBlock), 0);
  }
  inodeSetSize(v, big, ib * XIPFS_BLOCK_SIZE);
  superSet(v, "freeBlocks", 0);
  inodeSet(v, target, "links", 1 + survivors.length);
  // fsck stops reading / at the hole, so it also counts a.txt's links short.
  assert.equal(fsck(img).errors[0], "directory 1: hole at block 1");
  assert.ok(survivors.length < names.length, "the hole held entries");

  const r = fsckRepair(img, "yes");
  assert.equal(r.status, 1, `${r.fixes.join("\n")}\n${r.errors.join("\n")}`);
  assert.ok(r.fixes.some((l) => l.includes("hole at block 1: no free block, directory compacted")));
  assertRepaired(img, "directory hole, no free block");
  const w = open(img);
  assert.equal(nblocks(w), 2, "the directory is one block shorter");
  for (const n of names) assert.equal(nameIn(w, root, n), survivors.includes(n), n);
  assert.ok(nameIn(w, root, "a.txt") && nameIn(w, root, "d"));
});

function nameIn(v: XipVol, dir: Ino, name: string): boolean {
  let found = false;
  dirIterate(v, dir, (e) => found = e.name === name);
  return found;
}
