/**
 * The tmpfs namespace (src/fs/tmpfs.ts): the TDIRENT table that holds
 * every tmpfs directory's entries, each with its directory's inode number,
 * under the namespace lock SHMHDR.lock (LockClass.TMPFS). A linear table:
 * TMPFS_DIRENTS entries machine-wide, searched in full, which is what a
 * /dev/shm of tens of names needs.
 *
 * @module
 */

import { ICACHE_SLOTS } from "../abi/layout/mod.ts";
import { ipcParts, SHMHDR, TDIRENT, TDIRENT_WORDS, TMPFS_DIRENTS } from "../abi/layout/ipc.ts";
import { asIno, type Ino } from "../abi/types.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "../sync/mod.ts";
import type { XipCtx } from "./xipfs/xipfs_ctx.ts";

const dec = new TextDecoder();

/** The namespace of the tmpfs: its entry table, under SHMHDR.lock. */
export class Tmpfs {
  readonly k32: Int32Array;
  readonly u8: Uint8Array;
  readonly base: number;
  readonly lockWord: number;
  /** Word index of the TDIRENT table. */
  readonly ents: number;

  constructor(readonly c: XipCtx) {
    this.k32 = c.k32;
    this.u8 = new Uint8Array(c.k32.buffer);
    this.base = c.mem.layout.ipc.base;
    this.lockWord = this.base + SHMHDR.lock;
    this.ents = this.base + ipcParts(c.mem.layout.config, ICACHE_SLOTS).tdirent;
  }

  get rootIno(): Ino {
    return asIno(Atomics.load(this.k32, this.base + SHMHDR.tmpfsRootIno));
  }

  /** Run `fn` under the namespace lock, as one no-kill region (it edits several records). */
  locked<T>(fn: () => T): T {
    return withNoKill(() => {
      mutexLock(this.k32, this.lockWord, LockClass.TMPFS);
      try {
        return fn();
      } finally {
        mutexUnlock(this.k32, this.lockWord);
      }
    });
  }

  #ent(i: number): number {
    return this.ents + i * TDIRENT_WORDS;
  }
  entIno(i: number): number {
    return this.k32[this.#ent(i) + TDIRENT.ino]!;
  }
  entParent(i: number): number {
    return this.k32[this.#ent(i) + TDIRENT.parent]!;
  }
  entName(i: number): string {
    const e = this.#ent(i);
    const at = (e + TDIRENT.name) * 4;
    return dec.decode(this.u8.slice(at, at + this.k32[e + TDIRENT.nameLen]!));
  }
  clearEnt(i: number): void {
    Atomics.store(this.k32, this.#ent(i) + TDIRENT.ino, 0);
  }
  setEnt(i: number, parent: number, ino: number, name: Uint8Array): void {
    const e = this.#ent(i);
    this.k32[e + TDIRENT.parent] = parent;
    this.k32[e + TDIRENT.nameLen] = name.length;
    this.u8.set(name, (e + TDIRENT.name) * 4);
    Atomics.store(this.k32, e + TDIRENT.ino, ino);
  }

  /** The entry `name` of directory `dir`, or -1. Lock held. */
  find(dir: number, name: string): number {
    for (let i = 0; i < TMPFS_DIRENTS; i++) {
      if (this.entIno(i) !== 0 && this.entParent(i) === dir && this.entName(i) === name) return i;
    }
    return -1;
  }
  /** Whether directory `dir` has any entry. Lock held. */
  hasChildren(dir: number): boolean {
    for (let i = 0; i < TMPFS_DIRENTS; i++) {
      if (this.entIno(i) !== 0 && this.entParent(i) === dir) return true;
    }
    return false;
  }
  /** A free entry index, or -1. Lock held. */
  free(): number {
    for (let i = 0; i < TMPFS_DIRENTS; i++) if (this.entIno(i) === 0) return i;
    return -1;
  }
}
