/**
 * Batches from an ImageDataset: seeded shuffling per epoch, optional augmentation, and
 * normalisation into a float NHWC array ready for `tensor()`.
 */
import { Rng } from '../util/random.js';
import { augment, type AugmentSpec, type Image } from './augment.js';
import type { ImageDataset, Normalization } from './dataset.js';

export interface Batch {
  /** normalised pixels, NHWC */
  x: Float32Array;
  y: Int32Array;
  indices: Int32Array;
  shape: [number, number, number, number];
}

export function imageAt(ds: ImageDataset, i: number): Image {
  const px = ds.h * ds.w * ds.c;
  return { data: ds.images.subarray(i * px, (i + 1) * px), h: ds.h, w: ds.w, c: ds.c };
}

/** (x/255 − mean[c]) / std[c] into `out` at `offset`; no normalisation maps to [0, 1]. */
export function normalizeInto(img: Image, norm: Normalization | null, out: Float32Array, offset: number): void {
  const { c } = img;
  const n = img.h * img.w;
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < c; k++) {
      const v = img.data[p * c + k]! / 255;
      out[offset + p * c + k] = norm ? (v - norm.mean[k]!) / norm.std[k]! : v;
    }
  }
}

export interface LoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  dropLast?: boolean;
  seed?: number;
  augment?: AugmentSpec;
  /**
   * Extra per-sample transform after `augment` (e.g. an attack's train-time transform: PhysicalBA's
   * physical distortions, BATT's rotations of benign images). `index` is the sample's dataset index.
   */
  sampleTransform?: (img: Image, index: number, rng: Rng) => Image;
  normalization?: Normalization | null;
}

/**
 * An epoch's batches; each epoch number gives its own (reproducible) order and augmentation.
 * `startBatch` skips the first batches (a run resumed inside an epoch) but still makes their
 * random draws, so the batches that follow are those of an uninterrupted epoch.
 */
export function* batches(ds: ImageDataset, epoch: number, opts: LoaderOptions, startBatch = 0): Generator<Batch> {
  const rng = new Rng(((opts.seed ?? 0) * 1000003 + epoch * 7919) >>> 0);
  const order = Int32Array.from({ length: ds.n }, (_, i) => i);
  if (opts.shuffle) rng.shuffle(order);
  const B = opts.batchSize;
  const count = opts.dropLast ? Math.floor(ds.n / B) : Math.ceil(ds.n / B);
  const px = ds.h * ds.w * ds.c;
  const transformed = (i: number): Image => {
    let img = imageAt(ds, i);
    if (opts.augment) img = augment(img, opts.augment, rng);
    if (opts.sampleTransform) img = opts.sampleTransform(img, i, rng);
    return img;
  };
  for (let b = 0; b < count; b++) {
    const idx = order.subarray(b * B, Math.min(ds.n, (b + 1) * B));
    if (b < startBatch) {
      if (opts.augment || opts.sampleTransform) idx.forEach((i) => transformed(i));
      continue;
    }
    const x = new Float32Array(idx.length * px);
    const y = new Int32Array(idx.length);
    idx.forEach((i, k) => {
      normalizeInto(transformed(i), opts.normalization ?? null, x, k * px);
      y[k] = ds.labels[i]!;
    });
    yield { x, y, indices: Int32Array.from(idx), shape: [idx.length, ds.h, ds.w, ds.c] };
  }
}

export function batchCount(ds: ImageDataset, opts: Pick<LoaderOptions, 'batchSize' | 'dropLast'>): number {
  return opts.dropLast ? Math.floor(ds.n / opts.batchSize) : Math.ceil(ds.n / opts.batchSize);
}
