import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminToken } from '../config/load.js';

export interface AdminPrincipal {
  readonly name: string;
  readonly roles?: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin server's authentication hook before any route runs; the one way to read it. */
    adminPrincipal: AdminPrincipal;
  }
  interface FastifyContextConfig {
    /**
     * The action this route performs, for the audit log and the admin policy ('weights.set',
     * 'rollout.start', ...). Required on every route that changes something; reads are 'read'.
     */
    action?: string;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Verifies an admin JWT with the data plane's keys; rejects when invalid. */
export type AdminJwtVerifier = (token: string) => Promise<Readonly<Record<string, unknown>>>;

export interface AdminJwtOptions {
  readonly verify: AdminJwtVerifier;
  /** Claim holding the roles (array or space-separated string). */
  readonly rolesClaim: string;
  /** A JWT is an admin credential only when it carries one of these roles. */
  readonly roles: readonly string[];
}

/**
 * Static admin tokens from ADMIN_TOKENS. Compared as SHA-256 digests with timingSafeEqual, so neither the
 * content nor the length of a configured token leaks through response timing; every token is compared
 * (no early exit) for the same reason.
 */
export class AdminTokenAuthenticator {
  readonly #tokens: { name: string; digest: Buffer }[];
  readonly #jwt: AdminJwtOptions | null;

  constructor(tokens: readonly AdminToken[], jwt: AdminJwtOptions | null = null) {
    this.#tokens = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
    this.#jwt = jwt;
  }

  async authenticate(authorization: string | undefined): Promise<AdminPrincipal | null> {
    if (!authorization || !/^bearer /i.test(authorization)) return null;
    const presented = authorization.slice(7).trim();
    const presentedDigest = digest(presented);
    let found: string | null = null;
    for (const token of this.#tokens) {
      if (timingSafeEqual(presentedDigest, token.digest) && found === null) found = token.name;
    }
    // Static tokens are operator credentials: role admin (an admin policy can still narrow them by name).
    if (found !== null) return { name: found, roles: ['admin'] };
    if (this.#jwt === null || presented.split('.').length !== 3) return null;
    return this.#fromJwt(presented, this.#jwt);
  }

  /** An admin JWT: verified like any token, then accepted only with one of the configured admin roles. */
  async #fromJwt(token: string, jwt: AdminJwtOptions): Promise<AdminPrincipal | null> {
    let claims: Readonly<Record<string, unknown>>;
    try {
      claims = await jwt.verify(token);
    } catch {
      return null;
    }
    const raw = claims[jwt.rolesClaim];
    const roles = Array.isArray(raw)
      ? raw.filter((r): r is string => typeof r === 'string')
      : typeof raw === 'string'
        ? raw.split(' ').filter(Boolean)
        : [];
    if (typeof claims.sub !== 'string' || !roles.some((r) => jwt.roles.includes(r))) return null;
    return { name: `jwt:${claims.sub}`, roles };
  }
}
