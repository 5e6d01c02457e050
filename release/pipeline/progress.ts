// How a run shows itself: on a terminal one live line (current step, elapsed, the step's own progress)
// redrawn in place, with finished steps printed above it; otherwise plain lines, one per event, so a CI
// log or a pipe stays readable.

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

const FRAME_MS = 250;

export class ProgressView {
  readonly #out: ProgressOutput;
  readonly #live: boolean;
  #step: string | null = null;
  #stepStarted = 0;
  #detail = '';
  #lastPlain = '';
  #timer: NodeJS.Timeout | null = null;

  constructor(out: ProgressOutput, live = out.isTTY === true) {
    this.#out = out;
    this.#live = live;
  }

  /** A line that stays (a step's verdict, a note). */
  line(text: string): void {
    if (this.#live) this.#out.write(`\r\x1b[2K${text}\n`);
    else this.#out.write(`${text}\n`);
    if (this.#live) this.#draw();
  }

  stepStart(step: string, index: number, total: number): void {
    this.#step = `[${index}/${total}] ${step}`;
    this.#stepStarted = Date.now();
    this.#detail = '';
    this.#lastPlain = '';
    if (this.#live) {
      this.#timer ??= setInterval(() => this.#draw(), FRAME_MS);
      this.#timer.unref();
      this.#draw();
    } else {
      this.#out.write(`${this.#step}: started\n`);
    }
  }

  /** The step's own progress. Plain output prints it only when it changed, so a poll loop is no flood. */
  detail(text: string): void {
    this.#detail = text;
    if (this.#live) {
      this.#draw();
      return;
    }
    if (text !== this.#lastPlain) {
      this.#lastPlain = text;
      this.#out.write(`  ${text}\n`);
    }
  }

  stepEnd(): void {
    this.#step = null;
    if (this.#live) this.#out.write('\r\x1b[2K');
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#live) this.#out.write('\r\x1b[2K');
  }

  #draw(): void {
    if (!this.#step) return;
    const elapsed = ((Date.now() - this.#stepStarted) / 1000).toFixed(0);
    const text = `${this.#step}  ${elapsed}s  ${this.#detail}`;
    // A pseudo-terminal may report 0 columns; never cut the line to nothing.
    const columns = (this.#out as { columns?: number }).columns ?? 0;
    const width = columns >= 40 ? columns : 120;
    this.#out.write(`\r\x1b[2K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
  }
}
