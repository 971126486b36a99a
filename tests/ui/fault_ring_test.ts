import assert from "node:assert/strict";
import { VMSTAT } from "../../src/abi/layout/mod.ts";
import {
  FRING,
  FRING_ENTRIES,
  FRING_ENTRY,
  fringEntry,
  TSTAT,
  TSTAT_COMM_BYTES,
  tstatBase,
} from "../../src/abi/layout/fring.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../../src/abi/sv32.ts";
import {
  asPfn,
  asTaskSlot,
  asVirt,
  type MmId,
  PAGE_SIZE,
  type TaskSlot,
} from "../../src/abi/types.ts";
import { type Memory, statRead } from "../../src/hw/memory.ts";
import { procAlloc } from "../../src/kernel/proc.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import {
  countFault,
  FAULT_KIND,
  FAULT_KINDS,
  tstatComm,
  tstatCommFork,
  tstatInstret,
} from "../../src/mm/fault_ring.ts";
import { mmAlloc, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { currentTid, setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { readFaultRing, readTaskStat } from "../../src/ui/fault_reader.ts";
import { boot, pfnAt } from "../mm/_mm_helpers.ts";
import { faultPfn, GATE_DONE, GATE_START, type RingJob } from "./_ring_job.ts";

/** A booted memory whose calling thread runs as task `tid`, the task of a fresh process. */
function withProcess(body: (mem: Memory, pid: number, tid: TaskSlot) => void, maxTasks = 8): void {
  const mem = boot({ maxTasks });
  const tid = asTaskSlot(2);
  const pid = procAlloc(mem, tid, 0);
  taskInit(mem.k32, tid);
  const saved = currentTid();
  setCurrentTid(tid);
  try {
    body(mem, pid, tid);
  } finally {
    setCurrentTid(saved);
  }
}

const count = (mem: Memory, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) {
    countFault(mem, FAULT_KIND.dax, asVirt(i * PAGE_SIZE), asPfn(1000 + i));
  }
};

Deno.test("countFault() bumps the stats counter, the task's counter and writes one ring record", () => {
  withProcess((mem, pid, tid) => {
    countFault(mem, FAULT_KIND.fileMajor, asVirt(0x1234_5000), asPfn(77));
    assert.equal(statRead(mem, VMSTAT.faultFileMajor), 1);
    const r = readFaultRing(mem, null);
    assert.deepEqual(r.records, [{ n: 0, pid, va: 0x1234_5000, kind: "file_major", pfn: 77 }]);
    assert.equal(r.next, 1);
    assert.equal(readTaskStat(mem, tid, pid)!.faults.file_major, 1);
    assert.equal(readTaskStat(mem, tid, pid)!.faults.dax, 0);
  });
});

Deno.test("handleMmFault() counts an anonymous write and a zero-page read into the ring", () => {
  withProcess((mem, pid) => {
    const mm = mmAlloc(mem) as MmId;
    const a = doMmap(
      mem,
      mm,
      0,
      2 * PAGE_SIZE,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
    );
    assert.ok(a > 0);
    assert.equal(handleMmFault(mem, mm, asVirt(a + 8), ACCESS_WRITE), 0);
    assert.equal(handleMmFault(mem, mm, asVirt(a + PAGE_SIZE + 8), ACCESS_READ), 0);
    const recs = readFaultRing(mem, null).records;
    assert.deepEqual(recs, [
      { n: 0, pid, va: a, kind: "anon", pfn: pfnAt(mem, mm, a) },
      { n: 1, pid, va: a + PAGE_SIZE, kind: "zero", pfn: zeroPfn(mem) },
    ]);
    mmPut(mem, mm);
  });
});

Deno.test("readFaultRing() continues from a cursor with only the records made since", () => {
  withProcess((mem) => {
    count(mem, 5);
    const a = readFaultRing(mem, null);
    count(mem, 3, 5);
    const b = readFaultRing(mem, a.next);
    assert.deepEqual(b.records.map((r) => r.n), [5, 6, 7]);
    assert.deepEqual(b.records.map((r) => r.pfn), [1005, 1006, 1007]);
    assert.equal(b.missed, 0);
    assert.deepEqual(readFaultRing(mem, b.next).records, []);
  });
});

Deno.test("readFaultRing() counts records a lap overwrote as missed and keeps the newest", () => {
  withProcess((mem) => {
    count(mem, FRING_ENTRIES + 10);
    const r = readFaultRing(mem, 0);
    assert.equal(r.missed, 10);
    assert.equal(r.records.length, FRING_ENTRIES);
    assert.equal(r.records[0]!.n, 10);
    assert.equal(r.records.at(-1)!.n, FRING_ENTRIES + 9);
    // Without a cursor: the newest `max`.
    assert.deepEqual(readFaultRing(mem, null, 3).records.map((x) => x.n), [1031, 1032, 1033]);
  });
});

Deno.test("readFaultRing() waits at a ticket not yet written, and gives it up once far behind", () => {
  withProcess((mem) => {
    count(mem, 2);
    // A writer took ticket 2 and has not filled its entry yet.
    Atomics.add(mem.k32, mem.layout.fring.base + FRING.head, 1);
    count(mem, 3, 3);
    const r = readFaultRing(mem, 0);
    assert.deepEqual(r.records.map((x) => x.n), [0, 1]);
    assert.equal(r.next, 2, "the reader waits for ticket 2");
    count(mem, 70, 6);
    const later = readFaultRing(mem, r.next);
    assert.equal(later.missed, 1);
    assert.equal(later.records[0]!.n, 3);
    assert.equal(later.records.length, 73);
  });
});

Deno.test("readFaultRing() never returns an entry whose seqcount is odd (mid-write)", () => {
  withProcess((mem) => {
    count(mem, 3);
    const e = fringEntry(mem.layout.fring.base, 1);
    Atomics.add(mem.k32, e + FRING_ENTRY.seq, 1); // a writer is in entry 1 again
    const r = readFaultRing(mem, 0);
    assert.deepEqual(r.records.map((x) => x.n), [0]);
    assert.equal(r.next, 1);
  });
});

Deno.test("countFault() drops its record when a lapped writer is still in the entry", () => {
  withProcess((mem) => {
    const base = mem.layout.fring.base;
    const e = fringEntry(base, 0);
    Atomics.store(mem.k32, e + FRING_ENTRY.seq, 1); // odd: someone writes it
    count(mem, 1);
    assert.equal(Atomics.load(mem.k32, base + FRING.dropped), 1);
    assert.equal(Atomics.load(mem.k32, e + FRING_ENTRY.seq), 1, "the entry was left alone");
    assert.equal(readFaultRing(mem, null).dropped, 1);
    assert.equal(statRead(mem, VMSTAT.faultDax), 1, "the fault still counts");
  });
});

Deno.test("readTaskStat() reads a task's counters only for the pid that owns them", () => {
  withProcess((mem, pid, tid) => {
    count(mem, 4);
    tstatInstret(mem, tid, pid, 2 ** 40 + 5);
    tstatComm(mem, tid, pid, "/bin/compute");
    const s = readTaskStat(mem, tid, pid)!;
    assert.deepEqual(s, {
      pid,
      comm: "/bin/compute",
      instret: 2 ** 40 + 5,
      faults: Object.fromEntries(FAULT_KINDS.map((k) => [k.name, k.name === "dax" ? 4 : 0])),
    });
    assert.equal(readTaskStat(mem, tid, pid + 1), null, "another pid's record");
    // The slot's next process clears the record before its first count.
    tstatComm(mem, tid, pid + 1, "/bin/hello");
    assert.equal(readTaskStat(mem, tid, pid), null);
    assert.deepEqual(readTaskStat(mem, tid, pid + 1)!.faults.dax, 0);
    assert.equal(readTaskStat(mem, tid, pid + 1)!.instret, 0);
    // A record changing hands (gen odd) reads as nothing.
    const r = tstatBase(mem.layout.fring.base, tid);
    Atomics.add(mem.k32, r + TSTAT.gen, 1);
    assert.equal(readTaskStat(mem, tid, pid + 1), null);
  });
});

Deno.test("tstatComm() cuts a long path at a character boundary", () => {
  withProcess((mem, pid, tid) => {
    const path = "/" + "é".repeat(40); // 81 bytes of UTF-8
    tstatComm(mem, tid, pid, path);
    const comm = readTaskStat(mem, tid, pid)!.comm;
    assert.ok(new TextEncoder().encode(comm).length <= TSTAT_COMM_BYTES - 1);
    assert.ok(path.startsWith(comm) && comm.length === 32, comm);
  });
});

Deno.test("tstatCommFork() gives a forked child its parent's program name until it execs", () => {
  withProcess((mem, pid, tid) => {
    tstatComm(mem, tid, pid, "/bin/sh");
    const child = asTaskSlot(tid + 1), childPid = pid + 100;
    tstatCommFork(mem, tid, child, childPid);
    assert.equal(readTaskStat(mem, child, childPid)!.comm, "/bin/sh");
    assert.equal(readTaskStat(mem, child, childPid)!.faults.anon, 0, "a fresh record");
    tstatComm(mem, child, childPid, "/bin/wc"); // its execve
    assert.equal(readTaskStat(mem, child, childPid)!.comm, "/bin/wc");
    assert.equal(readTaskStat(mem, tid, pid)!.comm, "/bin/sh", "the parent keeps its own");
  });
});

Deno.test("the fault ring gives only whole records while 4 Workers count faults at once", async () => {
  const WORKERS = 4, N = 30_000;
  const mem = boot({ maxTasks: 8 });
  const gateBuf = new SharedArrayBuffer(8);
  const gate = new Int32Array(gateBuf);
  const jobs: RingJob[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const tid = asTaskSlot(2 + w);
    const pid = procAlloc(mem, tid, 0);
    jobs.push({ phys: mem.phys, kernel: mem.kernel, tid, pid, n: N, gate: gateBuf });
  }
  const workers = jobs.map(() =>
    new Worker(new URL("./fault_ring_worker.ts", import.meta.url).href, { type: "module" })
  );
  // Each Worker's messages in order: "ready", then "done". Generous
  // timeouts: a loaded machine may take long to start a Worker.
  const inbox = workers.map((w, i) => {
    const queue: string[] = [];
    let wake = () => {};
    let failure: Error | null = null;
    w.onmessage = (e: MessageEvent<string>) => (queue.push(e.data), wake());
    w.onerror = (e) => {
      e.preventDefault();
      failure = new Error(`worker ${i}: ${e.message}`);
      wake();
    };
    return (what: string, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker ${i}: no "${what}" in ${ms} ms`)),
          ms,
        );
        const look = () => {
          if (failure !== null) return clearTimeout(timer), reject(failure);
          const got = queue.shift();
          if (got === undefined) return void (wake = look);
          clearTimeout(timer);
          got === what ? resolve() : reject(new Error(`worker ${i}: "${got}", not "${what}"`));
        };
        look();
      });
  });
  let cursor = 0, seen = 0, missed = 0, last = -1;
  const check = () => {
    const r = readFaultRing(mem, cursor);
    for (const rec of r.records) {
      assert.ok(rec.n > last, `ticket ${rec.n} after ${last}`);
      last = rec.n;
      const kind = FAULT_KINDS.findIndex((k) => k.name === rec.kind);
      assert.equal(rec.pfn, faultPfn(rec.pid, rec.va, kind), `torn record ${JSON.stringify(rec)}`);
    }
    seen += r.records.length;
    missed += r.missed;
    cursor = r.next;
  };
  try {
    workers.forEach((w, i) => w.postMessage(jobs[i]));
    await Promise.all(inbox.map((next) => next("ready", 120_000)));
    Atomics.store(gate, GATE_START, 1);
    Atomics.notify(gate, GATE_START);
    // Read while they write: a busy loop, the Workers run on their own threads.
    const deadline = performance.now() + 60_000;
    while (Atomics.load(gate, GATE_DONE) < WORKERS && performance.now() < deadline) check();
    await Promise.all(inbox.map((next) => next("done", 60_000)));
  } finally {
    workers.forEach((w) => w.terminate());
  }
  check();
  const dropped = readFaultRing(mem, cursor).dropped;
  assert.equal(seen + missed, WORKERS * N, `${seen} seen + ${missed} missed (${dropped} dropped)`);
  const total = FAULT_KINDS.reduce((n, k) => n + statRead(mem, k.stat), 0);
  assert.equal(total, WORKERS * N);
  for (const j of jobs) {
    const s = readTaskStat(mem, j.tid, j.pid)!;
    assert.equal(Object.values(s.faults).reduce((a, b) => a + b, 0), N);
  }
});
