// Verifies a bearer token: compact JWS only (RFC 7515 §7.1), signature by `jose` with an explicit
// algorithm allow-list per key, then the JWT claims (RFC 7519 §4.1: exp, nbf with clock tolerance; iss and
// aud when configured). Every refusal is a TokenRejectedError with one specific reason.
import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { JwksKeySet } from './jwks.js';
import type { VerificationKey } from './keys.js';
import { TokenRejectedError } from './rejection.js';

export interface TokenVerifierOptions {
  /** Static keys (configuration and environment). */
  readonly keys: readonly VerificationKey[];
  readonly jwks: JwksKeySet | null;
  readonly issuer: string | undefined;
  readonly audience: string | readonly string[] | undefined;
  readonly clockToleranceSec: number;
  readonly maxTokenLength: number;
  readonly now: () => number;
}

export interface TokenVerifier {
  /** The verified claims, or a TokenRejectedError. */
  verify(token: string): Promise<JWTPayload>;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { jwks, maxTokenLength, now } = options;
  const staticByKid = new Map<string, VerificationKey[]>();
  const staticWithoutKid: VerificationKey[] = [];
  for (const key of options.keys) {
    if (key.kid === undefined) {
      staticWithoutKid.push(key);
      continue;
    }
    const list = staticByKid.get(key.kid);
    if (list === undefined) staticByKid.set(key.kid, [key]);
    else list.push(key);
  }
  const audience = typeof options.audience === 'string' ? options.audience : options.audience?.slice();

  async function candidatesFor(kid: unknown, alg: string): Promise<readonly VerificationKey[]> {
    if (kid !== undefined && typeof kid !== 'string')
      throw new TokenRejectedError('malformed', 'kid is not a string');
    if (kid !== undefined) {
      let keyed = keysWithKid(kid);
      if (keyed === undefined && jwks !== null) {
        const refresh = jwks.refreshForUnknownKid();
        if (refresh !== undefined) {
          await refresh;
          keyed = keysWithKid(kid);
        }
      }
      // A static key configured without a kid accepts tokens whatever kid their issuer stamped on them.
      const pool = keyed ?? (staticWithoutKid.length > 0 ? staticWithoutKid : undefined);
      if (pool === undefined) throw new TokenRejectedError('unknown_key');
      return allowing(pool, alg);
    }
    // No kid: every key whose allow-list has this alg is a candidate (rotation without kids).
    let remote: readonly VerificationKey[] = [];
    if (jwks !== null) {
      remote = jwks.all();
      if (remote.length === 0) {
        await jwks.refreshForUnknownKid();
        remote = jwks.all();
      }
    }
    const pool = remote.length === 0 ? options.keys : [...options.keys, ...remote];
    if (pool.length === 0) throw new TokenRejectedError('unknown_key');
    return allowing(pool, alg);
  }

  function keysWithKid(kid: string): readonly VerificationKey[] | undefined {
    const local = staticByKid.get(kid);
    const remote = jwks?.byKid(kid);
    if (local === undefined) return remote;
    return remote === undefined ? local : [...local, ...remote];
  }

  return {
    async verify(token) {
      if (token.length > maxTokenLength) throw new TokenRejectedError('too_long');
      const first = token.indexOf('.');
      const second = first === -1 ? -1 : token.indexOf('.', first + 1);
      if (second === -1) throw new TokenRejectedError('malformed');
      // Five parts is a JWE (RFC 7516 §7.1); any further dot is not a compact JWS either.
      if (token.indexOf('.', second + 1) !== -1) throw new TokenRejectedError('not_compact_jws');

      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw new TokenRejectedError('malformed', 'header is not base64url JSON');
      }
      const alg = header.alg;
      if (typeof alg !== 'string') throw new TokenRejectedError('malformed', 'no alg');
      // RFC 7515 §4.1.11: a recipient must reject extensions it does not understand; the gateway
      // understands none (b64:false payloads included, RFC 7797).
      if (header.crit !== undefined) throw new TokenRejectedError('unsupported_crit');

      const candidates = await candidatesFor(header.kid, alg);
      const verifyOptions = {
        issuer: options.issuer,
        audience,
        clockTolerance: options.clockToleranceSec,
        currentDate: new Date(now()),
        algorithms: [] as string[],
      };
      for (const candidate of candidates) {
        verifyOptions.algorithms = candidate.algorithms as string[];
        try {
          const { payload } = await jwtVerify(token, candidate.key, verifyOptions);
          // RFC 7519 §4.1.2: sub is a StringOrURI; later stages rely on it being a string.
          if (payload.sub !== undefined && typeof payload.sub !== 'string') {
            throw new TokenRejectedError('malformed', 'sub is not a string');
          }
          return payload;
        } catch (err) {
          if (err instanceof TokenRejectedError) throw err;
          // Wrong key of the right family (rotation): try the next one. Non-JOSE errors come from key
          // handling and say nothing about the token either.
          if (err instanceof errors.JWSSignatureVerificationFailed || !(err instanceof errors.JOSEError))
            continue;
          throw toRejection(err);
        }
      }
      throw new TokenRejectedError('bad_signature');
    },
  };
}

function allowing(keys: readonly VerificationKey[], alg: string): readonly VerificationKey[] {
  const usable = keys.filter((key) => key.algorithms.includes(alg));
  if (usable.length === 0) throw new TokenRejectedError('alg_not_allowed', alg);
  return usable;
}

function toRejection(err: errors.JOSEError): TokenRejectedError {
  if (err instanceof errors.JWTExpired) return new TokenRejectedError('expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return new TokenRejectedError('wrong_issuer');
      case 'aud':
        return new TokenRejectedError('wrong_audience');
      case 'nbf':
        if (err.reason === 'check_failed') return new TokenRejectedError('not_yet_valid');
        break;
    }
    return new TokenRejectedError('malformed', err.message);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRejectedError('alg_not_allowed');
  return new TokenRejectedError('malformed', err.message);
}
