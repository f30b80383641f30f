/// <reference types="@webgpu/types" />
/**
 * What the WebGPU trainers (flow_train_webgpu.ts, mdn_train_webgpu.ts, ratio_train_webgpu.ts)
 * share: the checks of their data and of native/trainer.h's loop options, the validation split
 * (stream 0 of the seed), and the loop itself with its early stopping — per-epoch losses, the
 * best epoch, a copy of the parameters on the device at every improvement, patience, onEpoch,
 * abort, and the final read-back of the best parameters. Each trainer supplies one epoch's work.
 */
import type { NativeEpochLosses, NativeMafTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { abortError } from '../simulators/call.js';
import { storage, upload, type PassRecorder } from './nn_webgpu.js';
import { bufferPool, readStaging, type WebGpuContext } from './webgpu.js';

/** The loop options every device trainer takes (native/trainer.h's). */
export interface DeviceTrainingOptions {
  seed: number | bigint;
  maxEpochs?: number;
  batchSize?: number;
  validationFraction?: number;
  stopAfterEpochs?: number;
  onEpoch?: (losses: NativeEpochLosses) => void;
  signal?: AbortSignal;
}

export function checkCount(v: number, name: string, max = 2 ** 31 - 1): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new RangeError(`Expected an integer in [1, ${max}] for \`${name}\` but received ${String(v)}`);
  return v;
}

/**
 * Rows of a finite [rows, width] array `name` (exactly `n` when given) of type `type`. With
 * `emptyRows`, a width of 0 takes an empty array as `n` rows.
 */
export function checkFiniteRows(
  value: unknown, name: string, width: number, n: number | undefined, type: 'Float32Array' | 'Float64Array', emptyRows = false,
): number {
  if (!(type === 'Float64Array' ? value instanceof Float64Array : value instanceof Float32Array)) {
    throw new TypeError(`Expected a ${type} for \`${name}\` but received ${Object.prototype.toString.call(value)}`);
  }
  const a = value as Float32Array | Float64Array;
  const empty = emptyRows && width === 0;
  const rows = empty ? (n ?? 0) : a.length / width;
  if (!Number.isSafeInteger(rows) || rows < 1 || (n !== undefined && rows !== n) || (empty && a.length !== 0)) {
    throw new RangeError(`Expected \`${name}\` to hold ${n ?? 'whole'} rows of ${width} values but received ${a.length} values`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`Expected finite values in \`${name}\` but index ${i} is ${a[i]}`);
  }
  return rows;
}

/** The checked loop options: batch size (default 200), epochs, patience (default 20), validation fraction (default 0.1). */
export function epochOptions(options: DeviceTrainingOptions): { batchSize: number; maxEpochs: number; patience: number; fraction: number } {
  const batchSize = checkCount(options.batchSize ?? 200, 'batchSize', 1 << 20);
  const maxEpochs = checkCount(options.maxEpochs ?? 2 ** 31 - 1, 'maxEpochs');
  const patience = checkCount(options.stopAfterEpochs ?? 20, 'stopAfterEpochs');
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`Expected a number in [0, 1] for \`validationFraction\` but received ${fraction}`);
  return { batchSize, maxEpochs, patience, fraction };
}

/** The CPU trainer's split of n rows: a permutation from stream 0 of `seed`, its first nTrain rows for training. */
export function splitRows(seed: number | bigint, n: number, nTrain: number): { trainRows: Int32Array; valRows: Int32Array } {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  shuffle(new PhiloxStream(seed, 0), perm);
  return { trainRows: perm.subarray(0, nTrain), valRows: perm.subarray(nTrain) };
}

/** What every trainer returns besides its z-scoring; `params` are the best epoch's (the initial ones if no validation loss was finite). */
export type DeviceTrainingSummary = Pick<NativeMafTrainResult, 'params' | 'epochs' | 'bestEpoch' | 'bestValidationLoss' | 'trainLoss' | 'validationLoss'>;

/** The z-scoring fields of a trainer's result, from the statistics of θ (or y) and x (or the context). */
export function zScoring(theta: { mean: Float64Array; std: Float64Array }, x: { mean: Float64Array; std: Float64Array }): Pick<NativeMafTrainResult, 'thetaMean' | 'thetaStd' | 'xMean' | 'xStd'> {
  return { thetaMean: theta.mean, thetaStd: theta.std, xMean: x.mean, xStd: x.std };
}

export interface DeviceTrainingLoop {
  /** The trainer's parameters on the device, updated by its steps. */
  params: GPUBuffer;
  /** The initial parameters (the best ones until an epoch improves). */
  init: Float32Array;
  paramCount: number;
  /** Floats of the mappable read-back buffer each epoch needs (it is made at least paramCount long for the final read-back). */
  stagingFloats: number;
  maxEpochs: number;
  patience: number;
  signal?: AbortSignal;
  onEpoch?: (losses: NativeEpochLosses) => void;
}

/**
 * native/trainer.h's loop on the device: for epoch 1, 2, … up to maxEpochs (a set signal rejects
 * with SbiError ABORTED before an epoch), `epoch` queues and reads back one epoch's steps and
 * validation pass, pushing its PassRecorders into `recorders` (released after the epoch's
 * bookkeeping) and reading back through `staging` (the loop's, of loop.stagingFloats floats or
 * more), and returns its losses. An epoch whose validation loss is below the best so far
 * (a NaN one never is) becomes the best and its parameters are copied on the device; the loop
 * stops after `patience` epochs without improvement. Resolves with the best parameters and losses.
 */
export async function trainEpochsOnDevice(
  gpu: WebGpuContext, loop: DeviceTrainingLoop,
  epoch: (epoch: number, recorders: PassRecorder[], staging: GPUBuffer) => Promise<{ trainLoss: number; validationLoss: number }>,
): Promise<DeviceTrainingSummary> {
  const { device } = gpu;
  const pool = bufferPool(device);
  const bytes = 4 * loop.paramCount;
  const staging = pool.acquire(4 * Math.max(loop.stagingFloats, loop.paramCount), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const best = pool.acquire(bytes, storage());
  upload(device.queue, best, loop.init);
  const trainLoss: number[] = [], validationLoss: number[] = [];
  let bestEpoch = 0, bestLoss = Infinity, sinceBest = 0;
  try {
    for (let e = 1; e <= loop.maxEpochs; e++) {
      if (loop.signal?.aborted) throw abortError();
      const recorders: PassRecorder[] = [];
      try {
        const l = await epoch(e, recorders, staging);
        const losses = { epoch: e, trainLoss: l.trainLoss, validationLoss: l.validationLoss };
        trainLoss.push(losses.trainLoss);
        validationLoss.push(losses.validationLoss);
        // A NaN validation loss never counts as an improvement.
        if (losses.validationLoss < bestLoss) {
          bestLoss = losses.validationLoss;
          bestEpoch = e;
          sinceBest = 0;
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(loop.params, 0, best, 0, bytes);
          device.queue.submit([enc.finish()]);
        } else {
          sinceBest++;
        }
        loop.onEpoch?.(losses);
        if (sinceBest >= loop.patience) break;
      } finally {
        for (const r of recorders) r.release();
      }
    }
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(best, 0, staging, 0, bytes);
    device.queue.submit([enc.finish()]);
    const params = await readStaging(staging, loop.paramCount);
    return {
      params, epochs: trainLoss.length, bestEpoch, bestValidationLoss: bestLoss,
      trainLoss: Float64Array.from(trainLoss), validationLoss: Float64Array.from(validationLoss),
    };
  } finally {
    pool.release(staging, best);
  }
}
