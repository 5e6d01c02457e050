import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** Why a relayed body did not complete. */
export type RelayFailure = { readonly by: 'upstream'; readonly error: Error } | { readonly by: 'client' };

/** Told once per relayed body how it ended (null: completely delivered), with the state it was given. */
export interface RelayListener<S> {
  relayEnded(state: S, failure: RelayFailure | null): void;
}

const CLIENT_LEFT: RelayFailure = Object.freeze({ by: 'client' });

/** The relay a body stream or a response belongs to, for the shared listeners below. */
const kRelay = Symbol('acgs.relay');
type Tagged<T> = T & { [kRelay]?: BodyRelay<unknown> };

/** One relay in flight: the one object relayBody allocates per response (no closures). */
class BodyRelay<S> {
  settled = false;
  constructor(
    readonly body: Readable,
    readonly res: ServerResponse,
    readonly listener: RelayListener<S>,
    readonly state: S,
  ) {}

  /** Reports the end; `settled` is set by the caller before anything that could fire another event. */
  end(failure: RelayFailure | null): void {
    this.listener.relayEnded(this.state, failure);
  }
}

function noop(): void {}

// Shared by every relay: `this` is the stream the event fired on, tagged with its relay.
function onBodyError(this: Tagged<Readable>, error: Error): void {
  const relay = this[kRelay];
  if (relay === undefined || relay.settled) return;
  relay.settled = true;
  // Headers are already sent: closing the connection is the only honest signal left.
  relay.res.destroy(error);
  relay.end({ by: 'upstream', error });
}

function onResponseClose(this: Tagged<ServerResponse>): void {
  const relay = this[kRelay];
  this[kRelay] = undefined;
  if (relay === undefined || relay.settled) return;
  relay.settled = true; // before destroy(): the body's error event must not count as the upstream's
  if (this.writableFinished) {
    relay.end(null);
    return;
  }
  relay.body.destroy();
  relay.end(CLIENT_LEFT);
}

/**
 * `body.pipe(res)` with the clean-up `stream.pipeline()` does, without its cost: pipeline() builds an
 * AbortController per call and aborts it on every finish, which constructs a DOMException (with a stack
 * trace) per proxied response — a few per cent of the data plane's CPU in a profile. The listeners are
 * shared functions that find their relay on the stream, so a relay allocates one object, not closures.
 *
 * Invariant: `body` has an 'error' listener from here on, whatever happens, because destroying an undici
 * body emits an error (RequestAbortedError) and an unhandled 'error' event takes the process down.
 */
export function relayBody<S>(
  body: Readable,
  res: ServerResponse,
  listener: RelayListener<S>,
  state: S,
): void {
  if (res.destroyed) {
    // The client left while the upstream was answering: 'close' has fired already, so free the
    // upstream connection now instead of waiting for the body timeout.
    body.on('error', noop);
    body.destroy();
    listener.relayEnded(state, CLIENT_LEFT);
    return;
  }
  const relay = new BodyRelay(body, res, listener, state) as BodyRelay<unknown>;
  (body as Tagged<Readable>)[kRelay] = relay;
  (res as Tagged<ServerResponse>)[kRelay] = relay;
  body.on('error', onBodyError);
  res.once('close', onResponseClose);
  body.pipe(res);
}
