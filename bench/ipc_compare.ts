// IPC between two guest processes on xip against the same static program
// under qemu-riscv32, which runs each call on the host's Linux kernel
// (guest/bin/ipcbench.c: a parent and a forked child ping-pong through
// System V semaphores, POSIX semaphores in shared anonymous memory, System
// V messages and AF_UNIX datagrams, or stream a socket's worth of KiB).
// The guest times only the exchange (CLOCK_MONOTONIC after the fork), so
// spawn and fork are not in the figures. Rounds interleave xip and qemu so
// a busy machine slows both alike; prints ns per round trip (per KiB for
// stream), the median of ROUNDS each, and xip / qemu.
//
//   deno run -A bench/ipc_compare.ts [rounds]
//
// libxc's futex is syscall 98, which qemu-riscv32 answers with ENOSYS
// (guest/README.md), so under qemu a POSIX semaphore's sem_wait spins:
// its qemu column measures that spin, not a futex.

import { mkfs } from "../src/fs/xipfs/mkfs.ts";
import { Machine } from "../src/kernel/machine.ts";

const ROUNDS = Number(Deno.args[0] ?? 5);
/** Each mode's count: about a second per run on xip on a quiet 2-core machine. */
const MODES: [string, number][] = [
  ["sem", 20_000],
  ["psem", 20_000],
  ["msg", 20_000],
  ["dgram", 20_000],
  ["stream", 65_536],
];
const FIX = new URL("../fixtures/static/ipcbench", import.meta.url).pathname;

const root = Deno.makeTempDirSync({ prefix: "xip-bench-ipc-" });
Deno.mkdirSync(`${root}/static`);
Deno.copyFileSync(FIX, `${root}/static/ipcbench`);
const image = mkfs({ sizeBytes: 8 << 20, from: root });
Deno.removeSync(root, { recursive: true });

const dec = new TextDecoder();
const m = await Machine.boot({ image, dax: "always", ram: 64 << 20, maxProcs: 4, warm: 2 });

/** ns per operation that ipcbench printed, or an Error naming what went wrong. */
function parse(where: string, out: string, code: number): number {
  const f = out.trim().split(" ");
  const ns = Number(f[2]);
  if (code !== 0 || f.length !== 3 || !Number.isFinite(ns)) {
    throw new Error(`${where}: ipcbench exited ${code}: ${out.trim()}`);
  }
  return ns;
}

async function onXip(mode: string, n: number): Promise<number> {
  let out = "";
  const p = m.spawn("/static/ipcbench", ["ipcbench", mode, String(n)], {
    stdout: (d) => out += dec.decode(d),
  });
  const { code } = await p.wait();
  return parse("xip", out, code);
}

async function onQemu(mode: string, n: number): Promise<number> {
  const r = await new Deno.Command("qemu-riscv32", { args: [FIX, mode, String(n)] }).output();
  return parse("qemu", dec.decode(r.stdout), r.code);
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;

try {
  console.log(`mode     count   xip ns/op  qemu ns/op  xip/qemu   (median of ${ROUNDS})`);
  for (const [mode, n] of MODES) {
    const xip: number[] = [], qemu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      xip.push(await onXip(mode, n));
      qemu.push(await onQemu(mode, n));
    }
    const x = median(xip), q = median(qemu);
    console.log(
      `${mode.padEnd(7)} ${String(n).padStart(6)} ${x.toFixed(0).padStart(11)} ${
        q.toFixed(0).padStart(11)
      } ${(x / q).toFixed(2).padStart(9)}`,
    );
  }
} finally {
  await m.shutdown();
}
