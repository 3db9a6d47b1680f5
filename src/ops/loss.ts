/**
 * Losses: cross-entropy with integer targets (kernels/loss_ce.wgsl) and binary cross-entropy on
 * probabilities (kernels/loss_bce.wgsl), with gradients.
 *
 * crossEntropy is one fused kernel per row (log-softmax + NLL); when a gradient will be needed
 * the same kernel also writes softmax − onehot, so the backward is a single scaling pass.
 * 'mean' and 'sum' add one reduction dispatch (reduce.ts).
 *
 * Target validation: targets given as host data (Int32Array / number[]) are checked on the host
 * and a label outside [0, K) throws. Targets already on the GPU are not read back (that would
 * stall the pipeline); the kernel never reads out of bounds for them: such a row's loss is NaN
 * (so the mean/sum is NaN and the mistake is visible) and its gradient row is 0.
 */
import { rt } from '../tensor/device.js';
import { empty, tensor, view, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { isGradEnabled, record } from '../autograd/tape.js';
import { assertF32, groups, sameShape } from './util.js';
import { reduceRaw } from './reduce.js';
import { rowLayout } from './softmax.js';

const WG = 64;
const NAN_BITS = 0x7fc00000;

export type Reduction = 'mean' | 'sum' | 'none';
export interface LossOptions {
  reduction?: Reduction;
}
/** Integer labels: an i32 tensor on the GPU, or host data (validated on the host). */
export type Labels = Tensor | Int32Array | readonly number[];

function reductionOf(opts: LossOptions | undefined, op: string): Reduction {
  const r = opts?.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${op}: unknown reduction '${String(r)}' (expected 'mean', 'sum' or 'none')`);
  return r;
}

/**
 * Turns labels into an i32 tensor of `shape`. Host data is range-checked against [0, limit);
 * `owned` tells the caller to dispose the returned handle.
 */
export function labelsTensor(labels: Labels, shape: readonly number[], limit: number, op: string, what = 'targets'): { t: Tensor; owned: boolean } {
  const n = shape.reduce((p, d) => p * d, 1);
  if (!(labels instanceof Int32Array) && !Array.isArray(labels)) {
    const t = labels as Tensor;
    if (t.dtype !== 'i32') throw new Error(`${op}: ${what} must be an i32 tensor, got ${t.dtype} [${t.shape}]`);
    if (!sameShape(t.shape, shape)) throw new Error(`${op}: ${what} of shape [${t.shape}] do not match the expected shape [${shape}]`);
    return { t, owned: false };
  }
  const arr = labels as ArrayLike<number>;
  if (arr.length !== n) throw new Error(`${op}: ${arr.length} ${what} for an expected shape [${shape}]`);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= limit) throw new Error(`${op}: ${what}[${i}] = ${v} is out of range [0, ${limit})`);
  }
  return { t: tensor(Int32Array.from(arr), shape, 'i32'), owned: true };
}

/** Per-element losses [n...] → the requested reduction (disposes `per` when it reduces). */
function reduceLoss(per: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return per;
  const flat = view(per, [per.size]);
  const r = reduceRaw(flat, [0], 'sum', reduction === 'mean', false);
  flat.dispose();
  per.dispose();
  return r;
}

/**
 * Cross-entropy of logits [B, K] against integer targets [B] (PyTorch's F.cross_entropy):
 * loss_b = logsumexp(x_b) − x_b[t_b]; 'mean' (default) averages over B, 'sum' adds, 'none'
 * returns [B]. Gradient w.r.t. logits: (softmax − onehot)·g (/B for 'mean').
 */
export function crossEntropy(logits: Tensor, targets: Labels, opts?: LossOptions): Tensor {
  const op = 'crossEntropy';
  const reduction = reductionOf(opts, op);
  assertF32(logits, op);
  if (logits.rank !== 2) throw new Error(`${op}: logits must be [B, K], got [${logits.shape}]`);
  const [B, K] = logits.shape as [number, number];
  if (K === 0) throw new Error(`${op}: logits [${logits.shape}] have no classes`);
  const { t, owned } = labelsTensor(targets, [B], K, op);
  const wantGrad = isGradEnabled() && logits.requiresGrad;
  const per = empty([B]);
  const dl = wantGrad ? empty([B, K]) : null;
  if (B > 0) {
    const { ROWWG, workgroups } = rowLayout(B, K);
    rt().dispatch({
      kernel: 'loss_ce',
      entry: dl ? 'ce_fwd_grad' : 'ce_fwd',
      constants: { ROWWG },
      uniforms: new Uniforms().u32(B, K).f32(1).u32(NAN_BITS),
      buffers: [logits.buffer, t.buffer, per.buffer, dl ? dl.buffer : null],
      workgroups,
    });
  }
  if (owned) t.dispose();
  const out = reduceLoss(per, reduction);
  if (!dl) return out;
  const scale = reduction === 'mean' ? 1 / Math.max(B, 1) : 1;
  record(
    op,
    out,
    [logits],
    (g) => {
      const dx = empty([B, K]);
      rt().dispatch({
        kernel: 'loss_ce',
        entry: 'ce_bwd',
        constants: { GSCALAR: reduction === 'none' ? 0 : 1 },
        uniforms: new Uniforms().u32(B, K).f32(scale).u32(0),
        buffers: [dl.buffer, null, g.buffer, dx.buffer],
        workgroups: groups(B * K, WG),
      });
      return [dx];
    },
    [dl],
  );
  dl.dispose();
  return out;
}

/**
 * PyTorch BCELoss on probabilities p (any shape) against targets of the same shape:
 * −[t·log p + (1−t)·log(1−p)] with each log clamped to ≥ −100; 'mean' (default) averages over
 * all elements. Gradients: w.r.t. p, g·(p − t)/max(p(1−p), 1e-12) (PyTorch's formula, the exact
 * derivative where the clamp is inactive); w.r.t. t, g·(log(1−p) − log p) with the clamped logs.
 * p outside [0, 1] is not checked (the data stays on the GPU) and gives NaN.
 */
export function bce(p: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  const op = 'bce';
  const reduction = reductionOf(opts, op);
  assertF32(p, op);
  assertF32(target, op);
  if (!sameShape(p.shape, target.shape)) throw new Error(`${op}: probabilities [${p.shape}] and targets [${target.shape}] must have the same shape`);
  const n = p.size;
  const per = empty(p.shape);
  if (n > 0) {
    rt().dispatch({
      kernel: 'loss_bce',
      entry: 'bce_fwd',
      uniforms: new Uniforms().u32(n, 0).f32(1).u32(0),
      buffers: [p.buffer, target.buffer, per.buffer, null, null],
      workgroups: groups(n, WG),
    });
  }
  const out = reduceLoss(per, reduction);
  const scale = reduction === 'mean' ? 1 / Math.max(n, 1) : 1;
  return record(
    op,
    out,
    [p, target],
    (g, needs) => {
      const dp = needs[0] ? empty(p.shape) : null;
      const dt = needs[1] ? empty(p.shape) : null;
      if (n > 0 && (dp || dt)) {
        rt().dispatch({
          kernel: 'loss_bce',
          entry: dp && dt ? 'bce_bwd_pt' : dp ? 'bce_bwd_p' : 'bce_bwd_t',
          constants: { GSCALAR: reduction === 'none' ? 0 : 1 },
          uniforms: new Uniforms().u32(n, 0).f32(scale).u32(0),
          buffers: [p.buffer, target.buffer, g.buffer, dp ? dp.buffer : null, dt ? dt.buffer : null],
          workgroups: groups(n, WG),
        });
      }
      return [dp, dt];
    },
    [p, target],
  );
}
