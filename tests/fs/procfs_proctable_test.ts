/** procfs over the kernel's shared process table (src/kernel/proc.ts). */

import assert from "node:assert/strict";
import { ENOENT } from "../../src/abi/errno.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ } from "../../src/abi/mman.ts";
import { asTaskSlot, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { procfsSnapshotCount } from "../../src/fs/procfs/procfs.ts";
import { mountProcfs } from "../../src/fs/procfs/procfs_mount.ts";
import { procTableInfo } from "../../src/fs/procfs/procfs_proctable.ts";
import { vfsProcCreate, vfsProcExit } from "../../src/fs/vfs.ts";
import { vfsOpen } from "../../src/fs/vfs_path.ts";
import { O_RDONLY } from "../../src/abi/fcntl.ts";
import { procAlloc, procExit, procFree, procSet } from "../../src/kernel/proc.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { procEnv, readProc } from "./_procfs_env.ts";

Deno.test("procTableInfo() shows the process table's pids, their maps, zombies, and reaped pids as gone", () => {
  const base = procEnv();
  let self = 0;
  const mount = mountProcfs(base.root, procTableInfo(base.mem, () => self));
  const proc = vfsProcCreate(mount);
  assert.ok(typeof proc !== "number");
  const env = { ...base, mount, proc };

  const pidA = procAlloc(env.mem, asTaskSlot(2), 0);
  const pidB = procAlloc(env.mem, asTaskSlot(3), pidA);
  const mm = mmAlloc(env.mem) as MmId;
  procSet(env.mem, asTaskSlot(2), "mm", mm);
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  assert.equal(doMmap(env.mem, mm, 0x3000_0000, 2 * PAGE_SIZE, PROT_READ, flags), 0x3000_0000);
  self = pidA;

  assert.equal(readProc(env, "/proc/self/maps"), "30000000-30002000 r--p 00000000 00:00 0 \n");
  assert.equal(readProc(env, `/proc/${pidB}/maps`), "", "a process without an mm has empty maps");
  assert.match(readProc(env, "/proc/meminfo") as string, /^MemTotal: +2048 kB$/m);

  // pidA exits: the kernel releases its mm, then makes it a zombie.
  procSet(env.mem, asTaskSlot(2), "mm", 0);
  mmPut(env.mem, mm);
  procExit(env.mem, asTaskSlot(2), 0, 0);
  assert.equal(readProc(env, `/proc/${pidA}/maps`), "", "a zombie stays listed with empty maps");
  procFree(env.mem, asTaskSlot(2));
  assert.equal(vfsOpen(env.proc, `/proc/${pidA}/maps`, O_RDONLY), -ENOENT);
  assert.equal(vfsOpen(env.proc, "/proc/self/maps", O_RDONLY), -ENOENT, "self is the reaped pid");
  assert.ok(vfsOpen(env.proc, `/proc/${pidB}/smaps`, O_RDONLY) >= 0);
  // The Machine closes a process's files from its own mount; procfs records release cleanly.
  assert.equal(vfsProcExit(mount, proc.fdt), 0);
  assert.equal(procfsSnapshotCount(env.mem), 0);
  procExit(env.mem, asTaskSlot(3), 0, 0);
  procFree(env.mem, asTaskSlot(3));
});
