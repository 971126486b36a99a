/**
 * Structured mutations of xipfs images for the image fuzzer: each targets
 * one on-disk structure (superblock, block bitmap, inode bitmap, an inode
 * record, a directory entry, an indirect block) or metadata bytes at
 * random, and names itself. A geometry mutation of the superblock
 * sometimes recomputes the checksum, so that the mount gets past it and
 * the rest of the code meets the bad geometry.
 */

import {
  XDIRENT,
  XINODE,
  XIPFS_BLOCK_SIZE,
  XIPFS_INODE_SIZE,
  XIPFS_NDIR,
  XSUPER,
} from "../../src/abi/layout/mod.ts";
import { asIno } from "../../src/abi/types.ts";
import {
  inodeGet,
  inodeInUse,
  isDirMode,
  openVolume,
  superComputeChecksum,
  type XipVol,
} from "../../src/fs/xipfs/xipfs_format.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { Rand } from "./_rng.ts";

const BS = XIPFS_BLOCK_SIZE;

/** What the mutators know about the base image (a valid one). */
export interface ImageMap {
  vol: XipVol;
  /** Inodes in use. */
  inodes: number[];
  /** Blocks of directories (data blocks holding entries). */
  dirBlocks: number[];
  /** Indirect and double-indirect blocks. */
  indBlocks: number[];
  /** Data blocks in use. */
  dataBlocks: number[];
}

/** Survey a valid image. */
export function mapImage(image: Uint8Array): ImageMap {
  const o = openVolume(image);
  if (!o.ok) throw new Error(`base image: ${o.error}`);
  const vol = o.vol;
  const inodes: number[] = [], dirBlocks: number[] = [], indBlocks: number[] = [];
  const dataBlocks: number[] = [];
  for (let i = 1; i <= vol.sb.inodeCount; i++) {
    if (!inodeInUse(vol, i)) continue;
    inodes.push(i);
    const ino = asIno(i);
    const dir = isDirMode(inodeGet(vol, ino, "mode"));
    const blocks = inodeGet(vol, ino, "blocks");
    for (let ib = 0; ib < Math.min(blocks, 2048); ib++) {
      const b = bmapLookup(vol, ino, ib);
      if (b > 0) (dir ? dirBlocks : dataBlocks).push(b);
    }
    const base = (vol.sb.inodeTableStart * BS) + (i - 1) * XIPFS_INODE_SIZE;
    for (const f of [XINODE.indirect, XINODE.dindirect]) {
      const b = vol.view.getUint32(base + f, true);
      if (b !== 0) indBlocks.push(b);
    }
  }
  return { vol, inodes, dirBlocks, indBlocks, dataBlocks };
}

/** A mutated image and the mutation's name. */
export interface ImageMutant {
  bytes: Uint8Array;
  kind: string;
}

type Mutator = (img: Uint8Array, dv: DataView, map: ImageMap, r: Rand) => string;

const SUPER_FIELDS = Object.entries(XSUPER) as [string, number][];

const superblock: Mutator = (img, dv, _m, r) => {
  const [name, off] = r.pick(SUPER_FIELDS);
  dv.setUint32(off, r.interesting(dv.getUint32(off, true)), true);
  const fix = off < XSUPER.checksum && r.chance(0.6);
  if (fix) dv.setUint32(XSUPER.checksum, superComputeChecksum(img), true);
  return `super.${name}${fix ? "+crc" : ""}`;
};

function flipBits(img: Uint8Array, start: number, blocks: number, r: Rand, nbits: number): void {
  for (let n = 0; n < nbits; n++) {
    // Mostly the populated front of the bitmap, where the used bits are.
    const span = r.chance(0.8) ? 256 : blocks * BS;
    img[start * BS + r.int(span)]! ^= 1 << r.int(8);
  }
}

const blockBitmap: Mutator = (img, _dv, m, r) => {
  if (r.chance(0.5) && m.dataBlocks.length > 0) {
    const b = r.pick([...m.dataBlocks, ...m.dirBlocks, ...m.indBlocks]);
    img[m.vol.sb.blockBitmapStart * BS + (b >>> 3)]! &= ~(1 << (b & 7));
    return "block-bitmap.free-used";
  }
  flipBits(img, m.vol.sb.blockBitmapStart, m.vol.sb.blockBitmapBlocks, r, 1 + r.int(4));
  return "block-bitmap.flip";
};

const inodeBitmap: Mutator = (img, _dv, m, r) => {
  flipBits(img, m.vol.sb.inodeBitmapStart, m.vol.sb.inodeBitmapBlocks, r, 1 + r.int(3));
  return "inode-bitmap.flip";
};

const INODE_FIELDS: [string, number][] = [
  ["mode", XINODE.mode],
  ["links", XINODE.links],
  ["sizeLo", XINODE.sizeLo],
  ["sizeHi", XINODE.sizeHi],
  ["flags", XINODE.flags],
  ["blocks", XINODE.blocks],
  ["indirect", XINODE.indirect],
  ["dindirect", XINODE.dindirect],
  ...Array.from(
    { length: XIPFS_NDIR },
    (_, i) => [`block${i}`, XINODE.block + 4 * i] as [string, number],
  ),
];

/** A block pointer that is wrong in an interesting way. */
function badPointer(m: ImageMap, r: Rand, near: number): number {
  const sb = m.vol.sb;
  switch (r.int(6)) {
    case 0:
      return r.int(sb.dataStart); // metadata
    case 1:
      return sb.totalBlocks + r.int(4); // past the end
    case 2:
      return r.pick([...m.dataBlocks, ...m.dirBlocks, ...m.indBlocks, near]); // shared
    case 3:
      return sb.dataStart + r.int(sb.totalBlocks - sb.dataStart); // maybe free
    default:
      return r.interesting(near);
  }
}

const inodeRecord: Mutator = (_img, dv, m, r) => {
  const ino = r.pick(m.inodes);
  const base = m.vol.sb.inodeTableStart * BS + (ino - 1) * XIPFS_INODE_SIZE;
  const [name, off] = r.pick(INODE_FIELDS);
  const old = dv.getUint32(base + off, true);
  let v: number;
  if (name === "mode") {
    v = r.pick([0, 0o100644, 0o040755, 0o120777, 0o020644, 0o060644, r.u32() & 0xffff]);
  } else if (name.startsWith("block") && name !== "blocks" || name.endsWith("indirect")) {
    v = badPointer(m, r, old);
  } else v = r.interesting(old);
  dv.setUint32(base + off, v, true);
  return `inode.${name}`;
};

const dirent: Mutator = (img, dv, m, r) => {
  if (m.dirBlocks.length === 0) return "none";
  const b = r.pick(m.dirBlocks);
  // Walk the block's entries and pick one.
  const offs: number[] = [];
  for (let o = 0; o < BS && offs.length < 256;) {
    offs.push(o);
    const rec = dv.getUint16(b * BS + o + XDIRENT.recLen, true);
    if (rec < 8) break;
    o += rec;
  }
  const e = b * BS + r.pick(offs);
  const field = r.int(6);
  switch (field) {
    case 0:
      dv.setUint32(
        e + XDIRENT.ino,
        r.pick([0, 1, r.pick(m.inodes), m.vol.sb.inodeCount + 1, r.u32()]),
        true,
      );
      return "dirent.ino";
    case 1:
      dv.setUint16(
        e + XDIRENT.recLen,
        r.pick([0, 1, 4, 7, 12, 4095, 4096, 0xffff, r.int(65536)]),
        true,
      );
      return "dirent.recLen";
    case 2:
      img[e + XDIRENT.nameLen] = r.pick([0, 1, 255, r.int(256)]);
      return "dirent.nameLen";
    case 3:
      img[e + XDIRENT.type] = r.int(16);
      return "dirent.type";
    case 4:
      img[e + XDIRENT.name + r.int(4)] = r.pick([0, 0x2f, 0x2e, 0xff, r.int(256)]);
      return "dirent.name";
    default:
      for (let i = 0; i < 1 + r.int(8); i++) img[b * BS + r.int(BS)] = r.int(256);
      return "dirent.bytes";
  }
};

const indirect: Mutator = (_img, dv, m, r) => {
  if (m.indBlocks.length === 0) return "none";
  const b = r.pick(m.indBlocks);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const w = b * BS + 4 * (r.chance(0.7) ? r.int(32) : r.int(1024));
    dv.setUint32(w, badPointer(m, r, dv.getUint32(w, true)), true);
  }
  return "indirect.ptr";
};

const metaBytes: Mutator = (img, _dv, m, r) => {
  const end = m.vol.sb.dataStart * BS;
  for (let n = 1 + r.int(16); n > 0; n--) img[r.int(end)]! ^= 1 + r.int(255);
  return "meta.bytes";
};

const MUTATORS: readonly [Mutator, number][] = [
  [superblock, 2],
  [blockBitmap, 2],
  [inodeBitmap, 1],
  [inodeRecord, 5],
  [dirent, 4],
  [indirect, 2],
  [metaBytes, 1],
];
const TOTAL = MUTATORS.reduce((s, m) => s + m[1], 0);

/** One or two structured mutations of a copy of `base`. */
export function mutateImage(base: Uint8Array, map: ImageMap, r: Rand): ImageMutant {
  const img = base.slice();
  const dv = new DataView(img.buffer);
  const kinds: string[] = [];
  for (let round = 0; round < (r.chance(0.25) ? 2 : 1); round++) {
    let pick = r.int(TOTAL);
    for (const [m, w] of MUTATORS) {
      if (pick < w) {
        kinds.push(m(img, dv, map, r));
        break;
      }
      pick -= w;
    }
  }
  return { bytes: img, kind: kinds.join("+") };
}
