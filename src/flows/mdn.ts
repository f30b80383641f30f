/**
 * Conditional mixture density network q(y | c): a ReLU MLP on the context c whose output row
 * parameterises a mixture of K full-covariance Gaussians over y (Bishop 1994, "Mixture density
 * networks"; the density estimator of Papamakarios & Murray 2016, arXiv:1605.06376, and sbi's
 * `density_estimator='mdn'`). Each component's precision is UᵀU with U upper triangular and
 * diagonal exp(s); math, layout and backward in kernels/flows/mdn.h and docs/flows.md (MDN).
 *
 * Like MAF, it works on z-scored float32 rows: y [N, dim], context [N, contextDim] or one row
 * [contextDim] for all. Trained natively (native/mdn_trainer.h) through NPE / NLE with
 * `densityEstimator: 'mdn'`.
 */
import { native } from '../native.js';
import { checkPositiveInteger, checkSeed, describe } from '../validate.js';

export interface MDNConfig {
  dim: number;
  contextDim: number;
  /** Mixture components K (default 10, as sbi; at most 100). */
  components?: number;
  /** Units per hidden layer (default 50, as sbi). */
  hidden?: number;
  /** Hidden layers (default 2, as sbi). */
  hiddenLayers?: number;
}

export const MDN_MAX_DIM = 64;
export const MDN_MAX_COMPONENTS = 100;

export class MDN {
  readonly dim: number;
  readonly contextDim: number;
  readonly components: number;
  readonly hidden: number;
  readonly hiddenLayers: number;
  /** Outputs per component: logit, mean [dim], log-diagonal [dim], strictly upper entries [dim (dim − 1) / 2]. */
  readonly componentWidth: number;
  readonly paramCount: number;
  /** [dim, contextDim, hidden, hiddenLayers, components], as the native calls take it. */
  readonly arch: Int32Array;
  private weights: Float32Array;

  constructor(config: MDNConfig) {
    if (typeof config !== 'object' || config === null) throw new TypeError(`Expected an MDN configuration object but received ${describe(config)}`);
    this.dim = checkPositiveInteger(config.dim, 'dim', MDN_MAX_DIM);
    this.contextDim = checkPositiveInteger(config.contextDim, 'contextDim', 1 << 16);
    this.components = checkPositiveInteger(config.components ?? 10, 'components', MDN_MAX_COMPONENTS);
    this.hidden = checkPositiveInteger(config.hidden ?? 50, 'hidden', 4096);
    this.hiddenLayers = checkPositiveInteger(config.hiddenLayers ?? 2, 'hiddenLayers', 16);
    const D = this.dim;
    this.componentWidth = 1 + 2 * D + (D * (D - 1)) / 2;
    const sizes = [this.contextDim, ...Array<number>(this.hiddenLayers).fill(this.hidden), this.components * this.componentWidth];
    let count = 0;
    for (let l = 0; l + 1 < sizes.length; l++) count += sizes[l + 1]! * (sizes[l]! + 1);
    this.paramCount = count;
    this.arch = Int32Array.of(D, this.contextDim, this.hidden, this.hiddenLayers, this.components);
    this.weights = new Float32Array(count);
  }

  /** The network's parameters (kernels/nn/mlp.h layout), float32. */
  get params(): Float32Array {
    return this.weights;
  }

  set params(p: Float32Array) {
    if (!(p instanceof Float32Array) || p.length !== this.paramCount) {
      throw new TypeError(`Expected a Float32Array of ${this.paramCount} parameters but received ${describe(p)}`);
    }
    this.weights = p;
  }

  /** log q(y | c) per row [N] of z-scored y [N, dim]. */
  logProb(y: Float32Array, context: Float32Array): Float32Array {
    const n = this.rows(y, 'y');
    const out = new Float32Array(n);
    native.mdnLogProb(this.arch, this.weights, y, context, out);
    return out;
  }

  /** n draws y ~ q(y | c) [n, dim]; row i uses Philox stream i of `seed` (any thread count gives the same). */
  sample(n: number, context: Float32Array, options: { seed?: number | bigint } = {}): Float32Array {
    checkPositiveInteger(n, 'n', 2 ** 31);
    const seed = checkSeed(options.seed ?? 0);
    const y = new Float32Array(n * this.dim);
    native.mdnSample(this.arch, this.weights, context, n, seed, y);
    return y;
  }

  private rows(a: unknown, name: string): number {
    if (!(a instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${describe(a)}`);
    if (a.length === 0 || a.length % this.dim !== 0) {
      throw new RangeError(`Expected \`${name}\` to hold a positive multiple of ${this.dim} values ([N, ${this.dim}]) but received ${a.length}`);
    }
    return a.length / this.dim;
  }
}
