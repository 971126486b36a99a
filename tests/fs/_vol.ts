/** Test helper (not a test): fresh volumes and files made with the offline accessors. */
import { XFT_REG } from "../../src/abi/layout/mod.ts";
import { type BlockNo, type Ino } from "../../src/abi/types.ts";
import { mkfs } from "../../src/fs/xipfs/mkfs.ts";
import { dirAddEntry } from "../../src/fs/xipfs/xipfs_dir.ts";
import {
  allocBlockOffline,
  allocInodeOffline,
  inodeSet,
  openVolume,
  S_IFREG,
  type XipVol,
} from "../../src/fs/xipfs/xipfs_format.ts";

export function freshVol(sizeBytes = 1 << 20, inodes?: number): XipVol {
  const o = openVolume(mkfs({ sizeBytes, inodes }));
  if (!o.ok) throw new Error(o.error);
  return o.vol;
}

/** An allocator for the accessors' callbacks. */
export const allocator = (vol: XipVol) => (): BlockNo => allocBlockOffline(vol);

/** A new empty regular file `name` in directory `dir`, linked once. */
export function newFile(vol: XipVol, dir: Ino, name: string): Ino {
  const ino = allocInodeOffline(vol);
  if (ino < 0) throw new Error(`out of inodes`);
  inodeSet(vol, ino, "mode", S_IFREG | 0o644);
  inodeSet(vol, ino, "links", 1);
  const rc = dirAddEntry(vol, dir, name, ino, XFT_REG, allocator(vol));
  if (rc < 0) throw new Error(`dirAddEntry ${name}: ${rc}`);
  return ino;
}
