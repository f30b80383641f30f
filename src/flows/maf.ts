/**
 * Conditional masked autoregressive flow q(θ | x): the density estimator of NPE / NLE.
 * Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation", NeurIPS
 * 2017, arXiv:1705.07057; MADE of Germain et al., ICML 2015, arXiv:1502.03509. With
 * `transform: { kind: 'rqSpline' }` the elementwise map is the rational-quadratic spline of
 * Durkan et al., arXiv:1906.04140 (an autoregressive neural spline flow).
 *
 * θ [N, dim] and x [N, contextDim] (or one context row [contextDim] for every θ) are row-major;
 * the precision follows `params` (Float64Array: double kernels, Float32Array: float). Parameter
 * layout, masks and the math of the backward: docs/flows.md (MAF section); kernels in
 * kernels/nn/made.h and kernels/flows/maf.h.
 */
import { native } from '../native.js';
import { PhiloxStream } from '../random/philox.js';
import { checkPositiveInteger, checkNonNegativeInteger, checkSeed, describe } from '../validate.js';
import type { FloatArray } from './transforms.js';

export type MAFActivation = 'identity' | 'relu' | 'tanh' | 'elu' | 'silu';
const ACTIVATION_CODE: Record<MAFActivation, number> = { identity: 0, relu: 1, tanh: 2, elu: 3, silu: 4 };

/** The elementwise transform of every layer (kernels/flows/affine.h or rq_spline.h). */
export type MAFTransform =
  | { kind: 'affine'; scaleBound?: number }
  | { kind: 'rqSpline'; bins?: number; bound?: number; minBinWidth?: number; minBinHeight?: number; minDerivative?: number };

export interface MAFConfig {
  dim: number;
  contextDim: number;
  /** Width of every hidden layer of each MADE (default 50, as sbi). */
  hidden?: number;
  /** Hidden layers per MADE (default 2). */
  hiddenLayers?: number;
  /** Flow layers, reversed between consecutive ones (default 5, as sbi). */
  layers?: number;
  activation?: MAFActivation;
  transform?: MAFTransform;
  /**
   * Degree groups of each MADE, in [1, dim] (default dim): θ_d belongs to group ⌊d·passes/dim⌋ and
   * its parameters see x and the groups before its own only. dim is the autoregressive flow; 2 a
   * coupling flow (first half given x, second half given x and the first half), whose sampling
   * takes 2 network passes per layer instead of dim.
   */
  passes?: number;
}

export interface MAFInitOptions {
  seed?: number | bigint;
  precision?: 'float64' | 'float32';
}

export class MAF {
  readonly dim: number;
  readonly contextDim: number;
  readonly hidden: number;
  readonly hiddenLayers: number;
  readonly layers: number;
  /** Degree groups per MADE (= inverse network passes per layer): dim autoregressive, 2 coupling. */
  readonly passes: number;
  readonly activation: MAFActivation;
  readonly transform: Required<MAFTransform>;
  /** Parameters per dimension of the elementwise transform. */
  readonly paramsPerDim: number;
  readonly paramCount: number;
  /** 1 where params[j] is trainable, 0 for the masked weights (always exactly 0). */
  readonly mask: Uint8Array;
  params: FloatArray;
  /** The architecture as the native entry points take it: [dim, contextDim, hidden, hiddenLayers, layers, activation, passes]. */
  readonly arch: Int32Array;
  /** The transform's hyperparameters as the native entry points take them. */
  readonly hyper: Float64Array;

  constructor(config: MAFConfig, options: MAFInitOptions = {}) {
    if (typeof config !== 'object' || config === null) throw new TypeError(`Expected a MAF config object but received ${describe(config)}`);
    this.dim = checkPositiveInteger(config.dim, 'dim', 4096);
    this.contextDim = checkNonNegativeInteger(config.contextDim, 'contextDim');
    this.hidden = checkPositiveInteger(config.hidden ?? 50, 'hidden', 1 << 16);
    this.hiddenLayers = checkPositiveInteger(config.hiddenLayers ?? 2, 'hiddenLayers', 64);
    this.layers = checkPositiveInteger(config.layers ?? 5, 'layers', 256);
    this.passes = checkPositiveInteger(config.passes ?? this.dim, 'passes', this.dim);
    const activation = config.activation ?? 'tanh';
    if (!(activation in ACTIVATION_CODE)) {
      throw new RangeError(`Expected one of ${Object.keys(ACTIVATION_CODE).join(', ')} for \`activation\` but received ${describe(activation)}`);
    }
    this.activation = activation;
    const t = config.transform ?? { kind: 'affine' };
    if (t.kind === 'affine') {
      this.transform = { kind: 'affine', scaleBound: t.scaleBound ?? 5 };
      this.hyper = Float64Array.of(this.transform.scaleBound);
      this.paramsPerDim = 2;
    } else if (t.kind === 'rqSpline') {
      this.transform = {
        kind: 'rqSpline', bins: t.bins ?? 8, bound: t.bound ?? 3, minBinWidth: t.minBinWidth ?? 1e-3,
        minBinHeight: t.minBinHeight ?? 1e-3, minDerivative: t.minDerivative ?? 1e-3,
      };
      const s = this.transform;
      this.hyper = Float64Array.of(s.bins, s.bound, s.minBinWidth, s.minBinHeight, s.minDerivative);
      this.paramsPerDim = 3 * s.bins - 1;
    } else {
      throw new RangeError(`Expected \`transform.kind\` "affine" or "rqSpline" but received ${describe((t as { kind: unknown }).kind)}`);
    }
    this.arch = Int32Array.of(this.dim, this.contextDim, this.hidden, this.hiddenLayers, this.layers, ACTIVATION_CODE[activation], this.passes);
    this.paramCount = native.mafParamCount(this.arch, this.transform.kind, this.hyper);
    this.mask = new Uint8Array(this.paramCount);
    native.mafParamMask(this.arch, this.transform.kind, this.hyper, this.mask);
    this.params = this.initParams(options.seed ?? 0, options.precision ?? 'float64');
  }

  /** Parameters of one MADE (the flow's vector is `layers` of these). */
  get madeParamCount(): number {
    return this.paramCount / this.layers;
  }

  /**
   * Glorot-uniform weights (limit √(6 / (fanIn + fanOut)), from Philox stream = layer of `seed`),
   * zero biases, masked weights 0; each MADE's output layer scaled by 10⁻³ with biases that make
   * the elementwise transform the identity, so the initial flow is close to N(0, I).
   */
  initParams(seed: number | bigint, precision: 'float64' | 'float32' = 'float64'): FloatArray {
    checkSeed(seed);
    const p = precision === 'float32' ? new Float32Array(this.paramCount) : new Float64Array(this.paramCount);
    const D = this.dim, H = this.hidden, P = this.paramsPerDim;
    const shapes: [number, number][] = [[H, D + this.contextDim]];
    for (let l = 1; l < this.hiddenLayers; l++) shapes.push([H, H]);
    shapes.push([D * P, H]);
    // Identity spline: uniform bins (zero logits) and inner-knot slopes m_d + softplus(u) = 1.
    const t = this.transform;
    const identityBias = t.kind === 'rqSpline' ? Math.log(Math.expm1(1 - t.minDerivative)) : 0;
    for (let k = 0; k < this.layers; k++) {
      const rng = new PhiloxStream(seed, k);
      let off = k * this.madeParamCount;
      shapes.forEach(([out, inp], l) => {
        const last = l === shapes.length - 1;
        const limit = Math.sqrt(6 / (inp + out)) * (last ? 1e-3 : 1);
        for (let j = 0; j < out * inp; j++) {
          const u = rng.uniform();
          p[off + j] = this.mask[off + j] ? limit * (2 * u - 1) : 0;
        }
        off += out * inp;
        for (let o = 0; o < out; o++) p[off + o] = last && t.kind === 'rqSpline' && o % P >= 2 * t.bins ? identityBias : 0;
        off += out;
      });
    }
    return p;
  }

  /** log q(θ | x) per row [N]. */
  logProb<A extends FloatArray>(theta: A, x: A | null): A {
    return this.logProbAndBase(theta, x).logProb;
  }

  /** log q(θ | x) [N] and the base point u = f(θ; x) [N, dim]. */
  logProbAndBase<A extends FloatArray>(theta: A, x: A | null): { logProb: A; base: A } {
    const n = this.rows(theta, 'theta');
    const logProb = like(theta, n);
    const base = like(theta, n * this.dim);
    native.mafLogProb(this.arch, this.transform.kind, this.hyper, this.params as A, theta, x, logProb, base);
    return { logProb, base };
  }

  /** Mean −log q(θ | x) over the rows and its gradients w.r.t. params, θ and x (x's shape). */
  lossAndGrad<A extends FloatArray>(theta: A, x: A | null): { loss: number; gParams: A; gTheta: A; gX: A | null } {
    this.rows(theta, 'theta');
    const gParams = like(theta, this.paramCount);
    const gTheta = like(theta, theta.length);
    const gX = x && x.length > 0 ? like(theta, x.length) : null;
    const loss = native.mafLogProbBackward(this.arch, this.transform.kind, this.hyper, this.params as A, theta, x, gParams, gTheta, gX);
    return { loss, gParams, gTheta, gX };
  }

  /** n draws θ ~ q(θ | x) [n, dim]; row i uses Philox stream i of `seed` (any thread count gives the same). */
  sample<A extends FloatArray>(n: number, x: A | null, options: { seed?: number | bigint } = {}): A {
    return this.sampleAndLogProb(n, x, options).theta;
  }

  sampleAndLogProb<A extends FloatArray>(n: number, x: A | null, options: { seed?: number | bigint } = {}): { theta: A; logProb: A } {
    checkPositiveInteger(n, 'n', 2 ** 31);
    const seed = checkSeed(options.seed ?? 0);
    const proto = (this.params instanceof Float32Array ? new Float32Array(0) : new Float64Array(0)) as A;
    const theta = like(proto, n * this.dim);
    const logProb = like(proto, n);
    native.mafSample(this.arch, this.transform.kind, this.hyper, this.params as A, x, n, seed, theta, logProb);
    return { theta, logProb };
  }

  /** Outputs [N, dim, paramsPerDim] of layer `layer`'s MADE at its inputs [N, dim] (that layer's order). */
  conditioner<A extends FloatArray>(layer: number, input: A, x: A | null): A {
    const n = this.rows(input, 'input');
    const out = like(input, n * this.dim * this.paramsPerDim);
    native.mafConditioner(this.arch, this.transform.kind, this.hyper, this.params as A, layer, input, x, out);
    return out;
  }

  private rows(a: unknown, name: string): number {
    const f32 = this.params instanceof Float32Array;
    if (!(f32 ? a instanceof Float32Array : a instanceof Float64Array)) {
      throw new TypeError(`Expected a ${f32 ? 'Float32Array' : 'Float64Array'} for \`${name}\` (the precision of the parameters) but received ${describe(a)}`);
    }
    const arr = a as FloatArray;
    if (arr.length === 0 || arr.length % this.dim !== 0) {
      throw new RangeError(`Expected \`${name}\` to hold a positive multiple of ${this.dim} values ([N, ${this.dim}]) but received ${arr.length}`);
    }
    return arr.length / this.dim;
  }
}

function like<A extends FloatArray>(a: A, length: number): A {
  return (a instanceof Float32Array ? new Float32Array(length) : new Float64Array(length)) as A;
}
