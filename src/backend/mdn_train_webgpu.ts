/// <reference types="@webgpu/types" />
/**
 * Mixture density network training steps on the WebGPU device (op flow.mdn_train), the step of
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
import { mdnConditionerSpec, mdnUniforms } from './mdn_webgpu.js';
import { stepOptions, type MafStepOptions } from './flow_train_webgpu.js';
import {
  PassRecorder, acquireMlpLayers, checkRows, groups1d, recordAdamStep, recordElementwise, recordMlpBackward, recordMlpForward, storage, upload,
} from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, type WebGpuContext } from './webgpu.js';

/** A batch of z-scored rows: y [nb, dim] (the modelled variable), context [nb, contextDim]. */
export interface MdnBatch {
  y: Float32Array;
  context: Float32Array;
}

/** Rows of a finite [rows, width] Float32Array `name` (exactly `n` when given). */
function finiteRows(a: unknown, name: string, width: number, n?: number): number {
  if (!(a instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  const rows = a.length / width;
  if (!Number.isSafeInteger(rows) || rows < 1 || (n !== undefined && rows !== n)) {
    throw new RangeError(`Expected \`${name}\` to hold ${n ?? 'whole'} rows of ${width} values but received ${a.length} values`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`Expected finite values in \`${name}\` but index ${i} is ${a[i]}`);
  }
  return rows;
}

/** Checks the batches of op flow.mdn_train (finite rows of y and context, by name); returns their row counts. */
export function checkMdnBatches(mdn: MDN, batches: readonly MdnBatch[]): number[] {
  if (!Array.isArray(batches) || batches.length === 0) throw new RangeError('Expected a non-empty array of batches for `batches`');
  return batches.map((b, i) => {
    if (typeof b !== 'object' || b === null) throw new TypeError(`Expected { y, context } for \`batches[${i}]\` but received ${String(b)}`);
    const n = finiteRows(b.y, `batches[${i}].y`, mdn.dim);
    finiteRows(b.context, `batches[${i}].context`, mdn.contextDim, n);
    checkRows(n);
    return n;
  });
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
  const params = mdn.params;
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i]!)) throw new RangeError(`\`params\` must be finite; element ${i} is ${params[i]}`);
  }
  const { device } = gpu;
  const pool = bufferPool(device);
  const spec = mdnConditionerSpec(mdn);
  const P = mdn.paramCount;
  const width = mdn.components * mdn.componentWidth;
  const maxRows = Math.max(...rowsOf);
  const total = rowsOf.reduce((s, n) => s + n, 0);
  const paramBuf = pool.acquire(4 * P, storage());
  const grads = pool.acquire(4 * P, storage());
  const moments = pool.acquire(8 * P, storage());
  const sumSq = pool.acquire(4, storage());
  const layers = acquireMlpLayers(device, spec, maxRows);
  const dOut = pool.acquire(4 * maxRows * width, storage());
  const logQ = pool.acquire(4 * maxRows, storage());
  const maxWidth = Math.max(...spec.sizes);
  const scratch: [GPUBuffer, GPUBuffer] = [pool.acquire(4 * maxRows * maxWidth, storage()), pool.acquire(4 * maxRows * maxWidth, storage())];
  const inputs = batches.map((b) => {
    const c = pool.acquire(4 * b.context.length, storage());
    const y = pool.acquire(4 * b.y.length, storage());
    upload(device.queue, c, b.context);
    upload(device.queue, y, b.y);
    return { c, y };
  });
  const staging = pool.acquire(4 * (total + P), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const recorders: PassRecorder[] = [];
  try {
    upload(device.queue, paramBuf, params);
    device.queue.writeBuffer(moments, 0, new Float32Array(2 * P));
    await submitChecked(device, 'MDN training', () => {
      let first = 0;
      rowsOf.forEach((n, i) => {
        const rec = new PassRecorder(gpu);
        recorders.push(rec);
        const { c, y } = inputs[i]!;
        recordMlpForward(rec, spec, paramBuf, 0, c, layers, n);
        const out = layers[layers.length - 1]!;
        rec.dispatch({ file: 'flows/mdn.wgsl', entryPoint: 'mdn_backward', constants: { workgroup_size: 64 } },
          mdnUniforms(mdn, n, width, 0n, -1 / n), { 1: out, 2: y, 3: dOut, 4: logQ }, groups1d(n));
        recordMlpBackward(rec, spec, { params: paramBuf, paramOffset: 0, input: c, layers, dOut, grads, scratch, dInput: null }, n);
        recordElementwise(rec, 'sum_squares', { count: P }, grads, sumSq);
        recordElementwise(rec, 'clip_by_norm', { count: P, scale: clip }, sumSq, grads);
        recordAdamStep(rec, { count: P, step: i + 1, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }, grads, paramBuf, moments);
        rec.copyAfterPass(logQ, 0, staging, 4 * first, 4 * n);
        if (i + 1 === rowsOf.length) rec.copyAfterPass(paramBuf, 0, staging, 4 * total, 4 * P);
        rec.submit();
        first += n;
      });
    });
    const read = await readStaging(staging, total + P);
    let first = 0;
    const losses = Float64Array.from(rowsOf, (n) => {
      let s = 0;
      for (let r = 0; r < n; r++) s -= read[first + r]!;
      first += n;
      return s / n;
    });
    return { params: read.slice(total), losses };
  } finally {
    for (const r of recorders) r.release();
    pool.release(paramBuf, grads, moments, sumSq, ...layers, dOut, logQ, ...scratch, staging, ...inputs.flatMap((b) => [b.c, b.y]));
  }
}
