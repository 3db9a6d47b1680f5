/**
 * `npm run defend -- --blackbox-url` and `npm run predict` on its folder, as a user runs them:
 * child processes against a model served over HTTP on 127.0.0.1 by this process (so the children
 * are spawned asynchronously: a blocking spawn would stall the server). Tiny settings; what counts
 * is that the commands run end to end and spend the queries they report.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { ResNet18 } from '../../src/nn/resnet.js';
import { moduleBlackBox } from '../../src/train/blackbox.js';
import { Rng } from '../../src/util/random.js';

const root = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'defend-bb-cli-'));
const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 }).eval();
const served = moduleBlackBox(model, 4, { mean: [0.5], std: [0.25] });
let answered = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    // the binary protocol: x-shape: n,h,w,c and the uint8 bytes; n·k float32 back
    const [n, h, w, c] = String(req.headers['x-shape']).split(',').map(Number) as [number, number, number, number];
    const p = await served.query({ images: new Uint8Array(Buffer.concat(chunks)), n, h, w, c });
    answered += n;
    res.setHeader('content-type', 'application/octet-stream');
    res.end(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  });
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/predict`;

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => ok({ code, stdout, stderr }));
  });
}

test('npm run defend -- --blackbox-url, then npm run predict on its folder', async () => {
  // 24 unlabeled 16×16 grey PNGs in class-less folders
  const data = join(tmp, 'unlabeled');
  const r = new Rng(5);
  for (const d of ['x', 'y']) {
    mkdirSync(join(data, d), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const png = new PNG({ width: 16, height: 16 });
      for (let p = 0; p < 256; p++) {
        const v = r.int(256);
        png.data.set([v, v, v, 255], 4 * p);
      }
      writeFileSync(join(data, d, `${i}.png`), PNG.sync.write(png));
    }
  }
  const out = join(tmp, 'defended');
  const flags = ['--blackbox-url', url, '--blackbox-format', 'binary', '--blackbox-batch', '10', '--classes', '4', '--data', `folder:${data}`, '--out', out, '--mean', '0.5', '--std', '0.25'];
  const small = ['--width', '0.0625', '--distill-epochs', '1', '--epochs', '1', '--batch-size', '8', '--unet-channels', '4'];
  const d = await run('scripts/defend.ts', [...flags, ...small]);
  assert.is(d.code, 0, d.stderr);
  assert.match(d.stdout, /black-box queries: 24 \(distillation\) \+ 24 \(refit\) \+ 0 \(measurements\)/);
  assert.is(answered, 48);
  const p = await run('scripts/predict.ts', ['--defended', out, '--undefended', join(data, 'x', '0.png'), join(data, 'y', '3.png')]);
  assert.is(p.code, 0, p.stderr);
  const lines = p.stdout.trim().split('\n');
  assert.is(lines.length, 2);
  for (const l of lines) assert.match(l, /\.png\t[0-3]\t[01]\.\d{3}\t\(undefended: [0-3]\)$/);
  // the defended and the undefended prediction: two queries per image
  assert.is(answered, 48 + 4);
  // an image the classifier does not take as it is (20×20, colour): adapted, and said so
  const odd = new PNG({ width: 20, height: 20 });
  for (let p = 0; p < 400; p++) odd.data.set([255, p % 256, 0, 255], 4 * p);
  writeFileSync(join(tmp, 'odd.png'), PNG.sync.write(odd));
  const j = await run('scripts/predict.ts', ['--defended', out, '--json', join(tmp, 'odd.png'), join(data, 'x', '0.png')]);
  assert.is(j.code, 0, j.stderr);
  const [oddRow, plainRow] = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(oddRow!.resizedFrom, [20, 20]);
  assert.is(oddRow!.convertedFrom, 'colour');
  assert.not.ok('resizedFrom' in plainRow! || 'convertedFrom' in plainRow!);
  assert.match(j.stderr, /1 of 2 image\(s\) resized to 16×16 \(bilinear\) \(their "resizedFrom"\)/);
  assert.match(j.stderr, /1 of 2 colour image\(s\) converted to grey \(ITU-R 601 luminance\) \(their "convertedFrom"\)/);
  // a mistyped refit switch is refused before anything is sent
  const before = answered;
  const bad = await run('scripts/defend.ts', [...flags.map((f) => (f === out ? join(tmp, 'other') : f)), '--blackbox-refit', 'yes']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /--blackbox-refit must be on or off, got 'yes'/);
  assert.is(answered, before);
  server.close();
  model.dispose();
});

test.run();
