// Why the sbibm grid's gaussian_mixture cells sat at C2ST ≈ 0.75 (issue 3): not the C2ST nor the
// data (exact posterior samples score 0.5 against sbibm's reference samples) but the estimator:
// an affine MAF, which the grid ran for NPE, drops the posterior's narrow component, and a
// posterior without it scores its Bayes accuracy ≈ 0.77 at observation 1. sbibm ran NPE with NSF
// (SBIBM_DENSITY_ESTIMATORS), which fits it.
import { describe, expect, it } from 'vitest';
import { c2st } from '../src/diagnostics/c2st.js';
import { runMethod, SBIBM_DENSITY_ESTIMATORS } from '../src/inference/methods.js';
import { sample } from '../src/random.js';
import { getTask, referenceObservation, referencePosteriorSamples } from '../src/tasks/index.js';
import { normalCdf } from './helpers/statistics.js';

// p(θ | x) ∝ 1[θ ∈ [−10, 10]²] (½ N(θ; x, I) + ½ N(θ; x, 0.01 I)): the narrow component lies wholly
// inside the box at observation 1 (x₁ = −9.47 is 5.3 of its σ = 0.1 from the edge, mass outside
// < 1e-7), the wide one has box mass Z. So the posterior is a·N(x, 0.01 I) + (1 − a)·q with
// a = 1 / (1 + Z) and q = N(x, I) truncated to the box.
const NARROW_SD = 0.1;
const x = referenceObservation('gaussian_mixture', 1);
const Z = [0, 1].reduce((m, j) => m * (normalCdf(10 - x[j]!) - normalCdf(-10 - x[j]!)), 1);
const a = 1 / (1 + Z);

/** n exact posterior draws ([n, 2]) at observation 1: draw from the mixture, keep those in the box. */
function exactPosterior(n: number, narrow: boolean, seed: number): Float64Array {
  const out = new Float64Array(2 * n);
  for (let kept = 0, stream = 0; kept < n; stream++) {
    const candidates = 2 * n;
    const u = sample({ kind: 'uniform', low: 0, high: 1 }, candidates, { seed, streamOffset: stream * 3 * candidates });
    const z = sample({ kind: 'normal', loc: 0, scale: 1 }, 2 * candidates, { seed, streamOffset: (stream * 3 + 1) * candidates });
    for (let i = 0; i < candidates && kept < n; i++) {
      const sd = narrow && u[i]! < 0.5 ? NARROW_SD : 1;
      const t0 = x[0]! + sd * z[2 * i]!, t1 = x[1]! + sd * z[2 * i + 1]!;
      if (Math.abs(t0) > 10 || Math.abs(t1) > 10) continue;
      out[2 * kept] = t0;
      out[2 * kept + 1] = t1;
      kept++;
    }
  }
  return out;
}

/** Posterior mass within radius r of x (both components radial about x; r ≪ distance to the box). */
const massWithin = (r: number) => a * (1 - Math.exp(-(r * r) / (2 * NARROW_SD ** 2))) + ((1 - a) * (1 - Math.exp(-(r * r) / 2))) / Z;

/** Fraction of the rows of s [n, 2] within r of x. */
function fractionWithin(s: Float64Array, r: number): number {
  let k = 0;
  for (let i = 0; i < s.length / 2; i++) if (Math.hypot(s[2 * i]! - x[0]!, s[2 * i + 1]! - x[1]!) < r) k++;
  return k / (s.length / 2);
}

// As in c2st.test.ts: every row is scored once by a classifier that did not see it, so the
// accuracy's standard error is sqrt(p (1 − p) / (2 N)); tolerance 5 of them, plus (below a
// Bayes accuracy above 1/2) 0.03 for a classifier trained on 1600 rows learning a disc of
// radius 0.29 (0.6 in the z-scored units).
const N = 1000;
const se = (p: number) => Math.sqrt((p * (1 - p)) / (2 * N));

describe('C2ST on gaussian_mixture (sbibm reference, observation 1)', () => {
  const reference = referencePosteriorSamples('gaussian_mixture', 1).samples.subarray(0, 2 * N);

  it('the reference samples are the exact posterior: exact draws score 1/2', async () => {
    const acc = await c2st(reference, exactPosterior(N, true, 1), 2, { seed: 1 });
    expect(Math.abs(acc - 0.5), `C2ST ${acc}`).toBeLessThan(5 * se(0.5));
  });

  it('a posterior without the narrow component scores its Bayes accuracy ≈ 0.77', async () => {
    // p = a·n + (1 − a)·q against q: TV(p, q) = a·TV(n, q); n > q on the disc ‖θ − x‖ < r*,
    // where (1 / 0.01) exp(−r² / 0.02) = exp(−r² / 2) / Z, so TV(n, q) = P_n(r*) − P_q(r*).
    const r2 = Math.log(Z / NARROW_SD ** 2) / (1 / (2 * NARROW_SD ** 2) - 0.5);
    const tv = a * ((1 - Math.exp(-r2 / (2 * NARROW_SD ** 2))) - (1 - Math.exp(-r2 / 2)) / Z);
    const bayes = 0.5 + 0.5 * tv;
    expect(bayes).toBeGreaterThan(0.76);
    const acc = await c2st(reference, exactPosterior(N, false, 2), 2, { seed: 1 });
    expect(acc, `C2ST ${acc} vs Bayes ${bayes}`).toBeGreaterThan(bayes - 5 * se(bayes) - 0.03);
    expect(acc, `C2ST ${acc} vs Bayes ${bayes}`).toBeLessThan(bayes + 5 * se(bayes));
  });
});

describe("NPE with sbibm's density estimator on gaussian_mixture", () => {
  // The exact posterior puts massWithin(0.2) ≈ 0.52 within 0.2 of x, its wide component alone
  // (1 − e^{−0.02}) / Z ≈ 0.03. Estimators trained on 4000 simulations for 40 epochs (a short
  // version of the grid's runs, deterministic for the seed; at 10⁴ simulations and early stopping
  // NSF puts 0.41 there, MAF 0.08). The threshold 0.1 separates the two by more than 5 standard
  // errors (≤ 0.009 for a fraction of 2000 samples): NSF 0.17, MAF 0.04.
  const R = 0.2;
  const run = (densityEstimator: 'maf' | 'nsf') =>
    runMethod(getTask('gaussian_mixture'), { method: 'npe', budget: 4000, maxEpochs: 40, x, samples: 2000, seed: 1001, densityEstimator });

  it('is NSF, which fits the narrow component that an affine MAF drops', async () => {
    expect(SBIBM_DENSITY_ESTIMATORS.npe).toBe('nsf');
    expect(massWithin(R)).toBeGreaterThan(0.5);
    const nsf = fractionWithin((await run('nsf')).samples, R);
    const maf = fractionWithin((await run('maf')).samples, R);
    expect(maf, `MAF ${maf}`).toBeLessThan(0.1);
    expect(nsf, `NSF ${nsf}, MAF ${maf}`).toBeGreaterThan(0.1);
  });
});
