/**
 * System V IPC and POSIX shared memory between processes the Machine
 * starts at once (each a Worker), rendezvousing through a key or a
 * /dev/shm name (guest/bin/ipcpeer.c): a counter in a System V segment
 * under a SEM_UNDO semaphore, a blocking producer and consumer over a
 * message queue, a counter in shm_open'd memory under a sem_open
 * semaphore; SEM_UNDO applied at exit; semop and msgrcv interrupted by a
 * signal (EINTR); and a hard kill of a process asleep in semop or msgrcv,
 * after which the state is whole: nothing waits, the objects still work,
 * and checkInvariants finds every frame, reference and lock back.
 *
 * The counter and message exchanges also run as host processes under
 * qemu-riscv32 (the host kernel's IPC), and must end the same.
 */
import assert from "node:assert/strict";
import { GETNCNT } from "../../src/abi/ipc.ts";
import { SIGUSR1 } from "../../src/abi/signal.ts";
import { shmemInodes, shmemPages } from "../../src/fs/shmem.ts";
import { msgCtl, msgGet } from "../../src/kernel/ipc_msg.ts";
import { semCtl, semGet } from "../../src/kernel/ipc_sem.ts";
import type { IpcUserBuf } from "../../src/kernel/ipc_shm.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { haveQemu, QEMU, STATIC_DIR } from "../guest/_qemu.ts";
import { assertInvariants } from "../_invariants.ts";
import { until, withGuestMachine, within } from "./_guest_image.ts";

const dec = new TextDecoder();
const qemu = await haveQemu();
const NOBUF: IpcUserBuf = { read: () => -14, write: () => -14 };

interface Run {
  out: () => string;
  err: () => string;
  wait: Promise<{ code: number; signal: number }>;
  pid: number;
}

function start(m: Machine, args: string[]): Run {
  const out: Uint8Array[] = [], err: Uint8Array[] = [];
  const p = m.spawn("/bin/ipcpeer", ["ipcpeer", ...args], {
    stdout: (d) => out.push(d),
    stderr: (d) => err.push(d),
  });
  return {
    out: () => out.map((b) => dec.decode(b)).join(""),
    err: () => err.map((b) => dec.decode(b)).join(""),
    wait: within(p.wait(), 120_000, `ipcpeer ${args.join(" ")}`),
    pid: p.pid,
  };
}

async function finish(r: Run): Promise<string> {
  const s = await r.wait;
  assert.equal(s.code, 0, `exit ${s.code}: ${r.err()}`);
  return r.out();
}

/** The same peers as host processes under qemu-riscv32; their stdout. */
async function qemuPeer(args: string[]): Promise<string> {
  const out = await new Deno.Command(QEMU, {
    args: [STATIC_DIR + "ipcpeer", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `qemu ipcpeer ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

async function withMachine(fn: (m: Machine) => Promise<void>): Promise<void> {
  await withGuestMachine({ maxProcs: 8, warm: 4, lockdep: true, killGraceMs: 500 }, async (m) => {
    await fn(m);
    assert.equal(shmemPages(m.mem), 0, "no shmem page is left");
    assert.equal(shmemInodes(m.mem), 1, "only the tmpfs root is left");
    assertInvariants(m, { fsck: true });
  });
}

/** A key no other run of this suite (here or on the host under qemu) uses. */
const key = (n: number) => `0x${(0x58490000 + ((Deno.pid * 16 + n) & 0xffff)).toString(16)}`;

Deno.test("4 processes add to a System V segment under a SEM_UNDO semaphore; producer and consumer share a queue", async () => {
  const N = 150;
  let shmLine = "", msgLine = "";
  await withMachine(async (m) => {
    const k = key(1), q = key(2);
    await finish(start(m, ["setup", k]));
    const adders = [1, 2, 3, 4].map(() => start(m, ["shm-add", k, String(N)]));
    // The consumer starts first and blocks in msgrcv until the producer sends.
    const consumer = start(m, ["msg-recv", q, "60"]);
    const producer = start(m, ["msg-send", q, "60"]);
    for (const a of adders) await finish(a);
    shmLine = await finish(start(m, ["shm-check", k]));
    assert.equal(shmLine, `counter ${4 * N} sem 1 nattch 1\n`);
    await finish(producer);
    msgLine = await finish(consumer);
    assert.equal(msgLine, "received 60 sum 1770\n");
  });
  if (!qemu) return;
  const k = key(3), q = key(4);
  await qemuPeer(["setup", k]);
  await Promise.all([1, 2, 3, 4].map(() => qemuPeer(["shm-add", k, String(N)])));
  assert.equal(await qemuPeer(["shm-check", k]), shmLine, "as the host kernel does it");
  const [recv] = await Promise.all([
    qemuPeer(["msg-recv", q, "60"]),
    qemuPeer(["msg-send", q, "60"]),
  ]);
  assert.equal(recv, msgLine, "as the host kernel does it");
});

Deno.test("3 processes add to shm_open'd memory under a sem_open semaphore on the /dev/shm tmpfs", async () => {
  await withMachine(async (m) => {
    const adders = [1, 2, 3].map(() => start(m, ["psem-add", "/peer", "150"]));
    for (const a of adders) await finish(a);
    assert.equal(await finish(start(m, ["psem-check", "/peer"])), "counter 450 sem 1\n");
  });
});

Deno.test("SEM_UNDO: a process's semop is undone when it exits", async () => {
  await withMachine(async (m) => {
    const k = key(5);
    await finish(start(m, ["setup", k]));
    assert.equal(await finish(start(m, ["sem-take", k])), "took, value 0\n");
    assert.equal(await finish(start(m, ["shm-check", k])), "counter 0 sem 1 nattch 1\n");
  });
});

Deno.test("a signal with a handler interrupts semop and msgrcv with EINTR", async () => {
  await withMachine(async (m) => {
    for (const mode of ["sem-eintr", "msg-block"]) {
      const r = start(m, [mode, key(6)]);
      await until(() => r.out().includes("blocking"), 60_000, `${mode} blocking`);
      await new Promise((res) => setTimeout(res, 50)); // let it reach the sleep
      assert.ok(m.kill(r.pid, SIGUSR1));
      const line = (await finish(r)).split("\n")[1];
      const call = mode === "msg-block" ? "msgrcv" : "semop";
      assert.equal(line, `${call} -1 errno EINTR handler 1`);
    }
    // Remove what the two made (a semaphore and a queue under the same key).
    const sem = semGet(m.mem, Number(key(6)), 0, 0);
    assert.equal(semCtl(m.mem, 0, sem, 0, 0, /* IPC_RMID */ 0, NOBUF), 0);
    const q = msgGet(m.mem, Number(key(6)), 0);
    assert.equal(msgCtl(m.mem, q, 0, /* IPC_RMID */ NOBUF), 0);
  });
});

Deno.test("a hard kill of a process asleep in semop or msgrcv leaves the IPC state whole", async () => {
  await withMachine(async (m) => {
    const k = key(7);
    const blocked = start(m, ["sem-block", k]);
    await until(() => blocked.out().includes("blocking"), 60_000, "sem-block blocking");
    const sem = semGet(m.mem, Number(k), 0, 0);
    assert.ok(sem >= 0);
    await until(() => semCtl(m.mem, 0, sem, 0, GETNCNT, 0, NOBUF) === 1, 60_000, "GETNCNT 1");
    const mb = start(m, ["msg-block", key(8)]);
    await until(() => mb.out().includes("blocking"), 60_000, "msg-block blocking");
    assert.ok(m.terminate(blocked.pid));
    assert.ok(m.terminate(mb.pid));
    assert.equal((await blocked.wait).signal, 9);
    assert.equal((await mb.wait).signal, 9);
    assert.equal(semCtl(m.mem, 0, sem, 0, GETNCNT, 0, NOBUF), 0, "nobody waits any more");
    // Both objects still work: a new sleeper is woken by a post, a queue takes messages.
    const again = start(m, ["sem-block", k]);
    await until(() => semCtl(m.mem, 0, sem, 0, GETNCNT, 0, NOBUF) === 1, 60_000, "new sleeper");
    assert.equal(semCtl(m.mem, 0, sem, 0, 16, /* SETVAL */ 1, NOBUF), 0);
    assert.equal((await finish(again)).split("\n")[1], "semop 0 errno other handler 0");
    await finish(start(m, ["msg-send", key(8), "3"]));
    assert.equal(await finish(start(m, ["msg-recv", key(8), "3"])), "received 3 sum 3\n");
    // msg-recv removed the queue itself.
    assert.equal(semCtl(m.mem, 0, sem, 0, 0, /* IPC_RMID */ 0, NOBUF), 0);
  });
});
