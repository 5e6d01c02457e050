// nginx for a local stack, rendered from the production templates in docker/nginx: the same http
// settings (limits, timeouts, log format), the same maps, proxy headers and locations. What changes is
// what a laptop needs: paths under the stack's prefix, no `user nginx` (it exists only in the image), the
// replicas' loopback addresses, and one plain-HTTP loopback listener serving the locations of the TLS
// server (the local stack has no certificate; TLS is nginx's own business and is tested in test/deploy).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NginxRenderOptions {
  /** docker/nginx of the repository. */
  readonly templates: string;
  /** Where the rendered files, logs, temp files and the pid go. */
  readonly prefix: string;
  readonly listenPort: number;
  /** host:port of each replica's data plane. */
  readonly upstreams: readonly string[];
  /** Running as root: workers run as root too (the current user), not as nobody. */
  readonly root: boolean;
}

/** The `server { … }` blocks of a file, found by brace matching (the templates have no braces in strings). */
function serverBlocks(text: string): string[] {
  const blocks: string[] = [];
  for (const m of text.matchAll(/^server\s*\{/gm)) {
    let depth = 0;
    for (let i = m.index; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) {
        blocks.push(text.slice(m.index, i + 1));
        break;
      }
    }
  }
  return blocks;
}

/** The TLS server's locations on a plain loopback listener, plus nginx's own health location. */
export function localServers(serversConf: string, listenPort: number): string {
  const blocks = serverBlocks(serversConf);
  const tls = blocks.find((b) => /listen\s+443\b/.test(b));
  const plain = blocks.find((b) => /listen\s+80\b/.test(b));
  if (!tls || !plain) throw new Error('20-servers.conf: expected a port 80 and a port 443 server');
  const health = /location = \/nginx-health \{[^}]*\}/.exec(plain)?.[0];
  if (!health) throw new Error('20-servers.conf: no /nginx-health location in the port 80 server');
  const body = tls
    .split('\n')
    .filter((line) => !/^\s*(ssl_|add_header Strict-Transport-Security|# Mounted from|# `listen)/.test(line))
    .join('\n')
    .replace(/listen 443 ssl http2 default_server;/, `listen 127.0.0.1:${listenPort} default_server;`);
  return `# Rendered by the local stack from docker/nginx/conf.d/20-servers.conf (the TLS server, without TLS).\n${body.replace(/\}$/, `\n    ${health}\n}`)}\n`;
}

/** Renders the templates into `prefix`; returns the path of nginx.conf. */
export function renderNginx(o: NginxRenderOptions): string {
  const read = (file: string) => readFileSync(join(o.templates, file), 'utf8');
  const out: Record<string, string> = {};
  const paths = (text: string) =>
    text.replaceAll('/etc/nginx/', `${o.prefix}/`).replaceAll('/var/log/nginx/', `${o.prefix}/logs/`);

  out['nginx.conf'] = read('nginx.conf')
    .replace(/^user\s+[^;]+;\s*$/m, o.root ? 'user root;' : '')
    .replace(/^worker_processes\s+auto;/m, 'worker_processes 1;')
    .replace(/^worker_rlimit_nofile\s+\d+;\s*$/m, '')
    .replace(/worker_connections\s+\d+;/, 'worker_connections 1024;');
  out['conf.d/00-maps.conf'] = read('conf.d/00-maps.conf');
  // Temp files under the prefix, not the compiled-in /var/lib/nginx (owned by root).
  out['conf.d/05-local-paths.conf'] = `${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${o.prefix}/tmp/${t};`)
    .join('\n')}\n`;

  const upstream = read('conf.d/10-upstream.conf');
  const line = /^(\s*server\s+)gateway-\d+:\d+([^;]*;)\n/m.exec(upstream);
  if (!line) throw new Error('10-upstream.conf: no `server gateway-N:PORT` line');
  const servers = o.upstreams.map((u) => `${line[1]}${u}${line[2]}\n`).join('');
  out['conf.d/10-upstream.conf'] = upstream
    .replace(/^(\s*server\s+)gateway-\d+:\d+([^;]*;)\n/gm, '')
    .replace(/(least_conn;\n)/, `$1${servers}`);
  out['conf.d/20-servers.conf'] = localServers(read('conf.d/20-servers.conf'), o.listenPort);
  out['snippets/acgs-proxy-headers.conf'] = read('snippets/acgs-proxy-headers.conf');
  out['snippets/acgs-locations.conf'] = read('snippets/acgs-locations.conf');

  for (const dir of ['logs', 'tmp']) mkdirSync(join(o.prefix, dir), { recursive: true });
  for (const [file, text] of Object.entries(out)) {
    mkdirSync(dirname(join(o.prefix, file)), { recursive: true });
    writeFileSync(join(o.prefix, file), paths(text));
  }
  return join(o.prefix, 'nginx.conf');
}

export function nginxArgs(prefix: string, conf: string, test = false): string[] {
  return [
    ...(test ? ['-t', '-q'] : []),
    '-p',
    `${prefix}/`,
    '-c',
    conf,
    '-e',
    join(prefix, 'logs', 'error.log'),
    '-g',
    `daemon off; pid ${prefix}/nginx.pid;`,
  ];
}
