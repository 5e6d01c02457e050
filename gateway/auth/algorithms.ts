// The JWS algorithms the gateway verifies (RFC 7518 §3, RFC 8037 for EdDSA, RFC 9864 for Ed25519) and
// which of them a given key may be used with. Binding each key to the algorithms of its own family is what
// closes `alg: none` and the HS256-signed-with-the-RSA-public-key confusion.
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const ALGORITHMS = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS] as const;

export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type Algorithm = (typeof ALGORITHMS)[number];

/** RFC 7518 §3.2: an HMAC key MUST be at least as long as the hash output. */
export const HMAC_MIN_KEY_BYTES: Readonly<Record<HmacAlgorithm, number>> = {
  HS256: 32,
  HS384: 48,
  HS512: 64,
};

/** RFC 7518 §3.3: RSA keys of 2048 bits or more (jose refuses smaller ones at verification time anyway). */
export const RSA_MIN_BITS = 2048;

const RSA_PKCS1: readonly AsymmetricAlgorithm[] = ['RS256', 'RS384', 'RS512'];
const RSA_PSS: readonly AsymmetricAlgorithm[] = ['PS256', 'PS384', 'PS512'];
const CURVE_ALGORITHM: Readonly<Record<string, AsymmetricAlgorithm>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/**
 * The algorithms a public key can verify, from its type (an RSA key: RS* and PS*; an EC key: the one ES*
 * of its curve; Ed25519: EdDSA and Ed25519). Throws for key types the gateway does not support.
 */
export function algorithmsForPublicKey(key: KeyObject): readonly AsymmetricAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      assertRsaSize(key);
      return [...RSA_PKCS1, ...RSA_PSS];
    case 'rsa-pss':
      assertRsaSize(key);
      return RSA_PSS;
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const alg = CURVE_ALGORITHM[curve];
      if (alg === undefined) throw new Error(`unsupported EC curve ${curve || '(unknown)'}`);
      return [alg];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? key.type}`);
  }
}

/** The HMAC algorithms a secret of this many bytes is long enough for (RFC 7518 §3.2). */
export function hmacAlgorithmsForSecret(byteLength: number): readonly HmacAlgorithm[] {
  return HMAC_ALGORITHMS.filter((alg) => byteLength >= HMAC_MIN_KEY_BYTES[alg]);
}

export function isHmacAlgorithm(alg: string): alg is HmacAlgorithm {
  return (HMAC_ALGORITHMS as readonly string[]).includes(alg);
}

function assertRsaSize(key: KeyObject): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_MIN_BITS) throw new Error(`RSA key of ${bits} bits is too small (minimum ${RSA_MIN_BITS})`);
}

/** The algorithms a PEM public key allows, or why it cannot be used. */
export function publicKeyAlgorithms(pem: string): readonly string[] | string {
  // createPublicKey would happily derive the public half of a private key; refuse to hold one at all.
  if (pem.includes('PRIVATE KEY')) return 'is a private key: configure the public key only';
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'must be a PEM public key (SPKI or PKCS#1)';
  }
  try {
    return algorithmsForPublicKey(key);
  } catch (err) {
    return (err as Error).message;
  }
}
