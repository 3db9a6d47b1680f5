/**
 * npm run serve-blackbox -- --model FILE.safetensors (--dataset NAME | --input-size N --mean A --std B) [--port P]
 *
 * Serves a classifier checkpoint as a black box over HTTP (src/train/blackbox-server.ts; the
 * protocol: docs/defend.md, "A model behind an API"), for trying `npm run defend --
 * --blackbox-url` against a model whose weights the defense never reads.
 */
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { init, shutdown } from '../src/index.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { NORMALIZATION } from '../src/data/dataset.js';
import { buildClassifier, inferClassifier } from '../src/pipeline/defend.js';
import { moduleBlackBox } from '../src/train/blackbox.js';
import { blackBoxHandler } from '../src/train/blackbox-server.js';
import { folderFlags, normalizationFlags, num, parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run serve-blackbox -- --model FILE.safetensors (--dataset NAME | --input-size N|HxW --mean A[,B,C] --std A[,B,C]) [options]

Serves the classifier's softmax probabilities over HTTP: POST a batch of images as JSON
{"shape": [n, h, w, c], "images": base64 of the uint8 NHWC bytes} or as binary (content-type
application/octet-stream, header x-shape: n,h,w,c), get {"probabilities": [[...], ...]} or n·k
float32 back (docs/defend.md). Stop it with Ctrl-C.

  --model FILE           a ResNet-18 / ResNet-50 checkpoint (as npm run defend reads them)
  --dataset NAME         fashion-mnist (28×28×1) or cifar10 (32×32×3): their size and normalisation
  --input-size N|HxW     the image size the model takes (instead of --dataset)
  --mean A[,B,C] --std A[,B,C]   its input normalisation (instead of --dataset)
  --port P               (default 8000; 0 picks a free one)
  --host H               (default 127.0.0.1: this machine only)
  -h, --help`;

const { values } = parseArgsOrExit('serve-blackbox', USAGE, {
  options: {
    model: { type: 'string' },
    dataset: { type: 'string' },
    'input-size': { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});

const SIZES: Record<string, number> = { 'fashion-mnist': 28, cifar10: 32 };

try {
  if (!values.model) throw new Error('--model is required');
  if (!existsSync(values.model)) throw new Error(`--model ${values.model}: no such file`);
  const port = num('port', values.port, 'nonneg-int')!;
  const spec = inferClassifier(values.model);
  const c = spec.inChannels;
  let h: number;
  let w: number;
  let normalization;
  if (values.dataset !== undefined) {
    if (!(values.dataset in SIZES)) throw new Error(`--dataset must be fashion-mnist or cifar10, got '${values.dataset}'`);
    if (values['input-size'] || values.mean || values.std) throw new Error('--dataset sets the size and normalisation: give it or --input-size with --mean and --std, not both');
    h = w = SIZES[values.dataset]!;
    normalization = NORMALIZATION[values.dataset]!;
  } else {
    const size = folderFlags({ 'input-size': values['input-size'] }).size;
    if (!size) throw new Error('--input-size (or --dataset) is required: the image size the model takes');
    ({ h, w } = size);
    normalization = normalizationFlags(values, c);
    if (!normalization) throw new Error('--mean and --std (or --dataset) are required: the input normalisation the model was trained with');
  }
  await init();
  const model = buildClassifier(spec);
  loadCheckpoint(model, values.model);
  model.freeze().eval();
  let served = 0;
  const handler = blackBoxHandler(moduleBlackBox(model, spec.numClasses, normalization), { h, w, c }, (n) => (served += n));
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, values.host, ok);
  });
  const addr = server.address() as { port: number };
  console.log(`serving ${values.model} (${spec.arch} ×${spec.width}, ${spec.numClasses} classes, ${h}×${w}×${c}) at http://${values.host}:${addr.port}/`);
  process.on('SIGINT', () => {
    console.log(`\n${served} images answered`);
    server.close();
    shutdown();
    process.exit(0);
  });
} catch (e) {
  console.error(`serve-blackbox: ${(e as Error).message}`);
  process.exitCode = 1;
}
