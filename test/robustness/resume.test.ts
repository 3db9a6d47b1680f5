/**
 * Bad-input corpus, resumable runs: the checkpoint journal (`*.new` files and the state file that
 * commits them), temporary files of killed writers, damaged or missing files of a run folder.
 * A damaged file is refused before anything is renamed or loaded, and the folder stays as it was.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { SGD } from '../../src/nn/optim.js';
import { loadRunState, saveRunState, type RunFiles } from '../../src/train/resume.js';
import { fails, snapshot, tempDir, unchanged } from './corpus.js';

const tmp = tempDir('resume');
const FILES: RunFiles = { model: 'm.safetensors', optimizer: 'o.safetensors', state: 's.json' };
const model = (seed: number) => new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed });

async function weights(m: ResNet18): Promise<number[]> {
  return (await Promise.all([...m.stateDict().values()].map(async (t) => Array.from((await t.read()) as Float32Array)))).flat();
}

/**
 * A run folder with a committed checkpoint (seed 1, state {n: 1}) and, beside it, the complete
 * files of a second checkpoint (seed 2, state {n: 2}) to copy in as `*.new` files.
 */
async function runFolder(name: string): Promise<{ dir: string; next: string }> {
  const dir = join(tmp, name);
  const next = join(tmp, `${name}-next`);
  for (const [d, seed] of [[dir, 1], [next, 2]] as const) {
    mkdirSync(d, { recursive: true });
    const m = model(seed);
    const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
    await saveRunState(d, FILES, m, opt, { n: seed });
    m.dispose();
    opt.dispose();
  }
  return { dir, next };
}

/** Loads the run in `dir` into a fresh model; returns the state, the weights and what the load said. */
async function load(dir: string) {
  const m = model(9);
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  try {
    const r = loadRunState<{ n: number }>(dir, FILES, m, opt);
    return { state: r?.state, momentum: r?.momentumRestored, w: await weights(m) };
  } finally {
    m.dispose();
    opt.dispose();
  }
}

const damaged: [string, string, (b: Buffer) => Buffer | string][] = [
  ['model', FILES.model, (b) => b.subarray(0, 100)],
  ['momentum', FILES.optimizer, (b) => b.subarray(0, b.length - 8)],
  ['state', FILES.state, () => '{"n": 2'],
];
for (const [what, file, damage] of damaged) {
  test(`journal: a committed save whose ${what} .new file is damaged is refused before any rename`, async () => {
    const { dir, next } = await runFolder(`damaged-${what}`);
    for (const f of Object.values(FILES)) copyFileSync(join(next, f), join(dir, `${f}.new`));
    writeFileSync(join(dir, `${file}.new`), damage(readFileSync(join(next, file))));
    const before = snapshot(dir);
    const m = model(9);
    const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
    fails(() => loadRunState(dir, FILES, m, opt), /damaged checkpoint .*nothing was replaced/, join(dir, `${file}.new`));
    unchanged(dir, before);
    m.dispose();
    opt.dispose();
  });
}

test('journal: an uncommitted save (no state .new) is dropped; the previous checkpoint loads', async () => {
  const { dir, next } = await runFolder('uncommitted');
  copyFileSync(join(next, FILES.model), join(dir, `${FILES.model}.new`));
  copyFileSync(join(next, FILES.optimizer), join(dir, `${FILES.optimizer}.new`));
  const r = await load(dir);
  assert.equal(r.state, { n: 1 });
  assert.equal(readdirSync(dir).sort(), Object.values(FILES).sort());
});

test('journal: a committed save interrupted before its renames is completed', async () => {
  const { dir, next } = await runFolder('committed');
  for (const f of Object.values(FILES)) copyFileSync(join(next, f), join(dir, `${f}.new`));
  const r = await load(dir);
  assert.equal(r.state, { n: 2 });
  const m2 = model(2);
  assert.equal(r.w, await weights(m2));
  m2.dispose();
});

test('temporary files: those of a killed writer are swept when the run is opened; a live writer\'s are kept', async () => {
  const { dir } = await runFolder('temps');
  writeFileSync(join(dir, `${FILES.model}.new.tmp-999999999`), 'half a checkpoint');
  writeFileSync(join(dir, `${FILES.state}.new.tmp`), '{"n"'); // an older version's name
  writeFileSync(join(dir, `report.md.tmp-${process.ppid}`), 'being written'); // a live process
  assert.equal((await load(dir)).state, { n: 1 });
  assert.equal(readdirSync(dir).sort(), [...Object.values(FILES), `report.md.tmp-${process.ppid}`].sort());
});

test('run folder: a damaged state file is named; nothing is loaded or changed', async () => {
  const { dir } = await runFolder('bad-state');
  writeFileSync(join(dir, FILES.state), '{"n": 1, ');
  const before = snapshot(dir);
  const m = model(9);
  const w = await weights(m);
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  fails(() => loadRunState(dir, FILES, m, opt), /damaged run state .*nothing was loaded/, join(dir, FILES.state));
  assert.equal(await weights(m), w);
  unchanged(dir, before);
  m.dispose();
  opt.dispose();
});

test('run folder: a state without its model file names the missing file', async () => {
  const { dir } = await runFolder('no-model');
  rmSync(join(dir, FILES.model));
  const m = model(9);
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  fails(() => loadRunState(dir, FILES, m, opt), /no such file/, join(dir, FILES.model));
  m.dispose();
  opt.dispose();
});

test('run folder: a missing momentum file is reported to the caller (momentum restarts from zero)', async () => {
  const { dir } = await runFolder('no-momentum');
  rmSync(join(dir, FILES.optimizer));
  const r = await load(dir);
  assert.equal([r.state, r.momentum], [{ n: 1 }, false]);
});

test('run folder: a state of another configuration is refused by the check before anything loads', async () => {
  const { dir } = await runFolder('other-config');
  const before = snapshot(dir);
  const m = model(9);
  const w = await weights(m);
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  fails(
    () => loadRunState<{ n: number }>(dir, FILES, m, opt, (s) => {
      if (s.n !== 7) throw new Error(`${dir} holds a run with another configuration`);
    }),
    /another configuration/,
    dir,
  );
  assert.equal(await weights(m), w);
  unchanged(dir, before);
  m.dispose();
  opt.dispose();
});

test('run folder: a checkpoint of a differently shaped model loads nothing', async () => {
  const { dir } = await runFolder('other-model');
  const m = new ResNet18({ numClasses: 5, inChannels: 1, width: 0.0625, seed: 9 });
  const w = (await Promise.all([...m.stateDict().values()].map(async (t) => Array.from((await t.read()) as Float32Array)))).flat();
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  fails(() => loadRunState(dir, FILES, m, opt), /does not fit the model .*nothing was loaded/, join(dir, FILES.model));
  assert.equal((await Promise.all([...m.stateDict().values()].map(async (t) => Array.from((await t.read()) as Float32Array)))).flat(), w);
  assert.ok(existsSync(join(dir, FILES.state)));
  m.dispose();
  opt.dispose();
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
