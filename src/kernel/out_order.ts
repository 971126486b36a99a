/**
 * Putting the Workers' messages back in the order their events happened.
 *
 * Each Worker posts its console output and its exit to the Machine over
 * its own port, and the main thread receives the ports' messages in no
 * particular order relative to each other. Within a Worker the order is
 * kept, but across Workers it is not: a child that writes a line and
 * exits, and a parent that then returns from wait and writes its own
 * line, may be delivered parent first. On Linux both writes land in one
 * file in the order they were made.
 *
 * So every such event takes a ticket from one machine-wide counter at the
 * moment it happens (PROCS_HDR.outSeq, Atomics.add), and the Machine
 * delivers events in ticket order. A ticket whose message never arrives
 * (its Worker was terminated between taking it and posting) would stall
 * the rest; after GAP_MS the sequencer gives up on it and goes on.
 *
 * @module
 */

/** How long a missing ticket may hold back later ones, in ms. */
export const GAP_MS = 200;

/** Delivers callbacks in ticket order. Main thread. */
export class OutputOrder {
  #next = 0;
  readonly #held = new Map<number, () => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Run `deliver` once every event with a smaller ticket has been delivered. */
  put(ticket: number, deliver: () => void): void {
    if (ticket < this.#next) {
      deliver(); // a ticket given up on earlier: late, but never lost
      return;
    }
    this.#held.set(ticket, deliver);
    this.#drain();
  }

  #drain(): void {
    for (let d = this.#held.get(this.#next); d !== undefined; d = this.#held.get(this.#next)) {
      this.#held.delete(this.#next);
      this.#next++;
      d();
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held.size > 0) this.#timer = setTimeout(() => this.#skip(), GAP_MS);
  }

  /** The next ticket did not come: go on from the smallest held one. */
  #skip(): void {
    this.#timer = undefined;
    if (this.#held.size === 0) return;
    this.#next = Math.min(...this.#held.keys());
    this.#drain();
  }

  /** Stop the gap timer (shutdown); deliver what is held, in order. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of [...this.#held.keys()].sort((a, b) => a - b)) {
      const d = this.#held.get(t)!;
      this.#held.delete(t);
      d();
    }
  }
}
