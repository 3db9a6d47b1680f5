import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeRawSafetensors } from '../helpers.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { readSafetensors, toFloat32, writeSafetensors, type SafeTensor } from '../../src/nn/safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'ckpt-'));

/** A safetensors file in the temporary folder from a raw header object and data bytes. */
const rawFile = (name: string, header: unknown, data: Uint8Array): string => writeRawSafetensors(join(tmp, name), header, data);

const f32 = (n: number) => ({ dtype: 'F32', shape: [n] });

test('safetensors: a well-formed file reads back whatever the order of its header entries', () => {
  const ok = rawFile('ok.safetensors', { b: { ...f32(1), data_offsets: [4, 8] }, a: { ...f32(1), data_offsets: [0, 4] } }, new Uint8Array(new Float32Array([1.5, -2]).buffer));
  const t = readSafetensors(ok).tensors;
  assert.equal([toFloat32(t.get('a')!)[0], toFloat32(t.get('b')!)[0]], [1.5, -2]);
});

test('toFloat32: F16, BF16 and F64 convert exactly for representable values; integers are refused', () => {
  const vals = [0, 1, -2, 0.5, 65504, -0.000060975551605224609375];
  const half = new Uint16Array([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x83ff]);
  assert.equal(Array.from(toFloat32({ dtype: 'F16', shape: [6], data: new Uint8Array(half.buffer) })), vals.map((v) => Math.fround(v)));
  const f = new Float32Array([1, -3.5, 2 ** 100, 2 ** -100]);
  const bf = Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16); // exact: low 16 bits are zero
  assert.equal(Array.from(toFloat32({ dtype: 'BF16', shape: [4], data: new Uint8Array(bf.buffer) })), Array.from(f));
  const d = new Float64Array([0.1, -7]);
  assert.equal(Array.from(toFloat32({ dtype: 'F64', shape: [2], data: new Uint8Array(d.buffer) })), [Math.fround(0.1), -7]);
  assert.throws(() => toFloat32({ dtype: 'I64', shape: [1], data: new Uint8Array(8) }, 'x'), /x is I64, not a floating-point tensor/);
});

async function weights(m: ResNet18): Promise<number[][]> {
  return (await Promise.all([...m.stateDict().values()].map((t) => t.read()))).map((a) => Array.from(a as Float32Array));
}

/** The checkpoint's tensors renamed and/or converted (a torchvision- or half-precision-style file). */
function rewrite(src: string, dst: string, rename: (n: string) => string, dtype?: 'F16' | 'BF16'): void {
  const { tensors, metadata } = readSafetensors(src);
  const out = new Map<string, SafeTensor>();
  for (const [n, t] of tensors) {
    if (dtype && t.dtype === 'F32') {
      const v = toFloat32(t);
      const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
      // round-trip through the 16-bit format: BF16 = high half; F16 via a float → half conversion
      const h = Uint16Array.from(bits, (b, i) => (dtype === 'BF16' ? b >>> 16 : toHalf(v[i]!)));
      out.set(rename(n), { dtype, shape: t.shape, data: new Uint8Array(h.buffer) });
    } else out.set(rename(n), t);
  }
  writeSafetensors(dst, out, metadata);
}

function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  const sign = (b >>> 16) & 0x8000;
  const e = ((b >>> 23) & 0xff) - 127 + 15;
  const m = b & 0x7fffff;
  if (e <= 0) return sign | (e < -10 ? 0 : ((m | 0x800000) >> (1 - e + 13)));
  if (e >= 31) return sign | 0x7c00;
  return sign | (e << 10) | (m >> 13);
}

test('loadCheckpoint: torchvision names (downsample, fc), F16 and BF16 files load; a misfit loads nothing', async () => {
  const a = new ResNet18({ numClasses: 10, width: 0.125, seed: 1 }).eval();
  const file = join(tmp, 'a.safetensors');
  await saveCheckpoint(a, file);
  const want = await weights(a);
  const tv = join(tmp, 'torchvision.safetensors');
  rewrite(file, tv, (n) => n.replace('.shortcut.', '.downsample.').replace(/^linear\./, 'fc.'));
  assert.ok(readSafetensors(tv).tensors.has('layer2.0.downsample.0.weight') && readSafetensors(tv).tensors.has('fc.weight'));
  const b = new ResNet18({ numClasses: 10, width: 0.125, seed: 2 }).eval();
  loadCheckpoint(b, tv);
  assert.equal(await weights(b), want, 'torchvision-named file loads the same weights');
  const bf = join(tmp, 'bf16.safetensors');
  rewrite(file, bf, (n) => n, 'BF16');
  const c = new ResNet18({ numClasses: 10, width: 0.125, seed: 3 }).eval();
  loadCheckpoint(c, bf);
  const got = (await weights(c)).flat();
  const ref = want.flat();
  assert.ok(got.every((v, i) => Math.abs(v - ref[i]!) <= Math.abs(ref[i]!) * 2 ** -7 + 1e-30), 'BF16 within its rounding');
  const h = join(tmp, 'f16.safetensors');
  rewrite(file, h, (n) => n, 'F16');
  loadCheckpoint(c, h);
  const got16 = (await weights(c)).flat();
  assert.ok(got16.every((v, i) => Math.abs(v - ref[i]!) <= Math.abs(ref[i]!) * 2 ** -10 + 2 ** -24), 'F16 within its rounding');
  // a file that fits all but one tensor: the error lists it, and the model keeps its weights
  const d = new ResNet18({ numClasses: 10, width: 0.125, seed: 4 }).eval();
  const before = await weights(d);
  const bad = join(tmp, 'bad-shape.safetensors');
  const { tensors } = readSafetensors(file);
  const lin = tensors.get('linear.bias')!;
  tensors.set('linear.bias', { dtype: 'F32', shape: [9], data: lin.data.subarray(0, 36) });
  writeSafetensors(bad, tensors);
  assert.throws(() => loadCheckpoint(d, bad), /does not fit the model \(1 problem; nothing was loaded\):\n {2}linear\.bias: found \[9\], the model expects \[10\]/);
  assert.equal(await weights(d), before, 'nothing was written');
  // missing and unexpected names are listed with their shapes
  const renamed = join(tmp, 'renamed.safetensors');
  rewrite(file, renamed, (n) => (n === 'conv1.weight' ? 'stem.weight' : n));
  assert.throws(() => loadCheckpoint(d, renamed), (e: Error) => /missing conv1\.weight \[8,3,3,3\]/.test(e.message) && /unexpected stem\.weight F32 \[8,3,3,3\]/.test(e.message));
  assert.equal(await weights(d), before);
  assert.ok(readFileSync(file).length > 0);
  for (const m of [a, b, c, d]) m.dispose();
});

test.run();
