/// <reference types="@webgpu/types" />
/**
 * Mixture density network training on the WebGPU device: `trainMdnWebGpu` runs native/trainer.h's
 * loop with native/mdn_trainer.cc's z-scoring and initialisation (NPE / NLE with
 * `densityEstimator: 'mdn'` and `backend: 'webgpu'`), and `mdnTrainStepsWebGpu` takes the same
 * steps on given batches (op flow.mdn_train). Each step is the one of
 * native/mdn_trainer.cc's LossAndGrad followed by native/trainer.h's clip and Adam: per batch of
 * nb z-scored rows (loss L = mean −log q_z),
 *   forward    o = conditioner(c) (ReLU MLP, kernels/nn/dense.wgsl), every layer's output kept
 *   backward   dL/do = −(1/nb) ∂ log q / ∂o (kernels/flows/mdn.wgsl mdn_backward, mirroring
 *              mdn_row_backward), then the conditioner's backward (recordMlpBackward)
 *   update     g ← g · min(1, c / ‖g‖) (sum_squares, clip_by_norm), Adam (kernels/nn/adam.h, torch's ε)
 * Every step is queued on the device (one command buffer per step); the parameters, gradients and
 * Adam's moments stay there, and only each step's log q and the final parameters come back. f32,
 * the sums in another order than the CPU's: the losses agree with the CPU's steps to f32 rounding.
 */
import type { MDN } from '../flows/mdn.js';
import type { NativeMafTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { checkFiniteRows, epochOptions, splitRows, trainEpochsOnDevice, zScoring } from './device_training.js';
import { mdnConditionerSpec, mdnUniforms } from './mdn_webgpu.js';
import { fitColumns, stepOptions, zScore, type MafStepOptions, type MafTrainWebGpuOptions } from './flow_train_webgpu.js';
import {
  PassRecorder, acquireMlpLayers, checkRows, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload,
  type MlpSpec,
} from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

/** A batch of z-scored rows: y [nb, dim] (the modelled variable), context [nb, contextDim]. */
export interface MdnBatch {
  y: Float32Array;
  context: Float32Array;
}

/** Checks the batches of op flow.mdn_train (finite rows of y and context, by name); returns their row counts. */
export function checkMdnBatches(mdn: MDN, batches: readonly MdnBatch[]): number[] {
  if (!Array.isArray(batches) || batches.length === 0) throw new RangeError('Expected a non-empty array of batches for `batches`');
  return batches.map((b, i) => {
    if (typeof b !== 'object' || b === null) throw new TypeError(`Expected { y, context } for \`batches[${i}]\` but received ${String(b)}`);
    const n = checkFiniteRows(b.y, `batches[${i}].y`, mdn.dim, undefined, 'Float32Array');
    checkFiniteRows(b.context, `batches[${i}].context`, mdn.contextDim, n, 'Float32Array');
    checkRows(n);
    return n;
  });
}

const MDN_KEY = (entryPoint: string) => ({ file: 'flows/mdn.wgsl' as const, entryPoint, constants: { workgroup_size: 64 } });

/**
 * The device state of MDN training for batches of up to `rows` rows: parameters, gradients, Adam's
 * moments, the conditioner's layer outputs, dL/do and each row's log q.
 */
class MdnTrainState {
  readonly P: number;
  readonly params: GPUBuffer;
  readonly logQ: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: GPUBuffer;
  private readonly sumSq: GPUBuffer;
  private readonly layers: GPUBuffer[];
  private readonly dOut: GPUBuffer;
  private readonly scratch: [GPUBuffer, GPUBuffer];
  private readonly spec: MlpSpec;
  private readonly width: number;
  private adamStep = 0;

  constructor(private readonly gpu: WebGpuContext, private readonly mdn: MDN, params: Float32Array, rows: number) {
    const { device } = gpu;
    const pool = bufferPool(device);
    this.spec = mdnConditionerSpec(mdn);
    this.P = mdn.paramCount;
    this.width = mdn.components * mdn.componentWidth;
    this.params = pool.acquire(4 * this.P, storage());
    upload(device.queue, this.params, params);
    this.grads = pool.acquire(4 * this.P, storage());
    this.moments = pool.acquire(8 * this.P, storage());
    device.queue.writeBuffer(this.moments, 0, new Float32Array(2 * this.P));
    this.sumSq = pool.acquire(4, storage());
    this.layers = acquireMlpLayers(device, this.spec, rows);
    this.dOut = pool.acquire(4 * rows * this.width, storage());
    this.logQ = pool.acquire(4 * rows, storage());
    const maxWidth = Math.max(...this.spec.sizes);
    this.scratch = [pool.acquire(4 * rows * maxWidth, storage()), pool.acquire(4 * rows * maxWidth, storage())];
  }

  /** log q_z of n rows (context c [n, C], y [n, D] on the device) into logQ. */
  recordLogProb(rec: PassRecorder, c: GPUBuffer, y: GPUBuffer, n: number): void {
    recordMlpForward(rec, this.spec, this.params, 0, c, this.layers, n);
    rec.dispatch(MDN_KEY('mdn_log_prob'), mdnUniforms(this.mdn, n, this.width), { 1: this.layers[this.layers.length - 1]!, 2: y, 3: this.logQ }, groups1d(n));
  }

  /** One training step on n rows: forward, log q into logQ, backward of the batch-mean −log q, clip, Adam. */
  recordStep(rec: PassRecorder, c: GPUBuffer, y: GPUBuffer, n: number, lr: number, clip: number): void {
    const P = this.P;
    recordMlpForward(rec, this.spec, this.params, 0, c, this.layers, n);
    rec.dispatch(MDN_KEY('mdn_backward'), mdnUniforms(this.mdn, n, this.width, 0n, -1 / n),
      { 1: this.layers[this.layers.length - 1]!, 2: y, 3: this.dOut, 4: this.logQ }, groups1d(n));
    recordMlpBackward(rec, this.spec, {
      params: this.params, paramOffset: 0, input: c, layers: this.layers, dOut: this.dOut, grads: this.grads, scratch: this.scratch, dInput: null,
    }, n);
    recordElementwise(rec, 'sum_squares', { count: P }, this.grads, this.sumSq);
    recordElementwise(rec, 'clip_by_norm', { count: P, scale: clip }, this.sumSq, this.grads);
    recordAdamStep(rec, { count: P, step: ++this.adamStep, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
      this.grads, this.params, this.moments);
  }

  release(): void {
    bufferPool(this.gpu.device).release(this.params, this.grads, this.moments, this.sumSq, ...this.layers, this.dOut, this.logQ, ...this.scratch);
  }
}

/** Device buffers holding rows of context [n, C] and y [n, D] (from the pool). */
function deviceRows(gpu: WebGpuContext, c: Float32Array, y: Float32Array): { c: GPUBuffer; y: GPUBuffer } {
  const pool = bufferPool(gpu.device);
  const rows = { c: pool.acquire(4 * c.length, storage()), y: pool.acquire(4 * y.length, storage()) };
  upload(gpu.device.queue, rows.c, c);
  upload(gpu.device.queue, rows.y, y);
  return rows;
}

/** Sums −logQ over rows [first, first + n) of the read-back values. */
function negSum(values: Float32Array, first: number, n: number): number {
  let s = 0;
  for (let r = first; r < first + n; r++) s -= values[r]!;
  return s;
}

/**
 * One step per batch from `mdn.params` (not modified): forward, NLL, backward, clip, Adam, queued
 * on the device (op flow.mdn_train). Returns the final parameters and each step's batch-mean −log q.
 */
export async function mdnTrainStepsWebGpu(
  gpu: WebGpuContext, mdn: MDN, batches: readonly MdnBatch[], options: MafStepOptions = {},
): Promise<{ params: Float32Array; losses: Float64Array }> {
  const { lr, clip } = stepOptions(options);
  const rowsOf = checkMdnBatches(mdn, batches);
  const P = mdn.paramCount;
  const total = rowsOf.reduce((s, n) => s + n, 0);
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new MdnTrainState(gpu, mdn, checkParams(mdn), Math.max(...rowsOf));
  const inputs = batches.map((b) => deviceRows(gpu, b.context, b.y));
  const staging = pool.acquire(4 * (total + P), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'MDN training', () => {
      let first = 0;
      rowsOf.forEach((n, i) => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        state.recordStep(rec, inputs[i]!.c, inputs[i]!.y, n, lr, clip);
        rec.copyAfterPass(state.logQ, 0, staging, 4 * first, 4 * n);
        if (i + 1 === rowsOf.length) rec.copyAfterPass(state.params, 0, staging, 4 * total, 4 * P);
        rec.submit();
        first += n;
      });
    });
    const read = await readStaging(staging, total + P);
    let first = 0;
    const losses = Float64Array.from(rowsOf, (n) => {
      const loss = negSum(read, first, n) / n;
      first += n;
      return loss;
    });
    return { params: read.slice(total), losses };
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging, ...inputs.flatMap((b) => [b.c, b.y]));
    state.release();
  }
}

function checkParams(mdn: MDN): Float32Array {
  const p = mdn.params;
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i]!)) throw new RangeError(`\`params\` must be finite; element ${i} is ${p[i]}`);
  }
  return p;
}

/** pyknos' ε: the initial scale of the logit and precision-factor output rows (native/mdn_trainer.cc kMdnSmallInit). */
const MDN_SMALL_INIT = 1e-2;

/**
 * native/mdn_trainer.cc's InitialParams for `mdn` from stream 3 of the training seed: torch's
 * Linear default U(±1/√fan_in) for every weight and bias, U(±0.01) for the head's logit,
 * log-diagonal and off-diagonal rows; weights row by row, then the biases, layer by layer.
 */
export function mdnInitialParams(mdn: MDN, seed: number | bigint): Float32Array {
  const rng = new PhiloxStream(seed, 3);
  const sizes = mdnConditionerSpec(mdn).sizes;
  const D = mdn.dim, W = mdn.componentWidth;
  const out = new Float32Array(mdn.paramCount);
  let p = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!, fanOut = sizes[l + 1]!;
    const bound = 1 / Math.sqrt(fanIn);
    const head = l + 2 === sizes.length;
    const rowBound = (o: number) => {
      const j = o % W;
      return !head || (j >= 1 && j <= D) ? bound : MDN_SMALL_INIT;
    };
    for (let o = 0; o < fanOut; o++) for (let i = 0; i < fanIn; i++) out[p++] = rowBound(o) * (2 * rng.uniform() - 1);
    for (let o = 0; o < fanOut; o++) out[p++] = rowBound(o) * (2 * rng.uniform() - 1);
  }
  return out;
}

/**
 * Trains `mdn` from native/mdn_trainer.cc's initialisation on y [n, dim] and context
 * [n, contextDim] (double, as native.mdnTrain takes them) with native/trainer.h's algorithm and
 * randomness: the validation split from stream 0 of `seed`, the per-epoch shuffles from stream 1,
 * the initialisation from stream 3, z-scoring in double (n − 1, floored), batch 200, lr 5e-4,
 * clip 5, patience 20, best-epoch parameters. Resolves like native.mdnTrain. The epoch's batches
 * are gathered on the host and uploaded once per epoch; every step and the validation pass are
 * queued on the device and read back once per epoch. A set `signal` rejects with SbiError
 * ABORTED before the next epoch.
 */
export async function trainMdnWebGpu(
  gpu: WebGpuContext, mdn: MDN, y: Float64Array, context: Float64Array, options: MafTrainWebGpuOptions,
): Promise<NativeMafTrainResult> {
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected an options object with `seed`');
  const { lr, clip } = stepOptions(options);
  const D = mdn.dim, C = mdn.contextDim;
  const n = checkFiniteRows(y, 'y', D, undefined, 'Float64Array');
  checkFiniteRows(context, 'context', C, n, 'Float64Array');
  const { batchSize, maxEpochs, patience, fraction } = epochOptions(options);
  const nVal = Math.floor(fraction * n), nTrain = n - nVal;
  if (nVal < 1 || nTrain < 1) {
    throw new RangeError(`Expected at least one validation and one training row but ${n} rows with validationFraction ${fraction} give ${nVal} validation rows`);
  }
  const { trainRows, valRows } = splitRows(options.seed, n, nTrain);
  const yStats = fitColumns(y, D, trainRows), cStats = fitColumns(context, C, trainRows);
  let logStdSum = 0; // z-scoring y's Jacobian: log q(y | c) = log q_z − Σ log std
  for (let d = 0; d < D; d++) logStdSum += Math.log(yStats.std[d]!);
  const trainY = zScore(y, D, trainRows, yStats), trainC = zScore(context, C, trainRows, cStats);

  const batch = Math.min(batchSize, nTrain);
  const evalRows = Math.max(batch, Math.min(nVal, 4096));
  const { device } = gpu;
  const pool = bufferPool(device);
  const init = mdnInitialParams(mdn, options.seed);
  const state = new MdnTrainState(gpu, mdn, init, evalRows);
  const batches = Math.ceil(nTrain / batch);
  const batchBuffers = Array.from({ length: batches }, (_, b) => {
    const nb = Math.min(batch, nTrain - b * batch);
    return { c: pool.acquire(4 * nb * C, storage()), y: pool.acquire(4 * nb * D, storage()), nb };
  });
  const valY = zScore(y, D, valRows, yStats), valC = zScore(context, C, valRows, cStats);
  const valChunks = Array.from({ length: Math.ceil(nVal / evalRows) }, (_, k) => {
    const first = k * evalRows, nv = Math.min(evalRows, nVal - first);
    return { ...deviceRows(gpu, valC.subarray(first * C, (first + nv) * C), valY.subarray(first * D, (first + nv) * D)), first, nv };
  });
  const shuffleRng = new PhiloxStream(options.seed, 1);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  const bc = new Float32Array(batch * C), by = new Float32Array(batch * D);
  try {
    const summary = await trainEpochsOnDevice(gpu, {
      params: state.params, init, paramCount: mdn.paramCount, stagingFloats: nTrain + nVal, maxEpochs, patience, signal: options.signal, onEpoch: options.onEpoch,
    }, async (_epoch, recorders, staging) => {
      shuffle(shuffleRng, order);
      batchBuffers.forEach((b, k) => {
        for (let i = 0; i < b.nb; i++) {
          const row = order[k * batch + i]!;
          bc.set(trainC.subarray(row * C, (row + 1) * C), i * C);
          by.set(trainY.subarray(row * D, (row + 1) * D), i * D);
        }
        device.queue.writeBuffer(b.c, 0, bc, 0, b.nb * C);
        device.queue.writeBuffer(b.y, 0, by, 0, b.nb * D);
      });
      await submitChecked(device, 'MDN training', () => {
        batchBuffers.forEach((b, k) => {
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordStep(rec, b.c, b.y, b.nb, lr, clip);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * k * batch, 4 * b.nb);
          rec.submit();
        });
        for (const v of valChunks) {
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordLogProb(rec, v.c, v.y, v.nv);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * (nTrain + v.first), 4 * v.nv);
          rec.submit();
        }
      });
      const logQ = await readStaging(staging, nTrain + nVal);
      return { trainLoss: negSum(logQ, 0, nTrain) / nTrain + logStdSum, validationLoss: negSum(logQ, nTrain, nVal) / nVal + logStdSum };
    });
    return { ...summary, ...zScoring(yStats, cStats) };
  } finally {
    pool.release(...batchBuffers.flatMap((b) => [b.c, b.y]), ...valChunks.flatMap((v) => [v.c, v.y]));
    state.release();
  }
}
