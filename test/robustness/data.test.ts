/**
 * Bad-input corpus, data files: IDX files, Fashion-MNIST folders, CIFAR-10 batch files and
 * archives, image folders. Each bad file is refused with the file named; none loads as a smaller
 * or relabelled dataset, and a failed import leaves nothing behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { PNG } from 'pngjs';
import { parseIdx } from '../../src/data/idx.js';
import { loadFashionMnistDir } from '../../src/data/fashion-mnist.js';
import { fetchCifar10, loadCifar10 } from '../../src/data/cifar10.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { loadDataset } from '../../src/data/registry.js';
import { fails, failsAsync, snapshot, tempDir, unchanged } from './corpus.js';

const tmp = tempDir('data');

function idx(magic: number, dims: number[], data: number[] | Uint8Array): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length + data.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(data).copy(b, 4 + 4 * dims.length);
  return b;
}

const idxCases: [string, Uint8Array, RegExp][] = [
  ['a float IDX (type 0x0D)', idx(0x0d03, [1, 2, 2], [0, 0, 0, 0]), /wrong magic number 0x00000d03/],
  ['a 2-byte file', Buffer.from([0, 0]), /truncated \(only 2 bytes\)/],
  ['a header cut short', idx(0x0803, [1], []).subarray(0, 10), /truncated header/],
  ['pixel data cut short', idx(0x0803, [2, 2, 2], [1, 2, 3]), /truncated data: 3 bytes for dims \[2,2,2\] \(8 expected\)/],
  ['trailing bytes', idx(0x0801, [2], [1, 2, 3]), /1 unexpected trailing bytes/],
  ['corrupt gzip', Buffer.concat([gzipSync(idx(0x0801, [2], [1, 2])).subarray(0, 12)]), /corrupt gzip data/],
];
for (const [what, bytes, re] of idxCases) {
  test(`IDX: ${what} is refused, the file named`, () => {
    fails(() => parseIdx(bytes, 'x/labels.idx'), re, 'x/labels.idx');
  });
}

const FM = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
/** A Fashion-MNIST-format folder of `n` 2×2 images per split, with `edit` applied to the files. */
function fashionDir(name: string, n: number, edit: (files: Map<string, Buffer>) => void = () => {}): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, Buffer>();
  for (const f of FM) files.set(f, f.includes('images') ? idx(0x803, [n, 2, 2], new Uint8Array(4 * n)) : idx(0x801, [n], new Uint8Array(n)));
  edit(files);
  for (const [f, b] of files) writeFileSync(join(dir, f), gzipSync(b));
  return dir;
}

test('Fashion-MNIST: a folder of well-formed files loads (the control of the cases below)', () => {
  assert.is(loadFashionMnistDir(fashionDir('fm-ok', 3), false).train.n, 3);
});

test('Fashion-MNIST: fewer labels than images is refused, the label file named', () => {
  const dir = fashionDir('fm-labels', 3, (f) => f.set(FM[1]!, idx(0x801, [2], [0, 1])));
  fails(() => loadFashionMnistDir(dir, false), /2 labels for 3 images/, join(dir, FM[1]!));
});

test('Fashion-MNIST: a label past the last class is refused with the image index', () => {
  const dir = fashionDir('fm-range', 3, (f) => f.set(FM[3]!, idx(0x801, [3], [0, 12, 1])));
  fails(() => loadFashionMnistDir(dir, false), /label 12 of image 1 is out of range \(10 classes\)/, 'fashion-mnist/test');
});

test('Fashion-MNIST: a corrupt gzip file is named (checksum path)', () => {
  const dir = fashionDir('fm-gzip', 3);
  writeFileSync(join(dir, FM[0]!), readFileSync(join(dir, FM[0]!)).subarray(0, 15));
  fails(() => loadFashionMnistDir(dir, true), /corrupt gzip data/, join(dir, FM[0]!));
});

test('Fashion-MNIST: a file that is not the official one fails its checksum', () => {
  const dir = fashionDir('fm-sum', 3);
  fails(() => loadFashionMnistDir(dir, true), /checksum mismatch/, join(dir, FM[0]!));
});

const CIFAR_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
/** A CIFAR-10 folder (dataDir/cifar10/cifar-10-batches-bin) of `records` records per batch file. */
function cifarData(name: string, records: number, edit: (file: string, buf: Buffer) => Buffer | null = (_, b) => b): { dataDir: string; bin: string } {
  const dataDir = join(tmp, name);
  const bin = join(dataDir, 'cifar10', 'cifar-10-batches-bin');
  mkdirSync(bin, { recursive: true });
  for (const f of CIFAR_FILES) {
    const buf = Buffer.alloc(records * 3073, 7);
    for (let r = 0; r < records; r++) buf[r * 3073] = r % 10;
    const out = edit(f, buf);
    if (out) writeFileSync(join(bin, f), out);
  }
  return { dataDir, bin };
}

test('CIFAR-10: a batch file cut at a record boundary is refused (it would load as a smaller dataset)', () => {
  const { dataDir, bin } = cifarData('cifar-cut-record', 4, (f, b) => (f === 'data_batch_3.bin' ? b.subarray(0, 3073) : b));
  fails(() => loadCifar10(dataDir), /1 records where the other batch files hold 4 \(cut short\?\)/, join(bin, 'data_batch_3.bin'));
});

test('CIFAR-10: a batch file cut inside a record is refused', () => {
  const { dataDir, bin } = cifarData('cifar-cut-mid', 4, (f, b) => (f === 'test_batch.bin' ? b.subarray(0, 3073 * 2 + 100) : b));
  fails(() => loadCifar10(dataDir), /not a multiple of 3073|bytes where the other batch files hold/, join(bin, 'test_batch.bin'));
});

test('CIFAR-10: a missing batch file is named', () => {
  const { dataDir } = cifarData('cifar-missing', 2, (f, b) => (f === 'data_batch_5.bin' ? null : b));
  fails(() => loadCifar10(dataDir), /missing CIFAR-10 batch file/, 'data_batch_5.bin');
});

test('CIFAR-10: a label byte of 10 or more is refused with the image index', () => {
  const { dataDir } = cifarData('cifar-label', 2, (f, b) => {
    if (f === 'test_batch.bin') b[3073] = 10;
    return b;
  });
  fails(() => loadCifar10(dataDir), /label 10 of image 1 is out of range/, 'cifar10/test');
});

test('CIFAR-10: no data folder at all says how to get it', () => {
  fails(() => loadCifar10(join(tmp, 'no-cifar')), /CIFAR-10 not found .*npm run fetch-data -- cifar10/, 'no-cifar');
});

test('CIFAR-10: an archive without cifar-10-batches-bin/ is refused and leaves nothing behind', async () => {
  const src = join(tmp, 'wrong-archive-src');
  mkdirSync(join(src, 'other'), { recursive: true });
  writeFileSync(join(src, 'other', 'x.bin'), 'x');
  const archive = join(tmp, 'wrong.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: src }, ['other']);
  const dataDir = join(tmp, 'wrong-archive-data');
  await failsAsync(() => fetchCifar10(dataDir, { from: archive }), /no cifar-10-batches-bin\/ folder inside/, archive);
  assert.ok(!existsSync(dataDir) || readdirSync(dataDir).length === 0, 'nothing left in the data folder');
});

test('CIFAR-10: an import killed half way is swept by the next import, which completes', async () => {
  const { bin } = cifarData('cifar-src', 2);
  const archive = join(tmp, 'cifar.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: join(bin, '..') }, ['cifar-10-batches-bin']);
  const dataDir = join(tmp, 'cifar-killed');
  mkdirSync(join(dataDir, 'cifar10.tmp-999999999', 'cifar-10-batches-bin'), { recursive: true }); // a dead process's half import
  await fetchCifar10(dataDir, { from: archive });
  assert.equal(readdirSync(dataDir), ['cifar10']);
  assert.is(loadCifar10(dataDir).train.n, 10);
});

function png(file: string, w: number, h: number, v = 100): void {
  const p = new PNG({ width: w, height: h });
  p.data.fill(v);
  for (let i = 3; i < p.data.length; i += 4) p.data[i] = 255;
  writeFileSync(file, PNG.sync.write(p));
}

/** root/<split>/<class>/<i>.png for each class of each split (3×3 grey). */
function folder(name: string, layout: Record<string, string[]>): string {
  const root = join(tmp, name);
  for (const [split, classes] of Object.entries(layout)) {
    for (const cls of classes) {
      mkdirSync(join(root, split, cls), { recursive: true });
      png(join(root, split, cls, '0.png'), 3, 3);
      png(join(root, split, cls, '1.png'), 3, 3, 30);
    }
  }
  return root;
}

test('image folder: a folder without class sub-folders is refused', () => {
  const root = join(tmp, 'flat');
  mkdirSync(root, { recursive: true });
  png(join(root, 'a.png'), 3, 3);
  fails(() => loadImageFolder(root), /no class sub-folders/, root);
});

test('image folder: an empty class folder is refused (it would become a class)', () => {
  const root = folder('empty-class', { train: ['a', 'b'] });
  mkdirSync(join(root, 'train', 'c'));
  fails(() => loadImageFolder(join(root, 'train')), /empty class folder/, join(root, 'train', 'c'));
});

test('image folder: an empty folder of a known class in a test split is allowed (no class is added, labels keep their numbers)', () => {
  const root = folder('empty-known', { train: ['a', 'b', 'c'], test: ['a', 'c'] });
  mkdirSync(join(root, 'test', 'b'));
  const { split } = loadDataset(`folder:${root}`);
  assert.equal([split.test.classes, Array.from(split.test.labels)], [['a', 'b', 'c'], [0, 0, 2, 2]]);
});

test('image folder: a test split whose class folders hold no image at all is refused', () => {
  const root = folder('all-empty', { train: ['a', 'b'] });
  mkdirSync(join(root, 'test', 'a'), { recursive: true });
  fails(() => loadDataset(`folder:${root}`), /no \.png \/ \.jpg images in its class folders/, join(root, 'test'));
});

test('image folder: a test class the training split lacks is refused (labels would shift)', () => {
  const root = folder('extra-test-class', { train: ['a', 'c'], test: ['a', 'b', 'c'] });
  fails(() => loadDataset(`folder:${root}`), /class folder\(s\) 'b' not in the class list \(a, c\)/, join(root, 'test'));
});

test('image folder: a test split missing a class keeps the training numbering', () => {
  const root = folder('missing-test-class', { train: ['a', 'b', 'c'], test: ['a', 'c'] });
  const { split } = loadDataset(`folder:${root}`);
  assert.equal(Array.from(split.test.labels), [0, 0, 2, 2]);
});

test('image folder: a file with a .png name that is not an image is named', () => {
  const root = folder('bad-png', { train: ['a'] });
  writeFileSync(join(root, 'train', 'a', '2.png'), 'hello');
  fails(() => loadImageFolder(join(root, 'train')), /neither a PNG nor a JPEG file/, join(root, 'train', 'a', '2.png'));
});

test('image folder: a PNG cut in half is named', () => {
  const root = folder('cut-png', { train: ['a'] });
  const f = join(root, 'train', 'a', '0.png');
  writeFileSync(f, readFileSync(f).subarray(0, 40));
  fails(() => loadImageFolder(join(root, 'train')), /not a readable PNG|cannot read the image/, f);
});

test('image folder: a .webp beside the PNGs is refused, not skipped', () => {
  const root = folder('webp', { train: ['a'] });
  writeFileSync(join(root, 'train', 'a', 'x.webp'), 'RIFF');
  fails(() => loadImageFolder(join(root, 'train')), /\.webp images are not read \(PNG and JPEG are\)/, join(root, 'train', 'a', 'x.webp'));
});

test('image folder: other files (notes, .DS_Store) are ignored', () => {
  const root = folder('notes', { train: ['a', 'b'] });
  writeFileSync(join(root, 'train', 'a', 'README.txt'), 'x');
  writeFileSync(join(root, 'train', 'b', '.DS_Store'), 'x');
  assert.is(loadImageFolder(join(root, 'train')).n, 4);
});

test('image folder: images of different sizes need an input size', () => {
  const root = folder('sizes', { train: ['a'] });
  png(join(root, 'train', 'a', '2.png'), 4, 3);
  fails(() => loadImageFolder(join(root, 'train')), /images of different sizes .* give an input size/, join(root, 'train'));
});

test('image folder: train/ without test/ beside it is refused', () => {
  const root = folder('no-test', { train: ['a', 'b'] });
  fails(() => loadDataset(`folder:${root}`), /no test\/ folder beside train\//, root);
});

test('image folder: a missing folder is named', () => {
  fails(() => loadImageFolder(join(tmp, 'nowhere')), /cannot read the image folder/, 'nowhere');
});

test('datasets: an unknown dataset name lists the known ones', () => {
  fails(() => loadDataset('mnist'), /unknown dataset 'mnist'; one of: fashion-mnist, cifar10, folder:/);
});

test('datasets: loading never writes into the data folder', () => {
  const root = folder('readonly', { train: ['a', 'b'], test: ['a', 'b'] });
  const before = snapshot(root);
  loadDataset(`folder:${root}`, 'data', { size: { h: 5, w: 5 }, channels: 3 });
  unchanged(root, before);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
