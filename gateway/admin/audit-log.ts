import { createReadStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

export interface AuditEntry {
  readonly at: string;
  /** Admin token name (or admin JWT subject) that made the change. */
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly requestId?: string;
  readonly reason?: string;
}

export type AuditInput = Omit<AuditEntry, 'at'>;

/**
 * Every operator change, appended to a JSON-lines file (one object per line, so it survives restarts and
 * `tail -f | jq` works) and kept in memory for `GET /admin/audit`. Writes are serialised so lines never
 * interleave.
 */
export class AuditLog {
  readonly #file: string;
  readonly #recent: AuditEntry[] = [];
  readonly #max: number;
  readonly #logger: Logger;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string, logger: Logger, maxInMemory = 10_000) {
    this.#file = file;
    this.#logger = logger;
    this.#max = maxInMemory;
  }

  /** Reads what earlier runs wrote (the newest `maxInMemory` entries); a corrupt line is skipped and logged. */
  async open(): Promise<void> {
    await mkdir(dirname(this.#file), { recursive: true });
    try {
      const lines = createInterface({ input: createReadStream(this.#file, 'utf8'), crlfDelay: Infinity });
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        if (line.trim() === '') continue;
        try {
          this.#remember(JSON.parse(line) as AuditEntry);
        } catch {
          this.#logger.warn({ file: this.#file, line: lineNo }, 'skipping an unreadable audit log line');
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  async append(input: AuditInput): Promise<AuditEntry> {
    const entry: AuditEntry = { at: new Date().toISOString(), ...input };
    this.#remember(entry);
    const line = `${JSON.stringify(entry)}\n`;
    this.#writing = this.#writing.then(() =>
      appendFile(this.#file, line).catch((err: unknown) =>
        this.#logger.error({ err, file: this.#file }, 'cannot append to the audit log'),
      ),
    );
    await this.#writing;
    this.#logger.info({ audit: entry }, `admin change: ${entry.action} ${entry.target} by ${entry.actor}`);
    return entry;
  }

  /** Newest first. */
  list(limit = 100, filter?: { target?: string; action?: string }): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = this.#recent.length - 1; i >= 0 && out.length < limit; i--) {
      const entry = this.#recent[i]!;
      if (filter?.target && entry.target !== filter.target) continue;
      if (filter?.action && !entry.action.startsWith(filter.action)) continue;
      out.push(entry);
    }
    return out;
  }

  #remember(entry: AuditEntry): void {
    this.#recent.push(entry);
    if (this.#recent.length > this.#max) this.#recent.splice(0, this.#recent.length - this.#max);
  }

  async close(): Promise<void> {
    await this.#writing;
  }
}
