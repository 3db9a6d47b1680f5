/**
 * The in-memory image store every dataset becomes: uint8 pixels in NHWC order plus labels and
 * class names. Node-side (loading reads files); the engine and the defense take tensors.
 */
import { Rng } from '../util/random.js';
export interface ImageDataset {
  name: string;
  /** N·H·W·C bytes, NHWC */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  h: number;
  w: number;
  c: number;
  classes: string[];
}

export interface Split {
  train: ImageDataset;
  test: ImageDataset;
}

/** Per-channel normalisation (x/255 − mean) / std; the classifiers have no normalisation layer. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export const NORMALIZATION: Record<string, Normalization> = {
  // the official code's constants (docs/method.md, "The models")
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  // the training set's own pixel mean and std (computed over all 60k·784 pixels)
  'fashion-mnist': { mean: [0.286], std: [0.353] },
};

export function checkDataset(ds: ImageDataset): ImageDataset {
  const { n, h, w, c } = ds;
  if (ds.images.length !== n * h * w * c) throw new Error(`${ds.name}: ${ds.images.length} pixel bytes for ${n}x${h}x${w}x${c}`);
  if (ds.labels.length !== n) throw new Error(`${ds.name}: ${ds.labels.length} labels for ${n} images`);
  for (let i = 0; i < n; i++) {
    if (ds.labels[i]! >= ds.classes.length) throw new Error(`${ds.name}: label ${ds.labels[i]} of image ${i} is out of range (${ds.classes.length} classes)`);
  }
  return ds;
}

/** A new dataset holding the given images (copied), in the given order. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const px = ds.h * ds.w * ds.c;
  const images = new Uint8Array(indices.length * px);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (i < 0 || i >= ds.n) throw new Error(`subset: index ${i} out of range for ${ds.n} images`);
    images.set(ds.images.subarray(i * px, (i + 1) * px), k * px);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, name, images, labels, n: indices.length };
}

/** A seeded subset of n images (sorted indices), the whole set when n is undefined or ≥ size. */
export function seededSubset(ds: ImageDataset, n: number | undefined, seed: number, name?: string): ImageDataset {
  if (n === undefined || n >= ds.n) return ds;
  const idx = (new Rng(seed).shuffle(Int32Array.from({ length: ds.n }, (_, i) => i)) as Int32Array).slice(0, n).sort();
  return subset(ds, idx, name ?? `${ds.name}[${n}]`);
}

/** An RGBA image as a canvas gives it (`ImageData`: width, height, 4 bytes per pixel). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * A dataset from RGBA images of one size (canvas ImageData in a browser): grey (ITU-R 601 luma,
 * rounded) for `c` = 1, RGB for 3; labels default to 0 (unlabeled data).
 */
export function datasetFromImages(images: RgbaImage[], o: { c: 1 | 3; classes: string[]; labels?: ArrayLike<number>; name?: string }): ImageDataset {
  const name = o.name ?? 'images';
  if (images.length === 0) throw new Error(`${name}: no images`);
  const { width: w, height: h } = images[0]!;
  const px = h * w * o.c;
  const out = new Uint8Array(images.length * px);
  images.forEach((img, i) => {
    if (img.width !== w || img.height !== h) throw new Error(`${name}: image ${i} is ${img.width}×${img.height}, image 0 is ${w}×${h}`);
    if (img.data.length !== 4 * w * h) throw new Error(`${name}: image ${i} has ${img.data.length} bytes, not RGBA ${w}×${h}`);
    const d = img.data;
    for (let p = 0; p < w * h; p++) {
      if (o.c === 3) out.set([d[4 * p]!, d[4 * p + 1]!, d[4 * p + 2]!], i * px + 3 * p);
      else out[i * px + p] = Math.round(0.299 * d[4 * p]! + 0.587 * d[4 * p + 1]! + 0.114 * d[4 * p + 2]!);
    }
  });
  if (o.labels && o.labels.length !== images.length) throw new Error(`${name}: ${o.labels.length} labels for ${images.length} images`);
  return checkDataset({ name, images: out, labels: Uint8Array.from(o.labels ?? new Array<number>(images.length).fill(0)), n: images.length, h, w, c: o.c, classes: o.classes });
}
