import { parseArgs } from 'node:util';
import { adminRequest, type CliIo, DEFAULT_ADMIN_URL, EXIT, reportFailure } from './rollout.js';

const HELP = `Usage: acgs-gateway weights set SERVICE GREEN [--admin-url URL]

Sets the share of users sent to green (0..100); blue gets the rest. Refused (409) while a rollout
runs on the service. The token is read from ADMIN_TOKEN; --admin-url defaults to ${DEFAULT_ADMIN_URL}.

Exit codes: 0 ok, 1 refused by the API, 2 bad usage, 3 admin plane unreachable.
`;

const defaultIo = (): CliIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

export async function runWeightsCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let values: { 'admin-url'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { 'admin-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    }));
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n\n${HELP}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.OK;
  }
  const [command, service, green, ...extra] = positionals;
  if (command !== 'set' || service === undefined || green === undefined || extra.length > 0) {
    io.stderr.write(`error: expected 'weights set SERVICE GREEN'\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const n = Number(green);
  if (!/^\d+$/.test(green) || n > 100) {
    io.stderr.write(`error: GREEN must be a whole number 0..100, got '${green}'\n`);
    return EXIT.USAGE;
  }
  try {
    const result = (await adminRequest(
      values['admin-url'] ?? DEFAULT_ADMIN_URL,
      io.env.ADMIN_TOKEN,
      'PUT',
      `/admin/services/${encodeURIComponent(service)}/weights`,
      { green: n },
    )) as { green?: number; weights?: { green?: number } } | null;
    const applied = result?.weights?.green ?? result?.green ?? n;
    io.stdout.write(`${service}: green ${applied}% / blue ${100 - applied}%\n`);
    return EXIT.OK;
  } catch (error) {
    return reportFailure(error, io);
  }
}
