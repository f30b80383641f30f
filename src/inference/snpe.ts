/**
 * Sequential NPE with truncated proposals (TSNPE): Deistler, Gonçalves, Macke, "Truncated
 * proposals for scalable and hassle-free simulation-based inference", NeurIPS 2022,
 * arXiv:2210.04815. After each round the proposal is the prior restricted to the region where the
 * current posterior's density at x_o lies above its ε-quantile (ε = 1e-4, estimated from 10 000
 * posterior samples, as sbi's `get_density_thresholder`). Within that region the proposal is
 * proportional to the prior, so q(θ | x) trained with the plain NPE loss on every round's data
 * stays the posterior there: no atomic / importance correction is needed. Details: docs/npe.md.
 *
 * On a device (docs/backends.md): `train.backend` trains every round's flow or MDN there (op
 * flow.maf_train / flow.mdn_train, NPE's device trainer), and `backend` runs the truncation's
 * flow evaluations there: the threshold's posterior draws (flow.maf_sample / flow.mdn_sample) and
 * log q of the prior draws (flow.maf_log_prob / flow.mdn_log_prob). The rejection bookkeeping,
 * seeds and Philox streams are the CPU's.
 */
import { SbiError } from '../errors.js';
import { backendForOp, type BackendRequest } from '../backend/backend.js';
import type { Prior } from '../priors.js';
import { deriveSeed } from '../seeds.js';
import { checkNumberArray, checkPositiveInteger, checkProbability, describe } from '../validate.js';
import { NPE, type NPEOptions, type NPEPosterior, type NPETrainOptions } from './npe.js';
import { runRounds, type RoundInfo, type SimulatorFunction } from './sequential.js';

export interface SNPEOptions extends NPEOptions {
  simulator: SimulatorFunction;
}

/** The truncation a round's θ were drawn from (rounds ≥ 2). */
export interface Truncation {
  /** θ is kept where log q(θ | x_o) of the previous round's posterior ≥ this. */
  logProbThreshold: number;
  /** Fraction of prior draws that fell inside (the truncated prior's mass under the prior). */
  acceptance: number;
}

export interface SNPERunOptions {
  /** The observation x_o [xDim]. */
  x: ArrayLike<number>;
  rounds: number;
  /** Simulations of every round, or one count per round. */
  simulationsPerRound: number | readonly number[];
  seed: number | bigint;
  /**
   * Training settings of every round (seed excluded: each round derives its own); `backend`
   * trains on a device (NPE.train's option).
   */
  train?: Omit<NPETrainOptions, 'seed' | 'signal'>;
  /**
   * Where the truncation evaluates the previous round's posterior (default 'cpu'): its draws for
   * the threshold and log q of the prior draws; 'webgpu' runs them in f32 (ops flow.maf_sample /
   * flow.mdn_sample and flow.maf_log_prob / flow.mdn_log_prob), 'auto' where they run, else the cpu.
   */
  backend?: BackendRequest;
  /** ε: posterior mass left outside the truncation region (default 1e-4, as sbi). */
  quantile?: number;
  /** Posterior samples that estimate the threshold (default 10 000, as sbi). */
  supportSamples?: number;
  /** Below this acceptance of prior draws (after `minProposals` of them) the run fails. Default 1e-5. */
  minAcceptance?: number;
  /** Prior draws before the acceptance is judged. Default 1 000 000. */
  minProposals?: number;
  onRound?: (info: RoundInfo<NPEPosterior> & { truncation?: Truncation }) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Truncated sequential NPE (TSNPE). */
export class SNPE {
  readonly npe: NPE;
  private readonly simulator: SimulatorFunction;

  constructor(options: SNPEOptions) {
    this.npe = new NPE(options);
    if (typeof options.simulator !== 'function') {
      throw new TypeError(`Expected a function (theta, rows, seed) => x for \`simulator\` but received ${describe(options.simulator)}`);
    }
    this.simulator = options.simulator;
  }

  /** Runs the rounds; returns the last round's posterior. */
  async run(options: SNPERunOptions): Promise<NPEPosterior> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\`, \`rounds\`, \`simulationsPerRound\` and \`seed\` but received ${describe(options)}`);
    const x = checkNumberArray(options.x, 'x');
    const quantile = checkProbability(options.quantile ?? 1e-4, 'quantile');
    const supportSamples = checkPositiveInteger(options.supportSamples ?? 10_000, 'supportSamples', 1 << 26);
    const minAcceptance = checkProbability(options.minAcceptance ?? 1e-5, 'minAcceptance');
    const minProposals = checkPositiveInteger(options.minProposals ?? 1_000_000, 'minProposals');
    const backend = options.backend ?? 'cpu';
    // an unknown name, an unavailable backend or one without the flow's ops fails here, before round 1
    await backendForOp(backend, this.npe.densityEstimator === 'mdn' ? 'flow.mdn_log_prob' : 'flow.maf_log_prob');
    const truncations = new Map<number, Truncation>();
    const onRound = options.onRound;
    return runRounds<NPEPosterior>({
      prior: this.npe.prior,
      simulator: this.simulator,
      rounds: options.rounds,
      simulationsPerRound: options.simulationsPerRound,
      seed: options.seed,
      proposal: async (round, n, seed, previous) => {
        const logProbThreshold = await densityThreshold(previous, x, quantile, supportSamples, deriveSeed(seed, 1), backend);
        const r = await sampleTruncatedPrior(
          this.npe.prior, (t) => previous.logProbAsync(t, { x, backend }), logProbThreshold, n, deriveSeed(seed, 2), minAcceptance, minProposals);
        truncations.set(round, { logProbThreshold, acceptance: r.acceptance });
        return r.theta;
      },
      append: (theta, xs) => this.npe.appendSimulations(theta, xs, x.length).lastAppend,
      train: (_round, seed) => this.npe.train({ ...options.train, seed, ...(options.signal ? { signal: options.signal } : {}) }),
      build: () => this.npe.buildPosterior(),
      ...(onRound ? { onRound: (info: RoundInfo<NPEPosterior>) => onRound({ ...info, ...(truncations.has(info.round) ? { truncation: truncations.get(info.round)! } : {}) }) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/**
 * The ε-quantile of log q(θ | x_o) over `samples` draws of q(·| x_o): the level set above it holds
 * mass ≈ 1 − ε of q (sbi takes the sorted value at index ⌊ε · samples⌋, so do we). The draws and
 * log q run on `backend` (default 'cpu'; NPEPosterior.sampleAsync / logProbAsync). No wall-clock
 * limit (the draws' minAcceptance still guards against leakage): whether a run succeeds must not
 * depend on the speed of the device (10 000 draws take about a minute on llvmpipe).
 */
export async function densityThreshold(
  posterior: NPEPosterior, x: ArrayLike<number>, quantile: number, samples: number, seed: bigint, backend: BackendRequest = 'cpu',
): Promise<number> {
  const theta = await posterior.sampleAsync(samples, { x, seed, backend, timeLimitMs: Infinity });
  const lp = (await posterior.logProbAsync(theta, { x, backend })).sort();
  return lp[Math.min(Math.floor(quantile * samples), samples - 1)]!;
}

/**
 * n draws from the prior restricted to {θ : logDensity(θ) ≥ threshold}, by rejection from the
 * prior (batch b uses Philox streams from b · 2^32 of `seed`, so the draws depend on the seed only).
 * SbiError LOW_ACCEPTANCE when the accepted fraction stays below `minAcceptance`.
 */
export async function sampleTruncatedPrior(
  prior: Prior, logDensity: (theta: Float64Array) => Float64Array | Promise<Float64Array>, threshold: number, n: number, seed: bigint,
  minAcceptance: number, minProposals: number,
): Promise<{ theta: Float64Array; acceptance: number }> {
  const D = prior.dim;
  const out = new Float64Array(n * D);
  let accepted = 0;
  let proposed = 0;
  let inside = 0;
  for (let batch = 0; accepted < n; batch++) {
    const rate = proposed === 0 ? 1 : Math.max(inside / proposed, minAcceptance);
    const m = Math.min(Math.max(Math.ceil((1.2 * (n - accepted)) / rate), 1024), 1 << 20);
    const theta = prior.sample(m, { seed, streamOffset: BigInt(batch) * 2n ** 32n });
    const lp = await logDensity(theta);
    for (let i = 0; i < m; i++) {
      if (!(lp[i]! >= threshold)) continue;
      inside++;
      if (accepted < n) out.set(theta.subarray(i * D, (i + 1) * D), D * accepted++);
    }
    proposed += m;
    if (accepted < n && proposed >= minProposals && inside / proposed < minAcceptance) {
      throw new SbiError(
        `The truncated prior accepted only ${accepted} of ${proposed} prior draws (below minAcceptance = ${minAcceptance}): ` +
          'the posterior\'s high-density region is a vanishing part of the prior. Train with more simulations per round, or lower `minAcceptance`.',
        'LOW_ACCEPTANCE',
      );
    }
  }
  return { theta: out, acceptance: inside / proposed };
}
