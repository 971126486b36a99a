/**
 * The per-task counters of what takes a task off its hart (TSTAT.kentries,
 * lockSleeps, waitSleeps, tlbFlushes; src/mm/fault_ring.ts tstatSched),
 * which the thread-scaling bench reads: every thread of a finished process
 * has published them, its kernel entries count at least its exit, and a
 * guest that sleeps in FUTEX_WAIT counts kernel sleeps.
 */
import assert from "node:assert/strict";
import { TSTAT, tstatBase } from "../../src/abi/layout/fring.ts";
import { PROCS_HDR } from "../../src/abi/layout/mod.ts";
import { tstatSchedOf } from "../../src/mm/fault_ring.ts";
import { withGuestMachine, within } from "./_guest_image.ts";

Deno.test("every thread of a process publishes its kernel entries and sleeps at exit", async () => {
  await withGuestMachine({ maxProcs: 8, warm: 2 }, async (m) => {
    // futextest's "wake" case sleeps in FUTEX_WAIT on purpose; "threads compute" just computes.
    const out: Uint8Array[] = [];
    const p = m.spawn("/static/futextest", ["futextest"], { stdout: (d) => out.push(d) });
    const st = await within(p.wait(), 60_000, "futextest");
    const text = out.map((b) => new TextDecoder().decode(b)).join("");
    assert.equal(st.code, 0, `futextest: ${st.message ?? ""}\n${text}`);
    const last = Atomics.load(m.mem.k32, m.mem.layout.procs.base + PROCS_HDR.lastPid);
    let threads = 0, sleeps = 0;
    for (let slot = 2; slot < m.mem.layout.config.maxTasks; slot++) {
      const owner = Atomics.load(m.mem.k32, tstatBase(m.mem.layout.fring.base, slot) + TSTAT.pid);
      if (owner < p.pid || owner > last) continue;
      const c = tstatSchedOf(m.mem, slot, owner);
      assert.ok(c !== null, `slot ${slot}: the record belongs to ${owner}`);
      assert.ok(c.kentries >= 1, `task ${owner}: its exit at least is a kernel entry`);
      threads++;
      sleeps += c.waitSleeps;
    }
    assert.ok(threads >= 1, "the records of the process's tasks are there");
    assert.ok(sleeps >= 1, "FUTEX_WAIT sleeps are counted");
  });
});
