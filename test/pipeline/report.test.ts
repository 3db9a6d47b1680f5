import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ablationAgreement, aggregate, formatMetric, onlyAttacks, renderReport, shortAdapter, type AttackResult } from '../../src/pipeline/report.js';
import { refinePreset } from '../../src/pipeline/refine-presets.js';
import { classifierPreset } from '../../src/train/presets.js';

function fake(attack: string, over: Partial<AttackResult> = {}): AttackResult {
  return {
    status: 'complete',
    attack,
    dataset: 'fashion-mnist',
    preset: 'quick',
    seed: 666,
    configHash: 'x',
    engine: { name: 'refine-gpu', version: '0.1.0', node: 'v20' },
    adapter: 'test adapter',
    config: {
      classifier: classifierPreset('quick'),
      refine: refinePreset('quick', { h: 28, w: 28, c: 1 }),
      target: 0,
      attackParams: {},
      evalSubset: null,
      curveEvalImages: 100,
      shrinkPadPad: 4,
      ablations: false,
      collapseShare: 0.6,
      seeds: { classifier: 666, attack: 666, refine: 666, refineSubset: 683, evalSubset: 695, shrinkPadClean: 666, shrinkPadPoisoned: 667 },
    },
    data: { testImages: 10000, asrImages: 9000, refineImages: 10000, classes: [] },
    evaluation: { noDefense: { BA: 0.9124, ASR: 1 }, shrinkPad: { BA: 0.8451, ASR: 0.1337 }, refine: { BA: 0.9043, ASR: 0.0078, maxClassShare: 0.11 } },
    refine: {
      refine: {
        variant: 'refine',
        dir: 'd',
        config: refinePreset('quick', { h: 28, w: 28, c: 1 }),
        history: [{ epoch: 1, lr: 0.01, loss: 0.5, agreement: 0.8, maxClassShare: 0.2, pseudoLabelCounts: [], predictionCounts: [], benignAccuracy: 0.85, seconds: 10, collapsed: false }],
        collapsedEpochs: [],
        collapsed: false,
        perm: [1, 0],
        trainImages: 10000,
        wallSeconds: 10,
      },
    },
    figures: [],
    wallSeconds: { backdoor: 60, evaluation: 30, refine: 10, total: 100 },
    startedAt: '',
    updatedAt: '',
    ...over,
  };
}

test('formatMetric: BA/ASR in % with two decimals', () => {
  assert.is(formatMetric({ BA: 0.9124, ASR: 1 }), '91.24/100.00');
  assert.is(formatMetric({ BA: 0.5, ASR: NaN }), '50.00/n/a');
  assert.is(formatMetric(undefined), '—');
});

test('report: Table 1 rows with the paper numbers beside ours', () => {
  const md = renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets'), fake('wanet', { status: 'incomplete', evaluation: { noDefense: { BA: 0.9, ASR: 0.99 } }, refine: {} })]));
  assert.match(md, '| Attack | No Defense | ShrinkPad | REFINE | REFINE goal | paper No Defense | paper ShrinkPad | paper REFINE | run | notes |');
  assert.match(md, '| BadNets | 91.24/100.00 | 84.51/13.37 | 90.43/0.78 | met (BA −0.8) | 91.24/100.00 | 84.51/13.37 | 90.43/0.78 | quick, test adapter | — |');
  assert.match(md, '| WaNet (incomplete) | 90.00/99.00 | — | — | — | 91.15/99.97 | 84.45/34.79 | 90.33/0.97 | quick, test adapter | — |');
  assert.match(md, 'not expected to match');
  assert.not.match(md, 'Ablations');
  assert.match(md, 'Not finished: WaNet (incomplete)');
});

test('report: the goal column, the presets and machine of each row, and notes beside it', () => {
  const lc = fake('lc', {
    refinePreset: 'budget',
    adapter: 'llvmpipe (LLVM 15.0.6, 256 bits)',
    evaluation: { noDefense: { BA: 0.9265, ASR: 0.3621 }, shrinkPad: { BA: 0.8, ASR: 0.06 }, refine: { BA: 0.8765, ASR: 0.06 } },
    diagnostics: { augmentationGuard: 'applied' },
  });
  const md = renderReport(aggregate('fashion-mnist', 'quick', [lc]));
  assert.match(md, '# REFINE reproduction — fashion-mnist, preset `quick`, REFINE preset `budget`');
  assert.match(md, '| missed (BA −5.0, ASR 6.0%) |');
  assert.match(md, '| quick / budget, lavapipe (CPU) |');
  assert.match(md, 'the backdoored model missed its attack goal (ASR 36.2% < 90%); augmentation guard applied: pseudo-labels from the un-augmented images, no resized crop');
});

test('report: how far a missed goal is, with the end of the BA curve; nothing for a met goal', () => {
  const h = (epoch: number, ba: number) => ({ epoch, lr: 0.01, loss: 0.5, agreement: 0.8, maxClassShare: 0.2, pseudoLabelCounts: [], predictionCounts: [], benignAccuracy: ba, seconds: 10, collapsed: false });
  const base = fake('wanet');
  const wanet = fake('wanet', {
    evaluation: { noDefense: { BA: 0.9146, ASR: 0.9984 }, refine: { BA: 0.8788, ASR: 0.0629 } },
    refine: { refine: { ...base.refine.refine!, history: [h(1, 0.5), h(2, 0.85), h(3, 0.871), h(4, 0.896), h(5, 0.891)] } },
  });
  const md = renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets'), wanet]));
  assert.match(md, '- WaNet: BA 0.6 points short (87.88 against No Defense 91.46); ASR 6.29%, 1.29 points over; curve-set BA 85.0 → 87.1 → 89.6 → 89.1 over the last 3 epochs (+4.1).');
  assert.not.match(md, '- BadNets:');
});

test('report: the training curves of the attacks that have them, linked relative to results.md', () => {
  const withCurves = fake('blended', { figures: ['results/x/blended/figures/samples.svg', 'results/x/blended/figures/curves.svg'] });
  const md = renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets'), withCurves]));
  assert.match(md, '## Training curves');
  assert.match(md, '![Blended: REFINE training curves](blended/figures/curves.svg)');
  assert.not.match(md, 'badnets/figures/curves.svg');
  assert.not.match(renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets')])), '## Training curves');
});

test('report: ablation table and a collapse are shown', () => {
  const r = fake('blended');
  r.config.ablations = true;
  r.evaluation.woHRF = { BA: 0.9, ASR: 0.7 };
  r.evaluation.woSCL = { BA: 0.1, ASR: 0 };
  r.refine.woSCL = { ...r.refine.refine!, variant: 'woSCL', collapsed: true, collapsedEpochs: [1] };
  const agg = aggregate('cifar10', 'paper', [r]);
  assert.equal(agg.collapsed, ['blended']);
  const md = renderReport(agg);
  assert.match(md, '| Blended | 91.24/100.00 | 90.00/70.00 | 10.00/0.00 ⚠ collapsed | 90.43/0.78 | 91.10/98.76 | 90.59/75.30 | 90.38/0.10 | 90.65/0.51 |');
  assert.match(md, '**COLLAPSED** (epochs 1)');
  assert.match(md, '**Collapse:**');
  assert.not.match(md, 'not expected to match');
  assert.match(md, '| Blended | agrees: ours yes (ASR 70.0%), paper yes (75.30%) | agrees: ours yes (BA 10.0% vs 90.4%), paper yes (90.38 vs 90.65) |');
  // wall time: each ablation in its own column, a dash for one not run
  assert.match(md, '| Attack | backdoored model | evaluation | REFINE | w/o HRF | w/o SCL | total | ran on |');
  r.wallSeconds = { ...r.wallSeconds, woSCL: 120 };
  assert.match(renderReport(aggregate('cifar10', 'paper', [r])), '| Blended | 1.0 min | 0.5 min | 0.2 min | — | 2.0 min | 1.7 min | test adapter |');
});

test('report: a folder filled on two machines names each attack\'s adapter', () => {
  assert.is(shortAdapter('mesa software llvmpipe-llvm-15-0-6-256-bits- llvmpipe: Mesa 25.0.7'), 'lavapipe (CPU)');
  assert.is(shortAdapter('nvidia nvidia-h200 NVIDIA: 580.159.04 580.159.4.0'), 'nvidia-h200');
  const md = renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets', { adapter: 'mesa llvmpipe' }), fake('wanet', { adapter: 'nvidia nvidia-h200 NVIDIA: 580' }), fake('batt', { adapter: 'nvidia nvidia-h200 NVIDIA: 580' })]));
  assert.match(md, 'on mesa llvmpipe (BadNets); nvidia nvidia-h200 NVIDIA: 580 (WaNet, BATT).');
  assert.match(md, '| 1.7 min | nvidia-h200 |');
  assert.match(md, '| 1.7 min | lavapipe (CPU) |');
});

test('report: the pseudo-label shares of the last REFINE epoch (target / largest class)', () => {
  const r = fake('wanet');
  const s = r.refine.refine!;
  s.history = [
    { ...s.history[0]!, pseudoLabelCounts: [10, 80, 10] },
    { ...s.history[0]!, epoch: 2, pseudoLabelCounts: [45, 30, 25] },
  ];
  const md = renderReport(aggregate('fashion-mnist', 'quick', [r]));
  assert.match(md, 'pseudo-labels, last epoch: target share / largest');
  assert.match(md, '| 45.0% / 45.0% (class 0) |');
  // no counts recorded: a dash, not NaN
  assert.match(renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets')])), '| 85.00% | — |');
});

test('onlyAttacks: one command\'s summary names no attack outside it (an incomplete one in the folder)', () => {
  const agg = aggregate('fashion-mnist', 'quick', [fake('badnets', { status: 'incomplete' }), fake('wanet')]);
  assert.equal(agg.incomplete, ['badnets']);
  const mine = onlyAttacks(agg, ['wanet']);
  assert.equal(Object.keys(mine.attacks), ['wanet']);
  assert.equal(mine.incomplete, []);
  assert.equal(mine.complete, ['wanet']);
  const md = renderReport(mine);
  assert.not.match(md, 'BadNets');
  assert.not.match(md, 'Not finished');
});

test('report: the augmentation check, when measured', () => {
  const w = fake('wanet', {
    diagnostics: {
      augmentation: { images: 1000, augment: {}, changed: 0.4, plainShares: [0.1, 0.9], augmentedShares: [0.45, 0.55], topChangedTo: 0, topChangedToShare: 0.9, maxShareRise: 0.35, maxShareRiseClass: 0 },
      photometric: { images: 1000, augment: {}, changed: 0.1, plainShares: [0.1, 0.9], augmentedShares: [0.15, 0.85], topChangedTo: 0, topChangedToShare: 0.5, maxShareRise: 0.05, maxShareRiseClass: 0 },
      augmentationGuard: 'applied',
      guard: { crop: true, photometric: false },
    },
  });
  const md = renderReport(aggregate('fashion-mnist', 'quick', [w, fake('badnets')]));
  assert.match(md, "## Does REFINE's training augmentation fire the backdoor?");
  assert.match(md, "| WaNet | REFINE's augmentation | 1000 | 40.0% | 0 (90.0%) | +35.0 points (class 0) | 10.0% → 45.0% | yes |");
  assert.match(md, '| WaNet | brightness/contrast probe | 1000 | 10.0% | 0 (50.0%) | +5.0 points (class 0) | 10.0% → 15.0% | no |');
  assert.match(md, 'augmentation guard applied: pseudo-labels from the un-augmented images, no resized crop');
  // a result from before the probe: its one check only, and the guard read as the crop check
  const old = fake('wanet', { diagnostics: { augmentation: w.diagnostics!.augmentation, augmentationGuard: 'applied' } });
  const omd = renderReport(aggregate('fashion-mnist', 'quick', [old]));
  assert.not.match(omd, 'brightness/contrast probe |');
  assert.match(omd, 'augmentation guard applied: pseudo-labels from the un-augmented images, no resized crop');
  assert.not.match(md, '| BadNets | 1000');
  assert.not.match(renderReport(aggregate('fashion-mnist', 'quick', [fake('badnets')])), 'fire the backdoor');
});

test('ablationAgreement: the paper\'s two findings, judged per attack', () => {
  const r = fake('physicalba');
  r.evaluation.woHRF = { BA: 0.9, ASR: 0.5 }; // paper: w/o HRF removes PhysicalBA (ASR 1.6%)
  r.evaluation.woSCL = { BA: 0.95, ASR: 0.01 }; // above REFINE's 90.43: paper has it below
  assert.equal(ablationAgreement(r), {
    hrf: 'differs: ours yes (ASR 50.0%), paper no (1.60%)',
    scl: 'differs: ours no (BA 95.0% vs 90.4%), paper yes (88.63 vs 90.92)',
  });
  const only = fake('wanet');
  only.evaluation.woHRF = { BA: 0.9, ASR: 0.995 };
  assert.equal(ablationAgreement(only), { hrf: 'agrees: ours yes (ASR 99.5%), paper yes (99.53%)' });
  assert.equal(ablationAgreement(fake('badnets')), {});
  // within half a point of REFINE's BA: level, neither agreeing nor differing
  const level = fake('badnets');
  level.evaluation.woSCL = { BA: level.evaluation.refine!.BA + 0.004, ASR: 0.01 };
  assert.match(ablationAgreement(level).scl!, /^level: ours within 0\.5 points \(BA /);
  level.evaluation.woSCL.BA = level.evaluation.refine!.BA - 0.006;
  assert.match(ablationAgreement(level).scl!, /^agrees: ours yes/);
  const unknown = fake('custom');
  unknown.evaluation.woHRF = { BA: 0.9, ASR: 0.02 };
  assert.is(ablationAgreement(unknown).hrf, 'ours no (ASR 2.0%)');
});

test.run();
