/**
 * Bad-input corpus, checkpoints: every malformed safetensors file is refused with the file and the
 * tensor named; a file that does not fit a model loads nothing; a failed save leaves no temporary
 * file and the previous file intact.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeRawSafetensors } from '../helpers.js';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/nn/safetensors.js';
import { writeJsonAtomic } from '../../src/util/files.js';
import { fails, tempDir } from './corpus.js';

const tmp = tempDir('ckpt');

/** A safetensors file in the temporary folder from a raw header object and data bytes. */
const rawFile = (name: string, header: unknown, data: Uint8Array): string => writeRawSafetensors(join(tmp, name), header, data);

const f32 = (n: number) => ({ dtype: 'F32', shape: [n] });
const d8 = new Uint8Array(8);
const headers: [string, unknown, Uint8Array, RegExp, string?][] = [
  ['a null header', null, d8, /corrupt safetensors header \(not a JSON object\)/],
  ['an array header', [1, 2], d8, /corrupt safetensors header \(not a JSON object\)/],
  ['a number as an entry', { a: 3 }, d8, /a: header entry is not an object/, 'a'],
  ['an entry without dtype', { a: { shape: [2], data_offsets: [0, 8] } }, d8, /a: no dtype/],
  ['an unknown dtype', { a: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, d8, /a: unsupported dtype "Q7"/],
  ['an entry without shape', { a: { dtype: 'F32', data_offsets: [0, 8] } }, d8, /a: no shape/],
  ['a negative dimension', { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d8, /a: bad shape \[-2\]/],
  ['a fractional dimension', { a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, d8, /a: bad shape \[1\.5\]/],
  ['an entry without data_offsets', { a: { dtype: 'F32', shape: [2] } }, d8, /a: no data_offsets/],
  ['negative offsets', { a: { ...f32(2), data_offsets: [-8, 0] } }, d8, /a: bad data_offsets \[-8,0\]/],
  ['three offsets', { a: { ...f32(2), data_offsets: [0, 4, 8] } }, d8, /a: bad data_offsets \[0,4,8\]/],
  ['a range that does not hold the shape', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8, /a: byte range \[0, 8\) does not hold shape \[3\] F32/],
  ['a range past the data', { a: { ...f32(2), data_offsets: [8, 16] } }, d8, /a: byte range \[8, 16\) ends past the data/],
  ['overlapping ranges', { a: { ...f32(2), data_offsets: [0, 8] }, b: { ...f32(1), data_offsets: [4, 8] } }, d8, /b: byte range \[4, 8\) overlaps/],
  ['a shifted range (a hole before it)', { a: { ...f32(1), data_offsets: [4, 8] } }, d8, /a: bytes \[0, 4\) before it belong to no tensor/],
  ['junk after the last tensor', { a: { ...f32(1), data_offsets: [0, 4] } }, d8, /4 bytes after the last tensor belong to no tensor/],
  ['metadata that is not strings', { __metadata__: { a: 1 }, b: { ...f32(2), data_offsets: [0, 8] } }, d8, /__metadata__ must map names to strings/],
];
for (const [what, header, data, re, name] of headers) {
  test(`safetensors: ${what} is refused, the file named`, () => {
    const file = rawFile(`${what.replace(/\W+/g, '-')}.safetensors`, header, data);
    fails(() => readSafetensors(file), re, file, ...(name ? [name] : []));
  });
}

const raw: [string, Buffer, RegExp][] = [
  ['an empty file', Buffer.alloc(0), /not a safetensors file \(too short\)/],
  ['a 3-byte file', Buffer.from([1, 2, 3]), /not a safetensors file \(too short\)/],
  ['a header length past the end', Buffer.concat([Buffer.from([255, 255, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), /truncated \(header of 65535 bytes announced, 2 present\)/],
  ['a header that is not JSON', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{oops')]), /corrupt safetensors header/],
  ['a PNG renamed .safetensors', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), /not a safetensors file or truncated/],
];
for (const [what, bytes, re] of raw) {
  test(`safetensors: ${what} is refused, the file named`, () => {
    const file = join(tmp, `${what.replace(/\W+/g, '-')}.safetensors`);
    writeFileSync(file, bytes);
    fails(() => readSafetensors(file), re, file);
  });
}

test('safetensors: a missing file is named', () => {
  fails(() => readSafetensors(join(tmp, 'nowhere.safetensors')), /no such file/, 'nowhere.safetensors');
});

test('safetensors: a file cut short inside its data is refused as truncated', async () => {
  const m = new ResNet18({ numClasses: 10, width: 0.125, seed: 1 });
  const file = join(tmp, 'cut.safetensors');
  await saveCheckpoint(m, file);
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  fails(() => loadCheckpoint(m, file), /ends past the data .*truncated file\?/, file);
  m.dispose();
});

/** A model's weights as plain arrays (to check that a refused load wrote nothing). */
async function weights(m: ResNet18): Promise<number[][]> {
  return Promise.all([...m.stateDict().values()].map(async (t) => Array.from((await t.read()) as Float32Array)));
}

/** The checkpoint of a small ResNet with one tensor changed by `edit`, and a model to load it into. */
async function misfit(name: string, edit: (t: Map<string, import('../../src/nn/safetensors.js').SafeTensor>) => void) {
  const src = new ResNet18({ numClasses: 10, width: 0.125, seed: 1 });
  const file = join(tmp, `${name}.safetensors`);
  await saveCheckpoint(src, file);
  src.dispose();
  const { tensors } = readSafetensors(file);
  edit(tensors);
  writeSafetensors(file, tensors);
  const model = new ResNet18({ numClasses: 10, width: 0.125, seed: 2 });
  return { file, model, before: await weights(model) };
}

const misfits: [string, (t: Map<string, import('../../src/nn/safetensors.js').SafeTensor>) => void, RegExp][] = [
  ['a tensor of the wrong shape', (t) => t.set('linear.bias', { dtype: 'F32', shape: [9], data: t.get('linear.bias')!.data.subarray(0, 36) }), /linear\.bias: found \[9\], the model expects \[10\]/],
  ['a missing tensor', (t) => t.delete('conv1.weight'), /missing conv1\.weight \[8,3,3,3\]/],
  ['an unexpected tensor', (t) => t.set('extra.weight', { dtype: 'F32', shape: [1], data: new Uint8Array(4) }), /unexpected extra\.weight F32 \[1\]/],
  ['an integer tensor', (t) => t.set('linear.bias', { dtype: 'I32', shape: [10], data: new Uint8Array(40) }), /linear\.bias: found I32, the model expects a floating-point tensor/],
  ['a NaN weight', (t) => {
    const b = t.get('linear.bias')!;
    const v = new Float32Array(10).fill(0.5);
    v[3] = NaN;
    t.set('linear.bias', { ...b, data: new Uint8Array(v.buffer) });
  }, /linear\.bias: holds NaN/],
  ['an infinite running variance', (t) => {
    const b = t.get('bn1.running_var')!;
    const v = new Float32Array(b.data.byteLength / 4).fill(1);
    v[0] = Infinity;
    t.set('bn1.running_var', { ...b, data: new Uint8Array(v.buffer) });
  }, /bn1\.running_var: holds Infinity/],
];
for (const [what, edit, re] of misfits) {
  test(`checkpoint: ${what} is listed and nothing is loaded`, async () => {
    const { file, model, before } = await misfit(what.replace(/\W+/g, '-'), edit);
    fails(() => loadCheckpoint(model, file), re, file, 'nothing was loaded');
    assert.equal(await weights(model), before, 'the model keeps its weights');
    model.dispose();
  });
}

test('saves: a safetensors write that fails leaves no temporary file; what was in the way stays', () => {
  const dir = join(tmp, 'failing-st');
  mkdirSync(join(dir, 'm.safetensors'), { recursive: true });
  writeFileSync(join(dir, 'm.safetensors', 'keep'), 'x');
  assert.throws(() => writeSafetensors(join(dir, 'm.safetensors'), new Map([['a', { dtype: 'F32', shape: [1], data: new Uint8Array(4) }]])));
  assert.equal(readdirSync(dir), ['m.safetensors']);
  assert.is(readFileSync(join(dir, 'm.safetensors', 'keep'), 'utf8'), 'x');
});

test('saves: a JSON write that fails leaves no temporary file', () => {
  const dir = join(tmp, 'failing-json');
  mkdirSync(join(dir, 'r.json', 'sub'), { recursive: true });
  assert.throws(() => writeJsonAtomic(join(dir, 'r.json'), { a: 1 }));
  assert.equal(readdirSync(dir), ['r.json']);
});

test.run();
