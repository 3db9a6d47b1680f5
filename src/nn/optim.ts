/**
 * Optimizers (PyTorch semantics) and a multi-step learning-rate schedule. Updates run in place
 * on the GPU (kernels/optim.wgsl), one dispatch per parameter; state buffers are allocated on
 * the first step and kept out of scopes.
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/scope.js';
import { Uniforms } from '../tensor/uniforms.js';
import { zerosLike } from '../ops/creation.js';

const WG = 64;

export abstract class Optimizer {
  /** current learning rate (schedules change it) */
  lr: number;
  readonly params: Tensor[];
  protected stepCount = 0;

  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    if (!(lr > 0)) throw new Error(`optimizer: learning rate must be > 0, got ${lr}`);
    for (const p of this.params) {
      if (!p.requiresGrad) throw new Error(`optimizer: parameter ${p.name ?? p.id} does not require grad`);
      if (p.dtype !== 'f32') throw new Error(`optimizer: parameter ${p.name ?? p.id} is not f32`);
    }
    this.lr = lr;
  }

  /** Frees every parameter's gradient (the next backward allocates fresh ones). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Applies one update with the current gradients (parameters without a gradient are skipped). */
  step(): void {
    this.stepCount++;
    for (const p of this.params) if (p.grad) this.update(p, p.grad);
  }

  protected abstract update(p: Tensor, g: Tensor): void;

  /** Releases optimizer state. */
  abstract dispose(): void;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  momentum: number;
  weightDecay: number;
  private buf = new Map<Tensor, Tensor>();
  private dummy: Tensor | null = null;

  private placeholder(): Tensor {
    return (this.dummy ??= keep(empty([1])));
  }

  constructor(params: Iterable<Tensor>, opts: SGDOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  protected update(p: Tensor, g: Tensor): void {
    let m = this.buf.get(p);
    const first = !m;
    if (!m && this.momentum > 0) {
      m = keep(zerosLike(p));
      this.buf.set(p, m);
    }
    rt().dispatch({
      kernel: 'optim',
      entry: 'sgd',
      uniforms: new Uniforms().u32(p.size, first ? 1 : 0).f32(this.lr, this.momentum, this.weightDecay, 0, 0, 0, 1, 1),
      // without momentum the kernel never touches binding 3, but it must be bound
      buffers: [p.buffer, g.buffer, (m ?? this.placeholder()).buffer],
      workgroups: Math.ceil(p.size / WG),
    });
  }

  /** Momentum buffers by parameter (for checkpoints). */
  state(): Map<Tensor, Tensor> {
    return new Map(this.buf);
  }

  /** Restores a momentum buffer (takes ownership of `t`). */
  setState(p: Tensor, t: Tensor): void {
    if (t.size !== p.size) throw new Error(`SGD.setState: buffer of ${t.size} for a parameter of ${p.size}`);
    this.buf.get(p)?.dispose();
    this.buf.set(p, keep(t));
  }

  dispose(): void {
    for (const t of this.buf.values()) t.dispose();
    this.buf.clear();
    this.dummy?.dispose();
    this.dummy = null;
  }
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  private state = new Map<Tensor, { m: Tensor; v: Tensor; t: number }>();

  constructor(params: Iterable<Tensor>, opts: AdamOptions) {
    super(params, opts.lr);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  protected update(p: Tensor, g: Tensor): void {
    let s = this.state.get(p);
    if (!s) {
      s = { m: keep(zerosLike(p)), v: keep(zerosLike(p)), t: 0 };
      this.state.set(p, s);
    }
    s.t++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** s.t;
    const bc2 = 1 - b2 ** s.t;
    rt().dispatch({
      kernel: 'optim',
      entry: 'adam',
      uniforms: new Uniforms().u32(p.size, 0).f32(this.lr, 0, this.weightDecay, b1, b2, this.eps, bc1, Math.sqrt(bc2)),
      buffers: [p.buffer, g.buffer, s.m.buffer, s.v.buffer],
      workgroups: Math.ceil(p.size / WG),
    });
  }

  dispose(): void {
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.state.clear();
  }
}

/** What every SGD training run here is configured by: its length, batch, SGD settings and multi-step schedule. */
export interface SgdRecipe {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** epochs (0-indexed) at whose start the lr is multiplied by gamma */
  milestones: number[];
  gamma: number;
}

/** The multi-step schedule: lr · gamma^(number of milestones ≤ epoch), epochs 0-indexed. */
export function lrAt(cfg: { lr: number; milestones: readonly number[]; gamma: number }, epoch: number): number {
  return cfg.lr * cfg.gamma ** cfg.milestones.filter((m) => m <= epoch).length;
}

/**
 * PyTorch's OneCycleLR (cosine annealing, its default hyper-parameters): the lr rises from
 * maxLr/divFactor to maxLr over the first pctStart of the steps, then falls to
 * maxLr/(divFactor·finalDivFactor); with cycleMomentum the momentum moves the opposite way
 * between maxMomentum and baseMomentum. Per step, not per epoch.
 */
export interface OneCycle {
  kind: 'onecycle';
  /** share of the steps spent rising (PyTorch default 0.3) */
  pctStart: number;
  /** initial lr = maxLr / divFactor (25) */
  divFactor: number;
  /** final lr = initial lr / finalDivFactor (1e4) */
  finalDivFactor: number;
  /** momentum cycled between baseMomentum (at the lr peak) and maxMomentum (0.85 / 0.95) */
  cycleMomentum: boolean;
  baseMomentum: number;
  maxMomentum: number;
}

export const ONE_CYCLE_DEFAULTS: OneCycle = { kind: 'onecycle', pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4, cycleMomentum: true, baseMomentum: 0.85, maxMomentum: 0.95 };

/** lr and momentum of step t (0-based) of `total` under a one-cycle schedule peaking at maxLr. */
export function oneCycleAt(s: OneCycle, maxLr: number, t: number, total: number, momentum: number): { lr: number; momentum: number } {
  if (!(total >= 2) || !Number.isInteger(total)) throw new Error(`one-cycle schedule: total steps must be an integer ≥ 2, got ${total}`);
  if (!(s.pctStart > 0 && s.pctStart < 1)) throw new Error(`one-cycle schedule: pctStart must be in (0, 1), got ${s.pctStart}`);
  const cos = (a: number, b: number, pct: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
  const initial = maxLr / s.divFactor;
  const min = initial / s.finalDivFactor;
  // PyTorch's phase ends: step pctStart·total − 1 is the peak, step total − 1 the minimum
  const up = Math.max(1, s.pctStart * total - 1);
  const i = Math.min(Math.max(0, t), total - 1);
  if (i <= up) {
    const p = i / up;
    return { lr: cos(initial, maxLr, p), momentum: s.cycleMomentum ? cos(s.maxMomentum, s.baseMomentum, p) : momentum };
  }
  const p = (i - up) / (total - 1 - up);
  return { lr: cos(maxLr, min, p), momentum: s.cycleMomentum ? cos(s.baseMomentum, s.maxMomentum, p) : momentum };
}

export class MultiStepLR {
  private epoch = 0;
  private readonly base: number;
  constructor(
    private opt: Optimizer,
    private milestones: number[],
    private gamma = 0.1,
  ) {
    this.base = opt.lr;
  }
  step(): void {
    this.epoch++;
    this.opt.lr = this.lrAt(this.epoch);
  }
  lrAt(epoch: number): number {
    return lrAt({ lr: this.base, milestones: this.milestones, gamma: this.gamma }, epoch);
  }
  get lastEpoch(): number {
    return this.epoch;
  }
}

/**
 * Checked, sorted milestones for a MultiStepLR over `epochs` epochs given on a command line: each
 * must lie inside the run (1 ≤ m < epochs), since a milestone at 0 or at or past the end would
 * never be a change of lr during training. `what` names the schedule in the error.
 */
export function checkedMilestones(what: string, milestones: number[], epochs: number): number[] {
  const bad = milestones.filter((m) => !Number.isInteger(m) || m < 1 || m >= epochs);
  if (bad.length) throw new Error(`${what} milestones must be epochs 1..${epochs - 1} (0-indexed starts of epochs inside the run), got ${bad.join(', ')}`);
  return [...milestones].sort((a, b) => a - b);
}

/** A MultiStepLR factor given on a command line: in (0, 1]. */
export function checkedGamma(what: string, gamma: number): number {
  if (!(gamma > 0 && gamma <= 1)) throw new Error(`${what} gamma must be in (0, 1], got ${gamma}`);
  return gamma;
}
