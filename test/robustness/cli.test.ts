/**
 * Bad-input corpus, command lines. Every command-line script (each `tsx <file>` entry of
 * package.json "scripts", and bench/run.ts) answers --help with its usage on stdout and exit
 * status 0, and an unknown flag or a bad value with one line `<script>: <message>` (the usage
 * after it) on stderr and exit status 1, never a stack trace. None of these answers initialises
 * the GPU or loads data, so each run takes well under a second once tsx has compiled the script.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

// entries that are not one tsx script taking flags (test runs the whole suite, and so on)
const SKIP = new Set(['test', 'typecheck', 'setup', 'bundle:node', 'prepack']);
const scripts: [string, string][] = Object.entries(pkg.scripts).flatMap(([name, cmd]): [string, string][] => {
  if (SKIP.has(name) || name.startsWith('build')) return [];
  const m = /^tsx\s+(\S+\.ts)$/.exec(cmd.trim());
  return m ? [[name, m[1]!]] : [];
});
// bench's command checks the kernel bundle first: its script is the tsx part
scripts.push(['bench', 'bench/run.ts']);

function run(file: string, arg: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', file, arg], {
    cwd: root,
    env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('the script list is read from package.json', () => {
  assert.ok(scripts.length >= 10, `only ${scripts.length} scripts found`);
  assert.match(pkg.scripts.bench ?? '', /tsx bench\/run\.ts$/);
  assert.ok(!scripts.some(([name]) => name === 'test'));
});

for (const [name, file] of scripts) {
  test(`${name} (${file}) --help: usage on stdout, exit 0`, () => {
    const r = run(file, '--help');
    assert.is(r.error, undefined, `${file}: ${r.error?.message}`);
    assert.is(r.status, 0, `${file} --help exited ${r.status} (signal ${r.signal}); stderr:\n${r.stderr}`);
    assert.match(r.stdout.toLowerCase(), 'usage', `${file} --help printed no usage:\n${r.stdout}`);
  });

  test(`${name} (${file}) --zzz-not-a-flag: one error line and usage on stderr, exit 1`, () => {
    const r = run(file, '--zzz-not-a-flag');
    assert.is(r.error, undefined, `${file}: ${r.error?.message}`);
    assert.is(r.status, 1, `${file} --zzz-not-a-flag exited ${r.status} (signal ${r.signal}); stderr:\n${r.stderr}`);
    assert.match(r.stderr, /^[\w-]+: .*zzz-not-a-flag/, `${file}: stderr does not start with '<script>: <message>':\n${r.stderr}`);
    assert.match(r.stderr.toLowerCase(), 'usage', `${file}: no usage on stderr:\n${r.stderr}`);
    assert.not.match(r.stderr, /\n\s+at /, `${file}: stack trace on stderr:\n${r.stderr}`);
  });
}


// bad values of known flags: one line naming the flag or value, exit 1, before any GPU work
const badValues: [string, string[], RegExp][] = [
  ['scripts/train.ts', ['--epochs', 'abc'], /^train: --epochs must be a positive integer, got 'abc'/],
  ['scripts/train.ts', ['--dataset', 'mnist'], /^train: .*unknown dataset 'mnist'/],
  ['scripts/attack.ts', ['--attack', 'badnets', '--rate', '2'], /^attack: --rate must be a number in \[0, 1\], got '2'/],
  ['scripts/attack.ts', ['--attack', 'badnets', '--depth', '34'], /^attack: --depth must be 18 or 50, got '34'/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--distill-epochs', '3'], /^reproduce: --distill-epochs needs --blackbox/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--blackbox-refit', 'off'], /^reproduce: --blackbox-refit needs --blackbox/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--blackbox', '--blackbox-refit', '1'], /^reproduce: --blackbox-refit must be on or off, got '1'/],
  ['scripts/reproduce.ts', ['--attack', 'badnets,lc', '--adaptive'], /^reproduce: --adaptive does not support lc \(it needs the clean model\) yet: leave it out of --attack/],
  ['scripts/attack.ts', ['--attack', 'badnets', '--wanet-k', '4'], /^attack: --wanet-k applies to wanet only, not badnets/],
  ['scripts/reproduce.ts', ['--attack', 'nope'], /^reproduce: unknown attack 'nope'; one of: badnets/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--refine-preset', 'fast'], /^reproduce: unknown REFINE preset 'fast' \(budget \| quick \| paper\)/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--lambda=-1'], /^reproduce: --lambda must be a number ≥ 0, got '-1'/],
  ['scripts/reproduce.ts', ['--attack', 'badnets', '--refine-schedule', 'cosine'], /^reproduce: --refine-schedule must be onecycle or multistep, got 'cosine'/],
  ['scripts/defend.ts', ['--data', 'fashion-mnist'], /^defend: --model is required/],
  ['scripts/defend.ts', ['--model', 'm', '--data', 'd', '--out', 'o', '--renormalize', 'yes'], /^defend: --renormalize must be on or off, got 'yes'/],
  ['scripts/defend.ts', ['--model', 'nowhere.safetensors', '--data', 'fashion-mnist', '--out', '/tmp/x'], /^defend: .*nowhere\.safetensors/],
  ['scripts/defend.ts', ['--model', 'm', '--blackbox-url', 'http://127.0.0.1:9/p', '--data', 'd', '--out', 'o'], /^defend: --model and --blackbox-url exclude each other/],
  ['scripts/defend.ts', ['--model', 'm', '--data', 'd', '--out', 'o', '--blackbox-budget', '5'], /^defend: --blackbox-budget needs --blackbox-url/],
  ['scripts/defend.ts', ['--model', 'm', '--data', 'd', '--out', 'o', '--blackbox-refit', 'off'], /^defend: --blackbox-refit needs --blackbox-url/],
  ['scripts/defend.ts', ['--blackbox-url', 'http://127.0.0.1:9/p', '--data', 'd', '--out', 'o', '--blackbox-format', 'xml'], /^defend: --blackbox-format must be json or binary, got 'xml'/],
  ['scripts/defend.ts', ['--blackbox-url', 'ftp://host/p', '--data', 'd', '--out', 'o'], /^defend: --blackbox-url must be an http:\/\/ or https:\/\/ address, got 'ftp:\/\/host\/p'/],
  ['scripts/defend.ts', ['--blackbox-url', 'http://127.0.0.1:9/p', '--data', 'd', '--out', 'o', '--blackbox-timeout', '0'], /^defend: --blackbox-timeout must be a positive number, got '0'/],
  ['scripts/serve-blackbox.ts', ['--dataset', 'fashion-mnist'], /^serve-blackbox: --model is required/],
  ['scripts/serve-blackbox.ts', ['--model', 'nowhere.safetensors', '--dataset', 'fashion-mnist'], /^serve-blackbox: --model nowhere\.safetensors: no such file/],
  ['scripts/predict.ts', ['--defended', '/nonexistent-defended', 'package.json'], /^predict: .*nonexistent-defended|^predict: .*package\.json/],
  ['scripts/fetch-data.ts', ['nope'], /^fetch-data: unknown dataset 'nope'/],
  ['scripts/fetch-data.ts', [], /^fetch-data: give one dataset name/],
];
for (const [file, args, re] of badValues) {
  test(`${file} ${args.join(' ')}: one error line, exit 1, no stack trace`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
    const err = r.stderr.split('\n').filter((l) => !l.startsWith('Warning: ')).join('\n');
    assert.is(r.status, 1, `exit ${r.status}; stderr:\n${r.stderr}`);
    assert.match(err, re);
    assert.not.match(err, /\n\s+at /, `stack trace:\n${err}`);
  });
}

test('npm run train on a finished run folder reports it and rewrites nothing; another configuration is refused', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { classifierPreset } = await import('../../src/train/presets.js');
  const dir = mkdtempSync(join(tmpdir(), 'train-done-'));
  try {
    const result = JSON.stringify({ dataset: 'fashion-mnist', preset: 'quick', config: classifierPreset('quick'), testAccuracy: 0.9174 }, null, 2);
    writeFileSync(join(dir, 'result.json'), result);
    writeFileSync(join(dir, 'model.safetensors'), 'stand-in');
    const args = ['--import', 'tsx', 'scripts/train.ts', '--dataset', 'fashion-mnist', '--preset', 'quick', '--out', dir];
    const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /finished run in .*: test accuracy 91\.74% \(reported as it is/);
    assert.is(readFileSync(join(dir, 'result.json'), 'utf8'), result, 'result.json untouched');
    const other = spawnSync(process.execPath, [...args, '--epochs', '5'], { cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
    assert.is(other.status, 1);
    assert.match(other.stderr, /holds a finished run of another configuration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
