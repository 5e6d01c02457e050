// Who the virtual users and probes are: a bearer token each (minted with jose from a signing key in the
// environment, or read from a file), or, without tokens, a cookie jar each so the gateway's sticky
// cookie gives every user its own identity.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type JWTPayload, SignJWT } from 'jose';

export interface SigningSettings {
  /** PEM private key, or an HMAC secret. */
  readonly key: string;
  readonly alg: string;
  readonly kid?: string | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
}

export interface TokenSource {
  /** A token for `sub` with `roles`, valid `ttlSec` from now (or from `nowSec`, to mint an expired one). */
  mint(
    claims: JWTPayload,
    options?: { ttlSec?: number; nowSec?: number; issuer?: string; audience?: string },
  ): Promise<string>;
  /** The public key in PEM (asymmetric keys only): what an algorithm-confusion attack signs with. */
  readonly publicKeyPem: string | null;
  readonly alg: string;
  readonly kid: string | undefined;
}

/** Reads VALIDATE_JWT_KEY / VALIDATE_JWT_ALG / _KID / _ISSUER / _AUDIENCE; null when no key is set. */
export function signingFromEnv(env: NodeJS.ProcessEnv): SigningSettings | null {
  const key = env.VALIDATE_JWT_KEY;
  if (key === undefined || key === '') return null;
  const pem = key.includes('-----BEGIN');
  const alg = env.VALIDATE_JWT_ALG ?? (pem ? undefined : 'HS256');
  if (alg === undefined)
    throw new Error('VALIDATE_JWT_ALG must name the algorithm of the PEM key in VALIDATE_JWT_KEY');
  return {
    key,
    alg,
    kid: env.VALIDATE_JWT_KID,
    issuer: env.VALIDATE_JWT_ISSUER,
    audience: env.VALIDATE_JWT_AUDIENCE,
  };
}

export function tokenSource(settings: SigningSettings): TokenSource {
  const pem = settings.key.includes('-----BEGIN');
  const signingKey = pem ? createPrivateKey(settings.key) : new TextEncoder().encode(settings.key);
  const publicKeyPem = pem
    ? createPublicKey(settings.key).export({ type: 'spki', format: 'pem' }).toString()
    : null;
  return {
    publicKeyPem,
    alg: settings.alg,
    kid: settings.kid,
    mint(claims, options = {}) {
      const now = options.nowSec ?? Math.floor(Date.now() / 1000);
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: settings.alg, typ: 'JWT', ...(settings.kid ? { kid: settings.kid } : {}) })
        .setIssuedAt(now)
        .setExpirationTime(now + (options.ttlSec ?? 3600));
      const issuer = options.issuer ?? settings.issuer;
      const audience = options.audience ?? settings.audience;
      if (issuer) jwt = jwt.setIssuer(issuer);
      if (audience) jwt = jwt.setAudience(audience);
      return jwt.sign(signingKey);
    },
  };
}

/** One token per line (blank lines and # comments skipped). */
export async function readTokens(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A user's credentials: a bearer token, or cookies the gateway set for it. */
export class VirtualIdentity {
  readonly #token: string | null;
  readonly #cookies = new Map<string, string>();

  constructor(token: string | null) {
    this.#token = token;
  }

  get token(): string | null {
    return this.#token;
  }

  get kind(): 'token' | 'cookie' {
    return this.#token === null ? 'cookie' : 'token';
  }

  headers(): Record<string, string> {
    if (this.#token !== null) return { authorization: `Bearer ${this.#token}` };
    if (this.#cookies.size === 0) return {};
    return { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  /** Keeps the name=value of every Set-Cookie (attributes ignored: one host, one run). */
  remember(setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
}

/** `count` identities: tokens from the file (reused round robin if fewer), minted, or cookie users. */
export async function buildIdentities(
  count: number,
  source: { tokens: readonly string[] | null; signer: TokenSource | null },
): Promise<VirtualIdentity[]> {
  const out: VirtualIdentity[] = [];
  for (let i = 0; i < count; i++) {
    if (source.tokens && source.tokens.length > 0)
      out.push(new VirtualIdentity(source.tokens[i % source.tokens.length]!));
    else if (source.signer)
      out.push(new VirtualIdentity(await source.signer.mint({ sub: `validate-user-${i + 1}` })));
    else out.push(new VirtualIdentity(null));
  }
  return out;
}
