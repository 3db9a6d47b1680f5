  // the convolution's geometry, the first 12 fields of every conv kernel's uniforms (included
  // inside `struct U` by scripts/bundle-kernels.mjs; filled by convUniforms in
  // src/ops/conv-uniforms.ts, whose field lists test/ops/uniform-layouts.test.ts checks against
  // these kernels): input N×H×W×C, output OH×OW×CO, kernel KH×KW, stride, padding, M = N·OH·OW
  N: u32, H: u32, W: u32, C: u32,
  OH: u32, OW: u32, CO: u32, KH: u32,
  KW: u32, S: u32, P: u32, M: u32,
