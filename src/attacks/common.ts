/**
 * Backdoor attacks (docs/attacks.md): the shared interface, helpers and the registry by name.
 *
 * An attack is created for one image shape (H×W×C) and turns a clean ImageDataset into
 *  - a poisoned training set (`poisonTrain`): a copy of the uint8 store in which the poisoned
 *    samples carry their trigger and (except for clean-label attacks / cover samples) the target
 *    label, plus an optional per-sample train-time transform (PhysicalBA, BATT) for the loader;
 *  - a poisoned test set (`poisonTest`): the test images whose true class is not the target, each
 * with the attack's test trigger and label = target. ASR = accuracy on it (docs/method.md); BA is
 * measured on the clean test set.
 *
 * Triggers that the official code applies to uint8 images (BadNets, WaNet's input, LC, PhysicalBA)
 * act on the store directly. Triggers defined on [0,1] floats after ToTensor (Blended, WaNet's
 * warp, Adaptive-Patch) are computed in float and rounded back to uint8: a deviation of at most
 * 0.5/255 per pixel from the official on-the-fly pipeline, which never rounds.
 *
 * The store keeps the trigger inserted *before* the loader's random flip, as in the official
 * pipeline (so about half the poisoned training images carry a mirrored trigger); BATT's rotation,
 * which comes after the whole transform, lives in `sampleTransform`.
 *
 * Colour triggers on grey (1-channel) images use their luminance (0.2989 R + 0.587 G + 0.114 B);
 * images with another channel count than 1 or 3 take the trigger's channel k mod 3.
 *
 * A new attack: a class extending `BaseAttack` (options with defaults, poisonTrain,
 * applyTestTrigger, params) in its own file, a factory passed to `registerAttack`, and an export
 * in index.ts; `npm run attack -- --attack <name>` and the reproduction pipeline then find it.
 */
import type { Image } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import type { Module } from '../nn/module.js';
import { Rng } from '../util/random.js';

export interface ImageShape {
  h: number;
  w: number;
  c: number;
}

export interface CommonOptions {
  /** target label y_t (0 in the official code) */
  target: number;
  /** seed of the poisoned-index choice and of every seeded trigger */
  seed: number;
}

export interface AttackContext {
  /** normalisation the classifier uses (BATT's fill colour, LC's PGD on normalised inputs) */
  normalization: Normalization | null;
  /** clean (benign) classifier: required by attacks with `needsCleanModel` (LC) */
  cleanModel?: Module;
  /** progress messages (PGD) */
  log?: (msg: string) => void;
}

export type SampleTransform = (img: Image, index: number, rng: Rng) => Image;

export interface PoisonedTrain {
  /** the training set to train on: same size and order as the clean one */
  dataset: ImageDataset;
  /** indices (into dataset) of the poisoned samples */
  poisoned: Int32Array;
  /** Adaptive-Patch: triggered samples that keep their label; WaNet noise mode: the noise samples */
  cover?: Int32Array;
  /** train-time per-sample transform for the loader (after flip, before normalisation) */
  sampleTransform?: SampleTransform;
}

export interface Attack {
  readonly name: string;
  readonly shape: ImageShape;
  readonly target: number;
  /** true when poisonTrain needs ctx.cleanModel */
  readonly needsCleanModel: boolean;
  /**
   * Files poisonTrain caches in ctx.cacheDir (self-validating: each holds the key it was made
   * for), which a run committed from another machine may bring along (LC's PGD images)
   */
  readonly cacheFiles?: readonly string[];
  poisonTrain(train: ImageDataset, ctx: AttackContext): Promise<PoisonedTrain>;
  /** non-target test images with the test trigger, labels = target */
  poisonTest(test: ImageDataset): ImageDataset;
  /** the test trigger applied to one image (a new image) */
  applyTestTrigger(img: Image): Image;
  /** JSON-serialisable parameters (trigger arrays included where small) */
  params(): Record<string, unknown>;
}

/**
 * What the attacks here share: a name, a checked image shape, options merged into the defaults
 * (unknown keys and values of another type rejected), the target, and the poisoned test set built
 * with `applyTestTrigger`. Each attack checks its own option ranges and builds its trigger.
 */
export abstract class BaseAttack<O extends { target: number }> implements Attack {
  readonly needsCleanModel: boolean = false;
  readonly target: number;
  readonly opts: O;
  constructor(
    readonly name: string,
    readonly shape: ImageShape,
    defaults: O,
    opts?: Record<string, unknown>,
  ) {
    checkShape(name, shape);
    this.opts = resolveOptions(name, defaults, opts);
    this.target = this.opts.target;
  }
  abstract poisonTrain(train: ImageDataset, ctx: AttackContext): Promise<PoisonedTrain>;
  abstract applyTestTrigger(img: Image): Image;
  abstract params(): Record<string, unknown>;
  poisonTest(test: ImageDataset): ImageDataset {
    return poisonTestSet(this, test);
  }
}

export interface AttackFactory {
  readonly name: string;
  readonly summary: string;
  /** other accepted names (e.g. 'labelconsistent' for 'lc') */
  readonly aliases?: readonly string[];
  /** `opts` may hold any attack-specific option; unknown keys are rejected */
  create(shape: ImageShape, opts?: Record<string, unknown>): Attack;
}

export const DEFAULT_SEED = 666;

// ---------------------------------------------------------------------------------------------
// option handling

/** Merges user options into defaults, rejecting unknown keys and values of another type. */
export function resolveOptions<T extends object>(attack: string, defaults: T, opts: Record<string, unknown> = {}): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue;
    if (!(k in out)) throw new Error(`${attack}: unknown option '${k}' (options: ${Object.keys(out).join(', ')})`);
    const d = out[k];
    if (d !== null && d !== undefined && typeof d !== typeof v) throw new Error(`${attack}: option '${k}' must be a ${typeof d}, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out as T;
}

export function checkRate(attack: string, name: string, r: number): void {
  if (!(r >= 0 && r <= 1)) throw new Error(`${attack}: ${name} must be in [0, 1], got ${r}`);
}

export function checkShape(attack: string, shape: ImageShape): void {
  const { h, w, c } = shape;
  if (![h, w, c].every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${attack}: invalid image shape ${JSON.stringify(shape)}`);
}

export function checkDatasetShape(attack: Attack, ds: ImageDataset): void {
  const { h, w, c } = attack.shape;
  if (ds.h !== h || ds.w !== w || ds.c !== c) throw new Error(`${attack.name}: created for ${h}x${w}x${c} images, got ${ds.name} with ${ds.h}x${ds.w}x${ds.c}`);
  if (attack.target < 0 || attack.target >= ds.classes.length) throw new Error(`${attack.name}: target ${attack.target} is not a class of ${ds.name} (${ds.classes.length} classes)`);
}

// ---------------------------------------------------------------------------------------------
// index selection

export function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Seeded shuffle of 0..n−1 (the official `random.shuffle(range(N))`). */
export function shuffledIndices(n: number, rng: Rng): Int32Array {
  return rng.shuffle(range(n)) as Int32Array;
}

/** The first floor(n·rate) of a seeded shuffle of 0..n−1, sorted ascending. */
export function choosePoisoned(n: number, rate: number, rng: Rng): Int32Array {
  return shuffledIndices(n, rng).slice(0, Math.floor(n * rate + 1e-9)).sort();
}

// ---------------------------------------------------------------------------------------------
// images

export function imageOf(ds: ImageDataset, i: number): Image {
  const px = ds.h * ds.w * ds.c;
  return { data: ds.images.subarray(i * px, (i + 1) * px), h: ds.h, w: ds.w, c: ds.c };
}

export function cloneDataset(ds: ImageDataset, name = ds.name): ImageDataset {
  // new Uint8Array(x) copies; x.slice() would not when a loader hands out a Node Buffer
  return { ...ds, name, images: new Uint8Array(ds.images), labels: new Uint8Array(ds.labels) };
}

/** Copy of the training set where `fn` rewrites the poisoned images and their labels become `label` (unless null). */
export function poisonCopy(ds: ImageDataset, name: string, indices: ArrayLike<number>, fn: (img: Image, k: number) => Image, label: number | null): ImageDataset {
  const out = cloneDataset(ds, name);
  const px = ds.h * ds.w * ds.c;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const img = fn(imageOf(ds, i), k);
    out.images.set(img.data, i * px);
    if (label !== null) out.labels[i] = label;
  }
  return out;
}

/**
 * The test images whose label ≠ target, each passed through the attack's test trigger (or
 * `opts.trigger`, e.g. one trigger of several alone), labels = target: accuracy on it is the ASR.
 * `opts.limit` keeps the first N such images only (a quick look).
 */
export function poisonTestSet(attack: Attack, test: ImageDataset, opts: { trigger?: (img: Image) => Image; limit?: number; name?: string } = {}): ImageDataset {
  checkDatasetShape(attack, test);
  const trigger = opts.trigger ?? ((img: Image) => attack.applyTestTrigger(img));
  const limit = opts.limit ?? test.n;
  const keepIdx: number[] = [];
  for (let i = 0; i < test.n && keepIdx.length < limit; i++) if (test.labels[i] !== attack.target) keepIdx.push(i);
  const px = test.h * test.w * test.c;
  const images = new Uint8Array(keepIdx.length * px);
  keepIdx.forEach((i, k) => images.set(trigger(imageOf(test, i)).data, k * px));
  return { ...test, name: `${test.name}+${opts.name ?? `${attack.name}-test`}`, images, labels: new Uint8Array(keepIdx.length).fill(attack.target), n: keepIdx.length };
}

/**
 * The ASR by true class: `pred` holds the predictions on `poisonTestSet(attack, test)` (no limit,
 * default order: the non-target test images in test order); returns, per class name other than
 * the target's, the share of its triggered images classified as the target. A backdoor that
 * flips only the classes near the target shows here (Label-Consistent, docs/attacks.md). null when
 * `pred` does not hold one prediction per non-target test image (a test set built otherwise).
 */
export function asrByClass(pred: Int32Array, test: ImageDataset, target: number): Record<string, number> | null {
  const hits = new Array<number>(test.classes.length).fill(0);
  const totals = new Array<number>(test.classes.length).fill(0);
  let k = 0;
  for (let i = 0; i < test.n; i++) {
    const y = test.labels[i]!;
    if (y === target) continue;
    totals[y]!++;
    if (pred[k++] === target) hits[y]!++;
  }
  if (k !== pred.length) return null;
  const out: Record<string, number> = {};
  test.classes.forEach((name, y) => {
    if (y !== target && totals[y]) out[name] = hits[y]! / totals[y]!;
  });
  return out;
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/**
 * x' = (1 − w)·x + w·pattern per pixel, in float, rounded back to uint8. `pattern` is H·W·C in
 * [0, 1]; `weight` is H·W (broadcast over channels) or H·W·C.
 */
export function blend(img: Image, pattern: Float32Array, weight: Float32Array | number): Image {
  const { h, w, c } = img;
  const out = new Uint8Array(img.data.length);
  const perChannel = typeof weight !== 'number' && weight.length === h * w * c;
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < c; k++) {
      const i = p * c + k;
      const a = typeof weight === 'number' ? weight : perChannel ? weight[i]! : weight[p]!;
      const x = img.data[i]!;
      out[i] = a === 0 ? x : clamp255((1 - a) * x + a * 255 * pattern[i]!);
    }
  }
  return { data: out, h, w, c };
}

export const LUMA = [0.2989, 0.587, 0.114];

/**
 * An RGB (3-channel) H×W pattern in [0,1] adapted to c channels: c = 3 unchanged, c = 1 its
 * luminance, other c channel k mod 3.
 */
export function toChannels(rgb: Float32Array, h: number, w: number, c: number): Float32Array {
  if (c === 3) return rgb;
  const out = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    if (c === 1) out[p] = LUMA[0]! * rgb[3 * p]! + LUMA[1]! * rgb[3 * p + 1]! + LUMA[2]! * rgb[3 * p + 2]!;
    else for (let k = 0; k < c; k++) out[p * c + k] = rgb[3 * p + (k % 3)]!;
  }
  return out;
}

/** Nearest-neighbour resize (half-pixel centres) of an H·W·C float array. */
export function resizeNearest(src: Float32Array, h: number, w: number, c: number, oh: number, ow: number): Float32Array {
  if (oh === h && ow === w) return src;
  const out = new Float32Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / oh));
    for (let x = 0; x < ow; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / ow));
      for (let k = 0; k < c; k++) out[(y * ow + x) * c + k] = src[(sy * w + sx) * c + k]!;
    }
  }
  return out;
}

/** Rounds a float array to a given number of decimals for compact JSON. */
export function roundArray(a: ArrayLike<number>, decimals = 6): number[] {
  const f = 10 ** decimals;
  return Array.from(a, (v) => Math.round(v * f) / f);
}

// ---------------------------------------------------------------------------------------------
// registry (filled by the attack modules: import src/attacks/index.ts to get all seven)

const registry = new Map<string, AttackFactory>();
const SPEC_ORDER = ['badnets', 'blended', 'wanet', 'physicalba', 'batt', 'lc', 'adaptive'];

export function registerAttack(f: AttackFactory): void {
  registry.set(f.name, f);
}

export const attacks = {
  /** the factory of an attack by name (case-insensitive; '-' and '_' ignored) */
  get(name: string): AttackFactory {
    const key = normaliseName(name);
    for (const f of registry.values()) if ([f.name, ...(f.aliases ?? [])].some((a) => normaliseName(a) === key)) return f;
    throw new Error(`unknown attack '${name}'; one of: ${attacks.names().join(', ')}`);
  },
  /** registered names, the paper's seven in the order of its Table 1 first */
  names(): string[] {
    const rank = (n: string) => (SPEC_ORDER.indexOf(n) + SPEC_ORDER.length + 1) % (SPEC_ORDER.length + 1);
    return [...registry.keys()].sort((a, b) => rank(a) - rank(b));
  },
  /** shorthand for get(name).create(shape, opts) */
  create(name: string, shape: ImageShape, opts?: Record<string, unknown>): Attack {
    return attacks.get(name).create(shape, opts);
  },
};

function normaliseName(s: string): string {
  return s.toLowerCase().replace(/[-_ ]/g, '');
}
