// Contender 7's glue: nginx `auth_request` sends a body-less GET subrequest and only looks at its status
// (2xx allow, 401/403 deny). OPA's REST API always answers 200 with {"result": ...} and needs the input
// document as JSON, which stock nginx (no njs in Debian's package) cannot build. So, as deployments of
// this architecture do, a small adapter sits between them: it turns the subrequest (original method, URI,
// headers) into the same input document the gateway builds, POSTs it to `opa run --server` at
// /v1/data/acgs/gateway/decision over a keep-alive pool, and maps the decision to 204 / 403.
// Usage: node authz-adapter.mjs <opa-url>   (prints {"port":N} once listening)
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const opaUrl = process.argv[2];
if (opaUrl === undefined) throw new Error('usage: authz-adapter <opa-url>');
const opa = new Pool(opaUrl, { connections: 64, pipelining: 1 });
const DECISION = '/v1/data/acgs/gateway/decision';
// Credentials and hop-by-hop headers never reach the policy (the gateway strips the same ones).
const STRIPPED = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-original-uri',
  'x-original-method',
]);

function inputOf(headers: IncomingHttpHeaders, clientIp: string): Record<string, unknown> {
  const uri = String(headers['x-original-uri'] ?? '/');
  const q = uri.indexOf('?');
  let path = q === -1 ? uri : uri.slice(0, q);
  try {
    path = decodeURIComponent(path);
  } catch {
    // Left as sent: the policy screens it.
  }
  const segments = path.split('/').filter((s) => s !== '');
  const query: Record<string, string[]> = Object.create(null);
  if (q !== -1) {
    for (const [name, value] of new URLSearchParams(uri.slice(q + 1))) {
      const values = query[name];
      if (values === undefined) query[name] = [value];
      else values.push(value);
    }
  }
  const forwarded: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !STRIPPED.has(name)) forwarded[name] = value;
  }
  const service = segments[0] === 'api' && segments[1] !== undefined ? segments[1] : null;
  const override = headers['x-acgs-color'];
  return {
    method: String(headers['x-original-method'] ?? 'GET'),
    path,
    segments,
    query,
    headers: forwarded,
    client_ip: clientIp,
    // Stock nginx does not verify JWTs (auth_jwt is nginx Plus): this architecture hands the policy no claims.
    claims: null,
    service,
    rest: service === null ? '/' : `/${segments.slice(2).join('/')}`,
    color_override: override === 'green' || override === 'blue' ? override : null,
  };
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const body = JSON.stringify({ input: inputOf(req.headers, String(req.headers['x-real-ip'] ?? '')) });
  opa
    .request({ method: 'POST', path: DECISION, headers: { 'content-type': 'application/json' }, body })
    .then(async ({ statusCode, body: answer }) => {
      const parsed = (await answer.json()) as { result?: { allow?: unknown; status?: unknown } };
      if (statusCode !== 200) throw new Error(`OPA answered ${statusCode}`);
      const allow = parsed.result?.allow === true;
      res.writeHead(allow ? 204 : 403).end();
    })
    .catch(() => {
      // Fail closed, like the gateway.
      if (!res.headersSent) res.writeHead(503).end();
    });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  opa.close().finally(() => process.exit(0));
});
