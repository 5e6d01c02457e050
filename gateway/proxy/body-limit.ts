import { Transform, type TransformCallback } from 'node:stream';

export class PayloadTooLargeError extends Error {
  readonly code = 'GW_PAYLOAD_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/**
 * Counts a chunked request body on its way through and fails the stream past the limit. Bodies with a
 * Content-Length are checked before proxying (node's parser enforces the declared length), so only
 * chunked uploads pay for this transform.
 */
export class BodyLimit extends Transform {
  #seen = 0;
  constructor(readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.limit) callback(new PayloadTooLargeError(this.limit));
    else callback(null, chunk);
  }
}
