/// <reference types="@webgpu/types" />
/**
 * Conditional MAF density evaluation and sampling on the WebGPU device (kernels/flows/maf.wgsl
 * with the MADEs as kernels/nn/dense.wgsl MLPs), mirroring kernels/flows/maf.h's maf_log_prob
 * and maf_sample with the affine or the rational-quadratic spline element (MAF / NSF). One command buffer per call: the parameters, the
 * inputs and every layer's MADE outputs stay on the device; only log q (and the samples) come back.
 *
 * The MADE of layer k is the MLP [D + C, H × L, P·D] on the k-th slice of the parameters: made.h
 * keeps its masked weights exactly zero, so no mask is applied here. Sampling takes `passes`
 * network passes per layer (D for the autoregressive flow, 2 for a coupling flow).
 */
import type { MAF } from '../flows/maf.js';
import { checkSeed } from '../validate.js';
import {
  PassRecorder, acquireMlpLayers, checkRows, groups1d, recordMlpForward, storage, upload, words, type MlpSpec,
} from './nn_webgpu.js';
import { inputLength, writeInput, type ArrayInput } from './device_array.js';
import { submitAndRead } from './read_back.js';
import { bufferPool, u64Words, type PipelineKey, type WebGpuContext } from './webgpu.js';

const ELT = 64;
const ELEMENT = { affine: 0, rqSpline: 1 } as const;

export interface MafUniforms {
  n: number;
  last?: number;
  d0?: number;
  d1?: number;
  seed?: bigint;
  firstRow?: number;
  /** Training: the loss's scale (1 / batch rows). */
  gradScale?: number;
}

/** MafParams of kernels/flows/maf.wgsl for `maf` with context row stride `stride`. */
export function mafUniforms(maf: MAF, stride: number, u: MafUniforms): Uint32Array<ArrayBuffer> {
  const [k0, k1] = u64Words(u.seed ?? 0n);
  const t = maf.transform;
  const affine = t.kind === 'affine' ? t.scaleBound : 0;
  const [bins, bound, minW, minH, minD] = t.kind === 'rqSpline' ? [t.bins, t.bound, t.minBinWidth, t.minBinHeight, t.minDerivative] : [1, 1, 0, 0, 0];
  return words(
    [u.n, maf.dim, maf.contextDim, stride, u.last ?? 0, u.d0 ?? 0, u.d1 ?? 0, affine, k0!, k1!, u.firstRow ?? 0, bins, bound, minW, minH, minD, u.gradScale ?? 0, 0],
    new Set([7, 12, 13, 14, 15, 16]),
  );
}

/** The pipeline of maf.wgsl's `entryPoint` for `maf`'s element. */
export function mafKey(maf: MAF, entryPoint: string): PipelineKey {
  return { file: 'flows/maf.wgsl', entryPoint, constants: { workgroup_size: ELT, ELEMENT: ELEMENT[maf.transform.kind] } };
}

/** The MLP of each MADE: [D + C, H × L, P·D] (made.h's masked weights are stored zeros). */
export function madeSpec(maf: MAF): MlpSpec {
  return {
    sizes: [maf.dim + maf.contextDim, ...Array.from({ length: maf.hiddenLayers }, () => maf.hidden), maf.paramsPerDim * maf.dim],
    activation: maf.activation,
  };
}

/** Checks the context: one row [C] for every row, or [n, C]; returns its row stride. */
function contextStride(maf: MAF, x: ArrayInput | null, n: number): number {
  const C = maf.contextDim;
  if (C === 0) return 0;
  if (x === null || x === undefined) throw new TypeError(`Expected a Float32Array or DeviceArray for \`x\` (context of ${C} values) but received ${x === null ? 'null' : typeof x}`);
  const length = inputLength(x, 'x', 'webgpu');
  if (length === C) return 0;
  if (length === n * C) return C;
  throw new RangeError(`Expected ${C} or ${n * C} values in \`x\` (one context for all rows, or one per row) but received ${length}`);
}

function checkFinite(a: Float32Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`\`${name}\` must be finite; element ${i} is ${a[i]}`);
  }
}

/** Everything one MAF call needs on the device; released together. */
class MafDeviceState {
  readonly pool;
  readonly params: GPUBuffer;
  readonly ctx: GPUBuffer;
  readonly rowsA: GPUBuffer;
  readonly rowsB: GPUBuffer;
  readonly z: GPUBuffer;
  readonly logQ: GPUBuffer;
  readonly layers: GPUBuffer[];
  readonly spec: MlpSpec;
  readonly stride: number;
  constructor(readonly gpu: WebGpuContext, readonly maf: MAF, x: ArrayInput | null, readonly n: number) {
    const { device } = gpu;
    this.pool = bufferPool(device);
    this.spec = madeSpec(maf);
    this.stride = contextStride(maf, x, n);
    const params = maf.params instanceof Float32Array ? maf.params : Float32Array.from(maf.params);
    checkFinite(params, 'params');
    const W = maf.dim + maf.contextDim;
    this.params = this.pool.acquire(4 * params.length, storage());
    upload(device.queue, this.params, params);
    this.ctx = this.pool.acquire(4 * Math.max(1, this.stride === 0 ? maf.contextDim : n * maf.contextDim), storage());
    if (x && maf.contextDim > 0) writeInput(gpu, this.ctx, x, 'x');
    this.rowsA = this.pool.acquire(4 * n * W, storage());
    this.rowsB = this.pool.acquire(4 * n * W, storage());
    this.z = this.pool.acquire(4 * n * maf.dim, storage());
    this.logQ = this.pool.acquire(4 * n, storage());
    this.layers = acquireMlpLayers(device, this.spec, n);
  }

  key(entryPoint: string): PipelineKey {
    return mafKey(this.maf, entryPoint);
  }

  uniforms(u: MafUniforms): Uint32Array<ArrayBuffer> {
    return mafUniforms(this.maf, this.stride, u);
  }

  /** MADE k's outputs for the input rows `rows`, into the last MLP layer buffer. */
  recordMade(rec: PassRecorder, k: number, rows: GPUBuffer): GPUBuffer {
    const madeCount = this.maf.paramCount / this.maf.layers;
    recordMlpForward(rec, this.spec, this.params, k * madeCount, rows, this.layers, this.n);
    return this.layers[this.layers.length - 1]!;
  }

  /** Submits `rec` with copies of the first `floats` of each buffer, and reads them back. */
  read(rec: PassRecorder, reads: Array<[GPUBuffer, number]>): Promise<Float32Array[]> {
    return submitAndRead(this.gpu, 'MAF', rec, reads);
  }

  release(): void {
    this.pool.release(this.params, this.ctx, this.rowsA, this.rowsB, this.z, this.logQ, ...this.layers);
  }
}

async function withState<R>(gpu: WebGpuContext, maf: MAF, x: ArrayInput | null, n: number, f: (s: MafDeviceState) => Promise<R>): Promise<R> {
  checkRows(n);
  const s = new MafDeviceState(gpu, maf, x, n);
  try {
    return await f(s);
  } finally {
    s.release();
  }
}

/** log q(θ | x) [n] of θ [n, D] (maf_log_prob), f32. */
export async function mafLogProbWebGpu(gpu: WebGpuContext, maf: MAF, theta: ArrayInput, x: ArrayInput | null): Promise<Float32Array> {
  const length = inputLength(theta, 'theta', 'webgpu');
  const n = length / maf.dim;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Expected \`theta\` to hold whole rows of ${maf.dim} values but received ${length}`);
  return withState(gpu, maf, x, n, async (s) => {
    const rec = new PassRecorder(gpu);
    const theta32 = s.pool.acquire(4 * length, storage());
    try {
      writeInput(gpu, theta32, theta, 'theta');
      const g = groups1d(n);
      rec.dispatch(s.key('maf_fill'), s.uniforms({ n }), { 1: theta32, 2: s.ctx, 3: s.rowsA, 4: s.logQ }, g);
      // the second row buffer needs the context too: its variables are written layer by layer
      rec.dispatch(s.key('maf_zero_vars'), s.uniforms({ n }), { 2: s.ctx, 3: s.rowsB }, g);
      let [src, dst] = [s.rowsA, s.rowsB];
      for (let k = 0; k < maf.layers; k++) {
        const last = k + 1 === maf.layers;
        const made = s.recordMade(rec, k, src);
        rec.dispatch(s.key('maf_forward'), s.uniforms({ n, last: last ? 1 : 0 }), { 1: src, 2: made, 3: last ? s.z : dst, 4: s.logQ }, g);
        [src, dst] = [dst, src];
      }
      const [logQ] = await s.read(rec, [[s.logQ, n]]);
      return logQ!;
    } finally {
      s.pool.release(theta32);
    }
  });
}

/**
 * n draws θ ~ q(θ | x) [n, D] and their log q (maf_sample): row i's base normals from Philox
 * stream i of `seed`, the CPU's words.
 */
export async function mafSampleWebGpu(
  gpu: WebGpuContext, maf: MAF, x: ArrayInput | null, n: number, seed: number | bigint,
): Promise<{ theta: Float32Array; logProb: Float32Array }> {
  const key64 = BigInt(checkSeed(seed, 'seed'));
  if (n > 2 ** 32) throw new RangeError(`Expected at most 2^32 rows for \`n\` but received ${n}`);
  return withState(gpu, maf, x, n, async (s) => {
    const rec = new PassRecorder(gpu);
    const g = groups1d(n);
    rec.dispatch(s.key('maf_base'), s.uniforms({ n, seed: key64, firstRow: 0 }), { 3: s.z, 4: s.logQ }, g);
    for (let k = maf.layers - 1; k >= 0; k--) {
      rec.dispatch(s.key('maf_zero_vars'), s.uniforms({ n }), { 2: s.ctx, 3: s.rowsA }, g);
      for (let pass = 0; pass < maf.passes; pass++) {
        const d0 = Math.floor((pass * maf.dim + maf.passes - 1) / maf.passes);
        const d1 = Math.floor(((pass + 1) * maf.dim + maf.passes - 1) / maf.passes);
        if (d1 <= d0) continue;
        const made = s.recordMade(rec, k, s.rowsA);
        rec.dispatch(s.key('maf_inverse'), s.uniforms({ n, d0, d1 }), { 1: s.z, 2: made, 3: s.rowsA, 4: s.logQ }, g);
      }
      rec.dispatch(s.key('maf_take'), s.uniforms({ n, d0: k > 0 ? 1 : 0 }), { 1: s.rowsA, 3: s.z }, g);
    }
    const [theta, logProb] = await s.read(rec, [[s.z, n * maf.dim], [s.logQ, n]]);
    return { theta: theta!, logProb: logProb! };
  });
}
