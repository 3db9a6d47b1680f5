/** Accuracy and predictions of a classifier over a dataset, in eval mode without gradients. */
import { noGrad, scope, tensor, type Tensor } from '../index.js';
import { argmax } from '../ops/index-ops.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batches } from '../data/loader.js';

export interface EvalOptions {
  batchSize?: number;
  normalization: Normalization | null;
  /** optional transform of the normalised batch before the model (e.g. a defense) */
  transform?: (x: Tensor) => Tensor;
}

/** Predicted class of every image, in dataset order. */
export async function predict(model: { forward(x: Tensor): Tensor; eval?(): unknown }, ds: ImageDataset, opts: EvalOptions): Promise<Int32Array> {
  model.eval?.();
  const out = new Int32Array(ds.n);
  let off = 0;
  for (const b of batches(ds, 0, { batchSize: opts.batchSize ?? 256, normalization: opts.normalization })) {
    const pred = scope(() =>
      noGrad(() => {
        const x = tensor(b.x, b.shape);
        return argmax(model.forward(opts.transform ? opts.transform(x) : x));
      }),
    );
    const p = (await pred.read()) as Int32Array;
    pred.dispose();
    out.set(p, off);
    off += p.length;
  }
  return out;
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
  const ok = new Array<number>(ds.classes.length).fill(0);
  const totals = new Array<number>(ds.classes.length).fill(0);
  for (let i = 0; i < pred.length; i++) {
    const y = ds.labels[i]!;
    totals[y]!++;
    if (pred[i] === y) ok[y]!++;
  }
  const out: Record<string, number> = {};
  ds.classes.forEach((name, y) => {
    if (totals[y]) out[name] = ok[y]! / totals[y]!;
  });
  return out;
}

/** A by-class record as one line: `T-shirt/top 91.3%, Trouser 98.7%, ...` (dataset class order). */
export function formatByClass(r: Record<string, number>, digits = 1): string {
  return Object.entries(r)
    .map(([name, v]) => `${name} ${(100 * v).toFixed(digits)}%`)
    .join(', ');
}
