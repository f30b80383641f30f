/**
 * Two-sample diagnostics: is a set of samples (e.g. an approximate posterior) distinguishable
 * from a reference set? Both take row-major [n, dim] Float64Arrays.
 *
 * - C2ST, classifier two-sample test (Lopez-Paz & Oquab, arXiv:1610.06545), exactly as sbibm's
 *   `c2st` (sbibm/metrics/c2st.py): both sets z-scored with the mean and standard deviation
 *   (n − 1) of X, X labelled 0 and Y 1, scikit-learn's default MLPClassifier (two ReLU hidden
 *   layers of 10·dim units, Adam lr 1e-3, L2 1e-4, batches of min(200, n), stop after 11 epochs
 *   without a 1e-4 loss improvement, at most 10000 epochs) scored by 5-fold shuffled
 *   cross-validation; the mean test accuracy over the folds. 0.5: indistinguishable; 1:
 *   perfectly separable. Trained natively (native/mlp_classifier.cc), folds in parallel; or, with
 *   `backend: 'webgpu'`, on the WebGPU device with the same folds, initial weights and batches.
 * - MMD², unbiased (Gretton et al., JMLR 2012, eq. 3) with a Gaussian kernel
 *   k(a, b) = exp(−‖a − b‖² / (2 σ²)), σ = the median pairwise distance of the pooled samples.
 */
import { selectBackend, type BackendRequest } from '../backend/backend.js';
import { openWebGpu } from '../backend/webgpu.js';
import { SbiError } from '../errors.js';
import { native } from '../native.js';
import { crossValidateWebGpu } from './c2st_webgpu.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { checkFiniteArray, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';

export interface C2stOptions {
  /** Seeds the fold assignment, initialisation and shuffles (sbibm's default: 1). */
  seed?: number | bigint;
  /** Cross-validation folds, >= 2 (default 5). */
  folds?: number;
  threads?: number;
  signal?: AbortSignal;
  /** Epoch cap per fold (default sbibm's max_iter, 10 000; lower values depart from sbibm's C2ST). */
  maxEpochs?: number;
  /**
   * Where the classifier trains (default 'cpu'): 'webgpu' trains it with WebGpuMlp
   * (src/diagnostics/c2st_webgpu.ts) on the same folds, initial weights and batches; 'auto' is
   * webgpu on a hardware GPU, else the cpu. cuda has no classifier kernels: UNSUPPORTED_OP.
   */
  backend?: BackendRequest;
}

function checkSamples(a: unknown, dim: number, name: string, minRows: number): number {
  if (!(a instanceof Float64Array)) {
    throw new TypeError(`Expected a Float64Array for \`${name}\` ([n, ${dim}] row-major) but received ${describe(a)}`);
  }
  if (a.length % dim !== 0) {
    throw new RangeError(`Expected \`${name}\` to hold whole rows of ${dim} values but its length ${a.length} is not a multiple of ${dim}`);
  }
  const rows = a.length / dim;
  if (rows < minRows) throw new RangeError(`Expected at least ${minRows} rows in \`${name}\` but received ${rows}`);
  checkFiniteArray(a, name, dim);
  return rows;
}

/** Column means and standard deviations (n − 1 denominator, torch.std's default) of x [n, dim]. */
function columnMoments(x: Float64Array, dim: number): { mean: Float64Array; std: Float64Array } {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) std[j] += (x[i * dim + j]! - mean[j]!) ** 2;
  for (let j = 0; j < dim; j++) std[j] = Math.sqrt(std[j]! / (n - 1));
  return { mean, std };
}

/**
 * C2ST accuracy of X (reference, label 0) against Y (label 1), sbibm's definition. Each set
 * needs at least `folds` rows; X's columns must not be constant (they are z-scored by its std).
 */
export async function c2st(X: Float64Array, Y: Float64Array, dim: number, options: C2stOptions = {}): Promise<number> {
  checkPositiveInteger(dim, 'dim', 1 << 16);
  const folds = options.folds === undefined ? 5 : checkPositiveInteger(options.folds, 'folds', 1000);
  if (folds < 2) throw new RangeError(`Expected at least 2 for \`folds\` but received ${folds}`);
  const seed = options.seed === undefined ? 1 : checkSeed(options.seed);
  const threads = options.threads === undefined ? undefined : checkThreads(options.threads);
  const maxEpochs = options.maxEpochs === undefined ? undefined : checkPositiveInteger(options.maxEpochs, 'maxEpochs', 1e9);
  const nx = checkSamples(X, dim, 'X', Math.max(folds, 2));
  const ny = checkSamples(Y, dim, 'Y', folds);
  const { mean, std } = columnMoments(X, dim);
  for (let j = 0; j < dim; j++) {
    let varies = false;
    for (let i = 1; i < nx && !varies; i++) varies = X[i * dim + j] !== X[j];
    if (!varies) throw new RangeError(`Expected column ${j} of \`X\` to vary (it is z-scored by its std) but it is constant`);
  }
  const n = nx + ny;
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const src = i < nx ? X : Y;
    const row = i < nx ? i : i - nx;
    for (let j = 0; j < dim; j++) data[i * dim + j] = (src[row * dim + j]! - mean[j]!) / std[j]!;
  }
  const labels = new Uint8Array(n).fill(1, nx);
  if (options.signal?.aborted) throw abortError();
  const backend = options.backend === undefined || options.backend === 'cpu' ? 'cpu' : (await selectBackend(options.backend)).name;
  if (backend === 'cuda') throw new SbiError('c2st is not supported on the cuda backend: its classifier has no CUDA kernels yet', 'UNSUPPORTED_OP');
  if (backend === 'webgpu') {
    const fits = await crossValidateWebGpu(await openWebGpu(), data, labels, dim, {
      seed, folds, hiddenWidth: 10 * dim, ...(options.signal ? { signal: options.signal } : {}), ...(maxEpochs !== undefined ? { maxEpochs } : {}),
    });
    return fits.reduce((s, f) => s + f.accuracy, 0) / folds;
  }
  const cancel = new Int32Array(1);
  const result = await whileAbortable(
    options.signal,
    () => Atomics.store(cancel, 0, 1),
    () => native.classifierCrossValidateAsync(
      data, labels, n, dim, { seed, folds, ...(threads !== undefined ? { threads } : {}), ...(maxEpochs !== undefined ? { maxEpochs } : {}) }, undefined, cancel,
    ),
  );
  let sum = 0;
  for (const a of result.accuracy) sum += a;
  return sum / folds;
}

/** Unbiased MMD² between X and Y (Gaussian kernel, median-heuristic bandwidth); O((nx + ny)²). */
export function mmd(X: Float64Array, Y: Float64Array, dim: number): number {
  checkPositiveInteger(dim, 'dim', 1 << 16);
  const nx = checkSamples(X, dim, 'X', 2);
  const ny = checkSamples(Y, dim, 'Y', 2);
  const n = nx + ny;
  const row = (i: number) => (i < nx ? X.subarray(i * dim, (i + 1) * dim) : Y.subarray((i - nx) * dim, (i - nx + 1) * dim));
  const sq = new Float64Array((n * (n - 1)) / 2);
  for (let i = 0, k = 0; i < n; i++) {
    const a = row(i);
    for (let j = i + 1; j < n; j++, k++) {
      const b = row(j);
      let s = 0;
      for (let d = 0; d < dim; d++) s += (a[d]! - b[d]!) ** 2;
      sq[k] = s;
    }
  }
  const sorted = Float64Array.from(sq).sort();
  const mid = sorted.length >> 1;
  const medianSq = sorted.length % 2 === 1 ? sorted[mid]! : 0.5 * (sorted[mid - 1]! + sorted[mid]!);
  if (!(medianSq > 0)) throw new RangeError('Expected distinct samples for the median-heuristic bandwidth but the median pairwise distance is 0');
  // σ² = median distance², so k = exp(−d² / (2 median²)).
  let kxx = 0, kyy = 0, kxy = 0;
  for (let i = 0, k = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, k++) {
      const v = Math.exp(-sq[k]! / (2 * medianSq));
      if (j < nx) kxx += v;
      else if (i >= nx) kyy += v;
      else kxy += v;
    }
  }
  // kxx, kyy hold each unordered pair once: the off-diagonal means are 2·sum / (m (m − 1)).
  return (2 * kxx) / (nx * (nx - 1)) + (2 * kyy) / (ny * (ny - 1)) - (2 * kxy) / (nx * ny);
}
