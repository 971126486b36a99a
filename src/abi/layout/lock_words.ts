/**
 * How many words a src/sync lock takes in shared memory, and the one check
 * that every lock field of every layout record has that many words to
 * itself. src/sync's MUTEX_WORDS and RWSEM_WORDS are these constants (the
 * layouts sit below src/sync, so the numbers live here and sync re-exports
 * them); layout/mod.ts lists the records with lock fields (LOCKED_RECORDS)
 * and computeLayout runs the check once per thread, so a lock that grows,
 * or a field placed inside one, stops the machine from booting instead of
 * corrupting a neighbour word. Linux's counterpart is the BUILD_BUG_ON on
 * a structure's size; here the layouts are plain offsets, so it runs once
 * at the first layout computation.
 *
 * @module
 */

/** Words a src/sync mutex occupies (struct mutex: owner|waiters, a spare word). */
export const MUTEX_WORDS = 2;
/** Words a src/sync rwsem occupies (struct rw_semaphore: count, and room to grow). */
export const RWSEM_WORDS = 4;

/** The kinds of lock a layout field holds. */
export type LockKind = "mutex" | "rwsem";

/** Words of each kind of lock. */
export type LockSizes = Readonly<Record<LockKind, number>>;

/** The sizes src/sync uses. */
export const LOCK_SIZES: LockSizes = { mutex: MUTEX_WORDS, rwsem: RWSEM_WORDS };

/** A layout record with lock fields, as the check sees it. */
export interface LockedRecord {
  /** The record's name in layout/ (MM, ISLOT, ...), for the message. */
  readonly name: string;
  /** Every field's word offset (the record's `as const` object). */
  readonly fields: Readonly<Record<string, number>>;
  /** Words of one record; absent for a header whose last field starts what follows it. */
  readonly words?: number;
  /** The lock fields, and the kind of each. */
  readonly locks: Readonly<Record<string, LockKind>>;
  /** Fields that hold a row of locks: the kind and how many. */
  readonly lockRows?: Readonly<Record<string, readonly [LockKind, number]>>;
  /** Array fields, and their length in words, checked the same way. */
  readonly arrays?: Readonly<Record<string, number>>;
}

/**
 * The lock (and array) fields that do not have their words to themselves:
 * one running past the record's end, or another field starting inside it.
 *
 * @returns one line a problem (empty when every lock fits)
 */
export function lockWordProblems(
  records: readonly LockedRecord[],
  sizes: LockSizes = LOCK_SIZES,
): string[] {
  const out: string[] = [];
  for (const r of records) {
    const spans: [string, string, number][] = [
      ...Object.entries(r.locks).map((
        [f, kind],
      ): [string, string, number] => [f, kind, sizes[kind]]),
      ...Object.entries(r.lockRows ?? {}).map((
        [f, [kind, n]],
      ): [string, string, number] => [f, `row of ${n} ${kind} locks`, n * sizes[kind]]),
      ...Object.entries(r.arrays ?? {}).map(([f, n]): [string, string, number] => [f, "array", n]),
    ];
    for (const [field, what, words] of spans) {
      const at = r.fields[field];
      if (at === undefined) {
        out.push(`${r.name}.${field}: no such field`);
        continue;
      }
      const end = at + words;
      if (r.words !== undefined && end > r.words) {
        out.push(`${r.name}.${field}: its ${what} of ${words} words runs past ${r.words}`);
      }
      for (const [other, o] of Object.entries(r.fields)) {
        if (other !== field && o >= at && o < end) {
          out.push(`${r.name}.${field}: ${other} (word ${o}) lies inside its ${what}`);
        }
      }
    }
  }
  return out;
}
