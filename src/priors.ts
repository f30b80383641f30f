/**
 * Priors over θ. Built from plain typed configuration (`PriorSpec`), so tasks, the CLI and
 * saved models describe priors as data.
 */

export type PriorSpec =
  /** Independent U(low_i, high_i) per dimension. */
  | { kind: 'boxUniform'; low: number[]; high: number[] }
  /** Independent N(loc_i, scale_i^2) per dimension. */
  | { kind: 'normal'; loc: number[]; scale: number[] }
  /** N(loc, Σ) given by exactly one of `covariance` or `precision` ([d, d] row-major). */
  | { kind: 'multivariateNormal'; loc: number[]; covariance?: number[]; precision?: number[] }
  /** Independent log-normal: log θ_i ~ N(loc_i, scale_i^2). */
  | { kind: 'logNormal'; loc: number[]; scale: number[] }
  /** Independent product: θ is the concatenation of the parts' draws. */
  | { kind: 'product'; parts: PriorSpec[] };

export interface Prior {
  readonly spec: PriorSpec;
  readonly dim: number;
  /** n draws, [n, dim] row-major; row i depends only on (seed, streamOffset + i). */
  sample(n: number, options: { seed: number | bigint; streamOffset?: number | bigint; threads?: number }): Float64Array;
  /** log density of each row of θ ([n, dim]); -Infinity outside the support. */
  logProb(theta: Float64Array): Float64Array;
  /** 1 where the row of θ lies in the support, else 0. */
  inSupport(theta: Float64Array): Uint8Array;
}
