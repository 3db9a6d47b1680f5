/**
 * A PNG grid of example images: clean test images, the same with the test trigger, their
 * difference amplified (so that faint triggers such as WaNet's jitter are visible), and poisoned
 * training samples as the classifier sees them (train-time transform included).
 */
import { writeFileAtomic } from '../util/files.js';
import { PNG } from 'pngjs';
import type { Image } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';
import { type Attack, imageOf, type PoisonedTrain } from './common.js';

/** Rows of equally sized images into one RGB PNG (grey → RGB), each pixel scaled ×`scale`, 2 px gaps. */
export function gridPng(rows: Image[][], scale: number): Buffer {
  const first = rows.find((r) => r.length)?.[0];
  if (!first) throw new Error('gridPng: no images');
  const { h, w } = first;
  const gap = 2;
  const cols = Math.max(...rows.map((r) => r.length));
  const W = cols * (w * scale + gap) + gap;
  const H = rows.length * (h * scale + gap) + gap;
  const png = new PNG({ width: W, height: H });
  png.data.fill(255);
  rows.forEach((row, ri) =>
    row.forEach((img, ci) => {
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          const p = (Math.floor(y / scale) * w + Math.floor(x / scale)) * img.c;
          const o = ((gap + ri * (h * scale + gap) + y) * W + gap + ci * (w * scale + gap) + x) * 4;
          for (let k = 0; k < 3; k++) png.data[o + k] = img.data[p + (img.c >= 3 ? k : 0)]!;
          png.data[o + 3] = 255;
        }
      }
    }),
  );
  return PNG.sync.write(png);
}

export function diffImage(a: Image, b: Image, gain: number): Image {
  const data = new Uint8Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.abs(a.data[i]! - b.data[i]!) * gain);
  return { ...a, data };
}

/**
 * Writes the examples grid: row 1 clean non-target test images, row 2 with the test trigger,
 * row 3 |difference|·gain, row 4 poisoned (or, LC, target-class adversarial) training samples
 * after the attack's train-time transform.
 */
export function writeExamples(file: string, attack: Attack, test: ImageDataset, train: PoisonedTrain, count = 8, seed = 0): void {
  const clean: Image[] = [];
  for (let i = 0; i < test.n && clean.length < count; i++) if (test.labels[i] !== attack.target) clean.push(imageOf(test, i));
  const triggered = clean.map((im) => attack.applyTestTrigger(im));
  const gain = 8;
  const diffs = clean.map((im, k) => diffImage(im, triggered[k]!, gain));
  const rng = new Rng(seed);
  const trainRow = Array.from(train.poisoned.subarray(0, count), (i) => {
    const im = imageOf(train.dataset, i);
    return train.sampleTransform ? train.sampleTransform({ ...im, data: new Uint8Array(im.data) }, i, rng) : im;
  });
  const rows = [clean, triggered, diffs, trainRow].filter((r) => r.length);
  const scale = Math.max(1, Math.ceil(64 / Math.max(test.h, test.w)));
  writeFileAtomic(file, gridPng(rows, scale));
}
