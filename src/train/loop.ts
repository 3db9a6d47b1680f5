/**
 * The training-loop driver shared by the classifier trainer (trainer.ts) and REFINE
 * (refine/train.ts): resume from a store (a run folder in Node: resume.ts), the epochs,
 * checkpoints inside an epoch on a timer, the progress bar, the per-epoch log line, the
 * checkpoint after every epoch, and the divergence checks. A trainer supplies only its steps and
 * what it logs. No file access here: without a store it runs in a browser.
 *
 * Resuming is exact: a checkpoint inside an epoch stores the steps done and the trainer's running
 * sums, and the trainer's batches resume from that step (the loader replays the random draws of
 * the batches already done), so a killed and resumed run ends where an uninterrupted one ends.
 */
import { rt } from '../tensor/device.js';
import type { Module } from '../nn/module.js';
import type { SGD } from '../nn/optim.js';
import { checkParameters, checkpointTimer, progressText, type RunStore } from './run-state.js';

/** What every run's state file holds; a trainer adds its own fields (a config hash, a mapping). */
export interface LoopState<Log> {
  epochsDone: number;
  history: Log[];
  wallSeconds: number;
  /** the unfinished epoch `epochsDone` (0-indexed): steps done, seconds spent and the trainer's running sums */
  partial?: { steps: number; seconds: number } & Record<string, unknown>;
}

/** A run folder opened for training: the state to continue from. */
export interface OpenedRun<S> {
  state: S;
  /** where the run was picked up ("epoch 2/6 and 280 steps of the next"); undefined for a fresh run */
  resumedAt?: string;
}

/**
 * Loads the last checkpoint of `store` into `model` and `opt` when there is one (`check` sees its
 * state first and throws for another configuration; nothing is loaded then), else returns
 * `initial`. Says where it resumed unless `quiet`.
 */
export function openRun<S extends LoopState<unknown>>(
  store: RunStore | undefined,
  model: Module,
  opt: SGD,
  initial: S,
  o: { label: string; epochs: number; quiet?: boolean; check?: (s: S) => void },
): OpenedRun<S> {
  if (!store) return { state: initial };
  const loaded = store.load<S>(model, opt, o.check);
  if (!loaded) return { state: initial };
  const resumedAt = progressText(loaded.state, o.epochs);
  if (!o.quiet) {
    const finished = loaded.state.epochsDone >= o.epochs && !loaded.state.partial;
    // a finished run takes no more steps, so its momentum does not matter
    if (finished) console.error(`${o.label} in ${store.where}: finished (${resumedAt}), nothing left to train`);
    else console.error(`resuming ${o.label} in ${store.where} after ${resumedAt}${loaded.momentumRestored ? '' : ` (no momentum checkpoint ${store.momentumName}: momentum restarts from zero)`}`);
  }
  return { state: loaded.state, resumedAt };
}

/** A progress display for one epoch (Node: util/progress.ts's bar; a page: its own). */
export interface ProgressBar {
  update(step: number, text: string): void;
  stop(): void;
}
export type ProgressFactory = (label: string, total: number) => ProgressBar;

/** One epoch as the trainer runs it. */
export interface EpochSteps {
  /** runs the optimizer steps from the given one; yields the progress text after each */
  steps: AsyncIterable<string>;
  /** makes the running sums current (results still on the GPU read back); before a checkpoint and at the end */
  flush?: () => Promise<void>;
}

export interface LoopSpec<Sums extends Record<string, unknown>, Log> {
  /** 'train', 'REFINE': progress bars, messages */
  label: string;
  epochs: number;
  stepsPerEpoch: number;
  model: Module;
  opt: SGD;
  /** where checkpoints go (none: the run is not resumable) */
  store?: RunStore;
  /** the per-epoch progress display (none when unset or quiet) */
  progress?: ProgressFactory;
  quiet?: boolean;
  /** seconds between checkpoints inside an epoch (checkpointTimer's default when unset; Infinity: none) */
  checkpointSeconds?: number;
  /** called after each checkpoint inside an epoch is written (tests; throwing stops the run) */
  onCheckpoint?: (epoch: number, steps: number) => void;
  /** the running sums of a fresh epoch */
  zeroSums(): Sums;
  /** epoch `epoch` (0-indexed) from step `fromStep`, adding into `sums` */
  epoch(epoch: number, fromStep: number, sums: Sums): EpochSteps;
  /** the epoch's log from its sums (evaluations go here) */
  endEpoch(epoch: number, sums: Sums, seconds: number): Promise<Log>;
  /** the line printed after each epoch */
  describe(log: Log): string;
  /** called after each epoch's checkpoint is written */
  onEpochEnd?: (log: Log) => void;
}

/**
 * Trains from `state` to `spec.epochs`, updating `state` (history, epochs done, wall time) and
 * checkpointing it with the model and momentum into `spec.store`. Weights that became NaN or
 * infinite stop the run with DivergedError before they are saved (checked at every checkpoint,
 * and at every epoch end when there is no run folder). The optimizer is disposed at the end.
 */
export async function runEpochs<Sums extends Record<string, unknown>, Log>(state: LoopState<Log>, spec: LoopSpec<Sums, Log>): Promise<void> {
  const { store, model, opt } = spec;
  try {
    for (let epoch = state.epochsDone; epoch < spec.epochs; epoch++) {
      const { steps: from, seconds: before, ...saved } = state.partial ?? { steps: 0, seconds: 0 };
      delete state.partial;
      const sums = from > 0 ? (saved as Sums) : spec.zeroSums();
      const t0 = performance.now() - 1000 * before;
      const bar = spec.quiet || !spec.progress ? null : spec.progress(`${spec.label} epoch ${epoch + 1}/${spec.epochs}`, spec.stepsPerEpoch);
      const timer = checkpointTimer(spec.checkpointSeconds);
      const run = spec.epoch(epoch, from, sums);
      let step = from;
      for await (const text of run.steps) {
        step++;
        if (store && step < spec.stepsPerEpoch && timer.due()) {
          await run.flush?.();
          const partial = { ...sums, steps: step, seconds: (performance.now() - t0) / 1000 };
          await store.save(model, opt, { ...state, partial });
          timer.saved();
          spec.onCheckpoint?.(epoch, step);
        }
        bar?.update(step, text);
      }
      await run.flush?.();
      opt.zeroGrad();
      await rt().sync();
      bar?.stop();
      if (!store) await checkParameters(model, `${spec.label} epoch ${epoch + 1}`);
      const seconds = (performance.now() - t0) / 1000;
      const log = await spec.endEpoch(epoch, sums, seconds);
      state.history.push(log);
      state.epochsDone = epoch + 1;
      state.wallSeconds += seconds;
      if (!spec.quiet) console.error(spec.describe(log));
      if (store) await store.save(model, opt, state);
      spec.onEpochEnd?.(log);
    }
  } finally {
    opt.dispose();
  }
}
