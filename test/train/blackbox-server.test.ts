/**
 * The serving side of the black-box protocol (src/train/blackbox-server.ts) against the client
 * (httpBlackBox): both formats round-trip a black box's answers exactly; a request of the wrong
 * image size, a body that does not match its shape, or a GET is a 400 naming the problem, which
 * the client reports without retrying.
 */
import { createServer } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { functionBlackBox, httpBlackBox, type ImageBatch } from '../../src/train/blackbox.js';
import { blackBoxHandler } from '../../src/train/blackbox-server.js';

// probabilities from each image's first two pixels: [a, b, 1 − a − b] / normalised
const bb = functionBlackBox(async (b: ImageBatch) => {
  const px = b.h * b.w * b.c;
  return Array.from({ length: b.n }, (_, i) => {
    const a = b.images[i * px]! / 1020;
    const c = b.images[i * px + 1]! / 1020;
    return [a, c, 1 - a - c];
  }).flat();
}, 3);
let answered = 0;
const handler = blackBoxHandler(bb, { h: 2, w: 3, c: 1 }, (n) => (answered += n));
let requests = 0;
const server = createServer((req, res) => {
  requests++;
  void handler(req, res);
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;

const batch = (n: number, h = 2, w = 3): ImageBatch => ({ images: Uint8Array.from({ length: n * h * w }, (_, i) => (i * 37) % 256), n, h, w, c: 1 });

test('JSON and binary requests: the black box\'s answers, exactly, in image order', async () => {
  const want = await bb.query(batch(7));
  for (const format of ['json', 'binary'] as const) {
    const client = httpBlackBox({ url, numClasses: 3, format, batchSize: 3 });
    assert.equal(Array.from(await client.query(batch(7))), Array.from(want), format);
  }
  assert.is(answered, 14);
});

test('a wrong image size, a body that does not match its shape, or a GET: 400 with the reason, not retried', async () => {
  requests = 0;
  const client = httpBlackBox({ url, numClasses: 3, retries: 2 });
  const err = await client.query(batch(2, 3, 3)).then(() => '', (e: Error) => e.message);
  assert.match(err, /HTTP 400 images must be 2×3×1, got 3×3×1/);
  assert.is(requests, 1, 'a 4xx is not retried');
  const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-shape': '2,2,3,1' }, body: new Uint8Array(5) });
  assert.is(bad.status, 400);
  assert.match(await bad.text(), /5 image bytes for shape \[2,2,3,1\] \(12 expected\)/);
  const get = await fetch(url);
  assert.is(get.status, 400);
  const notJson = await fetch(url, { method: 'POST', body: '{' });
  assert.match(await notJson.text(), /not JSON/);
  server.close();
});

test.run();
