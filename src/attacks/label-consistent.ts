/**
 * Label-Consistent (LC; docs/attacks.md): a clean-label attack. floor(rate · #target-class training
 * images) target-class images, chosen by a seeded shuffle, are replaced by adversarial versions
 * (untargeted PGD against a clean model: they become hard to classify from their content) and get
 * the BadNets trigger; their labels stay (= target). Every other training image is untouched. Rate
 * 0.25 for images up to 64 px (CIFAR: 1,250 images), 1.0 above (ImageNet50), unless given. Test
 * trigger: BadNets on the non-target test images.
 *
 * PGD (torchattacks-style): maximise CE(F(normalise(x)), y) with x ∈ [0,1]; ε = 8/255, step
 * α = 1.5/255, 100 steps, no random start; x ← x + α·sign(∇), δ = clamp(x − x0, −ε, ε),
 * x = clamp(x0 + δ, 0, 1); the model in eval mode, frozen (gradients flow to the input only).
 * Result quantised as uint8(x·255) (truncation, like the official code; a 1e-6 guard keeps
 * float noise from turning an unperturbed k/255 into k − 1). The forward/backward passes run on
 * the GPU in batches; the sign/step/projection (cheap) runs on the host in float64.
 *
 * Deviation (an official-code quirk, implemented cleanly): the official code feeds PGD
 * un-normalised [0,1] images although the model expects normalised input; here the model sees
 * normalise(x). Since normalisation is a positive per-channel scaling plus shift,
 * sign(∇x) = sign(∇ normalise(x)). The official LC model is fine-tuned from the clean model's
 * weights; `scripts/attack.ts` does the same by default (`--lc-init benign`), `--lc-init scratch`
 * trains from a fresh initialisation.
 *
 * The PGD result can be cached in a folder (`ctx.cacheDir`): a rerun (e.g. resuming a killed
 * training) reuses it when the key (seed, rate, PGD settings, dataset, clean model) matches, and a
 * run at another rate copies the images it shares with a cached one (`ctx.cacheSources`) and
 * attacks only the rest.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { readJson, writeFileAtomic } from '../util/files.js';
import { join } from 'node:path';
import type { Image } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { backward } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../ops/loss.js';
import { Rng } from '../util/random.js';
import { applyBadnets, type BadNetsTrigger, badnetsTrigger } from './badnets.js';
import {
  type AttackContext,
  type AttackFactory,
  type ImageShape,
  BaseAttack,
  checkDatasetShape,
  checkRate,
  DEFAULT_SEED,
  poisonCopy,
  registerAttack,
} from './common.js';

export interface PgdOptions {
  eps: number;
  alpha: number;
  steps: number;
  batchSize: number;
  normalization: Normalization | null;
  log?: (msg: string) => void;
  /** resume: the first `done` images of `out` are finished (PGD is per image: exact) */
  resume?: { done: number; out: Uint8Array };
  /** after each batch: images finished so far and the output buffer (for a partial checkpoint) */
  onBatch?: (done: number, out: Uint8Array) => void;
}

/**
 * Untargeted L∞ PGD on uint8 NHWC images against `labels`; returns the quantised adversarial
 * images (same layout). The model's train/eval mode and parameter flags are restored afterwards.
 */
export async function pgdAttack(model: Module, images: Uint8Array, labels: ArrayLike<number>, shape: ImageShape, opts: PgdOptions): Promise<Uint8Array> {
  const { h, w, c } = shape;
  const px = h * w * c;
  const n = labels.length;
  if (images.length !== n * px) throw new Error(`pgdAttack: ${images.length} bytes for ${n} images of ${h}x${w}x${c}`);
  const out = new Uint8Array(images.length);
  const start = opts.resume ? Math.min(n, opts.resume.done) : 0;
  if (opts.resume) {
    if (opts.resume.out.length !== out.length) throw new Error(`pgdAttack: resume buffer of ${opts.resume.out.length} bytes, want ${out.length}`);
    out.set(opts.resume.out.subarray(0, start * px));
  }
  const wasTraining = model.training;
  const flags = [...model.parameters()].map((p) => p.requiresGrad);
  model.eval();
  model.freeze();
  const mean = Array.from({ length: c }, (_, k) => opts.normalization?.mean[k] ?? 0);
  const std = Array.from({ length: c }, (_, k) => opts.normalization?.std[k] ?? 1);
  const t0 = performance.now();
  try {
    // each image's gradient sign is independent of the rest of its batch (eval-mode BN, a mean
    // loss), so resuming mid-way gives the same images as an uninterrupted run
    for (let b0 = start; b0 < n; b0 += opts.batchSize) {
      const bn = Math.min(opts.batchSize, n - b0);
      const x0 = new Float64Array(bn * px);
      for (let i = 0; i < x0.length; i++) x0[i] = images[b0 * px + i]! / 255;
      const x = Float64Array.from(x0);
      const y = Int32Array.from({ length: bn }, (_, i) => labels[b0 + i]!);
      const xn = new Float32Array(bn * px);
      for (let step = 0; step < opts.steps; step++) {
        for (let i = 0; i < xn.length; i++) {
          const k = i % c;
          xn[i] = (x[i]! - mean[k]!) / std[k]!;
        }
        const xt = tensor(xn, [bn, h, w, c]);
        xt.requiresGrad = true;
        try {
          scope(() => {
            backward(crossEntropy(model.forward(xt), y));
          });
          if (!xt.grad) throw new Error('pgdAttack: no gradient reached the input');
          const g = (await xt.grad.read()) as Float32Array;
          for (let i = 0; i < x.length; i++) {
            const s = g[i]! > 0 ? 1 : g[i]! < 0 ? -1 : 0;
            const d = Math.max(-opts.eps, Math.min(opts.eps, x[i]! + opts.alpha * s - x0[i]!));
            x[i] = Math.max(0, Math.min(1, x0[i]! + d));
          }
        } finally {
          xt.grad?.dispose();
          xt.grad = null;
          xt.dispose();
        }
      }
      for (let i = 0; i < x.length; i++) out[b0 * px + i] = Math.min(255, Math.floor(x[i]! * 255 + 1e-6));
      opts.onBatch?.(b0 + bn, out);
      opts.log?.(`PGD: ${b0 + bn}/${n} images, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    [...model.parameters()].forEach((p, i) => (p.requiresGrad = flags[i]!));
    model.train(wasTraining);
  }
  return out;
}

export interface LabelConsistentOptions {
  target: number;
  seed: number;
  /** fraction of the target-class training images poisoned; null = 0.25 up to 64 px, else 1.0 */
  rate: number | null;
  eps: number;
  alpha: number;
  steps: number;
  /** PGD batch size */
  batchSize: number;
  largePatch: number;
}

export const LC_DEFAULTS: LabelConsistentOptions = {
  target: 0,
  seed: DEFAULT_SEED,
  rate: null,
  eps: 8 / 255,
  alpha: 1.5 / 255,
  steps: 100,
  batchSize: 128,
  largePatch: 20,
};

export interface LcContext extends AttackContext {
  /** folder for the PGD cache (lc-adversarial.bin + lc-adversarial.json) */
  cacheDir?: string;
  /** identifies the clean model in the cache key (e.g. its checkpoint path and accuracy) */
  cleanModelId?: string;
  /**
   * other folders whose finished PGD images are reused when their key matches (runs of the same
   * attack with another training recipe: the PGD step does not depend on it); copied into cacheDir
   */
  cacheSources?: string[];
}

export class LabelConsistent extends BaseAttack<LabelConsistentOptions> {
  override readonly needsCleanModel = true;
  readonly cacheFiles = LC_CACHE_FILES;
  readonly rate: number;
  readonly trigger: BadNetsTrigger;
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super('lc', shape, LC_DEFAULTS, opts);
    this.rate = this.opts.rate ?? (Math.max(shape.h, shape.w) <= 64 ? 0.25 : 1.0);
    checkRate(this.name, 'rate', this.rate);
    const { eps, alpha, steps, batchSize } = this.opts;
    if (!(eps >= 0) || !(alpha > 0) || !(Number.isInteger(steps) && steps >= 0) || !(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new Error(`lc: invalid PGD settings eps ${eps}, alpha ${alpha}, steps ${steps}, batchSize ${batchSize}`);
    }
    this.trigger = badnetsTrigger(shape.h, shape.w, this.opts.seed, this.opts.largePatch);
  }

  /**
   * The (sorted) target-class training indices that get poisoned: the first floor(rate · #class)
   * of a seeded shuffle, so a lower rate's choice is part of a higher one's.
   */
  chooseIndices(train: ImageDataset, rate = this.rate): Int32Array {
    const cls: number[] = [];
    for (let i = 0; i < train.n; i++) if (train.labels[i] === this.target) cls.push(i);
    const idx = Int32Array.from(cls);
    new Rng(this.opts.seed).shuffle(idx);
    return idx.slice(0, Math.floor(idx.length * rate + 1e-9)).sort();
  }

  /**
   * Finished PGD images of runs at another rate, their key otherwise equal to `key` (same seed,
   * PGD settings, data and clean model), in `dirs`: training index → image. PGD is per image, so
   * raising the rate (e.g. to 1) only attacks the images the earlier run did not.
   */
  cachedAtOtherRates(train: ImageDataset, key: string, dirs: string[]): Map<number, Uint8Array> {
    const px = train.h * train.w * train.c;
    const rest = (k: Record<string, unknown>) => JSON.stringify({ ...k, rate: undefined, count: undefined });
    const want = rest(JSON.parse(key) as Record<string, unknown>);
    const found = new Map<number, Uint8Array>();
    for (const dir of dirs) {
      const k = readJson<Record<string, unknown>>(join(dir, 'lc-adversarial.json'));
      if (!k || typeof k.rate !== 'number' || k.rate === this.rate || rest(k) !== want) continue;
      const idx = this.chooseIndices(train, k.rate);
      const data = readCache(dir, JSON.stringify(k), idx.length * px);
      if (!data || idx.length !== k.count) continue;
      idx.forEach((i, j) => {
        if (!found.has(i)) found.set(i, data.subarray(j * px, (j + 1) * px));
      });
    }
    return found;
  }

  async poisonTrain(train: ImageDataset, ctx: LcContext) {
    checkDatasetShape(this, train);
    const poisoned = this.chooseIndices(train);
    const px = train.h * train.w * train.c;
    const key = JSON.stringify({ ...this.opts, rate: this.rate, dataset: train.name, n: train.n, shape: this.shape, count: poisoned.length, model: ctx.cleanModelId ?? null, norm: ctx.normalization });
    const dir = ctx.cacheDir;
    let adv = dir ? readCache(dir, key, poisoned.length * px) : null;
    if (adv) ctx.log?.(`LC: reusing the PGD images cached in ${dir}`);
    for (const src of adv ? [] : (ctx.cacheSources ?? [])) {
      adv = readCache(src, key, poisoned.length * px);
      if (!adv) continue;
      ctx.log?.(`LC: reusing the PGD images of ${src} (same key)`);
      if (dir) writeCache(dir, key, adv);
      break;
    }
    const advImages = adv ?? (await this.attackChosen(train, poisoned, key, ctx));
    const dataset = poisonCopy(
      train,
      `${train.name}+${this.name}`,
      poisoned,
      (img, k) => applyBadnets({ ...img, data: advImages.subarray(k * px, (k + 1) * px) }, this.trigger),
      null,
    );
    return { dataset, poisoned };
  }

  /**
   * The PGD images of the chosen training images (in `poisoned` order): those a run at another
   * rate finished are copied, PGD attacks the rest (resumable from ctx.cacheDir), the result is
   * cached there.
   */
  private async attackChosen(train: ImageDataset, poisoned: Int32Array, key: string, ctx: LcContext): Promise<Uint8Array> {
    const px = train.h * train.w * train.c;
    const dir = ctx.cacheDir;
    const known = this.cachedAtOtherRates(train, key, [...(dir ? [dir] : []), ...(ctx.cacheSources ?? [])]);
    const adv = new Uint8Array(poisoned.length * px);
    const todo: number[] = []; // positions in `poisoned` still to attack
    poisoned.forEach((i, k) => {
      const img = known.get(i);
      if (img) adv.set(img, k * px);
      else todo.push(k);
    });
    const reused = poisoned.length - todo.length;
    if (reused) ctx.log?.(`LC: reusing ${reused} PGD images of runs at other rates (same key otherwise)`);
    if (todo.length) {
      if (!ctx.cleanModel) throw new Error('lc: poisonTrain needs a clean model (ctx.cleanModel) for its PGD step');
      const clean = new Uint8Array(todo.length * px);
      todo.forEach((k, j) => clean.set(train.images.subarray(poisoned[k]! * px, (poisoned[k]! + 1) * px), j * px));
      // the progress file belongs to this split into reused and attacked images
      const partialKey = reused ? JSON.stringify({ key, reused }) : key;
      const resume = dir ? readPartial(dir, partialKey, clean.length) : null;
      ctx.log?.(
        `LC: PGD on ${todo.length} target-class images (${this.opts.steps} steps, eps ${(this.opts.eps * 255).toFixed(2)}/255)` +
          (resume ? `, resuming after ${resume.done} from ${dir}` : ''),
      );
      const attacked = await pgdAttack(ctx.cleanModel, clean, new Int32Array(todo.length).fill(this.target), this.shape, {
        eps: this.opts.eps,
        alpha: this.opts.alpha,
        steps: this.opts.steps,
        batchSize: this.opts.batchSize,
        normalization: ctx.normalization,
        log: ctx.log,
        resume: resume ?? undefined,
        onBatch: dir ? (done, out) => writePartial(dir, partialKey, done, out) : undefined,
      });
      todo.forEach((k, j) => adv.set(attacked.subarray(j * px, (j + 1) * px), k * px));
    }
    if (dir) {
      writeCache(dir, key, adv);
      removePartial(dir);
    }
    return adv;
  }
  applyTestTrigger(img: Image): Image {
    return applyBadnets(img, this.trigger);
  }
  params() {
    return { attack: this.name, ...this.opts, rate: this.rate, trigger: this.trigger, shape: this.shape, pgd: 'untargeted L-inf on normalise(x), no random start, uint8 truncation' };
  }
}

function readCache(dir: string, key: string, bytes: number): Uint8Array | null {
  const meta = join(dir, 'lc-adversarial.json');
  const bin = join(dir, 'lc-adversarial.bin');
  if (!existsSync(meta) || !existsSync(bin)) return null;
  if (readFileSync(meta, 'utf8') !== key) return null;
  const data = readFileSync(bin);
  return data.length === bytes ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
}

function writeCache(dir: string, key: string, data: Uint8Array): void {
  writeFileAtomic(join(dir, 'lc-adversarial.bin'), data);
  writeFileAtomic(join(dir, 'lc-adversarial.json'), key);
}

// PGD progress of an interrupted run: the output buffer so far and {key, done} (the bin first,
// then the json, so that the json never claims images the bin does not hold)
const PARTIAL_BIN = 'lc-adversarial.partial.bin';
const PARTIAL_META = 'lc-adversarial.partial.json';

function readPartial(dir: string, key: string, bytes: number): { done: number; out: Uint8Array } | null {
  const m = readJson<{ key?: string; done?: number }>(join(dir, PARTIAL_META));
  const bin = join(dir, PARTIAL_BIN);
  if (!m || m.key !== key || !Number.isInteger(m.done) || !existsSync(bin)) return null;
  const data = readFileSync(bin);
  return data.length === bytes ? { done: m.done!, out: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } : null;
}

function writePartial(dir: string, key: string, done: number, out: Uint8Array): void {
  writeFileAtomic(join(dir, PARTIAL_BIN), out);
  writeFileAtomic(join(dir, PARTIAL_META), JSON.stringify({ key, done }));
}

function removePartial(dir: string): void {
  for (const f of [PARTIAL_BIN, PARTIAL_META]) rmSync(join(dir, f), { force: true });
}

/** The LC cache files (finished PGD images, or the progress of an unfinished PGD) of a run folder. */
export const LC_CACHE_FILES = ['lc-adversarial.bin', 'lc-adversarial.json', PARTIAL_BIN, PARTIAL_META];

export const labelConsistent: AttackFactory = {
  name: 'lc',
  aliases: ['label-consistent', 'labelconsistent'],
  summary: 'Label-Consistent: PGD (eps 8/255) on a share of the target class (rate 0.25) + BadNets trigger, labels kept',
  create: (shape, opts) => new LabelConsistent(shape, opts),
};
registerAttack(labelConsistent);
