/** Raw strided copies and fills (kernels/copy.wgsl); the building block of the shape ops. */
import { rt } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { groups, MAX_RANK } from './util.js';

const WG = 64;

/** out[obase + c·ostride] = x[ibase + c·istride] for every index c of `shape`. Works on i32 too. */
export function stridedCopy(x: Tensor, out: Tensor, shape: readonly number[], istride: readonly number[], ostride: readonly number[], ibase = 0, obase = 0, flip = 0): void {
  if (shape.length > MAX_RANK) throw new Error(`copy: rank ${shape.length} > ${MAX_RANK}`);
  let n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  const r = shape.length;
  if (flip !== 0) {
    // reversed input axes (bit d of `flip` = axis d): one scalar pass
    const u = new Uniforms().u32(n, r, ibase, obase, 0, flip, 0, 0).vec4u(shape, 2).vec4u(istride, 2).vec4u(ostride, 2);
    rt().dispatch({ kernel: 'copy', entry: 'flip', uniforms: u, buffers: [x.buffer, out.buffer], workgroups: groups(n, WG) });
    return;
  }
  // one element broadcast over a whole contiguous output
  const contiguousOut = ostride.every((s, i) => s === shape.slice(i + 1).reduce((p, d) => p * d, 1));
  if (istride.every((s) => s === 0) && contiguousOut && obase === 0 && n % 4 === 0) {
    const u = new Uniforms().u32(n / 4, 0, ibase, 0, 0, 0, 0, 0);
    rt().dispatch({ kernel: 'copy', entry: 'splat4', uniforms: u, buffers: [x.buffer, out.buffer], workgroups: groups(n / 4, WG) });
    return;
  }
  // vec4 units when the innermost axis is contiguous on both sides and everything is 4-aligned
  const v4 =
    r > 0 &&
    shape[r - 1]! % 4 === 0 &&
    istride[r - 1] === 1 &&
    ostride[r - 1] === 1 &&
    ibase % 4 === 0 &&
    obase % 4 === 0 &&
    istride.every((s, i) => i === r - 1 || s % 4 === 0) &&
    ostride.every((s, i) => i === r - 1 || s % 4 === 0);
  let [sh, is, os, ib, ob] = [shape, istride, ostride, ibase, obase];
  if (v4) {
    sh = shape.map((d, i) => (i === r - 1 ? d / 4 : d));
    is = istride.map((s, i) => (i === r - 1 ? 1 : s / 4));
    os = ostride.map((s, i) => (i === r - 1 ? 1 : s / 4));
    [ib, ob, n] = [ibase / 4, obase / 4, n / 4];
  }
  const u = new Uniforms().u32(n, r, ib, ob, 0, 0, 0, 0).vec4u(sh, 2).vec4u(is, 2).vec4u(os, 2);
  rt().dispatch({ kernel: 'copy', entry: v4 ? 'main4' : 'main', uniforms: u, buffers: [x.buffer, out.buffer], workgroups: groups(n, WG) });
}

const bits = new DataView(new ArrayBuffer(4));

/** Sets every element of `out` to `value` (as f32 or i32 according to out.dtype). */
export function fillRaw(out: Tensor, value: number): Tensor {
  if (out.size === 0) return out;
  if (out.dtype === 'f32') bits.setFloat32(0, value, true);
  else bits.setInt32(0, value, true);
  const u = new Uniforms().u32(out.size, 0, 0, 0, bits.getUint32(0, true), 0, 0, 0);
  rt().dispatch({ kernel: 'copy', entry: 'fill', uniforms: u, buffers: [null, out.buffer], workgroups: groups(out.size, WG) });
  return out;
}
