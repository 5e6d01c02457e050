import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** Why a relayed body did not complete. */
export type RelayFailure = { readonly by: 'upstream'; readonly error: Error } | { readonly by: 'client' };

function noop(): void {}

/**
 * `body.pipe(res)` with the clean-up `stream.pipeline()` does, without its cost: pipeline() builds an
 * AbortController per call and aborts it on every finish, which constructs a DOMException (with a stack
 * trace) per proxied response — a few per cent of the data plane's CPU in a profile.
 *
 * Invariant: `body` has an 'error' listener from here on, whatever happens, because destroying an undici
 * body emits an error (RequestAbortedError) and an unhandled 'error' event takes the process down.
 */
export function relayBody(
  body: Readable,
  res: ServerResponse,
  done: (failure: RelayFailure | null) => void,
): void {
  if (res.destroyed) {
    // The client left while the upstream was answering: 'close' has fired already, so free the
    // upstream connection now instead of waiting for the body timeout.
    body.on('error', noop);
    body.destroy();
    done({ by: 'client' });
    return;
  }
  let settled = false;
  body.on('error', (error: Error) => {
    if (settled) return;
    settled = true;
    // Headers are already sent: closing the connection is the only honest signal left.
    res.destroy(error);
    done({ by: 'upstream', error });
  });
  res.once('close', () => {
    if (settled) return;
    settled = true;
    if (res.writableFinished) return done(null);
    body.destroy();
    done({ by: 'client' });
  });
  body.pipe(res);
}
