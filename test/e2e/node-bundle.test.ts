/**
 * `npm run bundle:node -- DIR` must give a folder that runs with plain `node`, no npm and no
 * node_modules of the project: each tool is one ES module, Dawn's native binding sits beside them
 * in DIR/node_modules/webgpu. Checked here: the files, a tool's usage and its error on a bad flag
 * run from an unrelated folder (neither needs a GPU), and the copied binding loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-expect-error: a plain .mjs script without type declarations
import { bundleNode, ENTRIES } from '../../scripts/bundle-node.mjs';

const dir = mkdtempSync(join(tmpdir(), 'refine-bundle-'));
const out = join(dir, 'tools');
const elsewhere = mkdtempSync(join(tmpdir(), 'refine-cwd-'));

test('bundle:node writes one module per tool and the native binding', async () => {
  await bundleNode(out);
  for (const name of Object.keys(ENTRIES as Record<string, string>)) assert.ok(existsSync(join(out, `${name}.js`)), `${name}.js`);
  assert.ok(existsSync(join(out, 'package.json')));
  assert.ok(existsSync(join(out, 'node_modules', 'webgpu', 'index.js')));
});

test('a bundled tool runs with plain node from another folder: usage, and a clear error on a bad flag', () => {
  const help = execFileSync(process.execPath, [join(out, 'attack.js'), '--help'], { cwd: elsewhere, encoding: 'utf8' });
  assert.match(help, /usage: npm run attack -- --attack </);
  const bad = spawnSync(process.execPath, [join(out, 'attack.js'), '--attack', 'nope'], { cwd: elsewhere, encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /nope/);
});

test('the copied binding loads', () => {
  const url = pathToFileURL(join(out, 'node_modules', 'webgpu', 'index.js')).href;
  const r = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); console.log(typeof m.create)`], { cwd: elsewhere, encoding: 'utf8' });
  assert.is(r.trim(), 'function');
});

test('an unknown platform is refused, naming the ones there', async () => {
  try {
    await bundleNode(join(dir, 'x'), 'plan9-mips');
    assert.unreachable('no such binary');
  } catch (e) {
    assert.match((e as Error).message, /no Dawn binary for plan9-mips .*linux-x64/);
  }
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

test.run();
