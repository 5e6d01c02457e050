// Why a bundle was refused, with the HTTP status its uploader gets and a small, fixed metrics label.

/** 400: not a gzip/tar archive. 422: a well-formed archive we will not run. 502: could not be fetched. */
export type BundleFailureKind =
  | 'malformed'
  | 'missing_file'
  | 'invalid_file'
  | 'entrypoint'
  | 'signature'
  | 'wasm'
  | 'fetch';

export class BundleError extends Error {
  override name = 'BundleError';
  readonly status: 400 | 422 | 502;
  readonly kind: BundleFailureKind;

  constructor(kind: BundleFailureKind, message: string) {
    super(message);
    this.kind = kind;
    this.status = kind === 'malformed' ? 400 : kind === 'fetch' ? 502 : 422;
  }
}
