import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { supConLoss, supConNormalized } from '../../src/refine/supcon.js';
import { checkOp, randArray } from '../helpers.js';
import { tensor } from '../../src/index.js';

/**
 * float64 reference: the official formulation, literally — two identical views stacked into a
 * 2B×D matrix, the 2B×2B similarity, row-max stabilisation, self-mask, positives mask, mean over
 * the 2B anchors (Khosla SupConLoss, contrast_mode 'all').
 */
function supConRef(z: Float64Array, B: number, D: number, labels: Int32Array, tau = 0.07, normalize = false, baseTau = 0.07): number {
  const f = new Float64Array(B * D);
  for (let i = 0; i < B; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) n += z[i * D + d]! ** 2;
    const s = normalize ? 1 / Math.max(Math.sqrt(n), 1e-12) : 1;
    for (let d = 0; d < D; d++) f[i * D + d] = z[i * D + d]! * s;
  }
  const N = 2 * B;
  let total = 0;
  for (let a = 0; a < N; a++) {
    const S = new Float64Array(N);
    for (let b = 0; b < N; b++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += f[(a % B) * D + d]! * f[(b % B) * D + d]!;
      S[b] = dot / tau;
    }
    const mx = Math.max(...S);
    let denom = 0;
    for (let c = 0; c < N; c++) if (c !== a) denom += Math.exp(S[c]! - mx);
    let num = 0;
    let cnt = 0;
    for (let b = 0; b < N; b++) {
      if (b === a || labels[a % B] !== labels[b % B]) continue;
      num += S[b]! - mx - Math.log(denom);
      cnt++;
    }
    total += num / Math.max(cnt, 1);
  }
  return -(tau / baseTau) * (total / N);
}

test('SupCon (B×B closed form) equals the official 2B×2B two-view formulation, with gradients', async () => {
  for (const [B, D] of [[1, 3], [5, 7], [12, 20]] as const) {
    const labels = Int32Array.from({ length: B }, (_, i) => (i * 7) % 3);
    const x = randArray(B * D);
    await checkOp(
      `supCon B=${B} D=${D}`,
      [{ data: x, shape: [B, D], grad: true }],
      ([t]) => supConLoss(t!, labels),
      ([a]) => Float64Array.of(supConRef(a!, B, D, labels, 0.07, true)),
      { fwdAtol: 2e-4, atol: 5e-3 },
    );
  }
});

test('SupCon on already-normalised features and on images [B,H,W,C]', async () => {
  const B = 4;
  const labels = Int32Array.from([0, 1, 0, 1]);
  const raw = randArray(B * 12);
  const z = new Float64Array(raw.length);
  for (let i = 0; i < B; i++) {
    const n = Math.hypot(...raw.subarray(i * 12, i * 12 + 12));
    for (let d = 0; d < 12; d++) z[i * 12 + d] = raw[i * 12 + d]! / n;
  }
  await checkOp('supConNormalized', [{ data: z, shape: [B, 12] }], ([t]) => supConNormalized(t!, labels, { temperature: 0.5 }), () => Float64Array.of(supConRef(z, B, 12, labels, 0.5)));
  await checkOp('supConLoss on images', [{ data: raw, shape: [B, 2, 2, 3], grad: true }], ([t]) => supConLoss(t!, labels), ([a]) => Float64Array.of(supConRef(a!, B, 12, labels, 0.07, true)), {
    fwdAtol: 2e-4,
    atol: 5e-3,
  });
  assert.throws(() => supConLoss(tensor(new Float32Array(6), [3, 2]), labels), /do not match 4 labels/);
});

test.run();
