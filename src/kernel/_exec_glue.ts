/**
 * The seam between the process layer and exec (src/kernel/exec.ts): builds
 * the ExecEnv over the file glue and calls execve.
 *
 * Until the VFS is merged the file glue cannot map files (ExecFile.mmap
 * answers -ENODEV), so every exec is done in textMode "copy": segments are
 * copied into anonymous memory. Once the VFS provides file mappings, the
 * requested textMode passes through unchanged (see `canMapFiles`).
 *
 * @module
 */

import { type ExecError, type ExecResult, execve } from "./exec.ts";
import { canMapFiles, type FsAttach, openExec } from "./_vfs_glue.ts";

/** How exec places text: mapped from the file (shared, DAX) or copied. */
export type TextMode = "map" | "copy";

/**
 * Load `path` into the fresh mm `mm`. Entry: the calling task runs `mm` in
 * kernel mode; no lock held. On failure the mm may hold partial mappings;
 * the caller tears it down (exitMmap).
 *
 * @returns exec's result, or its errno and one-line reason
 */
export function execProgram(
  fs: FsAttach,
  mm: number,
  path: string,
  argv: string[],
  envp: string[],
  textMode: TextMode,
): ExecResult | ExecError {
  const mode = textMode === "map" && !canMapFiles(fs) ? "copy" : textMode;
  return execve({ mem: fs.mem, mm, openExec: (p) => openExec(fs, p) }, path, argv, envp, {
    textMode: mode,
  });
}
