import assert from "node:assert/strict";
import { Ajv2020 } from "npm:ajv@8/dist/2020.js";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { Machine } from "../../src/kernel/machine.ts";
import { STATS_VERSION, statsJson } from "../../src/kernel/stats.ts";
import { decodeFrameCodes, type FrameMap } from "../../src/ui/encode.ts";
import type { FrameDetail } from "../../src/ui/frame_info.ts";
import { applyMergePatch } from "../../src/ui/delta.ts";
import type { Hello, ProcRow, RunTotals, Update } from "../../src/ui/protocol.ts";
import {
  isLoopback,
  parseListen,
  startViewServer,
  ViewError,
  type ViewServer,
} from "../../src/ui/server.ts";
import { View } from "../../src/ui/view.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const MIB = 1024 * 1024;
const SCHEMA = new URL("../../docs/stats.schema.json", import.meta.url);
const validateStats = new Ajv2020({ allErrors: true, strict: true })
  .compile(JSON.parse(Deno.readTextFileSync(SCHEMA)));

Deno.test("parseListen() takes [HOST:]PORT and listens on 127.0.0.1 by default", () => {
  assert.deepEqual(parseListen("8765"), { hostname: "127.0.0.1", port: 8765 });
  assert.deepEqual(parseListen("0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen("localhost:80"), { hostname: "localhost", port: 80 });
  assert.deepEqual(parseListen("0.0.0.0:8765"), { hostname: "0.0.0.0", port: 8765 });
  assert.deepEqual(parseListen("[::1]:9000"), { hostname: "::1", port: 9000 });
  for (const bad of ["", "abc", "1.2.3.4:", ":80", "70000", "h:1:2", "[::1]", "80a"]) {
    assert.throws(() => parseListen(bad), ViewError, bad);
  }
});

Deno.test("isLoopback() accepts 127/8, ::1 and localhost only", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.ok(isLoopback(h), h);
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) {
    assert.ok(!isLoopback(h), h);
  }
});

/** A machine running `procs` compute processes, watched by a view served on 127.0.0.1. */
async function withView(
  procs: number,
  body: (s: ViewServer, view: View, m: Machine) => Promise<void>,
): Promise<void> {
  const machine = await Machine.boot({
    image: mkfs({ sizeBytes: 16 * MIB, from: ROOTFS }),
    dax: "always",
    ram: 32 * MIB,
    maxProcs: Math.max(procs, 1),
    warm: procs,
    stdout: () => {},
    stderr: () => {},
  });
  const view = new View();
  const server = startViewServer(view, parseListen("0"));
  try {
    view.addRun("test", machine);
    for (let i = 0; i < procs; i++) machine.spawn("/bin/compute", ["/bin/compute", "400"]);
    await body(server, view, machine);
  } finally {
    await server.close();
    await machine.shutdown();
  }
}

const get = (s: ViewServer, path: string, init?: RequestInit) => fetch(s.url + path.slice(1), init);

/** Poll `f` until it returns a value, for up to `ms`. */
async function until<T>(f: () => Promise<T | null>, ms: number, what: string): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The shape of a JSON value: its keys and the types of its leaves. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return "array";
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  }
  return typeof v;
}

/** The status of GET /api/runs sent over a raw connection with Host `host` (fetch sets its own). */
async function rawStatus(port: number, host: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /api/runs HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    const line = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? "0");
  } finally {
    conn.close();
  }
}

Deno.test("startViewServer() binds 127.0.0.1 by default and answers only to its own host name", async () => {
  await withView(0, async (s) => {
    assert.equal(s.hostname, "127.0.0.1");
    assert.ok(s.port > 0);
    assert.equal(s.url, `http://127.0.0.1:${s.port}/`);
    // A page of another site that rebinds its name to 127.0.0.1 sends its own Host.
    assert.equal(await rawStatus(s.port, "attacker.example"), 403);
    assert.equal(await rawStatus(s.port, `attacker.example:${s.port}`), 403);
    assert.equal(await rawStatus(s.port, `localhost:${s.port}`), 200);
    assert.equal(await rawStatus(s.port, `127.0.0.1:${s.port}`), 200);
  });
});

Deno.test("the view's server is read-only: any method but GET and HEAD gets 405", async () => {
  await withView(0, async (s) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of ["/api/stats", "/api/frames", "/"]) {
        const r = await get(s, path, { method, body: method === "DELETE" ? undefined : "{}" });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get("allow"), "GET, HEAD");
        await r.body?.cancel();
      }
    }
    const head = await get(s, "/api/stats", { method: "HEAD" });
    assert.equal(head.status, 200);
    await head.body?.cancel();
  });
});

Deno.test("GET / serves the page from the package with a same-origin-only CSP", async () => {
  await withView(0, async (s) => {
    const page = await get(s, "/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.match(page.headers.get("content-security-policy")!, /connect-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
    assert.doesNotMatch(html, /https?:\/\//, "the page names no other host");
    const js = await get(s, "/app.js");
    assert.match(js.headers.get("content-type")!, /^text\/javascript/);
    assert.match(await js.text(), /fetch\("\/api\/stream"/);
    const missing = await get(s, "/nope.js");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});

Deno.test("GET /api/stats returns the --stats JSON: valid against docs/stats.schema.json, live", async () => {
  await withView(2, async (s, view) => {
    const first = await until(
      async () => {
        const j = await (await get(s, "/api/stats")).json();
        return j.instret > 0 ? j : null;
      },
      30_000,
      "instret to be published",
    );
    const r = await get(s, "/api/stats");
    assert.match(r.headers.get("content-type")!, /^application\/json/);
    const text = await r.text();
    const now = JSON.parse(text);
    assert.ok(validateStats(JSON.parse(text)), JSON.stringify(validateStats.errors));
    assert.equal(now.version, STATS_VERSION);
    assert.equal(now.procs, 2);
    // The same function writes both: same text, up to the counters that moved.
    assert.deepEqual(shape(now), shape(JSON.parse(statsJson(view.current()!.stats()))));
    assert.ok(text.startsWith('{\n  "') && text.endsWith("}\n"), "statsJson's layout");
    assert.ok(now.wall_ms >= first.wall_ms);
    await until(
      async () => {
        const j = await (await get(s, "/api/stats")).json();
        return j.instret > first.instret ? j : null;
      },
      30_000,
      "instret to grow",
    );
  });
});

Deno.test("GET /api/frames, /api/frame, /api/procs and /api/faults describe the running machine", async () => {
  await withView(2, async (s) => {
    const procs = await until(
      async () => {
        const rows = await (await get(s, "/api/procs")).json() as ProcRow[];
        return rows.length === 2 && rows.every((r) => (r.rss.device ?? 0) > 0) ? rows : null;
      },
      30_000,
      "two processes with their text mapped",
    );
    for (const p of procs) {
      assert.equal(p.program, "/bin/compute");
      assert.ok(p.faults.dax! > 0);
    }
    const map = await (await get(s, "/api/frames")).json() as FrameMap;
    const mappers = decodeFrameCodes(map.device_mappers, map.device_frames);
    assert.equal(map.device_max_mappers, 2);
    const shared = map.device_base + mappers.indexOf(2);
    const d = await (await get(s, `/api/frame?pfn=${shared}`)).json() as FrameDetail;
    assert.equal(d.region, "device");
    assert.equal(d.refcount, null, "memmap=none: a device frame has no struct page");
    assert.deepEqual(d.pids, procs.map((p) => p.pid));
    assert.ok(d.file !== null && /^\/(bin|lib)\//.test(d.file.path ?? ""), JSON.stringify(d));
    assert.equal(d.file.offset % 4096, 0);
    const bad = await get(s, "/api/frame?pfn=x");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const none = await get(s, `/api/frame?pfn=${map.device_base + map.device_frames}`);
    assert.equal(none.status, 404);
    await none.body?.cancel();
    const faults = await (await get(s, "/api/faults?n=5")).json() as { kind: string }[];
    assert.ok(faults.length > 0 && faults.length <= 5);
  });
});

/** Read server-sent events from `r` until `want` events have come. */
async function readEvents(r: Response, want: number): Promise<{ event: string; data: string }[]> {
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const out: { event: string; data: string }[] = [];
  try {
    while (out.length < want) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (let i; (i = buf.indexOf("\n\n")) >= 0;) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev !== undefined && data !== undefined) out.push({ event: ev, data });
      }
    }
  } finally {
    await reader.cancel();
  }
  return out;
}

Deno.test("GET /api/stream sends a hello with the whole state, then updates about 10 times a second", async () => {
  await withView(1, async (s) => {
    const t0 = performance.now();
    const events = await readEvents(await get(s, "/api/stream"), 6);
    const ms = performance.now() - t0;
    assert.equal(events[0]!.event, "hello");
    const hello = JSON.parse(events[0]!.data) as Hello;
    assert.ok(hello.state.frames !== undefined && Array.isArray(hello.history));
    assert.deepEqual(Object.keys(hello.state.runs), ["0"]);
    assert.equal(hello.state.run, "test");
    assert.ok(hello.fault_kinds.includes("dax"), hello.fault_kinds.join(" "));
    const updates = events.slice(1).map((e) => JSON.parse(e.data) as Update);
    assert.equal(updates.length, 5);
    assert.ok(updates.every((u) => typeof u.t === "number" && u.t >= hello.t));
    assert.ok(ms < 5_000, `5 updates took ${ms.toFixed(0)} ms`);
  });
});

Deno.test("View.subscribe(): the hello plus every patch since equal a stream opened later, and patches stay small", async () => {
  await withView(2, async (_s, view) => {
    const first: { event: string; data: string }[] = [];
    const stop = view.subscribe((event, data) => void first.push({ event, data }));
    try {
      // Until the processes have run a while: a second of updates after both are listed.
      const deadline = performance.now() + 30_000;
      const procsListed = () => (view.current()?.procs(performance.now()) ?? []).length === 2;
      while (!procsListed() && performance.now() < deadline) await sleep(50);
      await sleep(1200);
      let later: Hello | null = null;
      const stopLater = view.subscribe((event, data) => {
        if (event === "hello") later = JSON.parse(data) as Hello;
      });
      stopLater();
      assert.ok(later !== null, "a new stream gets its hello at once");
      const hello = JSON.parse(first[0]!.data) as Hello;
      let state = hello.state as unknown;
      const updates = first.slice(1).map((e) => JSON.parse(e.data) as Update);
      assert.ok(updates.length >= 10, `${updates.length} updates`);
      for (const u of updates) if (u.patch !== undefined) state = applyMergePatch(state, u.patch);
      assert.deepEqual(state, (later as Hello).state);
      assert.equal(Object.keys((later as Hello).state.procs).length, 2);
      // A steady update carries the counters that moved, not the whole state.
      const full = JSON.stringify((later as Hello).state).length;
      const last = updates.at(-1)!;
      assert.ok(last.patch !== undefined, "instructions retired moved, so the state did");
      assert.ok(first.at(-1)!.data.length * 4 < full, `${first.at(-1)!.data.length} of ${full}`);
    } finally {
      stop();
    }
  });
});

Deno.test("the view shows finished runs' totals beside the live one (the demo's side by side)", async () => {
  await withView(0, async (s, view, m) => {
    const first = view.current()!;
    first.finish();
    view.addRun("second", m);
    const runs = await (await get(s, "/api/runs")).json() as RunTotals[];
    assert.deepEqual(runs.map((r) => [r.label, r.live]), [["test", false], ["second", true]]);
    assert.deepEqual(runs[0]!.stats, first.stats(), "a finished run keeps its final stats");
  });
});
