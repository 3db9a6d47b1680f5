/** Small synthetic ImageDatasets for the attack tests (trigger properties, not accuracy). */
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';

export function synthetic(n: number, h: number, w: number, c: number, seed = 1, classes = 10): ImageDataset {
  const r = new Rng(seed);
  const images = new Uint8Array(n * h * w * c);
  for (let i = 0; i < images.length; i++) images[i] = r.int(256);
  // labels cycle through the classes so that every class (the target included) is present
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  return { name: `synthetic-${h}x${w}x${c}`, images, labels, n, h, w, c, classes: Array.from({ length: classes }, (_, k) => `class${k}`) };
}

export function pixel(ds: ImageDataset, i: number, y: number, x: number): number[] {
  const o = ((i * ds.h + y) * ds.w + x) * ds.c;
  return Array.from(ds.images.subarray(o, o + ds.c));
}

export function imageBytes(ds: ImageDataset, i: number): Uint8Array {
  const px = ds.h * ds.w * ds.c;
  return ds.images.subarray(i * px, (i + 1) * px);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
