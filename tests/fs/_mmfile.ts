/**
 * Test helper (not a test): a machine with a mounted live xipfs whose files
 * can be mapped — mm booted, this thread task 1, the file VmOperations and
 * truncate's unmap hook installed.
 */

import { fileIdentity } from "../../src/hw/image_file.ts";
import { MAP_FIXED } from "../../src/abi/mman.ts";
import { asIno, asTaskSlot, type Ino, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { MemDevice } from "../../src/hw/device.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { installFileMm, mmapFile } from "../../src/fs/file_vm_ops.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { type InodeRef, mountXipfs, XipFs } from "../../src/fs/xipfs/xipfs_live.ts";
import { mmBoot } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { DEBUG_LOCKDEP, setCurrentTid, setDebug, taskInit } from "../../src/sync/mod.ts";

export interface FileMachine {
  mem: Memory;
  dev: MemDevice;
  fs: XipFs;
  root: InodeRef;
}

export interface FileMachineOptions {
  /** Image size in bytes (default 4 MiB). */
  sizeBytes?: number;
  ramFrames?: number;
  deviceMemmap?: boolean;
  dax?: "always" | "never" | "inode";
  lockdep?: boolean;
  maxTasks?: number;
  /** A host file to hold the image and mount with (fsync and MAP_SYNC write it). */
  imagePath?: string;
}

/** mkfs, load, boot mm, mount, install the file mm ops. */
export function fileMachine(o: FileMachineOptions = {}): FileMachine {
  const sizeBytes = o.sizeBytes ?? 4 << 20;
  const image = mkfs({ sizeBytes, dax: true });
  if (o.imagePath !== undefined) Deno.writeFileSync(o.imagePath, image);
  const mem = createMemory({
    ramFrames: o.ramFrames ?? 512,
    deviceFrames: sizeBytes / PAGE_SIZE,
    deviceMemmap: o.deviceMemmap ?? false,
    maxTasks: o.maxTasks ?? 8,
  }, { image });
  if (mmBoot(mem) !== 0) throw new Error("mmBoot failed");
  setDebug(mem.k32, DEBUG_LOCKDEP, o.lockdep ?? true);
  taskInit(mem.k32, asTaskSlot(1));
  setCurrentTid(asTaskSlot(1));
  const dev = new MemDevice(mem);
  const fs = mountXipfs(mem, dev, {
    dax: o.dax ?? "always",
    ...(o.imagePath === undefined ? {} : {
      imagePath: o.imagePath,
      // As the Machine mounts a locked image: writes go only to this very file.
      imageIdentity: fileIdentity(Deno.statSync(o.imagePath)),
    }),
  });
  if (!(fs instanceof XipFs)) throw new Error(fs.error);
  installFileMm(fs);
  const root = fs.iget(fs.rootIno);
  if (typeof root === "number") throw new Error(`iget root: ${root}`);
  return { mem, dev, fs, root };
}

/** Create regular file `name` in the root and return a reference; `size` bytes (a hole) if given. */
export function newFile(m: FileMachine, name: string, size = 0): InodeRef {
  const ino = m.fs.create(m.root, name, 0o100644);
  if (typeof ino === "number" && ino < 0) throw new Error(`create ${name}: ${ino}`);
  const ip = m.fs.iget(asIno(ino as number) as Ino);
  if (typeof ip === "number") throw new Error(`iget ${name}: ${ip}`);
  if (size > 0 && m.fs.truncate(ip, size) !== 0) throw new Error(`truncate ${name}`);
  return ip;
}

/** mmap `ip` at fixed address `addr` in mm `mm`; throws unless it lands there. */
export function mapAt(
  m: FileMachine,
  mm: MmId,
  ip: InodeRef,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  pgoff = 0,
): void {
  const file = mmapFile(m.fs, ip, true, true);
  const r = doMmap(m.mem, mm, addr, len, prot, flags | MAP_FIXED, file, pgoff);
  if (r !== addr) throw new Error(`mmap: ${r}`);
}

/** A page full of the 32-bit word `w`. */
export function pageOf(w: number): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  new DataView(p.buffer).setUint32(0, w, true);
  for (let i = 4; i < PAGE_SIZE; i *= 2) p.copyWithin(i, 0, i);
  return p;
}
