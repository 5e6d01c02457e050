import { createServer } from 'node:net';

/**
 * A loopback port with nothing listening on it: bound by the kernel, then released. Used both to give a
 * child process a known port and as a target that refuses connections.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
