/**
 * Vectorised slice sampling over many chains (Neal, "Slice sampling", Ann. Statist. 31, 2003:
 * coordinate-wise, stepping out and shrinkage). Every step of every chain that is still active
 * is evaluated in ONE call of the batched log-density, so a native model (flow, classifier)
 * sees whole batches, never single points.
 *
 * Randomness: chain c draws from Philox stream c under `seed`, in a fixed order per sweep, so
 * results do not depend on how evaluations are batched.
 */
import { SbiError } from '../errors.js';
import { PhiloxStream } from '../random/philox.js';
import type { Prior } from '../priors.js';
import { checkPositiveInteger, checkSeed, checkNonNegativeInteger, checkFiniteArray } from '../validate.js';
import { effectiveSampleSize, splitRhat, type ChainDraws } from '../diagnostics/mcmc.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';

/** log density (unnormalised; −Infinity outside the support) of each row of θ [rows, dim]. */
export type BatchLogDensity = (theta: Float64Array, rows: number) => Float64Array | Promise<Float64Array>;

export interface SliceSamplerOptions {
  /** Independent chains run side by side. */
  chains: number;
  /** Samples to return (after warm-up and thinning), spread evenly over the chains. */
  samples: number;
  /** Warm-up sweeps per chain (discarded; the slice widths adapt during them). Default 100. */
  warmup?: number;
  /** Keep every `thin`-th sweep. Default 1. */
  thin?: number;
  /** Initial states [chains, dim]; each must have a finite log density (see `initChains`). */
  init: Float64Array;
  seed: number | bigint;
  /** Initial slice width per dimension (or one for all). Default 1. */
  width?: number | ArrayLike<number>;
  /** Stepping-out limit (Neal's m). Default 10. */
  maxStepsOut?: number;
  onProgress?: (sweepsDone: number, sweepsTotal: number) => void;
  signal?: AbortSignal;
}

export interface SliceSamplerResult {
  /** [samples, dim], draw-major: row k is draw floor(k / chains) of chain k % chains. */
  samples: Float64Array;
  /** Every kept draw, [chains, draws, dim] chain-major. */
  draws: ChainDraws;
  /** Effective sample size per dimension (all chains together). */
  ess: Float64Array;
  /** Split-R̂ per dimension. */
  rhat: Float64Array;
  /** Slice widths after warm-up, per dimension. */
  width: Float64Array;
  /** Total rows passed to the log density. */
  densityEvaluations: number;
}

const MAX_SHRINK = 200;

class Evaluator {
  evaluations = 0;
  constructor(private readonly logDensity: BatchLogDensity, private readonly dim: number) {}

  async run(rows: Float64Array, count: number): Promise<Float64Array> {
    if (count === 0) return new Float64Array(0);
    const out = await this.logDensity(rows.subarray(0, count * this.dim), count);
    if (!(out instanceof Float64Array) || out.length !== count) {
      throw new SbiError(`The log density must return a Float64Array of ${count} values`, 'BAD_LOG_DENSITY');
    }
    for (let i = 0; i < count; i++) {
      if (Number.isNaN(out[i])) throw new SbiError('The log density returned NaN (use -Infinity outside the support)', 'NAN_LOG_DENSITY');
    }
    this.evaluations += count;
    return out;
  }
}

/** Runs the sampler; `dim` is the number of parameters. */
export async function sliceSample(logDensity: BatchLogDensity, dim: number, options: SliceSamplerOptions): Promise<SliceSamplerResult> {
  checkPositiveInteger(dim, 'dim');
  const chains = checkPositiveInteger(options.chains, 'chains', 1 << 20);
  const total = checkPositiveInteger(options.samples, 'samples');
  const warmup = options.warmup === undefined ? 100 : checkNonNegativeInteger(options.warmup, 'warmup');
  const thin = options.thin === undefined ? 1 : checkPositiveInteger(options.thin, 'thin');
  const maxSteps = options.maxStepsOut === undefined ? 10 : checkPositiveInteger(options.maxStepsOut, 'maxStepsOut', 1000);
  const seed = checkSeed(options.seed, 'seed');
  if (!(options.init instanceof Float64Array) || options.init.length !== chains * dim) {
    throw new RangeError(`Expected \`init\` to be a Float64Array of chains × dim = ${chains * dim} values`);
  }
  checkFiniteArray(options.init, 'init', dim);
  const width = new Float64Array(dim);
  if (options.width === undefined) width.fill(1);
  else if (typeof options.width === 'number') width.fill(options.width);
  else {
    if (options.width.length !== dim) throw new RangeError(`Expected ${dim} values for \`width\` but received ${options.width.length}`);
    width.set(Array.from(options.width));
  }
  for (let j = 0; j < dim; j++) {
    if (!(width[j]! > 0) || !Number.isFinite(width[j])) throw new RangeError(`Expected positive finite slice widths but \`width\`[${j}] is ${width[j]}`);
  }

  const perChain = Math.ceil(total / chains);
  const sweeps = warmup + perChain * thin;
  const evaluator = new Evaluator(logDensity, dim);
  const rng = Array.from({ length: chains }, (_, c) => new PhiloxStream(seed, c));
  const x = options.init.slice();
  let logp = await evaluator.run(x, chains);
  for (let c = 0; c < chains; c++) {
    if (logp[c] === -Infinity) throw new SbiError(`Chain ${c} starts where the log density is -Infinity`, 'BAD_INIT');
  }
  logp = logp.slice();

  const kept = new Float64Array(chains * perChain * dim);
  const batch = new Float64Array(chains * dim);
  const index = new Int32Array(chains);
  const left = new Float64Array(chains);
  const right = new Float64Array(chains);
  const level = new Float64Array(chains);
  const stepsLeft = new Int32Array(chains);
  const stepsRight = new Int32Array(chains);
  const moveSum = new Float64Array(dim);
  let moveCount = 0;

  // Rows of `batch` for the chains in index[0..count), with coordinate j set to values[c].
  const fill = (count: number, j: number, values: Float64Array) => {
    for (let k = 0; k < count; k++) {
      const c = index[k]!;
      batch.set(x.subarray(c * dim, (c + 1) * dim), k * dim);
      batch[k * dim + j] = values[c]!;
    }
  };

  for (let sweep = 0; sweep < sweeps; sweep++) {
    if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
    for (let j = 0; j < dim; j++) {
      const w = width[j]!;
      for (let c = 0; c < chains; c++) {
        const r = rng[c]!;
        level[c] = logp[c]! + Math.log(r.uniform());
        const x0 = x[c * dim + j]!;
        left[c] = x0 - w * r.uniform();
        right[c] = left[c]! + w;
        stepsLeft[c] = Math.floor(maxSteps * r.uniform());
        stepsRight[c] = maxSteps - 1 - stepsLeft[c]!;
      }
      // Stepping out, left then right: all chains still stepping in one evaluation per round.
      for (const [bound, steps, dir] of [[left, stepsLeft, -1], [right, stepsRight, 1]] as const) {
        let count = 0;
        for (let c = 0; c < chains; c++) if (steps[c]! > 0) index[count++] = c;
        while (count > 0) {
          fill(count, j, bound);
          const lp = await evaluator.run(batch, count);
          let next = 0;
          for (let k = 0; k < count; k++) {
            const c = index[k]!;
            if (lp[k]! > level[c]!) {
              bound[c] = bound[c]! + dir * w;
              steps[c] = steps[c]! - 1;
              if (steps[c]! > 0) index[next++] = c;
            }
          }
          count = next;
        }
      }
      // Shrinkage: propose uniformly in [L, R] until inside the slice.
      const proposal = new Float64Array(chains);
      let count = chains;
      for (let c = 0; c < chains; c++) index[c] = c;
      for (let round = 0; count > 0; round++) {
        if (round === MAX_SHRINK) break; // the interval has collapsed onto x0: the chain stays
        for (let k = 0; k < count; k++) {
          const c = index[k]!;
          proposal[c] = left[c]! + rng[c]!.uniform() * (right[c]! - left[c]!);
        }
        fill(count, j, proposal);
        const lp = await evaluator.run(batch, count);
        let next = 0;
        for (let k = 0; k < count; k++) {
          const c = index[k]!;
          const x0 = x[c * dim + j]!;
          if (lp[k]! > level[c]!) {
            if (sweep < warmup) {
              moveSum[j] = moveSum[j]! + Math.abs(proposal[c]! - x0);
            }
            x[c * dim + j] = proposal[c]!;
            logp[c] = lp[k]!;
          } else {
            if (proposal[c]! < x0) left[c] = proposal[c]!;
            else right[c] = proposal[c]!;
            index[next++] = c;
          }
        }
        count = next;
      }
    }
    if (sweep < warmup) {
      moveCount += chains;
      // Widths track the typical accepted move (about a posterior standard deviation).
      for (let j = 0; j < dim; j++) {
        const mean = moveSum[j]! / moveCount;
        if (mean > 0 && Number.isFinite(mean)) width[j] = Math.min(1e12, Math.max(1e-12, 3 * mean));
      }
    } else if ((sweep - warmup + 1) % thin === 0) {
      const t = (sweep - warmup + 1) / thin - 1;
      for (let c = 0; c < chains; c++) kept.set(x.subarray(c * dim, (c + 1) * dim), (c * perChain + t) * dim);
    }
    options.onProgress?.(sweep + 1, sweeps);
  }

  const draws: ChainDraws = { values: kept, chains, draws: perChain, dim };
  const samples = new Float64Array(total * dim);
  for (let k = 0; k < total; k++) {
    const c = k % chains;
    const t = Math.floor(k / chains);
    samples.set(kept.subarray((c * perChain + t) * dim, (c * perChain + t + 1) * dim), k * dim);
  }
  const diagnostics = perChain >= 4;
  return {
    samples,
    draws,
    ess: diagnostics ? effectiveSampleSize(draws) : new Float64Array(dim).fill(NaN),
    rhat: diagnostics ? splitRhat(draws) : new Float64Array(dim).fill(NaN),
    width,
    densityEvaluations: evaluator.evaluations,
  };
}

export interface InitChainsOptions {
  seed: number | bigint;
  /** 'prior': draws from the prior with finite density; 'sir': sampling-importance-resampling
   *  of `candidates` prior draws per chain, weighted by exp(logDensity − prior.logProb). */
  method?: 'prior' | 'sir';
  /** Prior draws per chain for 'sir' (default 10). */
  candidates?: number;
}

/** Initial states [chains, dim] for `sliceSample`, all with finite log density. */
export async function initChains(prior: Prior, logDensity: BatchLogDensity, chains: number, options: InitChainsOptions): Promise<Float64Array> {
  checkPositiveInteger(chains, 'chains');
  const dim = prior.dim;
  const method = options.method ?? 'sir';
  const perChain = method === 'sir' ? checkPositiveInteger(options.candidates ?? 10, 'candidates', 1e6) : 1;
  const seed = deriveSeed(options.seed, SeedPurpose.sampling);
  const out = new Float64Array(chains * dim);
  let filled = 0;
  // Retry in rounds so that supports smaller than the prior's still get filled, with a bound.
  for (let round = 0; round < 20 && filled < chains; round++) {
    const m = (chains - filled) * perChain * (round + 1);
    const theta = prior.sample(m, { seed, streamOffset: round * 2 ** 32 });
    const lp = await logDensity(theta, m);
    if (method === 'prior') {
      for (let i = 0; i < m && filled < chains; i++) {
        if (lp[i]! > -Infinity) out.set(theta.subarray(i * dim, (i + 1) * dim), dim * filled++);
      }
      continue;
    }
    const logw = new Float64Array(m);
    const lprior = prior.logProb(theta);
    let maxw = -Infinity;
    for (let i = 0; i < m; i++) {
      logw[i] = lp[i]! - lprior[i]!;
      if (Number.isNaN(logw[i])) logw[i] = -Infinity;
      maxw = Math.max(maxw, logw[i]!);
    }
    if (maxw === -Infinity) continue;
    const cum = new Float64Array(m);
    let acc = 0;
    for (let i = 0; i < m; i++) cum[i] = acc += Math.exp(logw[i]! - maxw);
    const r = new PhiloxStream(seed, 2 ** 40 + round);
    while (filled < chains) {
      const u = r.uniform() * acc;
      let lo = 0;
      let hi = m - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      out.set(theta.subarray(lo * dim, (lo + 1) * dim), dim * filled++);
    }
  }
  if (filled < chains) {
    throw new SbiError('Could not find initial states with a finite log density: is the support disjoint from the prior?', 'BAD_INIT');
  }
  return out;
}
