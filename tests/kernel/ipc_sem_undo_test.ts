/**
 * The machine-wide SEM_UNDO table (SEMMNU, SEM_UNDOS entries): a semop
 * that needs more new entries than are free fails whole with -ENOMEM and
 * changes nothing, while semops on entries that exist, or without
 * SEM_UNDO, go on working; an entry whose adjustment returns to 0 is
 * free again.
 */
import assert from "node:assert/strict";
import { ENOMEM } from "../../src/abi/errno.ts";
import { GETVAL, IPC_CREAT, IPC_PRIVATE, IPC_RMID, SEM_UNDO } from "../../src/abi/ipc.ts";
import { SEM_UNDOS } from "../../src/abi/layout/ipc.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { checkInvariants } from "../../src/kernel/invariants.ts";
import { makeBench, SCRATCH } from "./_task.ts";

const OPS = SCRATCH + 2048;

Deno.test("semop needing more SEM_UNDO entries than are free is -ENOMEM and changes nothing", () => {
  const b = makeBench();
  try {
    const sem = b.call(nr.SYS_semget, IPC_PRIVATE, SEM_UNDOS + 2, IPC_CREAT | 0o600);
    assert.ok(sem >= 0, `semget ${sem}`);
    /** semop on `ops`: [semnum, op, flg] each. */
    const semop = (ops: [number, number, number][]) => {
      const raw = new Uint8Array(6 * ops.length);
      const dv = new DataView(raw.buffer);
      ops.forEach(([num, op, flg], i) => {
        dv.setUint16(6 * i, num, true);
        dv.setInt16(6 * i + 2, op, true);
        dv.setInt16(6 * i + 4, flg, true);
      });
      b.poke(OPS, raw);
      return b.call(nr.SYS_semop, sem, OPS, ops.length);
    };
    const val = (n: number) => b.call(nr.SYS_semctl, sem, n, GETVAL, 0);
    for (let n = 0; n < SEM_UNDOS - 1; n++) assert.equal(semop([[n, 1, SEM_UNDO]]), 0, `sem ${n}`);
    // One entry left: a semop that needs two fails whole.
    const last = SEM_UNDOS - 1;
    assert.equal(semop([[last, 1, SEM_UNDO], [last + 1, 1, SEM_UNDO]]), -ENOMEM);
    assert.equal(val(last), 0);
    assert.equal(val(last + 1), 0);
    assert.equal(semop([[last, 1, SEM_UNDO]]), 0, "the last free entry");
    assert.equal(semop([[last + 1, 1, SEM_UNDO]]), -ENOMEM, "the table is full");
    assert.equal(semop([[last + 1, 1, 0]]), 0, "no SEM_UNDO: no entry needed");
    assert.equal(semop([[0, 1, SEM_UNDO]]), 0, "an existing entry grows");
    // Back to 0 frees sem 1's entry, which sem last+1 can then take.
    assert.equal(semop([[1, -1, SEM_UNDO]]), 0);
    assert.equal(semop([[last + 1, 1, SEM_UNDO]]), 0);
    assert.equal(val(last + 1), 2);
    assert.deepEqual(checkInvariants(b.mem), []);
    assert.equal(b.call(nr.SYS_semctl, sem, 0, IPC_RMID, 0), 0);
  } finally {
    b.close();
  }
});
