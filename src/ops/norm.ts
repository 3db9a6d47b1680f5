/**
 * BatchNorm2d over NHWC activations (kernels/batchnorm.wgsl). Statistics are column reductions
 * of the [N·H·W, C] matrix in two stages (Welford partials per row slab, then a Chan merge per
 * channel), so they are numerically stable and need no transpose.
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, groups } from './util.js';
import { add, BinaryOp, binaryRaw, relu as reluAfter } from './elementwise.js';
import { memoryLayout } from './memory-plan.js';

export interface BatchNormOptions {
  /** true: batch statistics (and running-stat update); false: running statistics */
  training: boolean;
  /** running-stat update factor, PyTorch's default 0.1 */
  momentum?: number;
  /** added to the variance, default 1e-5 */
  eps?: number;
  /**
   * y = max(bn(x), 0) in the same passes (forward and backward), as relu(batchNorm2d(x)) but with
   * two fewer full passes over the activation each way. Eval mode falls back to the two ops.
   */
  relu?: boolean;
  /**
   * y = bn(x) + residual (then the ReLU when `relu`), of x's shape: a ResNet block's tail in the
   * normalisation's pass (training mode) instead of three; eval mode falls back to the ops.
   */
  residual?: Tensor | null;
}

/** Row slabs of the partial reductions: about `parallel` (slab, channel) pairs, at least 16 rows a slab, at most 1024 slabs. */
function slabsFor(rows: number, C: number, parallel: number): { slabRows: number; slabs: number } {
  const want = Math.max(1, Math.min(1024, Math.ceil(parallel / C), Math.ceil(rows / 16)));
  const slabRows = Math.ceil(rows / want);
  return { slabRows, slabs: Math.ceil(rows / slabRows) };
}

/**
 * y = γ·(x − mean)/sqrt(var + eps) + β per channel of x [N, H, W, C]; γ, β, runningMean,
 * runningVar are [C]. In training mode the batch statistics (biased variance) normalise, and
 * runningMean/runningVar are updated in place: r = (1 − m)·r + m·batch (unbiased variance for
 * runningVar). Gradients flow to x, γ and β.
 */
export function batchNorm2d(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, opts: BatchNormOptions): Tensor {
  const op = 'batchNorm2d';
  for (const [t, what] of [[x, 'x'], [gamma, 'gamma'], [beta, 'beta'], [runningMean, 'runningMean'], [runningVar, 'runningVar']] as const) {
    assertF32(t, `${op} ${what}`);
  }
  if (x.rank !== 4) throw new Error(`${op}: x must be NHWC [N, H, W, C], got [${x.shape}]`);
  const C = x.shape[3]!;
  for (const [t, what] of [[gamma, 'gamma'], [beta, 'beta'], [runningMean, 'runningMean'], [runningVar, 'runningVar']] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${what} must have shape [${C}] for x [${x.shape}], got [${t.shape}]`);
  }
  const rows = x.shape[0]! * x.shape[1]! * x.shape[2]!;
  if (rows === 0 || C === 0) throw new Error(`${op}: empty input [${x.shape}]`);
  if (opts.training && rows < 2) throw new Error(`${op}: training needs more than 1 value per channel, got x [${x.shape}]`);
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const training = opts.training;
  const residual = opts.residual ?? null;
  if (residual) {
    assertF32(residual, `${op} residual`);
    if (residual.shape.length !== 4 || residual.shape.some((d, i) => d !== x.shape[i])) throw new Error(`${op}: residual must have x's shape [${x.shape}], got [${residual.shape}]`);
    if (!training) {
      const s = add(batchNorm2d(x, gamma, beta, runningMean, runningVar, { ...opts, relu: false, residual: null }), residual);
      return opts.relu ? reluAfter(s) : s;
    }
  }
  if (opts.relu && !training) return reluAfter(batchNorm2d(x, gamma, beta, runningMean, runningVar, { ...opts, relu: false }));
  // the invocation layout of this adapter (src/ops/memory-plan.ts): workgroup size, rows per
  // invocation of the vec4 elementwise passes, parallelism of the reductions
  const L = memoryLayout();
  const WG = L.wg;
  const RPI = L.rowsPerInvocation;
  const relu = opts.relu ? { RELU: 1 } : {};
  const { slabRows, slabs } = slabsFor(rows, C, L.reductionParallelism);
  const uni = () => new Uniforms().u32(rows, C, slabRows, slabs).f32(eps, momentum).u32(training ? 1 : 0, 0);
  const r = rt();
  // vec4-over-channels entry points when C % 4 == 0
  const v4 = C % 4 === 0;
  // (a constant goes only to the entries that read it: RELU to normalize, grad_partial, grad_x;
  // RPI to the vec4 elementwise entries, which walk RPI rows per invocation)
  const ew = (entry: string, k: { RELU?: number } = {}) =>
    v4 ? { entry: `${entry}4`, workgroups: groups((Math.ceil(rows / RPI) * C) / 4, WG), constants: { WG, RPI, ...k } } : { entry, workgroups: groups(rows * C, WG), constants: { WG, ...k } };
  const perSlab = (entry: string, k: { RELU?: number } = {}) =>
    v4 ? { entry: `${entry}4`, workgroups: groups((slabs * C) / 4, WG), constants: { WG, ...k } } : { entry, workgroups: groups(slabs * C, WG), constants: { WG, ...k } };
  const perChannel = { workgroups: groups(C, WG), constants: { WG } };

  const stats = empty([5 * C]);
  if (training) {
    const partial = empty([slabs * 2 * C]);
    r.dispatch({ kernel: 'batchnorm', ...perSlab('stats_partial'), uniforms: uni(), buffers: [x.buffer, partial.buffer] });
    r.dispatch({
      kernel: 'batchnorm',
      entry: 'finalize_train',
      uniforms: uni(),
      buffers: [x.buffer, partial.buffer, stats.buffer, runningMean.buffer, runningVar.buffer, gamma.buffer, beta.buffer],
      ...perChannel,
    });
    partial.dispose();
  } else {
    r.dispatch({
      kernel: 'batchnorm',
      entry: 'finalize_eval',
      uniforms: uni(),
      buffers: [null, null, stats.buffer, runningMean.buffer, runningVar.buffer, gamma.buffer, beta.buffer],
      ...perChannel,
    });
  }
  const y = empty(x.shape);
  r.dispatch({
    kernel: 'batchnorm',
    ...ew(residual ? 'normalize_res' : 'normalize', relu),
    uniforms: uni(),
    buffers: [x.buffer, null, stats.buffer, null, null, null, null, y.buffer, null, null, residual?.buffer ?? null],
  });
  // the backward passes' ReLU mask: recomputed from bn(x) > 0, except after a residual, where
  // bn(x) alone does not decide it: dy is masked with y > 0 first and the passes run without it
  const maskRelu = opts.relu && !residual ? relu : {};

  const out = record(
    residual ? (opts.relu ? 'batchNorm2dAddRelu' : 'batchNorm2dAdd') : opts.relu ? 'batchNorm2dRelu' : op,
    y,
    residual ? [x, gamma, beta, residual] : [x, gamma, beta],
    (gOut, needs) => {
      // (y > 0 where the ReLU passed bn(x) + r, so this is the gradient of the sum)
      const g = residual && opts.relu ? binaryRaw(BinaryOp.reluGrad, gOut, y) : gOut;
      const grads = bnBackward(g, needs);
      if (!residual) return grads;
      if (!needs[3] && g !== gOut) g.dispose();
      return [...grads, needs[3] ? g : null];
    },
    residual && opts.relu ? [x, gamma, stats, y] : [x, gamma, stats],
  );
  stats.dispose();
  return out;

  function bnBackward(g: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
    let dx: Tensor | null = null;
    if (!training && !needs[1] && !needs[2]) {
      // (never with the fused ReLU: eval mode does not fuse)
      // frozen network in eval mode: dx = dy·γ·invstd only
      dx = empty(x.shape);
      r.dispatch({
        kernel: 'batchnorm',
        ...ew('grad_x_eval'),
        uniforms: uni(),
        buffers: [null, null, stats.buffer, null, null, null, null, dx.buffer, g.buffer],
      });
      return [dx, null, null];
    }
    const partial = empty([slabs * 2 * C]);
    const coef = empty([3 * C]);
    const dgamma = empty([C]);
    const dbeta = empty([C]);
    r.dispatch({
      kernel: 'batchnorm',
      ...perSlab('grad_partial', maskRelu),
      uniforms: uni(),
      buffers: [x.buffer, partial.buffer, stats.buffer, null, null, null, null, null, g.buffer],
    });
    r.dispatch({
      kernel: 'batchnorm',
      entry: 'grad_finalize',
      uniforms: uni(),
      buffers: [null, partial.buffer, stats.buffer, dgamma.buffer, dbeta.buffer, gamma.buffer, null, null, null, coef.buffer],
      ...perChannel,
    });
    if (needs[0]) {
      dx = empty(x.shape);
      r.dispatch({
        kernel: 'batchnorm',
        ...ew('grad_x', maskRelu),
        uniforms: uni(),
        buffers: [x.buffer, null, stats.buffer, null, null, null, null, dx.buffer, g.buffer, coef.buffer],
      });
    }
    partial.dispose();
    coef.dispose();
    if (!needs[1]) dgamma.dispose();
    if (!needs[2]) dbeta.dispose();
    return [dx, needs[1] ? dgamma : null, needs[2] ? dbeta : null];
  }
}
