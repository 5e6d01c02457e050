import { OpensslMissingError, selfSigned } from '../release/host/tls.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: acgs-gateway tls self-signed --host NAME [--host NAME ...] --out DIR [--days N]

Makes a self-signed test certificate (P-256) for the host names with openssl: DIR/fullchain.pem and
DIR/privkey.pem (mode 600), the names nginx expects. Not for production: use a real CA there
(docker/host/cert-renew.sh). Needs the openssl CLI.

  --host NAME   a DNS name or IP address the certificate covers (repeat, or a,b)
  --out DIR     where to write the pair
  --days N      validity in days (default 30)
`;

export async function runTlsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    host: { type: 'string', multiple: true },
    out: { type: 'string' },
    days: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals[0] !== 'self-signed' || positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0
        ? 'expected the subcommand: self-signed'
        : `unknown subcommand '${positionals.join(' ')}'`,
    );
  const hosts = (values.host ?? [])
    .flatMap((h) => h.split(','))
    .map((h) => h.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new UsageError('--host NAME is required');
  if (hosts.some((h) => !/^[A-Za-z0-9.*:-]+$/.test(h)))
    throw new UsageError('--host takes DNS names or IP addresses');
  if (!values.out) throw new UsageError('--out DIR is required');
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new UsageError('--days must be a whole number 1..3650');
  try {
    const { cert, key } = await selfSigned({ hosts, outDir: values.out, days });
    process.stdout.write(
      `wrote ${cert} (self-signed for ${hosts.join(', ')}, ${days} days)\nwrote ${key} (mode 600)\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof OpensslMissingError) {
      process.stderr.write(`acgs-gateway tls: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`acgs-gateway tls: ${(error as Error).message}\n`);
    return 1;
  }
}
