/** Accuracy and predictions of a classifier over a dataset, in eval mode without gradients. */
import { noGrad } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { BindingLimitError, tensor, type Tensor } from '../tensor/tensor.js';
import { argmax } from '../ops/index-ops.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batches } from '../data/loader.js';

export interface EvalOptions {
  batchSize?: number;
  normalization: Normalization | null;
  /** optional transform of the normalised batch before the model (e.g. a defense) */
  transform?: (x: Tensor) => Tensor;
}

/**
 * Predicted class of every image, in dataset order. Batches of `batchSize` (256) images; where a
 * batch's activations exceed the adapter's binding limit (large images), it is split into the
 * largest batches that fit (eval mode: the predictions do not depend on the batch).
 */
export async function predict(model: { forward(x: Tensor): Tensor; eval?(): unknown }, ds: ImageDataset, opts: EvalOptions): Promise<Int32Array> {
  model.eval?.();
  const out = new Int32Array(ds.n);
  const px = ds.h * ds.w * ds.c;
  let size = opts.batchSize ?? 256;
  for (let off = 0; off < ds.n; ) {
    const n = Math.min(size, ds.n - off);
    const part: ImageDataset = { ...ds, images: ds.images.subarray(off * px, (off + n) * px), labels: ds.labels.subarray(off, off + n), n };
    const b = batches(part, 0, { batchSize: n, normalization: opts.normalization }).next().value!;
    let pred: Tensor;
    try {
      pred = scope(() =>
        noGrad(() => {
          const x = tensor(b.x, b.shape);
          return argmax(model.forward(opts.transform ? opts.transform(x) : x));
        }),
      );
    } catch (e) {
      if (!(e instanceof BindingLimitError) || n === 1) throw e;
      size = Math.max(1, Math.min(n - 1, e.maxBatch || Math.floor(n / 2)));
      continue;
    }
    const p = (await pred.read()) as Int32Array;
    pred.dispose();
    out.set(p, off);
    off += n;
  }
  return out;
}

/**
 * The largest batch ≤ `start` for which `probe(batch)` allocates no tensor over the adapter's
 * binding limit (probe: a forward pass at that batch); `start` when it fits.
 */
export function largestFittingBatch(start: number, probe: (batch: number) => void): number {
  for (let b = start; ; ) {
    try {
      probe(b);
      return b;
    } catch (e) {
      if (!(e instanceof BindingLimitError) || b === 1) throw e;
      b = Math.max(1, Math.min(b - 1, e.maxBatch || Math.floor(b / 2)));
    }
  }
}

/** How many predictions equal their label. */
export function hits(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok;
}

export async function accuracy(model: Parameters<typeof predict>[0], ds: ImageDataset, opts: EvalOptions): Promise<number> {
  return hits(await predict(model, ds, opts), ds.labels) / ds.n;
}

/**
 * Accuracy by true class: per class name, the share of its images whose prediction is their
 * label (a backdoor that costs one class its clean accuracy shows here, e.g. Label-Consistent
 * poisoning every target-class image). Classes without images are left out.
 */
export function accuracyByClass(pred: ArrayLike<number>, ds: Pick<ImageDataset, 'labels' | 'classes'>): Record<string, number> {
  if (pred.length !== ds.labels.length) throw new Error(`accuracyByClass: ${pred.length} predictions for ${ds.labels.length} images`);
  const cm = confusionMatrix(pred, ds.labels, ds.classes.length);
  const out: Record<string, number> = {};
  ds.classes.forEach((name, y) => {
    const n = cm[y]!.reduce((a, b) => a + b, 0);
    if (n) out[name] = cm[y]![y]! / n;
  });
  return out;
}

/** A by-class record as one line: `T-shirt/top 91.3%, Trouser 98.7%, ...` (dataset class order). */
export function formatByClass(r: Record<string, number>, digits = 1): string {
  return Object.entries(r)
    .map(([name, v]) => `${name} ${(100 * v).toFixed(digits)}%`)
    .join(', ');
}

/** Confusion counts: `cm[t][p]` = images of true class t predicted as class p (k classes). */
export function confusionMatrix(pred: ArrayLike<number>, labels: ArrayLike<number>, k: number): number[][] {
  if (pred.length !== labels.length) throw new Error(`confusionMatrix: ${pred.length} predictions for ${labels.length} labels`);
  const cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < pred.length; i++) {
    const t = labels[i]!;
    const p = pred[i]!;
    if (t < 0 || t >= k || p < 0 || p >= k) throw new Error(`confusionMatrix: class ${t < 0 || t >= k ? t : p} at ${i} is outside 0..${k - 1}`);
    cm[t]![p]!++;
  }
  return cm;
}

/**
 * Where each class's errors go, one entry per true class whose error share is at least
 * `minError`: `Shirt (40.1% wrong) → T-shirt/top 18.2%, Pullover 9.1%` (the `top` largest wrong
 * predictions, as shares of the class's images), entries joined by `; `. Tells a backdoor's pull
 * toward its target (errors going to the target class) from a class that is hard anyway.
 */
export function formatConfusions(cm: number[][], classes: readonly string[], opts: { top?: number; minError?: number; digits?: number } = {}): string {
  const { top = 2, minError = 0.05, digits = 1 } = opts;
  const pct = (v: number) => `${(100 * v).toFixed(digits)}%`;
  const parts: string[] = [];
  cm.forEach((row, t) => {
    const n = row.reduce((a, b) => a + b, 0);
    if (n === 0) return;
    const wrong = (n - row[t]!) / n;
    if (wrong === 0 || wrong < minError) return;
    const to = row
      .map((c, p) => ({ p, c }))
      .filter(({ p, c }) => p !== t && c > 0)
      .sort((a, b) => b.c - a.c || a.p - b.p)
      .slice(0, top)
      .map(({ p, c }) => `${classes[p] ?? p} ${pct(c / n)}`);
    parts.push(`${classes[t] ?? t} (${pct(wrong)} wrong) → ${to.join(', ')}`);
  });
  return parts.join('; ');
}
