/**
 * AF_UNIX sockets between processes the Machine starts at once (each a
 * Worker; guest/bin/ipcpeer.c): a stream server on a path in the xipfs
 * root and one on /dev/shm, each serving clients that connect to it
 * concurrently; SIGPIPE's default action on a write to a closed peer; and
 * a hard kill of a process asleep in recv, after which the socket, its
 * name and its buffers are gone and checkInvariants finds everything
 * back. (The single-process and forked behaviour is compared with
 * qemu-riscv32 in ipc_qemu_test.ts, unixbasic.)
 */
import assert from "node:assert/strict";
import { SIGPIPE } from "../../src/abi/signal.ts";
import { socksInUse } from "../../src/kernel/unix_sock.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { assertInvariants } from "../_invariants.ts";
import { until, withGuestMachine, within } from "./_guest_image.ts";

const dec = new TextDecoder();

function start(m: Machine, args: string[]) {
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

async function withMachine(fn: (m: Machine) => Promise<void>): Promise<void> {
  await withGuestMachine({ maxProcs: 8, warm: 4, lockdep: true }, async (m) => {
    await fn(m);
    assert.equal(socksInUse(m.mem), 0, "every socket was released");
    assertInvariants(m, { fsck: true });
  });
}

for (const path of ["/xip.sock", "/dev/shm/xip.sock"]) {
  Deno.test(`a stream server at ${path} answers 4 clients that connect concurrently`, async () => {
    await withMachine(async (m) => {
      const server = start(m, ["sock-server", path, "4"]);
      const clients = ["alpha", "beta", "gamma", "delta"].map((w) =>
        start(m, ["sock-client", path, w])
      );
      const replies: string[] = [];
      for (const c of clients) {
        const s = await c.wait;
        assert.equal(s.code, 0, c.err());
        replies.push(c.out().trim());
      }
      assert.deepEqual(replies.sort(), ["reply ALPHA", "reply BETA", "reply DELTA", "reply GAMMA"]);
      const s = await server.wait;
      assert.equal(s.code, 0, server.err());
      assert.equal(server.out(), "served 4 clients, 19 bytes\n");
    });
  });
}

Deno.test("a write to a socket whose peer closed raises SIGPIPE, whose default action kills", async () => {
  await withMachine(async (m) => {
    const r = start(m, ["sock-pipe", "x"]);
    const s = await r.wait;
    assert.equal(s.signal, SIGPIPE);
    assert.equal(s.code, 128 + SIGPIPE);
  });
});

Deno.test("a hard kill of a process asleep in recv leaves no socket, name or buffer behind", async () => {
  await withMachine(async (m) => {
    const r = start(m, ["sock-block", "/dev/shm/blocked.sock"]);
    await until(() => r.out().includes("blocking"), 60_000, "sock-block blocking");
    await new Promise((res) => setTimeout(res, 50)); // let it reach the sleep
    assert.equal(socksInUse(m.mem), 1);
    assert.ok(m.terminate(r.pid));
    assert.equal((await r.wait).signal, 9);
    assert.equal(socksInUse(m.mem), 0);
  });
});
