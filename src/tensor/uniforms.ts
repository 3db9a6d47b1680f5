/**
 * Packs a kernel's uniform struct. Fields are written in order, 4 bytes each; `vec4u`/`vec4f`
 * pad to 16 bytes first, matching WGSL's alignment of vec4 and arrays of vec4. The kernel's
 * struct must declare the same fields in the same order.
 */
export class Uniforms {
  private view: DataView;
  private buf: ArrayBuffer;
  private off = 0;
  constructor(capacity = 256) {
    this.buf = new ArrayBuffer(capacity);
    this.view = new DataView(this.buf);
  }
  u32(...v: number[]): this {
    for (const x of v) {
      if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`uniform u32 out of range: ${x}`);
      this.view.setUint32(this.off, x, true);
      this.off += 4;
    }
    return this;
  }
  i32(...v: number[]): this {
    for (const x of v) {
      if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff) throw new Error(`uniform i32 out of range: ${x}`);
      this.view.setInt32(this.off, x, true);
      this.off += 4;
    }
    return this;
  }
  f32(...v: number[]): this {
    for (const x of v) {
      this.view.setFloat32(this.off, x, true);
      this.off += 4;
    }
    return this;
  }
  /** Pads to a 16-byte boundary (start of a vec4 or array<vec4>). */
  align16(): this {
    this.off = Math.ceil(this.off / 16) * 16;
    return this;
  }
  /** Writes `n` vec4<u32> slots (an array<vec4u, n>) from `v`, zero-filled. */
  vec4u(v: readonly number[], n: number): this {
    this.align16();
    for (let i = 0; i < n * 4; i++) this.u32(v[i] ?? 0);
    return this;
  }
  bytes(): Uint8Array {
    // WGSL uniform structs have a size that is a multiple of 16.
    return new Uint8Array(this.buf, 0, Math.max(16, Math.ceil(this.off / 16) * 16));
  }
}
