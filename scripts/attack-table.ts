/**
 * npm run attack-table [-- --dir results/backdoored --clean results/train/fashion-mnist-quick.json]
 *
 * The README's attack table (issue: every attack ASR >= 90%, LC >= 80%, BA within 2 points of the
 * clean model) from the committed backdoored runs: one row per `<dir>/<run>/result.json`, BA and
 * ASR as `npm run attack` measured them, the BA drop against the clean model of the same preset,
 * and the wall time, and per epoch the test accuracy and (runs since the ASR was measured every
 * epoch) the ASR. Prints Markdown; nothing is recomputed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { shortAdapter } from '../src/pipeline/report.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'results/backdoored' },
    clean: { type: 'string', default: 'results/train/fashion-mnist-quick.json' },
  },
});

interface Row {
  attack: string;
  BA: number;
  ASR: number;
  wallSeconds: number;
  trainWallSeconds: number;
  poisoned: number;
  cover: number;
  asrImages: number;
  resumedFromEpoch: number;
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
const rows: Row[] = readdirSync(dir)
  .filter((d) => existsSync(join(dir, d, 'result.json')))
  .map((d) => JSON.parse(readFileSync(join(dir, d, 'result.json'), 'utf8')) as Row)
  .sort((a, b) => ORDER.indexOf(a.attack) - ORDER.indexOf(b.attack));
const clean = existsSync(values.clean!) ? (JSON.parse(readFileSync(values.clean!, 'utf8')) as { testAccuracy: number }).testAccuracy : NaN;

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '—');
console.log(`| attack | BA | BA − clean (${pct(clean)}) | ASR | goal met | poisoned (+cover) | wall time | ran on | BA / ASR after each epoch |`);
console.log('|---|---|---|---|---|---|---|---|---|');
// a GPU trains the quick preset in about a minute: whole minutes would print 0
const min = (s: number) => `${(s / 60).toFixed(s < 600 ? 1 : 0)}`;
const short = (x: number | undefined) => (x === undefined ? '?' : (100 * x).toFixed(1));
for (const r of rows) {
  const asrGoal = r.attack === 'lc' ? 0.8 : 0.9;
  const drop = r.BA - clean;
  const ok = r.ASR >= asrGoal && (!Number.isFinite(clean) || drop >= -0.02);
  // training wall time summed over every sitting (a resumed run's last process alone would be short)
  const wall = `${min(r.trainWallSeconds)} min${r.resumedFromEpoch ? ` (${r.history.length} epochs, resumed after ${r.resumedFromEpoch}; ${r.history.map((h) => min(h.seconds)).join(' + ')} min)` : ''}`;
  console.log(`| ${r.attack} | ${pct(r.BA)} | ${Number.isFinite(drop) ? `${drop >= 0 ? '+' : ''}${(100 * drop).toFixed(2)}` : '—'} | ${pct(r.ASR)} | ${ok ? 'yes' : 'no'} (ASR ≥ ${100 * asrGoal}%, BA ≥ clean − 2) | ${r.poisoned}${r.cover ? ` (+${r.cover})` : ''} | ${wall} | ${r.adapter ? shortAdapter(r.adapter) : '?'} | ${r.history.map((h, i) => `${short(h.testAccuracy)} / ${short(h.evals?.ASR ?? (i === r.history.length - 1 ? r.ASR : undefined))}`).join(' → ')} |`);
}
