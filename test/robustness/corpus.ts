/**
 * Shared checks of the bad-input corpus (test/robustness/): a case passes when the bad input ends
 * in an error whose message matches and names what is wrong (the file, flag or tensor), and when
 * nothing on disk changed (folders compared byte for byte).
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as assert from 'uvu/assert';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `robust-${prefix}-`));
}

function check(e: unknown, re: RegExp, names: string[]): void {
  const msg = (e as Error).message ?? String(e);
  assert.match(msg, re, `wrong message: ${msg}`);
  for (const n of names) assert.ok(msg.includes(n), `the message does not name ${n}: ${msg}`);
  assert.not.match(msg, /Cannot read properties|is not a function|undefined \(reading/, `a crash, not an error: ${msg}`);
}

/** `fn` throws an error matching `re` whose message contains every one of `names`. */
export function fails(fn: () => unknown, re: RegExp, ...names: string[]): void {
  try {
    fn();
  } catch (e) {
    check(e, re, names);
    return;
  }
  assert.unreachable(`no error (expected ${re})`);
}

export async function failsAsync(fn: () => Promise<unknown>, re: RegExp, ...names: string[]): Promise<void> {
  try {
    await fn();
  } catch (e) {
    check(e, re, names);
    return;
  }
  assert.unreachable(`no error (expected ${re})`);
}

/** Every file under `dir` with its bytes (to check that nothing changed). */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

export function unchanged(dir: string, before: Map<string, string>): void {
  const after = snapshot(dir);
  assert.equal([...after.keys()], [...before.keys()], `files in ${dir} changed`);
  for (const [f, b] of before) assert.ok(after.get(f) === b, `${f} changed`);
}
