/**
 * The passes of fsck -y/-p (fsck_repair.ts runs them): the Repairer walks the image as e2fsck's passes 1-5 do and fixes what it finds in place.
 *
 * @module
 */

import {
  XDIRENT,
  XFT_DIR,
  XIPFS_BLOCK_SIZE,
  XIPFS_INODE_SIZE,
  XIPFS_NDIR,
  XIPFS_PTRS_PER_BLOCK,
  XIPFS_STATE_CLEAN,
} from "../../abi/layout/mod.ts";
import { asBlock, asIno, type BlockNo, type Ino } from "../../abi/types.ts";
import {
  BMAP_DIND_FIRST,
  BMAP_IND_FIRST,
  BMAP_MAX_BLOCKS,
  bmapCompact,
  bmapInsert,
  bmapLookup,
  SLOT_DIND,
  SLOT_IND,
} from "./xipfs_bmap.ts";
import { direntCheck, direntSize, modeToFileType } from "./xipfs_dir.ts";
import { symlinkIsInline } from "./xipfs_file.ts";
import {
  blockInUse,
  blockOff,
  inodeGet,
  inodeGetSize,
  inodeInUse,
  inodeOff,
  inodePtrOff,
  inodeSet,
  inodeSetSize,
  inoValid,
  isDirMode,
  isLnkMode,
  isRegMode,
  setBlockInUse,
  setInodeInUse,
  superGet,
  superSet,
  type XipVol,
} from "./xipfs_format.ts";

/** Where unattached inodes go (e2fsck's lost+found). */
export const LOST_FOUND = "lost+found";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A directory entry as the repair keeps it. */
interface Entry {
  ino: number;
  type: number;
  name: Uint8Array;
}

const DOT = enc.encode(".");
const DOTDOT = enc.encode("..");
const isName = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function typeName(mode: number): string {
  if (isRegMode(mode)) return "file";
  if (isDirMode(mode)) return "directory";
  if (isLnkMode(mode)) return "symlink";
  return "unknown";
}

/** The state of one repair. */
export class Repairer {
  readonly fixes: string[] = [];
  /** Repairs preen may not make. */
  unsafe = 0;
  /** Per block: the inode using it, 0 for none. */
  private readonly owner: Int32Array;
  /** Per inode: its mode when usable, 0 when free or cleared. */
  private readonly live: Int32Array;
  /** Per inode: entries naming it ("." and ".." included). */
  private readonly refs: Int32Array;
  /** Per inode: the directory it was reached from; 0 = not reached. */
  private readonly parent: Int32Array;
  private readonly queue: number[] = [];
  private lostFound = 0;

  constructor(private readonly vol: XipVol) {
    this.owner = new Int32Array(vol.sb.totalBlocks);
    this.live = new Int32Array(vol.sb.inodeCount + 1);
    this.refs = new Int32Array(vol.sb.inodeCount + 1);
    this.parent = new Int32Array(vol.sb.inodeCount + 1);
  }

  private fix(line: string, safe: boolean): void {
    this.fixes.push(line);
    if (!safe) this.unsafe++;
  }

  run(): void {
    for (let i = 1; i <= this.vol.sb.inodeCount; i++) this.passInode(asIno(i));
    this.passTree();
    this.passUnreachable();
    this.passLinks();
    this.passBitmaps();
  }

  // -------------------------------------------------------------------------
  // pass 1: inodes

  private clearInode(ino: number): void {
    const off = inodeOff(this.vol, asIno(ino));
    this.vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
    this.live[ino] = 0;
    for (let b = 0; b < this.owner.length; b++) if (this.owner[b] === ino) this.owner[b] = 0;
  }

  private passInode(ino: Ino): void {
    const vol = this.vol;
    const mode = inodeGet(vol, ino, "mode");
    if (mode === 0) return;
    const size = inodeGetSize(vol, ino);
    if (typeName(mode) === "unknown") {
      this.fix(`inode ${ino} has an unknown file type (mode 0${mode.toString(8)}): cleared`, false);
      return this.clearInode(ino);
    }
    if (isLnkMode(mode) && (size === 0 || size >= XIPFS_BLOCK_SIZE)) {
      this.fix(`inode ${ino}: bad symlink size ${size}: cleared`, false);
      return this.clearInode(ino);
    }
    if (isDirMode(mode) && size === 0) {
      this.fix(`inode ${ino}: directory of size 0: cleared`, false);
      return this.clearInode(ino);
    }
    this.live[ino] = mode;
    if (isLnkMode(mode) && symlinkIsInline(size)) {
      if (inodeGet(vol, ino, "blocks") !== 0) {
        this.fix(
          `inode ${ino}: i_blocks ${inodeGet(vol, ino, "blocks")}, should be 0: fixed`,
          true,
        );
        inodeSet(vol, ino, "blocks", 0);
      }
      return;
    }
    if (isDirMode(mode) && size % XIPFS_BLOCK_SIZE !== 0) {
      const to = Math.ceil(size / XIPFS_BLOCK_SIZE) * XIPFS_BLOCK_SIZE;
      this.fix(`inode ${ino}: directory size ${size} set to ${to}`, false);
      inodeSetSize(vol, ino, to);
    }
    if (size > BMAP_MAX_BLOCKS * XIPFS_BLOCK_SIZE) {
      this.fix(
        `inode ${ino}: size ${size} is larger than the largest file: set to the blocks it has`,
        false,
      );
      inodeSetSize(vol, ino, 0);
    }
    let counted = 0;
    let lastData = -1;
    const symlinkEnd = Math.ceil(inodeGetSize(vol, ino) / XIPFS_BLOCK_SIZE);
    this.walkPointers(ino, (b, iblock, kind) => {
      if (isLnkMode(mode) && (kind !== "data" || iblock >= symlinkEnd)) {
        this.fix(`inode ${ino}: symlink block pointer ${b} at iblock ${iblock}: cleared`, false);
        return false;
      }
      if (!(b >= vol.sb.dataStart && b < vol.sb.totalBlocks)) {
        this.fix(
          `inode ${ino}: ${kind} block pointer ${b} (iblock ${iblock}) out of range: cleared`,
          false,
        );
        return false;
      }
      const prev = this.owner[b]!;
      if (prev !== 0) {
        this.fix(
          `block ${b} is claimed by inode ${prev} and inode ${ino}: inode ${ino}'s pointer cleared`,
          false,
        );
        return false;
      }
      this.owner[b] = ino;
      counted++;
      if (kind === "data") lastData = Math.max(lastData, iblock);
      return true;
    });
    const endBlock = Math.ceil(inodeGetSize(vol, ino) / XIPFS_BLOCK_SIZE);
    if (isDirMode(mode) && endBlock > lastData + 1) {
      // A directory's trailing holes: its size went past its blocks.
      if (lastData < 0) {
        this.fix(`inode ${ino}: directory without a block: cleared`, false);
        return this.clearInode(ino);
      }
      const to = (lastData + 1) * XIPFS_BLOCK_SIZE;
      this.fix(
        `inode ${ino}: directory size ${inodeGetSize(vol, ino)} past its last block: set to ${to}`,
        false,
      );
      inodeSetSize(vol, ino, to);
    }
    if (lastData >= endBlock) {
      const to = (lastData + 1) * XIPFS_BLOCK_SIZE;
      this.fix(
        `inode ${ino}: i_size ${
          inodeGetSize(vol, ino)
        } does not cover block ${lastData}: set to ${to}`,
        true,
      );
      inodeSetSize(vol, ino, to);
    }
    const blocks = inodeGet(vol, ino, "blocks");
    if (blocks !== counted) {
      this.fix(`inode ${ino}: i_blocks ${blocks}, counted ${counted}: fixed`, true);
      inodeSet(vol, ino, "blocks", counted);
    }
  }

  /**
   * Visit every non-zero pointer of `ino`'s block map (data, indirect and
   * double indirect); `keep` returning false clears the pointer, and an
   * indirect block cleared is not descended into.
   */
  private walkPointers(
    ino: Ino,
    keep: (b: number, iblock: number, kind: "data" | "indirect" | "dindirect") => boolean,
  ): void {
    const view = this.vol.view;
    const slot = (s: number) => inodePtrOff(this.vol, ino, s);
    const entry = (blk: number, i: number) => blockOff(this.vol, blk) + i * 4;
    const visit = (off: number, iblock: number, kind: "data" | "indirect" | "dindirect") => {
      const b = view.getUint32(off, true);
      if (b === 0) return 0;
      if (keep(b, iblock, kind)) return b;
      view.setUint32(off, 0, true);
      return 0;
    };
    const indirect = (ind: number, firstIblock: number) => {
      for (let i = 0; i < XIPFS_PTRS_PER_BLOCK; i++) visit(entry(ind, i), firstIblock + i, "data");
    };
    for (let s = 0; s < XIPFS_NDIR; s++) visit(slot(s), s, "data");
    const ind = visit(slot(SLOT_IND), BMAP_IND_FIRST, "indirect");
    if (ind !== 0) indirect(ind, BMAP_IND_FIRST);
    const dind = visit(slot(SLOT_DIND), BMAP_DIND_FIRST, "dindirect");
    if (dind === 0) return;
    for (let j = 0; j < XIPFS_PTRS_PER_BLOCK; j++) {
      const first = BMAP_DIND_FIRST + j * XIPFS_PTRS_PER_BLOCK;
      const b = visit(entry(dind, j), first, "indirect");
      if (b !== 0) indirect(b, first);
    }
  }

  // -------------------------------------------------------------------------
  // allocation while repairing (the bitmaps are rebuilt at the end)

  private allocBlock(ino: number): BlockNo {
    const { dataStart, totalBlocks } = this.vol.sb;
    for (let b = dataStart; b < totalBlocks; b++) {
      if (this.owner[b] !== 0) continue;
      this.owner[b] = ino;
      const off = blockOff(this.vol, b);
      this.vol.dev.fill(0, off, off + XIPFS_BLOCK_SIZE);
      return asBlock(b);
    }
    return asBlock(-28); // ENOSPC
  }

  private allocInode(): number {
    for (let i = 1; i <= this.vol.sb.inodeCount; i++) {
      if (this.live[i] === 0 && inodeGet(this.vol, asIno(i), "mode") === 0) return i;
    }
    return 0;
  }

  /** Make inode `ino` an empty directory of one block whose ".." is `parent`. */
  private makeDir(ino: number, parent: number, perm: number): boolean {
    const off = inodeOff(this.vol, asIno(ino));
    this.vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
    const b = this.allocBlock(ino);
    if (b < 0) return false;
    const mode = 0o040000 | perm;
    inodeSet(this.vol, asIno(ino), "mode", mode);
    const now = Math.floor(Date.now() / 1000);
    for (const f of ["atime", "mtime", "ctime"] as const) inodeSet(this.vol, asIno(ino), f, now);
    this.vol.view.setUint32(inodePtrOff(this.vol, asIno(ino), 0), b, true);
    inodeSet(this.vol, asIno(ino), "blocks", 1);
    inodeSetSize(this.vol, asIno(ino), XIPFS_BLOCK_SIZE);
    this.live[ino] = mode;
    this.writeDir(ino, [
      { ino, type: XFT_DIR, name: DOT },
      { ino: parent, type: XFT_DIR, name: DOTDOT },
    ]);
    return true;
  }

  // -------------------------------------------------------------------------
  // pass 2: the directory tree

  private passTree(): void {
    const root = this.vol.sb.rootIno;
    if (!isDirMode(this.live[root]!)) {
      this.fix(`root inode ${root} is not an in-use directory: recreated empty`, false);
      if (this.live[root] !== 0) this.clearInode(root);
      if (!this.makeDir(root, root, 0o755)) return;
    }
    this.parent[root] = root;
    this.queue.push(root);
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0) this.scanDir(this.queue.shift()!);
  }

  /** Read, check and if need be rewrite directory `dir` (reached, parent set). */
  private scanDir(dir: number): void {
    const vol = this.vol;
    const raw = this.readDir(dir);
    let rewrite = raw.broken;
    const parent = this.parent[dir]!;
    const kept: Entry[] = [];
    const names = new Set<string>();
    const where = (e: Entry) => `directory ${dir}: entry "${dec.decode(e.name)}"`;
    let dotOk = false, dotdotOk = false;
    raw.entries.forEach((e, index) => {
      const dot = isName(e.name, DOT), dotdot = isName(e.name, DOTDOT);
      if ((index === 0 && dot && e.ino === dir) || (index === 1 && dotdot && e.ino === parent)) {
        if (e.type !== XFT_DIR) {
          this.fix(`${where(e)} has type ${e.type}, should be ${XFT_DIR}: fixed`, true);
          rewrite = true;
        }
        if (dot) dotOk = true;
        else dotdotOk = true;
        return;
      }
      if (dot || dotdot) return; // wrong or misplaced: written again below
      const key = Array.from(e.name).join(",");
      if (names.has(key)) {
        this.fix(`${where(e)} appears twice: second cleared`, false);
        rewrite = true;
        return;
      }
      if (!inoValid(vol.sb, e.ino)) {
        this.fix(`${where(e)} points to inode ${e.ino}, outside the table: cleared`, false);
        rewrite = true;
        return;
      }
      const mode = this.live[e.ino]!;
      if (mode === 0) {
        this.fix(`${where(e)} points to free inode ${e.ino}: cleared`, true);
        rewrite = true;
        return;
      }
      if (isDirMode(mode) && this.parent[e.ino] !== 0) {
        this.fix(
          `${where(e)}: directory ${e.ino} already has parent ${this.parent[e.ino]}: cleared`,
          false,
        );
        rewrite = true;
        return;
      }
      const type = modeToFileType(mode);
      if (e.type !== type) {
        this.fix(
          `${where(e)} has type ${e.type} but inode ${e.ino} is a ${typeName(mode)}: fixed`,
          true,
        );
        e.type = type;
        raw.retype.push(e);
      }
      names.add(key);
      kept.push(e);
    });
    if (!dotOk || !dotdotOk || raw.entries.length !== kept.length + 2) {
      if (!dotOk || !dotdotOk) {
        this.fix(
          `directory ${dir}: "." or ".." missing, wrong or misplaced: fixed (".." -> ${parent})`,
          false,
        );
      }
      rewrite = true;
    }
    const all: Entry[] = [
      { ino: dir, type: XFT_DIR, name: DOT },
      { ino: parent, type: XFT_DIR, name: DOTDOT },
      ...kept,
    ];
    if (rewrite) this.writeDir(dir, all);
    else for (const e of raw.retype) vol.dev[e.at! + XDIRENT.type] = e.type;
    this.refs[dir]!++;
    this.refs[parent]!++;
    for (const e of kept) {
      this.refs[e.ino]!++;
      if (this.parent[e.ino] !== 0) continue;
      this.parent[e.ino] = dir;
      if (isDirMode(this.live[e.ino]!)) this.queue.push(e.ino);
    }
    if (dir === this.vol.sb.rootIno) {
      const lf = kept.find((e) => isName(e.name, enc.encode(LOST_FOUND)));
      if (lf && isDirMode(this.live[lf.ino]!)) this.lostFound = lf.ino;
    }
  }

  /**
   * The live entries of `dir` in order, with where each sits; holes get a
   * fresh empty block, and a malformed entry ends its block's entries.
   */
  private readDir(dir: number): {
    entries: (Entry & { at?: number })[];
    retype: (Entry & { at?: number })[];
    broken: boolean;
  } {
    const vol = this.vol;
    const entries: (Entry & { at?: number })[] = [];
    let broken = false;
    const nblocks = Math.floor(inodeGetSize(vol, asIno(dir)) / XIPFS_BLOCK_SIZE);
    for (let ib = 0; ib < nblocks; ib++) {
      let b = bmapLookup(vol, asIno(dir), ib);
      if (b <= 0) {
        broken = true;
        b = this.allocBlock(dir);
        if (b >= 0 && bmapInsert(vol, asIno(dir), ib, b, () => this.allocBlock(dir)) >= 0) {
          this.fix(`directory ${dir}: hole at block ${ib}: filled with an empty block`, false);
          continue;
        }
        if (b >= 0) this.owner[b] = 0; // allocated, but its index block was not to be had
        // Close the hole as e2fsck -D compresses a directory: the blocks move down.
        const n = bmapCompact(vol, asIno(dir), nblocks, () => this.allocBlock(dir), (m) => {
          this.owner[m] = 0; // an index block the rebuild did not need
        });
        if (n < 0) {
          this.fix(`directory ${dir}: hole at block ${ib}: no free block to fill it`, false);
          return { entries, retype: [], broken };
        }
        inodeSetSize(vol, asIno(dir), n * XIPFS_BLOCK_SIZE);
        this.fix(
          `directory ${dir}: hole at block ${ib}: no free block, directory compacted`,
          false,
        );
        return this.readDir(dir);
      }
      const base = blockOff(vol, b);
      for (let off = 0; off < XIPFS_BLOCK_SIZE;) {
        const bad = direntCheck(vol, base, off);
        if (bad !== null) {
          this.fix(`directory ${dir} block ${ib}: ${bad}: the rest of the block is dropped`, false);
          broken = true;
          break;
        }
        const at = base + off;
        const ino = vol.view.getUint32(at + XDIRENT.ino, true);
        if (ino !== 0) {
          const len = vol.dev[at + XDIRENT.nameLen]!;
          const name = vol.dev.slice(at + XDIRENT.name, at + XDIRENT.name + len);
          entries.push({ ino, type: vol.dev[at + XDIRENT.type]!, name, at });
        }
        off += vol.view.getUint16(at + XDIRENT.recLen, true);
      }
    }
    return { entries, retype: [], broken };
  }

  /**
   * Write `entries` into directory `dir`'s blocks in order, packed, each
   * block's last entry running to its end (an empty entry fills a block
   * left over); blocks are added when they do not fit.
   */
  private writeDir(dir: number, entries: Entry[]): void {
    const vol = this.vol;
    const ino = asIno(dir);
    let nblocks = Math.floor(inodeGetSize(vol, ino) / XIPFS_BLOCK_SIZE);
    let ib = 0, off = 0, lastAt = -1;
    const blockBase = (i: number): number => {
      if (i >= nblocks) {
        const b = this.allocBlock(dir);
        if (b < 0 || bmapInsert(vol, ino, i, b, () => this.allocBlock(dir)) < 0) return -1;
        nblocks = i + 1;
        inodeSetSize(vol, ino, nblocks * XIPFS_BLOCK_SIZE);
      }
      const b = bmapLookup(vol, ino, i);
      return b > 0 ? blockOff(vol, b) : -1;
    };
    let base = blockBase(0);
    if (base < 0) return;
    vol.dev.fill(0, base, base + XIPFS_BLOCK_SIZE);
    for (const e of entries) {
      const need = direntSize(e.name.length);
      if (off + need > XIPFS_BLOCK_SIZE) {
        vol.view.setUint16(lastAt + XDIRENT.recLen, XIPFS_BLOCK_SIZE - (lastAt - base), true);
        ib++;
        off = 0;
        base = blockBase(ib);
        if (base < 0) return;
        vol.dev.fill(0, base, base + XIPFS_BLOCK_SIZE);
      }
      const at = base + off;
      vol.view.setUint32(at + XDIRENT.ino, e.ino, true);
      vol.view.setUint16(at + XDIRENT.recLen, need, true);
      vol.dev[at + XDIRENT.nameLen] = e.name.length;
      vol.dev[at + XDIRENT.type] = e.type;
      vol.dev.set(e.name, at + XDIRENT.name);
      lastAt = at;
      off += need;
    }
    vol.view.setUint16(lastAt + XDIRENT.recLen, XIPFS_BLOCK_SIZE - (lastAt - base), true);
    for (let i = ib + 1; i < nblocks; i++) {
      const b = blockBase(i);
      if (b < 0) continue;
      vol.dev.fill(0, b, b + XIPFS_BLOCK_SIZE);
      vol.view.setUint16(b + XDIRENT.recLen, XIPFS_BLOCK_SIZE, true);
    }
  }

  // -------------------------------------------------------------------------
  // pass 3: unreachable inodes

  private passUnreachable(): void {
    const vol = this.vol;
    const attach: number[] = [];
    for (let ino = 1; ino <= vol.sb.inodeCount; ino++) {
      const mode = this.live[ino]!;
      if (mode === 0 || this.parent[ino] !== 0) continue;
      const links = inodeGet(vol, asIno(ino), "links");
      const blocks = inodeGet(vol, asIno(ino), "blocks");
      if (links === 0) {
        this.fix(
          `orphan inode ${ino} (${typeName(mode)}, no links, ${blocks} blocks): freed`,
          true,
        );
        this.clearInode(ino);
      } else if (isRegMode(mode) && inodeGetSize(vol, asIno(ino)) === 0 && blocks === 0) {
        this.fix(`unattached empty file inode ${ino}: freed`, true);
        this.clearInode(ino);
      } else attach.push(ino);
    }
    if (attach.length === 0) return;
    const root = this.vol.sb.rootIno;
    let lf = this.lostFoundDir();
    let where = `/${LOST_FOUND}/`;
    if (lf === 0 && this.fitsInPlace(root, attach.length)) {
      // As e2fsck's "Place lost files in root directory instead?", answered yes.
      this.fix(`placing unattached inodes in / instead`, false);
      lf = root;
      where = "/";
    }
    const added: Entry[] = [];
    for (const ino of attach) {
      if (this.parent[ino] !== 0 || this.live[ino] === 0) continue; // reached through an earlier one
      if (lf === 0) {
        this.fix(`unattached inode ${ino} (${typeName(this.live[ino]!)}): stays unattached`, false);
        continue;
      }
      this.fix(
        `unattached inode ${ino} (${typeName(this.live[ino]!)}): moved to ${where}#${ino}`,
        false,
      );
      const e = { ino, type: modeToFileType(this.live[ino]!), name: enc.encode(`#${ino}`) };
      added.push(e);
      this.refs[ino]!++;
      this.parent[ino] = lf;
      if (isDirMode(this.live[ino]!)) {
        this.queue.push(ino);
        this.drain(); // its subtree is reachable now; rewrites its ".."
      }
    }
    if (lf !== 0 && added.length > 0) {
      const entries = this.readDir(lf).entries.filter((e) =>
        !isName(e.name, DOT) && !isName(e.name, DOTDOT)
      );
      this.writeDir(lf, [
        { ino: lf, type: XFT_DIR, name: DOT },
        { ino: root, type: XFT_DIR, name: DOTDOT },
        ...entries,
        ...added,
      ]);
    }
  }

  /**
   * Whether directory `dir` can take `n` more "#INO" entries in the blocks
   * it has (packed as writeDir packs them), so that rewriting it needs no
   * block: the fallback when /lost+found cannot be made has none to spare.
   */
  private fitsInPlace(dir: number, n: number): boolean {
    const have = Math.floor(inodeGetSize(this.vol, asIno(dir)) / XIPFS_BLOCK_SIZE);
    const sizes = this.readDir(dir).entries.map((e) => direntSize(e.name.length));
    for (let i = 0; i < n; i++) sizes.push(direntSize(11)); // "#" and up to 10 digits
    let blocks = 1, off = 0;
    for (const need of sizes) {
      if (off + need > XIPFS_BLOCK_SIZE) {
        blocks++;
        off = 0;
      }
      off += need;
    }
    return blocks <= have;
  }

  /** /lost+found, made when missing; 0 when it cannot be (no inode or block left). */
  private lostFoundDir(): number {
    if (this.lostFound !== 0) return this.lostFound;
    const root = this.vol.sb.rootIno;
    if (this.readDir(root).entries.some((e) => isName(e.name, enc.encode(LOST_FOUND)))) {
      this.fix(`/${LOST_FOUND} is not a directory: unattached inodes stay unattached`, false);
      return 0;
    }
    const ino = this.allocInode();
    if (ino === 0 || !this.makeDir(ino, root, 0o700)) {
      this.fix(`cannot create /${LOST_FOUND}: no free inode or block`, false);
      return 0;
    }
    this.fix(`/${LOST_FOUND} created`, false);
    const entries = this.readDir(root).entries;
    this.writeDir(root, [...entries, { ino, type: XFT_DIR, name: enc.encode(LOST_FOUND) }]);
    this.parent[ino] = root;
    this.refs[ino]! += 2; // its entry in / and its "."
    this.refs[root]!++; // its ".."
    this.lostFound = ino;
    return ino;
  }

  // -------------------------------------------------------------------------
  // passes 4 and 5: link counts, bitmaps, counters, state

  private passLinks(): void {
    for (let ino = 1; ino <= this.vol.sb.inodeCount; ino++) {
      if (this.live[ino] === 0) continue;
      const links = inodeGet(this.vol, asIno(ino), "links");
      if (links !== this.refs[ino]) {
        this.fix(`inode ${ino}: link count ${links}, should be ${this.refs[ino]}: fixed`, true);
        inodeSet(this.vol, asIno(ino), "links", this.refs[ino]!);
      }
    }
  }

  private passBitmaps(): void {
    const vol = this.vol;
    const { dataStart, totalBlocks, inodeCount } = vol.sb;
    let wrongBlocks = 0, freeBlocks = 0;
    for (let b = 0; b < totalBlocks; b++) {
      const used = b < dataStart || this.owner[b] !== 0;
      if (!used) freeBlocks++;
      if (blockInUse(vol, b) !== used) {
        wrongBlocks++;
        setBlockInUse(vol, b, used);
      }
    }
    if (wrongBlocks > 0) this.fix(`block bitmap: ${wrongBlocks} bits wrong: fixed`, true);
    let wrongInodes = 0, freeInodes = 0;
    for (let i = 1; i <= inodeCount; i++) {
      const used = this.live[i] !== 0;
      if (!used) freeInodes++;
      if (inodeInUse(vol, i) !== used) {
        wrongInodes++;
        setInodeInUse(vol, i, used);
      }
    }
    if (wrongInodes > 0) this.fix(`inode bitmap: ${wrongInodes} bits wrong: fixed`, true);
    if (superGet(vol, "freeBlocks") !== freeBlocks) {
      this.fix(
        `free blocks count ${superGet(vol, "freeBlocks")}, should be ${freeBlocks}: fixed`,
        true,
      );
      superSet(vol, "freeBlocks", freeBlocks);
    }
    if (superGet(vol, "freeInodes") !== freeInodes) {
      this.fix(
        `free inodes count ${superGet(vol, "freeInodes")}, should be ${freeInodes}: fixed`,
        true,
      );
      superSet(vol, "freeInodes", freeInodes);
    }
    if (superGet(vol, "state") !== XIPFS_STATE_CLEAN) {
      this.fix(
        `superblock state ${superGet(vol, "state")} (not cleanly unmounted): marked clean`,
        true,
      );
      superSet(vol, "state", XIPFS_STATE_CLEAN);
    }
  }
}
