/**
 * The unrolled subgroup kernels (kernels/conv2d_*_sg.wgsl, kernels/matmul_sg.wgsl) are generated
 * by scripts/gen-conv-sg.ts and scripts/gen-matmul-sg.ts: the committed files must be exactly what
 * the generators write (an edit to either side alone fails here). The WGSL bundle of all kernels
 * is checked by `npm test` itself (bundle-kernels.mjs --check).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..', '..');

for (const gen of ['scripts/gen-conv-sg.ts', 'scripts/gen-matmul-sg.ts']) {
  test(`${gen} --check: the committed kernels match the generator`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', gen, '--check'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /match/);
  });
}

test.run();
