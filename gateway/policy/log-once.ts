// Logs each distinct message once: a broken policy fails every request, and one log line per request
// would bury the cause (and cost more than the evaluation). Bounded so odd messages cannot grow it.

export interface MinimalLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export class DistinctErrorLog {
  readonly #seen = new Set<string>();
  readonly #max: number;
  readonly #logger: MinimalLogger;

  constructor(logger: MinimalLogger, max = 100) {
    this.#logger = logger;
    this.#max = max;
  }

  /** Logs `message` unless it was logged before; returns whether it was logged. */
  error(message: string, fields: object = {}): boolean {
    if (this.#seen.has(message) || this.#seen.size >= this.#max) return false;
    this.#seen.add(message);
    this.#logger.error(
      { ...fields, err: message },
      'policy evaluation failed (logged once per distinct error)',
    );
    return true;
  }

  /** A new bundle may fail differently: let its errors be logged again. */
  reset(): void {
    this.#seen.clear();
  }
}
