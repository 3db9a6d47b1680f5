/**
 * Kernel uniform structs against the TypeScript that fills them, read from the bundled WGSL
 * (includes expanded). Conv (src/ops/conv-uniforms.ts): the geometry fields from
 * kernels/lib/conv_geo.wgsl first, then the kernel's named fields, then only padding, 16 u32
 * fields in all. Matmul (src/ops/matmul-uniforms.ts): the fields of kernels/lib/matmul_uniforms.wgsl
 * in matmulUniforms' order and byte offsets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WGSL } from '../../src/kernels.generated.js';
import { CONV_GEO_FIELDS, CONV_UNIFORM_EXTRAS, CONV_UNIFORM_FIELDS, convUniforms } from '../../src/ops/conv-uniforms.js';
import { MATMUL_UNIFORM_FIELDS, matmulUniforms } from '../../src/ops/matmul-uniforms.js';

/** The fields of `struct U` in a kernel's source, name and type (comments skipped). */
function uniformFields(src: string): { name: string; type: string }[] {
  const m = /struct U \{([\s\S]*?)\n\};/.exec(src);
  if (!m) throw new Error('no struct U');
  const body = m[1]!.split('\n').map((l) => l.replace(/\/\/.*$/, '')).join(' ');
  return [...body.matchAll(/(\w+)\s*:\s*(\w+<[^>]*>|\w+)/g)].map((f) => ({ name: f[1]!, type: f[2]! }));
}

test('every conv kernel is listed and every listed kernel exists', () => {
  const conv = Object.keys(WGSL).filter((k) => k.startsWith('conv2d_'));
  assert.equal(conv.sort(), Object.keys(CONV_UNIFORM_EXTRAS).sort());
});

for (const [kernel, extras] of Object.entries(CONV_UNIFORM_EXTRAS)) {
  test(`${kernel}: geometry, then ${extras.join(', ') || 'nothing'}, then padding, as convUniforms writes them`, () => {
    const fields = uniformFields(WGSL[kernel]!);
    assert.is(fields.length, CONV_UNIFORM_FIELDS, fields.map((f) => f.name).join(','));
    assert.ok(fields.every((f) => f.type === 'u32'), 'all u32');
    const names = fields.map((f) => f.name);
    assert.equal(names.slice(0, CONV_GEO_FIELDS.length), [...CONV_GEO_FIELDS]);
    assert.equal(names.slice(CONV_GEO_FIELDS.length, CONV_GEO_FIELDS.length + extras.length), [...extras]);
    for (const pad of names.slice(CONV_GEO_FIELDS.length + extras.length)) assert.match(pad, /^pad\d$/);
  });
}

test('convUniforms: the named extras land after the geometry, zero padding to 16 fields', () => {
  const g = { N: 2, H: 5, W: 6, C: 7, OH: 3, OW: 4, CO: 8, KH: 3, KW: 2, S: 2, P: 1 };
  const u = new Uint32Array(convUniforms('conv2d_tiled', g, 24, { chunk: 9, rtiles: 10, splits: 11 }).bytes().slice().buffer);
  assert.equal([...u], [2, 5, 6, 7, 3, 4, 8, 3, 2, 2, 1, 24, 9, 10, 11, 0]);
  const d = new Uint32Array(convUniforms('conv2d_dgrad_sg', g, 24, { phH: 1, phW: 0, HP: 3, WP: 2 }).bytes().slice().buffer);
  assert.equal([...d.slice(12)], [1, 0, 3, 2]);
});

for (const kernel of ['matmul', 'matmul_sg', 'matmul_tiled']) {
  test(`${kernel}: the fields matmulUniforms writes, in its order`, () => {
    const fields = uniformFields(WGSL[kernel]!);
    assert.equal(fields.map((f) => f.name), [...MATMUL_UNIFORM_FIELDS]);
    assert.equal(fields.map((f) => f.type), ['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'f32', 'array<vec4u, 2>', 'array<vec4u, 2>', 'array<vec4u, 2>']);
  });
}

test('matmulUniforms: scalars, alpha as f32, then three 32-byte arrays from byte 32', () => {
  const b = matmulUniforms({ M: 3, N: 4, K: 5, kChunk: 6, nb: 2, splits: 1, rank: 1, alpha: 0.5, bshape: [2], abstr: [15], bbstr: [0] }).bytes();
  const u = new Uint32Array(b.slice().buffer);
  assert.is(b.length, 128);
  assert.equal([...u.slice(0, 7)], [3, 4, 5, 6, 2, 1, 1]);
  assert.is(new Float32Array(b.slice().buffer)[7], 0.5);
  assert.equal([u[8], u[16], u[24]], [2, 15, 0]);
});

test.run();
