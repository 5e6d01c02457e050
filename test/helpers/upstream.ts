import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Requests seen, in order. */
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers']; bodyBytes: number }[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, bodyBytes: number) => void;

/** Answers JSON {name, method, url, headers, bodyBytes} by default. A real HTTP server on loopback. */
export async function startUpstream(
  name: string,
  handler?: UpstreamHandler,
  port = 0,
): Promise<TestUpstream> {
  const seen: TestUpstream['seen'] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: bytes });
      if (handler) return handler(req, res, bytes);
      const body = JSON.stringify({
        name,
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyBytes: bytes,
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-upstream': name,
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
