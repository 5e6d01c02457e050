import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminToken } from '../config/load.js';

export interface AdminPrincipal {
  readonly name: string;
  readonly roles?: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    adminPrincipal: AdminPrincipal;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Static admin tokens from ADMIN_TOKENS. Compared as SHA-256 digests with timingSafeEqual, so neither the
 * content nor the length of a configured token leaks through response timing; every token is compared
 * (no early exit) for the same reason.
 */
export class AdminTokenAuthenticator {
  readonly #tokens: { name: string; digest: Buffer }[];

  constructor(tokens: readonly AdminToken[]) {
    this.#tokens = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  }

  authenticate(authorization: string | undefined): AdminPrincipal | null {
    if (!authorization || !/^bearer /i.test(authorization)) return null;
    const presented = digest(authorization.slice(7).trim());
    let found: string | null = null;
    for (const token of this.#tokens) {
      if (timingSafeEqual(presented, token.digest) && found === null) found = token.name;
    }
    return found === null ? null : { name: found, roles: ['admin'] };
  }
}
