/**
 * Exact inference over binary hierarchies of N leaves with the trellis (Greenberg, Macaluso, Monath,
 * Cranmer, McCallum et al., AISTATS 2021, arXiv:2002.11661): log Z, the exact count of
 * finite-energy hierarchies, the MAP hierarchy, every cluster's marginal probability and exact
 * posterior samples, in O(3^N) time and O(2^N) memory (native, kernels/trellis/). A hierarchy's
 * energy is the sum of a split potential ψ over its N − 1 internal nodes (docs/trellis.md).
 */
import { SbiError } from '../errors.js';
import type { ProgressCallback } from '../native.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, checkFinite, describe } from '../validate.js';
import type { GinkgoModel } from './ginkgo.js';
import { splitsToTree, treeToSplits, type NestedTree } from './hierarchy.js';
import { trellisNative, type NativeEnergyName, type NativeTrellisOptions, type NativeTrellisResult } from './native.js';

/** Gaussian centroid linkage: ψ(A, B) = −‖μ_A − μ_B‖² / (2σ²); leaves are points in R^4. */
export interface GaussianLinkageModel {
  kind: 'gaussian';
  sigma: number;
}

export type TrellisModel = GinkgoModel | GaussianLinkageModel;

/** Leaves as [N][4] rows or a Float64Array [N · 4]. */
export type Leaves = Float64Array | readonly (readonly number[])[];

/** The trellis's limit on the number of leaves (2^22 sets ≈ 0.5 GB of tables, ≈ 1.6·10^10 splits). */
export const TRELLIS_MAX_LEAVES = 22;

export interface TrellisOptions {
  /** Compute every cluster's marginal probability (a second pass over the splits, about as much work as log Z). */
  marginals?: boolean;
  /** Exact posterior samples of hierarchies (sample k uses Philox stream k). */
  samples?: number;
  seed?: number | bigint;
  threads?: number;
}

export interface TrellisAsyncOptions extends TrellisOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface TrellisResult {
  nLeaves: number;
  /** log Σ over all hierarchies of exp(Σ ψ): the marginal likelihood of the leaves. */
  logZ: number;
  /** Exact number of hierarchies of finite energy, as a decimal string. */
  nTrees: string;
  mapLogLH: number;
  /** null when no hierarchy has finite energy. */
  mapTree: NestedTree | null;
  /** P(cluster) indexed by the cluster's bitmask (length 2^N; index 0 unused). */
  marginals?: Float64Array;
  samples?: NestedTree[];
  /** Splits visited by the inside pass and, with marginals, the marginal pass ((3^N − 1)/2 each at most). */
  splitsEvaluated: number;
  seconds: number;
}

export function leavesToArray(leaves: Leaves, name = 'leaves'): Float64Array {
  if (leaves instanceof Float64Array) {
    if (leaves.length === 0 || leaves.length % 4 !== 0) throw new RangeError(`Expected \`${name}\` to hold N · 4 values but received ${leaves.length}`);
    return leaves;
  }
  if (!Array.isArray(leaves) || leaves.length === 0) throw new TypeError(`Expected \`${name}\` to be a non-empty array of [E, px, py, pz] rows but received ${describe(leaves)}`);
  const out = new Float64Array(leaves.length * 4);
  leaves.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== 4) throw new TypeError(`Expected \`${name}[${i}]\` to be 4 numbers but received ${describe(row)}`);
    row.forEach((v: unknown, k: number) => { out[4 * i + k] = checkFinite(v, `${name}[${i}][${k}]`); });
  });
  return out;
}

export function energyArgs(model: TrellisModel): [NativeEnergyName, Float64Array] {
  if (typeof model !== 'object' || model === null) throw new TypeError(`Expected a model object but received ${describe(model)}`);
  if (model.kind === 'ginkgo') return ['ginkgo', Float64Array.of(model.lambda, model.lambdaRoot, model.tCut)];
  if (model.kind === 'gaussian') return ['gaussian', Float64Array.of(model.sigma)];
  throw new SbiError(`Unknown model kind ${describe((model as { kind: unknown }).kind)}; known: ginkgo, gaussian`, 'UNKNOWN_ENERGY');
}

function nativeOptions(o: TrellisOptions): NativeTrellisOptions {
  const samples = o.samples === undefined ? 0 : checkNonNegativeInteger(o.samples, 'samples');
  return {
    ...(o.threads === undefined ? {} : { threads: checkThreads(o.threads) }),
    marginals: o.marginals === true,
    samples,
    ...(samples > 0 ? { seed: deriveSeed(checkSeed(o.seed ?? 0), SeedPurpose.sampling) } : {}),
  };
}

export function checkSize(x: Float64Array): number {
  const n = x.length / 4;
  if (n > TRELLIS_MAX_LEAVES)
    throw new SbiError(`The trellis handles at most ${TRELLIS_MAX_LEAVES} leaves (2^N sets in memory, 3^N splits) but received ${n}`, 'TOO_MANY_LEAVES');
  return n;
}

function toResult(r: NativeTrellisResult, n: number, seconds: number): TrellisResult {
  const per = 2 * (n - 1);
  const samples = r.samples
    ? Array.from({ length: r.samples.length / Math.max(per, 1) || 0 }, (_, k) => splitsToTree(r.samples!.subarray(k * per, (k + 1) * per), n))
    : undefined;
  return {
    nLeaves: n, logZ: r.logZ, nTrees: r.count, mapLogLH: r.mapLogLH,
    mapTree: r.mapSplits ? splitsToTree(r.mapSplits, n) : null,
    ...(r.marginals ? { marginals: r.marginals } : {}),
    ...(samples ? { samples } : {}),
    splitsEvaluated: r.splitsEvaluated, seconds,
  };
}

/** Runs the trellis on the thread pool (blocking). */
export function runTrellis(leaves: Leaves, model: TrellisModel, options: TrellisOptions = {}): TrellisResult {
  const x = leavesToArray(leaves);
  const n = checkSize(x);
  const [energy, params] = energyArgs(model);
  const t0 = performance.now();
  const r = trellisNative.trellis(x, energy, params, nativeOptions(options));
  return toResult(r, n, (performance.now() - t0) / 1000);
}

/** Runs the trellis off the event loop; progress counts set sizes done; `signal` cancels (SbiError ABORTED). */
export async function runTrellisAsync(leaves: Leaves, model: TrellisModel, options: TrellisAsyncOptions = {}): Promise<TrellisResult> {
  const x = leavesToArray(leaves);
  const n = checkSize(x);
  const [energy, params] = energyArgs(model);
  const flag = new Int32Array(1);
  const abort = () => { flag[0] = 1; };
  if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
  options.signal?.addEventListener('abort', abort);
  const t0 = performance.now();
  try {
    const r = await trellisNative.trellisAsync(x, energy, params, nativeOptions(options), options.onProgress, flag);
    return toResult(r, n, (performance.now() - t0) / 1000);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

/** Beam search over bottom-up merges (width 1: greedy); logLH −∞ and tree null if no merge order works. */
export function beamSearch(leaves: Leaves, model: TrellisModel, width: number): { logLH: number; tree: NestedTree | null } {
  const x = leavesToArray(leaves);
  const n = x.length / 4;
  if (n > 32) throw new SbiError(`Beam search handles at most 32 leaves (bitmask clusters) but received ${n}`, 'TOO_MANY_LEAVES');
  const [energy, params] = energyArgs(model);
  const r = trellisNative.trellisBeam(x, energy, params, checkPositiveInteger(width, 'width', 1024));
  return { logLH: r.logLH, tree: r.splits ? splitsToTree(r.splits, n) : null };
}

/** The greedy clustering: at each step the merge with the highest ψ. */
export function greedyClustering(leaves: Leaves, model: TrellisModel): { logLH: number; tree: NestedTree | null } {
  return beamSearch(leaves, model, 1);
}

/** ψ of every internal node of `tree` (pre-order); their sum is the hierarchy's log-likelihood. */
export function splitEnergies(leaves: Leaves, model: TrellisModel, tree: NestedTree): Float64Array {
  const x = leavesToArray(leaves);
  const [energy, params] = energyArgs(model);
  return trellisNative.trellisEnergy(x, energy, params, treeToSplits(tree));
}

/** Σ ψ over the internal nodes of `tree`. */
export function hierarchyLogLikelihood(leaves: Leaves, model: TrellisModel, tree: NestedTree): number {
  return splitEnergies(leaves, model, tree).reduce((a, b) => a + b, 0);
}

/** Clusters (2 ≤ size < N) with marginal probability ≥ threshold, most probable first. */
export function clusterMarginals(result: Pick<TrellisResult, 'marginals' | 'nLeaves'>, threshold = 0.01): { cluster: number[]; p: number }[] {
  const m = result.marginals;
  if (!m) throw new SbiError('The trellis result has no marginals: run it with { marginals: true }', 'NO_MARGINALS');
  const n = result.nLeaves, full = 2 ** n - 1;
  const out: { cluster: number[]; p: number }[] = [];
  for (let s = 1; s < full; s++) {
    if ((s & (s - 1)) === 0 || !(m[s]! >= threshold)) continue;
    const cluster: number[] = [];
    for (let i = 0; i < n; i++) if (s & (1 << i)) cluster.push(i);
    out.push({ cluster, p: m[s]! });
  }
  return out.sort((a, b) => b.p - a.p);
}
