import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A pino logger whose JSON lines are kept, so tests can assert what was (and was not) logged. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
