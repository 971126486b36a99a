/**
 * xip: a Deno runtime with true shared memory, where Worker threads are
 * processes that execute RISC-V code in place from a shared memory device.
 *
 * This module only re-exports the public API.
 *
 * @module
 */

export { KernelPanic } from "./src/abi/panic.ts";
export * from "./src/abi/types.ts";
export { computeLayout, type KernelLayout, type LayoutConfig } from "./src/abi/layout.ts";
export {
  type BootOptions,
  type ExitStatus,
  Machine,
  MachineError,
  type OutputSink,
  type Process,
  type SpawnOptions,
} from "./src/kernel/machine.ts";
export type { MachineStats } from "./src/kernel/stats.ts";
export { mkfs, MkfsError, type MkfsOptions } from "./src/fs/mkfs.ts";
export { fsck, type FsckResult } from "./src/fs/fsck.ts";
export * from "./src/sync/mod.ts";
