import type { Socket } from 'node:net';
import { type ErrorSpec, Errors, errorBody } from '../core/errors.js';
import { requestIdFor } from '../identity/request-id.js';

/**
 * node's HTTP parser rejects a request before any handler runs (headers too large, malformed request
 * line). Answer those in the same JSON shape instead of node's bare 400/431, then close the connection.
 */
export function answerClientError(
  err: NodeJS.ErrnoException & { bytesParsed?: number },
  socket: Socket,
): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  let spec: ErrorSpec = Errors.BAD_REQUEST;
  if (err.code === 'HPE_HEADER_OVERFLOW') spec = Errors.HEADERS_TOO_LARGE;
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    spec = {
      ...Errors.BAD_REQUEST,
      status: 408,
      code: 'request_timeout',
      message: 'The request was not received in time',
    };
  else if (err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const body = errorBody(spec.code, spec.message, requestIdFor(undefined));
  socket.end(
    `HTTP/1.1 ${spec.status} ${spec.code}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
