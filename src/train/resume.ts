/**
 * Checkpoints of a resumable training run, shared by the classifier trainer and REFINE: the
 * model's parameters (safetensors, PyTorch names), the SGD momentum buffers (safetensors, keyed by
 * parameter name) and a JSON state. The three files change together: a save writes complete
 * `*.new` copies, the state's last (that is the commit point), then renames them into place; a
 * load first finishes a committed save that a kill interrupted (renames the `*.new` files left)
 * and drops an uncommitted one, so a kill at any moment leaves either the previous checkpoint or
 * the new one, never a model of one with the state of the other.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import type { SGD } from '../nn/optim.js';
import { loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../nn/safetensors.js';
import { sweepTempFiles, tempPath } from '../util/files.js';
import { checkParameters, type RunStore } from './run-state.js';

export { checkLoss, checkParameters, checkpointTimer, CHECKPOINT_SECONDS, DivergedError, progressText, type RunStore } from './run-state.js';

/** File names (inside the run folder) of one kind of run. */
export interface RunFiles {
  model: string;
  optimizer: string;
  state: string;
}

const NEW = '.new';

export async function saveRunState(dir: string, files: RunFiles, model: Module, opt: SGD, state: unknown): Promise<void> {
  // a diverged model is never saved: the last good checkpoint stays
  await checkParameters(model, dir, dir);
  await saveCheckpoint(model, join(dir, files.model + NEW));
  const names = new Map([...model.namedParameters()].map(([n, p]) => [p, n]));
  const mom = new Map<string, SafeTensor>();
  for (const [p, buf] of opt.state()) {
    const d = (await buf.read()) as Float32Array;
    mom.set(names.get(p)!, { dtype: 'F32', shape: [buf.size], data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
  }
  writeSafetensors(join(dir, files.optimizer + NEW), mom);
  const f = join(dir, files.state + NEW);
  const tmp = tempPath(f);
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  fsyncFile(tmp);
  renameSync(tmp, f); // the commit point
  fsyncFile(dir);
  finishSave(dir, files);
}

/** Flushes a file or folder to disk (a no-op where the platform cannot fsync a folder). */
function fsyncFile(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // folders cannot be opened for fsync on some platforms; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Puts a committed save's `*.new` files in place (the state last); drops an uncommitted save's. */
function finishSave(dir: string, files: RunFiles): void {
  const committed = existsSync(join(dir, files.state + NEW));
  if (committed) {
    // every file of the save must parse before any of them replaces the last good checkpoint
    for (const name of [files.model, files.optimizer, files.state]) {
      const f = join(dir, name + NEW);
      if (!existsSync(f)) continue;
      try {
        if (name === files.state) JSON.parse(readFileSync(f, 'utf8'));
        else readSafetensors(f);
      } catch (e) {
        throw new Error(`${f}: damaged checkpoint (${(e as Error).message.split('\n')[0]}); nothing was replaced: delete the *${NEW} files in ${dir} to resume from the previous checkpoint`);
      }
    }
  }
  for (const name of [files.model, files.optimizer, files.state]) {
    const f = join(dir, name);
    if (!existsSync(f + NEW)) continue;
    if (committed) renameSync(f + NEW, f);
    else rmSync(f + NEW);
  }
}

/**
 * The state JSON of the run in `dir` (null when there is none) after loading the model and the
 * momentum buffers into `model` and `opt`. `check` sees the state first and throws when it
 * belongs to another configuration (nothing is loaded then). `momentumRestored` is false for a
 * folder without a momentum file (written before momentum was checkpointed, or the file was
 * deleted): momentum then restarts from zero, which the caller says.
 */
export function loadRunState<S>(dir: string, files: RunFiles, model: Module, opt: SGD, check?: (s: S) => void): { state: S; momentumRestored: boolean } | null {
  sweepTempFiles(dir); // what a process killed in the middle of a write left
  finishSave(dir, files);
  const f = join(dir, files.state);
  if (!existsSync(f)) return null;
  let state: S;
  try {
    state = JSON.parse(readFileSync(f, 'utf8')) as S;
  } catch (e) {
    throw new Error(`${f}: damaged run state (${(e as Error).message}); nothing was loaded: delete the folder ${dir} to start the run again`);
  }
  check?.(state);
  loadCheckpoint(model, join(dir, files.model));
  const of = join(dir, files.optimizer);
  if (!existsSync(of)) return { state, momentumRestored: false };
  const { tensors } = readSafetensors(of);
  for (const [name, p] of model.namedParameters()) {
    const t = tensors.get(name);
    if (t) opt.setState(p, tensor(new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)), p.shape));
  }
  return { state, momentumRestored: true };
}


/** The run folder `dir` (created when missing) as the store of a resumable run. */
export function folderStore(dir: string, files: RunFiles): RunStore {
  return {
    where: dir,
    momentumName: files.optimizer,
    load: <S>(model: Module, opt: SGD, check?: (s: S) => void) => {
      mkdirSync(dir, { recursive: true });
      return loadRunState<S>(dir, files, model, opt, check);
    },
    save: (model: Module, opt: SGD, state: unknown) => saveRunState(dir, files, model, opt, state),
  };
}
