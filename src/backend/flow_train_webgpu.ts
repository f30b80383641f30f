/// <reference types="@webgpu/types" />
/**
 * Maximum-likelihood training of a conditional MAF / NSF on the WebGPU device: the loop of
 * native/trainer.h with native/flow_trainer.cc's z-scoring, and each step's forward, backward
 * (kernels/flows/maf.h maf_nll_backward: kernels/flows/maf.wgsl's elementwise steps with the
 * affine or the rational-quadratic spline element, the MADE backward of kernels/nn/dense.wgsl),
 * gradient masking, clipping and Adam on the device.
 *
 * Randomness is the CPU trainer's: the validation split is a Philox permutation of stream 0 of the
 * seed, the per-epoch shuffles come from stream 1, so every batch holds the CPU's rows. The
 * parameters, gradients, Adam's moments and the z-scored data stay on the device; an epoch is
 * queued whole (one command buffer per step, the batch's rows gathered on the device from the
 * epoch's shuffled order) and its training and validation log q come back in one readback. f32
 * throughout, the sums in another order than the CPU's: the losses agree with the CPU trainer's
 * to f32 rounding growing over the steps, not bit for bit (docs/backends.md).
 *
 * Per step, for a batch of nb rows (loss L = mean −log q_z):
 *   forward    a_0 = θ, z_{k+1} = f(a_k; MADE_k(a_k, x)), u = z_K (every layer's activations kept)
 *   backward   dL/du = u / nb; per layer the element's backward, MADE_k's backward with dL/da_k
 *   update     g ← g ⊙ mask, g ← g · min(1, c / ‖g‖), Adam (kernels/nn/adam.h, torch's ε)
 */
import type { MAF } from '../flows/maf.js';
import type { NativeMafTrainResult } from '../native.js';
import { PhiloxStream, shuffle } from '../random/philox.js';
import { checkFiniteRows, epochOptions, splitRows, trainEpochsOnDevice, zScoring, type DeviceTrainingOptions } from './device_training.js';
import { madeSpec, mafKey, mafUniforms } from './flow_webgpu.js';
import {
  PassRecorder, acquireMlpLayers, checkRows, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload,
  type MlpSpec,
} from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

/** A batch of z-scored rows: θ [nb, dim], x [nb, contextDim]. */
export interface MafBatch {
  theta: Float32Array;
  x: Float32Array;
}

export interface MafStepOptions {
  /** Adam's learning rate (default 5e-4, as sbi). */
  learningRate?: number;
  /** Gradients are scaled to this global norm when longer (default 5, as sbi). */
  clipMaxNorm?: number;
}

export interface MafTrainWebGpuOptions extends MafStepOptions, DeviceTrainingOptions {}

const MIN_STD = 1e-14; // sbi's floor for z-scoring (flow_trainer.cc kMinStd)

function checkPositive(v: number, name: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`Expected a positive finite number for \`${name}\` but received ${String(v)}`);
  return v;
}

/**
 * The device state of MAF training for batches of up to `rows` rows: parameters, gradients,
 * Adam's moments and the MADE mask, and per layer its input rows and MADE activations.
 */
class MafTrainState {
  readonly P: number;
  readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: GPUBuffer;
  private readonly mask: GPUBuffer;
  private readonly sumSq: GPUBuffer;
  readonly logQ: GPUBuffer;
  private readonly ins: GPUBuffer[];
  private readonly layers: GPUBuffer[][];
  private readonly z: GPUBuffer;
  private readonly gZ: GPUBuffer;
  private readonly gOut: GPUBuffer;
  private readonly gIn: GPUBuffer;
  private readonly scratch: [GPUBuffer, GPUBuffer];
  private readonly spec: MlpSpec;
  private readonly madeCount: number;
  private adamStep = 0;

  constructor(private readonly gpu: WebGpuContext, private readonly maf: MAF, params: Float32Array, readonly rows: number) {
    const { device } = gpu;
    const pool = bufferPool(device);
    const D = maf.dim, W = maf.dim + maf.contextDim;
    this.spec = madeSpec(maf);
    this.P = maf.paramCount;
    this.madeCount = maf.paramCount / maf.layers;
    this.params = pool.acquire(4 * this.P, storage());
    upload(device.queue, this.params, params);
    this.grads = pool.acquire(4 * this.P, storage());
    this.moments = pool.acquire(8 * this.P, storage());
    device.queue.writeBuffer(this.moments, 0, new Float32Array(2 * this.P));
    this.mask = pool.acquire(4 * this.P, storage());
    upload(device.queue, this.mask, Float32Array.from(maf.mask));
    this.sumSq = pool.acquire(4, storage());
    this.logQ = pool.acquire(4 * rows, storage());
    this.ins = Array.from({ length: maf.layers }, () => pool.acquire(4 * rows * W, storage()));
    this.layers = Array.from({ length: maf.layers }, () => acquireMlpLayers(device, this.spec, rows));
    this.z = pool.acquire(4 * rows * D, storage());
    this.gZ = pool.acquire(4 * rows * D, storage());
    this.gOut = pool.acquire(4 * rows * D * maf.paramsPerDim, storage());
    this.gIn = pool.acquire(4 * rows * W, storage());
    const maxWidth = Math.max(...this.spec.sizes);
    this.scratch = [pool.acquire(4 * rows * maxWidth, storage()), pool.acquire(4 * rows * maxWidth, storage())];
  }

  private uniforms(n: number, u: { last?: number; d0?: number; firstRow?: number } = {}) {
    return mafUniforms(this.maf, this.maf.contextDim, { n, gradScale: 1 / n, ...u });
  }

  /** Layer 0's input rows: rows order[first .. first + n) of the device data (θ [*, D], x [*, C]); log q = 0. */
  recordGather(rec: PassRecorder, data: DeviceRows, first: number, n: number): void {
    rec.dispatch(mafKey(this.maf, 'maf_gather'), this.uniforms(n, { firstRow: first }),
      { 1: data.theta, 2: data.x, 3: this.ins[0]!, 4: this.logQ, 7: data.order }, groups1d(n));
  }

  /** maf_log_prob on the gathered rows: log q_z into logQ, every layer's activations kept. */
  recordForward(rec: PassRecorder, n: number): void {
    const K = this.maf.layers;
    for (let k = 0; k < K; k++) {
      const last = k + 1 === K;
      recordMlpForward(rec, this.spec, this.params, k * this.madeCount, this.ins[k]!, this.layers[k]!, n);
      const made = this.layers[k]![this.layers[k]!.length - 1]!;
      rec.dispatch(mafKey(this.maf, 'maf_forward'), this.uniforms(n, { last: last ? 1 : 0 }),
        { 1: this.ins[k]!, 2: made, 3: last ? this.z : this.ins[k + 1]!, 4: this.logQ }, groups1d(n));
    }
  }

  /** maf_nll_backward after recordForward: the parameter gradients of the batch-mean −log q_z. */
  recordBackward(rec: PassRecorder, n: number): void {
    const D = this.maf.dim;
    rec.dispatch(mafKey(this.maf, 'maf_base_backward'), this.uniforms(n), { 1: this.z, 5: this.gZ }, groups1d(n * D));
    for (let k = this.maf.layers - 1; k >= 0; k--) {
      const made = this.layers[k]![this.layers[k]!.length - 1]!;
      rec.dispatch(mafKey(this.maf, 'maf_backward'), this.uniforms(n), { 1: this.ins[k]!, 2: made, 3: this.gOut, 5: this.gZ }, groups1d(n * D));
      // layer 0's input is θ itself: no gradient needed there
      recordMlpBackward(rec, this.spec, {
        params: this.params, paramOffset: k * this.madeCount, input: this.ins[k]!, layers: this.layers[k]!, dOut: this.gOut, grads: this.grads,
        scratch: this.scratch, dInput: k > 0 ? this.gIn : null,
      }, n);
      if (k > 0) rec.dispatch(mafKey(this.maf, 'maf_input_backward'), this.uniforms(n, { d0: 1 }), { 5: this.gZ, 6: this.gIn }, groups1d(n));
    }
  }

  /** Mask, clip at global norm `clip`, one Adam step (sbi's betas and ε). */
  recordUpdate(rec: PassRecorder, lr: number, clip: number): void {
    const P = this.P;
    recordElementwise(rec, 'mask_multiply', { count: P }, this.mask, this.grads);
    recordElementwise(rec, 'sum_squares', { count: P }, this.grads, this.sumSq);
    recordElementwise(rec, 'clip_by_norm', { count: P, scale: clip }, this.sumSq, this.grads);
    recordAdamStep(rec, { count: P, step: ++this.adamStep, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
      this.grads, this.params, this.moments);
  }

  /** One training step on rows order[first .. first + n) of `data`: gather, forward, backward, update; log q_z stays in logQ. */
  recordStep(rec: PassRecorder, data: DeviceRows, first: number, n: number, lr: number, clip: number): void {
    this.recordGather(rec, data, first, n);
    this.recordForward(rec, n);
    this.recordBackward(rec, n);
    this.recordUpdate(rec, lr, clip);
  }

  release(): void {
    bufferPool(this.gpu.device).release(
      this.params, this.grads, this.moments, this.mask, this.sumSq, this.logQ, ...this.ins, ...this.layers.flat(), this.z, this.gZ, this.gOut, this.gIn,
      ...this.scratch,
    );
  }
}

/** Rows resident on the device: θ [n, D], x [n, C] and a row order (u32) the gather reads. */
class DeviceRows {
  readonly theta: GPUBuffer;
  readonly x: GPUBuffer;
  readonly order: GPUBuffer;
  constructor(private readonly gpu: WebGpuContext, theta: Float32Array, x: Float32Array, readonly n: number) {
    const pool = bufferPool(gpu.device);
    this.theta = pool.acquire(4 * Math.max(1, theta.length), storage());
    upload(gpu.device.queue, this.theta, theta);
    this.x = pool.acquire(4 * Math.max(1, x.length), storage());
    if (x.length > 0) upload(gpu.device.queue, this.x, x);
    this.order = pool.acquire(4 * n, storage());
    this.setOrder(Int32Array.from({ length: n }, (_, i) => i));
  }
  setOrder(order: Int32Array): void {
    this.gpu.device.queue.writeBuffer(this.order, 0, order as Int32Array<ArrayBuffer>);
  }
  release(): void {
    bufferPool(this.gpu.device).release(this.theta, this.x, this.order);
  }
}


/** Checks the batches of op flow.maf_train (finite rows of θ and x); returns their row counts. */
export function checkMafBatches(maf: MAF, batches: readonly MafBatch[]): number[] {
  if (!Array.isArray(batches) || batches.length === 0) throw new RangeError('Expected a non-empty array of batches for `batches`');
  return batches.map((b, i) => {
    if (typeof b !== 'object' || b === null) throw new TypeError(`Expected { theta, x } for \`batches[${i}]\` but received ${String(b)}`);
    const n = checkFiniteRows(b.theta, `batches[${i}].theta`, maf.dim, undefined, 'Float32Array', true);
    checkFiniteRows(b.x, `batches[${i}].x`, maf.contextDim, n, 'Float32Array', true);
    checkRows(n);
    return n;
  });
}

export function stepOptions(o: MafStepOptions): { lr: number; clip: number } {
  return { lr: checkPositive(o.learningRate ?? 5e-4, 'learningRate'), clip: checkPositive(o.clipMaxNorm ?? 5, 'clipMaxNorm') };
}

/**
 * One training step per batch from `maf.params` (not modified): forward, backward, mask, clip,
 * Adam, all queued on the device (op flow.maf_train). Returns the final parameters and each
 * step's batch-mean −log q.
 */
export async function mafTrainStepsWebGpu(
  gpu: WebGpuContext, maf: MAF, batches: readonly MafBatch[], options: MafStepOptions = {},
): Promise<{ params: Float32Array; losses: Float64Array }> {
  const { lr, clip } = stepOptions(options);
  const rowsOf = checkMafBatches(maf, batches);
  const total = rowsOf.reduce((s, n) => s + n, 0);
  const theta = new Float32Array(total * maf.dim), x = new Float32Array(total * maf.contextDim);
  let off = 0;
  batches.forEach((b, i) => {
    theta.set(b.theta, off * maf.dim);
    x.set(b.x, off * maf.contextDim);
    off += rowsOf[i]!;
  });
  const params = maf.params instanceof Float32Array ? maf.params : Float32Array.from(maf.params);
  const { device } = gpu;
  const pool = bufferPool(device);
  const state = new MafTrainState(gpu, maf, params, Math.max(...rowsOf));
  const data = new DeviceRows(gpu, theta, x, total);
  const staging = pool.acquire(4 * (total + maf.paramCount), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    await submitChecked(device, 'MAF training', () => {
      let first = 0;
      rowsOf.forEach((n, i) => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        state.recordStep(rec, data, first, n, lr, clip);
        rec.copyAfterPass(state.logQ, 0, staging, 4 * first, 4 * n);
        if (i + 1 === rowsOf.length) rec.copyAfterPass(state.params, 0, staging, 4 * total, 4 * maf.paramCount);
        rec.submit();
        first += n;
      });
    });
    const out = await readStaging(staging, total + maf.paramCount);
    let first = 0;
    const losses = Float64Array.from(rowsOf, (n) => {
      let s = 0;
      for (let r = 0; r < n; r++) s -= out[first + r]!;
      first += n;
      return s / n;
    });
    return { params: out.slice(total), losses };
  } finally {
    for (const r of recorders) r.release();
    pool.release(staging);
    data.release();
    state.release();
  }
}

/** Column mean and std (n − 1, floored) of rows `rows` of a [*, dim] matrix, in double (standardize_fit). */
export function fitColumns(a: Float32Array | Float64Array, dim: number, rows: Int32Array): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim), std = new Float64Array(dim);
  for (const r of rows) for (let j = 0; j < dim; j++) mean[j]! += a[r * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= rows.length;
  for (const r of rows) {
    for (let j = 0; j < dim; j++) {
      const d = a[r * dim + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < dim; j++) {
    const s = rows.length > 1 ? Math.sqrt(std[j]! / (rows.length - 1)) : 0;
    std[j] = s > MIN_STD ? s : MIN_STD;
  }
  return { mean, std };
}

/** Rows `rows` of a [*, dim] matrix, z-scored in double, as f32. */
export function zScore(a: Float32Array | Float64Array, dim: number, rows: Int32Array, s: { mean: Float64Array; std: Float64Array }): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    for (let j = 0; j < dim; j++) out[i * dim + j] = (a[r * dim + j]! - s.mean[j]!) / s.std[j]!;
  });
  return out;
}

/**
 * Trains `maf` (initial parameters in maf.params, not modified) on θ [n, dim] and
 * x [n, contextDim] with native/flow_trainer.h's algorithm and randomness; resolves like
 * native.mafTrain (the best epoch's parameters, per-epoch losses of the original θ, z-scoring).
 * A set `signal` rejects with SbiError ABORTED before the next epoch.
 */
export async function trainMafWebGpu(
  gpu: WebGpuContext, maf: MAF, theta: Float32Array, x: Float32Array, options: MafTrainWebGpuOptions,
): Promise<NativeMafTrainResult> {
  if (typeof options !== 'object' || options === null) throw new TypeError('Expected an options object with `seed`');
  const { lr, clip } = stepOptions(options);
  const D = maf.dim, C = maf.contextDim;
  const n = checkFiniteRows(theta, 'theta', D, undefined, 'Float32Array', true);
  checkFiniteRows(x, 'x', C, n, 'Float32Array', true);
  const { batchSize, maxEpochs, patience, fraction } = epochOptions(options);
  const nVal = Math.floor(fraction * n), nTrain = n - nVal;
  if (nVal < 1 || nTrain < 2) {
    throw new RangeError(`Expected enough rows for a validation split (at least 1 validation and 2 training rows) but ${n} rows with validationFraction ${fraction} give ${nVal} validation rows`);
  }
  const { trainRows, valRows } = splitRows(options.seed, n, nTrain);
  const thetaStats = fitColumns(theta, D, trainRows), xStats = fitColumns(x, C, trainRows);
  let logStdSum = 0; // z-scoring θ's Jacobian: log q(θ | x) = log q_z − Σ log std
  for (let d = 0; d < D; d++) logStdSum += Math.log(thetaStats.std[d]!);

  const batch = Math.min(batchSize, nTrain);
  const evalRows = Math.max(batch, Math.min(nVal, 4096));
  const { device } = gpu;
  const pool = bufferPool(device);
  const init = maf.params instanceof Float32Array ? maf.params : Float32Array.from(maf.params);
  const state = new MafTrainState(gpu, maf, init, evalRows);
  const train = new DeviceRows(gpu, zScore(theta, D, trainRows, thetaStats), zScore(x, C, trainRows, xStats), nTrain);
  const val = new DeviceRows(gpu, zScore(theta, D, valRows, thetaStats), zScore(x, C, valRows, xStats), nVal);
  const shuffleRng = new PhiloxStream(options.seed, 1);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  try {
    const summary = await trainEpochsOnDevice(gpu, {
      params: state.params, init, paramCount: maf.paramCount, stagingFloats: nTrain + nVal, maxEpochs, patience, signal: options.signal, onEpoch: options.onEpoch,
    }, async (_epoch, recorders, staging) => {
      shuffle(shuffleRng, order);
      train.setOrder(order);
      await submitChecked(device, 'MAF training', () => {
        for (let start = 0; start < nTrain; start += batch) {
          const nb = Math.min(batch, nTrain - start);
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordStep(rec, train, start, nb, lr, clip);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * start, 4 * nb);
          rec.submit();
        }
        for (let start = 0; start < nVal; start += evalRows) {
          const nv = Math.min(evalRows, nVal - start);
          const rec = new PassRecorder(gpu);
          recorders.push(rec);
          state.recordGather(rec, val, start, nv);
          state.recordForward(rec, nv);
          rec.copyAfterPass(state.logQ, 0, staging, 4 * (nTrain + start), 4 * nv);
          rec.submit();
        }
      });
      const logQ = await readStaging(staging, nTrain + nVal);
      let trainSum = 0, valSum = 0;
      for (let i = 0; i < nTrain; i++) trainSum -= logQ[i]!;
      for (let i = nTrain; i < nTrain + nVal; i++) valSum -= logQ[i]!;
      return { trainLoss: trainSum / nTrain + logStdSum, validationLoss: valSum / nVal + logStdSum };
    });
    return { ...summary, ...zScoring(thetaStats, xStats) };
  } finally {
    train.release();
    val.release();
    state.release();
  }
}
