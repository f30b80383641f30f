// Calibration of NPE (MAF) on gaussian_linear: trains on a simulation budget, then runs SBC and
// expected coverage on fresh prior-predictive pairs, next to the exact conjugate posterior
// N(x / 2, 0.05 I) as the baseline measured in the same run.
// Run: npx tsx bench/calibration_npe.ts [simulations=2000] [observations=300] [samplesPerObservation=199] [seed=1]
import { coverageFromRanks, sbc } from '../src/diagnostics/calibration.js';
import type { CalibrationPosterior } from '../src/diagnostics/calibration.js';
import { NPE } from '../src/inference/npe.js';
import { PhiloxStream } from '../src/random/philox.js';
import { runtimeInfo } from '../src/runtime.js';
import { getTask, simulateFromPrior } from '../src/tasks/index.js';
import { GAUSSIAN_LINEAR_DIM, GAUSSIAN_LINEAR_VARIANCE } from '../src/tasks/gaussian_linear.js';

const [budget, observations, L, seed] = [2000, 300, 199, 1].map((d, k) => Number(process.argv[2 + k] ?? d)) as [number, number, number, number];
const D = GAUSSIAN_LINEAR_DIM;
const task = getTask('gaussian_linear');

// Prior and noise variance v: θ | x ~ N(x / 2, v / 2 · I).
const exactVariance = GAUSSIAN_LINEAR_VARIANCE / 2;
const exact: CalibrationPosterior = {
  sample(n, { x, seed: s }) {
    const rng = new PhiloxStream(s, 0);
    return Float64Array.from({ length: n * D }, (_, k) => x[k % D]! / 2 + Math.sqrt(exactVariance) * rng.normal());
  },
  logProb(theta, { x }) {
    return Float64Array.from({ length: theta.length / D }, (_, i) => {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += (theta[i * D + d]! - x[d]! / 2) ** 2;
      return -ss / (2 * exactVariance);
    });
  },
};

const t0 = performance.now();
const sims = await simulateFromPrior(task, budget, { seed });
const npe = new NPE({ prior: task.prior });
npe.appendSimulations(sims.theta, sims.x);
const summary = await npe.train({ seed });
const trainSeconds = (performance.now() - t0) / 1000;
// Fresh pairs for the diagnostics (a different seed from the training simulations).
const test = await simulateFromPrior(task, observations, { seed: seed + 1000 });

const rows: Record<string, string | number>[] = [];
for (const [name, posterior] of [['exact', exact], ['NPE/maf', npe.buildPosterior()]] as const) {
  const t1 = performance.now();
  const r = await sbc(posterior, { theta: test.theta, x: test.x, xDim: D, samplesPerObservation: L, bins: 10, seed });
  const cov = coverageFromRanks(r.logProbRanks!, L);
  const pValues = r.dimensions.map((u) => u.pValue);
  rows.push({
    posterior: name,
    sbcMinPValue: Math.min(...pValues).toPrecision(3),
    sbcDimsBelow1e3: pValues.filter((p) => p < 1e-3).length,
    hpdRankPValue: r.logProb!.pValue.toPrecision(3),
    hpdRankMean: r.logProb!.mean.toFixed(3),
    coverageError: cov.calibrationError.toFixed(3),
    coverage50: cov.coverage[9]!.toFixed(3),
    coverage90: cov.coverage[17]!.toFixed(3),
    levelsNotConservative: cov.conservative.filter((c) => !c).length,
    seconds: ((performance.now() - t1) / 1000).toFixed(2),
  });
}
console.log(JSON.stringify({
  task: 'gaussian_linear', simulations: budget, observations, samplesPerObservation: L, seed,
  threads: runtimeInfo().defaultThreads, trainSeconds: Number(trainSeconds.toFixed(2)), epochs: summary.epochs,
  coverageSE50: Number(Math.sqrt(0.25 / observations).toFixed(3)),
}));
console.table(rows);
