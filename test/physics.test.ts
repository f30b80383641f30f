import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { runtimeInfo, setIsa, type IsaPath } from '../src/runtime.js';
import { NativeSimulator } from '../src/simulators/simulator.js';
import { SbiError } from '../src/errors.js';
import { TASKS } from '../src/tasks/registry.js';
import {
  GALTON_NAILS, galtonMarginal, galtonScore,
} from '../src/physics/galton_board.js';
import {
  Z_MASS, Z_WIDTH, weinbergAsymmetry, weinbergCdf, weinbergCoefficients, weinbergLogPdf, weinbergScore,
} from '../src/physics/weinberg.js';
import { galtonPmfByEnumeration, galtonSimulate, galtonTrace } from './oracles/galton_board.js';
import { weinbergAngularCoefficients, weinbergDensity, weinbergSimulate } from './oracles/weinberg.js';
import {
  ALPHA, chiSquareGoodnessOfFit, chiSquareTwoSample, ksCritical, ksStatistic, ksTwoSampleStatistic,
  meanAndStandardError,
} from './helpers/statistics.js';

const galton = new NativeSimulator('galton_board');
const weinberg = new NativeSimulator('weinberg');

function filled(n: number, value: number): Float64Array {
  return new Float64Array(n).fill(value);
}

/**
 * The first `count` uniform() draws of Philox stream `stream` under key `seed`, recomputed from
 * the raw generator: draw j is words (2j, 2j + 1) of the stream, block ⌊2j/4⌋ has counter
 * (block, 0, stream_lo, stream_hi), and the 53-bit value is ((hi·2^32 + lo) >> 11 + 0.5) 2^−53.
 */
function philoxUniforms(seed: number, stream: number, count: number): Float64Array {
  const blocks = Math.ceil((2 * count) / 4);
  const counters = new Uint32Array(4 * blocks);
  for (let b = 0; b < blocks; b++) counters.set([b, 0, stream >>> 0, Math.floor(stream / 2 ** 32)], 4 * b);
  const words = new Uint32Array(4 * blocks);
  native.philox4x32(counters, new Uint32Array([seed >>> 0, Math.floor(seed / 2 ** 32)]), words);
  const u = new Float64Array(count);
  for (let j = 0; j < count; j++) u[j] = (words[2 * j] * 2 ** 21 + (words[2 * j + 1] >>> 11) + 0.5) * 2 ** -53;
  return u;
}

/** Instruction-set paths this CPU can run. */
function availableIsas(): IsaPath[] {
  const order: IsaPath[] = ['scalar', 'avx2', 'avx512'];
  return order.slice(0, order.indexOf(runtimeInfo().detectedIsa) + 1);
}

/** max_i |a_i − b_i| / (relativeTo |b_i| + 1) (relativeTo 0: absolute error). */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>, relativeTo = 0): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (relativeTo * Math.abs(b[i]) + 1));
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Index of the first element whose bits differ (−1 if none). */
function firstDifference(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  const va = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const vb = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (va.length !== vb.length) return 0;
  for (let i = 0; i < va.length; i++) if (va[i] !== vb[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return -1;
}

afterEach(() => setIsa('auto'));

describe('galton_board', () => {
  it('is registered as a gold simulator (θ and x one-dimensional, no design) and as a task', () => {
    expect([galton.thetaDim, galton.xDim, galton.designDim, galton.hasGold]).toEqual([1, 1, 0, true]);
    const task = TASKS.find((t) => t.name === 'galton_board');
    expect(task?.simulator).toBe('galton_board');
    expect(task?.gold).toBe(true);
    expect(task?.prior).toEqual({ kind: 'boxUniform', low: [-1], high: [1] });
  });

  it('has an exact pmf (DP) that sums to 1, whose θ-derivative sums to 0, supported on 5..25', () => {
    for (const theta of [-1, -0.4, 0, 0.3, 1]) {
      const { pmf, dpmf } = galtonMarginal(theta);
      expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
      expect(Math.abs(dpmf.reduce((a, b) => a + b, 0))).toBeLessThan(1e-14);
      for (let k = 0; k < GALTON_NAILS; k++) {
        if (k < 5 || k > 25) expect(pmf[k]).toBe(0);
        else expect(pmf[k]).toBeGreaterThan(0);
      }
    }
  });

  it('DP pmf and score equal the oracle\'s enumeration of all 2^20 paths', () => {
    const theta = 0.37;
    const dp = galtonMarginal(theta);
    const brute = galtonPmfByEnumeration(theta);
    for (let k = 0; k < GALTON_NAILS; k++) {
      expect(Math.abs(dp.pmf[k] - brute.pmf[k])).toBeLessThan(1e-14);
      expect(Math.abs(dp.dpmf[k] - brute.dpmf[k])).toBeLessThan(1e-13);
    }
  });

  it('simulates x distributed as the exact pmf (χ² goodness of fit, alpha 1e-4)', () => {
    const n = 200_000;
    for (const [i, theta] of [-0.8, 0, 0.6].entries()) {
      const r = galton.simulateSync(filled(n, theta), { seed: 11 + i });
      expect(r.failedCount).toBe(0);
      expect(r.x.filter((x) => !(x >= 5 && x <= 25 && Number.isInteger(x))).length).toBe(0);
      const { pmf } = galtonMarginal(theta);
      // Cells down to 5 expected counts, so the 21 reachable values are not pooled into a few cells.
      const test = chiSquareGoodnessOfFit(r.x, (k) => Math.log(pmf[k]), 0, pmf.length - 1, 5);
      expect(test.df).toBeGreaterThanOrEqual(10);
      expect(test.pValue).toBeGreaterThan(ALPHA);
    }
  });

  it('agrees with the TypeScript oracle in distribution (two-sample χ²) and in mean gold', () => {
    const n = 100_000;
    const theta = -0.35;
    const r = galton.simulateSync(filled(n, theta), { seed: 5, gold: true });
    const o = galtonSimulate(theta, n, 5);
    const test = chiSquareTwoSample(r.x, o.x, GALTON_NAILS);
    expect(test.pValue).toBeGreaterThan(ALPHA);
    const a = meanAndStandardError(r.gold!.jointLogLikelihood);
    const b = meanAndStandardError(o.jointLogLikelihood);
    expect(Math.abs(a.mean - b.mean)).toBeLessThan(5 * Math.hypot(a.se, b.se));
  });

  it('replays from the Philox stream: x, joint log-likelihood, score and log-ratio row by row', () => {
    const n = 500;
    const seed = 2024;
    const streamOffset = 1000;
    const theta = new Float64Array(n).map((_, i) => -1 + (2 * i) / (n - 1));
    const thetaRef = new Float64Array(n).map((_, i) => 0.9 - (1.7 * i) / (n - 1));
    const r = galton.simulateSync(theta, { seed, streamOffset, thetaRef });
    const replay = Array.from(theta, (t, i) => galtonTrace(t, philoxUniforms(seed, streamOffset + i, 20), thetaRef[i]));
    expect(Array.from(r.x)).toEqual(replay.map((t) => t.x));
    expect(maxError(r.gold!.jointLogLikelihood, replay.map((t) => t.logLik))).toBeLessThan(1e-12);
    expect(maxError(r.gold!.jointScore, replay.map((t) => t.score), 1)).toBeLessThan(1e-11);
    // joint log-ratio = log p(x, z | θ) − log p(x, z | θ_ref) for the path simulated at θ
    expect(maxError(r.gold!.jointLogRatio!, replay.map((t) => t.logLik - t.logLikRef!))).toBeLessThan(1e-12);
  });

  it('has a joint score equal to the central finite difference of the joint log-likelihood', () => {
    // The path is simulated at θ; θ_ref only enters the ratio. So runs at the same (seed, θ) with
    // θ_ref = θ ± h follow the same path, and (ratio(θ_ref = θ − h) − ratio(θ_ref = θ + h)) / 2h
    // = (log p(x, z | θ + h) − log p(x, z | θ − h)) / 2h is a finite difference along one path.
    const n = 2000;
    const h = 1e-5;
    const theta = new Float64Array(n).map((_, i) => -0.95 + (1.9 * i) / (n - 1));
    const plus = galton.simulateSync(theta, { seed: 9, thetaRef: theta.map((t) => t + h) });
    const minus = galton.simulateSync(theta, { seed: 9, thetaRef: theta.map((t) => t - h) });
    expect(firstDifference(plus.x, minus.x)).toBe(-1);
    const fd = minus.gold!.jointLogRatio!.map((m, i) => (m - plus.gold!.jointLogRatio![i]) / (2 * h));
    expect(maxError(plus.gold!.jointScore, fd, 1)).toBeLessThan(1e-7);
  });

  it('has E[joint score] = 0 and E[p(x,z|θ_ref)/p(x,z|θ)] = 1 at the generating θ (5 standard errors)', () => {
    const n = 200_000;
    for (const [i, theta] of [-0.5, 0.2, 0.9].entries()) {
      const r = galton.simulateSync(filled(n, theta), { seed: 31 + i, thetaRef: Float64Array.of(theta + 0.15) });
      const score = meanAndStandardError(r.gold!.jointScore);
      expect(Math.abs(score.mean)).toBeLessThan(5 * score.se);
      const ratio = meanAndStandardError(r.gold!.jointLogRatio!.map((v) => Math.exp(-v)));
      expect(Math.abs(ratio.mean - 1)).toBeLessThan(5 * ratio.se);
    }
  });

  it('has E[joint score | x] = exact marginal score and E[joint ratio | x] = exact ratio (binned on x)', () => {
    // The identities gold mining rests on: E[∂ log p(x,z|θ) | x] = ∂ log p(x|θ) and
    // E[p(x,z|θ_ref)/p(x,z|θ) | x] = p(x|θ_ref)/p(x|θ), with p(x|·) from the DP.
    const n = 400_000;
    const theta = 0.3;
    const thetaRef = 0.1;
    const r = galton.simulateSync(filled(n, theta), { seed: 77, thetaRef: Float64Array.of(thetaRef) });
    const exact = galtonMarginal(theta);
    const exactRef = galtonMarginal(thetaRef);
    const byX = new Map<number, { score: number[]; ratio: number[] }>();
    for (let i = 0; i < n; i++) {
      const bin = byX.get(r.x[i]) ?? { score: [], ratio: [] };
      bin.score.push(r.gold!.jointScore[i]);
      bin.ratio.push(Math.exp(-r.gold!.jointLogRatio![i]));
      byX.set(r.x[i], bin);
    }
    let checked = 0;
    for (const [x, bin] of byX) {
      if (bin.score.length < 2000) continue;
      checked++;
      const s = meanAndStandardError(bin.score);
      expect(Math.abs(s.mean - galtonScore(theta, x, exact))).toBeLessThan(5 * s.se);
      const q = meanAndStandardError(bin.ratio);
      expect(Math.abs(q.mean - exactRef.pmf[x] / exact.pmf[x])).toBeLessThan(5 * q.se);
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('exposes log p(x|θ) as the task likelihood (−Infinity off the reachable positions)', () => {
    const task = TASKS.find((t) => t.name === 'galton_board')!;
    const theta = Float64Array.of(0.2, 0.2, -0.7, 0.5, 0.5, 0.5);
    const x = Float64Array.of(15, 9, 21, 3, 14.5, 40);
    const ll = task.logLikelihood!(theta, x);
    expect(ll[0]).toBeCloseTo(Math.log(galtonMarginal(0.2).pmf[15]), 14);
    expect(ll[1]).toBeCloseTo(Math.log(galtonMarginal(0.2).pmf[9]), 14);
    expect(ll[2]).toBeCloseTo(Math.log(galtonMarginal(-0.7).pmf[21]), 14);
    expect(Array.from(ll.slice(3))).toEqual([-Infinity, -Infinity, -Infinity]);
  });

  it('has an exact score matching the finite difference of log p(x|θ)', () => {
    const h = 1e-5;
    for (const theta of [-0.9, -0.1, 0.45]) {
      for (let x = 6; x <= 24; x += 3) {
        const fd = (Math.log(galtonMarginal(theta + h).pmf[x]) - Math.log(galtonMarginal(theta - h).pmf[x])) / (2 * h);
        expect(Math.abs(galtonScore(theta, x) - fd)).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
      }
    }
  });
});

describe('weinberg', () => {
  const designs: Array<[number, number]> = [
    [0.2312, Z_MASS], [0.15, 60], [0.35, 95], [0.25, 200], [0.2312, 88], [0.12, 80],
  ];

  it('is registered as a gold simulator with one design variable √s (default M_Z) and as a task', () => {
    expect([weinberg.thetaDim, weinberg.xDim, weinberg.designDim, weinberg.hasGold]).toEqual([1, 1, 1, true]);
    const task = TASKS.find((t) => t.name === 'weinberg')!;
    expect(task.design).toHaveLength(1);
    expect(task.design[0].default).toBe(Z_MASS);
    expect(task.prior).toEqual({ kind: 'boxUniform', low: [0.1], high: [0.4] });
  });

  it('has A_FB ≈ 0.0168 at the Z pole for sin²θ_W = 0.2312 (¾ A_ℓ², less the photon term)', () => {
    const sin2w = 0.2312;
    const afb = weinbergAsymmetry(sin2w, Z_MASS);
    // At √s = M_Z, Re χ = 0 and A_FB = 3 v² a² |χ|² / (1 + (v² + a²)² |χ|²) → ¾ A_ℓ² as |χ| → ∞.
    const v = -0.5 + 2 * sin2w;
    const abs2 = (Z_MASS / Z_WIDTH / (4 * sin2w * (1 - sin2w))) ** 2;
    const exact = (3 * v * v * 0.25 * abs2) / (1 + (v * v + 0.25) ** 2 * abs2);
    expect(afb).toBeCloseTo(exact, 14);
    const lepton = (2 * v * -0.5) / (v * v + 0.25);
    expect(Math.abs(afb - 0.75 * lepton * lepton)).toBeLessThan(2e-4);
    expect(Math.abs(afb - 0.0168)).toBeLessThan(2e-4);
    // the oracle's density, integrated: (σ_F − σ_B)/(σ_F + σ_B) by Simpson's rule (exact for cubics)
    const m = 1000;
    let forward = 0;
    for (let j = 0; j <= m; j++) {
      const w = j === 0 || j === m ? 1 : j % 2 ? 4 : 2;
      forward += (w * (weinbergDensity(j / m, sin2w, Z_MASS) - weinbergDensity(-j / m, sin2w, Z_MASS))) / (3 * m);
    }
    expect(forward).toBeCloseTo(afb, 12);
  });

  it('has a normalised density and coefficients equal to the oracle\'s complex-χ form', () => {
    for (const [sin2w, sqrtS] of designs) {
      const m = 200;
      let total = 0;
      for (let j = 0; j <= m; j++) {
        const w = j === 0 || j === m ? 1 : j % 2 ? 4 : 2;
        total += (w * Math.exp(weinbergLogPdf(-1 + (2 * j) / m, sin2w, sqrtS)) * 2) / (3 * m);
      }
      expect(total).toBeCloseTo(1, 13);
      const mine = weinbergCoefficients(sin2w, sqrtS);
      const theirs = weinbergAngularCoefficients(sin2w, sqrtS);
      expect(mine.A1 / mine.A0).toBeCloseTo(theirs.A1 / theirs.A0, 13);
      // the closed-form CDF is the density's integral (Simpson's rule is exact for a quadratic)
      const mid = Math.exp(weinbergLogPdf(-0.35, sin2w, sqrtS));
      const ends = Math.exp(weinbergLogPdf(-1, sin2w, sqrtS)) + Math.exp(weinbergLogPdf(0.3, sin2w, sqrtS));
      expect(weinbergCdf(0.3, sin2w, sqrtS)).toBeCloseTo((1.3 / 6) * (ends + 4 * mid), 14);
    }
  });

  it('samples cos θ* in [−1, 1] distributed as the analytic CDF (KS, alpha 1e-4)', () => {
    const n = 100_000;
    for (const [i, [sin2w, sqrtS]] of designs.entries()) {
      const r = weinberg.simulateSync(filled(n, sin2w), { seed: 100 + i, design: [sqrtS] });
      expect(r.failedCount).toBe(0);
      expect(r.x.filter((x) => !(x >= -1 && x <= 1)).length).toBe(0);
      const d = ksStatistic(r.x, (x) => weinbergCdf(x, sin2w, sqrtS));
      expect(d).toBeLessThan(ksCritical(n));
    }
  });

  it('inverts the CDF exactly: the native sample at the stream\'s uniform has F(x) = u', () => {
    const n = 300;
    for (const [sin2w, sqrtS] of designs) {
      const r = weinberg.simulateSync(filled(n, sin2w), { seed: 3, design: [sqrtS] });
      const c = weinbergCoefficients(sin2w, sqrtS);
      const density = (x: number) => 0.375 * (1 + x * x + (c.A1 / c.A0) * x);
      // |F(x) − u| is at most the float32 rounding of x (half an ulp, ≤ 2^−24 |x|) times the density
      const excess = Array.from(r.x, (x, i) => {
        const u = philoxUniforms(3, i, 1)[0];
        return Math.abs(weinbergCdf(x, sin2w, sqrtS) - u) - (2 ** -24 * Math.abs(x) * density(x) + 1e-15);
      });
      expect(Math.max(...excess)).toBeLessThan(0);
    }
  });

  it('agrees with the rejection-sampling oracle (two-sample KS, alpha 1e-4)', () => {
    const n = 100_000;
    for (const [i, [sin2w, sqrtS]] of [[0.2312, 88], [0.3, 100]].entries()) {
      const r = weinberg.simulateSync(filled(n, sin2w), { seed: 200 + i, design: [sqrtS] });
      const o = weinbergSimulate(sin2w, sqrtS, n, 200 + i);
      expect(ksTwoSampleStatistic(r.x, o)).toBeLessThan(ksCritical(n / 2));
    }
  });

  it('returns gold equal to the analytic log p(x|θ), its score and the log-ratio, at the returned x', () => {
    const n = 2000;
    for (const [sin2w, sqrtS] of designs) {
      const r = weinberg.simulateSync(filled(n, sin2w), { seed: 4, design: [sqrtS], thetaRef: Float64Array.of(0.27) });
      const ll = Array.from(r.x, (x) => weinbergLogPdf(x, sin2w, sqrtS));
      expect(maxError(r.gold!.jointLogLikelihood, ll)).toBeLessThan(1e-12);
      expect(maxError(r.gold!.jointScore, Array.from(r.x, (x) => weinbergScore(x, sin2w, sqrtS)), 1)).toBeLessThan(1e-11);
      const ratio = Array.from(r.x, (x, i) => ll[i] - weinbergLogPdf(x, 0.27, sqrtS));
      expect(maxError(r.gold!.jointLogRatio!, ratio)).toBeLessThan(1e-12);
    }
  });

  it('has a score matching central finite differences (analytic and through thetaRef = θ ± h)', () => {
    const h = 1e-6;
    for (const [sin2w, sqrtS] of designs) {
      for (const x of [-1, -0.7, -0.1, 0.2, 0.55, 1]) {
        const fd = (weinbergLogPdf(x, sin2w + h, sqrtS) - weinbergLogPdf(x, sin2w - h, sqrtS)) / (2 * h);
        expect(Math.abs(weinbergScore(x, sin2w, sqrtS) - fd)).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
      }
      const n = 500;
      const theta = filled(n, sin2w);
      const plus = weinberg.simulateSync(theta, { seed: 8, design: [sqrtS], thetaRef: Float64Array.of(sin2w + h) });
      const minus = weinberg.simulateSync(theta, { seed: 8, design: [sqrtS], thetaRef: Float64Array.of(sin2w - h) });
      expect(firstDifference(plus.x, minus.x)).toBe(-1);
      const fd = minus.gold!.jointLogRatio!.map((m, i) => (m - plus.gold!.jointLogRatio![i]) / (2 * h));
      expect(maxError(plus.gold!.jointScore, fd, 1)).toBeLessThan(1e-6);
    }
  });

  it('has E[score] = 0 at the generating θ (5 standard errors)', () => {
    const n = 200_000;
    for (const [i, [sin2w, sqrtS]] of designs.slice(0, 3).entries()) {
      const r = weinberg.simulateSync(filled(n, sin2w), { seed: 300 + i, design: [sqrtS], gold: true });
      const s = meanAndStandardError(r.gold!.jointScore);
      expect(Math.abs(s.mean)).toBeLessThan(5 * s.se);
    }
  });

  it('exposes log p(x|θ) as the task likelihood, √s from `design` or M_Z by default', () => {
    const task = TASKS.find((t) => t.name === 'weinberg')!;
    const theta = Float64Array.of(0.2, 0.3, 0.3);
    const x = Float64Array.of(0.5, -0.25, 1.5);
    const atPole = task.logLikelihood!(theta, x);
    expect(atPole[0]).toBe(weinbergLogPdf(0.5, 0.2, Z_MASS));
    expect(atPole[2]).toBe(-Infinity);
    const offPole = task.logLikelihood!(theta, x, Float64Array.of(70));
    expect(offPole[1]).toBe(weinbergLogPdf(-0.25, 0.3, 70));
    expect(() => task.logLikelihood!(theta, x, Float64Array.of(70, 80))).toThrow(RangeError);
    expect(() => task.logLikelihood!(Float64Array.of(1.2), Float64Array.of(0))).toThrow(/sin²θ_W in \(0, 1\)/);
  });

  it('throws a clear error for a missing, wrongly sized or non-finite design', () => {
    const theta = filled(4, 0.23);
    expect(() => weinberg.simulateSync(theta, { seed: 1 })).toThrow(TypeError);
    expect(() => weinberg.simulateSync(theta, { seed: 1 })).toThrow(/weinberg needs `design` \(1 values\)/);
    expect(() => weinberg.simulateSync(theta, { seed: 1, design: [91, 92] })).toThrow(RangeError);
    expect(() => weinberg.simulateSync(theta, { seed: 1, design: [91, 92] })).toThrow(/Expected 1 values for `design`/);
    expect(() => weinberg.simulateSync(theta, { seed: 1, design: [] })).toThrow(/Expected 1 values for `design`/);
    expect(() => weinberg.simulateSync(theta, { seed: 1, design: [NaN] })).toThrow(/finite values in `design`/);
    expect(() => weinberg.simulateSync(theta, { seed: 1, design: [Infinity] })).toThrow(RangeError);
    // the native boundary re-checks what it is handed directly
    const raw = { name: 'weinberg', theta, n: 4, seed: 1, x: new Float32Array(4), failed: new Uint8Array(4) };
    expect(() => native.simulate(raw)).toThrow(/needs `design`/);
    expect(() => native.simulate({ ...raw, design: Float64Array.of(91, 92) })).toThrow(/design/);
    expect(() => native.simulate({ ...raw, design: Float64Array.of(-Infinity) })).toThrow(/finite values in `design`/);
    // and a simulator without design variables refuses one
    expect(() => galton.simulateSync(filled(4, 0), { seed: 1, design: [91] })).toThrow(SbiError);
  });

  it('flags rows with sin²θ_W outside (0, 1), θ_ref outside (0, 1) or √s ≤ 0 as failed (NaN x)', () => {
    const theta = Float64Array.of(0.23, 0, 1, 1.5, 0.23);
    const r = weinberg.simulateSync(theta, { seed: 1, design: [91] });
    expect(Array.from(r.failed)).toEqual([0, 1, 1, 1, 0]);
    expect(r.failedCount).toBe(3);
    expect(Number.isNaN(r.x[1])).toBe(true);
    const badRef = weinberg.simulateSync(filled(2, 0.23), { seed: 1, design: [91], thetaRef: Float64Array.of(0.3, -0.1) });
    expect(Array.from(badRef.failed)).toEqual([0, 1]);
    const badEnergy = weinberg.simulateSync(filled(3, 0.23), { seed: 1, design: [0] });
    expect(badEnergy.failedCount).toBe(3);
  });
});

describe('physics simulators: determinism', () => {
  const cases: Array<{ sim: NativeSimulator; theta: Float64Array; thetaRef: Float64Array; design?: number[] }> = [
    {
      sim: galton,
      theta: new Float64Array(20_000).map((_, i) => Math.sin(i) * 0.99),
      thetaRef: new Float64Array(20_000).map((_, i) => Math.cos(i) * 0.99),
    },
    {
      sim: weinberg,
      theta: new Float64Array(20_000).map((_, i) => 0.25 + 0.14 * Math.sin(i)),
      thetaRef: new Float64Array(20_000).map((_, i) => 0.25 + 0.14 * Math.cos(i)),
      design: [89.5],
    },
  ];
  for (const { sim, theta, thetaRef, design } of cases) {
    it(`${sim.name}: identical x and gold for threads 1 and 2 and on every ISA path`, async () => {
      const run = (threads: number) =>
        sim.simulateSync(theta, { seed: 42n, streamOffset: 7, threads, thetaRef, ...(design ? { design } : {}) });
      const reference = run(1);
      expect(reference.failedCount).toBe(0);
      const outputs = [run(2)];
      for (const isa of availableIsas()) {
        setIsa(isa);
        outputs.push(run(1), run(2));
      }
      setIsa('auto');
      outputs.push(await sim.simulate(theta, { seed: 42n, streamOffset: 7, thetaRef, ...(design ? { design } : {}) }));
      for (const out of outputs) {
        expect(firstDifference(out.x, reference.x)).toBe(-1);
        expect(firstDifference(out.gold!.jointLogLikelihood, reference.gold!.jointLogLikelihood)).toBe(-1);
        expect(firstDifference(out.gold!.jointScore, reference.gold!.jointScore)).toBe(-1);
        expect(firstDifference(out.gold!.jointLogRatio!, reference.gold!.jointLogRatio!)).toBe(-1);
      }
    });
  }
});
