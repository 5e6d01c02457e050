// Contender 3: bare @fastify/http-proxy (undici through @fastify/reply-from), the reference every ratio
// is computed against. Defaults kept, logger off, exactly one route: /api/ac/* → upstream.
// Usage: node fastify-proxy.mjs <upstream-url>   (prints {"port":N} once listening)
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const upstream = process.argv[2];
if (upstream === undefined) throw new Error('usage: fastify-proxy <upstream-url>');

const app = Fastify({ logger: false });
await app.register(proxy, { upstream, prefix: '/api/ac', rewritePrefix: '' });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(
  `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
);
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
