/**
 * C2ST's cross-validated classifier on the WebGPU device: the algorithm of
 * native/mlp_classifier.cc (scikit-learn's MLPClassifier with its defaults, as sbibm's C2ST uses
 * it) with the network trained by `WebGpuMlp` (kernels/nn/dense.wgsl). The randomness is the
 * CPU's: the fold assignment from Philox stream 0 of the seed, fold f's Glorot initialisation and
 * epoch shuffles from stream f + 1, so the folds, the initial weights and every batch's rows are
 * the same as on the CPU; the training itself runs in f32 in another summation order, so the
 * accuracies agree with the CPU's statistically, not bit for bit. Folds run one after another.
 */
import { WebGpuMlp, type MlpBatch } from '../backend/nn_webgpu.js';
import type { WebGpuContext } from '../backend/webgpu.js';
import { abortError } from '../simulators/call.js';
import { PhiloxStream, shuffle } from '../random/philox.js';

/** scikit-learn's MLPClassifier defaults with sbibm's max_iter (native/mlp_classifier.h ClassifierConfig). */
const CONFIG = { hiddenLayers: 2, batchSize: 200, maxEpochs: 10_000, patience: 10, tol: 1e-4, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, alpha: 1e-4 };

export interface CrossValidateWebGpuOptions {
  seed: number | bigint;
  folds: number;
  /** Hidden units per layer (sbibm: 10 · dim). */
  hiddenWidth: number;
  signal?: AbortSignal;
  /** Epoch cap (default scikit-learn's max_iter as sbibm sets it, 10 000); for tests. */
  maxEpochs?: number;
}

/** AssignFolds: a shuffled k-fold split with sklearn's sizes (the first n % k folds one row larger). */
export function assignFolds(n: number, folds: number, seed: number | bigint): Int32Array {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  shuffle(new PhiloxStream(seed, 0), perm);
  const foldOf = new Int32Array(n);
  let start = 0;
  for (let f = 0; f < folds; f++) {
    const size = Math.floor(n / folds) + (f < n % folds ? 1 : 0);
    for (let k = start; k < start + size; k++) foldOf[perm[k]!] = f;
    start += size;
  }
  return foldOf;
}

/** sklearn's _init_coef (GlorotUniform in mlp_classifier.cc): W_l then b_l ~ U(±sqrt(6 / (fan_in + fan_out))). */
function glorotUniform(sizes: readonly number[], rng: PhiloxStream): Float32Array {
  let count = 0;
  for (let l = 0; l + 1 < sizes.length; l++) count += sizes[l + 1]! * (sizes[l]! + 1);
  const params = new Float32Array(count);
  let off = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!, fanOut = sizes[l + 1]!;
    const r = Math.sqrt(6 / (fanIn + fanOut));
    for (let k = 0; k < fanOut * (fanIn + 1); k++) params[off + k] = (2 * rng.uniform() - 1) * r;
    off += fanOut * (fanIn + 1);
  }
  return params;
}

export interface FoldFitWebGpu {
  accuracy: number;
  epochs: number;
  firstLoss: number;
  lastLoss: number;
}

/** Trains on every fold but `fold` (TrainBinaryClassifier's loop) and scores on `fold`. */
async function runFold(
  ctx: WebGpuContext, x: Float64Array, labels: Uint8Array, dim: number, foldOf: Int32Array, fold: number, o: CrossValidateWebGpuOptions,
): Promise<FoldFitWebGpu> {
  const n = labels.length;
  const trainRows: number[] = [], testRows: number[] = [];
  for (let i = 0; i < n; i++) (foldOf[i] === fold ? testRows : trainRows).push(i);
  const nTrain = trainRows.length;
  const sizes = [dim, ...Array.from({ length: CONFIG.hiddenLayers }, () => o.hiddenWidth), 1];
  const rng = new PhiloxStream(o.seed, fold + 1);
  const mlp = WebGpuMlp.create(ctx, { sizes, activation: 'relu' }, glorotUniform(sizes, rng));
  try {
    const batch = Math.max(1, Math.min(CONFIG.batchSize, nTrain));
    const order = Int32Array.from({ length: nTrain }, (_, i) => i);
    const maxEpochs = o.maxEpochs ?? CONFIG.maxEpochs;
    let best = Infinity, noImprovement = 0, epochs = 0, firstLoss = 0, lastLoss = 0;
    for (let epoch = 0; epoch < maxEpochs; epoch++) {
      if (o.signal?.aborted) throw abortError();
      shuffle(rng, order);
      const batches: MlpBatch[] = [];
      for (let start = 0; start < nTrain; start += batch) {
        const nb = Math.min(batch, nTrain - start);
        const bx = new Float32Array(nb * dim), bt = new Float32Array(nb);
        for (let r = 0; r < nb; r++) {
          const i = trainRows[order[start + r]!]!;
          for (let j = 0; j < dim; j++) bx[r * dim + j] = x[i * dim + j]!;
          bt[r] = labels[i]!;
        }
        batches.push({ x: bx, target: bt });
      }
      const losses = await mlp.train(batches, {
        loss: 'bce', adam: { lr: CONFIG.lr, beta1: CONFIG.beta1, beta2: CONFIG.beta2, eps: CONFIG.eps }, l2: CONFIG.alpha, epsilonAfterCorrection: true,
      });
      let sum = 0;
      losses.forEach((l, b) => (sum += l * batches[b]!.target.length));
      const epochLoss = sum / nTrain;
      if (epoch === 0) firstLoss = epochLoss;
      lastLoss = epochLoss;
      epochs = epoch + 1;
      // sklearn's _update_no_improvement_count (early_stopping=False) and its stop test
      noImprovement = epochLoss > best - CONFIG.tol ? noImprovement + 1 : 0;
      best = Math.min(best, epochLoss);
      if (noImprovement > CONFIG.patience) break;
    }
    const tx = new Float32Array(testRows.length * dim);
    testRows.forEach((i, r) => {
      for (let j = 0; j < dim; j++) tx[r * dim + j] = x[i * dim + j]!;
    });
    const logits = await mlp.forward(tx, testRows.length);
    let correct = 0;
    testRows.forEach((i, r) => (correct += (logits[r]! > 0 ? 1 : 0) === labels[i] ? 1 : 0));
    return { accuracy: correct / testRows.length, epochs, firstLoss, lastLoss };
  } finally {
    mlp.destroy();
  }
}

/**
 * k-fold cross-validated accuracy of the binary classifier on x [n, dim] (already z-scored) with
 * labels [n] in {0, 1}: per fold, the accuracy, epochs and first / last epoch loss.
 */
export async function crossValidateWebGpu(
  ctx: WebGpuContext, x: Float64Array, labels: Uint8Array, dim: number, options: CrossValidateWebGpuOptions,
): Promise<FoldFitWebGpu[]> {
  const foldOf = assignFolds(labels.length, options.folds, options.seed);
  const out: FoldFitWebGpu[] = [];
  for (let f = 0; f < options.folds; f++) out.push(await runFold(ctx, x, labels, dim, foldOf, f, options));
  return out;
}
