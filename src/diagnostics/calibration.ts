/**
 * Calibration diagnostics of a posterior estimator over the prior predictive: N pairs
 * (θ_i, x_i) with θ_i ~ p(θ), x_i ~ p(x | θ_i); for each, L draws from the posterior q(θ | x_i).
 *
 * - SBC, simulation-based calibration (Talts, Betancourt, Simpson, Vehtari, Gelman,
 *   arXiv:1804.06788): rank_i,d = #{l : θ_l,d < θ_i,d} ∈ {0, ..., L}. If q is the true posterior,
 *   θ_i is one more draw from it, so each rank is uniform on {0, ..., L}. Per dimension: a
 *   histogram of B bins, a χ² test of uniformity and the mean / std of rank / L. With `logProb`,
 *   the same for the statistic −log q(θ | x_i), whose rank is
 *   #{l : log q(θ_l | x_i) > log q(θ_i | x_i)} (the HPD rank): it sees errors in the dependence
 *   between dimensions that the marginal ranks miss.
 * - Expected coverage (Hermans et al., "A trust crisis in simulation-based inference?",
 *   arXiv:2110.06581): θ_i lies in the α-highest-posterior-density region iff the fraction of
 *   draws denser than it, HPD rank / L, is below α; the fraction of pairs for which it does, per
 *   credibility level α, is α for a calibrated posterior, below α for an overconfident one and
 *   above for a conservative one. The boundary rank counts fractionally (see coverageFromRanks).
 *
 * Ties (discrete posteriors, −Infinity outside the support) are broken at random with Philox, so
 * the ranks stay exactly uniform; randomness never depends on the order of evaluation.
 */
import { SbiError } from '../errors.js';
import { PhiloxStream } from '../random/philox.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { abortError } from '../simulators/call.js';
import { chiSquareSurvival } from '../special.js';
import { checkFiniteArray, checkPositiveInteger, checkSeed, describe } from '../validate.js';

/** Draws as a Float64Array [n, dim], or an object holding them (e.g. MCMCPosterior's result). */
export type PosteriorDraws = Float64Array | { samples: Float64Array };

/**
 * What the diagnostics need of a posterior: NPEPosterior (synchronous) and MCMCPosterior
 * (asynchronous, returns `{ samples, ... }`) both fit. `logProb` may be unnormalised: only its
 * order within one x is used.
 */
export interface CalibrationPosterior {
  sample(n: number, options: { x: Float64Array; seed: bigint; signal?: AbortSignal }): PosteriorDraws | Promise<PosteriorDraws>;
  logProb?(theta: Float64Array, options: { x: Float64Array }): Float64Array | Promise<Float64Array>;
}

export interface CalibrationOptions {
  /** θ_i from the prior, [N, dim] row-major. */
  theta: Float64Array;
  /** x_i simulated at θ_i, [N, xDim] row-major (simulators return float32). */
  x: Float64Array | Float32Array;
  xDim: number;
  /** L: posterior draws per observation. */
  samplesPerObservation: number;
  seed: number | bigint;
  signal?: AbortSignal;
  /** Called after each observation. */
  onProgress?: (done: number, total: number) => void;
}

export interface SbcOptions extends CalibrationOptions {
  /** B: histogram bins, 2 <= B <= L + 1 (default min(20, L + 1, max(2, ⌊N / 10⌋))). */
  bins?: number;
}

export interface CoverageOptions extends CalibrationOptions {
  /** Credibility levels in (0, 1) (default 0.05, 0.10, ..., 0.95). */
  levels?: ArrayLike<number>;
}

/** Uniformity of one rank statistic over N observations. */
export interface RankUniformity {
  /** Observed count per bin [B]; bin b holds the ranks r with ⌊r·B / (L + 1)⌋ = b. */
  histogram: Int32Array;
  /** Count per bin expected under uniform ranks: N · (ranks in the bin) / (L + 1). */
  expected: Float64Array;
  /** Pearson's χ² = Σ_b (observed − expected)² / expected, with B − 1 degrees of freedom. */
  chiSquare: number;
  degreesOfFreedom: number;
  /** P(χ²_{B−1} >= chiSquare): small values reject uniformity. */
  pValue: number;
  /** Mean and standard deviation of rank / L (uniform: 0.5 and `uniformStd`). */
  mean: number;
  std: number;
}

export interface SbcResult {
  observations: number;
  dim: number;
  samplesPerObservation: number;
  bins: number;
  /** rank_i,d ∈ {0, ..., L}, [N, dim]. */
  ranks: Int32Array;
  /** One entry per dimension of θ. */
  dimensions: RankUniformity[];
  /** HPD ranks #{l : log q(θ_l) > log q(θ_i)} [N], when the posterior has `logProb`. */
  logProbRanks?: Int32Array;
  /** Uniformity of the HPD ranks (rank / L near 1: θ_i in q's tails, i.e. overconfidence). */
  logProb?: RankUniformity;
  /** Standard deviation of rank / L for uniform ranks: sqrt((L + 2) / (12 L)). */
  uniformStd: number;
}

export interface CoverageResult {
  observations: number;
  samplesPerObservation: number;
  levels: Float64Array;
  /** Fraction of θ_i inside the α-HPD region, per level. */
  coverage: Float64Array;
  /** Binomial standard error of the coverage under calibration, sqrt(α (1 − α) / N), per level. */
  standardError: Float64Array;
  /** max over levels of |coverage − α|. */
  calibrationError: number;
  /** Per level: coverage >= α − 2 standard errors (not detectably overconfident). */
  conservative: boolean[];
  /** HPD ranks [N] the coverage was computed from. */
  logProbRanks: Int32Array;
}


interface CheckedInputs {
  n: number;
  dim: number;
  xDim: number;
  L: number;
  seed: number | bigint;
}

function checkInputs(posterior: unknown, options: unknown, needLogProb: boolean): CheckedInputs {
  if (typeof posterior !== 'object' || posterior === null || typeof (posterior as CalibrationPosterior).sample !== 'function') {
    throw new TypeError(`Expected a \`posterior\` with a sample(n, { x, seed }) method but received ${describe(posterior)}`);
  }
  if (needLogProb && typeof (posterior as CalibrationPosterior).logProb !== 'function') {
    throw new TypeError('Expected a `posterior` with a logProb(theta, { x }) method (the HPD region needs the density) but it has none');
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected an options object with \`theta\`, \`x\`, \`xDim\`, \`samplesPerObservation\` and \`seed\` but received ${describe(options)}`);
  }
  const o = options as CalibrationOptions;
  const xDim = checkPositiveInteger(o.xDim, 'xDim', 1 << 24);
  if (!(o.x instanceof Float64Array || o.x instanceof Float32Array)) {
    throw new TypeError(`Expected a Float64Array or Float32Array for \`x\` ([N, ${xDim}] row-major) but received ${describe(o.x)}`);
  }
  if (o.x.length === 0 || o.x.length % xDim !== 0) {
    throw new RangeError(`Expected \`x\` to hold a positive multiple of xDim = ${xDim} values but received ${o.x.length}`);
  }
  const n = o.x.length / xDim;
  if (n < 2) throw new RangeError(`Expected at least 2 observations in \`x\` but received ${n}`);
  if (!(o.theta instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`theta\` ([N, dim] row-major) but received ${describe(o.theta)}`);
  if (o.theta.length === 0 || o.theta.length % n !== 0) {
    throw new RangeError(`Expected \`theta\` to hold one row per observation in \`x\` (${n} rows) but its length ${o.theta.length} is not a positive multiple of ${n}`);
  }
  const dim = o.theta.length / n;
  const declared = (posterior as { dim?: unknown }).dim;
  if (typeof declared === 'number' && declared !== dim) {
    throw new RangeError(`Expected \`theta\` rows of the posterior's dim = ${declared} but ${o.theta.length} values over ${n} observations give ${dim}`);
  }
  checkFiniteArray(o.theta, 'theta', dim);
  checkFiniteArray(o.x, 'x', xDim);
  const L = checkPositiveInteger(o.samplesPerObservation, 'samplesPerObservation', 1 << 24);
  const seed = checkSeed(o.seed);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new TypeError(`Expected a function for \`onProgress\` but received ${describe(o.onProgress)}`);
  }
  return { n, dim, xDim, L, seed };
}

function drawsOf(result: unknown, L: number, dim: number, i: number): Float64Array {
  const draws = result instanceof Float64Array ? result : (result as { samples?: unknown } | null)?.samples;
  if (!(draws instanceof Float64Array) || draws.length !== L * dim) {
    throw new SbiError(
      `Expected posterior.sample to return ${L} draws ([${L}, ${dim}], a Float64Array of ${L * dim} values, or { samples }) for observation ${i} but received ${describe(draws ?? result)}`,
      'BAD_POSTERIOR',
    );
  }
  checkFiniteArray(draws, `posterior samples of observation ${i}`, dim);
  return draws;
}

function logProbsOf(result: unknown, rows: number, i: number): Float64Array {
  if (!(result instanceof Float64Array) || result.length !== rows) {
    throw new SbiError(`Expected posterior.logProb to return a Float64Array of ${rows} values for observation ${i} but received ${describe(result)}`, 'BAD_POSTERIOR');
  }
  for (let r = 0; r < rows; r++) {
    if (Number.isNaN(result[r])) throw new SbiError(`posterior.logProb returned NaN for observation ${i} (row ${r})`, 'BAD_POSTERIOR');
  }
  return result;
}

/** #{values below `value`} plus a uniform share of the ties in {0, ..., ties}. */
function randomisedRank(below: number, ties: number, rng: PhiloxStream): number {
  return ties === 0 ? below : below + Math.floor(rng.uniform() * (ties + 1));
}

/**
 * Draws L posterior samples per observation and ranks θ_i among them, per dimension and (if
 * `withLogProb`) by posterior density. Observation i samples with seed deriveSeed(base, i) and
 * breaks ties on Philox stream i, so results do not depend on how the posterior schedules work.
 */
async function computeRanks(
  posterior: CalibrationPosterior, options: CalibrationOptions, c: CheckedInputs, withLogProb: boolean,
): Promise<{ ranks: Int32Array; logProbRanks?: Int32Array }> {
  const { n, dim, xDim, L } = c;
  const base = deriveSeed(c.seed, SeedPurpose.sampling);
  const tieKey = deriveSeed(c.seed, SeedPurpose.rankTies);
  const ranks = new Int32Array(n * dim);
  const logProbRanks = withLogProb ? new Int32Array(n) : undefined;
  const rows = new Float64Array((L + 1) * dim);
  for (let i = 0; i < n; i++) {
    if (options.signal?.aborted) throw abortError();
    const x = Float64Array.from(options.x.subarray(i * xDim, (i + 1) * xDim));
    const truth = options.theta.subarray(i * dim, (i + 1) * dim);
    const draws = drawsOf(
      await posterior.sample(L, { x, seed: deriveSeed(base, i), ...(options.signal ? { signal: options.signal } : {}) }), L, dim, i,
    );
    const rng = new PhiloxStream(tieKey, i);
    for (let d = 0; d < dim; d++) {
      let below = 0;
      let ties = 0;
      for (let l = 0; l < L; l++) {
        const v = draws[l * dim + d]!;
        if (v < truth[d]!) below++;
        else if (v === truth[d]) ties++;
      }
      ranks[i * dim + d] = randomisedRank(below, ties, rng);
    }
    if (logProbRanks) {
      // One call for the draws and θ_i (last row).
      rows.set(draws);
      rows.set(truth, L * dim);
      const lp = logProbsOf(await posterior.logProb!(rows, { x }), L + 1, i);
      const own = lp[L]!;
      let above = 0;
      let ties = 0;
      for (let l = 0; l < L; l++) {
        if (lp[l]! > own) above++;
        else if (lp[l] === own) ties++;
      }
      logProbRanks[i] = randomisedRank(above, ties, rng);
    }
    options.onProgress?.(i + 1, n);
  }
  return logProbRanks ? { ranks, logProbRanks } : { ranks };
}

/** Histogram, χ² test and moments of ranks in {0, ..., L} (one statistic: every `stride`-th from `offset`). */
function rankUniformity(ranks: ArrayLike<number>, L: number, bins: number, stride = 1, offset = 0): RankUniformity {
  const n = Math.floor((ranks.length - offset + stride - 1) / stride);
  const histogram = new Int32Array(bins);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const r = ranks[offset + i * stride]!;
    histogram[Math.floor((r * bins) / (L + 1))]!++;
    sum += r / L;
    sumSq += (r / L) ** 2;
  }
  const expected = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    // Ranks r in bin b: ⌈b (L + 1) / B⌉ <= r < ⌈(b + 1) (L + 1) / B⌉.
    const width = Math.ceil(((b + 1) * (L + 1)) / bins) - Math.ceil((b * (L + 1)) / bins);
    expected[b] = (n * width) / (L + 1);
  }
  let chiSquare = 0;
  for (let b = 0; b < bins; b++) chiSquare += (histogram[b]! - expected[b]!) ** 2 / expected[b]!;
  const mean = sum / n;
  return {
    histogram, expected, chiSquare, degreesOfFreedom: bins - 1, pValue: chiSquareSurvival(chiSquare, bins - 1),
    mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean) * (n / (n - 1))),
  };
}

/**
 * Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788): ranks of θ_i among L
 * posterior draws at x_i, per dimension and (when `posterior.logProb` exists) by posterior
 * density, with histograms and χ² uniformity tests.
 */
export async function sbc(posterior: CalibrationPosterior, options: SbcOptions): Promise<SbcResult> {
  const c = checkInputs(posterior, options, false);
  const { n, dim, L } = c;
  let bins = Math.min(20, L + 1, Math.max(2, Math.floor(n / 10)));
  if (options.bins !== undefined) {
    bins = checkPositiveInteger(options.bins, 'bins', L + 1);
    if (bins < 2) throw new RangeError(`Expected at least 2 for \`bins\` but received ${bins}`);
  }
  const withLogProb = typeof posterior.logProb === 'function';
  const { ranks, logProbRanks } = await computeRanks(posterior, options, c, withLogProb);
  const dimensions = Array.from({ length: dim }, (_, d) => rankUniformity(ranks, L, bins, dim, d));
  return {
    observations: n, dim, samplesPerObservation: L, bins, ranks, dimensions,
    ...(logProbRanks ? { logProbRanks, logProb: rankUniformity(logProbRanks, L, bins) } : {}),
    uniformStd: Math.sqrt((L + 2) / (12 * L)),
  };
}

function checkLevels(levels: unknown): Float64Array {
  const isArrayLike = Array.isArray(levels) || (ArrayBuffer.isView(levels) && !(levels instanceof DataView));
  if (!isArrayLike || (levels as ArrayLike<unknown>).length === 0) {
    throw new TypeError(`Expected a non-empty array of credibility levels in (0, 1) for \`levels\` but received ${describe(levels)}`);
  }
  const items = levels as ArrayLike<unknown>;
  const out = new Float64Array(items.length);
  for (let k = 0; k < items.length; k++) {
    const a = items[k];
    if (typeof a !== 'number' || !(a > 0 && a < 1)) {
      throw new RangeError(`Expected credibility levels in (0, 1) in \`levels\` but index ${k} is ${describe(a)}`);
    }
    out[k] = a;
  }
  return out;
}

const DEFAULT_LEVELS = Float64Array.from({ length: 19 }, (_, k) => (k + 1) / 20);

/**
 * Expected coverage of the α-HPD regions from HPD ranks (`sbc(...).logProbRanks` or
 * `expectedCoverage(...).logProbRanks`): θ_i counts as inside with weight
 * clamp(α (L + 1) − rank_i, 0, 1), which is 1 when rank_i + 1 <= α (L + 1), 0 when
 * rank_i >= α (L + 1), and fractional for the one rank in between.
 */
export function coverageFromRanks(logProbRanks: Int32Array, samplesPerObservation: number, levels: ArrayLike<number> = DEFAULT_LEVELS): CoverageResult {
  if (!(logProbRanks instanceof Int32Array) || logProbRanks.length < 2) {
    throw new TypeError(`Expected an Int32Array of at least 2 HPD ranks for \`logProbRanks\` but received ${describe(logProbRanks)}`);
  }
  const L = checkPositiveInteger(samplesPerObservation, 'samplesPerObservation', 1 << 24);
  const alphas = checkLevels(levels);
  const n = logProbRanks.length;
  for (let i = 0; i < n; i++) {
    const r = logProbRanks[i]!;
    if (r < 0 || r > L) throw new RangeError(`Expected HPD ranks in [0, ${L}] in \`logProbRanks\` but index ${i} is ${r}`);
  }
  const coverage = new Float64Array(alphas.length);
  const standardError = new Float64Array(alphas.length);
  const conservative: boolean[] = [];
  let calibrationError = 0;
  alphas.forEach((alpha, k) => {
    // θ_i's weight inside the region: P(u_i < α) for u_i = (r_i + U) / (L + 1), U ~ U(0, 1),
    // i.e. clamp(α (L + 1) − r_i, 0, 1). The plain indicator r_i / L < α is biased by up to
    // 1 / (L + 1); averaging over U makes the coverage of a calibrated posterior exactly α.
    let inside = 0;
    for (let i = 0; i < n; i++) inside += Math.min(1, Math.max(0, alpha * (L + 1) - logProbRanks[i]!));
    coverage[k] = inside / n;
    standardError[k] = Math.sqrt((alpha * (1 - alpha)) / n);
    conservative.push(coverage[k]! >= alpha - 2 * standardError[k]!);
    calibrationError = Math.max(calibrationError, Math.abs(coverage[k]! - alpha));
  });
  return { observations: n, samplesPerObservation: L, levels: alphas, coverage, standardError, calibrationError, conservative, logProbRanks };
}

/**
 * Expected coverage of the posterior's highest-density regions (Hermans et al. 2022,
 * arXiv:2110.06581) at each credibility level, estimated with L draws and `logProb` per x_i.
 */
export async function expectedCoverage(posterior: CalibrationPosterior, options: CoverageOptions): Promise<CoverageResult> {
  const c = checkInputs(posterior, options, true);
  const levels = options.levels === undefined ? DEFAULT_LEVELS : checkLevels(options.levels);
  const { logProbRanks } = await computeRanks(posterior, options, c, true);
  return coverageFromRanks(logProbRanks!, c.L, levels);
}
