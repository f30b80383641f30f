// φ⁴ action, gradient, HMC baseline and autocorrelation times (src/lattice, kernels/lattice/phi4.h).
import { describe, expect, it } from 'vitest';
import {
  Phi4Action, dropBurnIn, freePropagator, hmc, hmcAsync, integratedAutocorrelation, twoPointSusceptibility,
} from '../src/lattice/index.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';

function randomField(L: number, n: number, seed: number, scale = 1): Float64Array {
  const r = new PhiloxStream(seed, 0);
  return Float64Array.from({ length: n * L * L }, () => scale * r.normal());
}

/** S(φ) written exactly as the issue states it, with both neighbour sums. */
function referenceAction(L: number, m2: number, lambda: number, phi: Float64Array, offset = 0): number {
  const at = (a: number, b: number) => phi[offset + (((a % L) + L) % L) * L + (((b % L) + L) % L)]!;
  let s = 0;
  for (let x0 = 0; x0 < L; x0++) {
    for (let x1 = 0; x1 < L; x1++) {
      const f = at(x0, x1);
      s += m2 * f * f + lambda * f ** 4;
      s += 2 * f * f - f * at(x0 + 1, x1) - f * at(x0 - 1, x1);
      s += 2 * f * f - f * at(x0, x1 + 1) - f * at(x0, x1 - 1);
    }
  }
  return s;
}

describe('Phi4Action', () => {
  it('equals the action with both neighbour sums on lattices of extent 1, 2, 3 and 5', () => {
    for (const L of [1, 2, 3, 5]) {
      const a = new Phi4Action({ L, m2: -4, lambda: 8 });
      const phi = randomField(L, 3, L);
      const s = a.action(phi);
      for (let i = 0; i < 3; i++) {
        const ref = referenceAction(L, -4, 8, phi, i * L * L);
        expect(Math.abs(s[i]! - ref)).toBeLessThan(1e-12 * (1 + Math.abs(ref)));
      }
    }
  });

  it('has a gradient equal to central finite differences of S in double precision', () => {
    for (const [L, m2, lambda] of [[3, -4, 8], [4, 0.7, 0.3], [2, 1, 0]] as const) {
      const a = new Phi4Action({ L, m2, lambda });
      const phi = randomField(L, 2, 10 + L, 0.8);
      const { action, grad } = a.actionAndGrad(phi);
      const h = 1e-6;
      for (let k = 0; k < phi.length; k++) {
        const plus = Float64Array.from(phi);
        const minus = Float64Array.from(phi);
        plus[k]! += h;
        minus[k]! -= h;
        const row = Math.floor(k / (L * L));
        const fd = (a.action(plus)[row]! - a.action(minus)[row]!) / (2 * h);
        expect(Math.abs(grad[k]! - fd)).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
      }
      expect(action[0]).toBeCloseTo(referenceAction(L, m2, lambda, phi), 10);
    }
  });

  it('runs the float kernels on Float32Array to single precision', () => {
    const a = new Phi4Action({ L: 6, m2: -4, lambda: 8 });
    const phi = randomField(6, 4, 3, 0.7);
    const phi32 = Float32Array.from(phi);
    const d = a.actionAndGrad(Float64Array.from(phi32));
    const f = a.actionAndGrad(phi32);
    expect(f.action).toBeInstanceOf(Float32Array);
    for (let i = 0; i < 4; i++) expect(Math.abs(f.action[i]! - d.action[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(d.action[i]!)));
    for (let k = 0; k < phi.length; k++) expect(Math.abs(f.grad[k]! - d.grad[k]!)).toBeLessThan(1e-4);
  });

  it('throws RangeError for a field that is not whole configurations, and for non-finite sites', () => {
    const a = new Phi4Action({ L: 3, m2: 1, lambda: 1 });
    expect(() => a.action(new Float64Array(10))).toThrow(RangeError);
    expect(() => a.action(Float64Array.of(0, 0, 0, 0, NaN, 0, 0, 0, 0))).toThrow(/phi\[4\]/);
    expect(() => new Phi4Action({ L: 0, m2: 1, lambda: 1 })).toThrow(RangeError);
  });
});

describe('hmc', () => {
  const free = { L: 4, m2: 0.5, lambda: 0 };

  it('samples the exact free propagator G(x) within 5 standard errors (independent chains)', () => {
    const a = new Phi4Action(free);
    const chains = 400;
    const V = a.sites;
    const r = hmc(a, { seed: 7, steps: 200, chains, leapfrogSteps: 5, stepSize: 0.2 });
    const exact = freePropagator(free.L, free.m2);
    // Per chain, the translation average g_c(x) = (1/V) Σ_y φ_y φ_{y+x} of its last state: independent across chains.
    for (let x0 = 0; x0 < free.L; x0++) {
      for (let x1 = 0; x1 < free.L; x1++) {
        let sum = 0;
        let sumSq = 0;
        for (let c = 0; c < chains; c++) {
          let g = 0;
          for (let y0 = 0; y0 < free.L; y0++) {
            for (let y1 = 0; y1 < free.L; y1++) {
              const z = ((y0 + x0) % free.L) * free.L + ((y1 + x1) % free.L);
              g += r.phi[c * V + y0 * free.L + y1]! * r.phi[c * V + z]!;
            }
          }
          g /= V;
          sum += g;
          sumSq += g * g;
        }
        const mean = sum / chains;
        const se = Math.sqrt((sumSq / chains - mean * mean) / (chains - 1));
        expect(Math.abs(mean - exact[x0 * free.L + x1]!)).toBeLessThan(5 * se);
      }
    }
  });

  it('gives ⟨S⟩ = V/2 and χ₂ = 1/(2m²) in the free theory within 5 τ_int-corrected standard errors', () => {
    const a = new Phi4Action(free);
    const chains = 8;
    const r = hmc(a, { seed: 3, steps: 3000, chains, leapfrogSteps: 5, stepSize: 0.2 });
    expect(r.acceptance).toBeGreaterThan(0.5);
    const s = integratedAutocorrelation(dropBurnIn(r.action, chains, 100), { chains });
    expect(Math.abs(s.mean - a.sites / 2)).toBeLessThan(5 * s.meanError);
    const chi = twoPointSusceptibility(dropBurnIn(r.magnetization, chains, 100), a.sites, chains);
    expect(Math.abs(chi.value - 1 / (2 * free.m2))).toBeLessThan(5 * chi.error);
  });

  it('gives the same chains on 1 and 2 threads, and when continued with stepOffset', () => {
    const a = new Phi4Action({ L: 4, m2: -4, lambda: 8 });
    const opts = { seed: 11, chains: 3, leapfrogSteps: 4, stepSize: 0.1 };
    const one = hmc(a, { ...opts, steps: 20, threads: 1 });
    const two = hmc(a, { ...opts, steps: 20, threads: 2 });
    expect(two.magnetization).toEqual(one.magnetization);
    expect(two.phi).toEqual(one.phi);
    const first = hmc(a, { ...opts, steps: 12 });
    const rest = hmc(a, { ...opts, steps: 8, init: first.phi, stepOffset: 12 });
    expect(rest.phi).toEqual(one.phi);
    expect(Array.from(rest.magnetization.subarray(0, 8))).toEqual(Array.from(one.magnetization.subarray(12, 20)));
  });

  it('reports progress off the event loop and rejects with ABORTED when aborted', async () => {
    const a = new Phi4Action({ L: 4, m2: -4, lambda: 8 });
    const seen: number[] = [];
    const r = await hmcAsync(a, { seed: 1, steps: 10, chains: 4, leapfrogSteps: 2, stepSize: 0.1, onProgress: (d) => seen.push(d) });
    expect(seen.at(-1)).toBe(4);
    expect(r.magnetization).toEqual(hmc(a, { seed: 1, steps: 10, chains: 4, leapfrogSteps: 2, stepSize: 0.1 }).magnetization);
    const controller = new AbortController();
    controller.abort();
    await expect(hmcAsync(a, { seed: 1, steps: 10, leapfrogSteps: 2, stepSize: 0.1, signal: controller.signal }))
      .rejects.toBeInstanceOf(SbiError);
    const late = new AbortController();
    const p = hmcAsync(a, { seed: 1, steps: 2 ** 31, leapfrogSteps: 2, stepSize: 0.1, signal: late.signal });
    setTimeout(() => late.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('throws RangeError for a non-normalisable coupling, a bad step size or a bad init', () => {
    const base = { seed: 1, steps: 2, leapfrogSteps: 2, stepSize: 0.1 };
    expect(() => hmc(new Phi4Action({ L: 3, m2: -1, lambda: 0 }), base)).toThrow(/normalisable/);
    expect(() => hmc(new Phi4Action({ L: 3, m2: 1, lambda: -1 }), base)).toThrow(RangeError);
    const a = new Phi4Action({ L: 3, m2: 1, lambda: 1 });
    expect(() => hmc(a, { ...base, stepSize: 0 })).toThrow(/stepSize/);
    expect(() => hmc(a, { ...base, init: new Float64Array(10) })).toThrow(/init/);
  });
});

describe('integratedAutocorrelation', () => {
  it('recovers τ_int = (1 + ρ) / (2 (1 − ρ)) of an AR(1) series within 4 of its standard errors', () => {
    const rho = 0.8;
    const n = 100000;
    const r = new PhiloxStream(5, 0);
    const x = new Float64Array(n);
    for (let i = 1; i < n; i++) x[i] = rho * x[i - 1]! + Math.sqrt(1 - rho * rho) * r.normal();
    const ac = integratedAutocorrelation(x);
    const exact = (1 + rho) / (2 * (1 - rho));
    expect(Math.abs(ac.tau - exact)).toBeLessThan(4 * ac.tauError);
    expect(ac.window).toBeGreaterThanOrEqual(5 * ac.tau);
  });

  it('gives τ_int near ½ for independent draws, and throws RangeError for a series shorter than 2 per chain', () => {
    const r = new PhiloxStream(6, 0);
    const ac = integratedAutocorrelation(Float64Array.from({ length: 20000 }, () => r.normal()), { chains: 4 });
    expect(Math.abs(ac.tau - 0.5)).toBeLessThan(4 * ac.tauError);
    expect(() => integratedAutocorrelation(new Float64Array(3), { chains: 3 })).toThrow(RangeError);
  });
});
