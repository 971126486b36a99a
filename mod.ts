/**
 * xip: a Deno runtime with true shared memory. A {@linkcode Machine} holds a
 * memory device (an xipfs filesystem image in a SharedArrayBuffer); its
 * processes are Worker threads that run real RISC-V (RV32IMA) programs and
 * shared libraries in place from the device, the way Linux's DAX does, or
 * through a page cache for comparison.
 *
 * ```ts
 * import { Machine } from "@xip/xip";
 *
 * await using machine = await Machine.boot({ from: "fixtures/rootfs", dax: "always" });
 * const p = machine.spawn("/bin/compute", ["compute", "1"]);
 * const { code } = await p.wait();
 * const s = machine.stats();
 * console.log(`exit ${code}: ${s.faults.dax} DAX faults, ${s.instret} instructions`);
 * ```
 *
 * Also here: {@linkcode mkfs} and {@linkcode fsck} for images, the error
 * classes, and the stats type (its JSON Schema is docs/stats.schema.json).
 * The Atomics locks are in the `./sync` sub-export, the kernel's types and
 * layouts in `./internals`, and the `xip` command in `./cli`.
 *
 * @module
 */

export {
  type BootOptions,
  type ConsoleInput,
  type ExitStatus,
  type InputSource,
  Machine,
  MachineError,
  type OutputSink,
  type Process,
  type SpawnOptions,
} from "./src/kernel/machine.ts";
export type { ArgString } from "./src/kernel/exec_stack.ts";
export { type MachineStats, STATS_VERSION } from "./src/kernel/stats.ts";
export {
  mkfs,
  MKFS_DEFAULT_BYTES,
  MKFS_MAX_BYTES,
  MKFS_MIN_BYTES,
  MkfsError,
  type MkfsOptions,
} from "./src/fs/xipfs/mkfs.ts";
export {
  fsck,
  FSCK_CLEAN,
  FSCK_ERRORS,
  FSCK_UNUSABLE,
  type FsckOptions,
  type FsckResult,
} from "./src/fs/xipfs/fsck.ts";
export { fsckRepair, type RepairMode, type RepairResult } from "./src/fs/xipfs/fsck_repair.ts";
export { ImageError } from "./src/hw/image.ts";
export { KernelPanic } from "./src/abi/panic.ts";
export { VERSION } from "./src/version.ts";
