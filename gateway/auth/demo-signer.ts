// The embedded default's signing key: a fresh ES256 (P-256) key pair per start, so the start banner can
// print a ready token without any secret living in the repository. The private key never leaves memory.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import type { AuthConfigInput, StaticKeyConfig } from './config.js';

export interface DemoSigner {
  readonly kid: string;
  /** The verification key to configure (public PEM, ES256 only, this kid). */
  readonly key: StaticKeyConfig;
  /** An `auth:` fragment holding just that key, to merge into the embedded configuration. */
  readonly authConfig: AuthConfigInput;
  /** A signed token with `iat` now and `exp` now + ttlSec; `claims` may set sub, roles, iss, aud, ... */
  sign(claims: JWTPayload, ttlSec: number): Promise<string>;
}

export function createDemoSigner(): DemoSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `demo-${randomBytes(6).toString('hex')}`;
  const key: StaticKeyConfig = {
    kid,
    algorithms: ['ES256'],
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  return {
    kid,
    key,
    authConfig: { keys: [key] },
    sign(claims, ttlSec) {
      const nowSec = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuedAt(nowSec)
        .setExpirationTime(nowSec + ttlSec)
        .sign(privateKey);
    },
  };
}
