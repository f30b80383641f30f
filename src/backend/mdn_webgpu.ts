/// <reference types="@webgpu/types" />
/**
 * Mixture density network evaluation and sampling on the WebGPU device (ops flow.mdn_log_prob and
 * flow.mdn_sample), mirroring native/mdn.cc's mdnLogProb / mdnSample: the conditioner, a ReLU MLP
 * [C, H × L, K · W] in kernels/nn/mlp.h's parameter layout, runs as kernels/nn/dense.wgsl's
 * products (recordMlpForward); the head (mixture weights, means, precision factors, log-sum-exp,
 * draws) is kernels/flows/mdn.wgsl, a mirror of kernels/flows/mdn.h. One command buffer per call;
 * only log q (or the draws) come back. A context of one row [C] runs the network once for all
 * rows (stride 0), as the CPU does.
 */
import type { MDN } from '../flows/mdn.js';
import { checkSeed } from '../validate.js';
import { inputLength, writeInput, type ArrayInput } from './device_array.js';
import { PassRecorder, acquireMlpLayers, checkRows, groups1d, recordMlpForward, storage, upload, words, type MlpSpec } from './nn_webgpu.js';
import { bufferPool, readStaging, submitChecked, u64Words, type PipelineKey, type WebGpuContext } from './webgpu.js';

const ELT = 64;

/** The conditioner of `mdn`: [C, H × L, K · W], ReLU after every hidden layer (native/mdn_trainer.h). */
export function mdnConditionerSpec(mdn: MDN): MlpSpec {
  return { sizes: [mdn.contextDim, ...Array.from({ length: mdn.hiddenLayers }, () => mdn.hidden), mdn.components * mdn.componentWidth], activation: 'relu' };
}

function mdnKey(entryPoint: string): PipelineKey {
  return { file: 'flows/mdn.wgsl', entryPoint, constants: { workgroup_size: ELT } };
}

/** MdnParams of kernels/flows/mdn.wgsl (gradScale: the backward's ∂loss/∂log q per row). */
export function mdnUniforms(mdn: MDN, n: number, outStride: number, seed = 0n, gradScale = 0): Uint32Array<ArrayBuffer> {
  const [k0, k1] = u64Words(seed);
  return words([n, mdn.dim, mdn.components, outStride, k0!, k1!, 0, gradScale], new Set([7]));
}

/** Rows of the context: 1 (broadcast to every row) or n; anything else is a RangeError naming `context`. */
function contextRows(mdn: MDN, context: ArrayInput, n: number): number {
  const length = inputLength(context, 'context', 'webgpu');
  const C = mdn.contextDim;
  if (length === C) return 1;
  if (length === n * C) return n;
  throw new RangeError(`Expected \`context\` to hold ${C} values (one row for all) or ${n * C} (one per row) but received ${length}`);
}

function checkParams(mdn: MDN): Float32Array {
  const p = mdn.params;
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i]!)) throw new RangeError(`\`params\` must be finite; element ${i} is ${p[i]}`);
  }
  return p;
}

/**
 * Runs the conditioner on the context rows, then `entryPoint` of mdn.wgsl over n rows with the
 * given extra input (y, binding 2) into an output of `outFloats` floats, read back.
 */
async function runHead(
  gpu: WebGpuContext, mdn: MDN, context: ArrayInput, n: number, entryPoint: string, y: ArrayInput | null, outFloats: number, seed: bigint,
): Promise<Float32Array> {
  checkRows(n);
  const rows = contextRows(mdn, context, n);
  const { device } = gpu;
  const pool = bufferPool(device);
  const spec = mdnConditionerSpec(mdn);
  const params = checkParams(mdn);
  const paramBuf = pool.acquire(4 * params.length, storage());
  const ctxBuf = pool.acquire(4 * rows * mdn.contextDim, storage());
  const yBuf = y ? pool.acquire(4 * n * mdn.dim, storage()) : null;
  const dst = pool.acquire(4 * outFloats, storage());
  const layers = acquireMlpLayers(device, spec, rows);
  const staging = pool.acquire(4 * outFloats, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const rec = new PassRecorder(gpu);
  try {
    upload(device.queue, paramBuf, params);
    writeInput(gpu, ctxBuf, context, 'context');
    if (y && yBuf) writeInput(gpu, yBuf, y, 'y');
    recordMlpForward(rec, spec, paramBuf, 0, ctxBuf, layers, rows);
    const out = layers[layers.length - 1]!;
    const outStride = rows === 1 ? 0 : mdn.components * mdn.componentWidth;
    const bindings: Record<number, GPUBuffer> = { 1: out, 3: dst };
    if (yBuf) bindings[2] = yBuf;
    rec.dispatch(mdnKey(entryPoint), mdnUniforms(mdn, n, outStride, seed), bindings, groups1d(n));
    rec.copyAfterPass(dst, 0, staging, 0, 4 * outFloats);
    await submitChecked(device, 'MDN', () => rec.submit());
    return await readStaging(staging, outFloats);
  } finally {
    rec.release();
    pool.release(paramBuf, ctxBuf, dst, staging, ...layers, ...(yBuf ? [yBuf] : []));
  }
}

/** log q(y | c) [n] of z-scored y [n, D] given the context [C] (all rows) or [n, C] (MDN.logProb), f32. */
export async function mdnLogProbWebGpu(gpu: WebGpuContext, mdn: MDN, y: ArrayInput, context: ArrayInput): Promise<Float32Array> {
  const length = inputLength(y, 'y', 'webgpu');
  const n = length / mdn.dim;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Expected \`y\` to hold a positive multiple of ${mdn.dim} values ([N, ${mdn.dim}]) but received ${length}`);
  return runHead(gpu, mdn, context, n, 'mdn_log_prob', y, n, 0n);
}

/** n draws y ~ q(y | c) [n, D] (MDN.sample): row i from Philox stream i of `seed`, the CPU's words in the CPU's order. */
export async function mdnSampleWebGpu(gpu: WebGpuContext, mdn: MDN, context: ArrayInput, n: number, seed: number | bigint): Promise<Float32Array> {
  const key = BigInt(checkSeed(seed, 'seed'));
  checkRows(n);
  return runHead(gpu, mdn, context, n, 'mdn_sample', null, n * mdn.dim, key);
}
