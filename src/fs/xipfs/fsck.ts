/**
 * fsck: check an xipfs image without changing it (e2fsck -n, in spirit).
 *
 * Passes, in order:
 *  1. superblock: magic, version, checksum, geometry, image length
 *     (any failure here makes the image unusable: status 8)
 *  2. inodes: bitmap bit against mode, file type, size limits, every block
 *     pointer in range, no block claimed twice, no block past i_size
 *     (unless the inode says XIP_FL_EOFBLOCKS: preallocated by fallocate),
 *     i_blocks against the blocks counted
 *  3. directories, walked from the root: entry structure (rec_len, names),
 *     "." and "..", entries naming in-use inodes of the type they say,
 *     no duplicate names, no directory with two parents, no holes
 *  4. reachability (orphans) and link counts
 *  5. the block bitmap against the blocks in use (no leaks, nothing in use
 *     marked free) and the superblock's free counts against the bitmaps
 *  6. the poison list (xipfs_poison.ts): well formed, and a note naming
 *     each file that owns poisoned blocks (not an error: the image is
 *     consistent, the media failed)
 *
 * With `{ state: true }` (xip fsck) a superblock whose state says the
 * filesystem was not unmounted cleanly (a crash, or a kill) is an error
 * too, and the check runs in full as e2fsck does for such a filesystem.
 * Without it (the live machine's own checks, which run while mounted) the
 * state only has to be one of the two valid values.
 *
 * Exit status as fsck(8): 0 clean, 4 errors left uncorrected, 8
 * operational error (the image cannot be read as xipfs at all).
 * fsck_repair.ts repairs what this finds.
 *
 * @module
 */

import {
  XDIRENT,
  XIP_FL_EOFBLOCKS,
  XIPFS_BLOCK_SIZE,
  XIPFS_STATE_CLEAN,
  XIPFS_STATE_DIRTY,
} from "../../abi/layout/mod.ts";
import { asIno, type Ino } from "../../abi/types.ts";
import { BMAP_MAX_BLOCKS, bmapLookup, bmapWalk } from "./xipfs_bmap.ts";
import { direntCheck, modeToFileType } from "./xipfs_dir.ts";
import { symlinkIsInline } from "./xipfs_file.ts";
import { poisonReport } from "./xipfs_poison.ts";
import {
  blockInUse,
  blockOff,
  inodeGet,
  inodeGetSize,
  inodeInUse,
  inoValid,
  isDirMode,
  isLnkMode,
  isRegMode,
  isSockMode,
  openVolume,
  superGet,
  type XipSuper,
  type XipVol,
} from "./xipfs_format.ts";

/** fsck status: the image is clean (fsck(8) exit 0). */
export const FSCK_CLEAN = 0;
/** fsck status: errors were found and left uncorrected (fsck(8) exit 4). */
export const FSCK_ERRORS = 4;
/** fsck status: the image cannot be read as xipfs at all (fsck(8) exit 8). */
export const FSCK_UNUSABLE = 8;

/** What {@linkcode fsck} found. */
export interface FsckResult {
  /** 0 clean, 4 errors found, 8 unusable. */
  readonly status: 0 | 4 | 8;
  /** One line per problem found (at most FSCK_MAX_ERRORS, then a summary line). */
  readonly errors: string[];
  /** Facts that are not errors: the poisoned blocks and the files that own them. */
  readonly notes?: string[];
}

/** Error lines kept; the rest are counted in a final line. */
export const FSCK_MAX_ERRORS = 200;

/** Options of fsck. */
export interface FsckOptions {
  /** Count a superblock left dirty (not unmounted cleanly) as an error. */
  state?: boolean;
}

/** The line fsck reports for a superblock left dirty. */
export const FSCK_NOT_CLEAN = "not cleanly unmounted (superblock state dirty): check forced";

/**
 * Check `image`. Reads only; never throws, whatever the bytes (an
 * unexpected exception would be an fsck bug and is reported as status 8
 * with an "internal error" line).
 *
 * @example Check an image and print what is wrong
 * ```ts
 * import { fsck, mkfs } from "@xip/xip";
 *
 * const { status, errors } = fsck(mkfs({ sizeBytes: 1 << 20 }));
 * console.log(status, errors); // 0 []
 * ```
 *
 * @param image the bytes of an image, e.g. from `Deno.readFileSync`
 * @returns the status (0 clean, 4 errors found, 8 unusable) and one line per problem
 */
export function fsck(image: Uint8Array, opts: FsckOptions = {}): FsckResult {
  try {
    const opened = openVolume(image);
    if (!opened.ok) return { status: FSCK_UNUSABLE, errors: [opened.error] };
    const c = new Checker(opened.vol);
    if (opts.state && superGet(opened.vol, "state") === XIPFS_STATE_DIRTY) c.error(FSCK_NOT_CLEAN);
    c.run();
    const poison = poisonReport(opened.vol);
    for (const e of poison.errors) c.error(e);
    const status = c.errorCount === 0 ? FSCK_CLEAN : FSCK_ERRORS;
    return {
      status,
      errors: c.lines(),
      ...(poison.notes.length > 0 ? { notes: poison.notes } : {}),
    };
  } catch (e) {
    return { status: FSCK_UNUSABLE, errors: [`internal error: ${String(e)}`] };
  }
}

const dec = new TextDecoder();

function typeName(mode: number): string {
  if (isRegMode(mode)) return "file";
  if (isDirMode(mode)) return "directory";
  if (isLnkMode(mode)) return "symlink";
  if (isSockMode(mode)) return "socket";
  return "unknown";
}

/** The state of one fsck run. */
class Checker {
  errorCount = 0;
  private readonly errors: string[] = [];
  private readonly sb: XipSuper;
  /** Per block: the inode that owns it, 0 for none. */
  private readonly owner: Int32Array;
  /** Per inode (index = ino): entries that name it, "." and ".." included. */
  private readonly refs: Int32Array;
  /** Per inode: the directory it was reached from; 0 = not reached. */
  private readonly parent: Int32Array;
  /** Per inode: mode when in use and of a known type, else 0. */
  private readonly live: Int32Array;

  constructor(private readonly vol: XipVol) {
    this.sb = vol.sb;
    this.owner = new Int32Array(this.sb.totalBlocks);
    this.refs = new Int32Array(this.sb.inodeCount + 1);
    this.parent = new Int32Array(this.sb.inodeCount + 1);
    this.live = new Int32Array(this.sb.inodeCount + 1);
  }

  error(msg: string): void {
    this.errorCount++;
    if (this.errors.length < FSCK_MAX_ERRORS) this.errors.push(msg);
  }

  lines(): string[] {
    const more = this.errorCount - this.errors.length;
    return more > 0 ? [...this.errors, `... and ${more} more errors`] : this.errors;
  }

  run(): void {
    for (let i = 1; i <= this.sb.inodeCount; i++) this.checkInode(asIno(i));
    this.checkTree();
    this.checkLinks();
    this.checkBitmaps();
  }

  private checkInode(ino: Ino): void {
    const mode = inodeGet(this.vol, ino, "mode");
    const marked = inodeInUse(this.vol, ino);
    if (mode === 0) {
      if (marked) {
        this.error(`inode ${ino} is marked in use in the inode bitmap but is free (mode 0)`);
      }
      return;
    }
    if (!marked) this.error(`inode ${ino} is in use but marked free in the inode bitmap`);
    if (typeName(mode) === "unknown") {
      this.error(`inode ${ino} has an unknown file type (mode 0${mode.toString(8)})`);
      return;
    }
    this.live[ino] = mode;
    const size = inodeGetSize(this.vol, ino);
    if (size > BMAP_MAX_BLOCKS * XIPFS_BLOCK_SIZE) {
      this.error(`inode ${ino}: size ${size} is larger than the largest file`);
    }
    if (isDirMode(mode) && (size === 0 || size % XIPFS_BLOCK_SIZE !== 0)) {
      this.error(
        `inode ${ino}: directory size ${size} is not a positive multiple of ${XIPFS_BLOCK_SIZE}`,
      );
    }
    if (isLnkMode(mode)) {
      if (size === 0 || size >= XIPFS_BLOCK_SIZE) {
        this.error(`inode ${ino}: bad symlink size ${size}`);
      }
      if (symlinkIsInline(size)) {
        const blocks = inodeGet(this.vol, ino, "blocks");
        if (blocks !== 0) {
          this.error(`inode ${ino}: i_blocks ${blocks}, counted 0 (inline symlink)`);
        }
        return; // the pointer area holds the target, not block numbers
      }
    }
    this.checkBlocks(ino, size);
  }

  private checkBlocks(ino: Ino, size: number): void {
    const endBlock = Math.ceil(size / XIPFS_BLOCK_SIZE);
    // EXT4_EOFBLOCKS_FL's rule: blocks past EOF are preallocated, not leaked.
    const eofBlocks = (inodeGet(this.vol, ino, "flags") & XIP_FL_EOFBLOCKS) !== 0;
    let counted = 0;
    bmapWalk(this.vol, ino, (b, iblock, kind, valid) => {
      if (!valid) {
        this.error(
          `inode ${ino}: ${kind} block pointer ${b} (iblock ${iblock}) out of range [${this.sb.dataStart}, ${this.sb.totalBlocks})`,
        );
        return;
      }
      counted++;
      const prev = this.owner[b]!;
      if (prev !== 0) this.error(`block ${b} is claimed by inode ${prev} and inode ${ino}`);
      else this.owner[b] = ino;
      if (kind === "data" && iblock >= endBlock && !eofBlocks) {
        this.error(`inode ${ino}: block ${b} mapped at iblock ${iblock}, past i_size ${size}`);
      }
    });
    const blocks = inodeGet(this.vol, ino, "blocks");
    if (blocks !== counted) this.error(`inode ${ino}: i_blocks ${blocks}, counted ${counted}`);
  }

  /** Walk the directory tree from the root, breadth first. */
  private checkTree(): void {
    const root = this.sb.rootIno;
    if (!isDirMode(this.live[root]!)) {
      this.error(`root inode ${root} is not an in-use directory`);
      return;
    }
    this.parent[root] = root;
    const queue: Ino[] = [root];
    for (let q = 0; q < queue.length; q++) this.checkDir(queue[q]!, queue);
  }

  private checkDir(dir: Ino, queue: Ino[]): void {
    const nblocks = Math.min(inodeGetSize(this.vol, dir) / XIPFS_BLOCK_SIZE, BMAP_MAX_BLOCKS);
    const seen = new Set<string>();
    let index = 0;
    for (let ib = 0; ib < Math.floor(nblocks); ib++) {
      const b = bmapLookup(this.vol, dir, ib);
      if (b < 0) return; // the bad pointer was reported by the inode pass
      if (b === 0) {
        this.error(`directory ${dir}: hole at block ${ib}`);
        return;
      }
      const base = blockOff(this.vol, b);
      for (let off = 0; off < XIPFS_BLOCK_SIZE;) {
        const bad = direntCheck(this.vol, base, off);
        if (bad !== null) {
          this.error(`directory ${dir} block ${ib}: ${bad}`);
          break;
        }
        const at = base + off;
        const ino = this.vol.view.getUint32(at + XDIRENT.ino, true);
        const recLen = this.vol.view.getUint16(at + XDIRENT.recLen, true);
        if (ino !== 0) this.checkEntry(dir, at, ino, index++, seen, queue);
        off += recLen;
      }
    }
    if (index < 2) this.error(`directory ${dir}: missing "." or ".." entry`);
  }

  private checkEntry(
    dir: Ino,
    at: number,
    ino: number,
    index: number,
    seen: Set<string>,
    queue: Ino[],
  ): void {
    const nameLen = this.vol.dev[at + XDIRENT.nameLen]!;
    const name = dec.decode(this.vol.dev.subarray(at + XDIRENT.name, at + XDIRENT.name + nameLen));
    const type = this.vol.dev[at + XDIRENT.type]!;
    const where = `directory ${dir}: entry "${name}"`;
    if (seen.has(name)) this.error(`${where} appears twice`);
    seen.add(name);
    if (index === 0 && (name !== "." || ino !== dir)) {
      this.error(`directory ${dir}: first entry is "${name}" -> ${ino}, expected "." -> ${dir}`);
    }
    if (index === 1 && (name !== ".." || ino !== this.parent[dir])) {
      this.error(
        `directory ${dir}: second entry is "${name}" -> ${ino}, expected ".." -> ${
          this.parent[dir]
        }`,
      );
    }
    if (index >= 2 && (name === "." || name === "..")) this.error(`${where} is misplaced`);
    if (!inoValid(this.sb, ino)) {
      this.error(`${where} points to inode ${ino}, outside 1..${this.sb.inodeCount}`);
      return;
    }
    const mode = this.live[ino]!;
    if (mode === 0) {
      this.error(`${where} points to free inode ${ino}`);
      return;
    }
    if (type !== modeToFileType(mode)) {
      this.error(`${where} has type ${type} but inode ${ino} is a ${typeName(mode)}`);
    }
    this.refs[ino]!++;
    if (name === "." || name === "..") return;
    if (this.parent[ino] !== 0) {
      if (isDirMode(mode)) {
        this.error(`directory ${ino} has two parents: ${this.parent[ino]} and ${dir}`);
      }
      return;
    }
    this.parent[ino] = dir;
    if (isDirMode(mode)) queue.push(asIno(ino));
  }

  private checkLinks(): void {
    for (let ino = 1; ino <= this.sb.inodeCount; ino++) {
      const mode = this.live[ino]!;
      if (mode === 0) continue;
      if (this.parent[ino] === 0) {
        this.error(`inode ${ino} (${typeName(mode)}) is not reachable from / (orphan)`);
        continue;
      }
      const links = inodeGet(this.vol, asIno(ino), "links");
      if (links !== this.refs[ino]) {
        this.error(`inode ${ino}: link count ${links}, expected ${this.refs[ino]}`);
      }
    }
  }

  private checkBitmaps(): void {
    let freeBlocks = 0;
    for (let b = 0; b < this.sb.totalBlocks; b++) {
      const marked = blockInUse(this.vol, b);
      if (!marked) freeBlocks++;
      if (b < this.sb.dataStart) {
        if (!marked) this.error(`metadata block ${b} is marked free in the block bitmap`);
        continue;
      }
      const owner = this.owner[b]!;
      if (marked && owner === 0) {
        this.error(`block ${b} is marked in use but no inode uses it (leak)`);
      }
      if (!marked && owner !== 0) {
        this.error(`block ${b} is used by inode ${owner} but marked free`);
      }
    }
    let freeInodes = 0;
    for (let i = 1; i <= this.sb.inodeCount; i++) if (!inodeInUse(this.vol, i)) freeInodes++;
    const sbFreeBlocks = superGet(this.vol, "freeBlocks");
    if (sbFreeBlocks !== freeBlocks) {
      this.error(`superblock free blocks count ${sbFreeBlocks}, bitmap has ${freeBlocks} free`);
    }
    const sbFreeInodes = superGet(this.vol, "freeInodes");
    if (sbFreeInodes !== freeInodes) {
      this.error(`superblock free inodes count ${sbFreeInodes}, bitmap has ${freeInodes} free`);
    }
    const state = superGet(this.vol, "state");
    if (state !== XIPFS_STATE_CLEAN && state !== XIPFS_STATE_DIRTY) {
      this.error(`superblock state ${state} is neither clean (1) nor dirty (2)`);
    }
  }
}
