/**
 * checkInvariants rule 8 (invariants.ts): shared memory and System V IPC
 * (layout/ipc.ts) at quiescence. Reads with Atomics and takes no lock.
 *
 * - shmem inodes: the slots flagged IFLAG_SHMEM are SHMHDR.nrInodes many;
 *   each slot's SHMI.pages is the page-cache pages of its mapping and they
 *   sum to SHMHDR.nrPages; each slot's i_count is exactly its users: the
 *   VMAs mapping it, the open files naming it, its tmpfs names (one per
 *   directory entry, and one for the tmpfs root), and the System V
 *   segment owning it.
 * - tmpfs: every directory entry names a live tmpfs inode with nlink > 0
 *   and sits in a live tmpfs directory; names are unique in a directory;
 *   a file's nlink is the number of entries naming it (hard links), a
 *   directory has exactly one.
 * - System V shm: each live segment's inode is a SHMEM_KIND_SYSV inode
 *   that points back at it, and its attach count equals the VMAs of
 *   VMOPS_SYSV_SHM mapping it.
 * - semaphores: no task is recorded as waiting (nobody sleeps at
 *   quiescence); values are in 0..SEMVMX; sets' runs of the pool do not
 *   overlap; every undo entry names a live set and one of its semaphores.
 * - message queues: walking each store finds qnum messages holding cbytes
 *   bytes and ending at `used`, inside the pages it has.
 *
 * @module
 */

import { SEMVMX } from "../abi/ipc.ts";
import {
  FILE,
  fileBase,
  FILES_MAX,
  ICACHE,
  ICACHE_SLOTS,
  IFLAG_SHMEM,
  ISLOT,
  ISLOT_WORDS,
} from "../abi/layout/mod.ts";
import {
  ipcParts,
  MSG_IDS,
  MSQ,
  MSQ_WORDS,
  SEM,
  SEM_IDS,
  SEM_UNDOS,
  SEM_WORDS,
  SEMID,
  SEMID_WORDS,
  SEMUNDO,
  SEMUNDO_WORDS,
  SEMWAIT,
  SEMWAIT_WORDS,
  SHM_IDS,
  SHMEM_KIND_SYSV,
  SHMEM_KIND_TMPFS,
  SHMHDR,
  SHMI,
  shmiBase,
  SHMID,
  SHMID_WORDS,
  SV_LIVE,
  SVHDR_WORDS,
  SVPERM,
  TDIRENT,
  TDIRENT_WORDS,
  TMPFS_DIRENTS,
} from "../abi/layout/ipc.ts";
import { S_IFDIR, S_IFMT } from "../abi/fcntl.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import { SOCK, SOCK_MAX, SOCK_SLOT_BITS, SOCK_WORDS, SOCKHDR_WORDS } from "../abi/layout/ipc.ts";
import { SS_LISTENING } from "../abi/socket.ts";
import { ANON_INO_BASE, ANON_SOCKET } from "../fs/anon_file.ts";
import { SOCKF_EMBRYO } from "./unix_sock.ts";
import { VMA, vmaBase, VMAS_PER_TASK } from "../abi/layout/mod.ts";
import { VMOPS_SYSV_SHM } from "../mm/vma.ts";
import type { Snapshot } from "./_invariants_scan.ts";

/** Check rule 8 on snapshot `s`, appending one line per violation. */
export function checkIpc(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const k = mem.k32;
  const l = mem.layout;
  const parts = ipcParts(l.config, ICACHE_SLOTS);
  const base = l.ipc.base;
  const slotW = (slot: number, f: number) =>
    Atomics.load(k, l.icache.base + ICACHE.slots + slot * ISLOT_WORDS + f);
  const shmi = (slot: number, f: number) => Atomics.load(k, shmiBase(base, slot) + f);

  // Users of each inode slot: VMAs, open files.
  const users = new Map<number, number>();
  const add = (slot: number) => users.set(slot, (users.get(slot) ?? 0) + 1);
  const sysvVmas = new Map<number, number>();
  for (let v = 1; v < l.config.maxTasks * VMAS_PER_TASK; v++) {
    const b = vmaBase(l, v);
    if (Atomics.load(k, b + VMA.used) !== 1) continue;
    const file = Atomics.load(k, b + VMA.file);
    if (file === 0) continue;
    add(file);
    if (Atomics.load(k, b + VMA.ops) === VMOPS_SYSV_SHM) {
      sysvVmas.set(file, (sysvVmas.get(file) ?? 0) + 1);
    }
  }
  for (let idx = 0; idx < FILES_MAX; idx++) {
    const r = fileBase(l.files.base, idx);
    if (Atomics.load(k, r + FILE.refcount) <= 0) continue;
    const slot = Atomics.load(k, r + FILE.islot);
    const ino = Atomics.load(k, r + FILE.ino);
    if (slot > 0 && slot < ICACHE_SLOTS && slotW(slot, ISLOT.ino) === ino) add(slot);
  }

  // System V segments own a reference each.
  const shmT = base + parts.shm + SVHDR_WORDS;
  const segOf = new Map<number, number>();
  for (let i = 0; i < SHM_IDS; i++) {
    const r = shmT + i * SHMID_WORDS;
    if (Atomics.load(k, r + SVPERM.state) !== SV_LIVE) continue;
    const slot = Atomics.load(k, r + SHMID.slot);
    segOf.set(slot, i);
    add(slot);
    if (shmi(slot, SHMI.kind) !== SHMEM_KIND_SYSV || shmi(slot, SHMI.sysvIdx) !== i + 1) {
      out.push(`ipc: shm segment ${i} names inode slot ${slot}, which does not point back at it`);
    }
    const nattch = Atomics.load(k, r + SHMID.nattch);
    const vmas = sysvVmas.get(slot) ?? 0;
    if (nattch !== vmas) {
      out.push(`ipc: shm segment ${i} nattch ${nattch} but ${vmas} attached VMAs`);
    }
  }

  // Page-cache pages per mapping.
  const pages = new Map<number, number>();
  for (const refs of s.pcache.values()) {
    for (const e of refs) pages.set(e.mapping, (pages.get(e.mapping) ?? 0) + 1);
  }

  // tmpfs names: entries per inode number.
  const rootIno = Atomics.load(k, base + SHMHDR.tmpfsRootIno);
  const rootSlot = Atomics.load(k, base + SHMHDR.tmpfsRootSlot);
  const names = tmpfsNames(s);
  const slotOfIno = new Map<number, number>();
  let nShmem = 0, nPages = 0;
  for (let slot = 1; slot < ICACHE_SLOTS; slot++) {
    if ((slotW(slot, ISLOT.flags) & IFLAG_SHMEM) === 0 || slotW(slot, ISLOT.ino) === 0) continue;
    nShmem++;
    slotOfIno.set(slotW(slot, ISLOT.ino), slot);
    const have = pages.get(slot) ?? 0;
    nPages += have;
    if (shmi(slot, SHMI.pages) !== have) {
      out.push(`ipc: shmem slot ${slot} counts ${shmi(slot, SHMI.pages)} pages but has ${have}`);
    }
    const tmpfs = shmi(slot, SHMI.kind) === SHMEM_KIND_TMPFS;
    const named = names.get(slotW(slot, ISLOT.ino)) ?? 0;
    const link = tmpfs ? named + (slot === rootSlot ? 1 : 0) : 0;
    if (tmpfs && slot !== rootSlot) {
      const dir = (shmi(slot, SHMI.mode) & S_IFMT) === S_IFDIR;
      const nlink = shmi(slot, SHMI.nlink);
      if (dir ? named > 1 || (named === 0) !== (nlink === 0) : nlink !== named) {
        out.push(
          `ipc: tmpfs inode ${slotW(slot, ISLOT.ino)} has nlink ${nlink} but ${named} names`,
        );
      }
    }
    const want = (users.get(slot) ?? 0) + link;
    const count = slotW(slot, ISLOT.count);
    if (count !== want) {
      out.push(
        `ipc: shmem slot ${slot} (inode ${
          slotW(slot, ISLOT.ino)
        }) i_count ${count}, expected ${want} (users ${users.get(slot) ?? 0} + link ${link})`,
      );
    }
  }
  if (nShmem !== Atomics.load(k, base + SHMHDR.nrInodes)) {
    out.push(
      `ipc: ${nShmem} shmem slots but SHMHDR.nrInodes ${Atomics.load(k, base + SHMHDR.nrInodes)}`,
    );
  }
  if (nPages !== Atomics.load(k, base + SHMHDR.nrPages)) {
    out.push(
      `ipc: ${nPages} shmem pages but SHMHDR.nrPages ${Atomics.load(k, base + SHMHDR.nrPages)}`,
    );
  }

  checkTmpfs(s, out, slotOfIno, rootIno);
  checkSem(s, out);
  checkMsg(s, out);
  checkSocks(s, out);
}

/**
 * Every socket but an embryo (a connection waiting in a listener's accept
 * queue) is owned by exactly one open file; every socket open file names a
 * live socket; every embryo is on a live listener's queue.
 */
function checkSocks(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const k = mem.k32;
  const l = mem.layout;
  const owners = new Map<number, number>();
  for (let idx = 0; idx < FILES_MAX; idx++) {
    const r = fileBase(l.files.base, idx);
    if (Atomics.load(k, r + FILE.refcount) <= 0) continue;
    if (Atomics.load(k, r + FILE.ino) !== ANON_INO_BASE + ANON_SOCKET) continue;
    const id = Atomics.load(k, r + FILE.islot);
    owners.set(id, (owners.get(id) ?? 0) + 1);
  }
  const base = l.ipc.base + ipcParts(l.config, ICACHE_SLOTS).sock + SOCKHDR_WORDS;
  const live = new Set<number>(), queued = new Set<number>();
  for (let slot = 0; slot < SOCK_MAX; slot++) {
    const r = base + slot * SOCK_WORDS;
    const id = Atomics.load(k, r + SOCK.id);
    if (id === 0) continue;
    live.add(id);
    if (Atomics.load(k, r + SOCK.state) === SS_LISTENING) {
      for (let e = Atomics.load(k, r + SOCK.qhead), n = 0; e !== 0 && n < SOCK_MAX; n++) {
        queued.add(e);
        e = Atomics.load(k, base + (e & ((1 << SOCK_SLOT_BITS) - 1)) * SOCK_WORDS + SOCK.next);
      }
    }
  }
  for (let slot = 0; slot < SOCK_MAX; slot++) {
    const r = base + slot * SOCK_WORDS;
    const id = Atomics.load(k, r + SOCK.id);
    if (id === 0) continue;
    const embryo = (Atomics.load(k, r + SOCK.flags) & SOCKF_EMBRYO) !== 0;
    const want = embryo ? 0 : 1;
    if ((owners.get(id) ?? 0) !== want) {
      out.push(`ipc: socket ${id} has ${owners.get(id) ?? 0} open files, expected ${want}`);
    }
    if (embryo && !queued.has(id)) out.push(`ipc: socket ${id} waits for accept on no listener`);
  }
  for (const id of owners.keys()) {
    if (!live.has(id)) out.push(`ipc: an open file names socket ${id}, which does not exist`);
  }
}

/** How many tmpfs directory entries name each inode number. */
function tmpfsNames(s: Snapshot): Map<number, number> {
  const k = s.mem.k32;
  const ents = s.mem.layout.ipc.base + ipcParts(s.mem.layout.config, ICACHE_SLOTS).tdirent;
  const names = new Map<number, number>();
  for (let i = 0; i < TMPFS_DIRENTS; i++) {
    const ino = Atomics.load(k, ents + i * TDIRENT_WORDS + TDIRENT.ino);
    if (ino !== 0) names.set(ino, (names.get(ino) ?? 0) + 1);
  }
  return names;
}

/** tmpfs entries name live linked inodes in live directories, uniquely. */
function checkTmpfs(
  s: Snapshot,
  out: string[],
  slotOfIno: Map<number, number>,
  rootIno: number,
): void {
  const { mem } = s;
  const k = mem.k32;
  const base = mem.layout.ipc.base;
  const ents = base + ipcParts(mem.layout.config, ICACHE_SLOTS).tdirent;
  const u8 = new Uint8Array(k.buffer);
  const seen = new Set<string>();
  for (let i = 0; i < TMPFS_DIRENTS; i++) {
    const e = ents + i * TDIRENT_WORDS;
    const ino = Atomics.load(k, e + TDIRENT.ino);
    if (ino === 0) continue;
    const parent = Atomics.load(k, e + TDIRENT.parent);
    const at = (e + TDIRENT.name) * 4;
    const name = new TextDecoder().decode(u8.slice(at, at + Atomics.load(k, e + TDIRENT.nameLen)));
    const slot = slotOfIno.get(ino);
    if (slot === undefined || Atomics.load(k, shmiBase(base, slot) + SHMI.nlink) === 0) {
      out.push(`ipc: tmpfs entry ${name} names inode ${ino}, which is not a linked tmpfs inode`);
    }
    if (parent !== rootIno && !slotOfIno.has(parent)) {
      out.push(`ipc: tmpfs entry ${name} is in directory ${parent}, which does not exist`);
    }
    const key = `${parent}/${name}`;
    if (seen.has(key)) out.push(`ipc: tmpfs name ${name} twice in directory ${parent}`);
    seen.add(key);
  }
}

/** No sleeper recorded, values in range, disjoint pool runs, undo entries of live sets. */
function checkSem(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const k = mem.k32;
  const p = ipcParts(mem.layout.config, ICACHE_SLOTS);
  const base = mem.layout.ipc.base;
  for (let tid = 1; tid < mem.layout.config.maxTasks; tid++) {
    if (Atomics.load(k, base + p.semWait + tid * SEMWAIT_WORDS + SEMWAIT.semid) !== 0) {
      out.push(`ipc: task ${tid} is recorded as waiting in semop`);
    }
  }
  const sets = new Map<number, { nsems: number; start: number }>();
  const runs: [number, number, number][] = [];
  for (let i = 0; i < SEM_IDS; i++) {
    const r = base + p.sem + SVHDR_WORDS + i * SEMID_WORDS;
    if (Atomics.load(k, r + SVPERM.state) !== SV_LIVE) continue;
    const nsems = Atomics.load(k, r + SEMID.nsems), start = Atomics.load(k, r + SEMID.base);
    sets.set(Atomics.load(k, r + SVPERM.seq) * 32768 + i, { nsems, start });
    runs.push([start, start + nsems, i]);
    for (let n = 0; n < nsems; n++) {
      const v = Atomics.load(k, base + p.semPool + (start + n) * SEM_WORDS + SEM.val);
      if (v < 0 || v > SEMVMX) out.push(`ipc: semaphore ${n} of set ${i} has value ${v}`);
    }
  }
  runs.sort((a, b) => a[0] - b[0]);
  for (let j = 1; j < runs.length; j++) {
    if (runs[j]![0] < runs[j - 1]![1]) {
      out.push(`ipc: semaphore sets ${runs[j - 1]![2]} and ${runs[j]![2]} overlap in the pool`);
    }
  }
  for (let i = 0; i < SEM_UNDOS; i++) {
    const u = base + p.semUndo + i * SEMUNDO_WORDS;
    if (Atomics.load(k, u + SEMUNDO.owner) === 0) continue;
    const set = sets.get(Atomics.load(k, u + SEMUNDO.semid));
    if (set === undefined || Atomics.load(k, u + SEMUNDO.semnum) >= set.nsems) {
      out.push(`ipc: undo entry ${i} names no live semaphore`);
    }
  }
}

/** Each queue's store holds qnum messages of cbytes bytes, ending at `used`, within its pages. */
function checkMsg(s: Snapshot, out: string[]): void {
  const { mem } = s;
  const k = mem.k32;
  const base = mem.layout.ipc.base + ipcParts(mem.layout.config, ICACHE_SLOTS).msg + SVHDR_WORDS;
  for (let i = 0; i < MSG_IDS; i++) {
    const q = base + i * MSQ_WORDS;
    if (Atomics.load(k, q + SVPERM.state) !== SV_LIVE) continue;
    const used = Atomics.load(k, q + MSQ.used);
    const byte = (o: number): number => {
      const pg = Atomics.load(k, q + MSQ.pages + Math.floor(o / PAGE_SIZE)) - 1;
      return pg < 0 ? 0 : mem.u8[pg * PAGE_SIZE + (o % PAGE_SIZE)]!;
    };
    const i32 = (o: number) => byte(o) | byte(o + 1) << 8 | byte(o + 2) << 16 | byte(o + 3) << 24;
    let at = 0, n = 0, bytes = 0;
    for (let p = 0; p < Math.ceil(used / PAGE_SIZE); p++) {
      if (Atomics.load(k, q + MSQ.pages + p) === 0) {
        out.push(`ipc: queue ${i} uses store page ${p} it lacks`);
      }
    }
    while (at < used) {
      const len = i32(at + 4);
      if (len < 0 || i32(at) < 1) {
        out.push(`ipc: queue ${i} has a bad message at store offset ${at}`);
        break;
      }
      n++;
      bytes += len;
      at += 8 + ((len + 3) & ~3);
    }
    if (
      at !== used || n !== Atomics.load(k, q + MSQ.qnum) ||
      bytes !== Atomics.load(k, q + MSQ.cbytes)
    ) {
      out.push(
        `ipc: queue ${i} store holds ${n} messages of ${bytes} bytes ending at ${at}, the record says ${
          Atomics.load(k, q + MSQ.qnum)
        } of ${Atomics.load(k, q + MSQ.cbytes)} ending at ${used}`,
      );
    }
  }
}
