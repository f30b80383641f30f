/**
 * Flow transforms on batches x [N, D] (row-major), in the precision of the arrays passed
 * (Float64Array: double kernels, Float32Array: float kernels). Each transform offers the fused
 * call-and-log-det and its inverse; ladj is log|det ∂y/∂x| per row [N]. Parameters are given per
 * call, [N, paramsPerRow] (in a flow they are a conditioner network's outputs).
 *
 * - `RQSpline`: the rational-quadratic spline of Neural Spline Flows (Durkan et al., NeurIPS 2019,
 *   arXiv:1906.04140), elementwise; params [N, D, 3K − 1] (kernels/flows/rq_spline.h).
 * - `ElementwiseAffine`: y = x·exp(s) + t of MAF (Papamakarios et al., NeurIPS 2017,
 *   arXiv:1705.07057) with a soft-clamped log-scale; params [N, D, 2] (kernels/flows/affine.h).
 * - `Permutation`: y[:, i] = x[:, perm[i]], log-det 0, no params.
 * See docs/flows.md.
 */
import { native } from '../native.js';
import { checkPositive, checkPositiveInteger, describe } from '../validate.js';

export type FloatArray = Float64Array | Float32Array;

export interface FlowTransform {
  readonly dim: number;
  readonly paramsPerRow: number;
  /** y = f(x) and log|det ∂y/∂x| per row, in one pass. */
  callAndLadj<A extends FloatArray>(x: A, params: A): { y: A; ladj: A };
  /** y = f(x) alone. */
  call<A extends FloatArray>(x: A, params: A): A;
  /** log|det ∂y/∂x| per row alone. */
  ladj<A extends FloatArray>(x: A, params: A): A;
  /** x = f⁻¹(y) and log|det ∂x/∂y| per row, in one pass. */
  inverseAndLadj<A extends FloatArray>(y: A, params: A): { x: A; ladj: A };
  /** dL/dx [N, D] and dL/dparams [N, paramsPerRow] of the forward pass, from dL/dy [N, D] and dL/dladj [N]. */
  backward<A extends FloatArray>(x: A, params: A, gy: A, gLadj: A): { gx: A; gParams: A };
}

function alloc<A extends FloatArray>(like: A, length: number): A {
  return (like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length)) as A;
}

/** Checks x [N, dim] and params [N, paramsPerRow] (same precision) and returns N. */
function checkBatch(x: unknown, params: unknown, dim: number, paramsPerRow: number, xName = 'x'): number {
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

/** A transform applied to every coordinate by a native kernel with `perElement` params each. */
abstract class ElementwiseTransform implements FlowTransform {
  readonly paramsPerRow: number;
  protected constructor(
    readonly dim: number,
    private readonly kernel: 'rqSpline' | 'affine',
    private readonly hyper: Float64Array,
    perElement: number,
  ) {
    checkPositiveInteger(dim, 'dim', 1 << 20);
    this.paramsPerRow = dim * perElement;
  }

  callAndLadj<A extends FloatArray>(x: A, params: A): { y: A; ladj: A } {
    const n = checkBatch(x, params, this.dim, this.paramsPerRow);
    const y = alloc(x, x.length);
    const ladj = alloc(x, x.length);
    native.flowTransform(this.kernel, 'forward', this.hyper, x, params, y, ladj);
    return { y, ladj: sumRows(ladj, n, this.dim) };
  }

  call<A extends FloatArray>(x: A, params: A): A {
    checkBatch(x, params, this.dim, this.paramsPerRow);
    const y = alloc(x, x.length);
    native.flowTransform(this.kernel, 'forward', this.hyper, x, params, y, null);
    return y;
  }

  ladj<A extends FloatArray>(x: A, params: A): A {
    const n = checkBatch(x, params, this.dim, this.paramsPerRow);
    const ladj = alloc(x, x.length);
    native.flowTransform(this.kernel, 'forward', this.hyper, x, params, null, ladj);
    return sumRows(ladj, n, this.dim);
  }

  inverseAndLadj<A extends FloatArray>(y: A, params: A): { x: A; ladj: A } {
    const n = checkBatch(y, params, this.dim, this.paramsPerRow, 'y');
    const x = alloc(y, y.length);
    const ladj = alloc(y, y.length);
    native.flowTransform(this.kernel, 'inverse', this.hyper, y, params, x, ladj);
    return { x, ladj: sumRows(ladj, n, this.dim) };
  }

  backward<A extends FloatArray>(x: A, params: A, gy: A, gLadj: A): { gx: A; gParams: A } {
    const n = checkBatch(x, params, this.dim, this.paramsPerRow);
    if (gLadj.length !== n) throw new RangeError(`Expected \`gLadj\` to hold ${n} values ([N]) but received ${gLadj.length}`);
    // The row's dL/dladj reaches every element's log-det (ladj is their sum).
    const gl = alloc(x, x.length);
    for (let i = 0; i < x.length; i++) gl[i] = gLadj[Math.floor(i / this.dim)]!;
    const gx = alloc(x, x.length);
    const gParams = alloc(x, params.length);
    native.flowTransformBackward(this.kernel, this.hyper, x, params, gy, gl, gx, gParams);
    return { gx, gParams };
  }
}

export interface RQSplineOptions {
  /** Number of bins K (default 8). */
  bins?: number;
  /** The spline covers [-bound, bound] in x and y; identity outside (default 3). */
  bound?: number;
  /** Smallest bin width / height as a fraction of 2·bound (default 1e-3). */
  minBinWidth?: number;
  minBinHeight?: number;
  /** Smallest knot derivative (default 1e-3). */
  minDerivative?: number;
}

/** Elementwise monotonic rational-quadratic spline (NSF, arXiv:1906.04140); params [N, D, 3K − 1]. */
export class RQSpline extends ElementwiseTransform {
  readonly bins: number;
  readonly bound: number;
  constructor(dim: number, options: RQSplineOptions = {}) {
    const bins = checkPositiveInteger(options.bins ?? 8, 'bins', 1024);
    const bound = checkPositive(options.bound ?? 3, 'bound');
    const fractions = ['minBinWidth', 'minBinHeight'] as const;
    for (const name of fractions) {
      const m = options[name] ?? 1e-3;
      if (typeof m !== 'number' || !(m >= 0 && m * bins < 1)) {
        throw new RangeError(`Expected \`${name}\` in [0, 1/bins) = [0, ${1 / bins}) but received ${describe(m)}`);
      }
    }
    const minDerivative = options.minDerivative ?? 1e-3;
    if (typeof minDerivative !== 'number' || !(minDerivative >= 0) || !Number.isFinite(minDerivative)) {
      throw new RangeError(`Expected a non-negative \`minDerivative\` but received ${describe(minDerivative)}`);
    }
    const hyper = Float64Array.of(bins, bound, options.minBinWidth ?? 1e-3, options.minBinHeight ?? 1e-3, minDerivative);
    super(dim, 'rqSpline', hyper, 3 * bins - 1);
    this.bins = bins;
    this.bound = bound;
  }
}

/** Elementwise y = x·exp(s) + t (MAF, arXiv:1705.07057), s = c·u/√(c² + u²) ∈ (−c, c); params [N, D, 2] = (u, t). */
export class ElementwiseAffine extends ElementwiseTransform {
  constructor(dim: number, options: { scaleBound?: number } = {}) {
    const c = checkPositive(options.scaleBound ?? 5, 'scaleBound');
    if (c > 80) throw new RangeError(`Expected \`scaleBound\` in (0, 80] but received ${c}`);
    super(dim, 'affine', Float64Array.of(c), 2);
  }
}

/** y[:, i] = x[:, perm[i]]; log-det 0, no params. */
export class Permutation implements FlowTransform {
  readonly dim: number;
  readonly paramsPerRow = 0;
  private readonly perm: Int32Array;

  constructor(perm: ArrayLike<number>) {
    this.dim = checkPositiveInteger(perm.length, 'perm.length', 1 << 20);
    this.perm = Int32Array.from(perm);
    const seen = new Uint8Array(this.dim);
    for (const p of this.perm) {
      if (!(p >= 0 && p < this.dim) || seen[p]) {
        throw new RangeError(`Expected \`perm\` to be a permutation of 0..${this.dim - 1} but received [${Array.from(perm).join(', ')}]`);
      }
      seen[p] = 1;
    }
  }

  /** The reversal [D−1, ..., 0] (MAF's order change between layers). */
  static reverse(dim: number): Permutation {
    return new Permutation(Array.from({ length: dim }, (_, i) => dim - 1 - i));
  }

  private gather<A extends FloatArray>(x: A, inverse: boolean): A {
    const out = alloc(x, x.length);
    const d = this.dim;
    for (let r = 0; r < x.length / d; r++) {
      for (let i = 0; i < d; i++) {
        if (inverse) out[r * d + this.perm[i]!] = x[r * d + i]!;
        else out[r * d + i] = x[r * d + this.perm[i]!]!;
      }
    }
    return out;
  }

  callAndLadj<A extends FloatArray>(x: A, params: A): { y: A; ladj: A } {
    const n = checkBatch(x, params, this.dim, 0);
    return { y: this.gather(x, false), ladj: alloc(x, n) };
  }
  call<A extends FloatArray>(x: A, params: A): A {
    checkBatch(x, params, this.dim, 0);
    return this.gather(x, false);
  }
  ladj<A extends FloatArray>(x: A, params: A): A {
    return alloc(x, checkBatch(x, params, this.dim, 0));
  }
  inverseAndLadj<A extends FloatArray>(y: A, params: A): { x: A; ladj: A } {
    const n = checkBatch(y, params, this.dim, 0, 'y');
    return { x: this.gather(y, true), ladj: alloc(y, n) };
  }
  backward<A extends FloatArray>(x: A, params: A, gy: A, _gLadj: A): { gx: A; gParams: A } {
    checkBatch(x, params, this.dim, 0);
    return { gx: this.gather(gy, true), gParams: alloc(x, 0) };
  }
}
