/**
 * The file system as the process layer sees it, one handle per thread: the
 * live xipfs on the memory device, the VFS over it with procfs mounted on
 * /proc, a tmpfs on /dev/shm (src/fs/tmpfs.ts) and the device nodes on
 * /dev (devfs.ts), and the per-thread wiring the mm needs to fault files
 * in. Mounting at boot also creates /dev, /dev/shm and /tmp when the image
 * lacks them.
 *
 * The Machine's main thread mounts (mountKernelFs) once at boot; every
 * process Worker attaches (attachKernelFs) to the same shared state. Both
 * go through `wire`, because each of these is module state of the thread
 * that runs it, not shared memory:
 * - the VmOperations registry (VMOPS_DAX: daxFault straight from the
 *   device; VMOPS_FILEMAP: filemapFault over the page cache), without
 *   which a file VMA has no fault handler in that thread;
 * - livefs's unmap hook (truncate → unmapMappingRange in every process,
 *   plus the wait for gup pins on DAX frames), file_vm_ops.ts installFileMm;
 * - procfs's view of the process table (procfs_proctable.ts), with the
 *   calling thread's process found from its current task id;
 * - the character-device drivers (the console, src/kernel/console.ts).
 * O_DIRECT from the syscall layer does not go through the VFS's kernel
 * buffer hook (filemap.ts setDirectIO keeps its bio default for kernel
 * callers): files.ts calls the get_user_pages path (direct_io.ts) with
 * the user address itself, which is the copy O_DIRECT exists to avoid.
 *
 * One Machine per thread at a time: the hook and the registry follow the
 * last mount or attach made in the thread.
 *
 * @module
 */

import { PROC, PROC_FREE, procBase } from "../abi/layout/mod.ts";
import { MemDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import { errnoName } from "../abi/errno.ts";
import { ChrdevMount } from "../fs/chrdev.ts";
import { DevMount, makeSystemDirs } from "../fs/devfs.ts";
import { setImageLog } from "../hw/image_file.ts";
import { installFileMm } from "../fs/file_vm_ops.ts";
import { installMemoryFailure } from "./memory_failure.ts";
import { TmpfsMount, tmpfsMountInit, tmpfsMountPrepare, tmpfsUnmount } from "../fs/tmpfs.ts";
import { ipcAttach, ipcBoot, ipcTeardown } from "./ipc.ts";
import { AnonMount } from "../fs/anon_file.ts";
import { registerSocketOps } from "./unix_io.ts";
import { mountProcfs, type ProcfsMount } from "../fs/procfs/procfs_mount.ts";
import { procTableInfo } from "../fs/procfs/procfs_proctable.ts";
import type { VfsFs } from "../fs/vfs_fs.ts";
import { XipVfs } from "../fs/xipfs/vfs_xipfs.ts";
import { attachXipfs, type DaxOption, mountXipfs, XipFs } from "../fs/xipfs/xipfs_live.ts";
import { currentTid } from "../sync/mod.ts";
import { registerConsole } from "./console.ts";
import { PipeMount } from "./pipe_fs.ts";

/** Mount options the Machine passes to every Worker (structured-clone safe). */
export interface FsMountOptions {
  dax: DaxOption;
  /** Host image file fsync writes dirty blocks into; absent: nothing is durable before the save. */
  imagePath?: string;
  /**
   * fileIdentity of the file at imagePath that the Machine locked: a sync
   * that finds another file there refuses to write into it.
   */
  imageIdentity?: string;
  /**
   * Crash testing: append every write and flush made on the image file, in
   * every thread, to this file (src/hw/image_file.ts setImageLog).
   */
  imageLog?: string;
}

/** This thread's handle on the mounted file system. */
export interface KernelFs {
  readonly mem: Memory;
  readonly opts: FsMountOptions;
  /** The live xipfs (DAX I/O, mmap ops, direct I/O). */
  readonly xip: XipFs;
  /**
   * The VFS's filesystem: xipfs with procfs on /proc, tmpfs on /dev/shm,
   * anon files (sockets) and the character devices (the console) in
   * front. Use it for every Proc.
   */
  readonly vfs: VfsFs;
  readonly procfs: ProcfsMount;
}

/**
 * The pid of the process the calling thread runs: a Worker's current task
 * is its process slot; the Machine's main thread (task 1) runs none.
 */
function selfPidOf(mem: Memory): () => number {
  return () => {
    const tid = currentTid();
    if (tid < 2 || tid >= mem.layout.config.maxTasks) return 0;
    const b = procBase(mem.layout, tid);
    // /proc/self is the process: the thread group's id, in every thread.
    return Atomics.load(mem.k32, b + PROC.state) === PROC_FREE
      ? 0
      : Atomics.load(mem.k32, b + PROC.tgid) || Atomics.load(mem.k32, b + PROC.pid);
  };
}

/**
 * Register this thread's file fault handlers, hooks and device drivers;
 * build the VFS with /proc, /dev/shm, anon files (sockets) routed to their
 * operations, the console, and the device nodes of /dev (outermost: it
 * answers for its own inodes before the console's ChrdevMount sees them).
 */
function wire(mem: Memory, opts: FsMountOptions, xip: XipFs): KernelFs {
  installFileMm(xip);
  installMemoryFailure(xip.ctx);
  setImageLog(opts.imageLog ?? null);
  registerConsole(mem);
  ipcAttach(xip.ctx);
  const procfs = mountProcfs(new XipVfs(xip), procTableInfo(mem, selfPidOf(mem)));
  const vfs = new DevMount(
    new PipeMount(new ChrdevMount(new AnonMount(new TmpfsMount(procfs, xip.ctx)))),
  );
  registerSocketOps(mem, (ino, slot) => vfs.iput(vfs.handle(ino, slot)));
  return { mem, opts, xip, vfs, procfs };
}

/**
 * Mount xipfs on the machine's memory device (main thread, once, at boot;
 * the mm is booted and this thread's task is set). Entry: no lock held;
 * nothing else uses the file system yet. Takes only what mountXipfs takes
 * (the image's sync lock, to write the dirty superblock); wiring this
 * thread's tables takes none.
 *
 * @returns the handle, or `{ error }` with one line (not an xipfs image,
 *   dax=always refused, already mounted)
 */
export function mountKernelFs(mem: Memory, opts: FsMountOptions): KernelFs | { error: string } {
  setImageLog(opts.imageLog ?? null); // the mount itself writes the superblock
  const xip = mountXipfs(mem, new MemDevice(mem), {
    dax: opts.dax,
    imagePath: opts.imagePath,
    imageIdentity: opts.imageIdentity,
  });
  if (!(xip instanceof XipFs)) return xip;
  const fs = wire(mem, opts, xip);
  ipcBoot(mem);
  const d = makeSystemDirs(fs.vfs);
  if (d < 0) return { error: `cannot create /dev, /dev/shm or /tmp: ${errnoName(d)}` };
  const r = tmpfsMountPrepare(fs.procfs);
  const m = r < 0 ? r : tmpfsMountInit(xip.ctx);
  return m < 0 ? { error: `cannot mount the tmpfs on /dev/shm: ${errnoName(m)}` } : fs;
}

/**
 * Attach this thread (a process Worker) to the file system the Machine
 * mounted. Touches no shared state. Entry: any lock state; takes no lock (it
 * fills this thread's tables only).
 *
 * @returns the handle, or `{ error }` (not mounted, bad image)
 */
export function attachKernelFs(mem: Memory, opts: FsMountOptions): KernelFs | { error: string } {
  const xip = attachXipfs(mem, new MemDevice(mem), {
    imagePath: opts.imagePath,
    imageIdentity: opts.imageIdentity,
  });
  return xip instanceof XipFs ? wire(mem, opts, xip) : xip;
}

/**
 * Unmount at shutdown (main thread; every process is gone): remove every
 * System V IPC object and tmpfs file (their memory goes), drop unused
 * inodes, mark the superblock clean and write dirty blocks to the image file
 * when the mount has one. Entry: no lock held. Takes each IPC kind's lock in
 * turn (ipcTeardown), then the TMPFS lock (tmpfsUnmount), dropping inode
 * references with neither held; unmount evicts cached inodes (page locks)
 * and takes the image's sync lock.
 *
 * @returns 0, -EBUSY (an inode is still referenced: a leak), or a write
 *   error
 */
export function unmountKernelFs(fs: KernelFs): number {
  ipcTeardown(fs.xip.ctx);
  tmpfsUnmount(fs.xip.ctx);
  return fs.xip.unmount();
}
