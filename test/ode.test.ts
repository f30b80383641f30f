// The ODE benchmark tasks sir and lotka_volterra: accuracy of the Dormand–Prince solution
// against a Richardson-checked RK4 reference, the full simulators against independent
// TypeScript oracles, determinism (threads, ISA paths, batch neighbours), failed solves, and
// consistency with sbibm's reference observations.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { native, packageRoot } from '../src/native.js';
import { SbiError } from '../src/errors.js';
import { NativeSimulator } from '../src/simulators/simulator.js';
import { TASKS } from '../src/tasks/registry.js';
import type { ReferenceSolution } from './oracles/ode.js';
import { Rng } from './oracles/rng.js';
import { simulateSir, sirLogLikelihood, sirReference } from './oracles/sir.js';
import {
  lotkaVolterraLogLikelihood, lotkaVolterraReference, simulateLotkaVolterra,
} from './oracles/lotka_volterra.js';
import { column, ksCritical, ksTwoSampleStatistic, mean, MOMENT_SE, variance } from './helpers/statistics.js';

interface OdeCase {
  task: 'sir' | 'lotka_volterra';
  thetaDim: number;
  summaryDim: number;
  /** sbibm's log-normal prior */
  loc: number[];
  scale: number[];
  reference: (theta: ArrayLike<number>, tol?: number) => ReferenceSolution;
  oracle: (theta: Float64Array, n: number, seed: number) => Float64Array;
  oracleN: number;
  logLikelihood: (x: ArrayLike<number>, off: number, summary: ArrayLike<number>) => number;
  /** θ for which the explicit solve cannot succeed (stiff, or overflowing) */
  failingTheta: number[];
}

const CASES: OdeCase[] = [
  {
    task: 'sir', thetaDim: 2, summaryDim: 10,
    loc: [Math.log(0.4), Math.log(0.125)], scale: [0.5, 0.2],
    reference: sirReference, oracle: simulateSir, oracleN: 2000,
    logLikelihood: sirLogLikelihood,
    failingTheta: [1e6, 0.1], // infection rate 1e6/day: stiff, more than 1e5 steps
  },
  {
    task: 'lotka_volterra', thetaDim: 4, summaryDim: 20,
    loc: [-0.125, -3, -0.125, -3], scale: [0.5, 0.5, 0.5, 0.5],
    reference: lotkaVolterraReference, oracle: simulateLotkaVolterra, oracleN: 10000,
    logLikelihood: lotkaVolterraLogLikelihood,
    failingTheta: [1e4, 0.1, 1, 0.1], // prey growth 1e4: the solution leaves double range
  },
];

const OBSERVATIONS = [1, 2, 3, 4, 5];
const ISA_ORDER = ['scalar', 'avx2', 'avx512'];
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The single data row of one of sbibm's reference CSV files (copied to data/sbibm). */
function sbibmRow(task: string, k: number, file: string): Float64Array {
  const text = fs.readFileSync(path.join(packageRoot, 'data', 'sbibm', task, `num_observation_${k}`, file), 'utf8');
  return Float64Array.from(text.trim().split('\n')[1]!.split(',').map(Number));
}

function priorDraws(c: OdeCase, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const theta = new Float64Array(n * c.thetaDim);
  for (let i = 0; i < theta.length; i++) {
    const j = i % c.thetaDim;
    theta[i] = Math.exp(c.loc[j]! + c.scale[j]! * rng.normal());
  }
  return theta;
}

function repeatRow(row: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * row.length);
  for (let i = 0; i < n; i++) out.set(Array.from(row), i * row.length);
  return out;
}

function odeSolution(c: OdeCase, theta: Float64Array, rtol?: number): { s: Float64Array; failed: number } {
  const n = theta.length / c.thetaDim;
  const s = new Float64Array(n * c.summaryDim);
  const failed = native.odeSolution(c.task, theta, n, rtol, undefined, s);
  return { s, failed };
}

describe.each(CASES)('$task', (c) => {
  const sim = new NativeSimulator(c.task);
  afterEach(() => native.setIsa('auto'));

  describe('noise-free solution (odeSolution)', () => {
    const truth = OBSERVATIONS.map((k) => sbibmRow(c.task, k, 'true_parameters.csv'));
    const theta = new Float64Array([...truth.flatMap((t) => Array.from(t)), ...priorDraws(c, 40, 2024)]);
    const n = theta.length / c.thetaDim;
    const refs = Array.from({ length: n }, (_, i) => c.reference(theta.subarray(i * c.thetaDim, (i + 1) * c.thetaDim)));

    function worstRelativeError(s: Float64Array): number {
      let worst = 0;
      refs.forEach((r, i) => {
        for (let j = 0; j < c.summaryDim; j++) {
          const exact = r.y[j]!;
          worst = Math.max(worst, Math.abs(s[i * c.summaryDim + j]! - exact) / Math.abs(exact));
        }
      });
      return worst;
    }

    it('has an RK4 reference whose Richardson error estimate is below 1e-9', () => {
      for (const r of refs) expect(r.relError).toBeLessThanOrEqual(1e-9);
    });

    it("matches the reference to 1e-6 relative at sbibm's true parameters and 40 prior draws", () => {
      const { s, failed } = odeSolution(c, theta);
      expect(failed).toBe(0);
      expect(worstRelativeError(s)).toBeLessThanOrEqual(1e-6);
    });

    it('converges to the reference as rtol is tightened', () => {
      const loose = worstRelativeError(odeSolution(c, theta, 1e-6).s);
      const tight = worstRelativeError(odeSolution(c, theta, 1e-10).s);
      expect(tight).toBeLessThan(loose / 100);
      expect(tight).toBeLessThanOrEqual(1e-7);
    });

    it('returns a NaN row and counts it when the solve fails', () => {
      const th = new Float64Array([...truth[0]!, ...c.failingTheta, ...truth[1]!]);
      const { s, failed } = odeSolution(c, th);
      expect(failed).toBe(1);
      const d = c.summaryDim;
      expect(Array.from(s.subarray(d, 2 * d)).every(Number.isNaN)).toBe(true);
      expect(Array.from(s.subarray(0, d)).every(Number.isFinite)).toBe(true);
      expect(Array.from(s.subarray(2 * d)).every(Number.isFinite)).toBe(true);
    });
  });

  describe('simulator', () => {
    it('matches the TypeScript oracle in distribution at the true parameters of observation 1', () => {
      const theta = sbibmRow(c.task, 1, 'true_parameters.csv');
      const n = 10000, m = c.oracleN, d = sim.xDim;
      const native = sim.simulateSync(repeatRow(theta, n), { seed: 5 });
      expect(native.failedCount).toBe(0);
      const oracle = c.oracle(repeatRow(theta, m), m, 5);
      const critical = ksCritical((n * m) / (n + m));
      for (let j = 0; j < d; j++) {
        const a = column(native.x, d, j), b = column(oracle, d, j);
        const se = Math.sqrt(variance(a) / n + variance(b) / m);
        expect(Math.abs(mean(a) - mean(b)), `mean of x_${j + 1}`).toBeLessThanOrEqual(MOMENT_SE * se);
        expect(ksTwoSampleStatistic(a, b), `KS of x_${j + 1}`).toBeLessThanOrEqual(critical);
      }
    });

    it('gives bit-identical x for 1 and 2 threads and on every ISA path', () => {
      const theta = priorDraws(c, 2000, 7);
      const one = sim.simulateSync(theta, { seed: 9, threads: 1 });
      const two = sim.simulateSync(theta, { seed: 9, threads: 2 });
      expect(bits(two.x).equals(bits(one.x))).toBe(true);
      const detected = native.runtimeInfo().detectedIsa;
      for (const isa of ISA_ORDER.slice(0, ISA_ORDER.indexOf(detected) + 1)) {
        native.setIsa(isa);
        expect(bits(sim.simulateSync(theta, { seed: 9 }).x).equals(bits(one.x)), isa).toBe(true);
      }
    });

    it("gives a row the same x whatever the batch's other rows (lanes are independent)", () => {
      const theta = priorDraws(c, 64, 8);
      const batch = sim.simulateSync(theta, { seed: 3 });
      const d = sim.xDim, p = c.thetaDim;
      for (const i of [0, 5, 37, 63]) {
        const alone = sim.simulateSync(theta.slice(i * p, (i + 1) * p), { seed: 3, streamOffset: i });
        expect(bits(alone.x).equals(bits(batch.x.subarray(i * d, (i + 1) * d))), `row ${i}`).toBe(true);
      }
    });

    it('flags a failed solve with a NaN row, counts it, and leaves the other rows alone', () => {
      const ok = sbibmRow(c.task, 2, 'true_parameters.csv');
      const theta = new Float64Array([...ok, ...c.failingTheta, ...ok]);
      const r = sim.simulateSync(theta, { seed: 4 });
      expect(Array.from(r.failed)).toEqual([0, 1, 0]);
      expect(r.failedCount).toBe(1);
      const d = sim.xDim;
      expect(Array.from(r.x.subarray(d, 2 * d)).every(Number.isNaN)).toBe(true);
      const clean = sim.simulateSync(new Float64Array([...ok, ...ok, ...ok]), { seed: 4 });
      expect(bits(r.x.subarray(0, d)).equals(bits(clean.x.subarray(0, d)))).toBe(true);
      expect(bits(r.x.subarray(2 * d)).equals(bits(clean.x.subarray(2 * d)))).toBe(true);
    });

    it('never fails on 5000 prior draws', () => {
      expect(sim.simulateSync(priorDraws(c, 5000, 11), { seed: 1 }).failedCount).toBe(0);
    });

    it.each(OBSERVATIONS)("makes sbibm's observation %i typical at its true parameters", (k) => {
      const theta = sbibmRow(c.task, k, 'true_parameters.csv');
      const observed = sbibmRow(c.task, k, 'observation.csv');
      const n = 4000, d = sim.xDim;
      const r = sim.simulateSync(repeatRow(theta, n), { seed: 100 + k });
      // Every observed value lies within the simulated marginal ranges ...
      for (let j = 0; j < d; j++) {
        const col = column(r.x, d, j);
        expect(observed[j], `x_${j + 1}`).toBeGreaterThanOrEqual(Math.min(...col));
        expect(observed[j], `x_${j + 1}`).toBeLessThanOrEqual(Math.max(...col));
      }
      // ... and its log-likelihood is not in the outer 0.1% of the simulated ones'.
      const s = odeSolution(c, theta).s;
      const observedLogLik = c.logLikelihood(observed, 0, s);
      let below = 0;
      for (let i = 0; i < n; i++) if (c.logLikelihood(r.x, i * d, s) <= observedLogLik) below++;
      expect(below / n).toBeGreaterThan(0.001);
      expect(below / n).toBeLessThan(0.999);
    });
  });
});

describe('odeSolution arguments', () => {
  const out = new Float64Array(10);
  const theta = Float64Array.of(0.4, 0.125);

  it('throws SbiError UNKNOWN_TASK for a task without an ODE', () => {
    expect(() => native.odeSolution('two_moons', theta, 1, undefined, undefined, out)).toThrow(SbiError);
    expect(() => native.odeSolution('two_moons', theta, 1, undefined, undefined, out)).toThrow(/sir, lotka_volterra/);
  });

  it('throws RangeError for theta, out of the wrong length or non-finite theta', () => {
    expect(() => native.odeSolution('sir', new Float64Array(3), 1, undefined, undefined, out)).toThrow(RangeError);
    expect(() => native.odeSolution('sir', theta, 1, undefined, undefined, new Float64Array(9))).toThrow(RangeError);
    expect(() => native.odeSolution('sir', Float64Array.of(0.4, NaN), 1, undefined, undefined, out)).toThrow(/row 0, column 1/);
  });

  it('throws RangeError if rtol or atol is not positive', () => {
    expect(() => native.odeSolution('sir', theta, 1, 0, undefined, out)).toThrow(/`rtol`/);
    expect(() => native.odeSolution('sir', theta, 1, undefined, -1, out)).toThrow(/`atol`/);
  });
});

describe('task definitions', () => {
  it("list sir and lotka_volterra with sbibm's priors and the simulators' dimensions", () => {
    const table = new Map(native.simulators().map((s) => [s.name, s]));
    for (const c of CASES) {
      const def = TASKS.find((t) => t.name === c.task);
      expect(def, c.task).toBeDefined();
      expect(def!.prior).toEqual({ kind: 'logNormal', loc: c.loc, scale: c.scale });
      expect(def!.simulator).toBe(c.task);
      expect(table.get(c.task)).toMatchObject({ thetaDim: def!.thetaDim, xDim: def!.xDim, designDim: 0, gold: false });
      expect(def!.thetaDim).toBe(c.thetaDim);
    }
  });
});
