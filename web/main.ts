/**
 * The browser page (web/index.html): loads a backdoored classifier and its REFINE defense (the
 * committed example, or a defended-model folder the user picks), shows clean and triggered
 * images with both predictions and T(x), computes BA / ASR in the page, and trains REFINE live on
 * the user's GPU. `window.demo` exposes the same steps to the browser test (test/e2e/web.test.ts).
 * Built by `npm run web` (scripts/web.ts).
 */
import {
  accuracy,
  batches,
  DefendedModel,
  init,
  loadWeights,
  noGrad,
  oneCycleAt,
  openDefendedFiles,
  predict,
  randomDerangement,
  refinePreset,
  refineStep,
  ResNet18,
  Rng,
  rt,
  scope,
  SGD,
  subset,
  tensor,
  UNet,
  datasetFromImages,
  describeGuard,
  guardDecision,
  guardedConfig,
  runGuardChecks,
  type ImageDataset,
  type Module,
  type Normalization,
  type RgbaImage,
} from '../src/index.js';
import { BadNets } from '../src/attacks/badnets.js';

/** example/meta.json, written by scripts/web.ts */
interface ExampleMeta {
  classes: string[];
  normalization: Normalization;
  h: number;
  w: number;
  c: number;
  classifier: { numClasses: number; width: number; inChannels: number };
  unetChannels: number;
  attack: { name: 'badnets'; target: number };
  test: number;
  unlabeled: number;
  source: string;
}

interface State {
  classifier: Module;
  defended: DefendedModel;
  classes: string[];
  normalization: Normalization;
  size: { h: number; w: number; c: number };
  test: ImageDataset;
  /** the test images with the trigger (all of them: the grid's and the ASR's) and their source indices */
  triggered?: ImageDataset;
  target?: number;
  unlabeled?: ImageDataset;
  labelled: boolean;
}

let state: State | null = null;
let stopRequested = false;
const GRID = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (msg: string) => {
  $('status').textContent = msg;
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function datasetFromBytes(images: Uint8Array, labels: Uint8Array, m: ExampleMeta, name: string): ImageDataset {
  return { name, images, labels, n: labels.length, h: m.h, w: m.w, c: m.c, classes: m.classes };
}

/** The triggered copies of the non-target test images (labels: the target), as the attack's test set. */
function triggeredSet(test: ImageDataset, target: number): ImageDataset {
  return new BadNets({ h: test.h, w: test.w, c: test.c }, { target }).poisonTest(test);
}

function replaceState(next: State): void {
  if (state) {
    state.defended.unet.dispose();
    if (state.classifier !== next.classifier) state.classifier.dispose();
  }
  state = next;
}

/** Loads the example built beside the page: a BadNets-backdoored ResNet-18 ×0.25 on Fashion-MNIST and its REFINE defense. */
async function loadExample(base = 'example/', o: { render?: boolean } = {}): Promise<{ test: number; unlabeled: number }> {
  status('loading the example…');
  const r = await fetch(`${base}meta.json`);
  if (!r.ok) throw new Error(`the example is not built (${base}meta.json: HTTP ${r.status}); run npm run web on a machine with Fashion-MNIST`);
  const m = (await r.json()) as ExampleMeta;
  const [clf, unet, mapping, testX, testY, unl] = await Promise.all([
    fetchBytes(`${base}classifier.safetensors`),
    fetchBytes(`${base}unet.safetensors`),
    fetch(`${base}mapping.json`).then((x) => x.text()),
    fetchBytes(`${base}test-images.u8`),
    fetchBytes(`${base}test-labels.u8`),
    fetchBytes(`${base}unlabeled-images.u8`),
  ]);
  const classifier = new ResNet18({ numClasses: m.classifier.numClasses, inChannels: m.classifier.inChannels, width: m.classifier.width });
  loadWeights(classifier, clf, 'classifier.safetensors');
  const defended = DefendedModel.fromBytes(classifier, unet, mapping, { firstChannels: m.unetChannels, channels: m.c }, 'example').eval();
  const test = datasetFromBytes(testX, testY, m, 'example/test');
  const unlabeled = datasetFromBytes(unl, new Uint8Array(unl.length / (m.h * m.w * m.c)), m, 'example/unlabeled');
  replaceState({ classifier, defended, classes: m.classes, normalization: m.normalization, size: { h: m.h, w: m.w, c: m.c }, test, triggered: triggeredSet(test, m.attack.target), target: m.attack.target, unlabeled, labelled: true });
  $('models').innerHTML = `<p>${m.source}</p>`;
  status(`example loaded: ${test.n} test images, ${unlabeled.n} unlabeled images for training`);
  await afterLoad(o.render ?? true);
  return { test: test.n, unlabeled: unlabeled.n };
}

/** Decodes an image file and resizes it to the model's input (canvas bilinear). */
async function imageFile(f: File, w: number, h: number): Promise<RgbaImage> {
  const bmp = await createImageBitmap(f);
  const cv = new OffscreenCanvas(w, h);
  const ctx = cv.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

/** A defended-model folder's files (and optional images to classify) picked by the user. */
async function loadFiles(files: File[]): Promise<void> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const need = ['defense.json', 'classifier.safetensors', 'unet.safetensors', 'mapping.json'];
  const missing = need.filter((n) => !byName.has(n));
  if (missing.length) throw new Error(`pick the files of a defended-model folder: ${missing.join(', ')} missing`);
  status('loading the defended model…');
  const bytes = async (n: string) => new Uint8Array(await byName.get(n)!.arrayBuffer());
  const { defended, config } = await openDefendedFiles(
    { defense: await byName.get('defense.json')!.text(), classifier: await bytes('classifier.safetensors'), unet: await bytes('unet.safetensors'), mapping: await byName.get('mapping.json')!.text() },
    'the picked folder',
  );
  const images = files.filter((f) => /\.(png|jpe?g)$/i.test(f.name));
  const { h, w, c } = config.input;
  const decoded = await Promise.all(images.map((f) => imageFile(f, w, h)));
  const test = decoded.length ? datasetFromImages(decoded, { c: c as 1 | 3, classes: config.classes, name: 'picked images' }) : null;
  replaceState({ classifier: defended.classifier, defended, classes: config.classes, normalization: config.input.normalization, size: config.input, test: test ?? emptySet(config.classes, h, w, c), labelled: false });
  $('models').innerHTML = `<p>${config.classifier.arch} ×${config.classifier.width} (${config.classifier.numClasses} classes, SHA-256 ${config.classifier.sha256.slice(0, 12)}…), REFINE preset <code>${config.preset}</code>, input ${w}×${h}×${c}.</p>`;
  status(`defended model loaded${test ? `, ${test.n} images` : ' (pick images with it to see predictions)'}`);
  await afterLoad();
}

function emptySet(classes: string[], h: number, w: number, c: number): ImageDataset {
  return { name: 'none', images: new Uint8Array(0), labels: new Uint8Array(0), n: 0, h, w, c, classes };
}

async function afterLoad(render = true): Promise<void> {
  $<HTMLButtonElement>('evaluate').disabled = !state?.labelled;
  $<HTMLButtonElement>('train').disabled = !state?.unlabeled;
  if (render) await renderGrid();
}

/** Normalised NHWC pixels of a dataset's images (all of them). */
function normalized(ds: ImageDataset): { x: Float32Array; shape: [number, number, number, number] } {
  const b = batches(ds, 0, { batchSize: ds.n, shuffle: false, normalization: state!.normalization }).next().value!;
  return { x: b.x, shape: b.shape };
}

/** T(x) of the images as [0, 1] pixels, NHWC. */
async function transformed(ds: ImageDataset): Promise<Float32Array> {
  const { x, shape } = normalized(ds);
  const t = noGrad(() => scope(() => state!.defended.transform(tensor(x, shape))));
  const v = (await t.read()) as Float32Array;
  t.dispose();
  return v;
}

function drawImage(pixels: ArrayLike<number>, offset: number, h: number, w: number, c: number, scale: number): HTMLCanvasElement {
  const cv = document.createElement('canvas');
  cv.width = w;
  cv.height = h;
  const ctx = cv.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) img.data[4 * p + k] = Math.round(scale * pixels[offset + p * c + (c === 3 ? k : 0)]!);
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return cv;
}

function cell(canvas: HTMLCanvasElement, caption: string): HTMLElement {
  const fig = document.createElement('figure');
  fig.append(canvas);
  const cap = document.createElement('figcaption');
  cap.innerHTML = caption;
  fig.append(cap);
  return fig;
}

/** Predictions of the undefended classifier and of the defended model on `ds`. */
async function predictions(ds: ImageDataset): Promise<{ undefended: Int32Array; defended: Int32Array }> {
  const s = state!;
  return { undefended: await predict(s.classifier, ds, { normalization: s.normalization }), defended: await predict(s.defended, ds, { normalization: s.normalization }) };
}

async function renderGrid(): Promise<void> {
  const s = state!;
  const grid = $('grid');
  grid.innerHTML = '';
  const rows: [string, ImageDataset][] = [];
  if (s.test.n) rows.push(['clean', subset(s.test, Array.from({ length: Math.min(GRID, s.test.n) }, (_, i) => i))]);
  if (s.triggered) rows.push(['triggered', subset(s.triggered, Array.from({ length: Math.min(GRID, s.triggered.n) }, (_, i) => i))]);
  grid.style.setProperty('--n', String(Math.min(GRID, s.test.n || GRID)));
  for (const [what, ds] of rows) {
    const p = await predictions(ds);
    const t = await transformed(ds);
    const px = ds.h * ds.w * ds.c;
    const name = (k: number, target = false) => `<span class="${target ? 'bad-pred' : ''}">${s.classes[k]}</span>`;
    const isTarget = (k: number) => what === 'triggered' && k === s.target;
    grid.append(Object.assign(document.createElement('div'), { className: 'label', textContent: `${what} x` }));
    for (let i = 0; i < ds.n; i++) grid.append(cell(drawImage(ds.images, i * px, ds.h, ds.w, ds.c, 1), `F: ${name(p.undefended[i]!, isTarget(p.undefended[i]!))}`));
    grid.append(Object.assign(document.createElement('div'), { className: 'label', textContent: `T(${what} x)` }));
    for (let i = 0; i < ds.n; i++) grid.append(cell(drawImage(t, i * px, ds.h, ds.w, ds.c, 255), `REFINE: ${name(p.defended[i]!, isTarget(p.defended[i]!))}`));
  }
}

/** BA of both models on the first `n` test images; ASR on the triggered ones (share classified as the target). */
async function evaluate(n = Number($<HTMLInputElement>('eval-n').value) || 1000): Promise<{ images: number; triggered: number; undefended: { ba: number; asr?: number }; defended: { ba: number; asr?: number } }> {
  const s = state!;
  const test = subset(s.test, Array.from({ length: Math.min(n, s.test.n) }, (_, i) => i));
  const trig = s.triggered ? subset(s.triggered, Array.from({ length: Math.min(n, s.triggered.n) }, (_, i) => i)) : null;
  const o = { normalization: s.normalization };
  const r = {
    images: test.n,
    triggered: trig?.n ?? 0,
    undefended: { ba: await accuracy(s.classifier, test, o), asr: trig ? await accuracy(s.classifier, trig, o) : undefined },
    defended: { ba: await accuracy(s.defended, test, o), asr: trig ? await accuracy(s.defended, trig, o) : undefined },
  };
  const pct = (v?: number) => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
  $('metrics').innerHTML =
    `<tr><th></th><th>BA (${r.images} clean images)</th><th>ASR (${r.triggered} triggered images)</th></tr>` +
    `<tr><td>No defense</td><td class="num">${pct(r.undefended.ba)}</td><td class="num">${pct(r.undefended.asr)}</td></tr>` +
    `<tr><td>REFINE</td><td class="num">${pct(r.defended.ba)}</td><td class="num">${pct(r.defended.asr)}</td></tr>`;
  return r;
}

function drawChart(loss: number[], agree: number[], total: number): void {
  const cv = $<HTMLCanvasElement>('chart');
  const ctx = cv.getContext('2d')!;
  const { width: W, height: H } = cv;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '12px sans-serif';
  const maxLoss = Math.max(...loss, 1e-6);
  const line = (v: number[], top: number, color: string) => {
    ctx.strokeStyle = color;
    ctx.beginPath();
    v.forEach((y, i) => {
      const px = 40 + ((W - 50) * i) / Math.max(1, total - 1);
      const py = H - 20 - ((H - 30) * y) / top;
      if (i) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
    });
    ctx.stroke();
  };
  ctx.fillStyle = '#c33';
  ctx.fillText(`loss (max ${maxLoss.toFixed(3)})`, 45, 12);
  ctx.fillStyle = '#36c';
  ctx.fillText('agreement with the pseudo-labels (0–100%)', 220, 12);
  line(loss, maxLoss, '#c33');
  line(agree, 1, '#36c');
}

/**
 * Trains a fresh REFINE (UNet + permutation) against the loaded classifier on the unlabeled
 * images for `steps` steps (the budget recipe with a one-cycle over these steps, after the
 * augmentation guard's label-free checks); replaces the defended model with it. Returns the loss
 * and agreement of every step and the guard's remedy in words.
 */
async function train(o: { steps: number; batchSize: number; seed?: number; checkImages?: number; onStep?: (i: number) => void; onGuard?: (text: string) => void }): Promise<{ loss: number[]; agreement: number[]; imagesPerSecond: number; stopped: boolean; guard: string }> {
  const s = state!;
  if (!s.unlabeled) throw new Error('no unlabeled images to train on');
  if (s.unlabeled.n < o.batchSize) throw new Error(`${s.unlabeled.n} unlabeled images are fewer than one batch of ${o.batchSize}`);
  const seed = o.seed ?? 666;
  const preset = refinePreset('budget', s.size, seed);
  // the augmentation guard (docs/refine-recipe.md): does REFINE's augmentation, or a transform a
  // trigger may resemble, fire the classifier's backdoor? Then train with its remedy.
  // (checkImages: fewer images for the browser test, whose software GPU is slow)
  const guard = guardDecision(preset, await runGuardChecks(s.classifier, s.unlabeled, preset, s.normalization, seed, {}, o.checkImages));
  const cfg = guardedConfig(preset, guard);
  o.onGuard?.(describeGuard(guard));
  const plainPseudo = cfg.pseudoLabels === 'plain' ? await predict(s.classifier, s.unlabeled, { normalization: s.normalization }) : null;
  const k = s.classes.length;
  const unet = new UNet({ firstChannels: cfg.unetChannels, channels: s.size.c, seed });
  const defended = new DefendedModel(unet, s.classifier, randomDerangement(k, new Rng(seed)), cfg.renormalize ? s.normalization : null);
  const opt = new SGD(unet.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const loader = { batchSize: o.batchSize, shuffle: true, dropLast: true, seed, augment: cfg.augment, normalization: s.normalization };
  const loss: number[] = [];
  const agreement: number[] = [];
  stopRequested = false;
  const t0 = performance.now();
  let step = 0;
  try {
    for (let epoch = 0; step < o.steps && !stopRequested; epoch++) {
      for (const b of batches(s.unlabeled, epoch, loader)) {
        const sched = oneCycleAt(cfg.schedule!, cfg.lr, step, o.steps, cfg.momentum);
        opt.lr = sched.lr;
        opt.momentum = sched.momentum;
        const r = await refineStep(defended, opt, plainPseudo ? { x: b.x, shape: b.shape, pseudo: Int32Array.from(b.indices, (i) => plainPseudo[i]!) } : b, cfg);
        loss.push(r.loss);
        agreement.push(r.pred.reduce((a, p, i) => a + (p === r.pseudo[i] ? 1 : 0), 0) / r.pred.length);
        step++;
        o.onStep?.(step);
        if (step >= o.steps || stopRequested) break;
      }
    }
  } finally {
    opt.dispose();
  }
  defended.eval();
  replaceState({ ...s, defended });
  return { loss, agreement, imagesPerSecond: (step * o.batchSize) / ((performance.now() - t0) / 1000), stopped: step < o.steps, guard: describeGuard(guard) };
}

async function trainFromUi(): Promise<void> {
  const steps = Math.max(1, Number($<HTMLInputElement>('steps').value) || 200);
  const batchSize = Number($<HTMLSelectElement>('batch').value);
  const bar = $<HTMLProgressElement>('progress');
  bar.max = steps;
  for (const b of ['train', 'evaluate', 'load-example']) $<HTMLButtonElement>(b).disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  const t0 = performance.now();
  const loss: number[] = [];
  const agree: number[] = [];
  try {
    $('train-status').textContent = 'checking whether REFINE\'s augmentation fires a backdoor (the augmentation guard)…';
    const r = await train({
      steps,
      batchSize,
      onGuard: (text) => ($('train-status').textContent = `augmentation guard: ${text}; training…`),
      onStep: (i) => {
        bar.value = i;
        const secs = (performance.now() - t0) / 1000;
        $('train-status').textContent = `step ${i}/${steps}, ${((i * batchSize) / secs).toFixed(1)} images/s, ETA ${Math.round((secs / i) * (steps - i))} s`;
      },
    }).then((res) => {
      loss.push(...res.loss);
      agree.push(...res.agreement);
      return res;
    });
    drawChart(loss, agree, steps);
    $('train-status').textContent = `${r.stopped ? 'stopped' : 'done'} after ${loss.length} steps, ${r.imagesPerSecond.toFixed(1)} images/s (augmentation guard: ${r.guard}); the grid and the metrics show the new defense`;
    await renderGrid();
    if (state?.labelled) await evaluate();
  } finally {
    for (const b of ['train', 'evaluate', 'load-example']) $<HTMLButtonElement>(b).disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

/** The predictions on the first `n` example test images, clean and triggered (the browser test compares them with Node's). */
async function fixedPredictions(n: number): Promise<Record<string, number[]>> {
  const s = state!;
  const clean = subset(s.test, Array.from({ length: n }, (_, i) => i));
  const trig = subset(s.triggered!, Array.from({ length: n }, (_, i) => i));
  const [pc, pt] = [await predictions(clean), await predictions(trig)];
  const probs = async (ds: ImageDataset) => {
    const { x, shape } = normalized(ds);
    const t = noGrad(() => scope(() => s.defended.probabilities(tensor(x, shape))));
    const v = Array.from((await t.read()) as Float32Array);
    t.dispose();
    return v;
  };
  return { clean: Array.from(pc.defended), triggered: Array.from(pt.defended), cleanUndefended: Array.from(pc.undefended), triggeredUndefended: Array.from(pt.undefended), cleanProbabilities: await probs(clean) };
}

function report(e: unknown): void {
  console.error(e);
  status(`error: ${(e as Error).message}`);
}

async function main(): Promise<void> {
  const box = $('adapter');
  if (!('gpu' in navigator)) {
    box.className = 'bad';
    box.textContent = 'WebGPU is not available in this browser (or this page is not served from https:// or localhost): use a recent Chrome, Edge or Firefox Nightly with WebGPU enabled.';
    document.body.dataset.ready = 'no-webgpu';
    return;
  }
  try {
    const r = await init();
    box.textContent = `WebGPU adapter: ${r.adapterName}`;
    box.dataset.adapter = r.adapterName;
  } catch (e) {
    box.className = 'bad';
    box.textContent = `WebGPU is present but no adapter could be opened: ${(e as Error).message}`;
    document.body.dataset.ready = 'no-webgpu';
    return;
  }
  $('load-example').onclick = () => loadExample().catch(report);
  $<HTMLInputElement>('files').onchange = (ev) => loadFiles([...((ev.target as HTMLInputElement).files ?? [])]).catch(report);
  // files dropped anywhere on the page: the same as picking them
  document.body.addEventListener('dragover', (ev) => ev.preventDefault());
  document.body.addEventListener('drop', (ev) => {
    ev.preventDefault();
    loadFiles([...(ev.dataTransfer?.files ?? [])]).catch(report);
  });
  $('evaluate').onclick = () => evaluate().catch(report);
  $('train').onclick = () => trainFromUi().catch(report);
  $('stop').onclick = () => {
    stopRequested = true;
  };
  (window as unknown as { demo: unknown }).demo = { loadExample, evaluate, train, fixedPredictions, renderGrid, drawChart, adapter: () => rt().adapterName };
  document.body.dataset.ready = '1';
}

main().catch(report);
