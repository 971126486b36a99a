/**
 * checkInvariants rule 8 (shared memory and IPC): it passes on a machine
 * holding live objects of every kind (a tmpfs file open and mapped, a
 * shared anonymous mapping, an attached System V segment, a semaphore set
 * with an undo entry, a queue with messages in its store), and each kind
 * of corruption it is meant to catch makes it report one precise line.
 */
import assert from "node:assert/strict";
import { ICACHE, ISLOT, ISLOT_WORDS } from "../../src/abi/layout/mod.ts";
import {
  ipcParts,
  MSQ,
  SEMWAIT,
  SEMWAIT_WORDS,
  SHMID,
  SVHDR_WORDS,
} from "../../src/abi/layout/ipc.ts";
import { ICACHE_SLOTS } from "../../src/abi/layout/mod.ts";
import { AT_FDCWD, O_CREAT, O_RDWR } from "../../src/abi/fcntl.ts";
import { IPC_CREAT, IPC_PRIVATE, SEM_UNDO } from "../../src/abi/ipc.ts";
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { makeBench, SCRATCH } from "./_task.ts";

const enc = new TextEncoder();
const PATH = SCRATCH, DATA = SCRATCH + 256, OPS = SCRATCH + 2048;

/** A bench holding one live object of every kind; returns it with the ids. */
function populated() {
  const b = makeBench();
  b.poke(PATH, enc.encode("/dev/shm/live\0"));
  const fd = b.call(nr.SYS_openat, AT_FDCWD, PATH, O_CREAT | O_RDWR, 0o600);
  assert.equal(b.call(nr.SYS_ftruncate64, fd, PAGE_SIZE, 0), 0);
  const rw = PROT_READ | PROT_WRITE;
  const fmap = b.call(nr.SYS_mmap2, 0, PAGE_SIZE, rw, MAP_SHARED, fd, 0);
  b.poke(fmap, enc.encode("file"));
  const anon = b.call(nr.SYS_mmap2, 0, 2 * PAGE_SIZE, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  b.poke(anon, enc.encode("anon"));
  const shm = b.call(nr.SYS_shmget, IPC_PRIVATE, 3 * PAGE_SIZE, IPC_CREAT | 0o600);
  const at = b.call(nr.SYS_shmat, shm, 0, 0);
  assert.ok(at > 0, `shmat ${at}`);
  b.poke(at + PAGE_SIZE, enc.encode("segment"));
  const sem = b.call(nr.SYS_semget, IPC_PRIVATE, 2, IPC_CREAT | 0o600);
  const op = new Uint8Array(6);
  new DataView(op.buffer).setInt16(2, 1, true);
  new DataView(op.buffer).setInt16(4, SEM_UNDO, true);
  b.poke(OPS, op);
  assert.equal(b.call(nr.SYS_semop, sem, OPS, 1), 0);
  const q = b.call(nr.SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0o600);
  const msg = new Uint8Array(4 + 10);
  new DataView(msg.buffer).setInt32(0, 3, true);
  b.poke(DATA, msg);
  assert.equal(b.call(nr.SYS_msgsnd, q, DATA, 10, 0), 0);
  assert.equal(b.call(nr.SYS_msgsnd, q, DATA, 7, 0), 0);
  return { b, fd, shm, sem, q };
}

Deno.test("checkInvariants() passes with live tmpfs, shared-anonymous, shm, sem and msg objects", () => {
  const { b } = populated();
  try {
    assert.deepEqual(checkInvariants(b.mem), []);
  } finally {
    b.close();
  }
});

Deno.test("checkInvariants() reports a shmem reference, a segment's attach count, a sleeper and a queue gone wrong", () => {
  const { b } = populated();
  const k = b.mem.k32;
  const l = b.mem.layout;
  const p = ipcParts(l.config, ICACHE_SLOTS);
  try {
    const shmRec = l.ipc.base + p.shm + SVHDR_WORDS; // the one segment, index 0
    const slot = k[shmRec + SHMID.slot]!;
    const count = l.icache.base + ICACHE.slots + slot * ISLOT_WORDS + ISLOT.count;
    k[count]!++;
    assert.ok(
      checkInvariants(b.mem).some((l) => /shmem slot \d+ .* i_count \d+, expected/.test(l)),
    );
    k[count]!--;
    k[shmRec + SHMID.nattch]!++;
    assert.ok(
      checkInvariants(b.mem).some((l) => /shm segment 0 nattch 2 but 1 attached VMAs/.test(l)),
    );
    k[shmRec + SHMID.nattch]!--;
    const wait = l.ipc.base + p.semWait + 2 * SEMWAIT_WORDS + SEMWAIT.semid;
    k[wait] = 1;
    assert.ok(checkInvariants(b.mem).includes("ipc: task 2 is recorded as waiting in semop"));
    k[wait] = 0;
    const q = l.ipc.base + p.msg + SVHDR_WORDS;
    k[q + MSQ.qnum]!++;
    assert.ok(checkInvariants(b.mem).some((l) => /queue 0 store holds 2 messages/.test(l)));
    k[q + MSQ.qnum]!--;
    assert.deepEqual(checkInvariants(b.mem), [], "all put back");
  } finally {
    b.close();
  }
});
