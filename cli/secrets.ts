import { generateSecrets, SECRETS, SecretsExistError } from '../release/host/secrets.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: acgs-gateway secrets generate --dir DIR [--force]

Creates the deployment's secrets in DIR with the operating system's CSPRNG, each file mode 600:
${SECRETS.map((s) => `  ${s.name.padEnd(24)} ${s.what}`).join('\n')}

Existing files are never overwritten without --force (then every file is replaced). The values are
never printed. Exit codes: 0 written, 1 files exist (nothing written), 2 bad usage.
`;

export async function runSecretsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { dir: { type: 'string' }, force: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals[0] !== 'generate' || positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0
        ? 'expected the subcommand: generate'
        : `unknown subcommand '${positionals.join(' ')}'`,
    );
  if (!values.dir) throw new UsageError('--dir DIR is required');
  try {
    const written = await generateSecrets(values.dir, values.force ?? false);
    for (const { file, spec } of written) process.stdout.write(`wrote ${file} (mode 600): ${spec.what}\n`);
    return 0;
  } catch (error) {
    if (error instanceof SecretsExistError) {
      process.stderr.write(`acgs-gateway secrets: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
