/**
 * Every layout record that holds src/sync locks, with the kind of each
 * lock field (and the length of an array field the same check guards):
 * what lock_words.ts's check walks (computeLayout runs it). A record that
 * gains a lock field is added here.
 *
 * @module
 */

import { CONSOLE, CONSOLE_WORDS } from "./console.ts";
import { DAXPMD_LOCK_WORDS } from "./dax.ts";
import { FDT, FDT_WORDS, FILES } from "./files.ts";
import { HWPOISON } from "./hwpoison.ts";
import { ICACHE, ISLOT, ISLOT_WORDS } from "./icache.ts";
import { SHMHDR, SHMHDR_WORDS, SOCKHDR, SOCKHDR_WORDS, SVHDR, SVHDR_WORDS } from "./ipc.ts";
import type { LockedRecord } from "./lock_words.ts";
import { FLOCKS } from "./locks.ts";
import { MM, MM_WORDS } from "./mm.ts";
import { PCACHE } from "./pcache.ts";
import { PIPE, PIPE_PAGES, PIPE_WORDS } from "./pipe.ts";
import { FUTEX_HASH, PROCS_HDR, PROCS_HDR_WORDS } from "./proc.ts";
import { SB_INFO } from "./sb_info.ts";
import { SIGHAND, SIGHAND_WORDS } from "./signal.ts";

/** The records with lock fields, each lock field with its kind. */
export const LOCKED_RECORDS: readonly LockedRecord[] = [
  { name: "MM", fields: MM, words: MM_WORDS, locks: { mmapLock: "rwsem", pageTableLock: "mutex" } },
  { name: "ICACHE", fields: ICACHE, locks: { lock: "mutex" } },
  {
    name: "ISLOT",
    fields: ISLOT,
    words: ISLOT_WORDS,
    locks: { iRwsem: "rwsem", invalidateLock: "rwsem", bmapLock: "mutex", iMmapLock: "mutex" },
  },
  { name: "PCACHE", fields: PCACHE, locks: { lock: "mutex" } },
  { name: "SB_INFO", fields: SB_INFO, locks: { renameLock: "mutex", syncLock: "mutex" } },
  { name: "FILES", fields: FILES, locks: { lock: "mutex", procfsRwsem: "rwsem" } },
  { name: "FDT", fields: FDT, words: FDT_WORDS, locks: { lock: "mutex" } },
  {
    name: "PROCS_HDR",
    fields: PROCS_HDR,
    words: PROCS_HDR_WORDS,
    locks: { tasklistLock: "mutex" },
    // The futex hash: FUTEX_HASH bucket mutexes in a row.
    lockRows: { futexHash: ["mutex", FUTEX_HASH] },
  },
  { name: "DAXPMD", fields: { lock: 0 }, words: DAXPMD_LOCK_WORDS, locks: { lock: "rwsem" } },
  { name: "FLOCKS", fields: FLOCKS, locks: { lock: "mutex" } },
  { name: "HWPOISON", fields: HWPOISON, locks: { lock: "mutex" } },
  { name: "SIGHAND", fields: SIGHAND, words: SIGHAND_WORDS, locks: { lock: "mutex" } },
  {
    name: "PIPE",
    fields: PIPE,
    words: PIPE_WORDS,
    locks: { lock: "mutex" },
    arrays: { pages: PIPE_PAGES },
  },
  { name: "SHMHDR", fields: SHMHDR, words: SHMHDR_WORDS, locks: { lock: "mutex" } },
  { name: "SVHDR", fields: SVHDR, words: SVHDR_WORDS, locks: { lock: "mutex" } },
  { name: "SOCKHDR", fields: SOCKHDR, words: SOCKHDR_WORDS, locks: { lock: "mutex" } },
  {
    name: "CONSOLE",
    fields: CONSOLE,
    words: CONSOLE_WORDS,
    locks: { inLock: "mutex", outLock: "mutex" },
  },
];
