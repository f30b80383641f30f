/**
 * Priors over θ. Built from plain typed configuration (`PriorSpec`), so tasks, the CLI and
 * saved models describe priors as data.
 *
 * Sampling is native (kernels/random/prior.h): row i of `sample(n, { seed, streamOffset })`
 * is drawn from Philox stream streamOffset + i under key seed, part by part in the order of
 * the spec, so it depends only on (seed, streamOffset + i) — not on n, threads or ISA path.
 * `logProb` and `inSupport` are exact closed forms evaluated in TypeScript.
 */
import { native } from './native.js';
import { gaussianScaleTril } from './random.js';
import {
  checkMatrix,
  checkNonNegativeInteger,
  checkNumberArray,
  checkSeed,
  checkThreads,
  describe,
} from './validate.js';

export type PriorSpec =
  /** Independent U(low_i, high_i) per dimension; support [low_i, high_i]. */
  | { kind: 'boxUniform'; low: number[]; high: number[] }
  /** Independent N(loc_i, scale_i^2) per dimension. */
  | { kind: 'normal'; loc: number[]; scale: number[] }
  /**
   * N(loc, Σ) given by exactly one of `covariance`, `precision` (Σ⁻¹) or `scaleTril`
   * (lower-triangular L with Σ = L Lᵀ), each [d, d] row-major.
   */
  | { kind: 'multivariateNormal'; loc: number[]; covariance?: number[]; precision?: number[]; scaleTril?: number[] }
  /** Independent log-normal: log θ_i ~ N(loc_i, scale_i^2); support θ_i > 0. */
  | { kind: 'logNormal'; loc: number[]; scale: number[] }
  /** Independent product: θ is the concatenation of the parts' draws. */
  | { kind: 'product'; parts: PriorSpec[] };

export interface PriorSampleOptions {
  /** Philox key: a non-negative safe integer or a bigint below 2^64. */
  seed: number | bigint;
  /** Philox stream of row 0 (row i uses streamOffset + i). Default 0. */
  streamOffset?: number | bigint;
  /** Worker threads (default: all cores). Never changes the result. */
  threads?: number;
}

export interface Prior {
  readonly spec: PriorSpec;
  readonly dim: number;
  /** n draws, [n, dim] row-major; row i depends only on (seed, streamOffset + i). */
  sample(n: number, options: PriorSampleOptions): Float64Array;
  /** log density of each row of θ ([n, dim]); -Infinity outside the support. */
  logProb(theta: Float64Array): Float64Array;
  /** 1 where the row of θ lies in the support, else 0. */
  inSupport(theta: Float64Array): Uint8Array;
}

/** Part kinds as numbered in kernels/random/prior.h. */
const enum PartKind {
  BoxUniform = 0,
  Normal = 1,
  LogNormal = 2,
  Mvn = 3,
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** One independent block of θ: columns [offset, offset + dim). */
interface Part {
  kind: PartKind;
  dim: number;
  /** Native parameters (see prior.h). */
  params: Float64Array;
  /** log density of θ[offset, offset + dim), which is finite and inside the support. */
  logProb(theta: Float64Array, offset: number): number;
  /** Whether the finite block θ[offset, offset + dim) lies in the support. */
  inSupport(theta: Float64Array, offset: number): boolean;
}

function boxUniformPart(low: Float64Array, high: Float64Array): Part {
  let logVolume = 0;
  for (let i = 0; i < low.length; i++) logVolume += Math.log(high[i] - low[i]);
  const inSupport = (t: Float64Array, o: number) => {
    for (let i = 0; i < low.length; i++) if (!(t[o + i] >= low[i] && t[o + i] <= high[i])) return false;
    return true;
  };
  return {
    kind: PartKind.BoxUniform,
    dim: low.length,
    params: concat(low, high),
    logProb: () => -logVolume,
    inSupport,
  };
}

function normalPart(loc: Float64Array, scale: Float64Array, logNormal: boolean): Part {
  let constant = 0;
  for (let i = 0; i < loc.length; i++) constant -= Math.log(scale[i]) + LOG_SQRT_2PI;
  const inSupport = logNormal
    ? (t: Float64Array, o: number) => {
        for (let i = 0; i < loc.length; i++) if (!(t[o + i] > 0)) return false;
        return true;
      }
    : () => true;
  return {
    kind: logNormal ? PartKind.LogNormal : PartKind.Normal,
    dim: loc.length,
    params: concat(loc, scale),
    logProb: (t, o) => {
      let lp = constant;
      for (let i = 0; i < loc.length; i++) {
        // Log-normal: density of log θ times the Jacobian 1/θ.
        const y = logNormal ? Math.log(t[o + i]) : t[o + i];
        const z = (y - loc[i]) / scale[i];
        lp -= 0.5 * z * z + (logNormal ? y : 0);
      }
      return lp;
    },
    inSupport,
  };
}

function mvnPart(loc: Float64Array, L: Float64Array): Part {
  const d = loc.length;
  let constant = -d * LOG_SQRT_2PI;
  for (let i = 0; i < d; i++) constant -= Math.log(L[i * d + i]);
  const z = new Float64Array(d);
  return {
    kind: PartKind.Mvn,
    dim: d,
    params: concat(loc, L),
    // log N(θ; loc, L Lᵀ) = −½‖L⁻¹(θ − loc)‖² − Σ log L_ii − d log √(2π)
    logProb: (t, o) => {
      let q = 0;
      for (let i = 0; i < d; i++) {
        let s = t[o + i] - loc[i];
        for (let j = 0; j < i; j++) s -= L[i * d + j] * z[j];
        z[i] = s / L[i * d + i];
        q += z[i] * z[i];
      }
      return constant - 0.5 * q;
    },
    inSupport: () => true,
  };
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Validates `spec` (field names prefixed by `path`) and appends its parts, flattening products. */
function compile(spec: PriorSpec, path: string, parts: Part[]): void {
  if (typeof spec !== 'object' || spec === null) {
    throw new TypeError(`Expected a prior spec object { kind, ... } for \`${path || 'spec'}\` but received ${describe(spec)}`);
  }
  const field = (name: string) => `${path}${name}`;
  switch (spec.kind) {
    case 'boxUniform': {
      const low = checkNumberArray(spec.low, field('low'));
      const high = checkNumberArray(spec.high, field('high'), low.length);
      for (let i = 0; i < low.length; i++) {
        if (!(low[i] < high[i]) || !Number.isFinite(high[i] - low[i])) {
          throw new RangeError(
            `Expected \`${field('low')}[${i}]\` < \`${field('high')}[${i}]\` with a finite width but received ${low[i]} and ${high[i]}`,
          );
        }
      }
      parts.push(boxUniformPart(low, high));
      return;
    }
    case 'normal':
    case 'logNormal': {
      const loc = checkNumberArray(spec.loc, field('loc'));
      const scale = checkNumberArray(spec.scale, field('scale'), loc.length);
      for (let i = 0; i < scale.length; i++) {
        if (!(scale[i] > 0)) throw new RangeError(`Expected a positive number for \`${field('scale')}[${i}]\` but received ${scale[i]}`);
      }
      parts.push(normalPart(loc, scale, spec.kind === 'logNormal'));
      return;
    }
    case 'multivariateNormal': {
      const loc = checkNumberArray(spec.loc, field('loc'));
      parts.push(mvnPart(loc, gaussianScaleTril(loc.length, spec, path)));
      return;
    }
    case 'product': {
      if (!Array.isArray(spec.parts) || spec.parts.length === 0) {
        throw new RangeError(`Expected a non-empty array for \`${field('parts')}\` but received ${describe(spec.parts)}`);
      }
      spec.parts.forEach((p, i) => compile(p, `${field('parts')}[${i}].`, parts));
      return;
    }
    default: {
      const kind = (spec as { kind?: unknown }).kind;
      throw new RangeError(
        `Unknown prior kind ${describe(kind)} for \`${field('kind')}\`; expected one of boxUniform, normal, multivariateNormal, logNormal, product`,
      );
    }
  }
}

class CompiledPrior implements Prior {
  readonly spec: PriorSpec;
  readonly dim: number;
  private readonly parts: Part[];
  /** (kind, dim, params offset) per part, for the native kernel. */
  private readonly program: Int32Array;
  private readonly params: Float64Array;

  constructor(spec: PriorSpec) {
    const parts: Part[] = [];
    compile(spec, '', parts);
    this.spec = structuredClone(spec);
    this.parts = parts;
    this.dim = parts.reduce((s, p) => s + p.dim, 0);
    this.program = new Int32Array(3 * parts.length);
    this.params = new Float64Array(parts.reduce((s, p) => s + p.params.length, 0));
    let offset = 0;
    parts.forEach((p, j) => {
      this.program.set([p.kind, p.dim, offset], 3 * j);
      this.params.set(p.params, offset);
      offset += p.params.length;
    });
  }

  sample(n: number, options: PriorSampleOptions): Float64Array {
    const count = checkNonNegativeInteger(n, 'n');
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Expected an options object { seed, streamOffset?, threads? } but received ${describe(options)}`);
    }
    checkSeed(options.seed, 'seed');
    if (options.streamOffset !== undefined) checkSeed(options.streamOffset, 'streamOffset');
    if (options.threads !== undefined) checkThreads(options.threads);
    let out: Float64Array;
    try {
      out = new Float64Array(count * this.dim);
    } catch (e) {
      throw new RangeError(`Cannot allocate ${count} × ${this.dim} values for \`n\` = ${count}: ${e instanceof Error ? e.message : String(e)}`);
    }
    native.samplePrior(this.program, this.params, count, options.seed, options.streamOffset ?? 0, out, options.threads);
    return out;
  }

  /** Rows of θ ([n, dim] row-major; an empty Float64Array has 0 rows). */
  private rows(theta: Float64Array): number {
    if (theta instanceof Float64Array && theta.length === 0) return 0;
    return checkMatrix(theta, this.dim, 'theta');
  }

  /** Whether row r (at offset o) is finite and inside every part's support. */
  private rowInSupport(theta: Float64Array, o: number): boolean {
    for (let j = 0; j < this.dim; j++) if (!Number.isFinite(theta[o + j])) return false;
    for (const p of this.parts) {
      if (!p.inSupport(theta, o)) return false;
      o += p.dim;
    }
    return true;
  }

  logProb(theta: Float64Array): Float64Array {
    const n = this.rows(theta);
    const out = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let o = r * this.dim;
      if (!this.rowInSupport(theta, o)) {
        out[r] = -Infinity;
        continue;
      }
      let lp = 0;
      for (const p of this.parts) {
        lp += p.logProb(theta, o);
        o += p.dim;
      }
      out[r] = lp;
    }
    return out;
  }

  inSupport(theta: Float64Array): Uint8Array {
    const n = this.rows(theta);
    const out = new Uint8Array(n);
    for (let r = 0; r < n; r++) out[r] = this.rowInSupport(theta, r * this.dim) ? 1 : 0;
    return out;
  }
}

/**
 * Builds a Prior from its spec, validating it: dimensions agree, scales are positive, low <
 * high, a covariance or precision is symmetric positive definite (a precision is inverted to a
 * covariance; its Cholesky factor drives sampling). Throws TypeError / RangeError naming the
 * field, e.g. "`parts[1].scale[0]`".
 */
export function createPrior(spec: PriorSpec): Prior {
  return new CompiledPrior(spec);
}
