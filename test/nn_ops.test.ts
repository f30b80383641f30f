// Neural-network kernels (kernels/nn/): forward passes against direct TypeScript formulas,
// hand-written backward passes against central finite differences in double precision, the
// float instantiation against the double one, losses against closed forms, Adam / AdamW
// against a TypeScript transcription of the update rule.
import { Rng } from './oracles/rng.js';
import { describe, expect, it } from 'vitest';
import { native, type NnActivation, type NnArray } from '../src/native.js';

const ACTIVATIONS: NnActivation[] = ['identity', 'relu', 'tanh', 'elu', 'silu'];

// Test inputs from the oracles' generator (independent of the engine's Philox).
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}
const uniform = (next: () => number, n: number, lo = -1, hi = 1) =>
  Float64Array.from({ length: n }, () => lo + (hi - lo) * next());
const toF32 = (a: Float64Array) => Float32Array.from(a);
const dotSum = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const minAbs = (a: ArrayLike<number>) => Math.min(...Array.from(a, Math.abs));

function act(name: NnActivation, z: number): number {
  switch (name) {
    case 'identity': return z;
    case 'relu': return Math.max(z, 0);
    case 'tanh': return Math.tanh(z);
    case 'elu': return z > 0 ? z : Math.expm1(z);
    case 'silu': return z / (1 + Math.exp(-z));
  }
}

/**
 * Central differences of the scalar `objective` with respect to every element of `param`
 * (perturbed in place), compared with `analytic`: |a - fd| <= tol · max(|a|, |fd|, 1e-2).
 */
function expectGradient(objective: () => number, param: Float64Array, analytic: Float64Array, tol = 1e-6, h = 1e-5): void {
  expect(analytic.length).toBe(param.length);
  for (let i = 0; i < param.length; i++) {
    const p = param[i]!;
    param[i] = p + h;
    const up = objective();
    param[i] = p - h;
    const down = objective();
    param[i] = p;
    const fd = (up - down) / (2 * h);
    const a = analytic[i]!;
    const scale = Math.max(Math.abs(a), Math.abs(fd), 1e-2);
    expect(Math.abs(a - fd), `element ${i}: analytic ${a}, finite difference ${fd}`).toBeLessThanOrEqual(tol * scale);
  }
}

/** Float results within float rounding of the double ones (relative to the array's scale). */
function expectFloatAgrees(f32: Float32Array, f64: Float64Array, tol = 2e-5): void {
  const scale = Math.max(1, ...Array.from(f64, Math.abs));
  for (let i = 0; i < f64.length; i++) expect(Math.abs(f32[i]! - f64[i]!), `element ${i}`).toBeLessThanOrEqual(tol * scale);
}

interface DenseCase { n: number; inDim: number; outDim: number; x: Float64Array; w: Float64Array; b: Float64Array; c: Float64Array }

// Random layer inputs whose pre-activations stay away from 0 by more than any perturbation
// (ReLU / ELU kinks); c is a fixed cotangent, the objective is Σ c ⊙ Y so dY = c.
function denseCase(seed: number, n: number, inDim: number, outDim: number): DenseCase {
  const next = rng(seed);
  for (;;) {
    const x = uniform(next, n * inDim);
    const w = uniform(next, outDim * inDim, -0.6, 0.6);
    const b = uniform(next, outDim, -0.5, 0.5);
    const pre = new Float64Array(n * outDim);
    native.nnDenseForward('identity', n, inDim, outDim, x, w, b, pre);
    if (minAbs(pre) > 1e-2) return { n, inDim, outDim, x, w, b, c: uniform(next, n * outDim) };
  }
}

function denseForward<A extends NnArray>(a: NnActivation, d: DenseCase, x: A, w: A, b: A, make: (n: number) => A) {
  const y = make(d.n * d.outDim);
  const pre = make(d.n * d.outDim);
  native.nnDenseForward(a, d.n, d.inDim, d.outDim, x, w, b, y, pre);
  return { y, pre };
}

describe('dense layer', () => {
  // inDim 11 exercises both the 8-lane blocks and the tail of the dot product.
  const shapes = [[5, 11, 6], [3, 1, 4], [1, 17, 2]] as const;

  for (const a of ACTIVATIONS) {
    it(`${a}: forward equals act(x · wᵀ + b) computed directly`, () => {
      for (const [n, inDim, outDim] of shapes) {
        const d = denseCase(11, n, inDim, outDim);
        const { y, pre } = denseForward(a, d, d.x, d.w, d.b, (k) => new Float64Array(k));
        for (let r = 0; r < n; r++)
          for (let o = 0; o < outDim; o++) {
            let z = d.b[o]!;
            for (let i = 0; i < inDim; i++) z += d.x[r * inDim + i]! * d.w[o * inDim + i]!;
            expect(pre[r * outDim + o]).toBeCloseTo(z, 13);
            expect(y[r * outDim + o]).toBeCloseTo(act(a, z), 13);
          }
      }
    });

    it(`${a}: dx, dw, db match central finite differences (double)`, () => {
      for (const [n, inDim, outDim] of shapes) {
        const d = denseCase(23, n, inDim, outDim);
        const objective = () => dotSum(d.c, denseForward(a, d, d.x, d.w, d.b, (k) => new Float64Array(k)).y);
        const { y, pre } = denseForward(a, d, d.x, d.w, d.b, (k) => new Float64Array(k));
        const dx = new Float64Array(n * inDim);
        const dw = new Float64Array(outDim * inDim).fill(7); // overwritten, not accumulated into
        const db = new Float64Array(outDim).fill(7);
        native.nnDenseBackward(a, n, inDim, outDim, d.x, d.w, y, pre, d.c, dx, dw, db);
        expectGradient(objective, d.x, dx);
        expectGradient(objective, d.w, dw);
        expectGradient(objective, d.b, db);
        // Without dx (an input layer) the parameter gradients are the same.
        const dw2 = new Float64Array(outDim * inDim);
        const db2 = new Float64Array(outDim);
        native.nnDenseBackward(a, n, inDim, outDim, d.x, d.w, y, pre, d.c, null, dw2, db2);
        expect(dw2).toEqual(dw);
        expect(db2).toEqual(db);
      }
    });

    it(`${a}: float agrees with double to float tolerance`, () => {
      const d = denseCase(5, 8, 13, 9);
      const r64 = denseForward(a, d, d.x, d.w, d.b, (k) => new Float64Array(k));
      const r32 = denseForward(a, d, toF32(d.x), toF32(d.w), toF32(d.b), (k) => new Float32Array(k));
      expectFloatAgrees(r32.y, r64.y);
      const g64 = [new Float64Array(d.x.length), new Float64Array(d.w.length), new Float64Array(d.b.length)] as const;
      const g32 = [new Float32Array(d.x.length), new Float32Array(d.w.length), new Float32Array(d.b.length)] as const;
      native.nnDenseBackward(a, d.n, d.inDim, d.outDim, d.x, d.w, r64.y, r64.pre, d.c, ...g64);
      native.nnDenseBackward(a, d.n, d.inDim, d.outDim, toF32(d.x), toF32(d.w), r32.y, r32.pre, toF32(d.c), ...g32);
      for (let k = 0; k < 3; k++) expectFloatAgrees(g32[k]!, g64[k]!);
    });
  }

  it('throws TypeError if silu has no pre-activation buffer or the arrays mix precisions', () => {
    const x = new Float64Array(2), w = new Float64Array(4), b = new Float64Array(2), y = new Float64Array(2);
    expect(() => native.nnDenseForward('silu', 1, 2, 2, x, w, b, y)).toThrow(TypeError);
    expect(() => native.nnDenseForward('tanh', 1, 2, 2, x, w, new Float32Array(2) as unknown as Float64Array, y)).toThrow(TypeError);
    expect(() => native.nnDenseForward('tanh', 1, 2, 2, x, w, b, new Float64Array(3))).toThrow(RangeError);
    expect(() => native.nnDenseForward('gelu' as NnActivation, 1, 2, 2, x, w, b, y)).toThrow(RangeError);
  });
});

describe('residual block', () => {
  const n = 4, dim = 5;
  function block(seed: number, a: NnActivation) {
    const next = rng(seed);
    for (;;) {
      const p = {
        x: uniform(next, n * dim), w1: uniform(next, dim * dim, -0.7, 0.7), b1: uniform(next, dim, -0.5, 0.5),
        w2: uniform(next, dim * dim, -0.7, 0.7), b2: uniform(next, dim, -0.5, 0.5), c: uniform(next, n * dim),
      };
      const saved = new Float64Array(3 * n * dim);
      native.nnResidualForward(a, n, dim, p.x, p.w1, p.b1, p.w2, p.b2, saved, new Float64Array(n * dim));
      // Away from the kinks of act(x) and of the hidden layer's act(z1).
      if (minAbs(p.x) > 1e-2 && minAbs(saved.subarray(n * dim, 2 * n * dim)) > 1e-2) return p;
    }
  }

  for (const a of ACTIVATIONS) {
    it(`${a}: forward equals x + W2·act(W1·act(x) + b1) + b2 computed directly`, () => {
      const p = block(3, a);
      const y = new Float64Array(n * dim);
      native.nnResidualForward(a, n, dim, p.x, p.w1, p.b1, p.w2, p.b2, new Float64Array(3 * n * dim), y);
      for (let r = 0; r < n; r++) {
        const a0 = Array.from({ length: dim }, (_, j) => act(a, p.x[r * dim + j]!));
        const h = Array.from({ length: dim }, (_, o) => act(a, p.b1[o]! + dotSum(a0, p.w1.subarray(o * dim, (o + 1) * dim))));
        for (let o = 0; o < dim; o++) {
          const expected = p.x[r * dim + o]! + p.b2[o]! + dotSum(h, p.w2.subarray(o * dim, (o + 1) * dim));
          expect(y[r * dim + o]).toBeCloseTo(expected, 13);
        }
      }
    });

    it(`${a}: dx, dw1, db1, dw2, db2 match central finite differences (double)`, () => {
      const p = block(17, a);
      const saved = new Float64Array(3 * n * dim);
      const forward = () => {
        const y = new Float64Array(n * dim);
        native.nnResidualForward(a, n, dim, p.x, p.w1, p.b1, p.w2, p.b2, saved, y);
        return dotSum(p.c, y);
      };
      forward();
      const g = {
        dx: new Float64Array(n * dim), dw1: new Float64Array(dim * dim), db1: new Float64Array(dim),
        dw2: new Float64Array(dim * dim), db2: new Float64Array(dim),
      };
      native.nnResidualBackward(a, n, dim, p.x, p.w1, p.w2, saved, p.c, g.dx, g.dw1, g.db1, g.dw2, g.db2);
      expectGradient(forward, p.x, g.dx);
      expectGradient(forward, p.w1, g.dw1);
      expectGradient(forward, p.b1, g.db1);
      expectGradient(forward, p.w2, g.dw2);
      expectGradient(forward, p.b2, g.db2);
    });
  }

  it('float agrees with double to float tolerance', () => {
    const p = block(9, 'silu');
    const run = <A extends NnArray>(make: (k: number) => A, conv: (v: Float64Array) => A) => {
      const saved = make(3 * n * dim), y = make(n * dim);
      native.nnResidualForward('silu', n, dim, conv(p.x), conv(p.w1), conv(p.b1), conv(p.w2), conv(p.b2), saved, y);
      const g = [make(n * dim), make(dim * dim), make(dim), make(dim * dim), make(dim)] as const;
      native.nnResidualBackward('silu', n, dim, conv(p.x), conv(p.w1), conv(p.w2), saved, conv(p.c), ...g);
      return [y, ...g];
    };
    const r64 = run((k) => new Float64Array(k), (v) => v);
    const r32 = run((k) => new Float32Array(k), toF32);
    r64.forEach((v, k) => expectFloatAgrees(r32[k] as Float32Array, v as Float64Array));
  });
});

describe('standardization', () => {
  it('fits column means and n - 1 standard deviations, floored at minStd', () => {
    const n = 6, dim = 3;
    const next = rng(4);
    const x = uniform(next, n * dim, 100, 110); // far from the origin: two-pass variance
    for (let r = 0; r < n; r++) x[r * dim + 2] = 42; // a constant feature
    const mean = new Float64Array(dim), std = new Float64Array(dim);
    native.nnStandardizeFit(n, dim, x, 1e-14, mean, std);
    for (let j = 0; j < 2; j++) {
      const col = Array.from({ length: n }, (_, r) => x[r * dim + j]!);
      const m = col.reduce((s, v) => s + v, 0) / n;
      const s = Math.sqrt(col.reduce((acc, v) => acc + (v - m) ** 2, 0) / (n - 1));
      expect(mean[j]).toBeCloseTo(m, 12);
      expect(std[j]! / s).toBeCloseTo(1, 12);
    }
    expect(mean[2]).toBe(42);
    expect(std[2]).toBe(1e-14);
    // One row has no spread at all.
    native.nnStandardizeFit(1, dim, x.subarray(0, dim), 0.5, mean, std);
    expect(Array.from(std)).toEqual([0.5, 0.5, 0.5]);
  });

  it('forward z-scores; the backward (dx = dz / std) matches finite differences', () => {
    const n = 5, dim = 4;
    const next = rng(8);
    const x = uniform(next, n * dim, -3, 5), c = uniform(next, n * dim);
    const mean = new Float64Array(dim), std = new Float64Array(dim);
    native.nnStandardizeFit(n, dim, x, 1e-14, mean, std);
    const z = new Float64Array(n * dim);
    const objective = () => {
      native.nnStandardize('forward', n, dim, mean, std, x, z);
      return dotSum(c, z);
    };
    objective();
    for (let i = 0; i < n * dim; i++) expect(z[i]).toBeCloseTo((x[i]! - mean[i % dim]!) / std[i % dim]!, 13);
    // Standardised training data has mean 0 and standard deviation 1 per column.
    const zMean = new Float64Array(dim), zStd = new Float64Array(dim);
    native.nnStandardizeFit(n, dim, z, 1e-14, zMean, zStd);
    for (let j = 0; j < dim; j++) {
      expect(zMean[j]).toBeCloseTo(0, 12);
      expect(zStd[j]).toBeCloseTo(1, 12);
    }
    const dx = new Float64Array(n * dim);
    native.nnStandardize('backward', n, dim, mean, std, c, dx);
    expectGradient(objective, x, dx);
  });

  it('float agrees with double; a non-positive std is a RangeError', () => {
    const n = 7, dim = 3;
    const x = uniform(rng(12), n * dim, -2, 2);
    const m64 = new Float64Array(dim), s64 = new Float64Array(dim), m32 = new Float32Array(dim), s32 = new Float32Array(dim);
    native.nnStandardizeFit(n, dim, x, 1e-6, m64, s64);
    native.nnStandardizeFit(n, dim, toF32(x), 1e-6, m32, s32);
    expectFloatAgrees(m32, m64);
    expectFloatAgrees(s32, s64);
    const z64 = new Float64Array(n * dim), z32 = new Float32Array(n * dim);
    native.nnStandardize('forward', n, dim, m64, s64, x, z64);
    native.nnStandardize('forward', n, dim, m32, s32, toF32(x), z32);
    expectFloatAgrees(z32, z64);
    expect(() => native.nnStandardize('forward', n, dim, m64, new Float64Array(dim), x, z64)).toThrow(RangeError);
  });
});

describe('losses', () => {
  const n = 6, dim = 3;
  const next = rng(31);
  const logits = uniform(next, n * dim, -4, 4);
  const probs = uniform(next, n * dim, 0, 1);
  const labels = Int32Array.from({ length: n }, () => Math.floor(next() * dim));
  const targets = uniform(next, n * dim, -2, 2);
  const cases = [
    { kind: 'bce', target: probs },
    { kind: 'mse', target: targets },
    { kind: 'cross_entropy', target: labels },
  ] as const;

  for (const { kind, target } of cases) {
    it(`${kind}: gradient matches central finite differences (double)`, () => {
      const pred = logits.slice();
      const grad = new Float64Array(n * dim);
      const loss = () => native.nnLoss(kind as 'bce', n, dim, pred, target as Float64Array);
      const value = native.nnLoss(kind as 'bce', n, dim, pred, target as Float64Array, grad);
      expect(value).toBe(loss());
      expectGradient(loss, pred, grad);
    });

    it(`${kind}: float agrees with double`, () => {
      const g64 = new Float64Array(n * dim), g32 = new Float32Array(n * dim);
      const t32 = target instanceof Float64Array ? toF32(target) : target;
      const v64 = native.nnLoss(kind as 'bce', n, dim, logits, target as Float64Array, g64);
      const v32 = native.nnLoss(kind as 'bce', n, dim, toF32(logits), t32 as Float32Array, g32);
      expect(Math.abs(v32 - v64)).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(v64)));
      expectFloatAgrees(g32, g64);
    });
  }

  it('bce equals -t log σ(z) - (1 - t) log(1 - σ(z)) and stays finite and exact for large logits', () => {
    const z = Float64Array.of(0.3, -1.7, 2.5);
    const t = Float64Array.of(1, 0, 0.25);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = Array.from(z, (v, i) => -t[i]! * Math.log(sig(v)) - (1 - t[i]!) * Math.log(1 - sig(v)));
    expect(native.nnLoss('bce', 3, 1, z, t)).toBeCloseTo(expected.reduce((s, v) => s + v, 0) / 3, 14);
    for (const array of [Float64Array, Float32Array]) {
      const big = array.of(100, -100, 1000, -1000);
      const grad = new array(4);
      // Confident and right: exp(-100) ≈ 3.7e-44 and exp(-1000) underflows to 0; wrong: |z|.
      const right = native.nnLoss('bce', 2, 2, big, array.of(1, 0, 1, 0), grad);
      // (in float, exp(-100) is subnormal: a few units of the 1.4e-45 spacing)
      const exact = (2 * Math.exp(-100)) / 4;
      expect(Math.abs(right - exact)).toBeLessThanOrEqual(array === Float64Array ? 1e-14 * exact : 4e-45);
      expect(Array.from(grad, Math.abs).every((g) => g < 1e-40)).toBe(true);
      const wrong = native.nnLoss('bce', 2, 2, big, array.of(0, 1, 0, 1), grad);
      expect(wrong).toBeCloseTo(1100 / 2, 3);
      expect(Array.from(grad)).toEqual([0.25, -0.25, 0.25, -0.25]);
    }
  });

  it('cross-entropy is log K for equal logits and finite for logits of 1000', () => {
    const grad = new Float64Array(8);
    expect(native.nnLoss('cross_entropy', 2, 4, new Float64Array(8).fill(3), Int32Array.of(0, 3), grad)).toBeCloseTo(Math.log(4), 14);
    [-3 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8, -3 / 8].forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 15));
    const z = Float64Array.of(1000, 0, -1000);
    expect(native.nnLoss('cross_entropy', 1, 3, z, Int32Array.of(0))).toBe(0);
    expect(native.nnLoss('cross_entropy', 1, 3, z, Int32Array.of(1))).toBe(1000);
    expect(native.nnLoss('cross_entropy', 1, 3, Float32Array.from(z), Int32Array.of(2))).toBe(2000);
  });

  it('mse is the mean squared difference; labels outside [0, K) are a RangeError', () => {
    expect(native.nnLoss('mse', 2, 2, Float64Array.of(1, 2, 3, 4), Float64Array.of(1, 0, 0, 4))).toBe((4 + 9) / 4);
    expect(() => native.nnLoss('cross_entropy', 1, 3, logits.subarray(0, 3), Int32Array.of(3))).toThrow(RangeError);
    expect(() => native.nnLoss('cross_entropy', 1, 3, logits.subarray(0, 3), Int32Array.of(-1))).toThrow(RangeError);
  });
});

describe('Adam, AdamW and gradient clipping', () => {
  interface Opts { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean }
  // The update rule, transcribed operation by operation.
  function referenceStep(o: Opts, t: number, theta: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array) {
    const bias1 = 1 - Math.pow(o.beta1, t);
    const bias2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, t));
    const stepSize = o.lr / bias1;
    for (let i = 0; i < theta.length; i++) {
      let gi = g[i]!;
      if (o.decoupled) theta[i] = theta[i]! * (1 - o.lr * o.weightDecay);
      else gi = gi + o.weightDecay * theta[i]!;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      theta[i] = theta[i]! - stepSize * (m[i]! / (Math.sqrt(v[i]!) / bias2Sqrt + o.eps));
    }
  }

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'}: five steps equal the update rule to rounding; float agrees`, () => {
      const o: Opts = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1, decoupled };
      const next = rng(decoupled ? 2 : 1);
      const p = 9;
      const theta = uniform(next, p), m = new Float64Array(p), v = new Float64Array(p);
      const ref = { theta: theta.slice(), m: m.slice(), v: v.slice() };
      const f32 = { theta: toF32(theta), m: new Float32Array(p), v: new Float32Array(p) };
      for (let t = 1; t <= 5; t++) {
        const g = uniform(next, p, -2, 2);
        native.nnAdamStep(theta, g, m, v, t, o);
        native.nnAdamStep(f32.theta, toF32(g), f32.m, f32.v, t, o);
        referenceStep(o, t, ref.theta, g, ref.m, ref.v);
      }
      for (let i = 0; i < p; i++) {
        expect(Math.abs(theta[i]! - ref.theta[i]!)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(ref.theta[i]!)));
        expect(Math.abs(m[i]! - ref.m[i]!)).toBeLessThanOrEqual(1e-15);
        expect(Math.abs(v[i]! - ref.v[i]!)).toBeLessThanOrEqual(1e-15);
      }
      expectFloatAgrees(f32.theta, theta);
    });
  }

  it('AdamW without weight decay equals Adam; the defaults are torch\'s', () => {
    const g = Float64Array.of(0.5, -2, 3);
    const a = { theta: Float64Array.of(1, 2, 3), m: new Float64Array(3), v: new Float64Array(3) };
    const b = { theta: Float64Array.of(1, 2, 3), m: new Float64Array(3), v: new Float64Array(3) };
    const ref = { theta: Float64Array.of(1, 2, 3), m: new Float64Array(3), v: new Float64Array(3) };
    for (let t = 1; t <= 3; t++) {
      native.nnAdamStep(a.theta, g, a.m, a.v, t, { lr: 1e-3 });
      native.nnAdamStep(b.theta, g, b.m, b.v, t, { lr: 1e-3, decoupled: true });
      referenceStep({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }, t, ref.theta, g, ref.m, ref.v);
    }
    expect(a.theta).toEqual(b.theta);
    for (let i = 0; i < 3; i++) expect(a.theta[i]).toBeCloseTo(ref.theta[i]!, 15);
  });

  it('minimises a quadratic: ½ Σ k_i (θ_i - c_i)² reaches its minimum', () => {
    const k = Float64Array.of(1, 10, 0.1), c = Float64Array.of(3, -2, 0.5);
    const theta = new Float64Array(3), m = new Float64Array(3), v = new Float64Array(3), g = new Float64Array(3);
    for (let t = 1; t <= 3000; t++) {
      for (let i = 0; i < 3; i++) g[i] = k[i]! * (theta[i]! - c[i]!);
      native.nnAdamStep(theta, g, m, v, t, { lr: 0.05 });
    }
    for (let i = 0; i < 3; i++) expect(Math.abs(theta[i]! - c[i]!)).toBeLessThan(1e-3);
  });

  it('clips by maxNorm / norm only when the norm exceeds maxNorm, and returns the norm', () => {
    for (const array of [Float64Array, Float32Array]) {
      const big = array.of(3, 4, 0, 12); // norm 13
      expect(native.nnClipGradNorm(big, 5)).toBe(13);
      const expected = [3, 4, 0, 12].map((v) => v * (5 / 13));
      for (let i = 0; i < 4; i++) expect(big[i]).toBeCloseTo(expected[i]!, array === Float64Array ? 15 : 6);
      expect(Math.hypot(...big)).toBeCloseTo(5, array === Float64Array ? 14 : 5);
      const small = array.of(3, 4); // norm 5: not above the limit
      expect(native.nnClipGradNorm(small, 5)).toBe(5);
      expect(Array.from(small)).toEqual([3, 4]);
    }
    // Float gradients whose squares overflow float still give the right norm.
    const huge = Float32Array.of(3e30, 4e30);
    expect(native.nnClipGradNorm(huge, 1) / 5e30).toBeCloseTo(1, 6);
    expect(Math.hypot(...huge)).toBeCloseTo(1, 6);
  });

  it('throws RangeError for step < 1, beta1 = 1 or a non-positive maxNorm', () => {
    const a = () => new Float64Array(2);
    expect(() => native.nnAdamStep(a(), a(), a(), a(), 0, { lr: 1e-3 })).toThrow(RangeError);
    expect(() => native.nnAdamStep(a(), a(), a(), a(), 1, { lr: 1e-3, beta1: 1 })).toThrow(RangeError);
    expect(() => native.nnAdamStep(a(), a(), a(), a(), 1, {} as never)).toThrow(TypeError);
    expect(() => native.nnClipGradNorm(a(), 0)).toThrow(RangeError);
  });
});
