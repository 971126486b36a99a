/**
 * Region `fring` of the kernel tables (layout/mod.ts): the fault ring and the
 * per-task counters that the live view (src/ui) reads while guests run.
 *
 * ```
 *  +--------+-------------------------------------+------------------------------+
 *  | header | FRING_ENTRIES fault records, a ring | one TSTAT record a task slot |
 *  +--------+-------------------------------------+------------------------------+
 *  header: [ head | dropped | (pad to 16 words) ]
 *  entry:  [ seq | n | pid | va | kind | pfn | (pad) (pad) ]
 *  tstat:  [ pid | gen | instret (i64) | faults[TSTAT_FAULT_SLOTS] | 4 counters | comm (TSTAT_COMM_BYTES) ]
 * ```
 *
 * The ring. Every Worker that resolves a fault writes one entry, lock-free
 * (src/mm/fault_ring.ts): it takes ticket n = head++ and fills entry
 * n % FRING_ENTRIES under that entry's own sequence word, a seqcount
 * (Linux's seqcount_t): odd while a writer fills it, even when stable. A
 * writer that finds the word odd (another writer lapped the ring onto the
 * same entry) drops its record and counts it in `dropped`. A reader copies
 * the fields between two reads of the word and keeps them only when both
 * reads are the same even value and the entry's `n` is the ticket it wants,
 * so it never shows a record made of two faults.
 *
 * The per-task record. Only the task itself writes its record, so its
 * counters need no atomic read-modify-write; readers use Atomics loads. The
 * record belongs to one process at a time: `pid` names it, and a task that
 * finds another pid there (the slot was reused) clears the record first,
 * bumping `gen` to odd while it does (a seqcount again), so that a reader
 * never pairs one process's pid with another's counters.
 *
 * @module
 */

/** Fault kinds, as counted by machine.stats() (VMSTAT.fault*) and in the ring's `kind`. */
export const FAULT_KIND = {
  dax: 0,
  fileMinor: 1,
  fileMajor: 2,
  cow: 3,
  anon: 4,
  zero: 5,
  /** A DAX megapage: 1024 device frames mapped by one fault (src/fs/dax_pmd.ts). */
  daxPmd: 6,
} as const;
/** A fault kind's number. */
export type FaultKind = (typeof FAULT_KIND)[keyof typeof FAULT_KIND];

export const FRING = {
  /** Tickets handed out (the next ticket); wraps at 2^32 like any int32 counter. */
  head: 0,
  /** Records dropped because their entry was still being written by a lapped writer. */
  dropped: 1,
  /** First entry. */
  entries: 16,
} as const;

/** Entries in the ring (a power of two). */
export const FRING_ENTRIES = 1024;

export const FRING_ENTRY = {
  /** Seqcount: odd while a writer fills the entry. */
  seq: 0,
  /** The ticket of the record held. */
  n: 1,
  /** Guest pid of the faulting process (0: no process, e.g. a test harness). */
  pid: 2,
  /** Faulting virtual address, page aligned. */
  va: 3,
  /** FAULT_KIND value. */
  kind: 4,
  /** The frame the fault mapped. */
  pfn: 5,
} as const;
export const FRING_ENTRY_WORDS = 8;

export const TSTAT = {
  /** The process the record belongs to (0: none yet). */
  pid: 0,
  /** Seqcount of the record's ownership: odd while the record is being cleared for a new pid. */
  gen: 1,
  /** Instructions retired so far, as published by the hart's poll: an i64 (BigInt64 index / 2). */
  instret: 2,
  /** Faults by FAULT_KIND, one word each. */
  faults: 4,
  /**
   * What pulls the task off its hart, for telling a thread that computes
   * from one that waits on its siblings (bench/process_bench.ts, thread
   * scaling): entries to the kernel (system calls, page faults, traps,
   * signal polls), sleeps on a contended kernel lock (mutex, rwsem, bit
   * lock, seqcount retry), other kernel sleeps (futex, pipe, wait, TLB
   * shootdown acks, completions), and TLB flushes it made for a shootdown.
   * Each is written by the task itself (src/kernel/proc_run.ts tstatSched).
   */
  kentries: 12,
  lockSleeps: 13,
  waitSleeps: 14,
  tlbFlushes: 15,
  /** The program (exec'd path), UTF-8, NUL-padded: Linux's task->comm, longer. */
  comm: 16,
} as const;
/** Room for fault kinds in a TSTAT record (FAULT_KIND plus kinds added later). */
export const TSTAT_FAULT_SLOTS = TSTAT.kentries - TSTAT.faults;
export const TSTAT_COMM_BYTES = 64;
export const TSTAT_WORDS = TSTAT.comm + TSTAT_COMM_BYTES / 4;

/** First TSTAT record, relative to the region base. */
export const FRING_TSTAT = FRING.entries + FRING_ENTRIES * FRING_ENTRY_WORDS;

/** Words of the fring region for `maxTasks` task slots. */
export const fringWords = (cfg: { readonly maxTasks: number }): number =>
  FRING_TSTAT + cfg.maxTasks * TSTAT_WORDS;

/** Word index of ring entry `n % FRING_ENTRIES` in a fring region at `base`. */
export const fringEntry = (base: number, n: number): number =>
  base + FRING.entries + (n & (FRING_ENTRIES - 1)) * FRING_ENTRY_WORDS;

/** Word index of task `tid`'s TSTAT record in a fring region at `base`. */
export const tstatBase = (base: number, tid: number): number =>
  base + FRING_TSTAT + tid * TSTAT_WORDS;
