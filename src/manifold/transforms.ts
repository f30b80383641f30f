/**
 * Transforms of the circle and of the interval [−1, 1], applied to every coordinate of a batch
 * x [N, D] (row-major) with per-call parameters [N, D, P] (a conditioner network's outputs in a
 * flow), in the precision of the arrays (Float64Array: double kernels, Float32Array: float).
 * Angles are radians: any finite input is taken modulo 2π and outputs lie in [0, 2π).
 *
 * - `CircularRQSpline`: rational-quadratic spline of [0, 2π] with one shared boundary derivative
 *   (C¹ on the circle) and a rotation; P = 3K + 1.
 * - `MoebiusMixture`: softmax-weighted convex combination of K Möbius maps of the circle anchored
 *   at angle 0, and a rotation; P = 3K + 1. Inverse by safeguarded Newton.
 * - `NCPMixture`: convex combination of K non-compact projections 2 atan(α tan(x/2)), and a
 *   rotation; P = 2K + 1. Inverse by safeguarded Newton.
 * - `IntervalRQSpline`: rational-quadratic spline of [−1, 1] onto itself with free boundary
 *   derivatives; P = 3K + 1.
 *
 * Rezende et al., "Normalizing flows on tori and spheres", ICML 2020, arXiv:2002.02428; Kanwar
 * et al., arXiv:2003.06413; Albergo et al., arXiv:2101.08176. Kernels in kernels/manifold/,
 * parameter layouts and constraint maps in docs/manifold.md.
 */
import type { FloatArray, FlowTransform } from '../flows/transforms.js';
import { native } from '../native.js';
import { checkPositive, checkPositiveInteger, describe } from '../validate.js';

export type ManifoldKernel = 'circularSpline' | 'intervalSpline' | 'moebius' | 'ncp';

/** The addon's manifold entry points (native/manifold_ops.cc). */
interface ManifoldNative {
  /** 'forward': y = f(x) and log|dy/dx| per element; 'inverse': x in `y`, log|dx/dy| in `ladj`. */
  manifoldTransform<A extends FloatArray>(
    transform: ManifoldKernel, direction: 'forward' | 'inverse', hyper: Float64Array, x: A, params: A, y: A, ladj: A,
  ): void;
  /** dL/dx [n] and dL/dparams [n, P] from dL/dy and dL/dlog|dy/dx| per element. */
  manifoldTransformBackward<A extends FloatArray>(
    transform: ManifoldKernel, hyper: Float64Array, x: A, params: A, gy: A, gl: A, gx: A, gparams: A,
  ): void;
}
const kernels = native as unknown as ManifoldNative;

function alloc<A extends FloatArray>(like: A, length: number): A {
  return (like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length)) as A;
}

/** Checks x [N, dim] and params [N, paramsPerRow] (same precision) and returns N. */
function checkBatch(x: unknown, params: unknown, dim: number, paramsPerRow: number, xName: string): number {
  if (!(x instanceof Float64Array || x instanceof Float32Array)) {
    throw new TypeError(`Expected a Float64Array or Float32Array for \`${xName}\` ([N, ${dim}]) but received ${describe(x)}`);
  }
  if (x.length % dim !== 0) {
    throw new RangeError(`Expected \`${xName}\` to hold a multiple of ${dim} values ([N, ${dim}]) but received ${x.length}`);
  }
  const n = x.length / dim;
  if (!(x instanceof Float32Array ? params instanceof Float32Array : params instanceof Float64Array)) {
    throw new TypeError(`Expected a ${x.constructor.name} for \`params\` (the precision of \`${xName}\`) but received ${describe(params)}`);
  }
  if ((params as FloatArray).length !== n * paramsPerRow) {
    throw new RangeError(`Expected \`params\` to hold ${n * paramsPerRow} values ([${n}, ${paramsPerRow}]) but received ${(params as FloatArray).length}`);
  }
  return n;
}

function sumRows<A extends FloatArray>(elementwise: A, n: number, dim: number): A {
  const out = alloc(elementwise, n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += elementwise[r * dim + d]!;
    out[r] = s;
  }
  return out;
}

/** A circle or interval transform of every coordinate, `perElement` params each. */
export abstract class ManifoldTransform implements FlowTransform {
  readonly paramsPerRow: number;
  protected constructor(
    readonly dim: number,
    readonly kernel: ManifoldKernel,
    private readonly hyper: Float64Array,
    readonly paramsPerElement: number,
  ) {
    checkPositiveInteger(dim, 'dim', 1 << 20);
    this.paramsPerRow = dim * paramsPerElement;
  }

  /** y = f(x) and log|dy/dx| per element [N, D], one pass. */
  callElementwise<A extends FloatArray>(x: A, params: A): { y: A; ladj: A } {
    checkBatch(x, params, this.dim, this.paramsPerRow, 'x');
    const y = alloc(x, x.length);
    const ladj = alloc(x, x.length);
    kernels.manifoldTransform(this.kernel, 'forward', this.hyper, x, params, y, ladj);
    return { y, ladj };
  }

  /** x = f⁻¹(y) and log|dx/dy| per element [N, D], one pass. */
  inverseElementwise<A extends FloatArray>(y: A, params: A): { x: A; ladj: A } {
    checkBatch(y, params, this.dim, this.paramsPerRow, 'y');
    const x = alloc(y, y.length);
    const ladj = alloc(y, y.length);
    kernels.manifoldTransform(this.kernel, 'inverse', this.hyper, y, params, x, ladj);
    return { x, ladj };
  }

  /** dL/dx [N, D] and dL/dparams [N, paramsPerRow] from dL/dy [N, D] and dL/dlog|dy/dx| per element [N, D]. */
  backwardElementwise<A extends FloatArray>(x: A, params: A, gy: A, gl: A): { gx: A; gParams: A } {
    checkBatch(x, params, this.dim, this.paramsPerRow, 'x');
    const gx = alloc(x, x.length);
    const gParams = alloc(x, params.length);
    kernels.manifoldTransformBackward(this.kernel, this.hyper, x, params, gy, gl, gx, gParams);
    return { gx, gParams };
  }

  callAndLadj<A extends FloatArray>(x: A, params: A): { y: A; ladj: A } {
    const { y, ladj } = this.callElementwise(x, params);
    return { y, ladj: sumRows(ladj, x.length / this.dim, this.dim) };
  }
  call<A extends FloatArray>(x: A, params: A): A {
    return this.callElementwise(x, params).y;
  }
  ladj<A extends FloatArray>(x: A, params: A): A {
    return this.callAndLadj(x, params).ladj;
  }
  inverseAndLadj<A extends FloatArray>(y: A, params: A): { x: A; ladj: A } {
    const { x, ladj } = this.inverseElementwise(y, params);
    return { x, ladj: sumRows(ladj, y.length / this.dim, this.dim) };
  }
  /** dL/dx [N, D] and dL/dparams [N, paramsPerRow] from dL/dy [N, D] and dL/dladj per row [N]. */
  backward<A extends FloatArray>(x: A, params: A, gy: A, gLadj: A): { gx: A; gParams: A } {
    const n = checkBatch(x, params, this.dim, this.paramsPerRow, 'x');
    if (gLadj.length !== n) throw new RangeError(`Expected \`gLadj\` to hold ${n} values ([N]) but received ${gLadj.length}`);
    const gl = alloc(x, x.length);
    for (let i = 0; i < x.length; i++) gl[i] = gLadj[Math.floor(i / this.dim)]!;
    return this.backwardElementwise(x, params, gy, gl);
  }
}

export interface SplineOptions {
  /** Number of bins K (default 8). */
  bins?: number;
  /** Smallest bin width / height as a fraction of the segment (default 1e-3). */
  minBinWidth?: number;
  minBinHeight?: number;
  /** Smallest knot derivative, > 0 (default 1e-3). */
  minDerivative?: number;
}

function splineHyper(options: SplineOptions): Float64Array {
  const bins = checkPositiveInteger(options.bins ?? 8, 'bins', 1024);
  for (const name of ['minBinWidth', 'minBinHeight'] as const) {
    const m = options[name] ?? 1e-3;
    if (typeof m !== 'number' || !(m >= 0 && m * bins < 1)) {
      throw new RangeError(`Expected \`${name}\` in [0, 1/bins) = [0, ${1 / bins}) but received ${describe(m)}`);
    }
  }
  const minDerivative = checkPositive(options.minDerivative ?? 1e-3, 'minDerivative');
  return Float64Array.of(bins, options.minBinWidth ?? 1e-3, options.minBinHeight ?? 1e-3, minDerivative);
}

/**
 * Circular rational-quadratic spline (Rezende et al., arXiv:2002.02428, section 3.2): K bins on
 * [0, 2π], knot derivatives d_0 = d_K shared so the map is C¹ on the circle, then a rotation φ.
 * Params per element [widths (K) | heights (K) | derivatives d_0..d_{K−1} (K) | φ].
 */
export class CircularRQSpline extends ManifoldTransform {
  readonly bins: number;
  constructor(dim: number, options: SplineOptions = {}) {
    const hyper = splineHyper(options);
    super(dim, 'circularSpline', hyper, 3 * hyper[0]! + 1);
    this.bins = hyper[0]!;
  }
}

/**
 * Rational-quadratic spline of [−1, 1] onto itself with free boundary derivatives (the height
 * coordinate of recursive flows on spheres). Params per element
 * [widths (K) | heights (K) | derivatives d_0..d_K (K + 1)]; inputs must lie in [−1, 1].
 */
export class IntervalRQSpline extends ManifoldTransform {
  readonly bins: number;
  constructor(dim: number, options: SplineOptions = {}) {
    const hyper = splineHyper(options);
    super(dim, 'intervalSpline', hyper, 3 * hyper[0]! + 1);
    this.bins = hyper[0]!;
  }
}

/**
 * Convex combination Σ_k ρ_k g_k of K Möbius maps of the circle, each anchored at angle 0
 * (Rezende et al., arXiv:2002.02428, section 3.1), then a rotation φ. ρ = softmax(logits),
 * ω_k = 0.99 u_k / (1 + |u_k|). Params per element [logits (K) | (u_x, u_y) per component (2K) | φ].
 */
export class MoebiusMixture extends ManifoldTransform {
  readonly components: number;
  constructor(dim: number, options: { components?: number } = {}) {
    const k = checkPositiveInteger(options.components ?? 4, 'components', 1024);
    super(dim, 'moebius', Float64Array.of(k), 3 * k + 1);
    this.components = k;
  }
}

/**
 * Convex combination of K non-compact projections x ↦ 2 atan(α_k tan(x/2)) (Kanwar et al.,
 * arXiv:2003.06413), then a rotation φ. ρ = softmax(logits), α_k = minAlpha + softplus(a_k).
 * Params per element [logits (K) | α logits (K) | φ].
 */
export class NCPMixture extends ManifoldTransform {
  readonly components: number;
  constructor(dim: number, options: { components?: number; minAlpha?: number } = {}) {
    const k = checkPositiveInteger(options.components ?? 4, 'components', 1024);
    const minAlpha = checkPositive(options.minAlpha ?? 1e-3, 'minAlpha');
    super(dim, 'ncp', Float64Array.of(k, minAlpha), 2 * k + 1);
    this.components = k;
  }
}
