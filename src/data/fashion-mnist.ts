/**
 * Fashion-MNIST (28×28 grey, 10 classes). Found in Debian's `dataset-fashion-mnist` package
 * (/usr/share/datasets/fashion-mnist), in data/fashion-mnist after `npm run fetch-data --
 * fashion-mnist`, or in a directory given with --from. The checksums are SHA-256 of the
 * *decompressed* IDX bytes, so they hold for the official archives and Debian's recompressed ones.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checkDataset, type ImageDataset, type Split } from './dataset.js';
import { download } from './download.js';
import { parseIdx } from './idx.js';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const FILES = {
  trainImages: { name: 'train-images-idx3-ubyte.gz', sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
  trainLabels: { name: 'train-labels-idx1-ubyte.gz', sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
  testImages: { name: 't10k-images-idx3-ubyte.gz', sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
  testLabels: { name: 't10k-labels-idx1-ubyte.gz', sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
} as const;

export const FASHION_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** The first directory holding all four files: `dir` if given, then data/, then Debian's. */
export function findFashionMnist(dataDir: string, dir?: string): string | null {
  const candidates = dir ? [dir] : [join(dataDir, 'fashion-mnist'), FASHION_DEBIAN_DIR];
  for (const d of candidates) if (Object.values(FILES).every((f) => existsSync(join(d, f.name)))) return d;
  if (dir) {
    const missing = Object.values(FILES).filter((f) => !existsSync(join(dir, f.name))).map((f) => f.name);
    throw new Error(`${dir}: missing Fashion-MNIST file(s) ${missing.join(', ')}`);
  }
  return null;
}

function readChecked(dir: string, f: { name: string; sha256: string }, verify: boolean): Uint8Array {
  const file = join(dir, f.name);
  const raw = readFileSync(file);
  let bytes: Uint8Array = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new Error(`${file}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (verify) {
    const hex = createHash('sha256').update(bytes).digest('hex');
    if (hex !== f.sha256) throw new Error(`${file}: checksum mismatch (sha256 of the IDX data ${hex}, expected ${f.sha256})`);
  }
  return bytes;
}

export function loadFashionMnistDir(dir: string, verify = true): Split {
  const load = (img: { name: string; sha256: string }, lab: { name: string; sha256: string }, name: string): ImageDataset => {
    const im = parseIdx(readChecked(dir, img, verify), join(dir, img.name));
    const lb = parseIdx(readChecked(dir, lab, verify), join(dir, lab.name));
    if (im.dims.length !== 3) throw new Error(`${join(dir, img.name)}: expected 3 dims, got [${im.dims}]`);
    if (lb.dims.length !== 1 || lb.dims[0] !== im.dims[0]) throw new Error(`${join(dir, lab.name)}: ${lb.dims[0]} labels for ${im.dims[0]} images`);
    return checkDataset({ name, images: im.data, labels: lb.data, n: im.dims[0]!, h: im.dims[1]!, w: im.dims[2]!, c: 1, classes: FASHION_CLASSES });
  };
  return {
    train: load(FILES.trainImages, FILES.trainLabels, 'fashion-mnist/train'),
    test: load(FILES.testImages, FILES.testLabels, 'fashion-mnist/test'),
  };
}

/** Downloads the four files into dataDir/fashion-mnist (checked after decompression). */
export async function fetchFashionMnist(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'fashion-mnist');
  for (const f of Object.values(FILES)) await download(BASE_URL + f.name, join(dir, f.name), { label: f.name });
  try {
    loadFashionMnistDir(dir, true);
  } catch (e) {
    // never leave files behind that failed verification
    for (const f of Object.values(FILES)) rmSync(join(dir, f.name), { force: true });
    throw e;
  }
  return dir;
}

export function loadFashionMnist(dataDir = 'data', dir?: string): Split {
  const found = findFashionMnist(dataDir, dir);
  if (!found) {
    throw new Error(
      `Fashion-MNIST not found (looked in ${join(dataDir, 'fashion-mnist')} and ${FASHION_DEBIAN_DIR}): ` +
        'run `npm run fetch-data -- fashion-mnist`, or `apt-get install dataset-fashion-mnist` on Debian',
    );
  }
  return loadFashionMnistDir(found);
}
