/**
 * Modules: named parameters (trainable leaves) and buffers (state such as BN running stats),
 * train/eval mode, and stable PyTorch-style dotted names ("layer1.0.conv1.weight") for
 * checkpoints. Parameters and buffers live outside scopes; `dispose()` frees them.
 */
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

let weightsVersion = 0;
/**
 * Counter bumped whenever parameters may change other than by an optimizer step (checkpoint
 * loads, replaced tensors, freezing): caches derived from frozen parameters (convBN's folded
 * weights) are valid while it is unchanged. Code that writes into a frozen parameter's buffer
 * directly must call bumpWeightsVersion().
 */
export function getWeightsVersion(): number {
  return weightsVersion;
}
export function bumpWeightsVersion(): void {
  weightsVersion++;
}

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  /** Registers a trainable parameter (requiresGrad = true unless frozen later). */
  protected param(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this._params.set(name, t);
    return t;
  }

  /** Registers non-trainable state saved in checkpoints (e.g. running_mean). */
  protected buffer(name: string, t: Tensor): Tensor {
    keep(t);
    t.name = name;
    this._buffers.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /** Replaces a registered parameter or buffer tensor (checkpoint loading). */
  protected replaceTensor(name: string, t: Tensor): void {
    const old = this._params.get(name) ?? this._buffers.get(name);
    if (!old) throw new Error(`no parameter or buffer named ${name}`);
    bumpWeightsVersion();
    keep(t);
    t.name = name;
    t.requiresGrad = old.requiresGrad;
    if (this._params.has(name)) this._params.set(name, t);
    else this._buffers.set(name, t);
    old.dispose();
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this._params) yield [prefix + n, p];
    for (const [n, c] of this._children) yield* c.namedParameters(`${prefix}${n}.`);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this._buffers) yield [prefix + n, b];
    for (const [n, c] of this._children) yield* c.namedBuffers(`${prefix}${n}.`);
  }

  *parameters(): Generator<Tensor> {
    for (const [, p] of this.namedParameters()) yield p;
  }

  /** Parameters and buffers, PyTorch state_dict order (a module's own entries, then children). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const walk = (m: Module, prefix: string) => {
      for (const [n, p] of m._params) out.set(prefix + n, p);
      for (const [n, b] of m._buffers) out.set(prefix + n, b);
      for (const [n, c] of m._children) walk(c, `${prefix}${n}.`);
    };
    walk(this, '');
    return out;
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.size;
    return n;
  }

  train(on = true): this {
    this.training = on;
    for (const c of this._children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes every parameter: gradients still flow through the module to its input. */
  freeze(): this {
    bumpWeightsVersion();
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  /** Makes every parameter trainable again (a frozen classifier that is trained further). */
  unfreeze(): this {
    bumpWeightsVersion();
    for (const p of this.parameters()) p.requiresGrad = true;
    return this;
  }

  dispose(): void {
    for (const p of this._params.values()) {
      p.grad?.dispose();
      p.grad = null;
      p.dispose();
    }
    for (const b of this._buffers.values()) b.dispose();
    for (const c of this._children.values()) c.dispose();
  }

  abstract forward(x: Tensor): Tensor;
}

/** Runs children in order; names them "0", "1", ... like torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((l, i) => this.child(String(i), l));
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, l) => l.forward(h), x);
  }
}
