import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { MemoryStore } from '../../gateway/ratelimit/memory-store.js';
import { waitFor } from './helpers.js';

describe('memory store bounds', () => {
  test('idle keys are evicted once two windows have passed without a request', () => {
    const store = new MemoryStore({ maxKeys: 10_000, sweepIntervalMs: 0 });
    for (let i = 0; i < 500; i++) store.hit(`c${i}`, 5, 1000, 'counter', 0);
    for (let i = 0; i < 500; i++) store.hit(`l${i}`, 5, 1000, 'log', 0);
    store.hit('busy', 5, 1000, 'counter', 1500);
    assert.equal(store.size, 1001);
    assert.equal(store.sweep(1999), 0, 'not idle yet');
    assert.equal(store.sweep(2000), 1000);
    assert.equal(store.size, 1);
    assert.equal(store.sweep(3500), 1);
    assert.equal(store.size, 0);
  });

  test('a short window is swept on its own schedule, not held back by long-window keys touched earlier', () => {
    const store = new MemoryStore({ maxKeys: 100, sweepIntervalMs: 0 });
    store.hit('hourly', 5, 3_600_000, 'counter', 0);
    store.hit('fast', 5, 100, 'log', 10);
    assert.equal(store.sweep(210), 1);
    assert.equal(store.size, 1);
    // The hourly key still remembers its request.
    assert.equal(store.hit('hourly', 5, 3_600_000, 'counter', 300).remaining, 3);
  });

  test('past maxKeys the least recently used key is forgotten, the others keep their counts', () => {
    const store = new MemoryStore({ maxKeys: 3, sweepIntervalMs: 0 });
    store.hit('a', 5, 1000, 'counter', 0);
    store.hit('b', 5, 1000, 'counter', 1);
    store.hit('c', 5, 60_000, 'log', 2);
    store.hit('a', 5, 1000, 'counter', 3); // a is now more recent than b
    store.hit('d', 5, 1000, 'counter', 4);
    assert.equal(store.size, 3);
    assert.equal(store.hit('a', 5, 1000, 'counter', 5).remaining, 2, 'a kept its two requests');
    assert.equal(store.hit('c', 5, 60_000, 'log', 6).remaining, 3, 'c kept its request');
    assert.equal(store.size, 3);
    // b was evicted: it starts afresh (and evicts the then least recent, d).
    assert.equal(store.hit('b', 5, 1000, 'counter', 7).remaining, 4);
    assert.equal(store.size, 3);
  });

  test('maxKeys holds under a flood of distinct keys', () => {
    const store = new MemoryStore({ maxKeys: 1000, sweepIntervalMs: 0 });
    for (let i = 0; i < 50_000; i++) store.hit(`ip-${i}`, 10, 60_000, i % 2 === 0 ? 'counter' : 'log', i);
    assert.equal(store.size, 1000);
  });

  test('a key whose limit changes algorithm starts afresh', () => {
    const store = new MemoryStore({ maxKeys: 10, sweepIntervalMs: 0 });
    store.hit('k', 2, 1000, 'counter', 0);
    store.hit('k', 2, 1000, 'counter', 0);
    assert.equal(store.hit('k', 2, 1000, 'log', 0).allowed, true);
    assert.equal(store.size, 1);
  });

  test('the sweep timer runs by itself', async () => {
    const store = new MemoryStore({ maxKeys: 10, sweepIntervalMs: 20 });
    store.hit('k', 5, 100, 'counter', Date.now());
    await waitFor('the idle key to be swept', () => store.size === 0, 3_000);
    await store.close();
  });

  test('the sweep timer does not keep the process alive', async () => {
    // A child that creates a store and never closes it must still exit on its own.
    const code = `import { MemoryStore } from ${JSON.stringify(new URL('../../gateway/ratelimit/memory-store.ts', import.meta.url).pathname)};
      const s = new MemoryStore({ maxKeys: 10, sweepIntervalMs: 50 }); s.hit('k', 1, 1000, 'counter', Date.now());`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const exitCode = await exited;
    clearTimeout(timeout);
    assert.equal(exitCode, 0, 'the child exited by itself');
  });
});
