/**
 * What every training run checks and reports, without file access (it runs in a browser too):
 * divergence (a NaN/Inf loss or weights stop the run), the checkpoint timer, how far a run got,
 * and the store a resumable run checkpoints into (resume.ts: a folder on disk).
 */
import type { Module } from '../nn/module.js';
import type { SGD } from '../nn/optim.js';

/**
 * Where a resumable run keeps its checkpoint: the model, the optimizer's momentum and a JSON
 * state, saved together (all or nothing) and loaded together.
 */
export interface RunStore {
  /** what messages call it (a folder) */
  readonly where: string;
  /** the name of its momentum checkpoint (messages) */
  readonly momentumName: string;
  /**
   * The last checkpoint's state after loading the model and momentum into `model` and `opt`, or
   * null when there is none; `check` sees the state first and throws for another configuration
   * (nothing is loaded then). `momentumRestored` is false when no momentum was saved.
   */
  load<S>(model: Module, opt: SGD, check?: (s: S) => void): { state: S; momentumRestored: boolean } | null;
  /** Saves the three together; weights that hold NaN or Infinity are refused (DivergedError). */
  save(model: Module, opt: SGD, state: unknown): Promise<void>;
}

/** Seconds between checkpoints inside an epoch, unless a run sets its own. */
export const CHECKPOINT_SECONDS = 300;

/**
 * When the next checkpoint inside an epoch is due: `seconds` after the previous one (Infinity:
 * never; 0: after every step).
 */
export function checkpointTimer(seconds = CHECKPOINT_SECONDS): { due(): boolean; saved(): void } {
  let last = performance.now();
  return {
    due: () => (performance.now() - last) / 1000 >= seconds,
    saved: () => {
      last = performance.now();
    },
  };
}

/** How far a checkpointed run got, for a "resuming ..." message: "epoch 2/6 and 280 steps of the next". */
export function progressText(state: { epochsDone?: number; partial?: { steps: number } }, epochs?: number): string {
  const done = `${state.epochsDone ?? '?'}${epochs !== undefined ? `/${epochs}` : ''}`;
  return `epoch ${done}${state.partial ? ` and ${state.partial.steps} steps of the next` : ''}`;
}

/** A training run whose loss became NaN or infinite (the run stops; its last checkpoint stays as it was). */
export class DivergedError extends Error {}

/** Throws DivergedError when a loss is not finite: a diverged run must not go on or save its weights. */
export function checkLoss(loss: number, where: string, outDir?: string): void {
  if (Number.isFinite(loss)) return;
  throw new DivergedError(`${where}: the loss is ${loss}: training diverged and was stopped${outDir ? `; the last good checkpoint in ${outDir} is kept` : ''} (lower the learning rate)`);
}

/**
 * Throws DivergedError when a parameter holds NaN or ±Infinity. Checked before every checkpoint:
 * a loss can stay finite over diverged weights (REFINE clamps T(x) to [0, 1], and clamp maps NaN
 * into that range), so the loss check alone would save a broken model.
 */
export async function checkParameters(module: Module, where: string, outDir?: string): Promise<void> {
  for (const [name, t] of module.stateDict()) {
    const v = (await t.read()) as Float32Array;
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i]!)) {
        throw new DivergedError(`${where}: ${name} holds ${v[i]}: training diverged and was stopped${outDir ? `; the last good checkpoint in ${outDir} is kept` : ''} (lower the learning rate)`);
      }
    }
  }
}
