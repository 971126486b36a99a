/**
 * ppoll_time64 through the syscall table, for what the qemu differential
 * (polltest in ipc_qemu_test.ts) cannot see, because libc's ppoll keeps
 * its timespec const: the kernel writes the time left back into a
 * non-zero timeout. Also its argument errors, and that the poll word moves
 * with every socket wake (what a sleeping poller waits on).
 */
import assert from "node:assert/strict";
import { EFAULT, EINVAL } from "../../src/abi/errno.ts";
import { FDT_FDS } from "../../src/abi/layout/mod.ts";
import { POLLFD_BYTES, POLLIN, POLLOUT } from "../../src/abi/poll.ts";
import { AF_UNIX, SOCK_STREAM } from "../../src/abi/socket.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { pollWord } from "../../src/kernel/sys_poll.ts";
import { makeBench, SCRATCH } from "./_task.ts";

const FDS = SCRATCH, TS = SCRATCH + 512, SV = SCRATCH + 1024, BUF = SCRATCH + 1536;

type Bench = ReturnType<typeof makeBench>;

function putTimespec(b: Bench, sec: number, nsec: number): void {
  const raw = new Uint8Array(16);
  const dv = new DataView(raw.buffer);
  dv.setBigInt64(0, BigInt(sec), true);
  dv.setBigInt64(8, BigInt(nsec), true);
  b.poke(TS, raw);
}
function getTimespec(b: Bench): [number, number] {
  const dv = new DataView(b.peek(TS, 16).buffer);
  return [Number(dv.getBigInt64(0, true)), Number(dv.getBigInt64(8, true))];
}
function putPollfd(b: Bench, fd: number, events: number): void {
  const raw = new Uint8Array(POLLFD_BYTES);
  const dv = new DataView(raw.buffer);
  dv.setInt32(0, fd, true);
  dv.setInt16(4, events, true);
  b.poke(FDS, raw);
}
const revents = (b: Bench): number => new DataView(b.peek(FDS, 8).buffer).getInt16(6, true);

Deno.test("ppoll_time64 writes the time left back into a non-zero timeout", () => {
  const b = makeBench();
  try {
    assert.equal(b.call(nr.SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, SV), 0);
    const fd = new DataView(b.peek(SV, 8).buffer).getInt32(0, true);
    // Ready at once: most of the 5 s is left.
    putPollfd(b, fd, POLLIN | POLLOUT);
    putTimespec(b, 5, 0);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, TS, 0, 8), 1);
    assert.equal(revents(b), POLLOUT);
    const [sec, nsec] = getTimespec(b);
    assert.ok(sec === 4 && nsec > 0 && nsec < 1e9, `left ${sec}.${nsec}`);
    // Nothing ready: it sleeps the 30 ms out and leaves 0.
    putPollfd(b, fd, POLLIN);
    putTimespec(b, 0, 30_000_000);
    const t0 = performance.now();
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, TS, 0, 8), 0);
    assert.ok(performance.now() - t0 >= 29, "slept the timeout out");
    assert.deepEqual(getTimespec(b), [0, 0]);
    assert.equal(revents(b), 0);
  } finally {
    b.close();
  }
});

Deno.test("ppoll_time64 refuses too many fds, a bad timeout or sigsetsize, and unreadable pollfds", () => {
  const b = makeBench();
  try {
    putPollfd(b, -1, POLLIN);
    putTimespec(b, 0, 0);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, FDT_FDS + 1, TS, 0, 8), -EINVAL);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, FDT_FDS, TS, 0, 8), 0, "the limit itself");
    putTimespec(b, 0, 1e9);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, TS, 0, 8), -EINVAL, "nsec out of range");
    putTimespec(b, -1, 0);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, TS, 0, 8), -EINVAL, "negative");
    putTimespec(b, 0, 0);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, TS, BUF, 4), -EINVAL, "sigsetsize");
    assert.equal(b.call(nr.SYS_ppoll_time64, 4, 1, TS, 0, 8), -EFAULT);
    assert.equal(b.call(nr.SYS_ppoll_time64, FDS, 1, 4, 0, 8), -EFAULT);
  } finally {
    b.close();
  }
});

Deno.test("every socket wake moves the poll word", () => {
  const b = makeBench();
  try {
    const w = pollWord(b.mem);
    const before = Atomics.load(b.mem.k32, w);
    assert.equal(b.call(nr.SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, SV), 0);
    const [x, y] = [0, 4].map((o) => new DataView(b.peek(SV, 8).buffer).getInt32(o, true));
    b.poke(BUF, new TextEncoder().encode("hi"));
    const a = Atomics.load(b.mem.k32, w);
    assert.equal(b.call(nr.SYS_write, x!, BUF, 2), 2);
    const c = Atomics.load(b.mem.k32, w);
    assert.ok(c > a, "a write wakes");
    assert.equal(b.call(nr.SYS_close, y!), 0);
    assert.ok(Atomics.load(b.mem.k32, w) > c, "a close wakes");
    assert.ok(a >= before);
    b.call(nr.SYS_close, x!);
  } finally {
    b.close();
  }
});
