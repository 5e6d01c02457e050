// `acgs-gateway validate`: the release gates against a deployed gateway. The thin CLI edge: reads the
// environment, parses options, wires Ctrl-C, prints the table and writes the report files.
import { setMaxListeners } from 'node:events';
import { type Criteria, CriteriaError, loadCriteria } from '../release/validate/criteria.js';
import { readTokens, signingFromEnv, type TokenSource, tokenSource } from '../release/validate/identities.js';
import { junitXml } from '../release/validate/junit.js';
import { parseOptions, ValidateUsageError } from '../release/validate/options.js';
import { Progress } from '../release/validate/progress.js';
import { reportJson, writeAtomically } from '../release/validate/report.js';
import { runValidation } from '../release/validate/run.js';
import { renderTable } from '../release/validate/table.js';
import { type CliIo, EXIT } from './rollout.js';

export const VALIDATE_HELP = `Usage: acgs-gateway validate --environment staging|production --target URL [options]

The release gates: health, latency, load, security, cache, resources, monitoring. Prints a table,
writes a JSON report and JUnit XML. Exit code 0 when every check passed, 1 when one failed,
2 on usage errors (and for a production load run without --yes).

Options:
  -e, --environment E      staging or production (selects the criteria)
  -t, --target URL         the data plane entry point (load balancer or a replica)
  --admin-url URL[,URL]    admin plane of each replica (token: ADMIN_TOKEN)
  --replicas URL,...       data plane of each replica, for /healthz and /readyz (default: the target)
  --prometheus URL         Prometheus to check (targets up, rules loaded, no alert firing)
  --alertmanager URL       Alertmanager to check (answers, has a receiver)
  --only LIST | --skip LIST   check groups: health,latency,load,security,cache,resources,monitoring
  --duration D             load duration (default 60s; e.g. 30s, 2m)
  --users N                virtual users in the load (default 100), each its own identity
  --max-rps N              validate's own cap on its request rate (default 250)
  --criteria FILE          thresholds (a validation: section, per environment)
  -c, --config FILE        the gateway configuration; its validation: section holds the thresholds
  --tokens FILE            bearer tokens for the users, one per line
  --report FILE            write the JSON report (acgs.validate/v1)
  --junit FILE             write JUnit XML
  -y, --yes                confirm a load run against production
  -h, --help               this help

Environment: ADMIN_TOKEN; VALIDATE_JWT_KEY (PEM private key or HS secret) and VALIDATE_JWT_ALG,
VALIDATE_JWT_KID, VALIDATE_JWT_ISSUER, VALIDATE_JWT_AUDIENCE to mint a token per user.
Ctrl-C stops at once and still writes the partial report (interrupted: true).`;

const defaultIo = (): CliIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

export async function runValidateCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  let criteria: Criteria;
  let criteriaSource: string;
  let signer: TokenSource | null = null;
  let tokens: string[] | null = null;
  try {
    options = parseOptions(argv);
    if (options === null) {
      io.stdout.write(`${VALIDATE_HELP}\n`);
      return EXIT.OK;
    }
    ({ criteria, source: criteriaSource } = await loadCriteria(options, options.environment));
    if (options.environment === 'production' && options.groups.includes('load') && !options.yes)
      throw new ValidateUsageError(
        'a load run against production needs --yes (or leave it out with --skip load)',
      );
    const settings = signingFromEnv(io.env);
    if (settings) signer = tokenSource(settings);
    if (options.tokensFile) tokens = await readTokens(options.tokensFile);
  } catch (error) {
    // Bad options, criteria, tokens file or signing key: nothing was sent yet, so it is a usage error.
    if (error instanceof ValidateUsageError || error instanceof CriteriaError || error instanceof Error) {
      io.stderr.write(`acgs-gateway validate: ${error.message}\n\n(see --help)\n`);
      return EXIT.USAGE;
    }
    throw error;
  }

  const abort = new AbortController();
  // Probes and health checks run concurrently, each listening on the one stop signal.
  setMaxListeners(0, abort.signal);
  const onSigint = () => {
    io.stderr.write('\ninterrupted: stopping and writing the partial report\n');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  const progress = new Progress(io.stdout);
  progress.line(`validate ${options.environment} ${options.target} (${options.groups.join(', ')})`);
  try {
    const report = await runValidation({
      options,
      criteria,
      criteriaSource,
      adminToken: io.env.ADMIN_TOKEN,
      signer,
      tokens,
      signal: abort.signal,
      progress,
    });
    progress.done();
    io.stdout.write(`\n${renderTable(report, io.stdout.isTTY === true)}`);
    if (options.reportFile) await writeAtomically(options.reportFile, reportJson(report));
    if (options.junitFile) await writeAtomically(options.junitFile, junitXml(report));
    return report.passed ? EXIT.OK : EXIT.REFUSED;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
