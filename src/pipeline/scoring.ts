/**
 * Scoring a model for the reproduction's tables: BA on the clean test set and ASR on the
 * triggered one, with progress, and the largest predicted-class share (a collapse shows there).
 */
import { subset, type ImageDataset, type Normalization } from '../data/dataset.js';
import { predict } from '../train/evaluate.js';
import { Progress } from '../util/progress.js';
import type { Metric } from './report.js';

interface Scored {
  pred: Int32Array;
  metric: number;
}

/** Predictions over ds in chunks with a progress bar; `metric` = accuracy against the labels. */
async function score(model: Parameters<typeof predict>[0], ds: ImageDataset, normalization: Normalization, label: string, quiet?: boolean): Promise<Scored> {
  const chunk = 1024;
  const bar = quiet ? null : new Progress(label, ds.n);
  const pred = new Int32Array(ds.n);
  for (let s = 0; s < ds.n; s += chunk) {
    const idx = Int32Array.from({ length: Math.min(chunk, ds.n - s) }, (_, i) => s + i);
    const part = ds.n <= chunk ? ds : subset(ds, idx);
    pred.set(await predict(model, part, { normalization, batchSize: 256 }), s);
    bar?.update(Math.min(ds.n, s + chunk));
  }
  bar?.stop();
  let ok = 0;
  for (let i = 0; i < ds.n; i++) if (pred[i] === ds.labels[i]) ok++;
  return { pred, metric: ds.n ? ok / ds.n : NaN };
}

function maxShare(pred: Int32Array, k: number): number {
  const counts = new Array<number>(k).fill(0);
  for (const p of pred) counts[p]!++;
  return pred.length ? Math.max(...counts) / pred.length : 0;
}

export async function evaluate(model: Parameters<typeof predict>[0], clean: ImageDataset, poisoned: ImageDataset, normalization: Normalization, label: string, quiet?: boolean): Promise<Metric> {
  const t0 = performance.now();
  const ba = await score(model, clean, normalization, `${label} BA`, quiet);
  const asr = poisoned.n ? await score(model, poisoned, normalization, `${label} ASR`, quiet) : { metric: NaN, pred: new Int32Array() };
  return { BA: ba.metric, ASR: asr.metric, maxClassShare: maxShare(ba.pred, clean.classes.length), seconds: (performance.now() - t0) / 1000 };
}

