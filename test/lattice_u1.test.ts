// U(1) gauge theory: action, gradient, topological charge, gauge invariance, the HMC baseline
// against the exact torus solution (src/lattice/u1.ts, kernels/lattice/u1.h, kernels/lattice/hmc.h).
import { describe, expect, it } from 'vitest';
import {
  U1Action, dropBurnIn, integratedAutocorrelation, u1Exact, u1GaugeTransform, u1Hmc, u1HmcAsync,
} from '../src/lattice/index.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';

function randomLinks(L: number, n: number, seed: number, scale = Math.PI): Float64Array {
  const r = new PhiloxStream(seed, 0);
  return Float64Array.from({ length: n * 2 * L * L }, () => scale * (2 * r.uniform() - 1));
}

/** Plaquette angles written out from U_μ(x) = e^{iθ_μ(x)} and the lattice's periodic neighbours. */
function referencePlaquettes(L: number, theta: Float64Array, offset = 0): number[] {
  const V = L * L;
  const link = (mu: number, a: number, b: number) => theta[offset + mu * V + ((a + L) % L) * L + ((b + L) % L)]!;
  const out: number[] = [];
  for (let a = 0; a < L; a++) for (let b = 0; b < L; b++) out.push(link(0, a, b) + link(1, a + 1, b) - link(0, a, b + 1) - link(1, a, b));
  return out;
}

describe('U1Action', () => {
  it('equals −β Σ cos P and Q = Σ wrap(P) / 2π written out, in double and float', () => {
    for (const L of [1, 2, 3, 5]) {
      const beta = 1.7;
      const a = new U1Action({ L, beta });
      const theta = randomLinks(L, 3, L);
      const s = a.action(theta);
      const q = a.topologicalCharge(theta);
      const s32 = a.action(Float32Array.from(theta));
      for (let i = 0; i < 3; i++) {
        const plaq = referencePlaquettes(L, theta, i * 2 * L * L);
        const ref = -beta * plaq.reduce((acc, p) => acc + Math.cos(p), 0);
        expect(Math.abs(s[i]! - ref)).toBeLessThan(1e-12 * (1 + Math.abs(ref)));
        expect(Math.abs(s32[i]! - ref)).toBeLessThan(1e-5 * (1 + Math.abs(ref)));
        const wrapped = plaq.reduce((acc, p) => acc + (p - 2 * Math.PI * Math.floor((p + Math.PI) / (2 * Math.PI))), 0);
        expect(Math.abs(wrapped / (2 * Math.PI) - Math.round(wrapped / (2 * Math.PI)))).toBeLessThan(1e-9);
        expect(q[i]).toBe(Math.round(wrapped / (2 * Math.PI)) + 0);
      }
    }
  });

  it('has a gradient equal to central finite differences of S in double precision', () => {
    for (const [L, beta] of [[3, 2], [4, 0.7], [2, -1.3]] as const) {
      const a = new U1Action({ L, beta });
      const theta = randomLinks(L, 2, 20 + L);
      const { grad } = a.actionAndGrad(theta);
      const h = 1e-6;
      for (let k = 0; k < theta.length; k++) {
        const plus = Float64Array.from(theta);
        const minus = Float64Array.from(theta);
        plus[k]! += h;
        minus[k]! -= h;
        const row = Math.floor(k / (2 * L * L));
        const fd = (a.action(plus)[row]! - a.action(minus)[row]!) / (2 * h);
        expect(Math.abs(grad[k]! - fd)).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
      }
    }
  });

  it('is gauge invariant, and Q is an integer that takes several values and flips sign with θ', () => {
    const L = 4;
    const a = new U1Action({ L, beta: 1 });
    const theta = randomLinks(L, 200, 3);
    const r = new PhiloxStream(4, 0);
    const alpha = Float64Array.from({ length: 200 * L * L }, () => 10 * r.normal());
    const g = u1GaugeTransform(L, theta, alpha);
    const s = a.action(theta), sg = a.action(g);
    const q = a.topologicalCharge(theta), qg = a.topologicalCharge(g);
    const qNeg = a.topologicalCharge(theta.map((v) => -v));
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      expect(Math.abs(s[i]! - sg[i]!)).toBeLessThan(1e-11);
      expect(qg[i]).toBe(q[i]);
      expect(qNeg[i]).toBe(-q[i]! + 0);
      seen.add(q[i]!);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });

  it('names the argument in its errors', () => {
    const a = new U1Action({ L: 2, beta: 1 });
    expect(() => a.action(new Float64Array(7))).toThrow(/`theta`.*8 link angles/);
    expect(() => a.action(Float64Array.of(0, 0, 0, 0, 0, 0, 0, NaN))).toThrow(/finite values in `theta`.*theta\[7\]/);
    expect(() => new U1Action({ L: 0, beta: 1 })).toThrow(/L/);
    expect(() => new U1Action({ L: 2, beta: Infinity })).toThrow(/beta/);
  });
});

describe('u1Exact', () => {
  it('gives ⟨Q²⟩ = V/12 and ⟨cos P⟩ = 0 at β = 0 (uniform plaquettes), and Q ≡ 0, P ≡ 0 on the 1×1 torus', () => {
    const zero = u1Exact(4, 0);
    expect(zero.meanQ2).toBeCloseTo(16 / 12, 9);
    expect(Math.abs(zero.meanPlaquette)).toBeLessThan(1e-12);
    // For V = 1 the sum over n of g''(n) converges only as 1/n² (φ² has a kink at ±π), so the
    // truncation at |n| ≤ 64 leaves ~1e-5; for V ≥ 2 the terms fall like I_n(β)^(V−1).
    const one = u1Exact(1, 2);
    expect(Math.abs(one.meanQ2)).toBeLessThan(1e-5);
    expect(one.meanPlaquette).toBeCloseTo(1, 9);
  });

  it('tends to the infinite-volume plaquette I₁(β)/I₀(β) and gives the issue figure ⟨Q²⟩ ≈ 1.23 at L = 8, β = 2', () => {
    // I₁(2) / I₀(2) = 1.590636854637329 / 2.279585302336067
    expect(u1Exact(32, 2).meanPlaquette).toBeCloseTo(1.590636854637329 / 2.279585302336067, 10);
    expect(u1Exact(8, 2).meanQ2).toBeCloseTo(1.2393, 3);
  });
});

describe('u1Hmc', () => {
  it('agrees with the exact ⟨Q²⟩ and ⟨cos P⟩ at L = 4, β = 1 within 4 τ-corrected standard errors', () => {
    const L = 4, beta = 1, chains = 4, burnIn = 100;
    const r = u1Hmc(new U1Action({ L, beta }), { seed: 7, steps: 2500, chains, leapfrogSteps: 8, stepSize: 0.15 });
    const exact = u1Exact(L, beta);
    expect(r.acceptance).toBeGreaterThan(0.8);
    const q2 = integratedAutocorrelation(dropBurnIn(r.charge, chains, burnIn).map((q) => q * q), { chains });
    const plaq = integratedAutocorrelation(dropBurnIn(r.action, chains, burnIn).map((s) => -s / (beta * L * L)), { chains });
    expect(Math.abs(q2.mean - exact.meanQ2)).toBeLessThan(4 * q2.meanError);
    expect(Math.abs(plaq.mean - exact.meanPlaquette)).toBeLessThan(4 * plaq.meanError);
    expect(q2.meanError).toBeLessThan(0.05 * exact.meanQ2);
  });

  it('gives the same chains for 1 and 2 threads, and continuing with stepOffset reproduces one run', async () => {
    const target = new U1Action({ L: 3, beta: 1.5 });
    const opts = { seed: 3, steps: 60, chains: 3, leapfrogSteps: 5, stepSize: 0.2 };
    const one = u1Hmc(target, { ...opts, threads: 1 });
    const two = await u1HmcAsync(target, { ...opts, threads: 2 });
    expect(two.action).toEqual(one.action);
    expect(two.charge).toEqual(one.charge);
    expect(two.theta).toEqual(one.theta);
    const first = u1Hmc(target, { ...opts, steps: 25 });
    const rest = u1Hmc(target, { ...opts, steps: 35, init: first.theta, stepOffset: 25 });
    expect(rest.theta).toEqual(one.theta);
    for (let c = 0; c < 3; c++) expect(Array.from(rest.action.subarray(c * 35, c * 35 + 35))).toEqual(Array.from(one.action.subarray(c * 60 + 25, c * 60 + 60)));
  });

  it('rejects when aborted and checks its options', async () => {
    const target = new U1Action({ L: 8, beta: 2 });
    const ctl = new AbortController();
    const run = u1HmcAsync(target, { seed: 1, steps: 1_000_000, chains: 2, leapfrogSteps: 10, stepSize: 0.1, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expect(run).rejects.toSatisfy((e: unknown) => e instanceof SbiError && e.code === 'ABORTED');
    expect(() => u1Hmc(target, { seed: 1, steps: 0, leapfrogSteps: 1, stepSize: 0.1 })).toThrow(/steps/);
    expect(() => u1Hmc(target, { seed: 1, steps: 1, leapfrogSteps: 1, stepSize: -1 })).toThrow(/stepSize/);
    expect(() => u1Hmc(target, { seed: 1, steps: 1, leapfrogSteps: 1, stepSize: 0.1, init: new Float64Array(5) })).toThrow(/init/);
  });
});
