/**
 * npm run attack-table [-- --dir results/backdoored --clean results/train/fashion-mnist-quick.json]
 *
 * The README's attack table (issue: every attack ASR >= 90%, LC >= 80%, BA within 2 points of the
 * clean model) from the committed backdoored runs: one row per `<dir>/<run>/result.json` (a run
 * with named options, e.g. `--rate 0.03`, is labelled with what it changed), BA and
 * ASR as `npm run attack` measured them, the BA drop against the clean model of the same preset,
 * and the wall time, and per epoch the test accuracy and (runs since the ASR was measured every
 * epoch) the ASR. Prints Markdown; nothing is recomputed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shortAdapter } from '../src/pipeline/report.js';
import { attacks } from '../src/attacks/index.js';
import { classifierPreset } from '../src/train/presets.js';
import { parseArgsOrExit } from '../src/util/cli.js';

const USAGE = `usage: npm run attack-table [-- --dir DIR] [--clean FILE]
  Prints the README's attack table (Markdown) from the committed runs; nothing is recomputed.
  --dir DIR     folder of backdoored runs, one <run>/result.json each (default: results/backdoored)
  --clean FILE  the clean model's result, for the BA drop (default: results/train/fashion-mnist-quick.json)
  -h, --help`;
const { values } = parseArgsOrExit('attack-table', USAGE, {
  options: {
    dir: { type: 'string', default: 'results/backdoored' },
    clean: { type: 'string', default: 'results/train/fashion-mnist-quick.json' },
    help: { type: 'boolean', short: 'h' },
  },
});

interface Row {
  attack: string;
  preset: string;
  config: Record<string, unknown>;
  lcInit?: string;
  BA: number;
  ASR: number;
  wallSeconds: number;
  trainWallSeconds: number;
  poisoned: number;
  cover: number;
  asrImages: number;
  resumedFromEpoch: number;
  resumedAt?: string;
  history: { seconds: number; testAccuracy?: number; evals?: { ASR?: number } }[];
  adapter?: string;
}

// the paper's row order (Table 1); attack names as registered in src/attacks
const ORDER = ['badnets', 'blended', 'wanet', 'physicalba', 'batt', 'lc', 'adaptive'];
const dir = values.dir!;
if (!existsSync(dir)) {
  console.error(`attack-table: no folder ${dir}`);
  process.exit(1);
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/**
 * What a run changed against the defaults (a named option such as `--rate 0.03` or `--epochs 6`):
 * the classifier recipe against its preset, the attack's parameters (attack.json) against the
 * attack created with default options; '' for a default run.
 */
function variant(runDir: string, r: Row): string {
  const parts: string[] = [];
  const preset = classifierPreset(r.preset) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(r.config)) if (!same(preset[k], v)) parts.push(`${k} ${JSON.stringify(v)}`);
  const file = join(runDir, 'attack.json');
  if (existsSync(file)) {
    const a = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { shape: { h: number; w: number; c: number } };
    const defaults = attacks.get(r.attack).create(a.shape, { target: a.target, seed: a.seed }).params() as Record<string, unknown>;
    for (const [k, v] of Object.entries(defaults)) if (k in a && !same(a[k], v)) parts.push(`${k} ${JSON.stringify(a[k])}`);
  }
  if (r.lcInit && r.lcInit !== 'benign') parts.push(`lc-init ${r.lcInit}`);
  return parts.join(', ');
}

const runs = readdirSync(dir)
  .filter((d) => existsSync(join(dir, d, 'result.json')))
  .flatMap((d) => {
    const r = JSON.parse(readFileSync(join(dir, d, 'result.json'), 'utf8')) as Row;
    // the benign model LC attacks (benign-*/) has a result.json too, but no attack
    return r.attack ? [{ r, variant: variant(join(dir, d), r) }] : [];
  })
  // the paper's order; an attack's default run before its variants, the variants by their label
  // with numbers compared as numbers (epochs 6 < 9 < 12)
  .sort(
    (a, b) =>
      ORDER.indexOf(a.r.attack) - ORDER.indexOf(b.r.attack) ||
      Number(a.variant !== '') - Number(b.variant !== '') ||
      a.variant.localeCompare(b.variant, 'en', { numeric: true }),
  );
const clean = existsSync(values.clean!) ? (JSON.parse(readFileSync(values.clean!, 'utf8')) as { testAccuracy: number }).testAccuracy : NaN;

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '—');
console.log(`| attack | BA | BA − clean (${pct(clean)}) | ASR | goal met | poisoned (+cover) | wall time | ran on | BA / ASR after each epoch |`);
console.log('|---|---|---|---|---|---|---|---|---|');
// a GPU trains the quick preset in about a minute: whole minutes would print 0
const min = (s: number) => `${(s / 60).toFixed(s < 600 ? 1 : 0)}`;
const short = (x: number | undefined) => (x === undefined ? '?' : (100 * x).toFixed(1));
for (const { r, variant: v } of runs) {
  const asrGoal = r.attack === 'lc' ? 0.8 : 0.9;
  const drop = r.BA - clean;
  const ok = r.ASR >= asrGoal && (!Number.isFinite(clean) || drop >= -0.02);
  // training wall time summed over every sitting (a resumed run's last process alone would be short)
  // results written before resumedAt existed only know resumes after whole epochs
  const resumed = r.resumedAt ?? (r.resumedFromEpoch ? `epoch ${r.resumedFromEpoch}` : undefined);
  const wall = `${min(r.trainWallSeconds)} min${resumed ? ` (${r.history.length} epochs, resumed after ${resumed}; ${r.history.map((h) => min(h.seconds)).join(' + ')} min)` : ''}`;
  console.log(`| ${r.attack}${v ? ` (${v})` : ''} | ${pct(r.BA)} | ${Number.isFinite(drop) ? `${drop >= 0 ? '+' : ''}${(100 * drop).toFixed(2)}` : '—'} | ${pct(r.ASR)} | ${ok ? 'yes' : 'no'} (ASR ≥ ${100 * asrGoal}%, BA ≥ clean − 2) | ${r.poisoned}${r.cover ? ` (+${r.cover})` : ''} | ${wall} | ${r.adapter ? shortAdapter(r.adapter) : '?'} | ${r.history.map((h, i) => `${short(h.testAccuracy)} / ${short(h.evals?.ASR ?? (i === r.history.length - 1 ? r.ASR : undefined))}`).join(' → ')} |`);
}
