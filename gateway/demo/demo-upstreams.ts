import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COLORS, type Color } from '../../core/types.js';
import type { ResolvedService } from '../config/load.js';

export interface DemoBehaviour {
  /** Added to every answer, in milliseconds. */
  latencyMs: number;
  /** Share of requests answered with 500, 0..1. */
  failRate: number;
}

export interface DemoUpstream {
  readonly service: string;
  readonly color: Color;
  readonly url: string;
  readonly behaviour: DemoBehaviour;
  readonly server: Server;
}

/** Headers a demo service echoes back, so a newcomer sees what the gateway forwarded. */
const ECHOED =
  /^(x-forwarded-|x-request-id$|x-acgs-|x-real-ip$|host$|user-agent$|content-type$|content-length$)/;

const CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Answers like a tiny backend: JSON naming its service, colour, method, path, query and the forwarded
 * headers it received, after the configured latency, failing the configured share of requests.
 */
function handler(service: string, color: Color, behaviour: DemoBehaviour) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    req.on('end', () => {
      const respond = () => {
        const fail = behaviour.failRate > 0 && Math.random() < behaviour.failRate;
        const url = new URL(req.url ?? '/', 'http://demo');
        // /__echo shows every header that reached the service (credentials aside), so a security probe
        // can see whether a spoofed identity header got through the gateway.
        const echoAll = url.pathname === '/__echo';
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value !== 'string') continue;
          if (echoAll ? !CREDENTIALS.has(name) : ECHOED.test(name)) headers[name] = value;
        }
        const body = JSON.stringify({
          service,
          color,
          method: req.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          bodyBytes: received,
          ...(fail ? { error: 'demo failure (failRate)' } : {}),
        });
        res.writeHead(fail ? 500 : 200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      };
      if (behaviour.latencyMs > 0) setTimeout(respond, behaviour.latencyMs);
      else respond();
    });
  };
}

/**
 * Starts one demo listener for every loopback upstream URL of every service (the embedded default points
 * its pools at these). Behaviour per colour comes from `services.<name>.demo.<color>`.
 */
export async function startDemoUpstreams(services: readonly ResolvedService[]): Promise<DemoUpstream[]> {
  const started: DemoUpstream[] = [];
  try {
    for (const service of services) {
      for (const color of COLORS) {
        const demo = service.demo?.[color];
        const behaviour: DemoBehaviour = { latencyMs: demo?.latencyMs ?? 0, failRate: demo?.failRate ?? 0 };
        for (const url of service[color].upstreams) {
          const parsed = new URL(url);
          const server = createServer({ keepAliveTimeout: 60_000 }, handler(service.name, color, behaviour));
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(Number(parsed.port || 80), parsed.hostname, () => resolve());
          });
          const port = (server.address() as AddressInfo).port;
          started.push({
            service: service.name,
            color,
            url: `http://${parsed.hostname}:${port}`,
            behaviour,
            server,
          });
        }
      }
    }
  } catch (err) {
    await stopDemoUpstreams(started);
    throw err;
  }
  return started;
}

export async function stopDemoUpstreams(upstreams: readonly DemoUpstream[]): Promise<void> {
  await Promise.all(
    upstreams.map(
      (u) =>
        new Promise<void>((resolve) => {
          u.server.closeAllConnections();
          u.server.close(() => resolve());
        }),
    ),
  );
}
