/**
 * The other side of httpBlackBox's protocol (blackbox.ts, HttpBlackBoxOptions): a Node HTTP
 * request handler answering probability vectors from any BlackBox, e.g. a local model through
 * moduleBlackBox. `npm run serve-blackbox` serves a checkpoint with it, so the black-box defense
 * (`npm run defend -- --blackbox-url`) can be tried against a model whose weights it never reads.
 * JSON and binary requests are told apart by their content type; a malformed request gets a 400
 * naming the problem, a failure of the model a 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlackBox } from './blackbox.js';

/** The largest request body accepted (bytes). */
const MAX_BODY = 256 * 1024 * 1024;

class BadRequest extends Error {}

function shapeOf(v: unknown): [number, number, number, number] {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((d) => Number.isInteger(d) && d > 0)) throw new BadRequest(`shape must be [n, h, w, c] of positive integers, got ${JSON.stringify(v)}`);
  return v as [number, number, number, number];
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new BadRequest(`request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * A request handler answering `bb`'s probabilities for images of `h`×`w`×`c` (other sizes are
 * refused: the model was trained on one). `onQuery` sees the number of images of each answered
 * request (logging, counting).
 */
export function blackBoxHandler(bb: BlackBox, input: { h: number; w: number; c: number }, onQuery?: (n: number) => void) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'POST') throw new BadRequest('POST a batch of images (JSON or binary)');
      const raw = await body(req);
      const binary = (req.headers['content-type'] ?? '').startsWith('application/octet-stream');
      let shape: [number, number, number, number];
      let images: Uint8Array;
      if (binary) {
        shape = shapeOf(String(req.headers['x-shape'] ?? '').split(',').map(Number));
        images = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      } else {
        let msg: { shape?: unknown; images?: unknown };
        try {
          msg = JSON.parse(raw.toString('utf8')) as typeof msg;
        } catch {
          throw new BadRequest('the body is not JSON');
        }
        shape = shapeOf(msg.shape);
        if (typeof msg.images !== 'string') throw new BadRequest('"images" must be a base64 string of the uint8 NHWC bytes');
        images = new Uint8Array(Buffer.from(msg.images, 'base64'));
      }
      const [n, h, w, c] = shape;
      if (h !== input.h || w !== input.w || c !== input.c) throw new BadRequest(`images must be ${input.h}×${input.w}×${input.c}, got ${h}×${w}×${c}`);
      if (images.length !== n * h * w * c) throw new BadRequest(`${images.length} image bytes for shape [${shape}] (${n * h * w * c} expected)`);
      const p = await bb.query({ images, n, h, w, c });
      onQuery?.(n);
      if (binary) {
        res.setHeader('content-type', 'application/octet-stream');
        res.end(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
      } else {
        const k = bb.numClasses;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ probabilities: Array.from({ length: n }, (_, i) => Array.from(p.subarray(i * k, (i + 1) * k))) }));
      }
    } catch (e) {
      res.statusCode = e instanceof BadRequest ? 400 : 500;
      res.setHeader('content-type', 'text/plain');
      res.end((e as Error).message);
    }
  };
}
