/**
 * Reverse-mode autograd. Each differentiable op calls `record()` next to its forward dispatch
 * with a closure that computes the input gradients; `backward()` walks the recorded nodes in
 * reverse topological order (so shared subgraphs such as ResNet's residual branches are visited
 * once), accumulates gradients and frees each node's saved tensors right after using them.
 *
 * `needs[i]` tells an op which input gradients to compute: a frozen network (parameters with
 * requiresGrad = false) passes gradients to its input without computing weight gradients.
 */
import { Tensor, view } from '../tensor/tensor.js';
import { keep, scopeHooks, trackNode } from '../tensor/scope.js';

export type BackwardFn = (gradOut: Tensor, needs: readonly boolean[]) => (Tensor | null | undefined)[];

export class Node {
  released = false;
  constructor(
    readonly name: string,
    readonly inputs: readonly Tensor[],
    readonly needs: readonly boolean[],
    readonly backward: BackwardFn,
    readonly saved: readonly Tensor[],
    readonly output: Tensor,
  ) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.saved) t.storage.release();
  }
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a graph (evaluation, optimizer steps, backward passes). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Records `out = op(inputs)` for autograd when grad mode is on and some input requires a
 * gradient. `saved` tensors stay alive (even if their handles are disposed) until the node's
 * backward has run or its graph is released.
 */
export function record(name: string, out: Tensor, inputs: readonly Tensor[], backward: BackwardFn, saved: readonly Tensor[] = []): Tensor {
  if (!gradEnabled) return out;
  const needs = inputs.map((t) => t.requiresGrad);
  if (!needs.some(Boolean)) return out;
  for (const t of saved) t.storage.retain();
  const node = new Node(name, inputs, needs, backward, saved, out);
  out.node = node;
  out.requiresGrad = true;
  trackNode(node);
  return out;
}

function topo(root: Tensor): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS: ResNet/UNet graphs are deep enough to make recursion risky.
  const stack: [Node, number][] = [];
  if (root.node && !root.node.released) stack.push([root.node, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i === 0 && seen.has(node)) {
      stack.pop();
      continue;
    }
    if (i === 0) seen.add(node);
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]!.node;
      if (child && !child.released && !seen.has(child)) stack.push([child, 0]);
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order; // children before parents
}

scopeHooks.graphOf = (roots: Tensor[]) => {
  const all = new Set<unknown>();
  for (const r of roots) for (const n of topo(r)) all.add(n);
  return all;
};
scopeHooks.releaseNode = (n: unknown) => (n as Node).release();

function accumulate(into: Map<Tensor, Tensor>, t: Tensor, g: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  const prev = into.get(t);
  if (!prev) {
    into.set(t, g);
    return;
  }
  into.set(t, add(prev, g));
  prev.dispose();
  g.dispose();
}

let addImpl: ((a: Tensor, b: Tensor) => Tensor) | null = null;
let onesLikeImpl: ((t: Tensor) => Tensor) | null = null;
let addInPlaceImpl: ((target: Tensor, g: Tensor) => void) | null = null;
let copyImpl: ((t: Tensor) => Tensor) | null = null;
/** Set by the ops module: the kernels autograd itself needs. */
export function setAutogradKernels(k: {
  add: typeof addImpl;
  onesLike: typeof onesLikeImpl;
  addInPlace: typeof addInPlaceImpl;
  copy: typeof copyImpl;
}): void {
  addImpl = k.add;
  onesLikeImpl = k.onesLike;
  addInPlaceImpl = k.addInPlace;
  copyImpl = k.copy;
}

/**
 * Back-propagates from `root` (a scalar unless `gradOut` is given). Leaf tensors with
 * requiresGrad receive their gradient in `.grad` (accumulated across calls; zero them with the
 * optimizer). The graph is released afterwards.
 */
export function backward(root: Tensor, gradOut?: Tensor): void {
  if (!root.requiresGrad || !root.node) throw new Error('backward(): the tensor does not require grad (no graph was recorded)');
  if (root.node.released) throw new Error('backward(): this graph was already differentiated (backward() frees what it saved); run the forward again to differentiate again');
  if (!gradOut && root.size !== 1) throw new Error(`backward(): gradOut is required for a non-scalar root of shape [${root.shape}]`);
  const add = addImpl!;
  const nodes = topo(root);
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, gradOut ?? onesLikeImpl!(root));
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k]!;
      const g = grads.get(node.output);
      grads.delete(node.output);
      if (!g) {
        node.release();
        continue;
      }
      const ins = node.backward(g, node.needs);
      // An op may pass its output gradient through unchanged (add, reshape) or return one
      // tensor for two inputs: give each input its own handle (a view, no copy). Storage shared
      // with the caller's gradOut is copied, since leaf gradients are accumulated in place.
      ins.forEach((gi, i) => {
        if (!gi) return;
        if (gi.storage === gradOut?.storage) ins[i] = copyImpl!(gi);
        else if (gi === g || ins.slice(0, i).some((o) => o === gi)) ins[i] = view(gi, gi.shape);
      });
      if (g !== gradOut) g.dispose();
      node.release();
      node.inputs.forEach((x, i) => {
        const gi = ins[i];
        if (!node.needs[i] || !gi) {
          gi?.dispose();
          return;
        }
        if (gi.shape.length !== x.shape.length || gi.shape.some((d, j) => d !== x.shape[j])) {
          throw new Error(`autograd: ${node.name} returned a gradient of shape [${gi.shape}] for an input of shape [${x.shape}]`);
        }
        if (x.node && !x.node.released) {
          accumulate(grads, x, gi, add);
        } else if (x.requiresGrad) {
          // A leaf: the gradient persists beyond scopes until the optimizer clears it.
          if (x.grad) {
            addInPlaceImpl!(x.grad, gi);
            gi.dispose();
          } else {
            // in-place accumulation later must not write into storage another tensor shares
            x.grad = keep(gi.storage.refs > 1 ? copyImpl!(gi) : gi);
            if (x.grad !== gi) gi.dispose();
          }
        } else {
          gi.dispose();
        }
      });
    }
  } finally {
    gradEnabled = prev;
    for (const g of grads.values()) if (g !== gradOut) g.dispose();
  }
}

/** Frees the saved tensors of a graph that will never be back-propagated. */
export function releaseGraph(root: Tensor): void {
  for (const n of topo(root)) n.release();
}
