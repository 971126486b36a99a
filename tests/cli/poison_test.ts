/**
 * `xip run --poison OFFSET[:LEN]` end to end: a program whose text page is
 * poisoned dies of SIGBUS (exit 135), the poison is saved with the image,
 * `xip fsck` names the file that owns it and `xip ls` marks it; bad ranges
 * are usage errors (exit 2) with one line.
 */

import assert from "node:assert/strict";
import { PAGE_SIZE } from "../../src/abi/types.ts";
import { bmapLookup } from "../../src/fs/xipfs/xipfs_bmap.ts";
import { openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { makeGuestTree } from "../kernel/_guest_image.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function xip(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { XIP_CHECK_INVARIANTS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const tree = makeGuestTree();
// /ctl's first word set: hwpoison prints where its text page is and exits at once.
Deno.writeFileSync(`${tree}/ctl`, new Uint8Array(PAGE_SIZE).fill(1));
const work = Deno.makeTempDirSync({ prefix: "xip-poison-" });
const image = `${work}/root.img`;
Deno.test.afterAll(() => {
  Deno.removeSync(tree, { recursive: true });
  Deno.removeSync(work, { recursive: true });
});

Deno.test("xip run --poison kills the program that touches it; fsck and ls report the file", async () => {
  assert.equal((await xip("mkfs", image, "--size", "16M", "--from", tree)).code, 0);
  const first = await xip("run", image, "--", "/bin/hwpoison", "text", "/ctl");
  assert.equal(first.code, 0, first.err);
  const off = Number(/ready (\d+)\n/.exec(first.out)?.[1]);
  assert.ok(off > 0, first.out);
  const o = openVolume(Deno.readFileSync(image));
  assert.ok(o.ok);
  const ino = namei(o.vol, "/bin/hwpoison");
  const block = bmapLookup(o.vol, ino as never, off / PAGE_SIZE);
  assert.ok(block > 0);

  const hex = `0x${(block * PAGE_SIZE + 64).toString(16)}`;
  const r = await xip("run", image, "--poison", `${hex}:16`, "--", "/bin/hwpoison", "text", "/ctl");
  assert.equal(r.code, 135, `${r.out} ${r.err}`);
  assert.match(r.err, /SIGBUS at 0x[0-9a-f]+ \(pc 0x[0-9a-f]+\): poisoned memory/);

  const f = await xip("fsck", image);
  assert.equal(f.code, 0, "poison is not corruption");
  assert.match(
    f.out,
    new RegExp(
      `hwpoison: /bin/hwpoison \\(inode ${ino}\\): 1 poisoned block at file block ${
        off / PAGE_SIZE
      }`,
    ),
  );
  const ls = await xip("ls", "-l", image, "/bin/hwpoison");
  assert.equal(ls.code, 0, ls.err);
  assert.match(ls.out, /\/bin\/hwpoison {2}\[hwpoison: 1 block\]\n$/);
  // The saved list is loaded at the next boot: the same program dies without --poison.
  const again = await xip("run", image, "--", "/bin/hwpoison", "text", "/ctl");
  assert.equal(again.code, 135, again.err);
  // fsck -y keeps the list (poison is no error to repair) and reports it as -n does.
  const y = await xip("fsck", "-y", image);
  assert.ok(y.code === 0 || y.code === 1, y.out);
  assert.match(y.out, /hwpoison: \/bin\/hwpoison \(inode \d+\): 1 poisoned block/);
  assert.match((await xip("fsck", "-n", image)).out, /hwpoison: 1 poisoned block in 1 run/);
});

for (const bad of ["1:2:3", "abc", "0x10:0", "99999999999"]) {
  Deno.test(`xip run --poison ${bad} exits 2 with one line`, async () => {
    if (!(await Deno.stat(image).catch(() => null))) {
      assert.equal((await xip("mkfs", image, "--size", "16M", "--from", tree)).code, 0);
    }
    const r = await xip("run", image, "--poison", bad, "--", "/bin/true");
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, /--poison/);
  });
}
