// The one upstream every contender proxies to: a minimal node:http server answering a small JSON body
// with keep-alive. It runs in its own process so it never shares an event loop with a contender.
// Usage: node upstream.mjs [port ...]   (0 = any free port; the bound ports are printed as one JSON line)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from('{"ok":true,"service":"bench","items":[1,2,3]}');
const HEADERS = {
  'content-type': 'application/json',
  'content-length': String(BODY.length),
};

function listen(port: number): Promise<Server> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // Drain any request body before answering, so keep-alive stays usable for every method.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, HEADERS);
      res.end(BODY);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const wanted = process.argv.slice(2).map(Number);
const servers = await Promise.all((wanted.length > 0 ? wanted : [0]).map(listen));
process.stdout.write(`${JSON.stringify({ ports: servers.map((s) => (s.address() as AddressInfo).port) })}\n`);
process.on('SIGTERM', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
