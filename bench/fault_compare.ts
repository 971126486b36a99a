/**
 * DAX against page-cache faults, measured interleaved: each round times one
 * batch of each kind in turn, so machine load (other processes on a shared
 * 2-core host) hits all kinds alike; the report gives the median and best
 * batch per kind and the DAX:major and DAX:minor throughput ratios.
 *
 *   deno run -A bench/fault_compare.ts [rounds]
 */

import { MADV_DONTNEED, MAP_SHARED, PROT_READ, PROT_WRITE } from "../src/abi/mman.ts";
import { type Access, ACCESS_READ, ACCESS_WRITE } from "../src/abi/sv32.ts";
import { asIno, asVirt, type MmId, PAGE_SIZE } from "../src/abi/types.ts";
import { truncateInodePages } from "../src/fs/pagecache/pagecache.ts";
import { handleMmFault } from "../src/mm/fault.ts";
import { mmAlloc } from "../src/mm/mm.ts";
import { doMadvise, doMunmap } from "../src/mm/mmap.ts";
import { downWrite, LockClass, upWrite } from "../src/sync/mod.ts";
import { fileMachine, mapAt } from "../tests/fs/_mmfile.ts";

const FAULTS = 256;
const P = PAGE_SIZE;
const BASE = 0x2000_0000;
const rounds = Number(Deno.args[0] ?? 300);
const m = fileMachine({ sizeBytes: 16 << 20, ramFrames: 8192, dax: "inode", lockdep: false });
const { mem, fs } = m;
const mm = mmAlloc(mem) as MmId;

function makeFile(name: string, dax: boolean) {
  const ip = fs.iget(asIno(fs.create(m.root, name, 0o100644, dax ? undefined : 0) as number));
  if (typeof ip === "number" || fs.isDax(ip) !== dax) throw new Error(name);
  const data = new Uint8Array(FAULTS * P).fill(0x5a);
  for (let i = 0; i < FAULTS; i++) {
    const b = fs.getBlock(ip, i, true);
    if (b <= 0 || fs.dev.bioWrite(b, data, i * P) !== P) throw new Error("write");
  }
  fs.setSize(ip, data.length);
  return ip;
}
const daxFile = makeFile("dax", true);
const pcFile = makeFile("pc", false);

function batch(ip: typeof daxFile, access: Access, prep?: () => void): number {
  mapAt(m, mm, ip, BASE, FAULTS * P, PROT_READ | PROT_WRITE, MAP_SHARED);
  prep?.();
  const t = performance.now();
  for (let i = 0; i < FAULTS; i++) {
    if (handleMmFault(mem, mm, asVirt(BASE + i * P), access) !== 0) throw new Error("fault");
  }
  const dt = performance.now() - t;
  doMunmap(mem, mm, BASE, FAULTS * P);
  return dt;
}

const kinds: Record<string, () => number> = {
  "DAX read": () => batch(daxFile, ACCESS_READ),
  "DAX write (allocated)": () => batch(daxFile, ACCESS_WRITE),
  "page-cache minor": () =>
    batch(pcFile, ACCESS_READ, () => {
      for (let i = 0; i < FAULTS; i++) handleMmFault(mem, mm, asVirt(BASE + i * P), ACCESS_READ);
      doMadvise(mem, mm, BASE, FAULTS * P, MADV_DONTNEED);
    }),
  "page-cache major (cold)": () => {
    const w = fs.islotWord(pcFile, "invalidateLock");
    downWrite(mem.k32, w, LockClass.INVALIDATE_LOCK);
    truncateInodePages(mem, pcFile.slot, 0);
    upWrite(mem.k32, w);
    return batch(pcFile, ACCESS_READ);
  },
};

const times: Record<string, number[]> = {};
for (const k of Object.keys(kinds)) times[k] = [];
for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(kinds)) times[k]!.push(f());

const perSec = (ms: number) => Math.round(FAULTS / (ms / 1000));
const stat: Record<string, { median: number; best: number }> = {};
for (const [k, t] of Object.entries(times)) {
  t.sort((a, b) => a - b);
  stat[k] = { median: perSec(t[t.length >> 1]!), best: perSec(t[0]!) };
  console.log(
    `${k.padEnd(24)} median ${stat[k]!.median} faults/s   best ${stat[k]!.best} faults/s`,
  );
}
const d = stat["DAX read"]!;
for (const other of ["page-cache major (cold)", "page-cache minor"]) {
  const o = stat[other]!;
  console.log(
    `DAX read : ${other.padEnd(24)} median ${(d.median / o.median).toFixed(2)}x   best ${
      (d.best / o.best).toFixed(2)
    }x`,
  );
}
