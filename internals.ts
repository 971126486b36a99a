/**
 * Internals of xip for tools and experiments: the branded number types and
 * their conversions, page and sector sizes, the layout of the kernel-table
 * SharedArrayBuffer, and the panic a broken kernel invariant throws. These
 * follow the code and may change between minor versions; docs/ARCHITECTURE.md
 * explains them.
 *
 * ```ts
 * import { computeLayout, PAGE_SIZE } from "@xip/xip/internals";
 *
 * const layout = computeLayout({ ramFrames: 16384, deviceFrames: 4096, deviceMemmap: false, maxTasks: 18 });
 * for (const r of layout.regions) console.log(r.name, r.base, r.words);
 * console.log(`kernel tables: ${layout.bytes} bytes; pages of ${PAGE_SIZE} bytes`);
 * ```
 *
 * @module
 */

export * from "./src/abi/types.ts";
export {
  computeLayout,
  type KernelLayout,
  type LayoutConfig,
  type Region,
  REGION_ALIGN_WORDS,
} from "./src/abi/layout/mod.ts";
export { kassert, KernelPanic } from "./src/abi/panic.ts";
