// Reads a whole (small, declared-length) request body for inspection. Every way it can end is settled
// exactly once: the body arrived, the client left, the socket failed, or the body trickled in past the
// deadline. Nothing here waits without a bound: the timer is this stage's, and the server's
// requestTimeout destroys the socket of a client that is slower still.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, GatewayError } from '../../core/errors.js';
import type { RequestContext } from '../../core/types.js';

export function readBody(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse | undefined,
  declared: number,
  timeoutMs: number,
): Promise<Buffer> {
  // The client waits for our go-ahead before it sends the body (RFC 9110 §10.1.1).
  if (ctx.expectContinue && res !== undefined && !res.headersSent) res.writeContinue();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err === null) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      // node's parser never delivers more than Content-Length; the check keeps memory bounded regardless.
      if (received > declared) {
        if (res) res.shouldKeepAlive = false;
        finish(new GatewayError(Errors.PAYLOAD_TOO_LARGE));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = () => gone();
    const onClose = () => {
      if (!req.complete) gone();
    };
    // The client left mid-body: nobody is waiting for an answer (the data plane counts it as 499).
    const gone = () => {
      ctx.clientGone = true;
      finish(new GatewayError(Errors.BAD_REQUEST, 'The client closed the connection during the body'));
    };
    const timer = setTimeout(() => {
      // The rest of the body is unread: the connection cannot carry another request.
      if (res) res.shouldKeepAlive = false;
      req.pause();
      finish(new GatewayError(Errors.REQUEST_TIMEOUT));
    }, timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    if (req.complete && req.readableEnded) finish(null);
  });
}
