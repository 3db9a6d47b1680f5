/**
 * npm run web -- [--port N] [--build-only] [--screenshot FILE [--train-steps N]]
 *
 * Builds the browser page (web/ → web/dist/: the page, app.js bundled by esbuild, and the example:
 * the committed BadNets classifier and its REFINE defense, with Fashion-MNIST test and unlabeled
 * images) and serves it on http://127.0.0.1:PORT. `--screenshot FILE` opens it in Debian's
 * chromium instead, loads the example, trains a few steps and saves screenshots.
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { loadFashionMnist } from '../src/data/fashion-mnist.js';
import { NORMALIZATION } from '../src/data/dataset.js';
import { num, parseArgsOrExit } from '../src/util/cli.js';

const USAGE = `usage: npm run web -- [--port N] [--build-only] [--screenshot FILE [--train-steps N]]

  --port N          serve on http://127.0.0.1:N (default 8080; 0: any free port)
  --build-only      build web/dist and stop
  --screenshot FILE open the page in chromium (CHROMIUM or /usr/bin/chromium), load the example and
                    evaluate it on 200 images (FILE), then train --train-steps steps (default 20)
                    of batch 32 (FILE-training.png); slow on a software adapter (minutes)
  --data-dir DIR    where Fashion-MNIST is looked for (default data, then Debian's package)
  -h, --help`;

const root = resolve(import.meta.dirname, '..');
export const WEB_DIST = join(root, 'web', 'dist');

/** The committed example the page loads: BadNets on Fashion-MNIST (quick classifier, budget REFINE). */
const EXAMPLE = {
  classifier: 'results/backdoored/attack-badnets-fashion-mnist-quick-s666/model.safetensors',
  refine: 'results/fashion-mnist-quick-budget/badnets/refine',
  test: 1000,
  unlabeled: 2048,
};

/** Builds web/dist (the page and, when Fashion-MNIST is present, the example); returns a note when the example was skipped. */
export async function buildWeb(dataDir = 'data'): Promise<string | null> {
  mkdirSync(join(WEB_DIST, 'example'), { recursive: true });
  await build({ entryPoints: [join(root, 'web', 'main.ts')], bundle: true, platform: 'browser', format: 'esm', target: 'es2022', outfile: join(WEB_DIST, 'app.js'), sourcemap: true, logLevel: 'warning' });
  copyFileSync(join(root, 'web', 'index.html'), join(WEB_DIST, 'index.html'));
  let split;
  try {
    split = loadFashionMnist(dataDir);
  } catch (e) {
    return `the example was not built: ${(e as Error).message}`;
  }
  const ex = join(WEB_DIST, 'example');
  copyFileSync(join(root, EXAMPLE.classifier), join(ex, 'classifier.safetensors'));
  copyFileSync(join(root, EXAMPLE.refine, 'unet.safetensors'), join(ex, 'unet.safetensors'));
  copyFileSync(join(root, EXAMPLE.refine, 'mapping.json'), join(ex, 'mapping.json'));
  const px = 28 * 28;
  writeFileSync(join(ex, 'test-images.u8'), split.test.images.subarray(0, EXAMPLE.test * px));
  writeFileSync(join(ex, 'test-labels.u8'), split.test.labels.subarray(0, EXAMPLE.test));
  // the defender's unlabeled data: training images (their labels are not shipped)
  writeFileSync(join(ex, 'unlabeled-images.u8'), split.train.images.subarray(0, EXAMPLE.unlabeled * px));
  const refineCfg = JSON.parse(readFileSync(join(root, EXAMPLE.refine, 'config.json'), 'utf8')) as { config: { unetChannels: number } };
  writeFileSync(
    join(ex, 'meta.json'),
    JSON.stringify({
      classes: split.test.classes,
      normalization: NORMALIZATION['fashion-mnist'],
      h: 28,
      w: 28,
      c: 1,
      classifier: { numClasses: 10, width: 0.25, inChannels: 1 },
      unetChannels: refineCfg.config.unetChannels,
      attack: { name: 'badnets', target: 0 },
      test: EXAMPLE.test,
      unlabeled: EXAMPLE.unlabeled,
      source: `Example: a ResNet-18 ×0.25 trained with a BadNets backdoor (target class 0) on Fashion-MNIST (<code>${EXAMPLE.classifier}</code>) and its REFINE defense from the budget recipe (<code>${EXAMPLE.refine}</code>); the first ${EXAMPLE.test} test images and ${EXAMPLE.unlabeled} unlabeled training images.`,
    }),
  );
  return null;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.u8': 'application/octet-stream', '.safetensors': 'application/octet-stream' };

/** A static server of web/dist on 127.0.0.1 (a secure context: WebGPU needs one). */
export function serveWeb(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(WEB_DIST, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(WEB_DIST) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

/** Debian's chromium (or CHROMIUM), or null. */
export function chromiumPath(): string | null {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (p && existsSync(p)) return p;
  return null;
}

/** Chromium's flags for WebGPU headless on a machine without a GPU (SwiftShader's Vulkan). */
export const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--no-sandbox', '--disable-dev-shm-usage'];

async function screenshot(file: string, steps: number): Promise<void> {
  const exe = chromiumPath();
  if (!exe) throw new Error('no chromium found (apt-get install chromium, or set CHROMIUM)');
  const { default: puppeteer } = await import('puppeteer-core');
  const server = await serveWeb(0);
  const browser = await puppeteer.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS, protocolTimeout: 3_600_000 });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1150, height: 1400 });
    page.on('console', (m) => console.error(`page: ${m.text()}`));
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await page.evaluate(async () => {
      const demo = (window as unknown as { demo: Record<string, (...a: unknown[]) => Promise<unknown>> }).demo;
      (document.getElementById('eval-n') as HTMLInputElement).value = '200';
      await demo.loadExample!();
      await demo.evaluate!();
    });
    await page.screenshot({ path: file, fullPage: true });
    // then a short live training run: the chart, the progress and the new defense's grid and metrics
    await page.evaluate((n: number) => {
      (document.getElementById('steps') as HTMLInputElement).value = String(n);
      (document.getElementById('batch') as HTMLSelectElement).value = '32';
      (document.getElementById('train') as HTMLButtonElement).click();
    }, steps);
    await page.waitForFunction(() => /^(done|stopped)/.test(document.getElementById('train-status')?.textContent ?? ''), { timeout: 0, polling: 2000 });
    const second = file.replace(/(\.png)?$/, '-training.png');
    await page.screenshot({ path: second, fullPage: true });
    console.log(`screenshots: ${file}, ${second}`);
  } finally {
    await browser.close();
    server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgsOrExit('web', USAGE, {
    options: {
      port: { type: 'string', default: '8080' },
      'build-only': { type: 'boolean', default: false },
      screenshot: { type: 'string' },
      'train-steps': { type: 'string', default: '20' },
      'data-dir': { type: 'string', default: 'data' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  try {
    const port = num('port', values.port, 'nonneg-int')!;
    const steps = num('train-steps', values['train-steps'], 'int')!;
    const note = await buildWeb(values['data-dir']);
    console.error(`built ${WEB_DIST}${note ? ` (${note})` : ''}`);
    if (values.screenshot) {
      await screenshot(values.screenshot, steps);
    } else if (!values['build-only']) {
      const server = await serveWeb(port);
      console.log(`serving the page on http://127.0.0.1:${(server.address() as { port: number }).port}/ (Ctrl-C to stop)`);
    }
  } catch (e) {
    console.error(`web: ${(e as Error).message}`);
    process.exit(1);
  }
}
