/**
 * Downloads with a progress bar and checksum verification, written atomically (a `.part` file
 * renamed into place only after the checksum matched): an interrupted or corrupt download leaves
 * nothing behind that could be mistaken for the real file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { Progress } from '../util/progress.js';

export interface Checksum {
  algorithm: 'sha256' | 'md5';
  hex: string;
}

export async function hashFile(file: string, algorithm: Checksum['algorithm']): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

export interface DownloadOptions {
  checksum?: Checksum;
  label?: string;
  /** for tests: an alternative fetch */
  fetchImpl?: typeof fetch;
}

/** Downloads `url` to `dest` unless `dest` already exists with the right checksum. */
export async function download(url: string, dest: string, opts: DownloadOptions = {}): Promise<'cached' | 'downloaded'> {
  const label = opts.label ?? url;
  if (existsSync(dest)) {
    if (!opts.checksum || (await hashFile(dest, opts.checksum.algorithm)) === opts.checksum.hex) return 'cached';
    console.warn(`${dest} exists but its checksum differs: downloading again`);
  }
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const res = await (opts.fetchImpl ?? fetch)(url).catch((e: Error) => {
    throw new Error(`download of ${url} failed: ${e.message}${(e as { cause?: Error }).cause ? ` (${(e as { cause?: Error }).cause!.message})` : ''}`);
  });
  if (!res.ok || !res.body) throw new Error(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const bar = new Progress(label, total || undefined, 'bytes');
  const hash = opts.checksum ? createHash(opts.checksum.algorithm) : null;
  let got = 0;
  const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    got += chunk.length;
    hash?.update(chunk);
    bar.update(got);
  });
  try {
    await pipeline(body, createWriteStream(part));
  } catch (e) {
    rmSync(part, { force: true });
    throw new Error(`download of ${url} interrupted after ${got} bytes: ${(e as Error).message}`);
  } finally {
    bar.stop();
  }
  if (total && got !== total) {
    rmSync(part, { force: true });
    throw new Error(`download of ${url} truncated: ${got} of ${total} bytes`);
  }
  if (hash && opts.checksum) {
    const hex = hash.digest('hex');
    if (hex !== opts.checksum.hex) {
      rmSync(part, { force: true });
      throw new Error(`checksum mismatch for ${url}: ${opts.checksum.algorithm} ${hex}, expected ${opts.checksum.hex}`);
    }
  }
  renameSync(part, dest);
  return 'downloaded';
}
