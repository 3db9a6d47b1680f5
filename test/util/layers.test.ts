/**
 * Imports point down the layers: util < tensor < autograd < ops < nn, data < train < attacks,
 * refine < pipeline < the entries (src/index.ts, src/node.ts). A module may import its own layer
 * and the ones below, never one above (type-only imports are exempt: they vanish at run time),
 * and nothing inside src/ imports an entry. The browser entry's graph has no Node built-in
 * (checked by test/e2e/browser-bundle.test.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..', '..');
const LAYER: Record<string, number> = { util: 0, tensor: 1, 'kernels.generated.ts': 1, autograd: 2, ops: 3, nn: 4, data: 4, train: 5, attacks: 6, refine: 6, pipeline: 7, 'index.ts': 8, 'node.ts': 9 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The layer of a file under `src` (its folder, or the entry's name). */
function layerOf(src: string, file: string): [string, number] {
  const top = relative(src, file).split('/')[0]!;
  const l = LAYER[top];
  if (l === undefined) throw new Error(`${file}: src/${top} has no layer in this test: add it`);
  return [top, l];
}

/** Every value import (not `import type`) of a file that resolves inside src/, as absolute .ts paths. */
function valueImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'(\.{1,2}\/[^']+)'/gm)) {
    if (m[1]) continue;
    out.push(normalize(join(dirname(file), m[2]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** The imports of the files under `src` that point up a layer (or at an entry). */
function violations(src: string): string[] {
  const wrong: string[] = [];
  for (const f of files(src)) {
    const [from, lf] = layerOf(src, f);
    for (const imp of valueImports(f)) {
      if (!imp.startsWith(src)) continue;
      const [to, lt] = layerOf(src, imp);
      if (lt > lf || ((to === 'index.ts' || to === 'node.ts') && from !== 'node.ts')) wrong.push(`${relative(src, f)} (${from}) imports ${relative(src, imp)} (${to})`);
    }
  }
  return wrong;
}

test('every module of src/ imports only its own layer and the layers below', () => {
  const wrong = violations(join(root, 'src'));
  assert.equal(wrong, [], wrong.join('\n'));
});

test('the check reports an upward import and an import of an entry; type-only imports pass', () => {
  const src = join(mkdtempSync(join(tmpdir(), 'layers-')), 'src');
  mkdirSync(join(src, 'train'), { recursive: true });
  mkdirSync(join(src, 'pipeline'), { recursive: true });
  writeFileSync(join(src, 'pipeline', 'report.ts'), 'export const x = 1;\n');
  writeFileSync(join(src, 'index.ts'), 'export const y = 1;\n');
  writeFileSync(join(src, 'train', 'a.ts'), "import { x } from '../pipeline/report.js';\nimport type { X } from '../pipeline/report.js';\nimport { y } from '../index.js';\n");
  assert.equal(violations(src), ['train/a.ts (train) imports pipeline/report.ts (pipeline)', 'train/a.ts (train) imports index.ts (index.ts)']);
});

test.run();
