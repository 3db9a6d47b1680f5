import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Progress } from '../../src/util/progress.js';

/** Lines a Progress prints (as in a log file: stderr not a terminal), at the times given. */
function lines(run: (p: Progress, at: (ms: number) => void) => void): string[] {
  const out: string[] = [];
  const { error } = console;
  const now = Date.now;
  const tty = process.stderr.isTTY;
  let t = 1_000_000;
  try {
    console.error = (s: string) => out.push(s);
    Date.now = () => t;
    process.stderr.isTTY = false;
    run(new Progress('epoch 1/3', 100), (ms) => (t += ms));
  } finally {
    console.error = error;
    Date.now = now;
    process.stderr.isTTY = tty;
  }
  return out;
}

test('progress resumed at step 60: rate and ETA from the steps this process did', () => {
  const out = lines((p, at) => {
    p.update(61);
    at(10_000);
    p.update(71); // 10 steps in 10 s: 30 steps left
  });
  assert.equal(out, ['epoch 1/3: 61.0% 61/100', 'epoch 1/3: 71.0% 71/100 1.00 it/s ETA 29s']);
});

test('progress from the start: lines every 5 s and at the end', () => {
  const out = lines((p, at) => {
    p.update(1, 'loss 2.3');
    at(1000);
    p.update(2); // under 5 s since the last line: not printed
    at(4001);
    p.update(5);
    at(2000);
    p.update(100);
  });
  assert.is(out.length, 3);
  assert.is(out[1], 'epoch 1/3: 5.0% 5/100 0.80 it/s ETA 119s');
  assert.match(out[2], /^epoch 1\/3: 100\.0% 100\/100 14\.\d\d it\/s ETA 0s$/);
});

test.run();
