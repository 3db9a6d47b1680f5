/**
 * tsx bench/peers/torch/plot.ts OUT.svg TITLE LOG.jsonl[=LABEL[=BATCH]]... — BA and ASR against steps
 * of REFINE recipe runs logged by bench/peers/torch/refine.py (one series per file, named by LABEL
 * or else by its tag). Where a file gives its batch size, the x axis is epochs over the 10,000
 * unlabeled images instead, so runs of different batch sizes line up by the work done.
 */
import { readFileSync } from 'node:fs';
import { COLORS, linePlot, Svg, type Series } from '../../../src/pipeline/svg.js';
import { writeFileAtomic } from '../../../src/util/files.js';

const [out, title, ...files] = process.argv.slice(2);
if (!out || !title || !files.length) {
  console.error('usage: tsx bench/peers/torch/plot.ts OUT.svg TITLE LOG.jsonl[=LABEL[=BATCH]]...');
  process.exit(1);
}
const palette = [COLORS.blue, COLORS.orange, COLORS.green, COLORS.red, COLORS.purple, COLORS.grey, COLORS.black];
const runs = files.map((arg) => {
  const [f, label, batch] = arg.split('=');
  const rows = readFileSync(f!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tag: string; step: number; BA: number; ASR: number });
  return { label: label || rows[0]!.tag.replace(/^[a-z]+-/, ''), rows, batch: batch ? Number(batch) : undefined };
});
const perEpoch = runs.some((r) => r.batch !== undefined);
const IMAGES = 10000;
const x = (r: (typeof runs)[number], step: number) => (perEpoch ? (step * (r.batch ?? 128)) / IMAGES : step);
const series = (key: 'BA' | 'ASR'): Series[] => runs.map((r, i) => ({ label: r.label, color: palette[i % palette.length]!, points: r.rows.map((p) => [x(r, p.step), 100 * p[key]] as [number, number]) }));
const xLabel = perEpoch ? 'epochs (10,000 images each)' : 'optimizer step';
const W = 560;
const H = 300;
const svg = new Svg(2 * W, H);
linePlot(svg, 0, 0, W, H, `${title}: BA (%)`, series('BA'), { yMin: 40, yMax: 100, xLabel });
linePlot(svg, W, 0, W, H, `${title}: ASR (%)`, series('ASR'), { yMin: 0, yMax: 100, xLabel });
writeFileAtomic(out, svg.toString(`${title}: BA and ASR against ${xLabel}`));
