// Contender 4: fast-gateway 3.4.7 (restana + fast-proxy-lite, node:http Agent with keep-alive). 5.0.1 is
// the newest release but cannot be installed here (its fast-proxy-lite@^1.1.3 is not on the registry).
// Usage: node fast-gateway.mjs <upstream-url>   (prints {"port":N} once listening)
import type { AddressInfo } from 'node:net';
import gateway from 'fast-gateway';

const upstream = process.argv[2];
if (upstream === undefined) throw new Error('usage: fast-gateway <upstream-url>');

const server = gateway({ routes: [{ prefix: '/api/ac', target: upstream }] });
const http = (await server.start(0, '127.0.0.1')) as import('node:http').Server;
process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => {
  http.close();
  process.exit(0);
});
