/**
 * Exact marginal likelihood of Ginkgo jets on a grid of a rate parameter, and the exact posterior
 * over it: p(leaves | λ) = Z(leaves; λ) from the trellis (all hierarchies summed), independent jets
 * multiply, p(λ_i | jets) ∝ prior(λ_i) Π_jets Z_jet(λ_i) normalised over the grid points.
 */
import { checkFinite, describe } from '../validate.js';
import type { GinkgoModel } from './ginkgo.js';
import { runTrellis, type Leaves } from './trellis.js';

export interface LambdaGridOptions {
  /** Which rate the grid varies (the other stays as in `model`); default 'lambda'. */
  parameter?: 'lambda' | 'lambdaRoot';
  /** log prior density at each grid value (default: flat). */
  logPrior?: (value: number) => number;
  threads?: number;
}

export interface LambdaGridResult {
  grid: number[];
  /** [jet][grid point] log p(leaves | λ) */
  jetLogLikelihood: number[][];
  /** Σ over jets, per grid point */
  logLikelihood: number[];
  /** posterior probability of each grid point (sums to 1) */
  posterior: number[];
  posteriorMean: number;
}

export function lambdaGridPosterior(jets: Leaves[], model: GinkgoModel, grid: number[], options: LambdaGridOptions = {}): LambdaGridResult {
  if (!Array.isArray(grid) || grid.length === 0) throw new TypeError(`Expected a non-empty array for \`grid\` but received ${describe(grid)}`);
  grid.forEach((v, i) => {
    if (!(checkFinite(v, `grid[${i}]`) > 0)) throw new RangeError(`Expected positive rates in \`grid\` but grid[${i}] is ${v}`);
  });
  const parameter = options.parameter ?? 'lambda';
  const jetLogLikelihood = jets.map((leaves) =>
    grid.map((v) => runTrellis(leaves, { ...model, [parameter]: v }, options.threads ? { threads: options.threads } : {}).logZ),
  );
  const logLikelihood = grid.map((_, i) => jetLogLikelihood.reduce((s, row) => s + row[i]!, 0));
  const logPost = logLikelihood.map((l, i) => l + (options.logPrior ? options.logPrior(grid[i]!) : 0));
  const max = Math.max(...logPost);
  const w = logPost.map((l) => (max > -Infinity ? Math.exp(l - max) : 0));
  const total = w.reduce((a, b) => a + b, 0);
  const posterior = w.map((x) => (total > 0 ? x / total : NaN));
  return { grid: [...grid], jetLogLikelihood, logLikelihood, posterior, posteriorMean: posterior.reduce((s, p, i) => s + p * grid[i]!, 0) };
}
