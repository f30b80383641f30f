// The sbibm tasks: native simulators against independent TypeScript oracles (KS per dimension,
// means and covariances), exact likelihoods (normalisation, agreement with simulations and
// closed forms), determinism across threads and ISA paths, dimensions, and sbibm's stored
// observation 1 under the simulator at its true parameters.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { NativeSimulator } from '../src/simulators/simulator.js';
import { TASKS } from '../src/tasks/registry.js';
import type { TaskDefinition } from '../src/tasks/task.js';
import { bernoulliGlmPriorPrecision } from '../src/tasks/bernoulli_glm.js';
import { ORACLES } from './oracles/index.js';
import { Rng } from './oracles/rng.js';
import {
  ALPHA,
  column,
  gammaP,
  ksCritical,
  ksStatistic,
  ksTwoSampleStatistic,
  moments,
  normalQuantile,
} from './helpers/statistics.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ISA_ORDER = ['scalar', 'avx2', 'avx512'] as const;
const availableIsas = ISA_ORDER.slice(0, ISA_ORDER.indexOf(native.runtimeInfo().detectedIsa as (typeof ISA_ORDER)[number]) + 1);

interface Observation {
  trueParameters: number[];
  observation: number[];
}
const OBSERVATION_1 = (
  JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'sbibm_observation_1.json'), 'utf8')) as {
    tasks: Record<string, Observation>;
  }
).tasks;
const PERMUTATION = (
  JSON.parse(fs.readFileSync(path.join(here, '../data/sbibm/slcp_distractors/files/permutation.json'), 'utf8')) as {
    permutation_idx: number[];
  }
).permutation_idx;
const DESIGN = Float64Array.from(
  fs
    .readFileSync(path.join(here, '../data/sbibm/bernoulli_glm/files/bernoulli_glm_design_matrix.csv'), 'utf8')
    .trim()
    .split(/[\n,]/)
    .map((v) => Math.fround(Number(v))), // sbibm's X is float32; the CSV prints it to 9 digits
);

const task = (name: string): TaskDefinition => {
  const t = TASKS.find((d) => d.name === name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
};

/** θ repeated n times, [n, d]. */
function repeatRows(theta: number[], n: number): Float64Array {
  const out = new Float64Array(n * theta.length);
  for (let i = 0; i < n; i++) out.set(theta, i * theta.length);
  return out;
}

function simulateNative(t: TaskDefinition, theta: number[], n: number, seed: number): Float32Array {
  const r = new NativeSimulator(t.simulator).simulateSync(repeatRows(theta, n), { seed });
  expect(r.failedCount).toBe(0);
  return r.x;
}

// Fixed parameters per task; observation 1's true parameters are always included.
const CASES: Record<string, { thetas: number[][]; n: number }> = {
  two_moons: { thetas: [[0.3, -0.4]], n: 20_000 },
  gaussian_linear: { thetas: [[0.5, -0.3, 0.1, 0, 0.9, -1.2, 0.25, 0.4, -0.05, 0.7]], n: 20_000 },
  gaussian_linear_uniform: { thetas: [], n: 20_000 },
  gaussian_mixture: { thetas: [[2.5, -7]], n: 20_000 },
  slcp: { thetas: [[0.5, -1, 1.2, -0.7, -0.8]], n: 20_000 },
  slcp_distractors: { thetas: [], n: 10_000 },
  bernoulli_glm: { thetas: [[-1, 0.8, 0.5, 0.2, -0.1, -0.4, -0.3, 0, 0.2, 0.1]], n: 10_000 },
  bernoulli_glm_raw: { thetas: [], n: 10_000 },
};

// Columns compared by moments. slcp_distractors' noise is Student-t with 2 degrees of freedom
// (infinite variance, so sample moments do not settle): only its 8 SLCP columns.
function momentColumns(t: TaskDefinition): number[] {
  if (t.name === 'slcp_distractors') return Array.from({ length: 8 }, (_, j) => PERMUTATION.indexOf(j));
  return Array.from({ length: t.xDim }, (_, j) => j);
}

// The ODE tasks (test/ode.test.ts) and the physics toys (test/physics.test.ts) are tested elsewhere.
describe.each(TASKS.filter((t) => t.name in CASES).map((t) => [t.name, t] as const))('task %s', (name, t) => {
  afterEach(() => native.setIsa('auto'));
  const thetas = [OBSERVATION_1[name].trueParameters, ...CASES[name].thetas];
  const n = CASES[name].n;

  it('matches the registered simulator and sbibm\'s dimensions', () => {
    const info = native.simulators().find((s) => s.name === t.simulator);
    expect(info).toBeDefined();
    expect([info!.thetaDim, info!.xDim, info!.designDim, info!.gold]).toEqual([t.thetaDim, t.xDim, t.design.length, t.gold]);
    expect(OBSERVATION_1[name].trueParameters.length).toBe(t.thetaDim);
    expect(OBSERVATION_1[name].observation.length).toBe(t.xDim);
  });

  it.each(thetas.map((th, k) => [k, th] as const))(
    'matches the TypeScript oracle at θ #%i: per-dimension KS at α = 1e-4 (Bonferroni), means and covariances',
    (k, theta) => {
      const a = simulateNative(t, theta, n, 1000 + k);
      const b = ORACLES[name](repeatRows(theta, n), n, 2000 + k);
      const d = t.xDim;
      const crit = ksCritical(n / 2, ALPHA / d);
      for (let j = 0; j < d; j++) {
        const D = ksTwoSampleStatistic(column(a, d, j), column(b, d, j));
        expect(D, `KS statistic of x_${j + 1}`).toBeLessThan(crit);
      }
      const cols = momentColumns(t);
      const diagonalOnly = cols.length > 10;
      const ma = moments(a, d, cols, diagonalOnly);
      const mb = moments(b, d, cols, diagonalOnly);
      const c = cols.length;
      const zMean = normalQuantile(1 - ALPHA / c / 2);
      for (let j = 0; j < c; j++) {
        const se = Math.hypot(ma.meanSe[j], mb.meanSe[j]);
        expect(Math.abs(ma.mean[j] - mb.mean[j]), `mean of x_${cols[j] + 1}`).toBeLessThanOrEqual(zMean * se + 1e-12);
      }
      const entries = diagonalOnly ? c : (c * (c + 1)) / 2;
      const zCov = normalQuantile(1 - ALPHA / entries / 2);
      for (let p = 0; p < c; p++) {
        for (let q = diagonalOnly ? p : 0; q <= p; q++) {
          const e = p * c + q;
          const se = Math.hypot(ma.covSe[e], mb.covSe[e]);
          expect(Math.abs(ma.cov[e] - mb.cov[e]), `cov(x_${cols[p] + 1}, x_${cols[q] + 1})`).toBeLessThanOrEqual(zCov * se + 1e-12);
        }
      }
    },
  );

  it('gives bit-identical x for 1 and 2 threads and on every ISA path', () => {
    const rows = 3000;
    const rng = new Rng(7);
    const theta = new Float64Array(rows * t.thetaDim);
    // Spread θ over a box the prior puts most of its mass in (±1 for the Gaussian priors).
    const half = t.prior.kind === 'boxUniform' ? t.prior.high[0] : 1;
    for (let i = 0; i < theta.length; i++) theta[i] = half * (2 * rng.uniform() - 1);
    const sim = new NativeSimulator(t.simulator);
    const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const ref = bytes(sim.simulateSync(theta, { seed: 99, threads: 1 }).x);
    expect(bytes(sim.simulateSync(theta, { seed: 99, threads: 2 }).x).equals(ref)).toBe(true);
    for (const isa of availableIsas) {
      native.setIsa(isa);
      expect(bytes(sim.simulateSync(theta, { seed: 99, threads: 2 }).x).equals(ref), isa).toBe(true);
    }
  });

  it('puts sbibm\'s observation 1 within the marginal ranges simulated at its true parameters', () => {
    const { trueParameters, observation } = OBSERVATION_1[name];
    const x = simulateNative(t, trueParameters, n, 31);
    for (let j = 0; j < t.xDim; j++) {
      const c = column(x, t.xDim, j);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of c) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(observation[j], `x_${j + 1}`).toBeGreaterThanOrEqual(lo);
      expect(observation[j], `x_${j + 1}`).toBeLessThanOrEqual(hi);
    }
  });

  if (t.logLikelihood) {
    const logLikelihood = t.logLikelihood;
    it('gives observation 1 a log-likelihood above the 0.1% quantile of simulations at its true parameters', () => {
      const { trueParameters, observation } = OBSERVATION_1[name];
      const x = simulateNative(t, trueParameters, n, 32);
      const ll = logLikelihood(repeatRows(trueParameters, n), x);
      const llObs = logLikelihood(Float64Array.from(trueParameters), observation)[0];
      const sorted = Float64Array.from(ll).sort();
      expect(llObs).toBeGreaterThan(sorted[Math.floor(0.001 * n)]);
    });

    it('rejects θ and x with mismatched rows', () => {
      expect(() => logLikelihood(new Float64Array(2 * t.thetaDim), new Float64Array(3 * t.xDim))).toThrow(RangeError);
    });
  }
});

/**
 * ∫∫ exp(log p(x | θ)) dx over [a0, a1] × [b0, b1] by the midpoint rule with `steps` cells a
 * side, where x = complete(a, b) fills the task's x from the two integrated coordinates.
 */
function integrate2d(
  t: TaskDefinition, theta: number[], a0: number, a1: number, b0: number, b1: number, steps: number,
  complete: (a: number, b: number) => number[] = (a, b) => [a, b],
): number {
  const ha = (a1 - a0) / steps;
  const hb = (b1 - b0) / steps;
  const thetaRows = repeatRows(theta, steps);
  const x = new Float64Array(steps * t.xDim);
  let sum = 0;
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < steps; j++) x.set(complete(a0 + (i + 0.5) * ha, b0 + (j + 0.5) * hb), j * t.xDim);
    for (const v of t.logLikelihood!(thetaRows, x)) sum += Math.exp(v);
  }
  return sum * ha * hb;
}

/** Simulated frequencies of boxes [a0, a1] × [b0, b1] agree with the likelihood's mass (5σ). */
function expectBoxMassesMatch(t: TaskDefinition, theta: number[], boxes: number[][], n: number): void {
  const x = simulateNative(t, theta, n, 41);
  const z = normalQuantile(1 - ALPHA / boxes.length / 2);
  for (const [a0, a1, b0, b1] of boxes) {
    const mass = integrate2d(t, theta, a0, a1, b0, b1, 400);
    let count = 0;
    for (let i = 0; i < n; i++) if (x[2 * i] >= a0 && x[2 * i] < a1 && x[2 * i + 1] >= b0 && x[2 * i + 1] < b1) count++;
    const se = Math.sqrt((mass * (1 - mass)) / n);
    expect(Math.abs(count / n - mass), `box ${[a0, a1, b0, b1]}: mass ${mass}`).toBeLessThanOrEqual(z * se + 1e-9);
  }
}

describe('two_moons likelihood', () => {
  const t = task('two_moons');
  it('integrates to 1 over x (polar density with Jacobian 1/(π ρ))', () => {
    for (const theta of [[0.3, -0.4], [-0.8, -0.6], [0, 0]]) {
      // The density lives on a ring of radius 0.1 around c(θ) + (0.25, 0).
      const cx = 0.25 - Math.abs(theta[0] + theta[1]) / Math.SQRT2;
      const cy = (theta[1] - theta[0]) / Math.SQRT2;
      const mass = integrate2d(t, theta, cx - 0.16, cx + 0.16, cy - 0.16, cy + 0.16, 800);
      expect(mass).toBeCloseTo(1, 5);
    }
  });

  it('gives boxes the probability mass of the simulations', () => {
    const theta = [0.3, -0.4];
    const cx = 0.25 - Math.abs(theta[0] + theta[1]) / Math.SQRT2;
    const cy = (theta[1] - theta[0]) / Math.SQRT2;
    const boxes = [
      [cx + 0.08, cx + 0.12, cy - 0.03, cy + 0.03],
      [cx, cx + 0.06, cy + 0.05, cy + 0.12],
      [cx - 0.02, cx + 0.04, cy - 0.12, cy - 0.07],
      [cx + 0.05, cx + 0.09, cy - 0.09, cy - 0.04],
    ];
    expectBoxMassesMatch(t, theta, boxes, 200_000);
  });

  it('is sbibm\'s _likelihood (log φ(ρ)) minus log π + log ρ, and finite for u < 0 (r < 0)', () => {
    const theta = [0.3, -0.4];
    const cx = 0.25 - Math.abs(theta[0] + theta[1]) / Math.SQRT2;
    const cy = (theta[1] - theta[0]) / Math.SQRT2;
    const sbibmLogPhi = (rho: number) => -0.5 * ((rho - 0.1) / 0.01) ** 2 - 0.5 * Math.log(2 * Math.PI * 0.01 ** 2);
    for (const [u, v] of [[0.1, 0], [0.06, 0.08], [0.02, -0.11], [0.001, 0.09]]) {
      const rho = Math.hypot(u, v);
      const ll = t.logLikelihood!(Float64Array.from(theta), [cx + u, cy + v])[0];
      expect(ll).toBeCloseTo(sbibmLogPhi(rho) - Math.log(Math.PI) - Math.log(rho), 9);
    }
    // Left half-plane: the density of r at −ρ, which sbibm sets to 0.
    const ll = t.logLikelihood!(Float64Array.from(theta), [cx - 0.1, cy])[0];
    expect(ll).toBeCloseTo(sbibmLogPhi(-0.1) - Math.log(Math.PI) - Math.log(0.1), 9);
  });
});

describe('gaussian_mixture likelihood', () => {
  const t = task('gaussian_mixture');
  it('integrates to 1 over x', () => {
    for (const theta of [[2.5, -7], [0, 0]]) {
      const mass = integrate2d(t, theta, theta[0] - 8, theta[0] + 8, theta[1] - 8, theta[1] + 8, 1200);
      expect(mass).toBeCloseTo(1, 6);
    }
  });

  it('gives boxes the probability mass of the simulations', () => {
    const theta = [2.5, -7];
    const boxes = [
      [2.4, 2.6, -7.1, -6.9],
      [2.5, 3.5, -7, -6],
      [0, 2, -9, -7.5],
      [3.2, 5, -6.5, -4],
    ];
    expectBoxMassesMatch(t, theta, boxes, 100_000);
  });
});

describe('gaussian_linear likelihood', () => {
  it('equals the sum of ten univariate N(θ_i, 0.1) log densities, for both tasks', () => {
    const rng = new Rng(3);
    const theta = Float64Array.from({ length: 50 }, () => rng.normal());
    const x = Float64Array.from({ length: 50 }, () => rng.normal());
    for (const name of ['gaussian_linear', 'gaussian_linear_uniform']) {
      const ll = task(name).logLikelihood!(theta, x);
      for (let i = 0; i < 5; i++) {
        let want = 0;
        for (let j = 0; j < 10; j++) {
          const z = (x[10 * i + j] - theta[10 * i + j]) / Math.sqrt(0.1);
          want += -0.5 * z * z - 0.5 * Math.log(2 * Math.PI * 0.1);
        }
        expect(ll[i]).toBeCloseTo(want, 10);
      }
    }
  });

  it('turns simulations into χ²(10) deviances: 2 (log p_max − log p(x | θ))', () => {
    const t = task('gaussian_linear');
    const theta = [0.5, -0.3, 0.1, 0, 0.9, -1.2, 0.25, 0.4, -0.05, 0.7];
    const n = 20_000;
    const x = simulateNative(t, theta, n, 51);
    const ll = t.logLikelihood!(repeatRows(theta, n), x);
    const llMax = t.logLikelihood!(Float64Array.from(theta), theta)[0];
    const dev = ll.map((v) => 2 * (llMax - v));
    expect(ksStatistic(dev, (y) => gammaP(5, y / 2))).toBeLessThan(ksCritical(n));
  });
});

describe('slcp likelihood', () => {
  const t = task('slcp');
  const theta = [0.5, -1, 1.2, -0.7, -0.8];

  it('turns simulations into χ²(8) deviances: 2 (log p_max − log p(x | θ))', () => {
    const n = 20_000;
    const x = simulateNative(t, theta, n, 61);
    const ll = t.logLikelihood!(repeatRows(theta, n), x);
    const llMax = t.logLikelihood!(Float64Array.from(theta), [theta[0], theta[1], theta[0], theta[1], theta[0], theta[1], theta[0], theta[1]])[0];
    const dev = ll.map((v) => 2 * (llMax - v));
    expect(ksStatistic(dev, (y) => gammaP(4, y / 2))).toBeLessThan(ksCritical(n));
  });

  it('integrates over one draw to the density of the other three', () => {
    // Draws 2..4 at the mean: each contributes the peak density 1 / (2π √det S).
    const s1 = theta[2] ** 2;
    const s2 = theta[3] ** 2;
    const rho = Math.tanh(theta[4]);
    const det = (s1 * s1 + 1e-6) * (s2 * s2 + 1e-6) - (rho * s1 * s2) ** 2;
    const peak = 1 / (2 * Math.PI * Math.sqrt(det));
    const complete = (a: number, b: number) => [a, b, theta[0], theta[1], theta[0], theta[1], theta[0], theta[1]];
    const h1 = 9 * s1;
    const h2 = 9 * s2;
    const mass = integrate2d(t, theta, theta[0] - h1, theta[0] + h1, theta[1] - h2, theta[1] + h2, 800, complete);
    expect(mass / peak ** 3).toBeCloseTo(1, 6);
  });
});

describe('bernoulli_glm', () => {
  const T = 100;
  const D = 10;
  const psiOf = (beta: number[]) =>
    Array.from({ length: T }, (_, s) => beta.reduce((acc, b, j) => acc + DESIGN[s * D + j] * b, 0));
  const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

  it('has sbibm\'s smoothing prior precision blockdiag(0.5, FᵀF), F = D² + diag(√(i/9))', () => {
    const B = bernoulliGlmPriorPrecision();
    // Entries worked out by hand from F's first columns: (1, −2, 1, 0, ...) and (0, 4/3, −2, 1, 0, ...).
    expect(B[0]).toBe(0.5);
    expect(B.slice(1, 10)).toEqual(new Array(9).fill(0));
    expect(B[1 * 10 + 1]).toBeCloseTo(6, 14);
    expect(B[2 * 10 + 2]).toBeCloseTo(16 / 9 + 4 + 1, 14);
    expect(B[1 * 10 + 2]).toBeCloseTo(-14 / 3, 14);
    expect(B[1 * 10 + 4]).toBe(0);
    expect(B[9 * 10 + 9]).toBeCloseTo((1 + Math.sqrt(8 / 9)) ** 2, 14);
    for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++) expect(B[r * 10 + c]).toBe(B[c * 10 + r]);
  });

  it('stores observation 1 as Xᵀ y of the raw observation (the summaries are Xᵀ y)', () => {
    const y = OBSERVATION_1.bernoulli_glm_raw.observation;
    const x = OBSERVATION_1.bernoulli_glm.observation;
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let i = 0; i < T; i++) s += DESIGN[i * D + j] * y[i];
      expect(s).toBeCloseTo(x[j], 4);
    }
  });

  it('spikes in each bin with probability σ((Xβ)_t)', () => {
    const beta = [-1, 0.8, 0.5, 0.2, -0.1, -0.4, -0.3, 0, 0.2, 0.1];
    const n = 40_000;
    const y = simulateNative(task('bernoulli_glm_raw'), beta, n, 71);
    const psi = psiOf(beta);
    const z = normalQuantile(1 - ALPHA / T / 2);
    for (let s = 0; s < T; s++) {
      let count = 0;
      for (let i = 0; i < n; i++) count += y[i * T + s];
      const p = sigmoid(psi[s]);
      expect(Math.abs(count / n - p), `bin ${s}`).toBeLessThanOrEqual(z * Math.sqrt((p * (1 - p)) / n) + 1e-12);
    }
  });

  it('bernoulli_glm_raw\'s likelihood gives each bin the conditional probability σ(±ψ_t)', () => {
    const t = task('bernoulli_glm_raw');
    const beta = OBSERVATION_1.bernoulli_glm_raw.trueParameters;
    const y = OBSERVATION_1.bernoulli_glm_raw.observation;
    const psi = psiOf(beta);
    const ll = t.logLikelihood!(Float64Array.from(beta), y)[0];
    for (const s of [0, 7, 42, 99]) {
      const flipped = y.slice();
      flipped[s] = 1 - flipped[s];
      const llFlipped = t.logLikelihood!(Float64Array.from(beta), flipped)[0];
      const pY = 1 / (1 + Math.exp(llFlipped - ll));
      expect(pY).toBeCloseTo(y[s] === 1 ? sigmoid(psi[s]) : 1 - sigmoid(psi[s]), 12);
    }
    let want = 0;
    for (let s = 0; s < T; s++) want += Math.log(y[s] === 1 ? sigmoid(psi[s]) : 1 - sigmoid(psi[s]));
    expect(ll).toBeCloseTo(want, 8);
  });

  it('bernoulli_glm_raw\'s likelihood is -Infinity for values other than 0 and 1', () => {
    const y = new Array(T).fill(0);
    y[3] = 0.5;
    expect(task('bernoulli_glm_raw').logLikelihood!(new Float64Array(D), y)[0]).toBe(-Infinity);
  });
});

describe('slcp_distractors', () => {
  it('stores observation 1 as slcp\'s observation 1 under sbibm\'s permutation', () => {
    const mixed = OBSERVATION_1.slcp_distractors.observation;
    const plain = OBSERVATION_1.slcp.observation;
    for (let j = 0; j < 8; j++) expect(mixed[PERMUTATION.indexOf(j)]).toBeCloseTo(plain[j], 5);
  });

  it('has the SLCP values of the same θ in the permuted columns (same distribution as slcp)', () => {
    const theta = [0.5, -1, 1.2, -0.7, -0.8];
    const n = 10_000;
    const a = simulateNative(task('slcp_distractors'), theta, n, 81);
    const b = simulateNative(task('slcp'), theta, n, 82);
    const crit = ksCritical(n / 2, ALPHA / 8);
    for (let j = 0; j < 8; j++) {
      expect(ksTwoSampleStatistic(column(a, 100, PERMUTATION.indexOf(j)), column(b, 8, j))).toBeLessThan(crit);
    }
  });
});

describe('embedded task data', () => {
  it('is what scripts/gen-task-data.mjs generates from data/sbibm (headers up to date)', () => {
    expect(() => execFileSync(process.execPath, [path.join(here, '../scripts/gen-task-data.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});

describe('failed rows', () => {
  it('are flagged and NaN-filled when x overflows float32, leaving the other rows as they were', () => {
    const sim = new NativeSimulator('gaussian_linear');
    const rows = 600;
    const theta = new Float64Array(rows * 10);
    const clean = sim.simulateSync(theta, { seed: 5 });
    for (const bad of [3, 257, 599]) theta[bad * 10 + 4] = 1e39; // beyond float32's 3.4e38
    const r = sim.simulateSync(theta, { seed: 5 });
    expect(r.failedCount).toBe(3);
    for (let i = 0; i < rows; i++) {
      const row = Array.from(r.x.subarray(i * 10, i * 10 + 10));
      if ([3, 257, 599].includes(i)) {
        expect(r.failed[i]).toBe(1);
        expect(row.every(Number.isNaN)).toBe(true);
      } else {
        expect(r.failed[i]).toBe(0);
        expect(row).toEqual(Array.from(clean.x.subarray(i * 10, i * 10 + 10)));
      }
    }
  });
});

describe('bernoulli_glm failed rows', () => {
  it('flags rows whose logits are undefined (X β overflowing with both signs)', () => {
    for (const name of ['bernoulli_glm', 'bernoulli_glm_raw']) {
      const theta = new Float64Array(3 * 10);
      theta.set([0, 1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308], 10);
      const r = new NativeSimulator(name).simulateSync(theta, { seed: 1 });
      expect(Array.from(r.failed), name).toEqual([0, 1, 0]);
    }
  });
});

describe('normal quantiles used above', () => {
  it('match tabulated values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540, 10);
    expect(normalQuantile(1 - 1e-4 / 2)).toBeCloseTo(3.890591886413, 10);
    expect(normalQuantile(1e-4 / 2)).toBeCloseTo(-3.890591886413, 10);
  });
});
