/// <reference types="@webgpu/types" />
/**
 * Training of NRE's residual classifier on the WebGPU device: the loop of native/trainer.h with
 * native/ratio_trainer.cc's model (z-scoring, initialisation, contrasting pairs, validation
 * batches), each step's gather, forward, loss, backward, clipping and Adam on the device
 * (src/backend/resnet_webgpu.ts, kernels/nn/resnet.wgsl).
 *
 * Randomness is the CPU trainer's, drawn on the host by the same Philox streams of the training
 * seed: the validation split (stream 0), the epoch shuffles (stream 1), the contrasting θ of every
 * training batch (stream 2), the validation contrasts (stream 3, the same at every evaluation)
 * and the initialisation (stream 4). Every step therefore sees the CPU's pairs; the losses agree
 * with the CPU trainer's to f32 rounding growing over the steps (docs/backends.md).
 *
 * The z-scored data and the epoch's pairs ([θ row, x row] per pair, one upload per epoch) stay on
 * the device; an epoch is queued whole and its loss terms come back in one readback.
 */
import type { NativeRatioTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { checkFiniteRows, epochOptions, splitRows, trainEpochsOnDevice, zScoring, type DeviceTrainingOptions } from './device_training.js';
import { fitColumns, zScore } from './flow_train_webgpu.js';
import { PassRecorder, storage, upload } from './nn_webgpu.js';
import {
  checkRatioLoss, checkRatioShape, drawBatchPairs, initialRatioParams, ratioLogitsPerRow, ratioMinBatchRows, ratioNetSize, ratioStepOptions,
  type RatioLossSpec, type RatioShape, type RatioStepOptions,
} from './ratio_ops.js';
import { ResNetDevice, ratioLossFromTerms } from './resnet_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

export interface RatioTrainWebGpuOptions extends RatioStepOptions, DeviceTrainingOptions {
  /** The training seed (NRE.train derives it from the user's seed, as for the CPU trainer). */
  seed: number | bigint;
  /**
   * With shape.embeddingSizes: the embedding network's initial parameters (mlp.h layout; NRE.train
   * draws them with EmbeddingNet.init, as for the CPU trainer). It trains jointly with the classifier.
   */
  embeddingParams?: Float32Array;
}

/**
 * z-scored rows and their pairs on the device. With an embedding, also the x rows of every batch
 * (the embedding's input, in batch order) and the pairs' x rows are positions within their batch
 * (rows of the batch's features), as ratio_trainer.cc's pair_x.
 */
class DeviceSet {
  readonly theta: GPUBuffer;
  readonly x: GPUBuffer;
  readonly pairs: GPUBuffer;
  readonly xRows: GPUBuffer;
  constructor(private readonly gpu: WebGpuContext, theta: Float32Array, x: Float32Array, pairs: number, private readonly A: number, private readonly embedded: boolean) {
    const pool = bufferPool(gpu.device);
    this.theta = pool.acquire(4 * theta.length, storage());
    upload(gpu.device.queue, this.theta, theta);
    this.x = pool.acquire(4 * x.length, storage());
    upload(gpu.device.queue, this.x, x);
    this.pairs = pool.acquire(8 * Math.max(1, pairs), storage());
    this.xRows = pool.acquire(4 * Math.max(1, pairs / A), storage());
  }
  /** The pairs of batches [start, start + nb) ([θ data row, x data row] per pair, drawBatchPairs's layout). */
  setPairs(pairs: Uint32Array, batches: readonly [number, number][]): void {
    if (this.embedded) {
      const A = this.A;
      const xRows = new Uint32Array(pairs.length / (2 * A));
      for (const [start, nb] of batches) {
        for (let r = 0; r < nb; r++) {
          xRows[start + r] = pairs[2 * (start + r) * A + 1]!;
          for (let a = 0; a < A; a++) pairs[2 * ((start + r) * A + a) + 1] = r;
        }
      }
      this.gpu.device.queue.writeBuffer(this.xRows, 0, xRows);
    }
    this.gpu.device.queue.writeBuffer(this.pairs, 0, pairs as Uint32Array<ArrayBuffer>);
  }
  release(): void {
    bufferPool(this.gpu.device).release(this.theta, this.x, this.pairs, this.xRows);
  }
}

/**
 * Trains the classifier `shape` with `loss` on θ [n, thetaDim] and x [n, xDim] (double, finite)
 * with the CPU trainer's algorithm and randomness (native.nreTrain's result: the best epoch's
 * parameters, per-epoch losses, the z-scoring). With shape.embeddingSizes, the embedding network
 * (initial parameters options.embeddingParams) trains jointly, as ratio_trainer.cc trains it; its
 * best parameters come back as `embeddingParams`. A set `signal` rejects with SbiError ABORTED
 * before the next epoch.
 */
export async function trainRatioWebGpu(
  gpu: WebGpuContext, shape: RatioShape, loss: RatioLossSpec, theta: Float64Array, x: Float64Array, options: RatioTrainWebGpuOptions,
): Promise<NativeRatioTrainResult> {
  checkRatioShape(shape);
  checkRatioLoss(loss);
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected an options object with `seed`');
  const { lr, clip } = ratioStepOptions(options);
  const D = shape.thetaDim, C = shape.xDim;
  const n = checkFiniteRows(theta, 'theta', D, undefined, 'Float64Array');
  checkFiniteRows(x, 'x', C, n, 'Float64Array');
  const { batchSize, maxEpochs, patience, fraction } = epochOptions(options);
  const nVal = Math.floor(fraction * n), nTrain = n - nVal;
  const minRows = ratioMinBatchRows(loss);
  if (batchSize < minRows) {
    throw new RangeError(`Expected \`batchSize\` of at least ${minRows} (the ${loss.variant} loss draws ${minRows - 1} distinct contrasts from a batch's other rows) but received ${batchSize}`);
  }
  if (nVal < minRows || nTrain < minRows) {
    throw new RangeError(`Expected at least ${minRows} training and ${minRows} validation rows (the ${loss.variant} loss draws ${minRows - 1} distinct contrasts per row) but ${n} rows with validationFraction ${fraction} give ${nTrain} and ${nVal}`);
  }
  const A = ratioLogitsPerRow(loss);
  const { paramCount: netParams, embeddingParamCount } = ratioNetSize(shape);
  const embedded = shape.embeddingSizes !== undefined;
  if (embedded) checkFiniteRows(options.embeddingParams, 'options.embeddingParams', embeddingParamCount, 1, 'Float32Array');
  else if (options.embeddingParams !== undefined) throw new TypeError('Expected no `embeddingParams` without `embeddingSizes` in the classifier shape');
  const paramCount = netParams + embeddingParamCount;

  // the split, the statistics and the z-scored rows, as Train and RatioModel::Prepare
  const { trainRows, valRows } = splitRows(options.seed, n, nTrain);
  const thetaStats = fitColumns(theta, D, trainRows), xStats = fitColumns(x, C, trainRows);
  const init = new Float32Array(paramCount);
  init.set(initialRatioParams(shape, options.seed));
  if (embedded) init.set(options.embeddingParams!, netParams);

  // the validation batches and their pairs: stream 3, the same at every evaluation (ValidationLoss)
  const valBatch = Math.max(batchSize, minRows);
  const valBatches: [number, number][] = [];
  for (let start = 0; start < nVal;) {
    let nb = Math.min(valBatch, nVal - start);
    if (nVal - start - nb < minRows) nb = nVal - start; // a small remainder joins this batch
    valBatches.push([start, nb]);
    start += nb;
  }
  const valPairs = new Uint32Array(2 * nVal * A);
  const valRng = new PhiloxStream(options.seed, 3);
  for (const [start, nb] of valBatches) drawBatchPairs(valRng, loss, Int32Array.from({ length: nb }, (_, i) => start + i), valPairs, start * A);

  const batch = Math.min(batchSize, nTrain);
  const maxRows = Math.max(batch, ...valBatches.map(([, nb]) => nb));
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new ResNetDevice(gpu, shape, init, maxRows * A, true, maxRows);
  const train = new DeviceSet(gpu, zScore(theta, D, trainRows, thetaStats), zScore(x, C, trainRows, xStats), nTrain * A, A, embedded);
  const val = new DeviceSet(gpu, zScore(theta, D, valRows, thetaStats), zScore(x, C, valRows, xStats), nVal * A, A, embedded);
  val.setPairs(valPairs, valBatches);
  const shuffleRng = new PhiloxStream(options.seed, 1), batchRng = new PhiloxStream(options.seed, 2);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  const pairs = new Uint32Array(2 * nTrain * A);
  try {
    const summary = await trainEpochsOnDevice(gpu, {
      params: state.params, init, paramCount, stagingFloats: 2 * (nTrain + nVal), maxEpochs, patience, signal: options.signal, onEpoch: options.onEpoch,
    }, async (_epoch, recorders, staging) => {
      shuffle(shuffleRng, order);
      const steps: [number, number][] = [];
      for (let start = 0; start < nTrain; start += batch) {
        const nb = Math.min(batch, nTrain - start);
        if (nb < minRows) break;
        drawBatchPairs(batchRng, loss, order.subarray(start, start + nb), pairs, start * A);
        steps.push([start, nb]);
      }
      train.setPairs(pairs, steps);
      // A batch's pairs through the embedding (if any), the gather, the forward pass and the loss:
      // the common start of a training step and of a validation pass.
      const recordBatchLoss = (set: DeviceSet, start: number, nb: number): PassRecorder => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        const features = embedded ? state.recordEmbed(rec, set.x, set.xRows, start, nb) : set.x;
        state.recordGather(rec, set.theta, features, set.pairs, start * A, nb * A);
        state.recordForward(rec, nb * A);
        state.recordLoss(rec, loss, nb);
        return rec;
      };
      await submitChecked(device, 'NRE training', () => {
        for (const [start, nb] of steps) {
          const rec = recordBatchLoss(train, start, nb);
          state.recordBackward(rec, nb * A, nb);
          state.recordUpdate(rec, lr, clip);
          rec.copyAfterPass(state.terms, 0, staging, 8 * start, 8 * nb);
          rec.submit();
        }
        for (const [start, nb] of valBatches) {
          const rec = recordBatchLoss(val, start, nb);
          rec.copyAfterPass(state.terms, 0, staging, 8 * (nTrain + start), 8 * nb);
          rec.submit();
        }
      });
      const terms = await readStaging(staging, 2 * (nTrain + nVal));
      let trainSum = 0, rowsSeen = 0, valSum = 0;
      for (const [start, nb] of steps) {
        trainSum += ratioLossFromTerms(loss, terms, start, nb) * nb;
        rowsSeen += nb;
      }
      for (const [start, nb] of valBatches) valSum += ratioLossFromTerms(loss, terms, nTrain + start, nb) * nb;
      return { trainLoss: trainSum / rowsSeen, validationLoss: valSum / nVal };
    });
    const fit = { ...summary, ...zScoring(thetaStats, xStats) };
    return embedded ? { ...fit, params: summary.params.slice(0, netParams), embeddingParams: summary.params.slice(netParams) } : fit;
  } finally {
    train.release();
    val.release();
    state.release();
  }
}
