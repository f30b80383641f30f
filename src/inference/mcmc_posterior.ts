/**
 * A posterior known up to its normaliser, p(θ | x) ∝ exp(potential(θ, x)) · prior(θ), sampled by
 * the vectorised slice sampler: the posterior of likelihood (NLE: potential = log q(x | θ)) and
 * ratio (NRE: potential = log r(θ, x)) estimators. One call of `potential` per sampler step
 * covers every active chain. Defaults follow sbibm's MCMC settings for SNLE/SNRE (100 chains,
 * 100 warm-up sweeps, thinning 10, SIR initialisation).
 */
import { SbiError } from '../errors.js';
import type { BackendRequest } from '../backend/backend.js';
import type { Prior } from '../priors.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { checkFiniteArray, checkMatrix, checkNonNegativeInteger, checkPositiveInteger, checkSeed, describe } from '../validate.js';
import { initChains, sliceSample, type SliceSamplerResult } from './mcmc.js';

/**
 * The data-dependent term of the log posterior for each row of θ [rows, dim] at one observation
 * x [xDim]. Values outside the prior's support are never requested.
 */
export type PotentialFunction = (theta: Float64Array, rows: number, x: Float64Array) => Float64Array | Promise<Float64Array>;

export interface MCMCSampleOptions {
  /** The observation [xDim]. */
  x: ArrayLike<number>;
  seed: number | bigint;
  /** Chains run side by side (default 100). */
  chains?: number;
  /** Warm-up sweeps per chain, discarded (default 100). */
  warmup?: number;
  /** Keep every `thin`-th sweep (default 10). */
  thin?: number;
  /** Chain initialisation: 'sir' (default) or 'prior'. */
  init?: 'sir' | 'prior';
  /** Called after each sweep. */
  onProgress?: (sweepsDone: number, sweepsTotal: number) => void;
  signal?: AbortSignal;
  /**
   * Where each step's batched potential runs (default 'cpu'; the sampler's bookkeeping stays in
   * TypeScript): a posterior whose potential has a kernel on that backend evaluates it there (NLE's
   * flow or MDN: op flow.maf_log_prob / flow.mdn_log_prob). A backend named explicitly that cannot
   * is UNSUPPORTED_OP; 'auto' falls back to the cpu.
   */
  backend?: BackendRequest;
}

/** The draws [n, dim] (draw-major over chains) with the sampler's diagnostics. */
export type MCMCSampleResult = SliceSamplerResult;

const BACKEND_REQUESTS: readonly BackendRequest[] = ['cpu', 'webgpu', 'cuda', 'auto'];

export class MCMCPosterior {
  readonly dim: number;

  constructor(readonly prior: Prior, readonly xDim: number, private readonly potential: PotentialFunction) {
    this.dim = prior.dim;
  }

  /** The observation as a Float64Array, checked. */
  observation(x: ArrayLike<number>): Float64Array {
    if (x === null || typeof x !== 'object' || typeof (x as ArrayLike<number>).length !== 'number') {
      throw new TypeError(`Expected an array of ${this.xDim} numbers for \`x\` but received ${describe(x)}`);
    }
    if (x.length !== this.xDim) throw new RangeError(`Expected ${this.xDim} values in \`x\` but received ${x.length}`);
    const out = Float64Array.from(x);
    checkFiniteArray(out, 'x');
    return out;
  }

  /**
   * The potential evaluated on `request`'s backend. This base class has CPU code only: 'cpu' and
   * 'auto' give it, another backend named explicitly is UNSUPPORTED_OP. Subclasses with device
   * kernels (NLEPosterior) override this.
   */
  protected async potentialOn(request: BackendRequest): Promise<PotentialFunction> {
    if (request === 'cpu' || request === 'auto') return this.potential;
    throw new SbiError(`MCMC potential is not supported on the ${request} backend: this posterior's potential has cpu code only`, 'UNSUPPORTED_OP');
  }

  /** log prior + potential per row; −Infinity outside the prior's support. */
  private async logDensity(theta: Float64Array, rows: number, x: Float64Array, potential: PotentialFunction = this.potential): Promise<Float64Array> {
    const lp = this.prior.logProb(theta.length === rows * this.dim ? theta : theta.subarray(0, rows * this.dim));
    const inside: number[] = [];
    for (let i = 0; i < rows; i++) if (lp[i]! > -Infinity) inside.push(i);
    const out = new Float64Array(rows).fill(-Infinity);
    if (inside.length === 0) return out;
    const packed = new Float64Array(inside.length * this.dim);
    inside.forEach((i, r) => packed.set(theta.subarray(i * this.dim, (i + 1) * this.dim), r * this.dim));
    const pot = await potential(packed, inside.length, x);
    if (!(pot instanceof Float64Array) || pot.length !== inside.length) {
      throw new SbiError(`The potential must return a Float64Array of ${inside.length} values`, 'BAD_POTENTIAL');
    }
    inside.forEach((i, r) => {
      // A non-finite potential (a diverging network) counts as zero density, never as NaN.
      const v = lp[i]! + pot[r]!;
      out[i] = Number.isNaN(v) ? -Infinity : v;
    });
    return out;
  }

  /** Unnormalised log posterior log prior(θ) + potential(θ, x) per row of θ [n, dim]; −Infinity outside the support. */
  async logProb(theta: Float64Array, options: { x: ArrayLike<number> }): Promise<Float64Array> {
    const n = checkMatrix(theta, this.dim, 'theta');
    checkFiniteArray(theta, 'theta', this.dim);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` but received ${describe(options)}`);
    return this.logDensity(theta, n, this.observation(options.x));
  }

  /**
   * n draws from the posterior at x by slice sampling; the result carries ESS and R̂ per dimension.
   * The chains, seeds and bookkeeping do not depend on `backend`; only the potential's values do,
   * within its op's float tolerance.
   */
  async sample(n: number, options: MCMCSampleOptions): Promise<MCMCSampleResult> {
    checkPositiveInteger(n, 'n', 2 ** 31);
    if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`x\` and \`seed\` but received ${describe(options)}`);
    const seed = checkSeed(options.seed);
    const x = this.observation(options.x);
    const chains = checkPositiveInteger(options.chains ?? 100, 'chains', 1 << 20);
    const warmup = checkNonNegativeInteger(options.warmup ?? 100, 'warmup');
    const thin = checkPositiveInteger(options.thin ?? 10, 'thin');
    const init = options.init ?? 'sir';
    if (init !== 'sir' && init !== 'prior') throw new RangeError(`Expected "sir" or "prior" for \`init\` but received ${describe(init)}`);
    const request = options.backend ?? 'cpu';
    if (!BACKEND_REQUESTS.includes(request)) throw new RangeError(`Expected one of ${BACKEND_REQUESTS.join(', ')} for \`backend\` but received ${describe(request)}`);
    const potential = await this.potentialOn(request);
    const density = (theta: Float64Array, rows: number) => this.logDensity(theta, rows, x, potential);
    const base = deriveSeed(seed, SeedPurpose.sampling);
    const start = await initChains(this.prior, density, chains, { seed: deriveSeed(base, 1), method: init });
    return sliceSample(density, this.dim, {
      chains, samples: n, warmup, thin, init: start, seed: deriveSeed(base, 2),
      onProgress: options.onProgress, signal: options.signal,
    });
  }
}
