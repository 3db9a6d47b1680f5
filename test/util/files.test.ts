/** readFloat32: the black-box answer files read back, and a torn one refused with its name. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFloat32 } from '../../src/util/files.js';

const dir = mkdtempSync(join(tmpdir(), 'files-'));

test('readFloat32: the values written, in an aligned array', () => {
  const f = join(dir, 'a.f32');
  writeFileSync(f, new Float32Array([0.25, -1, 3.5]));
  assert.equal(Array.from(readFloat32(f)), [0.25, -1, 3.5]);
});

test('readFloat32: a file cut inside a value is refused, naming it', () => {
  const f = join(dir, 'torn.f32');
  writeFileSync(f, new Uint8Array(10));
  assert.throws(() => readFloat32(f), (e: Error) => e.message.includes(f) && /10 bytes are not float32 values/.test(e.message));
});

test.run();
