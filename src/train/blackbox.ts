/**
 * A black-box classifier: anything that maps a batch of images to probability vectors, the only
 * access black-box REFINE (docs/method.md, "Black-box REFINE") has to the suspicious model. Three
 * kinds: a function, a local module (experiments: a backdoored model standing in for a remote
 * one), and an HTTP endpoint (fetch: Node 20+ and browsers) with timeouts, retries and a budget.
 *
 * Every answer is checked (n rows of k finite, non-negative probabilities summing to 1 within
 * 1e-3) and a bad one is an error naming the row: a black box never yields partial results.
 */
import { noGrad } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { softmax } from '../ops/softmax.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batches } from '../data/loader.js';

/** Images in the datasets' layout: n·h·w·c bytes, NHWC. */
export interface ImageBatch {
  images: Uint8Array;
  n: number;
  h: number;
  w: number;
  c: number;
}

export interface BlackBox {
  readonly numClasses: number;
  /** images sent so far (each image of each request once, retries not counted) */
  readonly queries: number;
  /** the probability vectors [n, numClasses] of a batch of images */
  query(batch: ImageBatch): Promise<Float32Array>;
}

/** Throws unless `p` holds n rows of k probabilities (finite, ≥ 0, summing to 1 within 1e-3). */
export function checkProbabilities(p: ArrayLike<number>, n: number, k: number, where: string): void {
  if (p.length !== n * k) throw new Error(`${where}: ${p.length} values for ${n} images × ${k} classes`);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = p[i * k + j]!;
      if (!Number.isFinite(v) || v < 0) throw new Error(`${where}: image ${i}, class ${j}: ${v} is not a probability`);
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new Error(`${where}: image ${i}: probabilities sum to ${sum.toFixed(6)}, not 1`);
  }
}

/** The class of each row of n·k probabilities (the first of equal maxima). */
export function argmaxRows(p: ArrayLike<number>, k: number): Int32Array {
  return Int32Array.from({ length: p.length / k }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j]! > p[i * k + best]!) best = j;
    return best;
  });
}

/** Counts queries and enforces the budget (images) before a request is made. */
class Meter {
  queries = 0;
  constructor(
    readonly budget: number,
    readonly where: string,
  ) {}
  take(n: number): void {
    if (this.queries + n > this.budget) throw new Error(`${this.where}: the query budget of ${this.budget} images would be exceeded (${this.queries} used, ${n} more asked)`);
    this.queries += n;
  }
}

/** A black box from a function (checked like any other). */
export function functionBlackBox(fn: (batch: ImageBatch) => Promise<ArrayLike<number>>, numClasses: number, o: { budget?: number; name?: string } = {}): BlackBox {
  const meter = new Meter(o.budget ?? Infinity, o.name ?? 'black box');
  return {
    numClasses,
    get queries() {
      return meter.queries;
    },
    async query(batch) {
      meter.take(batch.n);
      const p = await fn(batch);
      checkProbabilities(p, batch.n, numClasses, meter.where);
      return Float32Array.from(p);
    },
  };
}

/** A local model seen only through softmax(F(x)) on images normalised with `normalization`. */
export function moduleBlackBox(model: { forward(x: Tensor): Tensor; eval?(): unknown }, numClasses: number, normalization: Normalization | null, o: { budget?: number; batchSize?: number } = {}): BlackBox {
  model.eval?.();
  return functionBlackBox(
    async (b) => {
      const ds: ImageDataset = { name: 'query', images: b.images, labels: new Uint8Array(b.n), n: b.n, h: b.h, w: b.w, c: b.c, classes: [] };
      const out = new Float32Array(b.n * numClasses);
      let off = 0;
      for (const x of batches(ds, 0, { batchSize: o.batchSize ?? 256, normalization })) {
        const p = noGrad(() => scope(() => softmax(model.forward(tensor(x.x, x.shape)))));
        out.set((await p.read()) as Float32Array, off);
        off += p.size;
        p.dispose();
      }
      return out;
    },
    numClasses,
    { budget: o.budget, name: 'local black box' },
  );
}

export interface HttpBlackBoxOptions {
  url: string;
  numClasses: number;
  /**
   * 'json': POST {"shape": [n, h, w, c], "images": base64 of the uint8 NHWC bytes}, answer
   * {"probabilities": [[k numbers], ...]}; 'binary': POST the bytes (application/octet-stream,
   * header x-shape: n,h,w,c), answer n·k little-endian float32
   */
  format?: 'json' | 'binary';
  /** per request, ms (default 30,000) */
  timeoutMs?: number;
  /** further tries after a timeout, a network error or a 5xx answer (default 2); 4xx and malformed answers are not retried */
  retries?: number;
  /** the most images to send in all (default: no limit) */
  budget?: number;
  /** images per request (default 256) */
  batchSize?: number;
  fetchImpl?: typeof fetch;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** An HTTP endpoint as a black box (the protocol: HttpBlackBoxOptions.format). */
export function httpBlackBox(o: HttpBlackBoxOptions): BlackBox {
  const format = o.format ?? 'json';
  const where = `black box ${o.url}`;
  const meter = new Meter(o.budget ?? Infinity, where);
  const doFetch = o.fetchImpl ?? fetch;
  const k = o.numClasses;

  async function request(b: ImageBatch): Promise<Float32Array> {
    const init: RequestInit =
      format === 'json'
        ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ shape: [b.n, b.h, b.w, b.c], images: base64(b.images) }) }
        : { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-shape': `${b.n},${b.h},${b.w},${b.c}` }, body: new Uint8Array(b.images) };
    const tries = 1 + (o.retries ?? 2);
    let last = '';
    for (let t = 0; t < tries; t++) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), o.timeoutMs ?? 30_000);
      let res: Response;
      try {
        res = await doFetch(o.url, { ...init, signal: ctl.signal });
        if (res.status >= 500) {
          last = `HTTP ${res.status}`;
          continue;
        }
        if (!res.ok) throw new Error(`${where}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
        let p: ArrayLike<number>;
        if (format === 'json') {
          let body: { probabilities?: unknown };
          try {
            body = (await res.json()) as typeof body;
          } catch (e) {
            throw new Error(`${where}: the answer is not JSON (${(e as Error).message})`);
          }
          if (!Array.isArray(body.probabilities) || !body.probabilities.every((r) => Array.isArray(r) && r.length === k)) {
            throw new Error(`${where}: the answer has no "probabilities" array of ${b.n} rows of ${k} numbers`);
          }
          p = (body.probabilities as number[][]).flat();
        } else {
          const buf = new Uint8Array(await res.arrayBuffer());
          if (buf.length !== 4 * b.n * k) throw new Error(`${where}: ${buf.length} bytes in the answer, ${4 * b.n * k} expected (${b.n} × ${k} float32)`);
          p = new Float32Array(buf.buffer, buf.byteOffset, b.n * k);
        }
        checkProbabilities(p, b.n, k, where);
        return Float32Array.from(p);
      } catch (e) {
        if ((e as Error).name !== 'AbortError' && !(e instanceof TypeError)) throw e; // a 4xx or a malformed answer
        // (fetch's network errors say only "fetch failed"; the reason, e.g. ECONNREFUSED, is the cause)
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        last = (e as Error).name === 'AbortError' ? `no answer within ${o.timeoutMs ?? 30_000} ms` : `${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new Error(`${where}: ${last} (after ${tries} tries)`);
  }

  return {
    numClasses: k,
    get queries() {
      return meter.queries;
    },
    async query(b) {
      meter.take(b.n);
      const size = o.batchSize ?? 256;
      const px = b.h * b.w * b.c;
      const out = new Float32Array(b.n * k);
      for (let i = 0; i < b.n; i += size) {
        const n = Math.min(size, b.n - i);
        out.set(await request({ ...b, images: b.images.subarray(i * px, (i + n) * px), n }), i * k);
      }
      return out;
    },
  };
}
