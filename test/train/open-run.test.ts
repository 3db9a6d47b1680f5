import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openRun, type LoopState } from '../../src/train/loop.js';
import type { RunStore } from '../../src/train/run-state.js';
import type { Module } from '../../src/nn/module.js';
import type { SGD } from '../../src/nn/optim.js';

/** A store whose last checkpoint is `state` (nothing is loaded into the model), without momentum. */
const store = (state: LoopState<unknown>): RunStore => ({
  where: 'runs/x',
  momentumName: 'o.safetensors',
  load: <S>() => ({ state: state as S, momentumRestored: false }),
  save: async () => {},
});

function messages(state: LoopState<unknown>): string[] {
  const out: string[] = [];
  const { error } = console;
  console.error = (s: string) => out.push(s);
  try {
    openRun(store(state), {} as Module, {} as SGD, { epochsDone: 0, history: [], wallSeconds: 0 }, { label: 'distill', epochs: 4 });
  } finally {
    console.error = error;
  }
  return out;
}

test('openRun: an unfinished run says where it resumes and that momentum restarts; a finished one says it is finished', () => {
  assert.equal(messages({ epochsDone: 2, history: [], wallSeconds: 1, partial: { steps: 5, seconds: 1 } }), [
    'resuming distill in runs/x after epoch 2/4 and 5 steps of the next (no momentum checkpoint o.safetensors: momentum restarts from zero)',
  ]);
  assert.equal(messages({ epochsDone: 4, history: [], wallSeconds: 1 }), ['distill in runs/x: finished (epoch 4/4), nothing left to train']);
});

test.run();
