/**
 * RAM exhaustion at the Machine level (issue 8): processes that together
 * need more frames than RAM fail the Linux way, the page cache gives its
 * frames back first, and the machine stays consistent.
 *
 * The machine runs with dax=never, so a big file read once leaves its pages
 * in the page cache, unmapped and clean: reclaimable. Then hogs (hogElf)
 * each map K anonymous pages, store to and check every page, and sleep
 * holding them, so that together they need more frames than RAM. Each hog
 * must either reach its sleep (every page it stored to reads back) or fail
 * as Linux fails it: SIGKILL "out of memory" on the fault that found no
 * frame even after reclaim (the OOM kill), or, when RAM is gone before the
 * program starts, exec failing with ENOMEM (status 126, as a shell reports
 * it). Nothing else: no SIGSEGV, no wrong data, no KERNEL BUG. Sleepers
 * never give memory back, so some hog must fail, and not before the cache
 * was evicted. At the end every frame is back and checkInvariants (with
 * fsck) is clean (withMachine).
 */

import assert from "node:assert/strict";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { type ExitStatus, type Machine } from "../../src/kernel/machine.ts";
import { procGet } from "../../src/kernel/proc.ts";
import { SIGKILL } from "../../src/kernel/signal.ts";
import { rng } from "../fuzz/_rng.ts";
import { until, within } from "../kernel/_guest_image.ts";
import { hogElf, makeTree, procSlot, run, touchFileElf, withMachine } from "./_machine.ts";

/** RAM of the machine: small, so that a few hogs exhaust it quickly. */
const RAM_FRAMES = 640;
/** The file whose pages fill the page cache before the hogs start. */
const BIG = "/data/big";
const BIG_PAGES = 256;
/**
 * Page-cache pages nothing can evict while hogs run: the one page of /t/hog
 * (program text, mapped by every hog). /t/fill's page is evictable.
 */
const PINNED_CACHE = 1;

interface Hog {
  pid: number;
  done: Promise<ExitStatus>;
  status: ExitStatus | null;
  /** ram.pagecache_frames when its exit was seen. */
  cachedAtExit: number;
}

/** A tree with /data/big, /t/fill (reads it into the cache) and /t/hog (hogElf(pages, stride)). */
function oomTree(pages: number, stride = 1): string {
  const tree = makeTree();
  Deno.mkdirSync(`${tree}/data`);
  Deno.writeFileSync(`${tree}${BIG}`, new Uint8Array(BIG_PAGES * PAGE_SIZE).fill(0xb1));
  Deno.writeFileSync(`${tree}/t/fill`, touchFileElf(BIG, BIG_PAGES, false));
  Deno.writeFileSync(`${tree}/t/hog`, hogElf(pages, stride));
  return tree;
}

/** Read /data/big into the page cache; returns the cache size. */
async function fillCache(m: Machine): Promise<number> {
  const fill = await run(m, "/t/fill", ["fill"]);
  assert.equal(fill.code, 0, fill.message);
  const cached = m.stats().ram.pagecache_frames;
  assert.ok(cached >= BIG_PAGES, `the file is in the page cache (${cached} frames)`);
  return cached;
}

function spawnHog(m: Machine): Hog {
  const h: Hog = {
    pid: 0,
    done: Promise.resolve({ code: 0, signal: 0 }),
    status: null,
    cachedAtExit: -1,
  };
  const p = m.spawn("/t/hog", ["hog"], { stdout: () => {}, stderr: () => {} });
  h.pid = p.pid;
  h.done = p.wait().then((s) => {
    h.cachedAtExit = m.stats().ram.pagecache_frames;
    h.status = s;
    return s;
  });
  return h;
}

/** Wait until every hog has exited or sleeps in its futex wait, holding its pages. */
async function settle(m: Machine, hogs: Hog[], what: string): Promise<void> {
  const asleep = (pid: number) => {
    const s = procSlot(m, pid);
    return s > 0 && procGet(m.mem, s, "futexWord") !== 0;
  };
  await until(() => hogs.every((h) => h.status !== null || asleep(h.pid)), 120_000, what);
}

/** A failed hog failed the Linux way. */
function assertLinuxFailure(h: Hog, what: string): void {
  const s = h.status!;
  const where = `pid ${h.pid}: ${JSON.stringify(s)} (${what})`;
  if (s.signal !== 0) {
    assert.equal(s.signal, SIGKILL, where);
    assert.equal(s.code, 128 + SIGKILL, where);
    assert.match(s.message ?? "", /out of memory/, where);
  } else {
    assert.equal(s.code, 126, where); // exec could not set the program up
    assert.match(s.message ?? "", /ENOMEM/, where);
  }
}

/** Kill the sleepers and check the machine still runs a program correctly. */
async function endSleepers(m: Machine, hogs: Hog[]): Promise<void> {
  const held = hogs.filter((h) => h.status === null);
  for (const h of held) assert.ok(m.kill(h.pid, SIGKILL));
  for (const h of held) assert.equal((await within(h.done, 30_000, "kill")).code, 137);
  const after = await run(m, "/static/alloc", ["alloc"]);
  assert.equal(after.code, 0, after.message);
  assert.equal(m.stats().panics, 0);
}

// Dense hogs fault pages into one page table; sparse ones touch one page per
// 4 MiB, so every fault also allocates a page table (2 frames a page).
for (const [kind, stride] of [["dense", 1], ["sparse", 1024]] as const) {
  Deno.test(`${kind} hogs started one by one until RAM runs out: the page cache is evicted completely before the first OOM kill`, async () => {
    const frames = Math.ceil(RAM_FRAMES * 0.4); // what one hog holds
    const pages = stride === 1 ? frames : Math.ceil(frames / 2);
    const tree = oomTree(pages, stride);
    try {
      await withMachine(
        tree,
        { dax: "never", ram: RAM_FRAMES * PAGE_SIZE, maxProcs: 6, warm: 2 },
        async (m) => {
          await fillCache(m);
          const hogs: Hog[] = [];
          for (let i = 0; i < 4; i++) {
            const h = spawnHog(m);
            hogs.push(h);
            await settle(m, [h], `hog ${i} ended or asleep`);
          }
          const outcome = hogs.map((h) => h.status === null ? "held" : "failed");
          const fits = outcome.indexOf("failed");
          assert.ok(fits >= 1, `outcomes ${outcome}: the first hog fits in RAM`);
          assert.deepEqual(
            outcome.slice(fits),
            Array(4 - fits).fill("failed"),
            "once full, stays full",
          );
          assert.ok(fits * frames <= RAM_FRAMES);
          // Nothing ran beside the failing hog: the cache it saw is the cache at its failure.
          for (const h of hogs.slice(fits)) {
            assertLinuxFailure(h, "sequential");
            assert.ok(
              h.cachedAtExit <= PINNED_CACHE,
              `pid ${h.pid} failed while the cache still held ${h.cachedAtExit} frames`,
            );
          }
          assert.ok(hogs[fits]!.status!.signal === SIGKILL, "the first failure is an OOM kill");
          await endSleepers(m, hogs);
        },
      );
    } finally {
      Deno.removeSync(tree, { recursive: true });
    }
  });
}

Deno.test("hogs that together need 1.5-2.5x RAM at once fail only the Linux way and leave the machine consistent", async () => {
  const seed = Number(Deno.env.get("XIP_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  const rand = rng(seed);
  const n = 3 + Math.floor(rand() * 3); // 3..5
  const pages = Math.ceil(RAM_FRAMES * (1.5 + rand()) / n);
  const what = `XIP_SEED=${seed}: ${n} hogs of ${pages} pages, RAM ${RAM_FRAMES} frames`;
  console.log(`oom_test: ${what}`);
  const tree = oomTree(pages);
  try {
    const opts = { dax: "never", ram: RAM_FRAMES * PAGE_SIZE, maxProcs: n + 1, warm: n } as const;
    await withMachine(tree, opts, async (m) => {
      await fillCache(m);
      const hogs = Array.from({ length: n }, () => spawnHog(m));
      await settle(m, hogs, `every hog ended or asleep (${what})`);
      const failed = hogs.filter((h) => h.status !== null);
      for (const h of failed) assertLinuxFailure(h, what);
      assert.ok(failed.length >= 1, `demand exceeds RAM, yet no hog failed (${what})`);
      assert.ok((n - failed.length) * pages <= RAM_FRAMES, "the sleepers fit in RAM");
      // After the first failure nothing refills the cache but hog text, so a
      // larger cache when it is seen means it failed before the cache was evicted.
      const first = Math.min(...failed.map((h) => h.cachedAtExit));
      assert.ok(first <= PINNED_CACHE + 1, `a hog failed with ${first} frames cached (${what})`);
      await endSleepers(m, hogs);
    });
  } catch (e) {
    console.error(`oom_test failed with XIP_SEED=${seed}`);
    throw e;
  } finally {
    Deno.removeSync(tree, { recursive: true });
  }
});
