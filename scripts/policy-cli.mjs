#!/usr/bin/env node
// Runs `acgs-gateway policy …` from source, without a compiled dist/ (npm scripts, CI, prestart).
// Usage: node --import tsx scripts/policy-cli.mjs build|test|sign [options]
const { runPolicyCommand } = await import('../cli/policy.ts');
process.exitCode = await runPolicyCommand(process.argv.slice(2));
