// The progress view: a live, redrawn line on a terminal; plain timestamped lines every few seconds
// otherwise, so a CI log stays readable.

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  #lastPlain = 0;
  #live = false;

  constructor(out: ProgressSink, plainEveryMs = 5000) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#plainEveryMs = plainEveryMs;
  }

  get tty(): boolean {
    return this.#tty;
  }

  /** A finished step: always its own line. */
  line(text: string): void {
    this.#endLive();
    this.#out.write(`${text}\n`);
  }

  /** A running measurement: redrawn in place on a TTY, printed every few seconds otherwise. */
  live(text: string, nowMs = Date.now()): void {
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${text}`);
      this.#live = true;
      return;
    }
    if (nowMs - this.#lastPlain < this.#plainEveryMs) return;
    this.#lastPlain = nowMs;
    this.#out.write(`${text}\n`);
  }

  #endLive(): void {
    if (this.#live) this.#out.write('\r\x1b[2K');
    this.#live = false;
  }

  done(): void {
    this.#endLive();
  }
}
