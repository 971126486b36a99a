/**
 * Child process for xipfs_fsync_test.ts (not a test): mount IMAGE with
 * imagePath, write PAYLOAD_BYTES to /child, fsync, say "synced", write
 * /late without fsync, then wait to be killed.
 *
 * Usage: deno run -A tests/fs/fsync_child.ts IMAGE
 */
import { asIno, asTaskSlot } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory } from "../../src/hw/memory.ts";
import { mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";

export const PAYLOAD_BYTES = 300_000;
export const payload = (): Uint8Array =>
  Uint8Array.from({ length: PAYLOAD_BYTES }, (_, i) => (i * 13 + (i >> 12)) & 0xff);

if (import.meta.main) {
  const path = Deno.args[0]!;
  const image = Deno.readFileSync(path);
  const mem = createMemory({
    ramFrames: 64,
    deviceFrames: image.length / 4096,
    deviceMemmap: false,
    maxTasks: 4,
  }, { image });
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const fs = mountXipfs(mem, new MemDevice(mem), { dax: "always", imagePath: path });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  const root = fs.iget(fs.rootIno);
  if (typeof root === "number") throw new Error("root");
  const ip = fs.iget(asIno(fs.create(root, "child", 0o644)));
  if (typeof ip === "number") throw new Error("create");
  fs.daxWrite(ip, 0, payload());
  if (fs.fsync(ip) !== 0) throw new Error("fsync");
  await Deno.stdout.write(new TextEncoder().encode("synced\n"));
  const late = fs.iget(asIno(fs.create(root, "late", 0o644)));
  if (typeof late !== "number") fs.daxWrite(late, 0, new Uint8Array(5000).fill(1));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); // until killed
}
