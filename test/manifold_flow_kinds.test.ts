// ManifoldFlow variants (kernels/manifold/flow.h): Möbius and NCP mixture angle layers, the
// autoregressive torus flow, and recursive flows on S³ and S⁴. One contract over every entry of
// VARIANTS: finite-difference gradients of both losses in double (every parameter), inverse round
// trip to the base draws, log q of samples equal to the inverse pass's, normalisation (quadrature
// on T², T³, S², S³; Monte Carlo over uniform points on S⁴), the model file keeping the spec.
// Plus: on S³ log q against a numerical Jacobian of the inverse map in coordinates, the uniform
// base; on S² and S³ the importance-sampling normaliser against the targets' exact Z; short
// training runs; errors.
import { describe, expect, it } from 'vitest';
import { ManifoldFlow, type ManifoldFlowOptions, type ManifoldTarget } from '../src/manifold/flow.js';

const TWO_PI = 2 * Math.PI;
const tiny = { layers: 2, bins: 4, hidden: 5, hiddenLayers: 1, components: 3 } as const;

interface Variant { name: string; spec: ManifoldFlowOptions; target?: ManifoldTarget }
const VARIANTS: Variant[] = [
  { name: 'T² Möbius coupling', spec: { space: 'torus', dim: 2, ...tiny, circleTransform: 'moebius' }, target: 'torus-multimodal' },
  { name: 'T² NCP coupling', spec: { space: 'torus', dim: 2, ...tiny, circleTransform: 'ncp' }, target: 'torus-correlated' },
  { name: 'T² spline autoregressive', spec: { space: 'torus', dim: 2, ...tiny, conditioner: 'autoregressive' }, target: 'torus-unimodal' },
  { name: 'T³ Möbius autoregressive', spec: { space: 'torus', dim: 3, ...tiny, circleTransform: 'moebius', conditioner: 'autoregressive' } },
  { name: 'S² Möbius', spec: { space: 'sphere', dim: 2, ...tiny, circleTransform: 'moebius' }, target: 'sphere-vmf4' },
  { name: 'S² NCP', spec: { space: 'sphere', dim: 2, ...tiny, circleTransform: 'ncp' }, target: 'sphere-vmf4' },
  { name: 'S³ spline', spec: { space: 'sphere', dim: 3, ...tiny }, target: 'sphere3-vmf4' },
  { name: 'S³ Möbius', spec: { space: 'sphere', dim: 3, ...tiny, circleTransform: 'moebius' }, target: 'sphere3-vmf4' },
  { name: 'S⁴ NCP', spec: { space: 'sphere', dim: 4, ...tiny, circleTransform: 'ncp' } },
];

/** A flow far from the near-identity initialisation, so every transform is visibly curved. */
function curved(spec: ManifoldFlowOptions, seed: number): ManifoldFlow {
  const flow = new ManifoldFlow(spec, seed);
  flow.params = flow.params.map((v, i) => v * 30 + 0.3 * Math.sin(1.3 * i + seed));
  return flow;
}

function fdWorst(flow: ManifoldFlow, options: Parameters<ManifoldFlow['lossAndGradient']>[0]): number {
  const { grad } = flow.lossAndGradient(options);
  const h = 1e-6;
  let worst = 0;
  for (let j = 0; j < flow.paramCount; j++) {
    const p = flow.params.slice();
    p[j] += h;
    const up = flow.lossAndGradient(options, p).loss;
    p[j] -= 2 * h;
    const fd = (up - flow.lossAndGradient(options, p).loss) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[j]!) / Math.max(1e-2, Math.abs(fd)));
  }
  return worst;
}

/** Distance on the circle. */
const angleGap = (a: number, b: number) => Math.abs(((((a - b) % TWO_PI) + 3 * Math.PI) % TWO_PI) - Math.PI);

/** x ∈ S^D from the state (z_D, .., z_2, φ) (docs/manifold.md). */
function stateToPoint(c: number[]): number[] {
  const D = c.length, x = new Array<number>(D + 1);
  let prod = 1;
  for (let k = D; k >= 2; k--) {
    const z = c[D - k]!;
    x[k] = prod * z;
    prod *= Math.sqrt(1 - z * z);
  }
  x[0] = prod * Math.cos(c[D - 1]!);
  x[1] = prod * Math.sin(c[D - 1]!);
  return x;
}

/** ∫ q dA by the midpoint rule: T² in (θ₁, θ₂), T³ in (θ₁, θ₂, θ₃); S² in (z, φ) (dA = dz dφ); S³
 *  in (t, z₂, φ) with z₃ = cos t, x = (sin t √(1−z₂²) cos φ, sin t √(1−z₂²) sin φ, sin t z₂, cos t),
 *  dA = sin²t dt dz₂ dφ (a grid in z₃ would meet the √(1 − z₃²) edge; in t the integrand's
 *  slope vanishes at both ends, so the rule's error is O(h⁴) there, and O(h²) in z₂). */
function quadrature(flow: ManifoldFlow): number {
  const { space, dim } = flow.spec;
  if (space === 'torus') {
    // 256² points on T², 24³ on T³ (a periodic integrand: the midpoint rule converges fast)
    const m = dim === 2 ? 256 : 24, count = m ** dim, x = new Float64Array(dim * count);
    for (let i = 0; i < count; i++) {
      for (let d = 0, j = i; d < dim; d++, j = Math.floor(j / m)) x[dim * i + d] = TWO_PI * (j % m + 0.5) / m;
    }
    return flow.logProb(x).reduce((s, v) => s + Math.exp(v), 0) * (TWO_PI / m) ** dim;
  }
  if (dim === 2) {
    const m = 256, x = new Float64Array(3 * m * m);
    for (let i = 0; i < m * m; i++) {
      const z = -1 + (Math.floor(i / m) + 0.5) * (2 / m), phi = (i % m + 0.5) * (TWO_PI / m), r = Math.sqrt(1 - z * z);
      x.set([r * Math.cos(phi), r * Math.sin(phi), z], 3 * i);
    }
    return flow.logProb(x).reduce((s, v) => s + Math.exp(v), 0) * (2 / m) * (TWO_PI / m);
  }
  const nt = 32, nz = 96, nphi = 32, x = new Float64Array(4 * nt * nz * nphi), w = new Float64Array(nt * nz * nphi);
  let k = 0;
  for (let a = 0; a < nt; a++) {
    const t = Math.PI * (a + 0.5) / nt;
    for (let b = 0; b < nz; b++) {
      const z = -1 + 2 * (b + 0.5) / nz, r = Math.sin(t) * Math.sqrt(1 - z * z);
      for (let c = 0; c < nphi; c++, k++) {
        const phi = TWO_PI * (c + 0.5) / nphi;
        x.set([r * Math.cos(phi), r * Math.sin(phi), Math.sin(t) * z, Math.cos(t)], 4 * k);
        w[k] = Math.sin(t) ** 2;
      }
    }
  }
  const lq = flow.logProb(x);
  return lq.reduce((acc, v, i) => acc + Math.exp(v) * w[i]!, 0) * (Math.PI / nt) * (2 / nz) * (TWO_PI / nphi);
}

/** Deterministic standard normals (mulberry32 + Box–Muller), independent of the engine's Philox. */
function normals(n: number, seed: number): Float64Array {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())), t = TWO_PI * uniform();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** ∫ q dA and the tolerance of the check: quadrature up to S³ (tolerances from the grid error),
 *  on S⁴ the Monte Carlo mean of q·|S⁴| over 100 000 uniform points (normalised normals),
 *  |S⁴| = 8π²/3, within 5 standard errors. */
function integral(flow: ManifoldFlow): { value: number; tol: number } {
  const { space, dim } = flow.spec;
  if (space === 'torus' || dim === 2) return { value: quadrature(flow), tol: 2e-4 };
  // S³: the grid error of a curved flow is 3.9e-4 here and 1.5e-4 / 1.2e-4 on grids 2× / 3× finer
  // per axis (the splines are only C¹); a wrong area factor would be off by O(0.1).
  if (dim === 3) return { value: quadrature(flow), tol: 1e-3 };
  const n = 100_000, W = dim + 1, x = normals(n * W, 7);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(W * i, W * i + W), norm = Math.hypot(...row);
    for (let d = 0; d < W; d++) row[d] = row[d]! / norm;
  }
  const v = Array.from(flow.logProb(x), (lq) => Math.exp(lq) * (8 * Math.PI ** 2) / 3);
  const mean = v.reduce((a, b) => a + b, 0) / n;
  return { value: mean, tol: 5 * Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n) };
}

describe.each(VARIANTS)('ManifoldFlow contract: $name', ({ spec, target }) => {
  it('reverse-KL and NLL gradients match central differences (every parameter)', () => {
    const flow = curved(spec, 3);
    if (target) expect(fdWorst(flow, { target, batchSize: 4, seed: 11, step: 2 })).toBeLessThan(1e-5);
    const data = curved(spec, 9).sample(12, 1).x;
    expect(fdWorst(flow, { loss: 'nll', data, batchSize: 4, seed: 2, step: 0 })).toBeLessThan(1e-5);
  });

  it('inverse round trip to the base draws, and log q of samples equals the inverse pass', () => {
    const flow = curved(spec, 6);
    const n = 200;
    const { x, base, logProb } = flow.sampleWithBase(n, 4);
    const back = flow.inverse(x);
    for (let i = 0; i < base.length; i++) {
      const angle = spec.space === 'torus' || i % flow.coords === flow.coords - 1;
      expect(angle ? angleGap(base[i]!, back.base[i]!) : Math.abs(base[i]! - back.base[i]!)).toBeLessThan(1e-9);
    }
    for (let i = 0; i < n; i++) expect(back.logProb[i]).toBeCloseTo(logProb[i]!, 9);
    if (spec.space === 'sphere') {
      const W = flow.outputWidth;
      for (let i = 0; i < n; i++) expect(Math.hypot(...x.subarray(W * i, W * i + W))).toBeCloseTo(1, 12);
    } else {
      for (const a of x) expect(a >= 0 && a < TWO_PI).toBe(true);
    }
  });

  it('q integrates to 1 over the manifold', () => {
    const flow = new ManifoldFlow(spec, 12);
    flow.params = flow.params.map((v, i) => v + 0.5 * Math.sin(1.3 * i));
    const lq = flow.logProb(flow.sample(500, 1).x);
    // far from uniform, yet normalised
    expect(Math.max(...lq) - Math.min(...lq)).toBeGreaterThan(0.5);
    const { value, tol } = integral(flow);
    expect(tol).toBeLessThan(0.03);  // S⁴: 5 SE ≈ 0.019
    expect(Math.abs(value - 1)).toBeLessThan(tol);
  });

  it('keeps its spec (transform kind, conditioner, dimension) through the model file', () => {
    const flow = curved(spec, 2);
    const back = ManifoldFlow.decode(flow.encode());
    expect(back.spec).toEqual(flow.spec);
    const x = flow.sample(20, 3).x;
    expect(Array.from(back.logProb(x))).toEqual(Array.from(flow.logProb(x)));
  });
});

describe('ManifoldFlow on S³', () => {
  it('log q = −log 2π² + log|det ∂c₀/∂c| + log A(c₀) − log A(c), the Jacobian by central differences in coordinates', () => {
    const flow = curved({ space: 'sphere', dim: 3, ...tiny, circleTransform: 'ncp' }, 5);
    const logArea = (c: ArrayLike<number>) => 0.5 * Math.log(1 - c[0]! ** 2);  // A(c) = (1 − z₃²)^{1/2}
    const wrapped = (d: number) => ((((d + Math.PI) % TWO_PI) + TWO_PI) % TWO_PI) - Math.PI;
    const n = 20, h = 1e-6;
    const { x } = flow.sample(n, 7);
    const { base, logProb } = flow.inverse(x);
    for (let r = 0; r < n; r++) {
      const p = x.subarray(4 * r, 4 * r + 4);
      const c = [p[3]!, p[2]! / Math.hypot(p[0]!, p[1]!, p[2]!), Math.atan2(p[1]!, p[0]!)];
      // Column j of ∂c₀/∂c: the inverse flow at c ± h e_j (φ differences taken on the circle).
      const J = [0, 1, 2].map((j) => {
        const up = c.slice(), down = c.slice();
        up[j] = up[j]! + h;
        down[j] = down[j]! - h;
        const b = flow.inverse(Float64Array.from([...stateToPoint(up), ...stateToPoint(down)])).base;
        return [0, 1, 2].map((i) => (i === 2 ? wrapped(b[i]! - b[3 + i]!) : b[i]! - b[3 + i]!) / (2 * h));
      });
      const det = J[0]![0]! * (J[1]![1]! * J[2]![2]! - J[1]![2]! * J[2]![1]!) - J[0]![1]! * (J[1]![0]! * J[2]![2]! - J[1]![2]! * J[2]![0]!)
        + J[0]![2]! * (J[1]![0]! * J[2]![1]! - J[1]![1]! * J[2]![0]!);
      const expected = -Math.log(2 * Math.PI ** 2) + Math.log(Math.abs(det)) + logArea(base.subarray(3 * r)) - logArea(c);
      expect(logProb[r]).toBeCloseTo(expected, 6);
    }
  });

  it('the initial flow is close to uniform on S³ (log q ≈ −log 2π²), and its base draws are uniform: E[x] ≈ 0, E[xxᵀ] ≈ I/4', () => {
    const flow = new ManifoldFlow({ space: 'sphere', dim: 3 }, 0);
    const n = 20_000;
    const { x, logProb, base } = flow.sampleWithBase(n, 0);
    for (const v of logProb.subarray(0, 200)) expect(Math.abs(v + Math.log(2 * Math.PI ** 2))).toBeLessThan(0.05);
    // Uniform on S³: E[x_i] = 0, E[x_i²] = 1/4, E[x_i⁴] = 3/((D+1)(D+3)) = 1/8, so the sample
    // means have sd (1/2)/√n and √(1/8 − 1/16)/√n: 5-sd bands.
    const pts = Array.from({ length: n }, (_, r) => stateToPoint(Array.from(base.subarray(3 * r, 3 * r + 3))));
    for (let i = 0; i < 4; i++) {
      const m1 = pts.reduce((s, p) => s + p[i]!, 0) / n;
      const m2 = pts.reduce((s, p) => s + p[i]! ** 2, 0) / n;
      expect(Math.abs(m1)).toBeLessThan(5 * 0.5 / Math.sqrt(n));
      expect(Math.abs(m2 - 0.25)).toBeLessThan(5 * Math.sqrt(1 / 8 - 1 / 16) / Math.sqrt(n));
    }
    expect(x.length).toBe(4 * n);
  });
});

/** I₁(x) by its power series Σ (x/2)^{2m+1} / (m! (m+1)!). */
function besselI1(x: number): number {
  let term = x / 2, sum = 0;
  for (let m = 0; m < 60; m++) {
    sum += term;
    term *= (x / 2) ** 2 / ((m + 1) * (m + 2));
  }
  return sum;
}

/** The targets' unnormalised log-densities, written here independently of targets.h. */
function vmfLogSum(x: ArrayLike<number>, centres: number[][]): number {
  const e = centres.map((c) => {
    const n = Math.hypot(...c);
    return 10 * c.reduce((s, ci, i) => s + (ci / n) * x[i]!, 0);
  });
  const m = Math.max(...e);
  return m + Math.log(e.reduce((s, v) => s + Math.exp(v - m), 0));
}
const S2_CENTRES = [[0.7, 1.5], [-1, 1], [0.6, 0.5], [-0.7, 4]].map(([a, b]) => [Math.cos(a!) * Math.cos(b!), Math.cos(a!) * Math.sin(b!), Math.sin(a!)]);
const S3_CENTRES = [[1, 0, 0, 0], [-0.2, 0.9, 0.3, -0.2], [0.1, -0.4, 0.8, 0.4], [-0.5, -0.3, -0.4, 0.7]];

describe('ManifoldFlow on spheres: the importance-sampling normaliser', () => {
  // p̃ is a sum of four vMF kernels, so Z = ∫ p̃ dA = 4 ∫ exp(10 μᵀx) dA exactly: 4 · 4π sinh(10)/10 on
  // S² and 4 · (2π)² I₁(10)/10 on S³. Z = E_q[p̃/q] for any flow q; a wrong normalisation of q
  // (base density, area factor, log-det) would bias the estimate.
  it.each([
    { dim: 2, centres: S2_CENTRES, exact: Math.log(4 * 4 * Math.PI * Math.sinh(10) / 10) },
    { dim: 3, centres: S3_CENTRES, exact: Math.log(4 * (2 * Math.PI) ** 2 * besselI1(10) / 10) },
  ])('S$dim: mean of p̃/q over 40 000 draws of a curved NCP flow equals the exact Z within 5 standard errors', ({ dim, centres, exact }) => {
    const flow = new ManifoldFlow({ space: 'sphere', dim, ...tiny, circleTransform: 'ncp' }, 4);
    flow.params = flow.params.map((v, i) => v + 0.3 * Math.sin(1.3 * i));
    const n = 40_000, W = dim + 1;
    const { x, logProb } = flow.sample(n, 9);
    const w = Array.from({ length: n }, (_, i) => Math.exp(vmfLogSum(x.subarray(W * i, W * i + W), centres) - logProb[i]! - exact));
    const mean = w.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n);
    expect(se).toBeLessThan(0.05);
    expect(Math.abs(mean - 1)).toBeLessThan(5 * se);
  });
});

describe('ManifoldFlow variants: errors', () => {
  it('names the argument and the expectation', () => {
    expect(() => new ManifoldFlow({ space: 'torus', circleTransform: 'spiral' as never })).toThrow(/spline.*moebius.*ncp.*circleTransform.*spiral/);
    expect(() => new ManifoldFlow({ space: 'torus', conditioner: 'made' as never })).toThrow(/coupling.*autoregressive.*made/);
    expect(() => new ManifoldFlow({ space: 'sphere', conditioner: 'autoregressive' })).toThrow(/sphere/);
    expect(() => new ManifoldFlow({ space: 'torus', dim: 8, layers: 9, conditioner: 'autoregressive' })).toThrow(/layers.*dim.*64/);
    expect(() => new ManifoldFlow({ space: 'torus', circleTransform: 'moebius', components: 0 })).toThrow(/components/);
    const s3 = new ManifoldFlow({ space: 'sphere', dim: 3 }, 1);
    expect(() => s3.lossAndGradient({ target: 'sphere-vmf4' })).toThrow(/S3.*sphere-vmf4.*S2/);
    expect(() => s3.logProb(Float64Array.of(0, 0, 3, 0))).toThrow(/unit vectors/);
    expect(() => s3.logProb(Float64Array.of(0, 0, 1))).toThrow(/rows of 4/);
  });
});

describe('ManifoldFlow variants: training', () => {
  it('reverse KL with Möbius, NCP and autoregressive layers on torus-correlated: KL(q‖p) falls below a fifth of its start in 150 steps', async () => {
    for (const spec of [
      { circleTransform: 'moebius' }, { circleTransform: 'ncp' }, { conditioner: 'autoregressive' },
    ] as const) {
      const flow = new ManifoldFlow({ space: 'torus', layers: 4, hidden: 16, ...spec }, 1);
      const r = await flow.train({ target: 'torus-correlated', steps: 150, batchSize: 128, learningRate: 5e-3, seed: 3, evalSize: 4000, reportEvery: 1 });
      const initial = r.historyLoss[0]! + r.evaluation!.logZ;
      expect(initial).toBeGreaterThan(0.15);
      expect(r.evaluation!.klNormalised).toBeLessThan(0.2 * initial);
    }
  });

  it('S³ Möbius training is bit-identical on 1 and 2 threads (normal base draws per row, chunked gradients)', async () => {
    const opts = { target: 'sphere3-vmf4' as const, steps: 10, batchSize: 100, learningRate: 5e-3, seed: 4, evalSize: 300 };
    const spec = { space: 'sphere', dim: 3, hidden: 8, circleTransform: 'moebius' } as const;
    const a = new ManifoldFlow(spec, 1), b = new ManifoldFlow(spec, 1);
    const ra = await a.train({ ...opts, threads: 1 });
    const rb = await b.train({ ...opts, threads: 2 });
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(rb.evaluation).toEqual(ra.evaluation);
  });
});
