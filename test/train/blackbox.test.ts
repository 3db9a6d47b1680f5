/**
 * Black boxes (src/train/blackbox.ts) against a local HTTP server on 127.0.0.1: both protocols,
 * retries after 5xx and timeouts, no retry of a 4xx or a malformed answer, the budget enforced
 * before a request, and every malformed answer an error naming what is wrong (no partial result).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkProbabilities, functionBlackBox, httpBlackBox, moduleBlackBox, type ImageBatch } from '../../src/train/blackbox.js';
import { ResNet18 } from '../../src/nn/resnet.js';

const K = 3;
/** The reference answer: probabilities from the first pixel of each image (p = [v, 1 − v, 0] / 1). */
function answer(images: Uint8Array, n: number, px: number): number[][] {
  return Array.from({ length: n }, (_, i) => {
    const v = images[i * px]! / 255;
    return [v, 1 - v, 0];
  });
}

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let handler: Handler = () => {};
let hits = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    hits++;
    handler(req, Buffer.concat(chunks), res);
  });
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/predict`;

const batch = (n: number): ImageBatch => {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images[i * 4] = (i * 40) % 256;
  return { images, n, h: 2, w: 2, c: 1 };
};
const jsonServer: Handler = (_req, body, res) => {
  const { shape, images } = JSON.parse(body.toString()) as { shape: number[]; images: string };
  const bytes = Buffer.from(images, 'base64');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ probabilities: answer(bytes, shape[0]!, shape[1]! * shape[2]! * shape[3]!) }));
};

test.before.each(() => {
  hits = 0;
});

test('JSON protocol: probabilities in image order, split into requests of batchSize; queries counted', async () => {
  handler = jsonServer;
  const bb = httpBlackBox({ url, numClasses: K, batchSize: 4 });
  const p = await bb.query(batch(10));
  assert.equal(Array.from(p), answer(batch(10).images, 10, 4).flat().map((v) => Math.fround(v)));
  assert.is(hits, 3);
  assert.is(bb.queries, 10);
});

test('binary protocol: x-shape header, float32 answer', async () => {
  handler = (req, body, res) => {
    const [n, h, w, c] = String(req.headers['x-shape']).split(',').map(Number) as [number, number, number, number];
    res.end(Buffer.from(Float32Array.from(answer(body, n, h * w * c).flat()).buffer));
  };
  const p = await httpBlackBox({ url, numClasses: K, format: 'binary' }).query(batch(5));
  assert.equal(Array.from(p), answer(batch(5).images, 5, 4).flat().map((v) => Math.fround(v)));
});

test('a 5xx answer is retried; the retry\'s answer is used', async () => {
  handler = (req, body, res) => (hits === 1 ? res.writeHead(503).end('busy') : jsonServer(req, body, res));
  const p = await httpBlackBox({ url, numClasses: K, retries: 2 }).query(batch(2));
  assert.is(p.length, 2 * K);
  assert.is(hits, 2);
});

test('a server that does not answer in time: tried 1 + retries times, then an error naming the timeout', async () => {
  handler = () => {}; // never answers
  try {
    await httpBlackBox({ url, numClasses: K, timeoutMs: 150, retries: 1 }).query(batch(2));
    assert.unreachable('should time out');
  } catch (e) {
    assert.match((e as Error).message, /black box http:\/\/127\.0\.0\.1:\d+\/predict: no answer within 150 ms \(after 2 tries\)/);
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.is(hits, 2);
});

const malformed: [string, Handler, RegExp][] = [
  ['rows that do not sum to 1', (_q, _b, res) => res.end(JSON.stringify({ probabilities: [[0.5, 0.2, 0.1], [0, 1, 0]] })), /image 0: probabilities sum to 0\.800000, not 1/],
  ['a NaN', (_q, _b, res) => res.end('{"probabilities": [[0, 1, 0], [null, 1, 0]]}'), /image 1, class 0: null is not a probability/],
  ['a negative value', (_q, _b, res) => res.end(JSON.stringify({ probabilities: [[1.5, -0.5, 0], [0, 1, 0]] })), /image 0, class 1: -0\.5 is not a probability/],
  ['too few rows', (_q, _b, res) => res.end(JSON.stringify({ probabilities: [[0, 1, 0]] })), /1 values? for 2 images|3 values for 2 images/],
  ['rows of the wrong length', (_q, _b, res) => res.end(JSON.stringify({ probabilities: [[0, 1], [1, 0]] })), /no "probabilities" array of 2 rows of 3 numbers/],
  ['not JSON', (_q, _b, res) => res.end('<html>oops</html>'), /the answer is not JSON/],
  ['a 400', (_q, _b, res) => res.writeHead(400).end('bad image size'), /HTTP 400 bad image size/],
];
for (const [what, h, re] of malformed) {
  test(`an answer with ${what} is an error naming it, not retried, no result`, async () => {
    handler = h;
    try {
      await httpBlackBox({ url, numClasses: K, retries: 3 }).query(batch(2));
      assert.unreachable('should fail');
    } catch (e) {
      assert.match((e as Error).message, re);
    }
    assert.is(hits, 1);
  });
}

test('nothing listening at the address: retried, then an error naming the reason (ECONNREFUSED)', async () => {
  // a port that was free a moment ago
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((ok) => probe.close(() => ok()));
  const bb = httpBlackBox({ url: `http://127.0.0.1:${port}/`, numClasses: K, retries: 1 });
  const err = await bb.query(batch(2)).then(() => '', (e: Error) => e.message);
  assert.match(err, /fetch failed \(ECONNREFUSED\) \(after 2 tries\)/);
});

test('the budget is enforced before a request is sent', async () => {
  handler = jsonServer;
  const bb = httpBlackBox({ url, numClasses: K, budget: 5 });
  await bb.query(batch(3));
  try {
    await bb.query(batch(3));
    assert.unreachable('over budget');
  } catch (e) {
    assert.match((e as Error).message, /query budget of 5 images would be exceeded \(3 used, 3 more asked\)/);
  }
  assert.is(hits, 1);
});

test('function and local-module black boxes are checked the same way', async () => {
  const bad = functionBlackBox(async (b) => new Array(b.n * K).fill(0.5), K);
  try {
    await bad.query(batch(1));
    assert.unreachable('should fail');
  } catch (e) {
    assert.match((e as Error).message, /probabilities sum to 1\.500000/);
  }
  const m = new ResNet18({ numClasses: K, inChannels: 1, width: 0.0625, seed: 1 });
  const p = await moduleBlackBox(m, K, null).query(batch(3));
  checkProbabilities(p, 3, K, 'module'); // throws when a row is not a distribution
  assert.is(p.length, 3 * K);
  m.dispose();
});

test.after(() => {
  server.close();
});
test.run();
