/**
 * The configuration every layout is computed from.
 * See mod.ts for the map of every region.
 *
 * @module
 */

/** Region alignment, in words (64 bytes). */
export const REGION_ALIGN_WORDS = 16;

/** What the layout depends on. */
export interface LayoutConfig {
  /** RAM frames (R). */
  readonly ramFrames: number;
  /** Memory-device frames (M). */
  readonly deviceFrames: number;
  /** Whether device frames get struct pages (ZONE_DEVICE-like). */
  readonly deviceMemmap: boolean;
  /** Host threads that may take kernel locks: the main thread plus Workers. */
  readonly maxTasks: number;
}
