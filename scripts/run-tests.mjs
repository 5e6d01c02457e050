#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

const files = collect(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    // A test that hangs fails after 3 minutes instead of holding CI until its own limit.
    '--test-timeout=180000',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
// A test file that leaks a child process never exits, and the runner would wait for it for ever.
const watchdogMinutes = Number(process.env.TEST_WATCHDOG_MINUTES ?? 25);
const watchdog = setTimeout(() => {
  console.error(`\nrun-tests: still running after ${watchdogMinutes} minutes; stopping the run as failed`);
  child.kill('SIGKILL');
  process.exit(1);
}, watchdogMinutes * 60_000);
watchdog.unref();
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
