// C2ST (sbibm's definition on the native MLP classifier), its MLP gradient path, unbiased MMD.
import { describe, expect, it } from 'vitest';
import { c2st, mmd } from '../src/diagnostics/c2st.js';
import { native } from '../src/native.js';
import { sample } from '../src/random.js';
import { SbiError } from '../src/errors.js';
import { normalCdf } from './helpers/statistics.js';

/** n draws of N(shift · e_1, I_dim), row-major [n, dim]. */
function gaussian(n: number, dim: number, shift: number, seed: number): Float64Array {
  const x = sample({ kind: 'normal', loc: 0, scale: 1 }, n * dim, { seed });
  for (let i = 0; i < n; i++) x[i * dim] += shift;
  return x;
}

// Every row is scored exactly once (on the fold that holds it out), so the C2ST accuracy is a
// fraction of n = nx + ny predictions made by classifiers that did not see them: its sampling
// standard error is sqrt(p (1 − p) / n). Tolerance: 5 standard errors, plus (for Δ > 0) 0.01
// for the trained classifier's excess error over the Bayes rule, O(1 / n_train) for a
// threshold learnt from 1600 rows.
const N = 1000;
const tolerance = (p: number, extra: number) => 5 * Math.sqrt((p * (1 - p)) / (2 * N)) + extra;

describe('c2st', () => {
  it('is about 0.5 for two samples of one distribution', async () => {
    for (const dim of [1, 2]) {
      const acc = await c2st(gaussian(N, dim, 0, 1), gaussian(N, dim, 0, 2), dim, { seed: 1 });
      expect(Math.abs(acc - 0.5)).toBeLessThan(tolerance(0.5, 0));
    }
  });

  it('approaches the Bayes accuracy Φ(Δ/2) for N(0, 1) against N(Δ, 1) in 1-D and 2-D', async () => {
    for (const dim of [1, 2]) {
      for (const delta of [1, 2]) {
        const bayes = normalCdf(delta / 2);
        const acc = await c2st(gaussian(N, dim, 0, 3), gaussian(N, dim, delta, 4), dim, { seed: 2 });
        expect(Math.abs(acc - bayes), `dim ${dim}, Δ ${delta}: ${acc} vs ${bayes}`).toBeLessThan(tolerance(bayes, 0.01));
      }
    }
  });

  it('is deterministic for a seed and any thread count', async () => {
    const X = gaussian(300, 2, 0, 5);
    const Y = gaussian(300, 2, 1, 6);
    const a = await c2st(X, Y, 2, { seed: 9, threads: 1 });
    const b = await c2st(X, Y, 2, { seed: 9, threads: 2 });
    expect(b).toBe(a);
    const r1 = native.classifierCrossValidate(Float64Array.from([...X, ...Y]), new Uint8Array(600).fill(1, 300), 600, 2, { seed: 3, folds: 5 });
    const r2 = native.classifierCrossValidate(Float64Array.from([...X, ...Y]), new Uint8Array(600).fill(1, 300), 600, 2, { seed: 4, folds: 5 });
    expect(Array.from(r2.lastLoss)).not.toEqual(Array.from(r1.lastLoss));
  });

  it('throws RangeError / TypeError for bad input', async () => {
    const X = gaussian(20, 2, 0, 1);
    await expect(c2st(X, gaussian(3, 2, 0, 2), 2)).rejects.toThrow(/at least 5 rows in `Y`/);
    await expect(c2st(X, gaussian(21, 1, 0, 2), 2)).rejects.toThrow(/multiple of 2/);
    const bad = gaussian(20, 2, 0, 3);
    bad[7] = NaN;
    await expect(c2st(X, bad, 2)).rejects.toThrow(/finite values in `Y` but row 3, column 1/);
    await expect(c2st(new Float64Array(20).fill(1), X, 2)).rejects.toThrow(/constant/);
    await expect(c2st([1, 2] as unknown as Float64Array, X, 2)).rejects.toThrow(TypeError);
    await expect(c2st(X, X, 0)).rejects.toThrow(RangeError);
    await expect(c2st(X, X, 2, { folds: 1 })).rejects.toThrow(/at least 2 for `folds`/);
    await expect(c2st(X, X, 2, { seed: -1 })).rejects.toThrow(RangeError);
  });

  it('rejects with SbiError ABORTED when its signal aborts', async () => {
    const controller = new AbortController();
    const run = c2st(gaussian(2000, 2, 0, 1), gaussian(2000, 2, 0, 2), 2, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(run).rejects.toSatisfy((e: unknown) => e instanceof SbiError && e.code === 'ABORTED');
    const aborted = AbortSignal.abort();
    await expect(c2st(gaussian(20, 1, 0, 1), gaussian(20, 1, 0, 2), 1, { signal: aborted })).rejects.toThrow(/aborted/);
  });
});

describe('native binary classifier', () => {
  it('reduces the training loss and stops by the no-improvement rule', () => {
    const n = 400;
    const x = Float64Array.from([...gaussian(n, 2, 0, 7), ...gaussian(n, 2, 3, 8)]);
    const r = native.classifierCrossValidate(x, new Uint8Array(2 * n).fill(1, n), 2 * n, 2, { seed: 1, folds: 2 });
    for (let f = 0; f < 2; f++) {
      expect(r.lastLoss[f]!).toBeLessThan(r.firstLoss[f]!);
      // Bayes error at Δ = 3 is Φ(−1.5) ≈ 0.067: a trained classifier's BCE is far below log 2.
      expect(r.lastLoss[f]!).toBeLessThan(0.35);
      expect(r.epochs[f]!).toBeGreaterThan(11);
      expect(r.epochs[f]!).toBeLessThan(10000);
    }
    const capped = native.classifierCrossValidate(x, new Uint8Array(2 * n).fill(1, n), 2 * n, 2, { seed: 1, folds: 2, maxEpochs: 3 });
    expect(Array.from(capped.epochs)).toEqual([3, 3]);
  });

  it('rejects labels other than 0 and 1', () => {
    expect(() => native.classifierCrossValidate(new Float64Array(4), Uint8Array.of(0, 2, 1, 0), 4, 1, { seed: 1, folds: 2 })).toThrow(
      RangeError,
    );
  });
});

describe('MLP backward (kernels/nn/mlp.h)', () => {
  it('matches central differences of the forward in double', () => {
    for (const activation of ['relu', 'tanh', 'silu'] as const) {
      const sizes = Int32Array.of(3, 5, 4, 2);
      const n = 4;
      const params = new Float64Array((5 * 4) + (4 * 6) + (2 * 5));
      const x = sample({ kind: 'normal', loc: 0, scale: 1 }, n * 3, { seed: 11 });
      const weights = sample({ kind: 'normal', loc: 0, scale: 0.7 }, params.length, { seed: 12 });
      params.set(weights);
      const savedSize = n * (5 + 4 + 2) + (activation === 'silu' ? n * (5 + 4) : 0);
      const saved = new Float64Array(savedSize);
      const out = new Float64Array(n * 2);
      // Loss L = Σ c ⊙ out with fixed c, so dout = c.
      const c = sample({ kind: 'normal', loc: 0, scale: 1 }, n * 2, { seed: 13 });
      const loss = (p: Float64Array) => {
        native.nnMlpForward(activation, sizes, n, x, p, saved, out);
        return out.reduce((s, v, i) => s + v * c[i]!, 0);
      };
      loss(params);
      // Fixed seeds: with these inputs no ReLU pre-activation lies within h of its kink at 0, where
      // a central difference would straddle it (deterministic, so this cannot turn flaky).
      const grads = new Float64Array(params.length);
      native.nnMlpBackward(activation, sizes, n, x, params, saved, c, grads);
      const h = 1e-6;
      for (let k = 0; k < params.length; k++) {
        const p = Float64Array.from(params);
        p[k] += h;
        const up = loss(p);
        p[k] -= 2 * h;
        const down = loss(p);
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grads[k]! - fd), `${activation} param ${k}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(grads[k]!), Math.abs(fd), 1e-2));
      }
    }
  });
});

describe('zero-skipping ReLU MLP of the classifier (kernels/nn/relu_sparse.h)', () => {
  // Storage widths padded as the classifier pads them (and further), logical widths inside; x and
  // params 0 in the padding. Two outputs, so the output layer's general path runs too.
  const sizes = Int32Array.of(16, 32, 48, 2);
  const widths = Int32Array.of(10, 20, 33, 2);
  const paramCount = 32 * 17 + 48 * 33 + 2 * 49;
  function padded(n: number, seed: number) {
    const draw = sample({ kind: 'normal', loc: 0, scale: 0.6 }, paramCount + n * 16 + n * 2, { seed });
    const params = new Float64Array(paramCount);
    let off = 0, d = 0;
    for (let l = 0; l < 3; l++) {
      const fi = sizes[l]!, fo = sizes[l + 1]!;
      for (let o = 0; o < widths[l + 1]!; o++) {
        for (let i = 0; i < widths[l]!; i++) params[off + o * fi + i] = draw[d++]!;
        params[off + fo * fi + o] = draw[d++]!;
      }
      off += fo * (fi + 1);
    }
    const x = new Float64Array(n * 16);
    for (let r = 0; r < n; r++) for (let i = 0; i < 10; i++) x[r * 16 + i] = draw[d++]!;
    x[3] = 0; // exact zeros in the input are skipped too, of either sign
    x[16 + 5] = -0;
    const dout = Float64Array.from({ length: n * 2 }, () => draw[d++]!);
    dout[1] = 0;
    return { params, x, dout };
  }

  it('gives the bits of mlp.h\'s ReLU forward and backward, in float and double', () => {
    const n = 37;
    const p = padded(n, 21);
    for (const Arr of [Float64Array, Float32Array]) {
      const [params, x, dout] = [Arr.from(p.params), Arr.from(p.x), Arr.from(p.dout)];
      const saved = new Arr(n * (32 + 48 + 2));
      const denseOut = new Arr(n * 2), denseGrads = new Arr(paramCount);
      native.nnMlpForward('relu', sizes, n, x, params, saved, denseOut);
      native.nnMlpBackward('relu', sizes, n, x, params, saved, dout, denseGrads);
      const out = new Arr(n * 2), grads = new Arr(paramCount);
      native.nnReluMlpSparse(sizes, widths, n, x, params, dout, out, grads);
      expect(Array.from(out)).toEqual(Array.from(denseOut));
      expect(Array.from(grads)).toEqual(Array.from(denseGrads));
      // about half of the hidden units are 0 on these inputs: the skipping is exercised
      const zeros = Array.from(saved.subarray(0, n * 32)).filter((v, i) => i % 32 < 20 && v === 0).length;
      expect(zeros / (n * 20)).toBeGreaterThan(0.3);
    }
  });

  it('matches central differences of its forward in double', () => {
    const n = 5;
    const { params, x, dout } = padded(n, 22);
    const out = new Float64Array(n * 2), grads = new Float64Array(paramCount), scratchGrads = new Float64Array(paramCount);
    const loss = (q: Float64Array) => {
      native.nnReluMlpSparse(sizes, widths, n, x, q, dout, out, scratchGrads);
      return out.reduce((s, v, i) => s + v * dout[i]!, 0);
    };
    native.nnReluMlpSparse(sizes, widths, n, x, params, dout, out, grads);
    // Fixed seeds: no pre-activation lies within h of ReLU's kink (deterministic, cannot turn flaky).
    const h = 1e-6;
    let checked = 0;
    for (let k = 0; k < paramCount; k++) {
      if (params[k] === 0) continue; // padding: not a parameter of the logical network
      const q = Float64Array.from(params);
      q[k] += h;
      const up = loss(q);
      q[k] -= 2 * h;
      const fd = (up - loss(q)) / (2 * h);
      expect(Math.abs(grads[k]! - fd), `param ${k}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(grads[k]!), Math.abs(fd), 1e-2));
      checked++;
    }
    expect(checked).toBe(20 * 11 + 33 * 21 + 2 * 34);
  });

  it('throws RangeError for logical widths the storage cannot hold', () => {
    const { params, x, dout } = padded(2, 23);
    const run = (w: Int32Array) => native.nnReluMlpSparse(sizes, w, 2, x, params, dout, new Float64Array(4), new Float64Array(paramCount));
    expect(() => run(Int32Array.of(10, 33, 33, 2))).toThrow(/widths\[1\]/);
    expect(() => run(Int32Array.of(10, 20, 33, 1))).toThrow(/widths\[3\].*equal to sizes\[3\]/);
    expect(() => run(Int32Array.of(0, 20, 33, 2))).toThrow(RangeError);
  });
});

describe('mmd', () => {
  it('is near 0 for one distribution and clearly positive for shifted ones', () => {
    const same = mmd(gaussian(200, 2, 0, 1), gaussian(200, 2, 0, 2), 2);
    const shifted = mmd(gaussian(200, 2, 0, 1), gaussian(200, 2, 2, 2), 2);
    // The unbiased estimator has mean 0 under the null, spread O(1/n).
    expect(Math.abs(same)).toBeLessThan(0.02);
    expect(shifted).toBeGreaterThan(0.2);
  });

  it('equals the direct formula on a tiny example', () => {
    const X = Float64Array.of(0, 1, 3);
    const Y = Float64Array.of(0.5, 2);
    const all = [0, 1, 3, 0.5, 2];
    const d2: number[] = [];
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) d2.push((all[i]! - all[j]!) ** 2);
    d2.sort((a, b) => a - b);
    const s2 = (d2[4]! + d2[5]!) / 2;
    const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / (2 * s2));
    const kxx = (2 * (k(0, 1) + k(0, 3) + k(1, 3))) / 6;
    const kyy = (2 * k(0.5, 2)) / 2;
    let kxy = 0;
    for (const a of [0, 1, 3]) for (const b of [0.5, 2]) kxy += k(a, b);
    expect(mmd(X, Y, 1)).toBeCloseTo(kxx + kyy - (2 * kxy) / 6, 12);
  });
});
