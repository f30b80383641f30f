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
import type { NativeEpochLosses, NativeRatioTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { abortError } from '../simulators/call.js';
import { fitColumns, zScore } from './flow_train_webgpu.js';
import { PassRecorder, storage, upload } from './nn_webgpu.js';
import {
  checkRatioLoss, checkRatioShape, drawBatchPairs, initialRatioParams, ratioLogitsPerRow, ratioMinBatchRows, ratioNetSize, ratioStepOptions,
  type RatioLossSpec, type RatioShape, type RatioStepOptions,
} from './ratio_ops.js';
import { ResNetDevice, ratioLossFromTerms } from './resnet_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

export interface RatioTrainWebGpuOptions extends RatioStepOptions {
  /** The training seed (NRE.train derives it from the user's seed, as for the CPU trainer). */
  seed: number | bigint;
  maxEpochs?: number;
  batchSize?: number;
  validationFraction?: number;
  stopAfterEpochs?: number;
  onEpoch?: (losses: NativeEpochLosses) => void;
  signal?: AbortSignal;
}

function checkCount(v: number, name: string, max = 2 ** 31 - 1): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new RangeError(`Expected an integer in [1, ${max}] for \`${name}\` but received ${String(v)}`);
  return v;
}

function checkRows(a: unknown, name: string, width: number, n?: number): number {
  if (!(a instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  const rows = a.length / width;
  if (!Number.isSafeInteger(rows) || rows < 1 || (n !== undefined && rows !== n)) {
    throw new RangeError(`Expected \`${name}\` to hold ${n ?? 'whole'} rows of ${width} values but received ${a.length} values`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`Expected finite values in \`${name}\` but index ${i} is ${a[i]}`);
  }
  return rows;
}

/** z-scored rows and their pairs on the device. */
class DeviceSet {
  readonly theta: GPUBuffer;
  readonly x: GPUBuffer;
  readonly pairs: GPUBuffer;
  constructor(private readonly gpu: WebGpuContext, theta: Float32Array, x: Float32Array, pairs: number) {
    const pool = bufferPool(gpu.device);
    this.theta = pool.acquire(4 * theta.length, storage());
    upload(gpu.device.queue, this.theta, theta);
    this.x = pool.acquire(4 * x.length, storage());
    upload(gpu.device.queue, this.x, x);
    this.pairs = pool.acquire(8 * Math.max(1, pairs), storage());
  }
  setPairs(pairs: Uint32Array): void {
    this.gpu.device.queue.writeBuffer(this.pairs, 0, pairs as Uint32Array<ArrayBuffer>);
  }
  release(): void {
    bufferPool(this.gpu.device).release(this.theta, this.x, this.pairs);
  }
}

/**
 * Trains the classifier `shape` with `loss` on θ [n, thetaDim] and x [n, xDim] (double, finite)
 * with the CPU trainer's algorithm and randomness (native.nreTrain's result: the best epoch's
 * parameters, per-epoch losses, the z-scoring). A set `signal` rejects with SbiError ABORTED
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
  const n = checkRows(theta, 'theta', D);
  checkRows(x, 'x', C, n);
  const batchSize = checkCount(options.batchSize ?? 200, 'batchSize', 1 << 20);
  const maxEpochs = checkCount(options.maxEpochs ?? 2 ** 31 - 1, 'maxEpochs');
  const patience = checkCount(options.stopAfterEpochs ?? 20, 'stopAfterEpochs');
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`Expected a number in [0, 1] for \`validationFraction\` but received ${fraction}`);
  const nVal = Math.floor(fraction * n), nTrain = n - nVal;
  const minRows = ratioMinBatchRows(loss);
  if (batchSize < minRows) {
    throw new RangeError(`Expected \`batchSize\` of at least ${minRows} (the ${loss.variant} loss draws ${minRows - 1} distinct contrasts from a batch's other rows) but received ${batchSize}`);
  }
  if (nVal < minRows || nTrain < minRows) {
    throw new RangeError(`Expected at least ${minRows} training and ${minRows} validation rows (the ${loss.variant} loss draws ${minRows - 1} distinct contrasts per row) but ${n} rows with validationFraction ${fraction} give ${nTrain} and ${nVal}`);
  }
  const A = ratioLogitsPerRow(loss);
  const { paramCount } = ratioNetSize(shape);

  // the split, the statistics and the z-scored rows, as Train and RatioModel::Prepare
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  shuffle(new PhiloxStream(options.seed, 0), perm);
  const trainRows = perm.subarray(0, nTrain), valRows = perm.subarray(nTrain);
  const thetaStats = fitColumns(theta, D, trainRows), xStats = fitColumns(x, C, trainRows);
  const init = initialRatioParams(shape, options.seed);

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
  const state = new ResNetDevice(gpu, shape, init, maxRows * A, true);
  const train = new DeviceSet(gpu, zScore(theta, D, trainRows, thetaStats), zScore(x, C, trainRows, xStats), nTrain * A);
  const val = new DeviceSet(gpu, zScore(theta, D, valRows, thetaStats), zScore(x, C, valRows, xStats), nVal * A);
  val.setPairs(valPairs);
  const best = pool.acquire(4 * paramCount, storage());
  upload(device.queue, best, init);
  const staging = pool.acquire(4 * Math.max(2 * (nTrain + nVal), paramCount), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const shuffleRng = new PhiloxStream(options.seed, 1), batchRng = new PhiloxStream(options.seed, 2);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  const pairs = new Uint32Array(2 * nTrain * A);
  const trainLoss: number[] = [], validationLoss: number[] = [];
  let bestEpoch = 0, bestLoss = Infinity, sinceBest = 0;
  try {
    for (let epoch = 1; epoch <= maxEpochs; epoch++) {
      if (options.signal?.aborted) throw abortError();
      shuffle(shuffleRng, order);
      const steps: [number, number][] = [];
      for (let start = 0; start < nTrain; start += batch) {
        const nb = Math.min(batch, nTrain - start);
        if (nb < minRows) break;
        drawBatchPairs(batchRng, loss, order.subarray(start, start + nb), pairs, start * A);
        steps.push([start, nb]);
      }
      train.setPairs(pairs);
      const recorders: PassRecorder[] = [];
      try {
        await submitChecked(device, 'NRE training', () => {
          for (const [start, nb] of steps) {
            const rec = new PassRecorder(gpu);
            recorders.push(rec);
            state.recordGather(rec, train.theta, train.x, train.pairs, start * A, nb * A);
            state.recordForward(rec, nb * A);
            state.recordLoss(rec, loss, nb);
            state.recordBackward(rec, nb * A);
            state.recordUpdate(rec, lr, clip);
            rec.copyAfterPass(state.terms, 0, staging, 8 * start, 8 * nb);
            rec.submit();
          }
          for (const [start, nb] of valBatches) {
            const rec = new PassRecorder(gpu);
            recorders.push(rec);
            state.recordGather(rec, val.theta, val.x, val.pairs, start * A, nb * A);
            state.recordForward(rec, nb * A);
            state.recordLoss(rec, loss, nb);
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
        const losses = { epoch, trainLoss: trainSum / rowsSeen, validationLoss: valSum / nVal };
        trainLoss.push(losses.trainLoss);
        validationLoss.push(losses.validationLoss);
        // A NaN validation loss never counts as an improvement.
        if (losses.validationLoss < bestLoss) {
          bestLoss = losses.validationLoss;
          bestEpoch = epoch;
          sinceBest = 0;
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(state.params, 0, best, 0, 4 * paramCount);
          device.queue.submit([enc.finish()]);
        } else {
          sinceBest++;
        }
        options.onEpoch?.(losses);
        if (sinceBest >= patience) break;
      } finally {
        for (const r of recorders) r.release();
      }
    }
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(best, 0, staging, 0, 4 * paramCount);
    device.queue.submit([enc.finish()]);
    const params = await readStaging(staging, paramCount);
    return {
      params, epochs: trainLoss.length, bestEpoch, bestValidationLoss: bestLoss,
      trainLoss: Float64Array.from(trainLoss), validationLoss: Float64Array.from(validationLoss),
      thetaMean: thetaStats.mean, thetaStd: thetaStats.std, xMean: xStats.mean, xStd: xStats.std,
    };
  } finally {
    pool.release(staging, best);
    train.release();
    val.release();
    state.release();
  }
}
