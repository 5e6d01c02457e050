/**
 * The upstream timeouts of every exchange in flight (the headers timeout, the body's idle timeout), checked
 * by one sweep timer instead of undici's timers.
 *
 * undici arms a timer per request for the headers and, when the body timeout differs, another for the
 * body, and keeps each cleared "fast timer" in its list until its next tick, up to a second later: under
 * load nearly every one outlives two scavenges and is promoted, ~16 % of what the full gateway's young
 * generation promoted per request (a sampling heap profile of scavenge survivors at c=200). Here a deadline
 * is a number on the exchange, and the exchanges with one armed are a linked list through themselves: no
 * allocation per request, and the sweep walks only what is in flight.
 *
 * A deadline fires between its timeout and one resolution after it (never before); undici's fast timers
 * fire up to a second late.
 */
export interface Deadline {
  /** performance.now() in ms when it expires; 0 when not armed (and not in the list). */
  deadlineAt: number;
  deadlineNext: Deadline | null;
  deadlinePrev: Deadline | null;
  /** Called once by the sweep, already disarmed. It must not throw. */
  onDeadline(): void;
}

/** The sweep runs at a quarter of the shortest timeout it serves, between these bounds. */
const MIN_RESOLUTION_MS = 10;
const MAX_RESOLUTION_MS = 100;

export function resolutionFor(shortestTimeoutMs: number): number {
  return Math.min(MAX_RESOLUTION_MS, Math.max(MIN_RESOLUTION_MS, Math.floor(shortestTimeoutMs / 4)));
}

export class DeadlineSweep {
  #head: Deadline | null = null;
  #size = 0;
  /** The expired ones of one sweep, gathered before any fires; reused, so a sweep allocates nothing. */
  readonly #due: Deadline[] = [];
  #timer: NodeJS.Timeout | null;

  constructor(readonly resolutionMs: number) {
    this.#timer = setInterval(() => this.sweep(performance.now()), resolutionMs);
    // Nothing in flight means nothing to wait for: the sweep never keeps the process up.
    this.#timer.unref();
  }

  /** Arms (or re-arms, moving the expiry) a deadline `timeoutMs` from now. */
  arm(d: Deadline, timeoutMs: number): void {
    if (d.deadlineAt === 0) {
      d.deadlinePrev = null;
      d.deadlineNext = this.#head;
      if (this.#head !== null) this.#head.deadlinePrev = d;
      this.#head = d;
      this.#size++;
    }
    d.deadlineAt = performance.now() + timeoutMs;
  }

  /** Disarms a deadline; nothing when it is not armed. */
  disarm(d: Deadline): void {
    if (d.deadlineAt === 0) return;
    d.deadlineAt = 0;
    const { deadlinePrev: prev, deadlineNext: next } = d;
    if (prev === null) this.#head = next;
    else prev.deadlineNext = next;
    if (next !== null) next.deadlinePrev = prev;
    d.deadlinePrev = null;
    d.deadlineNext = null;
    this.#size--;
  }

  /** Fires every deadline expired at `now`. Public for the tests; the timer calls it. */
  sweep(now: number): void {
    // Gathered first, fired after: a callback may disarm or re-arm others, which unlinks them, and a walk
    // that fired as it went could lose its place in the list and leave expired ones for the next sweep.
    const due = this.#due;
    for (let d = this.#head; d !== null; d = d.deadlineNext) if (d.deadlineAt <= now) due.push(d);
    try {
      for (let i = 0; i < due.length; i++) {
        const d = due[i]!;
        // Disarmed or moved by an earlier callback of this sweep: not (or not yet) due any more.
        if (d.deadlineAt === 0 || d.deadlineAt > now) continue;
        this.disarm(d);
        d.onDeadline();
      }
    } finally {
      // A callback that throws must not leave its sweep's entries held for the next one.
      due.length = 0;
    }
  }

  /** How many deadlines are armed. */
  get size(): number {
    return this.#size;
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
