// One contract over every flow transform (src/flows/transforms.ts): add a case to CASES and it is
// tested. Double precision for the exact checks (round trip, finite-difference Jacobian and
// gradients), float against double for the single-precision kernels.
import { Rng } from './oracles/rng.js';
import { describe, expect, it } from 'vitest';
import {
  ElementwiseAffine,
  Permutation,
  RQSpline,
  type FlowTransform,
  type FloatArray,
} from '../src/flows/transforms.js';

// Test inputs from the oracles' generator (independent of the engine's Philox).
function uniforms(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}
function normals(seed: number): () => number {
  const u = uniforms(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

interface Batch {
  x: Float64Array;
  params: Float64Array;
}

interface Case {
  name: string;
  transform: FlowTransform;
  /** Generic points: random, away from kinks of the log-det (for finite differences). */
  sample(n: number, seed: number): Batch;
  /** Points where things can go wrong: tails, bin edges, the spline's bounds, extreme parameters. */
  edges(): Batch;
}

function randomBatch(t: FlowTransform, n: number, seed: number, xScale: number, paramScale: number): Batch {
  const g = normals(seed);
  const u = uniforms(seed + 1);
  const x = Float64Array.from({ length: n * t.dim }, () => (2 * u() - 1) * xScale);
  const params = Float64Array.from({ length: n * t.paramsPerRow }, () => g() * paramScale);
  return { x, params };
}

/** Spline edge cases: zero width logits put the knots at -B + 2B j / K; x at, just beside and beyond them. */
function splineEdges(t: RQSpline): Batch {
  const { bins: K, bound: B } = t;
  const values: number[] = [];
  for (let j = 0; j <= K; j++) {
    const knot = j === K ? B : -B + (2 * B * j) / K;
    for (const dx of [0, 1e-13, -1e-13, 1e-9, -1e-9]) values.push(knot + dx);
  }
  values.push(-B - 1e-12, B + 1e-12, -10 * B, 10 * B, -1e300, 1e300);
  const rows = Math.ceil(values.length / t.dim);
  const x = new Float64Array(rows * t.dim);
  x.set(values);
  const g = normals(7);
  const perElement = 3 * K - 1;
  const params = Float64Array.from({ length: rows * t.paramsPerRow }, (_, i) => (i % perElement < K ? 0 : g()));
  return { x, params };
}

function splineCase(name: string, dim: number, bins: number, bound: number, paramScale: number): Case {
  const transform = new RQSpline(dim, { bins, bound });
  return {
    name,
    transform,
    sample: (n, seed) => randomBatch(transform, n, seed, 1.4 * bound, paramScale),
    edges: () => splineEdges(transform),
  };
}

const affine = new ElementwiseAffine(3, { scaleBound: 5 });
const permutation = new Permutation([2, 0, 3, 1]);

const CASES: Case[] = [
  splineCase('RQSpline (K = 8, B = 3)', 3, 8, 3, 1.5),
  splineCase('RQSpline (K = 2, B = 1)', 2, 2, 1, 1),
  splineCase('RQSpline with steep bins (K = 5, B = 2)', 2, 5, 2, 3),
  {
    name: 'ElementwiseAffine (scaleBound 5)',
    transform: affine,
    sample: (n, seed) => randomBatch(affine, n, seed, 4, 2),
    // log-scales far beyond the clamp in both directions, zero, and large inputs
    edges: () => ({
      x: Float64Array.of(1e6, -1e6, 0, 3, -2, 1e-300),
      params: Float64Array.of(1e300, 0.5, -1e300, -1, 0, 0, 40, 2, -40, 1, 1e-20, 0),
    }),
  },
  {
    name: 'Permutation [2, 0, 3, 1]',
    transform: permutation,
    sample: (n, seed) => randomBatch(permutation, n, seed, 5, 0),
    edges: () => ({ x: Float64Array.of(1e300, -1e300, 0, 5e-324), params: new Float64Array(0) }),
  },
];

const N = 48;

function toFloat32(b: Batch): { x: Float32Array; params: Float32Array } {
  return { x: Float32Array.from(b.x), params: Float32Array.from(b.params) };
}

/** A batch with rows exactly representable in float, so both precisions see the same inputs. */
function float32Exact(b: Batch): Batch {
  return { x: Float64Array.from(Float32Array.from(b.x)), params: Float64Array.from(Float32Array.from(b.params)) };
}

function logAbsDet(a: number[][]): number {
  const m = a.map((r) => r.slice());
  const n = m.length;
  let s = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    s += Math.log(Math.abs(piv));
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / piv;
      for (let k = c; k < n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return s;
}

/** |actual - expected| <= abs + rel |expected| elementwise (abs may vary by element); equal infinities and NaNs match. */
function expectClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number | ((i: number) => number), what: string,
): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const tol = (typeof abs === 'number' ? abs : abs(i)) + rel * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) throw new Error(`${what}: index ${i} is ${a}, expected ${e} (tolerance ${tol})`);
  }
}

/** ‖A‖∞ and ‖A⁻¹‖∞ (Gauss-Jordan with partial pivoting; Infinity if singular). */
function norms(a: number[][]): { norm: number; invNorm: number } {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (piv === 0 || !Number.isFinite(piv)) return { norm: Infinity, invNorm: Infinity };
    for (let k = 0; k < 2 * n; k++) m[c]![k]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      for (let k = 0; k < 2 * n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const rowSum = (rows: number[][], from: number) => Math.max(...rows.map((r) => r.slice(from, from + n).reduce((s, v) => s + Math.abs(v), 0)));
  return { norm: rowSum(a, 0), invNorm: rowSum(m, n) };
}

/**
 * Per row of a batch: the Jacobian ∂y/∂x by central differences (step 1e-6 max(1, |x|)), its
 * norm and its inverse's norm — the condition numbers that scale round-off in y and in f⁻¹(y).
 */
function jacobians(t: FlowTransform, b: Batch): Array<{ jac: number[][]; norm: number; invNorm: number }> {
  const D = t.dim;
  const n = b.x.length / D;
  const jac = Array.from({ length: n }, () => Array.from({ length: D }, () => new Array<number>(D).fill(0)));
  for (let d = 0; d < D; d++) {
    const plus = b.x.slice(), minus = b.x.slice();
    const hs = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const v = b.x[r * D + d]!;
      hs[r] = 1e-6 * Math.max(1, Math.abs(v));
      plus[r * D + d] = v + hs[r]!;
      minus[r * D + d] = v - hs[r]!;
    }
    const yp = t.call(plus, b.params), ym = t.call(minus, b.params);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < D; i++) jac[r]![i]![d] = (yp[r * D + i]! - ym[r * D + i]!) / (2 * hs[r]!);
    }
  }
  return jac.map((j) => ({ jac: j, ...norms(j) }));
}

/** Row-wise objective L_r = Σ_d gy[r, d] y[r, d] + gLadj[r] ladj[r] (rows are independent). */
function rowObjective(t: FlowTransform, x: Float64Array, params: Float64Array, gy: Float64Array, gLadj: Float64Array): Float64Array {
  const { y, ladj } = t.callAndLadj(x, params);
  const out = new Float64Array(ladj.length);
  for (let r = 0; r < out.length; r++) {
    let s = gLadj[r]! * ladj[r]!;
    for (let d = 0; d < t.dim; d++) s += gy[r * t.dim + d]! * y[r * t.dim + d]!;
    out[r] = s;
  }
  return out;
}

/** Central differences of the row objective along column `col` of `which` (all rows at once). */
function fdColumn(
  t: FlowTransform, b: Batch, which: 'x' | 'params', col: number, gy: Float64Array, gLadj: Float64Array,
): Float64Array {
  const cols = which === 'x' ? t.dim : t.paramsPerRow;
  const plus = { x: b.x.slice(), params: b.params.slice() };
  const minus = { x: b.x.slice(), params: b.params.slice() };
  const hs = new Float64Array(b.x.length / t.dim);
  for (let r = 0; r < hs.length; r++) {
    const v = b[which][r * cols + col]!;
    const h = 1e-6 * Math.max(1, Math.abs(v));
    hs[r] = h;
    plus[which][r * cols + col] = v + h;
    minus[which][r * cols + col] = v - h;
  }
  const lp = rowObjective(t, plus.x, plus.params, gy, gLadj);
  const lm = rowObjective(t, minus.x, minus.params, gy, gLadj);
  return lp.map((v, r) => (v - lm[r]!) / (2 * hs[r]!));
}

function column(a: Float64Array, cols: number, col: number): Float64Array {
  return Float64Array.from({ length: a.length / cols }, (_, r) => a[r * cols + col]!);
}

for (const c of CASES) {
  const t = c.transform;
  describe(`flow transform contract: ${c.name}`, () => {
    const generic = c.sample(N, 11);
    const all: Batch = {
      x: Float64Array.of(...generic.x, ...c.edges().x),
      params: Float64Array.of(...generic.params, ...c.edges().params),
    };

    it('keeps the shape and the precision', () => {
      for (const b of [all, toFloat32(all)] as Array<{ x: FloatArray; params: FloatArray }>) {
        const n = b.x.length / t.dim;
        const { y, ladj } = t.callAndLadj(b.x, b.params);
        expect(y.constructor).toBe(b.x.constructor);
        expect(ladj.constructor).toBe(b.x.constructor);
        expect(y.length).toBe(b.x.length);
        expect(ladj.length).toBe(n);
        const inv = t.inverseAndLadj(y, b.params);
        expect(inv.x.length).toBe(b.x.length);
        expect(inv.ladj.length).toBe(n);
      }
    });

    // Round-off in y is amplified by ‖J⁻¹‖ in f⁻¹(y) (flat bins), and round-off in the knots by ‖J‖ in y (steep bins).
    const cond = jacobians(t, all);
    const rowOf = (i: number) => cond[Math.floor(i / t.dim)]!;

    it('inverts the forward pass, in the tails and at bin edges too (double to 1e-12)', () => {
      expect(cond.every((r) => Number.isFinite(r.norm) && Number.isFinite(r.invNorm))).toBe(true);
      const { y } = t.callAndLadj(all.x, all.params);
      const back = t.inverseAndLadj(y, all.params).x;
      const tol = (i: number) => 1e-12 * (1 + Math.abs(all.x[i]!)) + 1e-14 * (1 + Math.abs(y[i]!)) * rowOf(i).invNorm;
      expectClose(back, all.x, 0, tol, 'x -> y -> x');
    });

    it('inverts the forward pass in float', () => {
      const b = toFloat32(all);
      const { y } = t.callAndLadj(b.x, b.params);
      const back = t.inverseAndLadj(y, b.params).x;
      const tol = (i: number) => 1e-5 * (1 + Math.abs(b.x[i]!)) + 1e-6 * (1 + Math.abs(y[i]!)) * rowOf(i).invNorm;
      expectClose(back, b.x, 0, tol, 'x -> y -> x (float)');
    });

    it('has the log-det of the finite-difference Jacobian', () => {
      const { ladj } = t.callAndLadj(generic.x, generic.params);
      const fd = jacobians(t, generic);
      expectClose(ladj, fd.map((r) => logAbsDet(r.jac)), 0, (r) => 1e-6 + 1e-9 * fd[r]!.invNorm, 'log|det J|');
    });

    it('gives the same results fused as in separate calls', () => {
      for (const b of [all, toFloat32(all)] as Array<{ x: FloatArray; params: FloatArray }>) {
        const fused = t.callAndLadj(b.x, b.params);
        expect(t.call(b.x, b.params)).toEqual(fused.y);
        expect(t.ladj(b.x, b.params)).toEqual(fused.ladj);
      }
    });

    it('has the inverse log-det equal to minus the forward log-det at the image', () => {
      const { y, ladj } = t.callAndLadj(all.x, all.params);
      const inv = t.inverseAndLadj(y, all.params);
      expectClose(inv.ladj, ladj.map((v) => -v), 0, 1e-9, 'inverse ladj');
    });

    it('is non-decreasing in every input coordinate', () => {
      const D = t.dim;
      const steps = 801;
      const span = Math.max(...Array.from(generic.x, Math.abs)) * 1.5;
      for (let d = 0; d < D; d++) {
        const x = new Float64Array(steps * D);
        const params = new Float64Array(steps * t.paramsPerRow);
        for (let s = 0; s < steps; s++) {
          x.set(generic.x.subarray(0, D), s * D);
          x[s * D + d] = -span + (2 * span * s) / (steps - 1);
          params.set(generic.params.subarray(0, t.paramsPerRow), s * t.paramsPerRow);
        }
        const y = t.call(x, params);
        for (let s = 1; s < steps; s++) {
          for (let i = 0; i < D; i++) expect(y[s * D + i]!).toBeGreaterThanOrEqual(y[(s - 1) * D + i]!);
        }
      }
    });

    it('has gradients of y and the log-det w.r.t. x and every parameter matching finite differences', () => {
      const g = normals(5);
      const n = generic.x.length / t.dim;
      const gy = Float64Array.from({ length: generic.x.length }, g);
      const gLadj = Float64Array.from({ length: n }, g);
      const { gx, gParams } = t.backward(generic.x, generic.params, gy, gLadj);
      expect(gParams.length).toBe(generic.params.length);
      for (let d = 0; d < t.dim; d++) {
        expectClose(column(gx, t.dim, d), fdColumn(t, generic, 'x', d, gy, gLadj), 1e-6, 1e-6, `dL/dx column ${d}`);
      }
      for (let j = 0; j < t.paramsPerRow; j++) {
        expectClose(column(gParams, t.paramsPerRow, j), fdColumn(t, generic, 'params', j, gy, gLadj), 1e-6, 1e-6,
          `dL/dparams column ${j}`);
      }
    });

    it('agrees in float and double', () => {
      const b64 = float32Exact(all);
      const b32 = toFloat32(b64);
      const c64 = jacobians(t, b64);
      const kappa = (i: number) => c64[Math.floor(i / t.dim)]!;
      const f64 = t.callAndLadj(b64.x, b64.params), f32 = t.callAndLadj(b32.x, b32.params);
      expectClose(f32.y, f64.y, 1e-5, (i) => 1e-5 + 1e-6 * (1 + Math.abs(b64.x[i]!)) * kappa(i).norm, 'y');
      expectClose(f32.ladj, f64.ladj, 1e-4, (r) => 1e-4 + 1e-6 * (c64[r]!.norm + c64[r]!.invNorm), 'ladj');
      const i64 = t.inverseAndLadj(b64.x, b64.params), i32 = t.inverseAndLadj(b32.x, b32.params);
      expectClose(i32.x, i64.x, 1e-5, (i) => 1e-5 + 1e-6 * (1 + Math.abs(b64.x[i]!)) * kappa(i).invNorm, 'inverse x');
      expectClose(i32.ladj, i64.ladj, 1e-4, 1e-4, 'inverse ladj');
      const g = normals(9);
      const gy = Float64Array.from(Float32Array.from({ length: generic.x.length }, g));
      const gl = Float64Array.from(Float32Array.from({ length: generic.x.length / t.dim }, g));
      const gen64 = float32Exact(generic), gen32 = toFloat32(gen64);
      const b64g = t.backward(gen64.x, gen64.params, gy, gl);
      const b32g = t.backward(gen32.x, gen32.params, Float32Array.from(gy), Float32Array.from(gl));
      expectClose(b32g.gx, b64g.gx, 1e-3, 1e-3, 'dL/dx');
      expectClose(b32g.gParams, b64g.gParams, 1e-3, 1e-3, 'dL/dparams');
    });
  });
}

for (const c of CASES.filter((c) => c.transform instanceof RQSpline)) {
  const t = c.transform as RQSpline;
  const B = t.bound;
  describe(`rational-quadratic spline: ${c.name}`, () => {
    const { params } = c.sample(N, 3);
    const rowsOf = (values: number[]) => {
      // every value in every coordinate of its own row, the row's params from the sample
      const x = new Float64Array(values.length * t.dim);
      const p = new Float64Array(values.length * t.paramsPerRow);
      values.forEach((v, r) => {
        x.fill(v, r * t.dim, (r + 1) * t.dim);
        p.set(params.subarray((r % N) * t.paramsPerRow, (r % N + 1) * t.paramsPerRow), r * t.paramsPerRow);
      });
      return { x, p };
    };

    it('is the identity with log-det 0 and no parameter gradient outside [-B, B]', () => {
      const { x, p } = rowsOf([-B * (1 + 1e-12), B * (1 + 1e-12), -2 * B, 5 * B, -1e300, 1e300, -Infinity, Infinity]);
      const { y, ladj } = t.callAndLadj(x, p);
      expect(y).toEqual(x);
      expect(Array.from(ladj)).toEqual(new Array(ladj.length).fill(0));
      const gy = Float64Array.from(x, (_, i) => i + 1);
      const { gx, gParams } = t.backward(x, p, gy, new Float64Array(ladj.length).fill(3));
      expect(gx).toEqual(gy);
      expect(Array.from(gParams).every((v) => v === 0)).toBe(true);
    });

    it('maps ±B to ±B with slope 1: value and derivative continuous at the boundaries', () => {
      for (const edge of [-B, B]) {
        const { x, p } = rowsOf([edge, edge * (1 - 1e-12), edge * (1 + 1e-12)].flatMap((v) => new Array(N).fill(v)));
        const { y } = t.callAndLadj(x, p);
        const elementLadj = t.ladj(x, p).map((v) => v / t.dim);
        expectClose(y, x, 1e-12, 1e-12, `y near ${edge}`);
        expectClose(elementLadj, new Float64Array(elementLadj.length), 0, 1e-6, `log slope near ${edge}`);
      }
    });

    it('is continuous in value and slope across the inner knots', () => {
      const K = t.bins;
      const eps = 1e-10;
      const left: number[] = [], right: number[] = [];
      for (let j = 1; j < K; j++) {
        left.push(-B + (2 * B * j) / K - eps);
        right.push(-B + (2 * B * j) / K + eps);
      }
      if (left.length === 0) return;  // one bin: no inner knots (the boundaries are checked above)
      // zero width logits put the inner knots at -B + 2B j / K
      const a = rowsOf(left), b = rowsOf(right);
      for (const q of [a, b]) for (let i = 0; i < q.p.length; i++) if (i % (3 * K - 1) < K) q.p[i] = 0;
      const fa = t.callAndLadj(a.x, a.p), fb = t.callAndLadj(b.x, b.p);
      expectClose(fb.y, fa.y, 0, 1e-7, 'y across a knot');
      expectClose(fb.ladj, fa.ladj, 0, 1e-6, 'log slope across a knot');
    });
  });
}

describe('flow transform arguments', () => {
  it('throws RangeError if params do not match [N, paramsPerRow]', () => {
    const t = new RQSpline(2, { bins: 4 });
    expect(() => t.callAndLadj(new Float64Array(4), new Float64Array(3))).toThrow(RangeError);
  });
  it('throws TypeError if x and params differ in precision', () => {
    const mixed = new Float32Array(6) as unknown as Float64Array;  // what an untyped caller could pass
    expect(() => affine.callAndLadj(new Float64Array(3), mixed)).toThrow(TypeError);
  });
  it('throws RangeError if minBinWidth leaves no room for K bins', () => {
    expect(() => new RQSpline(2, { bins: 10, minBinWidth: 0.1 })).toThrow(RangeError);
  });
  it('throws RangeError if perm is not a permutation', () => {
    expect(() => new Permutation([0, 0, 1])).toThrow(RangeError);
  });
});
