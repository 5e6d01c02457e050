// One raw HTTP/1.1 exchange on its own socket, for request shapes no client library will send
// (request smuggling). Collects whatever comes back until the peer closes or goes quiet.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawExchange {
  /** Status codes of every response seen on the connection, in order. */
  readonly statuses: readonly number[];
  readonly closed: boolean;
  readonly error: string | null;
  readonly bytes: number;
}

export async function rawExchange(
  target: string,
  request: string,
  quietMs = 1000,
  timeoutMs = 5000,
): Promise<RawExchange> {
  const url = new URL(target);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise<RawExchange>((resolve) => {
    const socket: Socket =
      url.protocol === 'https:'
        ? tlsConnect({ host: url.hostname, port, servername: url.hostname, rejectUnauthorized: false })
        : connect({ host: url.hostname, port });
    let data = '';
    let error: string | null = null;
    let closed = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quiet);
      clearTimeout(overall);
      socket.destroy();
      const statuses = [...data.matchAll(/(?:^|\r?\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses, closed, error, bytes: data.length });
    };
    const overall = setTimeout(finish, timeoutMs);
    const armQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      socket.write(request, 'latin1');
      armQuiet();
    });
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      armQuiet();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.once('close', () => {
      closed = true;
      finish();
    });
  });
}
