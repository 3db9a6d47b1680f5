/**
 * npm run reproduce -- --attack <name|all> [--dataset fashion-mnist|cifar10|folder:DIR] [--preset quick|paper] [--ablations]
 *
 * The whole REFINE experiment per attack (src/pipeline/reproduce.ts): backdoored model (trained
 * or reused from runs/attack-...), No Defense / ShrinkPad / REFINE (+ ablations) BA and ASR,
 * figures; then results.json and results.md at the top of --out (default
 * results/<dataset>-<preset>), regenerated after every attack. Rerun the same command after an
 * interruption: finished attacks are skipped, unfinished ones resume.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ATTACK_OPTIONS, ATTACK_USAGE, attackFlags, FOLDER_OPTIONS, FOLDER_USAGE, folderFlags, num, parseArgsOrExit } from '../src/util/cli.js';
import { CLASSIFIER_OPTIONS, CLASSIFIER_USAGE, classifierFlags } from '../src/train/classifier-flags.js';
import { recipeFlagOptions, recipeFlagUsage, recipeOverrides } from '../src/pipeline/refine-flags.js';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { attacks } from '../src/attacks/index.js';
import { loadDataset } from '../src/data/registry.js';
import { classifierPreset, withClassifierOverrides } from '../src/train/presets.js';
import { trainSubsetOf } from '../src/pipeline/backdoor.js';
import { figureFiles, resultsRoot } from '../src/pipeline/run-folders.js';
import { defaultRefinePreset, refinePreset, withRefineOverrides } from '../src/pipeline/refine-presets.js';
import { ConfigMismatchError, markFailed, readResults, reproduceAttack, type ReproduceOptions } from '../src/pipeline/reproduce.js';
import { aggregate, onlyAttacks, renderReport } from '../src/pipeline/report.js';
import { curvesFigure } from '../src/pipeline/figures.js';
import { ADAPTIVE_DEFAULTS, ADAPTIVE_UNSUPPORTED, adaptiveExperiment, readAdaptiveResults, renderAdaptiveSection } from '../src/pipeline/adaptive-experiment.js';
import { BLACKBOX_DEFAULTS, blackBoxExperiment, readBlackBoxResults, renderBlackBoxSection } from '../src/pipeline/blackbox-experiment.js';
import { defaultRefit } from '../src/refine/blackbox-refit.js';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/files.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run reproduce -- --attack <${attacks.names().join('|')}|all> [options]
  --dataset fashion-mnist|cifar10|folder:DIR   (default fashion-mnist)
  --preset quick|paper        backdoored-classifier recipe (default quick)
  --refine-preset budget|quick|paper   REFINE recipe (default budget with --preset quick, paper
                              with --preset paper): budget = one-cycle lr, 1,014 steps (the 2-core
                              machine's default), quick = the official schedule shortened to 390
                              steps, paper = the official recipe (docs/refine-recipe.md)
  --ablations                 also train w/o HRF (identity mapping) and w/o SCL (λ = 0)
  --adaptive                  then the adaptive attack (Table 4): the backdoored model fine-tuned
                              with L_b + γ·L_refine through the attacker's own UNet and mapping,
                              No Defense and REFINE on it (not LC, BATT or PhysicalBA yet)
  --adaptive-gamma X  --adaptive-epochs N  --adaptive-lr X   the attacker's choices (1, 1, 0.01)
  --blackbox                  then black-box REFINE (Table 11): the same attack on a ResNet-50 seen
                              only through its probabilities, a distilled ResNet-18 surrogate,
                              REFINE against it deployed in front of the black box
  --distill-epochs N          the surrogate's distillation epochs (default 10)
  --blackbox-refit on|off     after the paper's black-box REFINE, the refit (a deviation, reported
                              beside it): the black box queried on T(x), the surrogate distilled
                              further on x and T(x), REFINE's last 40% of epochs again (default on)
  --out DIR                   results folder (default results/<dataset>-<preset>, with
                              -<refine-preset> appended when that differs from --preset)
  --data-dir DIR              datasets root (default data)
  --seed N                    classifier, attack and REFINE seed (default 666)
  --eval-subset N             evaluate on a seeded subset of N test images (default all)
  --curve-eval N              per-epoch REFINE BA on N of them for the curves (default 1000, 0 = off)
  --target N                  attack target label (default 0)
  --backdoor-dir DIR          backdoored model folder (single attack only)
  --report-only               rewrite results.json / results.md and the curves of --out from its per-attack
                              result.json files (no GPU, no training; --attack not needed)
REFINE recipe (the REFINE preset's unless given):
${recipeFlagUsage('reproduce')}
attack parameters (the official code's unless given; each flag only for an attack that has it):
${ATTACK_USAGE}
backdoored-classifier recipe (the preset's unless given):
${CLASSIFIER_USAGE}
image folders:
${FOLDER_USAGE}`;

const OPTIONS = {
  attack: { type: 'string' },
  dataset: { type: 'string', default: 'fashion-mnist' },
  preset: { type: 'string', default: 'quick' },
  'refine-preset': { type: 'string' },
  ablations: { type: 'boolean', default: false },
  adaptive: { type: 'boolean', default: false },
  blackbox: { type: 'boolean', default: false },
  'distill-epochs': { type: 'string' },
  'blackbox-refit': { type: 'string' },
  'adaptive-gamma': { type: 'string' },
  'adaptive-epochs': { type: 'string' },
  'adaptive-lr': { type: 'string' },
  out: { type: 'string' },
  'data-dir': { type: 'string', default: 'data' },
  'eval-subset': { type: 'string' },
  'curve-eval': { type: 'string', default: '1000' },
  ...recipeFlagOptions('reproduce'),
  ...CLASSIFIER_OPTIONS,
  ...FOLDER_OPTIONS,
  target: { type: 'string', default: '0' },
  ...ATTACK_OPTIONS,
  'backdoor-dir': { type: 'string' },
  'report-only': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

const { values } = parseArgsOrExit('reproduce', USAGE, { options: OPTIONS, allowPositionals: false });

/** results.md of `out`: the main tables, then the adaptive-attack and black-box sections of the attacks that ran them. */
function resultsMarkdown(out: string, agg: ReturnType<typeof aggregate>): string {
  // (each section ends in a newline: a blank line between them)
  return [renderReport(agg), renderAdaptiveSection(readAdaptiveResults(out, attacks.names())), renderBlackBoxSection(readBlackBoxResults(out, attacks.names()))].filter(Boolean).join('\n');
}

const t0 = performance.now();
let exitCode = 0;
try {
  if (values['report-only']) {
    // the report from what is on disk: after a change to the report, or to read a folder that
    // another machine filled, without touching a GPU
    const out = values.out ?? resultsRoot(values.dataset!, values.preset!, values['refine-preset'] ?? defaultRefinePreset(values.preset!));
    const rs = readResults(out, attacks.names());
    if (!rs.length) throw new Error(`no per-attack result.json under ${out}`);
    // the curves too (they come from result.json alone): after a change to the figures
    for (const r of rs) {
      const curves = figureFiles(out, r.attack)[1];
      if (r.status === 'complete' && Object.keys(r.refine ?? {}).length && existsSync(dirname(curves))) curvesFigure(curves, r.refine, r.evaluation.noDefense);
    }
    const agg = aggregate(rs[0]!.dataset, rs[0]!.preset, rs);
    writeJsonAtomic(join(out, 'results.json'), agg);
    writeFileAtomic(join(out, 'results.md'), resultsMarkdown(out, agg));
    console.log(`results: ${join(out, 'results.md')}, ${join(out, 'results.json')} (${Object.keys(agg.attacks).join(', ')})`);
    process.exit(0);
  }
  if (!values.attack) throw new Error('--attack is required (an attack name or all)');
  const names = values.attack === 'all' ? attacks.names() : values.attack.split(',').map((a) => attacks.get(a.trim()).name);
  if (values['backdoor-dir'] && names.length !== 1) throw new Error('--backdoor-dir needs a single --attack');
  const presetName = values.preset!;
  const classifier = withClassifierOverrides(classifierPreset(presetName), classifierFlags(values));
  const target = num('target', values.target, 'nonneg-int')!;
  // checked for every attack before any work starts (a flag an attack lacks is an error)
  const attackOptions = new Map(names.map((a) => [a, attackFlags(a, values)]));
  const recipe = recipeOverrides('reproduce', values);
  const evalSubset = num('eval-subset', values['eval-subset'], 'int');
  const curveEval = num('curve-eval', values['curve-eval'], 'nonneg-int')!;
  const adaptiveFlags = { gamma: num('adaptive-gamma', values['adaptive-gamma'], 'pos'), epochs: num('adaptive-epochs', values['adaptive-epochs'], 'int'), lr: num('adaptive-lr', values['adaptive-lr'], 'pos') };
  if (!values.adaptive && Object.values(adaptiveFlags).some((v) => v !== undefined)) throw new Error('--adaptive-gamma, --adaptive-epochs and --adaptive-lr need --adaptive');
  const adaptive = values.adaptive ? { ...ADAPTIVE_DEFAULTS, ...Object.fromEntries(Object.entries(adaptiveFlags).filter(([, v]) => v !== undefined)) } : null;
  // checked before any work: an attack named by hand fails now; `all` runs the others
  const adaptiveSkipped = adaptive ? names.filter((a) => ADAPTIVE_UNSUPPORTED[a]) : [];
  if (adaptiveSkipped.length && values.attack !== 'all') {
    throw new Error(`--adaptive does not support ${adaptiveSkipped.map((a) => `${a} (${ADAPTIVE_UNSUPPORTED[a]})`).join(', ')} yet: leave it out of --attack`);
  }
  const distillEpochs = num('distill-epochs', values['distill-epochs'], 'int');
  if (distillEpochs !== undefined && !values.blackbox) throw new Error('--distill-epochs needs --blackbox');
  const refitFlag = values['blackbox-refit'];
  if (refitFlag !== undefined && !values.blackbox) throw new Error('--blackbox-refit needs --blackbox');
  if (refitFlag !== undefined && refitFlag !== 'on' && refitFlag !== 'off') throw new Error(`--blackbox-refit must be on or off, got '${refitFlag}'`);
  const blackbox = values.blackbox ? { ...BLACKBOX_DEFAULTS, ...(distillEpochs ? { distillEpochs } : {}) } : null;
  const fmtMetric = (m?: { BA: number; ASR: number }) => (m ? `${(100 * m.BA).toFixed(2)}/${(100 * m.ASR).toFixed(2)}` : '—');

  const dataset = values.dataset!;
  const { split, normalization } = loadDataset(dataset, values['data-dir'], folderFlags(values));
  const size = { h: split.train.h, w: split.train.w, c: split.train.c };
  const refinePresetName = values['refine-preset'] ?? defaultRefinePreset(presetName);
  const refine = withRefineOverrides(refinePreset(refinePresetName, size, classifier.seed), recipe);
  if (refine.dropLast && Math.min(refine.trainSubset ?? split.train.n, split.train.n) < refine.batchSize) {
    throw new Error(`REFINE batch ${refine.batchSize} is larger than its ${refine.trainSubset} training images (drop_last would leave no step): raise --refine-subset or lower --refine-batch-size`);
  }
  const out = values.out ?? resultsRoot(dataset, presetName, refinePresetName);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  console.error(`reproduce: ${names.join(', ')} on ${dataset}, classifier preset ${presetName}, REFINE preset ${refinePresetName}${values.ablations ? ', with ablations' : ''}; results in ${out}`);
  const train = trainSubsetOf(split.train, classifier);
  const writeReport = () => {
    const agg = aggregate(dataset, presetName, readResults(out, attacks.names()));
    writeJsonAtomic(join(out, 'results.json'), agg);
    writeFileAtomic(join(out, 'results.md'), resultsMarkdown(out, agg));
    return agg;
  };
  for (const [i, attack] of names.entries()) {
    console.error(`\n=== attack ${i + 1}/${names.length}: ${attack} ===`);
    try {
      const ro: ReproduceOptions = {
        attack,
        dataset,
        preset: presetName,
        refinePreset: refinePresetName,
        classifier,
        refine,
        target,
        attackOptions: attackOptions.get(attack)!,
        outRoot: out,
        backdoorDir: values['backdoor-dir'],
        ablations: values.ablations!,
        evalSubset,
        curveEval,
        engine: { name: pkg.name, version: pkg.version },
        adapter: rtm.adapterName,
      };
      const rdata = { train, fullTrain: split.train, test: split.test, normalization };
      const result = await reproduceAttack(ro, rdata);
      if (adaptive && adaptiveSkipped.includes(attack)) console.error(`[${attack}] adaptive attack skipped: not supported yet (${ADAPTIVE_UNSUPPORTED[attack]})`);
      else if (adaptive) {
        writeReport();
        const ad = await adaptiveExperiment(ro, rdata, result, adaptive);
        console.error(`[${attack}] adaptive attack: No Defense ${fmtMetric(ad.adapted.noDefense)}, REFINE ${fmtMetric(ad.adapted.refine)} (normal: ${fmtMetric(ad.normal.noDefense)}, ${fmtMetric(ad.normal.refine)})`);
      }
      if (blackbox) {
        writeReport();
        const bbr = await blackBoxExperiment(ro, rdata, { ...blackbox, refit: refitFlag === 'off' ? null : defaultRefit(ro.refine.epochs) });
        const refit = bbr.refit?.status === 'complete' ? `, with the refit ${fmtMetric(bbr.refit.refineBlackBox)} (+${bbr.refit.queries.transformed ?? '?'} queries)` : '';
        console.error(`[${attack}] black box: No Defense ${fmtMetric(bbr.noDefenseBlackBox)}, REFINE deployed ${fmtMetric(bbr.refineBlackBox)}, ${bbr.queries.distill ?? '?'} + ${bbr.queries.evaluation ?? '?'} queries${refit}`);
      }
    } catch (e) {
      // results of another configuration in --out: stop, touching nothing
      if (e instanceof ConfigMismatchError) throw e;
      const msg = (e as Error).message;
      console.error(`reproduce: ${attack} failed: ${msg}`);
      if (process.env.REPRODUCE_DEBUG) console.error((e as Error).stack);
      markFailed(out, attack, msg);
      exitCode = 1;
    }
    writeReport();
  }
  const agg = writeReport();
  console.log(renderReport(onlyAttacks(agg, names)).split('\n## Wall time')[0]);
  console.log(`results: ${join(out, 'results.md')}, ${join(out, 'results.json')} | wall ${((performance.now() - t0) / 60000).toFixed(1)} min`);
  shutdown();
} catch (e) {
  console.error(`reproduce: ${(e as Error).message}\n${USAGE}`);
  exitCode = 1;
}
process.exitCode = exitCode;
