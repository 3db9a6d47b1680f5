import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { PNG } from 'pngjs';
import { parseIdx } from '../../src/data/idx.js';
import { FASHION_DEBIAN_DIR, findFashionMnist, loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { fetchCifar10, loadCifar10 } from '../../src/data/cifar10.js';
import { hashFile } from '../../src/data/download.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { loadDataset } from '../../src/data/registry.js';
import jpeg from 'jpeg-js';

const tmp = mkdtempSync(join(tmpdir(), 'refine-data-'));

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const b = Buffer.alloc(4 + 4 * dims.length + data.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(data).copy(b, 4 + 4 * dims.length);
  return b;
}

test('IDX parsing: plain and gzipped, with clear errors', () => {
  const raw = idx(0x803, [2, 2, 3], [...Array(12).keys()]);
  for (const buf of [raw, gzipSync(raw)]) {
    const a = parseIdx(buf, 'x.idx');
    assert.equal(a.dims, [2, 2, 3]);
    assert.equal(Array.from(a.data), [...Array(12).keys()]);
  }
  assert.throws(() => parseIdx(idx(0x0d03, [1], [1]), 'bad.idx'), /bad\.idx: wrong magic number/);
  assert.throws(() => parseIdx(raw.subarray(0, raw.length - 2), 't.idx'), /t\.idx: truncated data/);
  assert.throws(() => parseIdx(Buffer.concat([raw, Buffer.from([1])]), 'u.idx'), /u\.idx: 1 unexpected trailing bytes/);
  assert.throws(() => parseIdx(Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'g.gz'), /g\.gz: corrupt gzip/);
});

const haveFashion = existsSync(join(FASHION_DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));
(haveFashion ? test : test.skip)('Fashion-MNIST (the real dataset, from Debian) loads with verified checksums', () => {
  const { train, test: tst } = loadFashionMnist(join(tmp, 'nodata'));
  assert.is(train.n, 60000);
  assert.is(tst.n, 10000);
  assert.equal([train.h, train.w, train.c], [28, 28, 1]);
  const counts = new Array(10).fill(0);
  for (const l of train.labels) counts[l]++;
  assert.equal(counts, new Array(10).fill(6000));
});

test('Fashion-MNIST: a directory with a wrong file is rejected with the file name', () => {
  const dir = join(tmp, 'fm-bad');
  mkdirSync(dir, { recursive: true });
  for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
    writeFileSync(join(dir, f), gzipSync(idx(f.includes('images') ? 0x803 : 0x801, f.includes('images') ? [1, 28, 28] : [1], new Array(f.includes('images') ? 784 : 1).fill(0))));
  }
  assert.throws(() => loadFashionMnist(tmp, dir), /train-images-idx3-ubyte\.gz: checksum mismatch/);
  assert.throws(() => findFashionMnist(tmp, join(tmp, 'nowhere')), /missing Fashion-MNIST file/);
});

/** A small CIFAR-10-format archive: record r of batch b has label (r+b)%10 and pixel value (r*7+b+ch) */
async function makeCifarArchive(records: number, dir: string, corrupt = false): Promise<string> {
  const src = join(dir, 'src');
  const bin = join(src, 'cifar-10-batches-bin');
  mkdirSync(bin, { recursive: true });
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  files.forEach((f, b) => {
    const buf = Buffer.alloc(records * 3073);
    for (let r = 0; r < records; r++) {
      buf[r * 3073] = (r + b) % 10;
      for (let ch = 0; ch < 3; ch++) buf.fill((r * 7 + b + ch * 50) % 256, r * 3073 + 1 + ch * 1024, r * 3073 + 1 + (ch + 1) * 1024);
      buf[r * 3073 + 1 + 5] = 200; // pixel 5 of the red plane
    }
    writeFileSync(join(bin, f), corrupt && b === 2 ? buf.subarray(0, buf.length - 10) : buf);
  });
  const archive = join(dir, 'cifar.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: src }, ['cifar-10-batches-bin']);
  return archive;
}

test('CIFAR-10: import of a local archive, CHW converted to HWC', async () => {
  const dir = join(tmp, 'cifar-import');
  const archive = await makeCifarArchive(3, dir);
  const dataDir = join(dir, 'data');
  await fetchCifar10(dataDir, { from: archive });
  const { train, test: tst } = loadCifar10(dataDir);
  assert.is(train.n, 15);
  assert.is(tst.n, 3);
  assert.is(train.labels[4], (1 + 1) % 10); // batch 1 (b=1), record 1
  // image 4 = batch index 1, record 1: R = (7+1)%256 = 8, G = 58, B = 108, and pixel 5's R = 200
  assert.equal(Array.from(train.images.subarray(4 * 3072, 4 * 3072 + 3)), [8, 58, 108]);
  assert.is(train.images[4 * 3072 + 5 * 3], 200);
});

test('CIFAR-10: a corrupt archive names the file and leaves nothing behind', async () => {
  const dir = join(tmp, 'cifar-corrupt');
  const archive = await makeCifarArchive(2, dir, true);
  const dataDir = join(dir, 'data');
  try {
    await fetchCifar10(dataDir, { from: archive });
    assert.unreachable('should fail');
  } catch (e) {
    assert.match((e as Error).message, /data_batch_3\.bin: truncated/);
  }
  assert.not.ok(existsSync(join(dataDir, 'cifar10')), 'no half-imported dataset');
  writeFileSync(join(dir, 'junk.tar.gz'), 'not an archive');
  try {
    await fetchCifar10(dataDir, { from: join(dir, 'junk.tar.gz') });
    assert.unreachable('should fail');
  } catch (e) {
    assert.match((e as Error).message, /junk\.tar\.gz/);
  }
});

test('CIFAR-10: download from a (local) server with checksum, idempotent; a mismatch leaves no file', async () => {
  const dir = join(tmp, 'cifar-dl');
  const archive = await makeCifarArchive(2, dir);
  const body = readFileSync(archive);
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/cifar-10-binary.tar.gz`;
  try {
    const md5 = await hashFile(archive, 'md5');
    const dataDir = join(dir, 'data');
    await fetchCifar10(dataDir, { url, checksum: { algorithm: 'md5', hex: md5 } });
    assert.is(loadCifar10(dataDir).train.n, 10);
    await fetchCifar10(dataDir, { url, checksum: { algorithm: 'md5', hex: md5 } });
    assert.is(hits, 1, 'a second fetch does not download again');
    const other = join(dir, 'data2');
    try {
      await fetchCifar10(other, { url, checksum: { algorithm: 'md5', hex: '0'.repeat(32) } });
      assert.unreachable('should fail');
    } catch (e) {
      assert.match((e as Error).message, /checksum mismatch/);
    }
    assert.not.ok(existsSync(join(other, 'downloads', 'cifar-10-binary.tar.gz')));
    assert.not.ok(existsSync(join(other, 'downloads', 'cifar-10-binary.tar.gz.part')));
  } finally {
    server.close();
  }
});

function writePng(file: string, w: number, h: number, rgb: (p: number) => [number, number, number]): void {
  const png = new PNG({ width: w, height: h });
  for (let p = 0; p < w * h; p++) png.data.set([...rgb(p), 255], 4 * p);
  writeFileSync(file, PNG.sync.write(png));
}

function writeJpeg(file: string, w: number, h: number, rgb: (p: number) => [number, number, number]): void {
  const data = Buffer.alloc(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([...rgb(p), 255], 4 * p);
  writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 100).data);
}

test('image folder: a ramp resized to half size is the average of each 2×2 block (bilinear, half-pixel centres)', () => {
  const root = join(tmp, 'ramp');
  mkdirSync(join(root, 'only'), { recursive: true });
  // 10 wide, 6 high: red rises along x, green along y, blue constant
  writePng(join(root, 'only', '0.png'), 10, 6, (p) => [20 * (p % 10), 40 * Math.floor(p / 10), 99]);
  const ds = loadImageFolder(root, { size: { h: 3, w: 5 } });
  assert.equal([ds.n, ds.h, ds.w, ds.c], [1, 3, 5, 3]);
  const want: number[] = [];
  for (let y = 0; y < 3; y++) for (let x = 0; x < 5; x++) want.push(20 * (2 * x + 0.5), 40 * (2 * y + 0.5), 99);
  assert.equal(Array.from(ds.images), want);
});

test('image folder: classes from sub-folders, resized on request, RGB kept', () => {
  const root = join(tmp, 'folder');
  for (const [cls, color] of [['b_cat', [255, 0, 0]], ['a_dog', [0, 0, 255]]] as const) {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < 2; i++) writePng(join(root, cls, `${i}.png`), 10, 6, () => [...color]);
  }
  const ds = loadImageFolder(root, { size: { h: 4, w: 4 } });
  assert.equal(ds.classes, ['a_dog', 'b_cat']);
  assert.equal([ds.n, ds.h, ds.w, ds.c], [4, 4, 4, 3]);
  assert.equal(Array.from(ds.labels), [0, 0, 1, 1]);
  assert.equal(Array.from(ds.images.subarray(0, 3)), [0, 0, 255]);
  assert.equal(Array.from(ds.images.subarray(2 * 48, 2 * 48 + 3)), [255, 0, 0]);
  const said: string[] = [];
  const native = loadImageFolder(root, { onAdapted: (m) => said.push(m) });
  assert.equal([native.h, native.w, native.c], [6, 10, 3], 'native size unless a size is given');
  assert.equal(said, [], 'nothing adapted, nothing said');
  loadImageFolder(root, { size: { h: 4, w: 4 }, channels: 1, onAdapted: (m) => said.push(m) });
  assert.equal(said, [`${root}: 4 of 4 image(s) resized to 4×4 (bilinear); 4 of 4 colour image(s) converted to grey (ITU-R 601 luminance)`]);
  assert.throws(() => loadImageFolder(join(tmp, 'missing')), /cannot read the image folder/);
});

test('image folder: PNG and JPEG mixed, grey detected, one class list for every split, clear errors', () => {
  const root = join(tmp, 'mixed');
  const grey = (p: number): [number, number, number] => [p * 8, p * 8, p * 8];
  for (const split of ['train', 'test']) {
    for (const cls of ['shirt', 'boot']) {
      mkdirSync(join(root, split, cls), { recursive: true });
      writePng(join(root, split, cls, 'a.png'), 5, 5, grey);
      writeJpeg(join(root, split, cls, 'b.JPG'), 5, 5, grey);
    }
  }
  // the test split lacks 'boot' on purpose later; first both splits are complete
  const { split, normalization } = loadDataset(`folder:${root}`);
  assert.equal([split.train.n, split.train.h, split.train.w, split.train.c], [4, 5, 5, 1], '.JPG files are read, grey kept grey');
  assert.equal(split.train.classes, ['boot', 'shirt']);
  assert.equal(split.test.classes, split.train.classes);
  assert.is(normalization.mean.length, 1);
  // the JPEG decodes to (nearly) the same grey ramp as the PNG
  const png = Array.from(split.train.images.subarray(0, 25));
  const jpg = Array.from(split.train.images.subarray(25, 50));
  assert.ok(png.every((v, i) => Math.abs(v - jpg[i]!) <= 3), 'JPEG within 3 grey levels of the PNG');
  assert.is(loadDataset(`folder:${root}`, 'data', { channels: 3 }).split.train.c, 3);
  // a test class the training split lacks is refused instead of shifting every label
  mkdirSync(join(root, 'test', 'coat'));
  writePng(join(root, 'test', 'coat', 'a.png'), 5, 5, grey);
  assert.throws(() => loadDataset(`folder:${root}`), /class folder\(s\) 'coat' not in the class list \(boot, shirt\)/);
  rmSync(join(root, 'test', 'coat'), { recursive: true });
  // a test split missing a class keeps the training split's numbering
  rmSync(join(root, 'test', 'boot'), { recursive: true });
  const partial = loadDataset(`folder:${root}`).split.test;
  assert.equal([partial.classes, Array.from(partial.labels)], [['boot', 'shirt'], [1, 1]]);
  // an empty class folder, an unreadable file, images of different sizes
  mkdirSync(join(root, 'train', 'empty'));
  writeFileSync(join(root, 'train', 'empty', 'notes.txt'), 'x');
  assert.throws(() => loadImageFolder(join(root, 'train')), /empty: empty class folder \(no \.png \/ \.jpg images; 1 other file\(s\)\)/);
  rmSync(join(root, 'train', 'empty'), { recursive: true });
  writeFileSync(join(root, 'train', 'shirt', 'c.png'), 'not a png');
  assert.throws(() => loadImageFolder(join(root, 'train')), /shirt\/c\.png: neither a PNG nor a JPEG file/);
  writePng(join(root, 'train', 'shirt', 'c.png'), 7, 5, grey);
  assert.throws(() => loadImageFolder(join(root, 'train')), /images of different sizes .* give an input size/);
  assert.is(loadImageFolder(join(root, 'train'), { size: { h: 5, w: 5 } }).n, 5);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
