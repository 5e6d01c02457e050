// The bearer tokens of the JWT probes: forged, tampered or unacceptable in one specific way each.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import type { TokenSource } from './identities.js';
import type { TokenKind } from './probe-suite.js';

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>, signature = ''): string {
  return `${b64(header)}.${b64(claims)}.${signature}`;
}

function hmac(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  secret: string | Buffer,
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A key pair the target has never seen: what an attacker without the signing key has. */
let foreign: ReturnType<typeof generateKeyPairSync> | null = null;
function foreignKey() {
  foreign ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  return foreign;
}

/** Claims an attacker would like the gateway to believe. */
const claims = (nowSec: number) => ({ sub: 'admin', roles: ['admin'], iat: nowSec, exp: nowSec + 3600 });

/**
 * Builds the token of a probe. Returns null when it needs the signing key (signer) and there is none:
 * such a probe is skipped, not scored.
 */
export async function probeToken(kind: TokenKind, signer: TokenSource | null): Promise<string | null> {
  const now = Math.floor(Date.now() / 1000);
  const c = claims(now);
  const kid = signer?.kid;
  switch (kind) {
    case 'alg_none':
      return unsigned({ alg: 'none', typ: 'JWT', ...(kid ? { kid } : {}) }, c);
    case 'alg_none_case':
      return unsigned({ alg: 'None', typ: 'JWT', ...(kid ? { kid } : {}) }, c);
    case 'hs_confusion': {
      // The public key is public: an attacker HMACs with its PEM text, hoping the verifier takes it as a secret.
      const pem =
        signer?.publicKeyPem ?? foreignKey().publicKey.export({ type: 'spki', format: 'pem' }).toString();
      return hmac({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) }, c, pem);
    }
    case 'foreign_key':
      return new SignJWT(c)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) })
        .sign(foreignKey().privateKey);
    case 'garbage':
      return 'not-a-jwt-at-all';
    case 'oversized':
      return unsigned({ alg: 'HS256', typ: 'JWT' }, { ...c, pad: 'A'.repeat(64 * 1024) }, 'AAAA');
    case 'kid_injection':
      return hmac({ alg: 'HS256', typ: 'JWT', kid: '../../../../../../dev/null' }, c, '');
    case 'jku_header': {
      const key = foreignKey();
      return new SignJWT(c)
        .setProtectedHeader({
          alg: 'RS256',
          typ: 'JWT',
          jku: 'http://127.0.0.1:1/jwks.json',
          kid: 'attacker',
        })
        .sign(key.privateKey);
    }
    default:
      break;
  }
  if (signer === null) return null;
  switch (kind) {
    case 'bad_signature': {
      const token = await signer.mint({ sub: 'validate-probe' });
      const [h, p, s] = token.split('.') as [string, string, string];
      // Flip bits in the middle of the signature, keeping it valid base64url of the same length.
      const bytes = Buffer.from(s, 'base64url');
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      return `${h}.${p}.${bytes.toString('base64url')}`;
    }
    case 'expired':
      return signer.mint({ sub: 'validate-probe' }, { nowSec: now - 7200, ttlSec: 3600 });
    case 'not_yet_valid': {
      const token = await signer.mint({ sub: 'validate-probe', nbf: now + 3600 }, { ttlSec: 7200 });
      return token;
    }
    case 'wrong_issuer':
      return signer.mint({ sub: 'validate-probe' }, { issuer: 'https://attacker.example' });
    case 'wrong_audience':
      return signer.mint({ sub: 'validate-probe' }, { audience: 'someone-else' });
    case 'tampered_claims': {
      const token = await signer.mint({ sub: 'validate-probe', roles: [] });
      const [h, , s] = token.split('.') as [string, string, string];
      return `${h}.${b64({ sub: 'validate-probe', roles: ['admin'], iat: now, exp: now + 3600 })}.${s}`;
    }
    default:
      return null;
  }
}
