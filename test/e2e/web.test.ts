/**
 * The browser page (web/, `npm run web`) in a real browser: Debian's chromium, headless, WebGPU on
 * SwiftShader. The page's defended predictions on fixed example images must equal the Node
 * engine's on the same images and weights, a few REFINE training steps in the page must lower the
 * loss, and a browser without WebGPU must get the fallback message. Skipped (with a note) where
 * chromium or Fashion-MNIST is missing; .ci/run installs both. SwiftShader is slow: ~2-4 minutes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildWeb, CHROMIUM_ARGS, chromiumPath, serveWeb, WEB_DIST } from '../../scripts/web.js';
import { noGrad, scope, tensor } from '../../src/index.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { loadCheckpoint } from '../../src/nn/checkpoint.js';
import { loadDefendedModel } from '../../src/refine/defense.js';
import { predict } from '../../src/train/evaluate.js';
import { batches } from '../../src/data/loader.js';
import { subset, type ImageDataset } from '../../src/data/dataset.js';
import { BadNets } from '../../src/attacks/badnets.js';

const N = 8;
const exe = chromiumPath();
const note = exe ? await buildWeb() : 'no chromium (apt-get install chromium)';
if (note) console.log(`web page test skipped: ${note}`);

type Demo = Record<string, (...a: unknown[]) => Promise<unknown>>;

/** What the Node engine predicts on the example's first N test images, clean and triggered. */
async function nodePredictions(): Promise<Record<string, number[]>> {
  const ex = join(WEB_DIST, 'example');
  const meta = JSON.parse(readFileSync(join(ex, 'meta.json'), 'utf8'));
  const classifier = new ResNet18({ numClasses: 10, inChannels: 1, width: meta.classifier.width });
  loadCheckpoint(classifier, join(ex, 'classifier.safetensors'));
  const defended = loadDefendedModel(ex, classifier, { firstChannels: meta.unetChannels, channels: 1 }).eval();
  const labels = readFileSync(join(ex, 'test-labels.u8'));
  const test: ImageDataset = { name: 'example', images: new Uint8Array(readFileSync(join(ex, 'test-images.u8'))), labels: new Uint8Array(labels), n: labels.length, h: 28, w: 28, c: 1, classes: meta.classes };
  const trig = new BadNets({ h: 28, w: 28, c: 1 }, { target: meta.attack.target }).poisonTest(test);
  const first = (ds: ImageDataset) => subset(ds, Array.from({ length: N }, (_, i) => i));
  const o = { normalization: meta.normalization };
  const b = batches(first(test), 0, { batchSize: N, shuffle: false, normalization: meta.normalization }).next().value!;
  const p = noGrad(() => scope(() => defended.probabilities(tensor(b.x, b.shape))));
  const probs = Array.from((await p.read()) as Float32Array);
  p.dispose();
  const out = {
    clean: Array.from(await predict(defended, first(test), o)),
    triggered: Array.from(await predict(defended, first(trig), o)),
    cleanUndefended: Array.from(await predict(classifier, first(test), o)),
    triggeredUndefended: Array.from(await predict(classifier, first(trig), o)),
    cleanProbabilities: probs,
  };
  defended.unet.dispose();
  classifier.dispose();
  return out;
}

if (!note) {
  test('the page in chromium: defended predictions equal Node\'s, training steps lower the loss, no WebGPU gets the fallback', async () => {
    const { default: puppeteer } = await import('puppeteer-core');
    const server = await serveWeb(0);
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const browser = await puppeteer.launch({ executablePath: exe!, headless: true, args: CHROMIUM_ARGS, protocolTimeout: 900_000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url);
      await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
      const adapter = await page.$eval('#adapter', (el) => (el as HTMLElement).dataset.adapter ?? el.textContent);
      assert.ok(adapter && !/not available|no adapter/.test(adapter), `no adapter in the page: ${adapter}`);
      const got = (await page.evaluate(async (n: number) => {
        const demo = (window as unknown as { demo: Demo }).demo;
        await demo.loadExample!('example/', { render: false });
        return demo.fixedPredictions!(n);
      }, N)) as Record<string, number[]>;
      const want = await nodePredictions();
      for (const k of ['clean', 'triggered', 'cleanUndefended', 'triggeredUndefended']) assert.equal(got[k], want[k], `${k}: page ${got[k]} vs Node ${want[k]}`);
      const diff = Math.max(...want.cleanProbabilities!.map((v, i) => Math.abs(v - got.cleanProbabilities![i]!)));
      assert.ok(diff < 1e-3, `probabilities differ by ${diff}`);
      assert.ok(want.triggeredUndefended!.every((p) => p === 0) && want.triggered!.every((p) => p !== 0), 'the example is backdoored and defended');
      const r = (await page.evaluate(async () => (window as unknown as { demo: Demo }).demo.train!({ steps: 4, batchSize: 16, checkImages: 64 }))) as { loss: number[]; agreement: number[]; guard: string };
      assert.is(r.loss.length, 4);
      // the augmentation guard ran its checks first (on 64 images here, too few to expect its decision on 1,000)
      assert.match(r.guard, /^(not needed|pseudo-labels from the un-augmented images, .+)$/);
      assert.ok(r.loss.every(Number.isFinite) && r.loss[3]! < r.loss[0]!, `loss ${r.loss}`);
      assert.equal(errors, []);
      // a browser without WebGPU: the fallback message, no exception
      const bare = await puppeteer.launch({ executablePath: exe!, headless: true, args: ['--no-sandbox', '--disable-features=WebGPU,Vulkan', '--disable-gpu'] });
      try {
        const p2 = await bare.newPage();
        // and no navigator.gpu, whatever this chromium's flags do (some builds keep WebGPU)
        await p2.evaluateOnNewDocument(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
        await p2.goto(url);
        await p2.waitForSelector('body[data-ready]', { timeout: 60_000 });
        const text = await p2.$eval('#adapter', (el) => el.textContent ?? '');
        const ready = await p2.$eval('body', (el) => (el as HTMLElement).dataset.ready);
        assert.is(ready, 'no-webgpu', `the page without WebGPU: ${text}`);
        assert.match(text, /WebGPU is not available|no adapter could be opened/);
      } finally {
        await bare.close();
      }
    } finally {
      await browser.close();
      server.close();
    }
  });
}

test.run();
