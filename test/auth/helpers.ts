export { metricValue } from '../helpers/metrics.js';

// Shared test fixtures for the JWT stage: request contexts, key pairs, token signing, a controllable clock,
// a real local JWKS server and a way to read what the stage refused with.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, type JWTPayload, SignJWT } from 'jose';
import pino from 'pino';
import { Registry } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import type { RequestContext } from '../../core/types.js';
import { type AuthConfigInput, authConfigSchema, type ServiceAuthConfig } from '../../gateway/auth/config.js';
import { type AuthStage, createAuthStage } from '../../gateway/auth/stage.js';
import { requestContext } from '../helpers/context.js';

/** A fixed "now" (whole seconds) so token times are exact. */
export const T0 = Date.UTC(2030, 0, 1) / 1000;

export interface Clock {
  /** Epoch milliseconds. */
  ms: number;
  readonly now: () => number;
  advance(ms: number): void;
}

export function createClock(startSec = T0): Clock {
  const clock: Clock = {
    ms: startSec * 1000,
    now: () => clock.ms,
    advance(ms) {
      clock.ms += ms;
    },
  };
  return clock;
}

export function makeContext(
  init: {
    service?: string | null;
    rest?: string;
    authorization?: string;
    headers?: IncomingHttpHeaders;
  } = {},
): RequestContext {
  const headers: IncomingHttpHeaders = { ...init.headers };
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  const rest = init.rest ?? '/';
  const service = init.service === undefined ? 'ac' : init.service;
  return requestContext({
    headers,
    clientIp: '203.0.113.7',
    path: service === null ? rest : `/api/${service}${rest}`,
    service,
    rest,
  });
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export interface StageFixture {
  readonly stage: AuthStage;
  readonly registry: Registry;
  readonly clock: Clock;
}

export function makeStage(
  config: AuthConfigInput,
  services: Record<string, ServiceAuthConfig> = { ac: 'required' },
  clock: Clock = createClock(),
): StageFixture {
  const registry = new Registry();
  const stage = createAuthStage({
    config: authConfigSchema.parse(config),
    services,
    registry,
    logger: pino({ level: 'silent' }),
    now: clock.now,
  });
  return { stage, registry, clock };
}

/** Runs the stage on a request carrying `authorization`; returns the context it filled in. */
export async function admit(stage: AuthStage, authorization?: string, where: Partial<RequestContext> = {}) {
  const ctx = makeContext({ authorization, service: where.service, rest: where.rest });
  await stage.run(ctx);
  return ctx;
}

export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly challenge: string | undefined;
  readonly message: string;
}

/** Runs the stage and returns the GatewayError it answered with; fails the test if it let the request on. */
export async function refusal(
  stage: AuthStage,
  authorization?: string,
  where: { service?: string | null; rest?: string } = {},
): Promise<Refusal> {
  const ctx = makeContext({ authorization, ...where });
  try {
    await stage.run(ctx);
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    return {
      status: err.status,
      code: err.code,
      challenge: err.headers?.['www-authenticate'],
      message: err.message,
    };
  }
  assert.fail('the stage let the request through');
}

/** The error_description of a refusal's challenge, e.g. "token expired". */
export async function refusalReason(stage: AuthStage, token: string): Promise<string | undefined> {
  const { challenge } = await refusal(stage, bearer(token));
  return /error_description="([^"]*)"/.exec(challenge ?? '')?.[1];
}

// --- keys and tokens -------------------------------------------------------------------------------

export const HS_SECRET = 'a-test-secret-of-at-least-64-bytes-for-hs512-0123456789abcdefghij';

export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  readonly publicPem: string;
}

function pair(keys: { publicKey: KeyObject; privateKey: KeyObject }): KeyPair {
  return { ...keys, publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export const rsaKeyPair = (): KeyPair => pair(generateKeyPairSync('rsa', { modulusLength: 2048 }));
export const ecKeyPair = (curve = 'P-256'): KeyPair => pair(generateKeyPairSync('ec', { namedCurve: curve }));
export const ed25519KeyPair = (): KeyPair => pair(generateKeyPairSync('ed25519'));

/** Standard claims valid at T0 for an hour. */
export function claims(extra: JWTPayload = {}): JWTPayload {
  return { sub: 'user-1', iat: T0, exp: T0 + 3600, ...extra };
}

export function sign(
  payload: JWTPayload,
  key: KeyObject | Uint8Array,
  header: { alg: string; kid?: string; [name: string]: unknown },
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

export function secretBytes(secret = HS_SECRET): Uint8Array {
  return new TextEncoder().encode(secret);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * An HS256 token built by hand, for headers jose refuses to produce (`crit`, `alg: none`) and for the
 * key-confusion attack (HMAC keyed with the bytes of an RSA public key PEM).
 */
export function handmadeHs256(
  header: Record<string, unknown>,
  payload: JWTPayload,
  secret: string | Buffer,
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

export function unsecured(payload: JWTPayload): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

// --- a local JWKS server ---------------------------------------------------------------------------

export interface JwksServer {
  readonly url: string;
  /** Requests the server has answered (or refused) so far. */
  readonly requests: number;
  setKeys(keys: readonly { kid: string; publicKey: KeyObject; alg?: string }[]): Promise<void>;
  /** While down, every request gets a 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startJwksServer(
  initial: readonly { kid: string; publicKey: KeyObject; alg?: string }[],
): Promise<JwksServer> {
  let body = '';
  let down = false;
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests++;
    if (down) {
      res.writeHead(503).end('down');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(body);
  });
  const jwks: JwksServer = {
    url: '',
    get requests() {
      return requests;
    },
    async setKeys(keys) {
      const jwkList = await Promise.all(
        keys.map(async ({ kid, publicKey, alg }) => ({
          ...(await exportJWK(publicKey)),
          kid,
          use: 'sig',
          alg,
        })),
      );
      body = JSON.stringify({ keys: jwkList });
    },
    setDown(value) {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  await jwks.setKeys(initial);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(jwks, { url: `http://127.0.0.1:${port}/.well-known/jwks.json` });
  return jwks;
}
