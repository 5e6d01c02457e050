// Verification keys in the form the verifier uses: key material ready for jose plus the algorithms that
// key may verify. Built once from configuration (static keys) or per JWKS fetch.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { StaticKeyConfig } from './config.js';

export interface VerificationKey {
  /** Absent for a static key configured without one: such a key is tried for any token. */
  readonly kid: string | undefined;
  /** HMAC secret bytes, or a public KeyObject (jose converts and caches it per algorithm). */
  readonly key: KeyObject | Uint8Array;
  /** The explicit allow-list: a token whose `alg` is not here is never verified with this key. */
  readonly algorithms: readonly string[];
}

const encoder = new TextEncoder();

/** Static keys from (already validated) configuration. The secret is used as its UTF-8 bytes. */
export function staticVerificationKeys(keys: readonly StaticKeyConfig[]): VerificationKey[] {
  return keys.map((config) => ({
    kid: config.kid,
    key: config.secret !== undefined ? encoder.encode(config.secret) : createPublicKey(config.publicKey!),
    algorithms: Object.freeze([...new Set(config.algorithms)]),
  }));
}
