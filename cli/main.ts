import { pathToFileURL } from 'node:url';
import { UsageError } from './args.js';
import { disablePretenuring } from './v8-flags.js';

const HELP = `Usage: acgs-gateway <command> [options]

Commands:
  start [--config FILE]                      run the gateway (embedded default without a config)
  policy build|test|sign                     build, test and sign the Rego policy bundle (pinned opa)
  rollout start|status|pause|resume|promote|abort SERVICE
                                             drive a progressive rollout through the admin API
  weights set SERVICE GREEN                  set a service's blue/green split by hand
  pipeline --environment staging|production|all [--list-steps] [--start-from S] [--stop-at S] [--dry-run]
                                             the seven release steps, with a JSON-lines run log
  secrets generate --dir DIR                 JWT, Redis and admin secrets (CSPRNG, mode 600)
  tls self-signed --host NAME --out DIR      a test certificate and key
  stack up|down|status --environment ENV [--driver local|compose]
                                             the staging or production stack (replicas, nginx, monitoring)
  validate --environment E --target URL      the release gates: health, latency, load, security,
                                             cache, resources, monitoring (table, JSON, JUnit)

Run 'acgs-gateway <command> --help' for the options of a command.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => {
    disablePretenuring(); // before the gateway's modules load and allocate
    return (await import('./start.js')).runStart;
  },
  policy: async () => (await import('./policy.js')).runPolicyCommand,
  rollout: async () => (await import('./rollout.js')).runRolloutCommand,
  weights: async () => (await import('./weights.js')).runWeightsCommand,
  pipeline: async () => (await import('./pipeline.js')).runPipelineCommand,
  secrets: async () => (await import('./secrets.js')).runSecretsCommand,
  tls: async () => (await import('./tls.js')).runTlsCommand,
  stack: async () => (await import('./stack.js')).runStackCommand,
  validate: async () => (await import('./validate.js')).runValidateCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`acgs-gateway: unknown command '${command}'\n\n${HELP}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`acgs-gateway ${command}: ${err.message} (see --help)\n`);
      return 2;
    }
    throw err;
  }
}

// Run directly (`node --import tsx cli/main.ts start`), as tests and development do.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
