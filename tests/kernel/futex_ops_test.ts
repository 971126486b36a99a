/**
 * The futex commands beyond WAIT and WAKE (src/kernel/futex_ops.ts), as one
 * task sees them through futex_time64: CMP_REQUEUE's compare, WAKE_OP's
 * arithmetic, comparisons and errors, the PI word protocol (LOCK_PI,
 * TRYLOCK_PI, UNLOCK_PI), set_robust_list's size check. Waking and
 * requeueing sleepers is covered with real threads (musl's condition
 * variables and PI mutexes in mtest, threads.c's mutex).
 */

import assert from "node:assert/strict";
import { EAGAIN, EDEADLK, EINVAL, ENOSYS, EPERM, ESRCH } from "../../src/abi/errno.ts";
import { SYS_futex_time64, SYS_set_robust_list } from "../../src/abi/syscall_nr.ts";
import {
  FUTEX_CMP_REQUEUE,
  FUTEX_LOCK_PI,
  FUTEX_OWNER_DIED,
  FUTEX_REQUEUE,
  FUTEX_TRYLOCK_PI,
  FUTEX_UNLOCK_PI,
  FUTEX_WAITERS,
  FUTEX_WAKE_OP,
  ROBUST_LIST_HEAD_BYTES,
} from "../../src/kernel/futex_ops.ts";
import { makeBench, SCRATCH } from "./_task.ts";

const A = SCRATCH, B = SCRATCH + 64;
const PRIVATE = 128;

function word(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** FUTEX_WAKE_OP's val3: op, comparison, their arguments (uapi FUTEX_OP). */
const wakeOp = (op: number, oparg: number, cmp: number, cmparg: number) =>
  ((op & 15) << 28) | ((cmp & 15) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff);

Deno.test("futex REQUEUE and CMP_REQUEUE: counts checked, CMP compares the word, nobody to move", () => {
  const b = makeBench();
  try {
    const at = (va: number) => new DataView(b.peek(va, 4).buffer).getInt32(0, true);
    b.poke(A, word(7));
    const call = (cmd: number, nWake: number, nMove: number, v3: number) =>
      b.call(SYS_futex_time64, A, cmd | PRIVATE, nWake, nMove, B, v3);
    assert.equal(call(FUTEX_CMP_REQUEUE, 1, 1, 8), -EAGAIN, "the word is 7, not 8");
    assert.equal(call(FUTEX_CMP_REQUEUE, 1, 1, 7), 0, "equal: nobody woken or moved");
    assert.equal(call(FUTEX_REQUEUE, 1, 1, 0), 0, "REQUEUE compares nothing");
    assert.equal(call(FUTEX_CMP_REQUEUE, -1, 1, 7), -EINVAL, "a negative wake count");
    assert.equal(call(FUTEX_CMP_REQUEUE, 1, -1, 7), -EINVAL, "a negative requeue count");
    assert.equal(at(A), 7, "the words are left alone");
  } finally {
    b.close();
  }
});

Deno.test("futex WAKE_OP applies its operation to the second word and compares the old value", () => {
  const b = makeBench();
  try {
    const at = (va: number) => new DataView(b.peek(va, 4).buffer).getInt32(0, true);
    const call = (v3: number) => b.call(SYS_futex_time64, A, FUTEX_WAKE_OP | PRIVATE, 1, 1, B, v3);
    b.poke(B, word(10));
    // op SET 1, ADD 2, OR 3, ANDN 4... here: ADD 5 when the old value equals 10.
    assert.equal(call(wakeOp(1, 5, 0, 10)), 0, "nobody waits on either word");
    assert.equal(at(B), 15);
    assert.equal(call(wakeOp(0, 3, 1, 0)), 0, "SET 3");
    assert.equal(at(B), 3);
    assert.equal(call(wakeOp(2, 8, 4, 0)), 0, "OR 8");
    assert.equal(at(B), 11);
    assert.equal(call(wakeOp(3, 1, 5, 0)), 0, "ANDN 1");
    assert.equal(at(B), 10);
    assert.equal(call(wakeOp(4, 0xf, 2, 0)), 0, "XOR 15");
    assert.equal(at(B), 5);
    assert.equal(call(wakeOp(8 | 0, 4, 0, 0)), 0, "SET with FUTEX_OP_OPARG_SHIFT: 1 << 4");
    assert.equal(at(B), 16);
    assert.equal(call(wakeOp(8 | 0, 33, 0, 0)), 0, "a shift past 31 is masked, as Linux");
    assert.equal(at(B), 2);
    assert.equal(call(wakeOp(1, -2, 0, 0)), 0, "the 12-bit oparg is signed");
    assert.equal(at(B), 0);
    assert.equal(call(wakeOp(5, 1, 0, 0)), -ENOSYS, "an unknown op changes nothing");
    assert.equal(at(B), 0);
    assert.equal(call(wakeOp(1, 1, 6, 0)), -ENOSYS, "an unknown comparison fails...");
    assert.equal(at(B), 1, "...after the op was applied, as Linux");
  } finally {
    b.close();
  }
});

Deno.test("futex LOCK_PI, TRYLOCK_PI and UNLOCK_PI keep the owner-tid word protocol", () => {
  const b = makeBench();
  try {
    const at = (va: number) => new DataView(b.peek(va, 4).buffer).getInt32(0, true);
    const me = b.t.pid;
    const call = (cmd: number) => b.call(SYS_futex_time64, A, cmd | PRIVATE, 0, 0, 0, 0);
    b.poke(A, word(0));
    assert.equal(call(FUTEX_LOCK_PI), 0, "an unowned word is taken");
    assert.equal(at(A) & 0x3fff_ffff, me, "the owner is the caller's tid");
    assert.equal(call(FUTEX_LOCK_PI), -EDEADLK, "the owner locks again");
    assert.equal(call(FUTEX_TRYLOCK_PI), -EDEADLK);
    assert.equal(call(FUTEX_UNLOCK_PI), 0);
    assert.equal(at(A), 0, "released: owner and flags cleared");
    assert.equal(call(FUTEX_UNLOCK_PI), -EPERM, "not the owner");
    b.poke(A, word(me + 1000)); // an owner that does not exist
    assert.equal(call(FUTEX_UNLOCK_PI), -EPERM);
    assert.equal(call(FUTEX_TRYLOCK_PI), -ESRCH, "no such owner: attach_to_pi_owner's -ESRCH");
    assert.equal(call(FUTEX_LOCK_PI), -ESRCH);
    assert.equal(at(A), (me + 1000) | FUTEX_WAITERS, "FUTEX_WAITERS stays set, as Linux leaves it");
    b.poke(A, word(FUTEX_WAITERS | FUTEX_OWNER_DIED)); // released by a dead owner's robust list
    assert.equal(call(FUTEX_LOCK_PI), 0, "an unowned word is taken...");
    assert.equal(at(A), me | FUTEX_OWNER_DIED, "...keeping FUTEX_OWNER_DIED; nobody waits");
    assert.equal(call(FUTEX_UNLOCK_PI), 0);
    assert.equal(at(A), 0, "the unlock clears FUTEX_OWNER_DIED");
  } finally {
    b.close();
  }
});

Deno.test("set_robust_list accepts only the size of struct robust_list_head", () => {
  const b = makeBench();
  try {
    assert.equal(b.call(SYS_set_robust_list, A, ROBUST_LIST_HEAD_BYTES), 0);
    assert.equal(b.call(SYS_set_robust_list, A, 24), -EINVAL);
  } finally {
    b.close();
  }
});
