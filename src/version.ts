/**
 * The version of xip, as in deno.json (tests/package checks they agree).
 *
 * @module
 */

/** The version of this xip package, e.g. "0.2.0". */
export const VERSION = "0.2.0";
