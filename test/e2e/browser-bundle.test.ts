/**
 * The library entry (`refine-gpu`) must bundle for a browser: no static import of a Node built-in
 * or of Dawn's Node bindings anywhere in its import graph (both are loaded lazily, by a computed
 * specifier, only in Node). esbuild with platform "browser" refuses a Node built-in, so a stray
 * `import ... from 'node:fs'` fails this test; the Node entry (`refine-gpu/node`) shows it does.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..', '..');

async function bundle(entry: string) {
  return build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
}

test('src/index.ts bundles for the browser, kernels included, without Node built-ins', async () => {
  const out = await bundle('src/index.ts');
  assert.is(out.errors.length, 0);
  const code = out.outputFiles[0]!.text;
  // the WGSL sources travel inside the bundle (nothing is read from disk at run time)
  assert.match(code, /@compute/);
  assert.not.match(code, /require\("(node:)?(fs|path|os|child_process)"\)/);
});

test('the Node entry does not bundle for the browser (the check above can fail)', async () => {
  try {
    await bundle('src/node.ts');
    assert.unreachable('src/node.ts imports node:fs');
  } catch (e) {
    assert.match((e as Error).message, /Could not resolve/);
  }
});

test.run();
