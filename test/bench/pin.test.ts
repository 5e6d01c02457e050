// `--pin`: the split of the cores, and real processes confined to their cpus (what the kernel reports in
// /proc/<pid>/status), the contender's through spawnChild, the orchestrator's through taskset -a -p.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { allowedCpus, corePlan, pinProcess } from '../../bench/lib/pin.js';
import { spawnChild, stopChild } from '../../bench/lib/proc.js';

const twoCores = availableParallelism() >= 2 ? false : 'needs 2 cores';

describe('bench --pin', () => {
  test('the contender gets the last core, the rest the others; one core is refused', () => {
    assert.deepEqual(corePlan(2), { contender: '1', rest: '0' });
    assert.deepEqual(corePlan(8), { contender: '7', rest: '0-6' });
    assert.throws(() => corePlan(1), /--pin needs 2 cores at least .* this machine has 1/);
  });

  test('a child started with cpus runs only there, under its own pid', { skip: twoCores }, async () => {
    const child = spawnChild(
      'pinned',
      process.execPath,
      ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'],
      {
        cpus: '1',
      },
    );
    try {
      const pidLine = await new Promise<string>((resolve) =>
        child.proc.stdout!.once('data', (b) => resolve(String(b))),
      );
      assert.equal(
        Number(pidLine.trim()),
        child.pid,
        'taskset execs the command: the sampled pid is the contender',
      );
      assert.equal(await allowedCpus(child.pid), '1');
    } finally {
      await stopChild(child);
    }
  });

  test('pinning a running process moves it and the children it starts later', {
    skip: twoCores,
  }, async () => {
    // A parent that starts a child once told to (on stdin), both printing their pids.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `console.log(process.pid);
         process.stdin.once('data', () => {
           const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
           console.log(c.pid);
         });
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: parent.stdout })[Symbol.asyncIterator]();
    const nextLine = async () => String((await lines.next()).value);
    let grandchild = 0;
    try {
      const pid = Number(await nextLine());
      await pinProcess(pid, '0');
      assert.equal(await allowedCpus(pid), '0');
      parent.stdin.write('go\n');
      grandchild = Number(await nextLine());
      assert.equal(await allowedCpus(grandchild), '0');
    } finally {
      if (grandchild > 0) process.kill(grandchild, 'SIGKILL');
      parent.kill('SIGKILL');
    }
  });

  test('a pid that does not exist is a clear error', async () => {
    await assert.rejects(pinProcess(2 ** 22 + 12345, '0'), /--pin: taskset could not pin pid \d+ to cpus 0/);
  });
});
