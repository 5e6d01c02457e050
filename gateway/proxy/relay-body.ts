import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** Why a relayed body did not complete. */
export type RelayFailure = { readonly by: 'upstream'; readonly error: Error } | { readonly by: 'client' };

const CLIENT_LEFT: RelayFailure = Object.freeze({ by: 'client' });

/** The relay a body stream or a response belongs to, for the shared listeners below. */
const kRelay = Symbol('acgs.relay');
type Tagged<T> = T & { [kRelay]?: BodyRelay };

/**
 * One response being relayed, and what to do when it ends: the caller subclasses it with the state its
 * `relayEnded` needs, so a relay is one object per response (no closures, no separate state object).
 */
export abstract class BodyRelay {
  /** Set before anything that could fire another event, so the end is reported once. */
  settled = false;

  constructor(
    readonly body: Readable,
    readonly res: ServerResponse,
  ) {}

  /** Called exactly once: null when the body was delivered completely. */
  abstract relayEnded(failure: RelayFailure | null): void;
}

function noop(): void {}

// Shared by every relay: `this` is the stream the event fired on, tagged with its relay.
function onBodyError(this: Tagged<Readable>, error: Error): void {
  const relay = this[kRelay];
  if (relay === undefined || relay.settled) return;
  relay.settled = true;
  // Headers are already sent: closing the connection is the only honest signal left.
  relay.res.destroy(error);
  relay.relayEnded({ by: 'upstream', error });
}

function onResponseClose(this: Tagged<ServerResponse>): void {
  const relay = this[kRelay];
  this[kRelay] = undefined;
  if (relay === undefined || relay.settled) return;
  relay.settled = true; // before destroy(): the body's error event must not count as the upstream's
  if (this.writableFinished) {
    relay.relayEnded(null);
    return;
  }
  relay.body.destroy();
  relay.relayEnded(CLIENT_LEFT);
}

/**
 * `body.pipe(res)` with the clean-up `stream.pipeline()` does, without its cost: pipeline() builds an
 * AbortController per call and aborts it on every finish, which constructs a DOMException (with a stack
 * trace) per proxied response — a few per cent of the data plane's CPU in a profile. The listeners are
 * shared functions that find their relay on the stream, so a relay is one object, not closures.
 *
 * Invariant: `body` has an 'error' listener from here on, whatever happens, because destroying an undici
 * body emits an error (RequestAbortedError) and an unhandled 'error' event takes the process down.
 */
export function relayBody(relay: BodyRelay): void {
  const { body, res } = relay;
  if (res.destroyed) {
    // The client left while the upstream was answering: 'close' has fired already, so free the
    // upstream connection now instead of waiting for the body timeout.
    relay.settled = true;
    body.on('error', noop);
    body.destroy();
    relay.relayEnded(CLIENT_LEFT);
    return;
  }
  (body as Tagged<Readable>)[kRelay] = relay;
  (res as Tagged<ServerResponse>)[kRelay] = relay;
  body.on('error', onBodyError);
  res.once('close', onResponseClose);
  body.pipe(res);
}
