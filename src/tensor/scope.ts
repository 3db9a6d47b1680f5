/**
 * Deterministic freeing: every tensor created inside `scope(fn)` is disposed when fn returns,
 * except what fn returns (moved to the enclosing scope) and what was `keep()`-ed. Autograd nodes
 * recorded inside a scope are released with it unless a returned tensor still needs them.
 */
import type { Tensor } from './tensor.js';

interface Frame {
  tensors: Set<Tensor>;
}

const frames: Frame[] = [];

export function track(t: Tensor): void {
  frames[frames.length - 1]?.tensors.add(t);
}

/** Hooks set by the autograd module (kept here to avoid an import cycle). */
export const scopeHooks = {
  /** nodes reachable from these tensors' graph */
  graphOf: (_roots: Tensor[]): Set<unknown> => new Set(),
  releaseNode: (_node: unknown): void => {},
};

const nodeFrames: Set<unknown>[] = [];

export function trackNode(node: unknown): void {
  nodeFrames[nodeFrames.length - 1]?.add(node);
}

/** Removes tensors from every enclosing scope so that they outlive it. */
export function keep<T extends Tensor>(t: T): T {
  for (const f of frames) f.tensors.delete(t);
  return t;
}

function collect(value: unknown, out: Tensor[], seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as Tensor).storage !== undefined && (value as Tensor).shape !== undefined) {
    out.push(value as Tensor);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

export function scope<T>(fn: () => T): T {
  if (fn.constructor.name === 'AsyncFunction') throw new Error('scope(fn): fn must be synchronous (read results after the scope)');
  frames.push({ tensors: new Set() });
  nodeFrames.push(new Set());
  let result: T;
  try {
    result = fn();
  } finally {
    const frame = frames.pop()!;
    const nodes = nodeFrames.pop()!;
    const escaping: Tensor[] = [];
    // On exceptions `result` is unassigned: everything is freed.
    try {
      collect(result!, escaping);
    } catch {
      /* nothing escapes */
    }
    const parent = frames[frames.length - 1];
    const parentNodes = nodeFrames[nodeFrames.length - 1];
    for (const t of escaping) {
      if (frame.tensors.delete(t)) parent?.tensors.add(t);
    }
    for (const t of frame.tensors) t.dispose();
    const live = scopeHooks.graphOf(escaping);
    for (const n of nodes) {
      if (live.has(n)) parentNodes?.add(n);
      else scopeHooks.releaseNode(n);
    }
  }
  return result;
}
