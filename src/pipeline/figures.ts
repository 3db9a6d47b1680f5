/**
 * The figures of the reproduction pipeline: the paper's Fig. 6 sample grid and the REFINE
 * training curves (loss, agreement, BA, ASR against steps).
 */
import { noGrad } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor } from '../tensor/tensor.js';
import type { Attack } from '../attacks/index.js';
import type { Image } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { normalizeInto } from '../data/loader.js';
import { argmax } from '../ops/index-ops.js';
import type { Module } from '../nn/module.js';
import type { RefineEpochLog } from '../refine/defense.js';
import type { DefendedModel } from '../refine/defended.js';
import { predict } from '../train/evaluate.js';
import { writeFileAtomic } from '../util/files.js';
import { COLORS, linePlot, Svg, textWidth, type Series } from './svg.js';
import type { Metric, Variant } from './report.js';

function imageOf(ds: ImageDataset, i: number): Image {
  const px = ds.h * ds.w * ds.c;
  return { data: ds.images.subarray(i * px, (i + 1) * px), h: ds.h, w: ds.w, c: ds.c };
}

function datasetOf(imgs: Image[], labels: number[], like: ImageDataset): ImageDataset {
  const px = like.h * like.w * like.c;
  const images = new Uint8Array(imgs.length * px);
  imgs.forEach((im, k) => images.set(im.data, k * px));
  return { ...like, name: 'figure', images, labels: Uint8Array.from(labels), n: imgs.length };
}

/** T(x) of the defended model as uint8 images, and its predictions. */
async function transformed(defended: DefendedModel, imgs: Image[], normalization: Normalization): Promise<{ images: Image[]; pred: Int32Array }> {
  if (!imgs.length) return { images: [], pred: new Int32Array() };
  const { h, w, c } = imgs[0]!;
  const px = h * w * c;
  const x = new Float32Array(imgs.length * px);
  imgs.forEach((im, k) => normalizeInto(im, normalization, x, k * px));
  defended.eval();
  const [xt, pr] = scope(() =>
    noGrad(() => {
      const t = tensor(x, [imgs.length, h, w, c]);
      return [defended.transform(t), argmax(defended.forward(t))];
    }),
  );
  const vals = (await xt!.read()) as Float32Array;
  const pred = (await pr!.read()) as Int32Array;
  xt!.dispose();
  pr!.dispose();
  const images = imgs.map((_, k) => ({ h, w, c, data: Uint8Array.from(vals.subarray(k * px, (k + 1) * px), (v) => Math.round(255 * Math.min(1, Math.max(0, v)))) }));
  return { images, pred };
}

/**
 * The paper's Fig. 6: one test image per class (columns, headed by the class names); rows
 * benign, poisoned, T(benign), T(poisoned); a bar under each image, green when the prediction
 * (No Defense for rows 1–2, REFINE for rows 3–4) equals the true label, red otherwise.
 */
export async function samplesFigure(file: string, classifier: Module, defended: DefendedModel, attack: Attack, test: ImageDataset, normalization: Normalization): Promise<void> {
  const k = test.classes.length;
  const picks: number[] = [];
  for (let cls = 0; cls < k; cls++) {
    for (let i = 0; i < test.n; i++) {
      if (test.labels[i] === cls) {
        picks.push(i);
        break;
      }
    }
  }
  const benign = picks.map((i) => imageOf(test, i));
  const labels = picks.map((i) => test.labels[i]!);
  const poisoned = benign.map((im) => attack.applyTestTrigger(im));
  const ndB = await predict(classifier, datasetOf(benign, labels, test), { normalization });
  const ndP = await predict(classifier, datasetOf(poisoned, labels, test), { normalization });
  const tB = await transformed(defended, benign, normalization);
  const tP = await transformed(defended, poisoned, normalization);
  const rows: [string, Image[], Int32Array][] = [
    ['benign', benign, ndB],
    ['poisoned', poisoned, ndP],
    ['T(benign)', tB.images, tB.pred],
    ['T(poisoned)', tP.images, tP.pred],
  ];
  const scale = Math.max(1, Math.ceil(64 / Math.max(test.h, test.w)));
  const cw = test.w * scale;
  const ch = test.h * scale;
  const gap = 8;
  const bar = 4;
  const col = Math.max(cw, 56);
  const left = textWidth('T(poisoned)', 12) + 14;
  const top = 22;
  const svg = new Svg(left + picks.length * (col + gap) + gap, top + rows.length * (ch + bar + 2 * gap) + 22);
  // column headers: the class names (the label index when the dataset has none)
  picks.forEach((_, j) => svg.text(test.classes[labels[j]!] ?? String(labels[j]), left + j * (col + gap) + col / 2, 14, { size: 11, anchor: 'middle' }));
  rows.forEach(([name, imgs, pred], r) => {
    const y = top + r * (ch + bar + 2 * gap);
    svg.text(name, 6, y + ch / 2 + 4, { size: 12 });
    imgs.forEach((im, j) => {
      const x = left + j * (col + gap) + (col - cw) / 2;
      svg.image(im, x, y, scale);
      svg.rect(x, y + ch + 2, cw, bar, pred[j] === labels[j] ? COLORS.green : COLORS.red);
    });
  });
  svg.text('bar: green = predicted the true class (No Defense in rows 1-2, REFINE in rows 3-4), red = not', 6, svg.height - 6, { size: 11, color: '#555555' });
  writeFileAtomic(file, svg.toString(`${attack.name}: benign and poisoned test images before and after REFINE's transformation`));
}

/**
 * Loss, agreement, BA and ASR (the curve sets) over the optimizer steps of every run, one panel
 * each; the No Defense BA and ASR as grey lines when given. Histories written before steps were
 * recorded fall back to epochs on the x axis.
 */
export function curvesFigure(file: string, runs: Partial<Record<Variant, { history: RefineEpochLog[] }>>, noDefense?: Metric): void {
  const styles: Record<Variant, { label: string; color: string }> = {
    refine: { label: 'REFINE', color: COLORS.blue },
    woHRF: { label: 'w/o HRF', color: COLORS.orange },
    woSCL: { label: 'w/o SCL', color: COLORS.green },
  };
  const histories = (Object.keys(styles) as Variant[]).filter((v) => runs[v]?.history.length);
  const bySteps = histories.every((v) => runs[v]!.history.every((h) => h.stepsDone !== undefined));
  const xOf = (h: RefineEpochLog) => (bySteps ? h.stepsDone! : h.epoch);
  const series = (f: (h: RefineEpochLog) => number | undefined): Series[] =>
    histories.map((v) => ({
      label: styles[v].label,
      color: styles[v].color,
      points: runs[v]!.history.map((h) => [xOf(h), f(h) ?? NaN] as [number, number]),
      marks: runs[v]!.history.filter((h) => h.collapsed).map((h) => xOf(h)),
    }));
  const xs = histories.flatMap((v) => runs[v]!.history.map(xOf));
  const flat = (label: string, y: number | undefined): Series[] =>
    y === undefined || !xs.length || !Number.isFinite(y) ? [] : [{ label, color: COLORS.grey, dashed: true, points: [[0, 100 * y], [Math.max(...xs), 100 * y]] }];
  // every panel on the same x range, from 0 (the start of training) to the last step or epoch
  const axes = { xLabel: bySteps ? 'optimizer step' : 'epoch', xMin: 0, xMax: Math.max(1, ...xs) };
  const W = 340;
  const H = 280;
  const svg = new Svg(4 * W, H);
  linePlot(svg, 0, 0, W, H, 'Loss', series((h) => h.loss), axes);
  linePlot(svg, W, 0, W, H, 'Agreement with pseudo-labels (%)', series((h) => 100 * h.agreement), { ...axes, yMin: 0, yMax: 100 });
  linePlot(svg, 2 * W, 0, W, H, 'BA (%)', [...flat('No Defense', noDefense?.BA), ...series((h) => (h.benignAccuracy === undefined ? undefined : 100 * h.benignAccuracy))], { ...axes, yMin: 0, yMax: 100 });
  linePlot(svg, 3 * W, 0, W, H, 'ASR (%)', [...flat('No Defense', noDefense?.ASR), ...series((h) => (h.attackSuccess === undefined ? undefined : 100 * h.attackSuccess))], { ...axes, yMin: 0, yMax: 100 });
  writeFileAtomic(file, svg.toString('REFINE training curves: loss, agreement, BA and ASR against optimizer steps'));
}
