/**
 * Pipes between processes, end to end (guest/bin/pipetest.c): pipe2 and
 * its flags, order and capacity, O_NONBLOCK, EOF after the last writer,
 * EPIPE and SIGPIPE after the last reader, a 1 MiB stream in odd-sized
 * reads and writes, PIPE_BUF atomicity across writers, and poll's events
 * on both ends; in both DAX modes (a pipe's ring is RAM either way) with
 * the invariants after.
 * Everything but the ignored-SIGPIPE case is compared with qemu-riscv32.
 */

import assert from "node:assert/strict";
import { haveQemu, STATIC_DIR } from "../guest/_qemu.ts";
import { makeTree, run, within, withMachine } from "./_machine.ts";

const tree = makeTree();
const qemu = await haveQemu();

const BASIC = [
  "pipe: ok",
  "write 5: ok",
  "a read takes what is there: ok",
  "pipe2 O_NONBLOCK: ok",
  "empty: EAGAIN: ok",
  "64 KiB fit: ok",
  "full: EAGAIN: ok",
  "65536 bytes come back: ok",
  "fstat: a FIFO: ok",
  "lseek: ESPIPE: ok",
  "EOF once the writer is gone: ok",
  "",
].join("\n");

const POLL = [
  "empty: the read end is not readable: ok",
  "the write end is writable: ok",
  "a byte in: readable: ok",
  "full: not writable: ok",
  "the writer gone: POLLHUP: ok",
  "the reader gone: POLLERR: ok",
  "a closed fd: POLLNVAL: ok",
  "",
].join("\n");

const CASES: [string[], string][] = [
  [["basic"], BASIC],
  [["poll"], POLL],
  [["stream", "1024"], "stream: 1048576 of 1048576 bytes, 0 wrong, writer exited 0\n"],
  [["atomic"], "atomic: records 100 100 100, torn 0\n"],
  [["sigpipe"], "writer killed by signal 13\n"],
];

for (const dax of ["always", "never"] as const) {
  Deno.test(`pipes: order, capacity, O_NONBLOCK, EOF, EPIPE, SIGPIPE and PIPE_BUF atomicity (dax ${dax})`, async () => {
    await withMachine(tree, { dax }, async (m) => {
      for (const prog of ["/bin/pipetest", "/static/pipetest"]) {
        for (const [args, want] of CASES) {
          const r = await run(m, prog, ["pipetest", ...args]);
          assert.equal(r.stdout, want, `${prog} ${args.join(" ")}`);
          assert.equal(r.code, 0, `${prog} ${args.join(" ")}: ${r.message ?? ""}`);
        }
      }
      const e = await run(m, "/bin/pipetest", ["pipetest", "epipe"]);
      assert.equal(e.stdout, "no reader, SIGPIPE ignored: EPIPE: ok\n");
      await within(m.settled(), 30_000, "children reaped");
    });
  });
}

Deno.test({
  name: "pipes: pipetest prints what it prints under qemu-riscv32",
  ignore: !qemu,
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "xip-pipe-qemu-" });
    try {
      for (const [args, want] of CASES) {
        const out = await new Deno.Command("qemu-riscv32", {
          args: [STATIC_DIR + "pipetest", ...args],
          cwd,
          stdout: "piped",
        }).output();
        assert.equal(new TextDecoder().decode(out.stdout), want, args.join(" "));
      }
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

addEventListener("unload", () => Deno.removeSync(tree, { recursive: true }));
