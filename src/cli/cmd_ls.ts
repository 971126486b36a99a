/**
 * `xip ls IMAGE [PATH]`: list a directory of an image, or one file, like
 * `ls -l` (mode, links, size, name; a symlink shows `name -> target`; a
 * file that owns poisoned blocks is marked, as xfs_scrub reports media
 * errors by file).
 *
 * @module
 */

import { EUCLEAN } from "../abi/errno.ts";
import { type Ino } from "../abi/types.ts";
import { type DirEntry, dirIterate } from "../fs/xipfs/xipfs_dir.ts";
import { symlinkRead } from "../fs/xipfs/xipfs_file.ts";
import {
  inodeGet,
  inodeGetSize,
  inodeInUse,
  inoValid,
  isDirMode,
  isLnkMode,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type XipVol,
} from "../fs/xipfs/xipfs_format.ts";
import { namei } from "../fs/xipfs/xipfs_namei.ts";
import { poisonedFiles } from "../fs/xipfs/xipfs_poison.ts";
import { type CommandSpec, positionalArgs } from "./_command.ts";
import { CliError, errnoMessage, loadVolume, printLine } from "./_common.ts";

/** "drwxr-xr-x" for a mode, with s/S and t/T as ls prints them. */
export function modeString(mode: number): string {
  const type = (mode & S_IFMT) === S_IFDIR
    ? "d"
    : (mode & S_IFMT) === S_IFLNK
    ? "l"
    : (mode & S_IFMT) === S_IFREG
    ? "-"
    : "?";
  const bit = (m: number, c: string) => (mode & m ? c : "-");
  const special = (x: number, s: number, lower: string, upper: string) =>
    mode & s ? (mode & x ? lower : upper) : bit(x, "x");
  return type +
    bit(0o400, "r") + bit(0o200, "w") + special(0o100, 0o4000, "s", "S") +
    bit(0o040, "r") + bit(0o020, "w") + special(0o010, 0o2000, "s", "S") +
    bit(0o004, "r") + bit(0o002, "w") + special(0o001, 0o1000, "t", "T");
}

/** One `ls -l` row before padding. */
interface Row {
  mode: string;
  links: string;
  size: string;
  name: string;
}

/** The poisoned-block count of each file that has some, by inode (empty for a clean image). */
function poisonCounts(vol: XipVol): Map<number, number> {
  return new Map(poisonedFiles(vol).map((f) => [f.ino as number, f.blocks.length]));
}

function row(vol: XipVol, ino: Ino, name: string, poison: Map<number, number>): Row {
  if (!inoValid(vol.sb, ino) || !inodeInUse(vol, ino)) {
    throw new CliError(`${name}: ${errnoMessage(-EUCLEAN)}`, 1);
  }
  const mode = inodeGet(vol, ino, "mode");
  let shown = name;
  if (isLnkMode(mode)) {
    const t = symlinkRead(vol, ino);
    shown += typeof t === "number" ? " -> ?" : ` -> ${t}`;
  }
  const bad = poison.get(ino);
  if (bad !== undefined) shown += `  [hwpoison: ${bad} block${bad === 1 ? "" : "s"}]`;
  return {
    mode: modeString(mode),
    links: String(inodeGet(vol, ino, "links")),
    size: String(inodeGetSize(vol, ino)),
    name: shown,
  };
}

/** Format rows with right-aligned links and sizes, as ls -l does. */
export function formatRows(rows: Row[]): string[] {
  const lw = Math.max(0, ...rows.map((r) => r.links.length));
  const sw = Math.max(0, ...rows.map((r) => r.size.length));
  return rows.map((r) => `${r.mode} ${r.links.padStart(lw)} ${r.size.padStart(sw)} ${r.name}`);
}

/**
 * The `ls -l` lines for `path` in `vol`.
 *
 * @throws CliError (status 1) when the path does not resolve or the image is corrupt
 */
export function listPath(vol: XipVol, path: string): string[] {
  const ino = namei(vol, path, path.endsWith("/"));
  if (ino < 0) throw new CliError(`${path}: ${errnoMessage(ino)}`, 1);
  const poison = poisonCounts(vol);
  if (!isDirMode(inodeGet(vol, ino, "mode"))) return formatRows([row(vol, ino, path, poison)]);
  const entries: DirEntry[] = [];
  const rc = dirIterate(vol, ino, (e) => {
    if (e.name !== "." && e.name !== "..") entries.push(e);
  });
  if (rc < 0) throw new CliError(`${path}: ${errnoMessage(rc)}`, 1);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return formatRows(entries.map((e) => row(vol, e.ino, e.name, poison)));
}

/** `xip ls`. */
export const LS: CommandSpec = {
  name: "ls",
  usage: "IMAGE [PATH]",
  summary: "list a directory of an image like ls -l",
  about: `List directory PATH of the xipfs image IMAGE (default /) like ls -l: mode,
link count, size in bytes and name; a symlink shows "name -> target". When
PATH names a file or a symlink, list that one entry (add a trailing "/" to
list the directory a symlink points to). "." and ".." are not listed. A
file with poisoned blocks (memory failure, xip run --poison) ends with
"[hwpoison: N blocks]"; its poisoned bytes read as EIO until rewritten.`,
  options: [{
    name: "long",
    short: "l",
    help: "long listing (the only format; accepted as ls takes it)",
  }],
  exit: `0 listed, 1 the image is unreadable or corrupt (bad magic,
version or checksum, truncated) or PATH does not resolve, 2 bad usage.`,
  async run(p) {
    const [image, path = "/"] = positionalArgs(p, 1, 2, ["IMAGE", "PATH"]) as [string, string?];
    const vol = loadVolume(image, 1);
    for (const line of listPath(vol, path)) await printLine(line);
    return 0;
  },
};
