/**
 * System V message queues (Linux's ipc/msg.c): msgget, msgsnd, msgrcv,
 * msgctl.
 *
 * A queue is an MSQ record (layout/ipc.ts) whose messages live in its
 * store: up to MSQ_PAGES RAM pages, allocated as sends first need them
 * and freed with the queue (checkInvariants knows them as message-queue
 * pages). Messages are kept in arrival order as records
 * [mtype | length | text padded to 4 bytes] packed from offset 0; taking
 * one out of the middle (msgrcv by type) moves the later ones down. The
 * bound Linux puts on a queue (text bytes and messages both at most
 * msg_qbytes, at most MSGMNB) bounds the store to 48 pages.
 *
 * Blocking: a full queue (msgsnd) or one without a matching message
 * (msgrcv) sleeps on the record's event word, which every change bumps,
 * and looks again; IPC_NOWAIT gives EAGAIN / ENOMSG instead. A signal ends
 * the sleep with ERESTARTNOHAND (restarted only when no handler runs, as
 * on Linux), the queue's removal with EIDRM. A sleeper holds nothing, so a
 * hard kill during the sleep leaves nothing to recover.
 *
 * Locks: the msg table's lock (class IPC) around every record and store
 * access; a store page is allocated with it dropped (allocation may
 * reclaim) and installed when it is taken again.
 *
 * @module
 */

import {
  E2BIG,
  EAGAIN,
  EIDRM,
  EINVAL,
  ENOMEM,
  ENOMSG,
  ENOSYS,
  EPERM,
  isErr,
} from "../abi/errno.ts";
import {
  IPC_64,
  IPC_INFO,
  IPC_NOWAIT,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  MSG_COPY,
  MSG_EXCEPT,
  MSG_INFO,
  MSG_NOERROR,
  MSG_STAT,
  MSG_STAT_ANY,
  MSGINFO_BYTES,
  MSGMAX,
  MSGMNB,
  MSQID64,
  MSQID64_BYTES,
} from "../abi/ipc.ts";
import { ICACHE_SLOTS } from "../abi/layout/mod.ts";
import { ipcParts, MSG_IDS, MSQ, MSQ_PAGES, MSQ_WORDS, SVPERM } from "../abi/layout/ipc.ts";
import { ERESTARTNOHAND } from "../abi/signal.ts";
import { asPfn, PAGE_SIZE } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { allocFrameReclaim } from "../mm/frame_alloc.ts";
import { putPage } from "../mm/memmap.ts";
import { withNoKill } from "../sync/mod.ts";
import type { IpcUserBuf } from "./ipc_shm.ts";
import { IdTable, ipcGetExisting, ipcNow, putIpcPerm, putTime, setIpcPerm } from "./ipc_util.ts";
import { signalSleep, type TaskSignals } from "./signal_task.ts";

/** Bytes of a message record's header: mtype and length. */
const HDR = 8;
const recBytes = (len: number): number => HDR + ((len + 3) & ~3);

/** The msg id table of `mem`. */
export function msgTable(mem: Memory): IdTable {
  const base = mem.layout.ipc.base + ipcParts(mem.layout.config, ICACHE_SLOTS).msg;
  return new IdTable(mem, base, MSG_IDS, MSQ_WORDS);
}

/**
 * msgget(key, msgflg) (ksys_msgget).
 *
 * @returns the id, or -EEXIST, -ENOENT, -ENOSPC
 */
export function msgGet(mem: Memory, key: number, flg: number): number {
  const t = msgTable(mem);
  return t.locked(() => {
    const got = ipcGetExisting(t, key, flg, () => 0);
    if (got !== null) return got;
    const idx = t.add(key, flg);
    if (idx < 0) return idx;
    t.k32[t.rec(idx) + MSQ.qbytes] = MSGMNB;
    return t.idOf(idx);
  });
}

/** Byte `o` of queue `r`'s store, as an offset in physical memory. Lock held; the page exists. */
function storeAddr(k32: Int32Array, r: number, o: number): number {
  const p = k32[r + MSQ.pages + Math.floor(o / PAGE_SIZE)]! - 1;
  return p * PAGE_SIZE + (o % PAGE_SIZE);
}

/** Copy `n` bytes between the store of `r` at `o` and `buf` at `at`. Lock held. */
function storeCopy(
  mem: Memory,
  r: number,
  o: number,
  buf: Uint8Array,
  at: number,
  n: number,
  intoStore: boolean,
): void {
  for (let done = 0; done < n;) {
    const len = Math.min(n - done, PAGE_SIZE - ((o + done) % PAGE_SIZE));
    const pa = storeAddr(mem.k32, r, o + done);
    if (intoStore) mem.u8.set(buf.subarray(at + done, at + done + len), pa);
    else buf.set(mem.u8.subarray(pa, pa + len), at + done);
    done += len;
  }
}

/** The i32 at store offset `o` (4-aligned). Lock held. */
function storeI32(mem: Memory, r: number, o: number): number {
  const pa = storeAddr(mem.k32, r, o);
  return mem.u8[pa]! | mem.u8[pa + 1]! << 8 | mem.u8[pa + 2]! << 16 | mem.u8[pa + 3]! << 24;
}

/** The first store page [0, end) needs that the queue lacks, or -1. Lock held. */
function missingPage(k32: Int32Array, r: number, end: number): number {
  for (let i = 0; i < Math.ceil(end / PAGE_SIZE); i++) if (k32[r + MSQ.pages + i] === 0) return i;
  return -1;
}

/** Who is sending or receiving: the process (lspid/lrpid) and its task's signals. */
export interface MsgCaller {
  readonly mem: Memory;
  readonly pid: number;
  readonly sig: TaskSignals;
}

/**
 * msgsnd(msqid, msgp, msgsz, msgflg) (do_msgsnd), the message already
 * copied in: `mtype` and `text`. Entry: no lock held; killable while it
 * sleeps.
 *
 * @returns 0, or -EINVAL (bad id, mtype < 1, text over MSGMAX), -EIDRM,
 *   -EAGAIN (IPC_NOWAIT and full), -ERESTARTNOHAND (a signal), -ENOMEM
 */
export function msgSnd(
  who: MsgCaller,
  id: number,
  mtype: number,
  text: Uint8Array,
  flg: number,
): number {
  if (id < 0 || text.length > MSGMAX) return -EINVAL;
  if (mtype < 1) return -EINVAL;
  const mem = who.mem;
  const t = msgTable(mem);
  const k = t.k32;
  let slept = false;
  for (;;) {
    let need = -1;
    const r = t.locked((): number | { seen: number; rec: number } => {
      const idx = t.lookup(id);
      if (idx < 0) return slept ? -EIDRM : -EINVAL;
      const q = t.rec(idx);
      const qbytes = k[q + MSQ.qbytes]!;
      if (text.length + k[q + MSQ.cbytes]! <= qbytes && 1 + k[q + MSQ.qnum]! <= qbytes) {
        const at = k[q + MSQ.used]!;
        const end = at + recBytes(text.length);
        need = missingPage(k, q, end);
        if (need >= 0) return { seen: -1, rec: q };
        const hdr = new Uint8Array(HDR);
        const dv = new DataView(hdr.buffer);
        dv.setInt32(0, mtype, true);
        dv.setInt32(4, text.length, true);
        storeCopy(mem, q, at, hdr, 0, HDR, true);
        storeCopy(mem, q, at + HDR, text, 0, text.length, true);
        k[q + MSQ.used] = end;
        k[q + MSQ.cbytes] = k[q + MSQ.cbytes]! + text.length;
        k[q + MSQ.qnum]!++;
        k[q + MSQ.lspid] = who.pid;
        k[q + MSQ.stime] = ipcNow();
        t.wake(idx);
        return 0;
      }
      if ((flg & IPC_NOWAIT) !== 0) return -EAGAIN;
      return { seen: k[q + SVPERM.event]!, rec: q };
    });
    if (typeof r === "number") return r;
    if (need >= 0) {
      if (!addStorePage(mem, t, r.rec, need)) return -ENOMEM;
      continue;
    }
    if (signalSleep(who.sig, k, r.rec + SVPERM.event, r.seen, null) === "signal") {
      return -ERESTARTNOHAND;
    }
    slept = true;
  }
}

/**
 * Give store page `i` of the queue at `rec` a frame, unless someone did
 * meanwhile (or the queue went: the frame is dropped). Entry: no lock held.
 *
 * @returns false when no frame could be had
 */
function addStorePage(mem: Memory, t: IdTable, rec: number, i: number): boolean {
  return withNoKill(() => {
    const pfn = allocFrameReclaim(mem);
    if (isErr(pfn)) return false;
    const used = t.locked(() => {
      if (t.k32[rec + SVPERM.state] === 0 || t.k32[rec + MSQ.pages + i] !== 0) return false;
      t.k32[rec + MSQ.pages + i] = pfn + 1;
      return true;
    });
    if (!used) putPage(mem, pfn);
    return true;
  });
}

/** Where a matching message is: its store offset, type and length. */
interface Found {
  at: number;
  mtype: number;
  len: number;
}

/** The message msgrcv's `msgtyp` and flags select (find_msg), or null. Lock held. */
function findMsg(mem: Memory, q: number, msgtyp: number, flg: number): Found | null {
  const used = mem.k32[q + MSQ.used]!;
  let best: Found | null = null;
  for (let at = 0; at < used;) {
    const mtype = storeI32(mem, q, at);
    const len = storeI32(mem, q, at + 4);
    const m = { at, mtype, len };
    if (msgtyp === 0) return m;
    if (msgtyp > 0) {
      if ((flg & MSG_EXCEPT) !== 0 ? mtype !== msgtyp : mtype === msgtyp) return m;
    } else if (mtype <= -msgtyp && (best === null || mtype < best.mtype)) {
      best = m;
      if (mtype === 1) return best;
    }
    at += recBytes(len);
  }
  return best;
}

/**
 * msgrcv(msqid, msgp, msgsz, msgtyp, msgflg) (do_msgrcv): take the
 * selected message out. Its type and text (cut to `maxLen` with
 * MSG_NOERROR) come back for the caller to copy out. Entry: no lock held;
 * killable while it sleeps.
 *
 * @returns the message, or -EINVAL (bad id, MSG_COPY misused), -ENOSYS
 *   (MSG_COPY: no checkpoint/restore), -E2BIG (longer than maxLen without
 *   MSG_NOERROR; it stays queued), -ENOMSG (IPC_NOWAIT and none), -EIDRM,
 *   -ERESTARTNOHAND (a signal)
 */
export function msgRcv(
  who: MsgCaller,
  id: number,
  maxLen: number,
  msgtyp: number,
  flg: number,
): { mtype: number; text: Uint8Array } | number {
  if (id < 0 || maxLen < 0) return -EINVAL;
  if ((flg & MSG_COPY) !== 0) {
    return (flg & MSG_EXCEPT) !== 0 || (flg & IPC_NOWAIT) === 0 ? -EINVAL : -ENOSYS;
  }
  const mem = who.mem;
  const t = msgTable(mem);
  const k = t.k32;
  let slept = false;
  for (;;) {
    const r = t.locked(
      (): { mtype: number; text: Uint8Array } | number | { seen: number; rec: number } => {
        const idx = t.lookup(id);
        if (idx < 0) return slept ? -EIDRM : -EINVAL;
        const q = t.rec(idx);
        const m = findMsg(mem, q, msgtyp, flg);
        if (m === null) {
          if ((flg & IPC_NOWAIT) !== 0) return -ENOMSG;
          return { seen: k[q + SVPERM.event]!, rec: q };
        }
        if (m.len > maxLen && (flg & MSG_NOERROR) === 0) return -E2BIG;
        const text = new Uint8Array(Math.min(m.len, maxLen));
        storeCopy(mem, q, m.at + HDR, text, 0, text.length, false);
        // Move the later messages down over this one.
        const size = recBytes(m.len);
        const used = k[q + MSQ.used]!;
        const rest = new Uint8Array(used - m.at - size);
        storeCopy(mem, q, m.at + size, rest, 0, rest.length, false);
        storeCopy(mem, q, m.at, rest, 0, rest.length, true);
        k[q + MSQ.used] = used - size;
        k[q + MSQ.cbytes] = k[q + MSQ.cbytes]! - m.len;
        k[q + MSQ.qnum]!--;
        k[q + MSQ.lrpid] = who.pid;
        k[q + MSQ.rtime] = ipcNow();
        t.wake(idx);
        return { mtype: m.mtype, text };
      },
    );
    if (typeof r === "number" || "text" in r) return r;
    if (signalSleep(who.sig, k, r.rec + SVPERM.event, r.seen, null) === "signal") {
      return -ERESTARTNOHAND;
    }
    slept = true;
  }
}

/** Free queue `idx` and its store pages; wake its sleepers (EIDRM). Lock held. */
function freeQueueLocked(mem: Memory, t: IdTable, idx: number): void {
  const q = t.rec(idx);
  for (let i = 0; i < MSQ_PAGES; i++) {
    const p = t.k32[q + MSQ.pages + i]!;
    t.k32[q + MSQ.pages + i] = 0;
    if (p !== 0) putPage(mem, asPfn(p - 1));
  }
  t.remove(idx);
}

/**
 * msgctl(msqid, cmd, buf) (ksys_msgctl, IPC_64 layouts): IPC_STAT, MSG_STAT,
 * MSG_STAT_ANY, IPC_SET, IPC_RMID, IPC_INFO, MSG_INFO. Entry: no lock held.
 * Takes and drops the msg IPC lock; `buf` is read before it and written
 * after it (mmap_lock for reading), never under it.
 *
 * @returns 0, an id (MSG_STAT*), the highest index (*_INFO), or -EINVAL,
 *   -EPERM (msg_qbytes above MSGMNB, which needs CAP_SYS_RESOURCE), -EFAULT
 */
export function msgCtl(mem: Memory, id: number, cmd: number, buf: IpcUserBuf): number {
  const t = msgTable(mem);
  const k = t.k32;
  if (id < 0 || cmd < 0 || (cmd & IPC_64) !== 0) return -EINVAL;
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO: {
      const out = new Uint8Array(MSGINFO_BYTES);
      const dv = new DataView(out.buffer);
      const max = t.locked(() => {
        let msgs = 0, bytes = 0;
        for (let i = 0; i < MSG_IDS; i++) {
          if (t.lookup(t.idOf(i)) < 0) continue;
          msgs += k[t.rec(i) + MSQ.qnum]!;
          bytes += k[t.rec(i) + MSQ.cbytes]!;
        }
        // msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql, msgseg (Linux's defaults);
        // MSG_INFO reports queues, messages and bytes in use in the first, second and seventh.
        const v = [MSG_IDS * MSGMNB / 1024, MSGMNB, MSGMAX, MSGMNB, MSG_IDS, 16, MSGMNB];
        if (cmd === MSG_INFO) v[0] = t.inUse(), v[1] = msgs, v[6] = bytes;
        v.forEach((x, i) => dv.setInt32(i * 4, x, true));
        dv.setUint16(28, 0xffff, true);
        return t.maxIdx();
      });
      const w = buf.write(out);
      return w < 0 ? w : Math.max(0, max);
    }
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY: {
      const out = new Uint8Array(MSQID64_BYTES);
      const dv = new DataView(out.buffer);
      const ret = t.locked(() => {
        const idx = cmd === IPC_STAT ? t.lookup(id) : t.lookup(id < MSG_IDS ? t.idOf(id) : -1);
        if (idx < 0) return -EINVAL;
        const q = t.rec(idx);
        putIpcPerm(k, q, dv, MSQID64.perm);
        putTime(dv, MSQID64.stime, k[q + MSQ.stime]!);
        putTime(dv, MSQID64.rtime, k[q + MSQ.rtime]!);
        putTime(dv, MSQID64.ctime, k[q + SVPERM.ctime]!);
        dv.setUint32(MSQID64.cbytes, k[q + MSQ.cbytes]!, true);
        dv.setUint32(MSQID64.qnum, k[q + MSQ.qnum]!, true);
        dv.setUint32(MSQID64.qbytes, k[q + MSQ.qbytes]!, true);
        dv.setInt32(MSQID64.lspid, k[q + MSQ.lspid]!, true);
        dv.setInt32(MSQID64.lrpid, k[q + MSQ.lrpid]!, true);
        return cmd === IPC_STAT ? 0 : t.idOf(idx);
      });
      if (ret < 0) return ret;
      const w = buf.write(out);
      return w < 0 ? w : ret;
    }
    case IPC_SET: {
      const raw = buf.read(MSQID64_BYTES);
      if (typeof raw === "number") return raw;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const qbytes = dv.getUint32(MSQID64.qbytes, true);
      return t.locked(() => {
        const idx = t.lookup(id);
        if (idx < 0) return -EINVAL;
        if (qbytes > MSGMNB) return -EPERM;
        const q = t.rec(idx);
        setIpcPerm(k, q, dv, MSQID64.perm);
        k[q + MSQ.qbytes] = qbytes;
        t.wake(idx); // senders may fit now
        return 0;
      });
    }
    case IPC_RMID:
      return t.locked(() => {
        const idx = t.lookup(id);
        if (idx < 0) return -EINVAL;
        freeQueueLocked(mem, t, idx);
        return 0;
      });
    default:
      return -EINVAL;
  }
}

/**
 * Remove every queue (machine shutdown). Main thread. Entry: no lock held;
 * takes and drops the msg IPC lock (message frames go back to the lock-free
 * allocator under it).
 */
export function msgTeardown(mem: Memory): void {
  const t = msgTable(mem);
  t.locked(() => {
    for (let i = 0; i < MSG_IDS; i++) if (t.lookup(t.idOf(i)) >= 0) freeQueueLocked(mem, t, i);
  });
}

/** The store pages of every live queue, frame -> queue index (checkInvariants). No lock: quiescence. */
export function msgStorePages(mem: Memory): Map<number, number[]> {
  const t = msgTable(mem);
  const out = new Map<number, number[]>();
  for (let i = 0; i < MSG_IDS; i++) {
    const q = t.rec(i);
    for (let p = 0; p < MSQ_PAGES; p++) {
      const w = Atomics.load(t.k32, q + MSQ.pages + p);
      if (w === 0) continue;
      const list = out.get(w - 1) ?? [];
      list.push(i);
      out.set(w - 1, list);
    }
  }
  return out;
}
