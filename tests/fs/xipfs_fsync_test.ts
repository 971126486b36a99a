import assert from "node:assert/strict";
import { XIPFS_BLOCK_SIZE } from "../../src/abi/layout/mod.ts";
import { ENOENT } from "../../src/abi/errno.ts";
import { asIno, asTaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { fsck } from "../../src/fs/xipfs/fsck.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { fileRead } from "../../src/fs/xipfs/xipfs_file.ts";
import { openVolume } from "../../src/fs/xipfs/xipfs_format.ts";
import { namei } from "../../src/fs/xipfs/xipfs_namei.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";
import { type LiveFs, newFile, pcWrite } from "./_live.ts";
import { payload } from "./fsync_child.ts";

const BS = XIPFS_BLOCK_SIZE;

/** A temp image file and a machine that loaded it and mounted it with imagePath. */
function mountFile(dax: "always" | "never"): LiveFs & { path: string } {
  const path = Deno.makeTempFileSync({ prefix: "xip-fsync-", suffix: ".img" });
  Deno.writeFileSync(path, mkfs({ sizeBytes: 4 << 20 }));
  const image = Deno.readFileSync(path);
  const mem = createMemory({
    ramFrames: 128,
    deviceFrames: image.length / BS,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image });
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const dev = new MemDevice(mem);
  const fs = mountXipfs(mem, dev, { dax, imagePath: path });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  return { mem, dev, fs, image, path };
}

/** The bytes of `name` in the image file on disk, or an errno. */
function onDisk(path: string, name: string): Uint8Array | number {
  const o = openVolume(Deno.readFileSync(path));
  if (!o.ok) throw new Error(o.error);
  const ino = namei(o.vol, name);
  return ino < 0 ? ino : fileRead(o.vol, ino, 0, 1 << 24);
}

for (const dax of ["always", "never"] as const) {
  Deno.test(`fsync() makes a file's data and metadata durable in the host image (dax=${dax})`, () => {
    const live = mountFile(dax);
    const { fs, path } = live;
    try {
      const ip = newFile(fs, "data");
      const bytes = payload();
      if (dax === "always") assert.equal(fs.daxWrite(ip, 0, bytes), bytes.length);
      else pcWrite(live, ip, 0, bytes);
      assert.equal(onDisk(path, "/data"), -ENOENT, "nothing reaches the file before fsync");
      assert.equal(fs.fsync(ip), 0);
      assert.deepEqual(onDisk(path, "/data"), bytes);
      assert.equal(fsck(Deno.readFileSync(path)).status, 0, "the image is consistent after fsync");
      // Mount the file fresh in another machine: the data is there.
      const image = Deno.readFileSync(path);
      const mem2 = createMemory({
        ramFrames: 64,
        deviceFrames: image.length / BS,
        deviceMemmap: false,
        maxTasks: 4,
      }, { image });
      taskInit(mem2.k32, asTaskSlot(1));
      const fs2 = mountXipfs(mem2, new MemDevice(mem2), { dax: "always" });
      if (!(fs2 instanceof XipFs)) throw new Error(fs2.error);
      const root2 = fs2.iget(fs2.rootIno);
      if (typeof root2 === "number") throw new Error("root");
      const ip2 = fs2.iget(asIno(fs2.lookup(root2, "data")));
      if (typeof ip2 === "number") throw new Error("lookup");
      const out = new Uint8Array(bytes.length);
      assert.equal(fs2.daxRead(ip2, 0, out), bytes.length);
      assert.deepEqual(out, bytes);
      fs2.iput(ip2);
      fs2.iput(root2);
      fs.iput(ip);
      assert.equal(fs.unmount(), 0);
      assert.equal(fsck(Deno.readFileSync(path)).status, 0);
    } finally {
      Deno.removeSync(path);
    }
  });
}

Deno.test("fsync() data survives the process being killed right after it returns", async () => {
  const path = Deno.makeTempFileSync({ prefix: "xip-fsync-kill-", suffix: ".img" });
  Deno.writeFileSync(path, mkfs({ sizeBytes: 4 << 20 }));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fsync_child.ts", import.meta.url).pathname, path],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("synced\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    assert.ok(out.includes("synced"), `child said: ${out}`);
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    await child.stderr.cancel();
    const status = await child.status;
    assert.equal(status.success, false, "the child was killed");
    assert.deepEqual(onDisk(path, "/child"), payload());
    assert.equal(fsck(Deno.readFileSync(path)).status, 0);
  } finally {
    clearTimeout(watchdog);
    Deno.removeSync(path);
  }
});
