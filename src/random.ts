/**
 * Random variates from the native samplers (kernels/random/samplers.h), with a typed API.
 *
 * Seeding contract: sample i of a call with `seed` s and `streamOffset` o is drawn from Philox
 * stream (o + i) under key s (o + i taken modulo 2^64), and from nothing else. The output of a
 * sample therefore depends only on (distribution, s, o + i): never on n, threads, the
 * instruction-set path or how a batch is split. Rows [k, n) of one call equal a call with
 * `streamOffset: o + k` for n − k samples.
 *
 * Algorithms (see docs/random.md): Box–Muller normals, Marsaglia–Tsang gamma, BTRS binomial
 * and PTRS Poisson (Hörmann 1993), sequential inversion for small means.
 */
import { native, type ProgressCallback } from './native.js';
import { SbiError } from './errors.js';
import { checkSymmetric, cholesky, inverseFromCholesky } from './linalg.js';
import {
  checkFinite,
  checkNonNegativeInteger,
  checkNumberArray,
  checkPositive,
  checkProbability,
  checkSeed,
  checkThreads,
  describe,
} from './validate.js';

/** A distribution to sample, as plain data. Every variate is returned as a float64. */
export type Distribution =
  /** U(low, high), low < high. */
  | { kind: 'uniform'; low: number; high: number }
  /** N(loc, scale²). */
  | { kind: 'normal'; loc: number; scale: number }
  /** Exp(rate): density rate·e^(−rate·x), mean 1/rate. */
  | { kind: 'exponential'; rate: number }
  /** Gamma(shape, rate): density ∝ x^(shape−1) e^(−rate·x), mean shape/rate. */
  | { kind: 'gamma'; shape: number; rate: number }
  /** Beta(alpha, beta) on (0, 1). */
  | { kind: 'beta'; alpha: number; beta: number }
  /** Binomial(trials, p): successes in `trials` (a safe integer) independent trials of probability p. */
  | { kind: 'binomial'; trials: number; p: number }
  /** Poisson(rate), 0 ≤ rate ≤ 1e15. */
  | { kind: 'poisson'; rate: number }
  /** log X ~ N(loc, scale²). */
  | { kind: 'logNormal'; loc: number; scale: number }
  /** Index i ∈ [0, K) with probability weights[i] / Σ weights (weights ≥ 0, not all 0). */
  | { kind: 'categorical'; weights: ArrayLike<number> }
  /** Student's t with `df` > 0 degrees of freedom (location 0, scale 1). */
  | { kind: 'studentT'; df: number }
  /**
   * N(loc, Σ) in d = loc.length dimensions; Σ given by exactly one of `covariance`,
   * `precision` (Σ⁻¹) or `scaleTril` (lower-triangular L with Σ = L Lᵀ), each [d, d] row-major.
   */
  | {
      kind: 'multivariateNormal';
      loc: ArrayLike<number>;
      covariance?: ArrayLike<number>;
      precision?: ArrayLike<number>;
      scaleTril?: ArrayLike<number>;
    };

export interface SampleOptions {
  /** Philox key: a non-negative safe integer or a bigint below 2^64. */
  seed: number | bigint;
  /** Philox stream of sample 0 (sample i uses streamOffset + i). Default 0. */
  streamOffset?: number | bigint;
  /** Worker threads (default: all cores). Never changes the result. */
  threads?: number;
}

export interface SampleAsyncOptions extends SampleOptions {
  /** Called as onProgress(samplesDone, n) while the batch runs. */
  onProgress?: ProgressCallback;
  /** Aborting rejects the promise with SbiError code 'ABORTED'. */
  signal?: AbortSignal;
}

/** Samples per call are limited by the native batch size. */
const MAX_SAMPLES = 2 ** 50;
/** Largest Poisson rate the PTRS sampler accepts (its integer arithmetic stays exact below it). */
const MAX_POISSON_RATE = 1e15;

interface NativeDistribution {
  name: string;
  params: Float64Array;
  /** Values per sample. */
  dim: number;
}

/** Number of values per sample: d for a multivariate normal, else 1. */
export function eventSize(distribution: Distribution): number {
  return lowerDistribution(distribution).dim;
}

/**
 * Lower-triangular L with Σ = L Lᵀ from exactly one of `covariance`, `precision` (Σ⁻¹) or
 * `scaleTril` ([d, d] row-major). Throws RangeError / TypeError naming the field (after
 * `prefix`, e.g. "parts[1].").
 */
export function gaussianScaleTril(
  d: number,
  forms: { covariance?: unknown; precision?: unknown; scaleTril?: unknown },
  prefix = '',
): Float64Array {
  const given = (['covariance', 'precision', 'scaleTril'] as const).filter((k) => forms[k] !== undefined);
  if (given.length !== 1) {
    const received = given.length === 0 ? 'none' : given.map((k) => `\`${prefix}${k}\``).join(' and ');
    throw new TypeError(`Expected exactly one of \`${prefix}covariance\`, \`${prefix}precision\` or \`${prefix}scaleTril\` but received ${received}`);
  }
  const form = given[0];
  const name = prefix + form;
  const m = checkNumberArray(forms[form], name, d * d);
  if (form === 'scaleTril') {
    for (let i = 0; i < d; i++) {
      if (!(m[i * d + i] > 0)) throw new RangeError(`Expected a positive diagonal in \`${name}\` but entry (${i}, ${i}) is ${m[i * d + i]}`);
      for (let j = i + 1; j < d; j++) {
        if (m[i * d + j] !== 0) throw new RangeError(`Expected \`${name}\` to be lower-triangular but entry (${i}, ${j}) is ${m[i * d + j]}`);
      }
    }
    return m;
  }
  const L = cholesky(checkSymmetric(m, d, name), d, name);
  if (form === 'covariance') return L;
  return cholesky(inverseFromCholesky(L, d), d, `inverse of ${name}`);
}

function lowerDistribution(distribution: Distribution): NativeDistribution {
  if (typeof distribution !== 'object' || distribution === null) {
    throw new TypeError(`Expected a distribution object { kind, ... } for \`distribution\` but received ${describe(distribution)}`);
  }
  const d = distribution;
  const scalar = (name: string, ...params: number[]): NativeDistribution => ({ name, params: Float64Array.from(params), dim: 1 });
  switch (d.kind) {
    case 'uniform': {
      const low = checkFinite(d.low, 'low');
      const high = checkFinite(d.high, 'high');
      if (!(low < high) || !Number.isFinite(high - low)) {
        throw new RangeError(`Expected \`low\` < \`high\` with a finite width but received low = ${low}, high = ${high}`);
      }
      return scalar('uniform', low, high);
    }
    case 'normal':
      return scalar('normal', checkFinite(d.loc, 'loc'), checkPositive(d.scale, 'scale'));
    case 'logNormal':
      return scalar('lognormal', checkFinite(d.loc, 'loc'), checkPositive(d.scale, 'scale'));
    case 'exponential':
      return scalar('exponential', checkPositive(d.rate, 'rate'));
    case 'gamma':
      return scalar('gamma', checkPositive(d.shape, 'shape'), checkPositive(d.rate, 'rate'));
    case 'beta':
      return scalar('beta', checkPositive(d.alpha, 'alpha'), checkPositive(d.beta, 'beta'));
    case 'binomial': {
      // A safe integer (< 2^53) is held exactly in a double, as the sampler needs.
      return scalar('binomial', checkNonNegativeInteger(d.trials, 'trials'), checkProbability(d.p, 'p'));
    }
    case 'poisson': {
      const rate = checkFinite(d.rate, 'rate');
      if (!(rate >= 0 && rate <= MAX_POISSON_RATE)) {
        throw new RangeError(`Expected a non-negative number <= ${MAX_POISSON_RATE} for \`rate\` but received ${rate}`);
      }
      return scalar('poisson', rate);
    }
    case 'studentT':
      return scalar('studentT', checkPositive(d.df, 'df'));
    case 'categorical': {
      const w = checkNumberArray(d.weights, 'weights');
      let total = 0;
      for (let i = 0; i < w.length; i++) {
        if (w[i] < 0) throw new RangeError(`Expected non-negative \`weights\` but index ${i} is ${w[i]}`);
        total += w[i];
      }
      if (!(total > 0) || !Number.isFinite(total)) {
        throw new RangeError(`Expected \`weights\` with a positive finite sum but their sum is ${total}`);
      }
      return { name: 'categorical', params: w, dim: 1 };
    }
    case 'multivariateNormal': {
      const loc = checkNumberArray(d.loc, 'loc');
      const dim = loc.length;
      const L = gaussianScaleTril(dim, d);
      const params = new Float64Array(dim + dim * dim);
      params.set(loc, 0);
      params.set(L, dim);
      return { name: 'mvnCholesky', params, dim };
    }
    default: {
      const kind = (d as { kind?: unknown }).kind;
      throw new RangeError(
        `Unknown distribution kind ${describe(kind)}; expected one of uniform, normal, exponential, gamma, beta, ` +
          'binomial, poisson, logNormal, categorical, studentT, multivariateNormal',
      );
    }
  }
}

function checkCount(n: unknown): number {
  const count = checkNonNegativeInteger(n, 'n');
  if (count > MAX_SAMPLES) throw new RangeError(`Expected \`n\` <= 2^50 but received ${count}`);
  return count;
}

function allocate(n: number, dim: number): Float64Array {
  try {
    return new Float64Array(n * dim);
  } catch (e) {
    throw new RangeError(`Cannot allocate ${n} × ${dim} samples for \`n\` = ${n}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function checkOptions(options: SampleOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected an options object { seed, streamOffset?, threads? } but received ${describe(options)}`);
  }
  checkSeed(options.seed, 'seed');
  if (options.streamOffset !== undefined) checkSeed(options.streamOffset, 'streamOffset');
  if (options.threads !== undefined) checkThreads(options.threads);
}

/**
 * n independent draws of `distribution`: a Float64Array of shape [n] ([n, d] row-major for a
 * d-dimensional multivariate normal). Runs synchronously on the thread pool.
 */
export function sample(distribution: Distribution, n: number, options: SampleOptions): Float64Array {
  const lowered = lowerDistribution(distribution);
  const count = checkCount(n);
  checkOptions(options);
  const out = allocate(count, lowered.dim);
  native.sample(lowered.name, lowered.params, count, options.seed, options.streamOffset ?? 0, out, options.threads);
  return out;
}

/** Like `sample`, off the event loop, with progress events and cancellation through `signal`. */
export async function sampleAsync(distribution: Distribution, n: number, options: SampleAsyncOptions): Promise<Float64Array> {
  const lowered = lowerDistribution(distribution);
  const count = checkCount(n);
  checkOptions(options);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError(`Expected a function for \`onProgress\` but received ${describe(options.onProgress)}`);
  }
  const signal = options.signal;
  if (signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
  const out = allocate(count, lowered.dim);
  const cancel = new Int32Array(1);
  const onAbort = () => Atomics.store(cancel, 0, 1);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await native.sampleAsync(
      lowered.name, lowered.params, count, options.seed, options.streamOffset ?? 0, out, options.threads,
      options.onProgress, cancel,
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return out;
}

function checkWords(value: unknown, name: string, multipleOf: number, exact?: number): Uint32Array {
  const isArrayLike = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!isArrayLike) throw new TypeError(`Expected an array of 32-bit unsigned integers for \`${name}\` but received ${describe(value)}`);
  const items = value as ArrayLike<unknown>;
  if (exact !== undefined ? items.length !== exact : items.length === 0 || items.length % multipleOf !== 0) {
    const want = exact !== undefined ? `${exact} words` : `a positive multiple of ${multipleOf} words`;
    throw new RangeError(`Expected \`${name}\` to hold ${want} but received ${items.length}`);
  }
  const out = new Uint32Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const w = items[i];
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 0xffffffff) {
      throw new RangeError(`Expected 32-bit unsigned integers in \`${name}\` but index ${i} is ${describe(w)}`);
    }
    out[i] = w;
  }
  return out;
}

/**
 * The raw Philox4x32-10 block function: for each 4-word block of `counter`, the 4 output words
 * under the 2-word `key` (Salmon et al., SC'11; matches the Random123 known-answer vectors).
 * The samplers use counter = (block lo, block hi, stream lo, stream hi) and key = (seed lo, seed hi).
 */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  const ctr = checkWords(counter, 'counter', 4);
  const k = checkWords(key, 'key', 2, 2);
  const out = new Uint32Array(ctr.length);
  native.philox4x32(ctr, k, out);
  return out;
}
