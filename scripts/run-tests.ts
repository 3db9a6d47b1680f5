/**
 * Runs every test/**\/*.test.ts with uvu in one process (one GPU device for all suites) and ends
 * with the line `N passed, N failed`. `npm test -- conv` runs the files whose path contains "conv".
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'uvu/run';
import { init, shutdown } from '../src/index.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const root = resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = walk(join(root, 'test'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((p) => relative(root, f).includes(p)));

const rtm = await init();
console.log(`adapter: ${rtm.adapterName}`);

// uvu prints its totals; capture them to print the one-line summary CI reads.
let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  if (captured.length > 1e6) captured = captured.slice(-1e5);
  return (write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

await run(files.map((f) => ({ name: relative(root, f), file: f })));
process.stdout.write = write;
shutdown();

// eslint-disable-next-line no-control-regex
const plain = captured.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const failed = total - passed - skipped;
if (files.length === 0) console.error('no test files matched');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || total === 0 ? 1 : 0;
