// One contract over every circle and interval transform (src/manifold/transforms.ts): add a case
// to CASES and it is tested. Double precision for the exact checks (round trip, numerical
// derivative, wrap-around continuity, density normalisation, finite-difference gradients), float
// against double for the single-precision kernels.
import { describe, expect, it } from 'vitest';
import { Rng } from './oracles/rng.js';
import {
  CircularRQSpline,
  IntervalRQSpline,
  MoebiusMixture,
  NCPMixture,
  type ManifoldTransform,
} from '../src/manifold/transforms.js';

const TWO_PI = 2 * Math.PI;

// Test inputs from the oracles' generator (independent of the engine's Philox).
function normals(seed: number): () => number {
  const r = new Rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r.uniform())) * Math.cos(TWO_PI * r.uniform());
}

interface Case {
  name: string;
  transform: ManifoldTransform;
  circle: boolean;
  /** Scale of the random unconstrained parameters. */
  paramScale: number;
  /** Where the density of f(uniform) may have kinks (a spline's knots in y), for quadrature. */
  knots?: (params: Float64Array) => number[];
}

/**
 * The knots y_k of a spline with K bins over [lo, lo + span] (heights h_j = span (m + (1 − K m)
 * softmax(u)_j), m = 1e-3, the default), shifted by the rotation φ and wrapped on the circle.
 */
function splineKnots(bins: number, lo: number, span: number, rotation: (ps: Float64Array) => number) {
  return (ps: Float64Array): number[] => {
    const u = Array.from(ps.subarray(bins, 2 * bins));
    const max = Math.max(...u);
    const e = u.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const m = 1e-3;
    const knots: number[] = [];
    let y = lo;
    for (let j = 0; j < bins; j++) {
      y += span * (m + (1 - bins * m) * (e[j]! / sum));
      const shifted = y + rotation(ps) - lo;
      knots.push(lo + (((shifted % span) + span) % span));
    }
    return knots;
  };
}

const CASES: Case[] = [
  {
    name: 'CircularRQSpline K=6', transform: new CircularRQSpline(1, { bins: 6 }), circle: true, paramScale: 1,
    knots: splineKnots(6, 0, TWO_PI, (ps) => ps[18]!),
  },
  {
    name: 'CircularRQSpline K=1', transform: new CircularRQSpline(1, { bins: 1 }), circle: true, paramScale: 1,
    knots: splineKnots(1, 0, TWO_PI, (ps) => ps[3]!),
  },
  { name: 'MoebiusMixture K=4', transform: new MoebiusMixture(1, { components: 4 }), circle: true, paramScale: 2 },
  { name: 'MoebiusMixture K=1', transform: new MoebiusMixture(1, { components: 1 }), circle: true, paramScale: 2 },
  { name: 'NCPMixture K=3', transform: new NCPMixture(1, { components: 3 }), circle: true, paramScale: 1.5 },
  {
    name: 'IntervalRQSpline K=5', transform: new IntervalRQSpline(1, { bins: 5 }), circle: false, paramScale: 1,
    knots: splineKnots(5, -1, 2, () => 0),
  },
];

/** Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_20 from Chebyshev guesses). */
const GAUSS_LEGENDRE_20 = (() => {
  const n = 20;
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * dp * dp));
  }
  return { nodes, weights };
})();

function gaussNodes(a: number, b: number): number[] {
  return GAUSS_LEGENDRE_20.nodes.map((t) => 0.5 * (a + b) + 0.5 * (b - a) * t);
}

const N = 48;
const lo = (c: Case) => (c.circle ? 0 : -1);
const span = (c: Case) => (c.circle ? TWO_PI : 2);

/** N elements with their own parameters; x spread over the domain. */
function batch(c: Case, n: number, seed: number): { x: Float64Array; params: Float64Array } {
  const g = normals(seed);
  const r = new Rng(seed + 7);
  const p = c.transform.paramsPerElement;
  const params = Float64Array.from({ length: n * p }, () => c.paramScale * g());
  const x = Float64Array.from({ length: n }, () => lo(c) + span(c) * r.uniform());
  return { x, params };
}

/** The parameters of element i repeated for m points. */
function repeat(params: Float64Array, p: number, i: number, m: number): Float64Array {
  const out = new Float64Array(m * p);
  for (let k = 0; k < m; k++) out.set(params.subarray(i * p, (i + 1) * p), k * p);
  return out;
}

/** a − b on the circle, in (−π, π]. */
function circDiff(a: number, b: number): number {
  let d = (a - b) % TWO_PI;
  if (d > Math.PI) d -= TWO_PI;
  if (d <= -Math.PI) d += TWO_PI;
  return d;
}
const diff = (c: Case, a: number, b: number) => (c.circle ? circDiff(a, b) : a - b);

describe.each(CASES)('$name', (c) => {
  const t = c.transform;
  const p = t.paramsPerElement;

  it('keeps outputs in the domain', () => {
    const { x, params } = batch(c, N, 1);
    const { y, ladj } = t.callElementwise(x, params);
    for (let i = 0; i < N; i++) {
      expect(y[i]).toBeGreaterThanOrEqual(lo(c));
      if (c.circle) expect(y[i]).toBeLessThan(TWO_PI);
      else expect(y[i]).toBeLessThanOrEqual(1);
      expect(Number.isFinite(ladj[i])).toBe(true);
    }
  });

  it('inverts the forward map to machine precision (both ways)', () => {
    const { x, params } = batch(c, N, 2);
    const { y, ladj } = t.callElementwise(x, params);
    const back = t.inverseElementwise(y, params);
    for (let i = 0; i < N; i++) {
      expect(Math.abs(diff(c, back.x[i]!, x[i]!))).toBeLessThan(1e-12);
      expect(back.ladj[i]! + ladj[i]!).toBeCloseTo(0, 10);
    }
    // f(f⁻¹(y)) = y for fresh y
    const ys = batch(c, N, 3).x;
    const xs = t.inverseElementwise(ys, params).x;
    const again = t.callElementwise(xs, params).y;
    for (let i = 0; i < N; i++) expect(Math.abs(diff(c, again[i]!, ys[i]!))).toBeLessThan(1e-12);
  });

  it('stays finite and invertible for extreme parameters (±20)', () => {
    const { x, params } = batch(c, N, 15);
    const extreme = params.map((v) => Math.sign(v) * 20);
    const { y, ladj } = t.callElementwise(x, extreme);
    const back = t.inverseElementwise(y, extreme);
    const again = t.callElementwise(back.x, extreme);
    for (let i = 0; i < N; i++) {
      expect(Number.isFinite(y[i]) && Number.isFinite(ladj[i]) && Number.isFinite(back.ladj[i])).toBe(true);
      expect(Math.abs(diff(c, again.y[i]!, y[i]!))).toBeLessThan(1e-11);
    }
  });

  it('has log|dy/dx| equal to a numerical derivative', () => {
    const { x, params } = batch(c, N, 4);
    const h = 1e-6;
    const xp = x.map((v) => v + h);
    const xm = x.map((v) => v - h);
    const { ladj } = t.callElementwise(x, params);
    const yp = t.call(xp, params);
    const ym = t.call(xm, params);
    for (let i = 0; i < N; i++) {
      if (!c.circle && (xm[i]! < -1 || xp[i]! > 1)) continue;
      const slope = diff(c, yp[i]!, ym[i]!) / (2 * h);
      expect(Math.abs(Math.log(slope) - ladj[i]!)).toBeLessThan(1e-6);
    }
  });

  it('is strictly monotone', () => {
    const { params } = batch(c, 4, 5);
    const m = 2000;
    for (let i = 0; i < 4; i++) {
      const x = Float64Array.from({ length: m }, (_, k) => lo(c) + (span(c) * k) / m);
      const y = t.call(x, repeat(params, p, i, m));
      // lifted: the increments of y (modulo 2π on the circle) are positive and sum to the span
      let total = 0;
      for (let k = 1; k < m; k++) {
        const d = c.circle ? (((y[k]! - y[k - 1]!) % TWO_PI) + TWO_PI) % TWO_PI : y[k]! - y[k - 1]!;
        expect(d).toBeGreaterThan(0);
        total += d;
      }
      expect(total).toBeLessThan(span(c));
    }
  });

  it('pushes the uniform density to a density that integrates to 1', () => {
    const { params } = batch(c, 3, 6);
    for (let i = 0; i < 3; i++) {
      // Adaptive Gauss–Legendre, starting from 16 equal pieces split at the spline's knots in y
      // (where the density is only C⁰): a piece is accepted when its 20-point rule agrees with
      // the sum over its halves to 1e-12 per unit of length (a thin bin can hide a sharp peak).
      const ps = params.subarray(i * p, (i + 1) * p);
      const density = (ys: number[]) =>
        t.inverseElementwise(Float64Array.from(ys), repeat(params, p, i, ys.length)).ladj.map((l) => Math.exp(l) / span(c));
      const cuts = [...Array.from({ length: 17 }, (_, k) => lo(c) + (span(c) * k) / 16), ...(c.knots?.(ps) ?? [])].sort((x, y) => x - y);
      let pieces = cuts.slice(1).map((b, k) => [cuts[k]!, b] as [number, number]).filter(([a, b]) => b - a > 1e-14);
      let integral = 0;
      for (let level = 0; level < 40 && pieces.length > 0; level++) {
        // per piece: the rule on [a, b], on [a, mid] and on [mid, b]
        const ys: number[] = [];
        for (const [a, b] of pieces) for (const [u, v] of [[a, b], [a, (a + b) / 2], [(a + b) / 2, b]] as const) ys.push(...gaussNodes(u, v));
        const q = density(ys);
        const next: [number, number][] = [];
        pieces.forEach(([a, b], k) => {
          const rule = (r: number, u: number, v: number) =>
            GAUSS_LEGENDRE_20.weights.reduce((acc, w, j) => acc + 0.5 * (v - u) * w * q[(3 * k + r) * 20 + j]!, 0);
          const whole = rule(0, a, b);
          const halves = rule(1, a, (a + b) / 2) + rule(2, (a + b) / 2, b);
          if (Math.abs(whole - halves) < 1e-12 * (b - a)) integral += halves;
          else next.push([a, (a + b) / 2], [(a + b) / 2, b]);
        });
        pieces = next;
      }
      expect(pieces).toHaveLength(0);
      expect(Math.abs(integral - 1)).toBeLessThan(1e-10);
    }
  });

  it.runIf(c.circle)('is continuous with a continuous derivative at 0 ≡ 2π', () => {
    const { params } = batch(c, 8, 7);
    const eps = 1e-8;
    for (let i = 0; i < 8; i++) {
      const ps = repeat(params, p, i, 4);
      const x = Float64Array.of(0, TWO_PI - eps, eps, -eps);
      const { y, ladj } = t.callElementwise(x, ps);
      const slope = Math.exp(ladj[0]!);
      // values just below 2π, at 0 and just above 0 line up on the circle with the slope at 0
      expect(Math.abs(circDiff(y[0]!, y[1]!) / eps / slope - 1)).toBeLessThan(1e-4);
      expect(Math.abs(circDiff(y[2]!, y[0]!) / eps / slope - 1)).toBeLessThan(1e-4);
      // x = −ε is the same point as 2π − ε
      expect(Math.abs(circDiff(y[3]!, y[1]!))).toBeLessThan(1e-12);
      // the derivative on both sides of 0: a jump would stay O(1) as ε → 0
      expect(Math.abs(ladj[1]! - ladj[0]!)).toBeLessThan(1e-4);
      expect(Math.abs(ladj[2]! - ladj[0]!)).toBeLessThan(1e-4);
    }
  });

  it('has gradients of y and log|dy/dx| matching finite differences in x and every parameter', () => {
    const { x, params } = batch(c, 12, 8);
    const g = normals(9);
    const gy = Float64Array.from({ length: 12 }, g);
    const gl = Float64Array.from({ length: 12 }, g);
    const { gx, gParams } = t.backwardElementwise(x, params, gy, gl);
    const h = 1e-6;
    // L_i = gy_i y_i + gl_i log|dy/dx|_i, differenced per element (y unwrapped on the circle)
    const loss = (xs: Float64Array, ps: Float64Array, base: Float64Array) => {
      const { y, ladj } = t.callElementwise(xs, ps);
      return Array.from(y, (v, i) => gy[i]! * diff(c, v, base[i]!) + gl[i]! * ladj[i]!);
    };
    const y0 = t.call(x, params);
    const check = (fd: number[], analytic: (i: number) => number) => {
      for (let i = 0; i < 12; i++) {
        const a = analytic(i);
        expect(Math.abs(fd[i]! - a)).toBeLessThan(1e-5 * (1 + Math.abs(a)));
      }
    };
    const inside = x.map((v) => (c.circle ? v : Math.min(Math.max(v, -1 + 2 * h), 1 - 2 * h)));
    const gxIn = c.circle ? gx : t.backwardElementwise(inside, params, gy, gl).gx;
    const yIn = t.call(inside, params);
    const lp = loss(inside.map((v) => v + h), params, yIn);
    const lm = loss(inside.map((v) => v - h), params, yIn);
    check(lp.map((v, i) => (v - lm[i]!) / (2 * h)), (i) => gxIn[i]!);
    for (let j = 0; j < p; j++) {
      const pp = params.slice();
      const pm = params.slice();
      for (let i = 0; i < 12; i++) {
        pp[i * p + j]! += h;
        pm[i * p + j]! -= h;
      }
      const a = loss(x, pp, y0);
      const b = loss(x, pm, y0);
      check(a.map((v, i) => (v - b[i]!) / (2 * h)), (i) => gParams[i * p + j]!);
    }
  });

  it('agrees in float and double', () => {
    const { x, params } = batch(c, N, 10);
    const d = t.callElementwise(x, params);
    const f = t.callElementwise(Float32Array.from(x), Float32Array.from(params));
    const di = t.inverseElementwise(x, params);
    const fi = t.inverseElementwise(Float32Array.from(x), Float32Array.from(params));
    const gy = Float64Array.from({ length: N }, normals(11));
    const gd = t.backwardElementwise(x, params, gy, gy);
    const gf = t.backwardElementwise(Float32Array.from(x), Float32Array.from(params), Float32Array.from(gy), Float32Array.from(gy));
    for (let i = 0; i < N; i++) {
      expect(Math.abs(diff(c, f.y[i]!, d.y[i]!))).toBeLessThan(1e-4);
      expect(Math.abs(f.ladj[i]! - d.ladj[i]!)).toBeLessThan(1e-3);
      expect(Math.abs(diff(c, fi.x[i]!, di.x[i]!))).toBeLessThan(1e-4);
      expect(Math.abs(gf.gx[i]! - gd.gx[i]!)).toBeLessThan(1e-3 * (1 + Math.abs(gd.gx[i]!)));
    }
    for (let j = 0; j < N * p; j++) expect(Math.abs(gf.gParams[j]! - gd.gParams[j]!)).toBeLessThan(1e-3 * (1 + Math.abs(gd.gParams[j]!)));
  });

  it('sums the log-det over the row and keeps shapes in callAndLadj / inverseAndLadj / backward', () => {
    const { x, params } = batch(c, 8, 12);
    const { y, ladj } = t.callAndLadj(x, params);
    expect(y.length).toBe(8);
    expect(ladj.length).toBe(8);
    const inv = t.inverseAndLadj(y, params);
    for (let i = 0; i < 8; i++) expect(inv.ladj[i]).toBeCloseTo(-ladj[i]!, 10);
    const { gx, gParams } = t.backward(x, params, new Float64Array(8), new Float64Array(8).fill(1));
    expect(gx.length).toBe(8);
    expect(gParams.length).toBe(8 * p);
  });

  it('throws RangeError naming `params` if it has the wrong length or a non-finite value', () => {
    const { x, params } = batch(c, 4, 13);
    expect(() => t.call(x, params.subarray(1))).toThrow(/`params`/);
    const bad = params.slice();
    bad[3] = NaN;
    expect(() => t.call(x, bad)).toThrow(RangeError);
    expect(() => t.call(x, bad)).toThrow(/`params\[3\]`/);
    bad[3] = Infinity;
    expect(() => t.inverseElementwise(x, bad)).toThrow(/`params\[3\]`/);
  });

  it('throws naming the input for a non-finite or out-of-range value and for mixed precision', () => {
    const { x, params } = batch(c, 4, 14);
    const bad = x.slice();
    bad[2] = NaN;
    expect(() => t.call(bad, params)).toThrow(/`x\[2\]`/);
    expect(() => t.inverseElementwise(bad, params)).toThrow(/`y\[2\]`/);
    if (!c.circle) {
      bad[2] = 1.5;
      expect(() => t.call(bad, params)).toThrow(/values in \[-1, 1\] in `x`/);
    }
    expect(() => t.call(x, Float32Array.from(params) as unknown as Float64Array)).toThrow(TypeError);
  });
});

describe('parameterisation', () => {
  it('maps zero Möbius parameters to the identity (ω = 0) and shifts by the rotation', () => {
    const t = new MoebiusMixture(1, { components: 3 });
    const x = Float64Array.of(0, 1, 3, 6);
    const params = new Float64Array(4 * 10);
    const { y, ladj } = t.callElementwise(x, params);
    for (let i = 0; i < 4; i++) {
      expect(y[i]).toBeCloseTo(x[i]!, 14);
      expect(ladj[i]).toBeCloseTo(0, 14);
    }
    for (let i = 0; i < 4; i++) params[i * 10 + 9] = 1;
    const r = t.call(x, params);
    for (let i = 0; i < 4; i++) expect(circDiff(r[i]!, x[i]! + 1)).toBeCloseTo(0, 14);
  });

  it('gives a NCP α = minAlpha + softplus(a): α = 1 is the identity', () => {
    const minAlpha = 1e-3;
    const t = new NCPMixture(1, { components: 2, minAlpha });
    const a = Math.log(Math.expm1(1 - minAlpha));
    const x = Float64Array.of(0.5, 2, 4);
    const params = new Float64Array(3 * 5);
    for (let i = 0; i < 3; i++) params.set([0.3, -1, a, a, 0], i * 5);
    const y = t.call(x, params);
    for (let i = 0; i < 3; i++) expect(y[i]).toBeCloseTo(x[i]!, 13);
  });

  it('makes a single NCP fix 0 and π with slope α at 0 and 1/α at π', () => {
    const t = new NCPMixture(1, { components: 1, minAlpha: 0.5 });
    const u = 0.7;
    const alpha = 0.5 + Math.log1p(Math.exp(u));
    const params = Float64Array.of(0, u, 0, 0, u, 0);
    const { y, ladj } = t.callElementwise(Float64Array.of(0, Math.PI), params);
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(Math.PI, 14);
    expect(ladj[0]).toBeCloseTo(Math.log(alpha), 13);
    expect(ladj[1]).toBeCloseTo(-Math.log(alpha), 12);
  });

  it('matches the Möbius formula h_ω(z) = (1 − |ω|²)/|z − ω|² (z − ω) − ω of arXiv:2002.02428', () => {
    const t = new MoebiusMixture(1, { components: 1 });
    const u = [0.8, -1.3];
    const n = Math.hypot(u[0]!, u[1]!);
    const w = [(0.99 * u[0]!) / (1 + n), (0.99 * u[1]!) / (1 + n)];
    const h = (theta: number) => {
      const zx = Math.cos(theta) - w[0]!;
      const zy = Math.sin(theta) - w[1]!;
      const s = (1 - w[0]! ** 2 - w[1]! ** 2) / (zx * zx + zy * zy);
      return Math.atan2(s * zy - w[1]!, s * zx - w[0]!);
    };
    const xs = Float64Array.of(0.3, 1.7, 2.9, 4.4, 6.1);
    const y = t.call(xs, Float64Array.from({ length: 5 * 4 }, (_, k) => [0, u[0]!, u[1]!, 0][k % 4]!));
    for (let i = 0; i < 5; i++) expect(circDiff(y[i]!, h(xs[i]!) - h(0))).toBeCloseTo(0, 12);
  });

  it('throws RangeError for bad options', () => {
    expect(() => new CircularRQSpline(1, { bins: 0 })).toThrow(/`bins`/);
    expect(() => new IntervalRQSpline(1, { minDerivative: 0 })).toThrow(/`minDerivative`/);
    expect(() => new CircularRQSpline(1, { bins: 4, minBinWidth: 0.25 })).toThrow(/`minBinWidth`/);
    expect(() => new MoebiusMixture(1, { components: 1.5 })).toThrow(/`components`/);
    expect(() => new NCPMixture(1, { minAlpha: 0 })).toThrow(/`minAlpha`/);
    expect(() => new NCPMixture(0)).toThrow(/`dim`/);
  });
});
