/**
 * The demo's second act: real third-party code in place. PROCS processes of
 * /bin/lua, a PIE whose PT_INTERP is musl's ld.so, which maps musl's libc.so
 * and liblua.so from the image (in place from the device under DAX, through
 * page-cache copies otherwise), run LUA_WORK: a prime sieve, a word count
 * over generated text with string.format, gmatch and table.sort, and a
 * coroutine. The run is made with dax=always and with dax=never, and the
 * table shows what it measured: RAM frames holding file pages (the code and
 * read-only data of lua, libc.so and liblua.so: the script does no file
 * I/O, so every page-cache frame is one of theirs), device frames mapped,
 * faults by kind, peak RAM and time.
 *
 * @module
 */

import { Machine } from "../kernel/machine.ts";
import type { MachineStats } from "../kernel/stats.ts";
import { formatDuration, machineProgress, type StatusLine } from "./_progress.ts";
import type { CliView } from "./_ui.ts";

const RAM_BYTES = 64 * 1024 * 1024;
/** Primes are sieved up to this. */
const SIEVE_TO = 20000;

/** The script each process runs (argv: lua -e N=... -e LUA_WORK). */
export const LUA_WORK = `
local n = N
local sieve, primes = {}, 0
for i = 2, n do
  if not sieve[i] then
    primes = primes + 1
    for j = i * i, n, i do sieve[j] = true end
  end
end
local seed, parts = 42, {}
local function rnd() seed = (seed * 1103515245 + 12345) % 2147483648; return seed end
for i = 1, 4000 do parts[i] = string.format("w%d", rnd() % 300) end
local words = {}
for w in table.concat(parts, " "):gmatch("%S+") do words[w] = (words[w] or 0) + 1 end
local keys = {}
for k in pairs(words) do keys[#keys + 1] = k end
table.sort(keys, function(a, b) return words[a] > words[b] or (words[a] == words[b] and a < b) end)
local fib = coroutine.wrap(function()
  local a, b = 0, 1
  for _ = 1, 90 do coroutine.yield(a); a, b = b, a + b end
end)
local sum = 0
for _ = 1, 90 do sum = (sum + fib()) % 1000000007 end
print(string.format("primes to %d: %d; most frequent word: %s (%d times); fib sum: %d",
  n, primes, keys[1], words[keys[1]], sum))
`;

/** One run of the act. */
export interface LuaRun {
  mode: "always" | "never";
  stats: MachineStats;
  wallMs: number;
  outputs: string[];
  codes: number[];
}

/** Run `procs` × lua LUA_WORK on a fresh machine mounted with `dax`. */
export async function runLua(
  image: Uint8Array,
  dax: "always" | "never",
  procs: number,
  status: StatusLine | null,
  ui: CliView | null = null,
): Promise<LuaRun> {
  const machine = await Machine.boot({
    image: image.slice(),
    dax,
    ram: RAM_BYTES,
    maxProcs: procs,
    warm: procs,
    log: () => {},
  });
  const watched = ui?.watch(`dax=${dax}: ${procs} × /bin/lua`, machine);
  try {
    const outputs = Array.from({ length: procs }, () => "");
    const dec = new TextDecoder();
    const t0 = performance.now();
    const argv = ["lua", "-e", `N=${SIEVE_TO}`, "-e", LUA_WORK];
    const ps = outputs.map((_, i) =>
      machine.spawn("/bin/lua", argv, {
        stdout: (b) => outputs[i] += dec.decode(b),
        stderr: (b) => outputs[i] += dec.decode(b),
      })
    );
    const stop = status === null ? () => {} : machineProgress(machine, status, `  lua dax=${dax}`);
    const exits = await Promise.all(ps.map((p) => p.wait())).finally(stop);
    return {
      mode: dax,
      stats: machine.stats(),
      wallMs: performance.now() - t0,
      outputs,
      codes: exits.map((e) => e.code),
    };
  } finally {
    watched?.finish();
    await machine.shutdown();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** The act's table: dax=always against dax=never. */
export function luaTable(a: LuaRun, b: LuaRun): string {
  const rows: [string, (r: LuaRun) => string][] = [
    ["processes", (r) => fmt(r.stats.procs)],
    ["RAM frames holding code (page cache)", (r) => fmt(r.stats.ram.pagecache_frames)],
    ["device frames mapped in place", (r) => fmt(r.stats.device.mapped_frames)],
    ["bytes copied into the page cache", (r) => fmt(r.stats.copied_bytes.pagecache_fill)],
    ["RAM frames used, peak", (r) => fmt(r.stats.ram.peak_used_frames)],
    ["faults: dax", (r) => fmt(r.stats.faults.dax)],
    [
      "faults: file major + minor",
      (r) => fmt(r.stats.faults.file_major + r.stats.faults.file_minor),
    ],
    ["faults: cow", (r) => fmt(r.stats.faults.cow)],
    ["faults: anon + zero page", (r) => fmt(r.stats.faults.anon + r.stats.faults.zero)],
    ["instructions retired", (r) => fmt(r.stats.instret)],
    ["wall time, spawn to last exit (ms)", (r) => fmt(r.wallMs)],
  ];
  const w0 = Math.max(...rows.map(([k]) => k.length));
  const cells = rows.map(([k, f]) => [k, f(a), f(b)] as const);
  const w1 = Math.max("dax=always".length, ...cells.map((c) => c[1].length));
  const w2 = Math.max("dax=never".length, ...cells.map((c) => c[2].length));
  const line = (k: string, x: string, y: string) =>
    `  ${k.padEnd(w0)}  ${x.padStart(w1)}  ${y.padStart(w2)}`;
  return [
    line("", "dax=always", "dax=never"),
    line("".padEnd(w0, "-"), "".padEnd(w1, "-"), "".padEnd(w2, "-")),
    ...cells.map(([k, x, y]) => line(k, x, y)),
  ].join("\n");
}

/**
 * Run and print the act.
 *
 * @returns true when every process exited 0 and all printed the same line
 */
export async function luaAct(
  image: Uint8Array,
  procs: number,
  status: StatusLine,
  ui: CliView | null = null,
): Promise<boolean> {
  console.log(
    `\nact two: ${procs} × /bin/lua (musl's ld.so, libc.so, liblua.so), ` +
      `dax=always, then dax=never`,
  );
  const runs: LuaRun[] = [];
  for (const mode of ["always", "never"] as const) {
    const r = await runLua(image, mode, procs, status, ui);
    console.log(`  dax=${mode}: all ${procs} exited after ${formatDuration(r.wallMs)}`);
    runs.push(r);
  }
  const [dax, pc] = runs as [LuaRun, LuaRun];
  console.log(`\n${luaTable(dax, pc)}`);
  const all = [...dax.outputs, ...pc.outputs];
  const same = all.every((o) => o === all[0]);
  console.log(
    `\nall ${all.length} lua processes printed ${same ? "the same" : "DIFFERENT"} output: ` +
      (all[0] ?? "").trim(),
  );
  const d = dax.stats, p = pc.stats;
  console.log(
    `With DAX, ${d.procs} processes ran musl and Lua in place from ` +
      `${fmt(d.device.mapped_frames)} device frames with ${
        fmt(d.ram.pagecache_frames)
      } RAM frames ` +
      `of code; from the page cache the same code took ${fmt(p.ram.pagecache_frames)} RAM frames ` +
      `(${fmt(p.copied_bytes.pagecache_fill)} bytes copied).`,
  );
  return same && [...dax.codes, ...pc.codes].every((c) => c === 0);
}
