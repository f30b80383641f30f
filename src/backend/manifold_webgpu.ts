/// <reference types="@webgpu/types" />
/**
 * The flows on the torus Tᴰ and the spheres Sᴰ (src/manifold/flow.ts `ManifoldFlow`) on the
 * WebGPU device: log q of given points (op manifold.flow_log_prob) and draws with their log q
 * (op manifold.flow_sample), mirroring kernels/manifold/flow.h in f32
 * (kernels/manifold/manifold_flow.wgsl for the elementwise steps, kernels/nn/dense.wgsl for the
 * conditioners' tanh MLPs). The layers come from the native shape (`ManifoldFlow.layout()`), so
 * the layout is defined once, in flow.h. Training: manifold_train_webgpu.ts.
 *
 * One command buffer per chunk of up to 65 536 rows: the parameters, the state and every layer's
 * MLP activations stay on the device; only the points and log q come back. Row i of a draw takes
 * Philox blocks i·coords on of (seed, stream), the CPU's words (flow_base_draw), so the points
 * agree with the CPU's within f32 rounding for the same seed.
 */
import type { ManifoldFlow, ManifoldFlowLayerLayout, ManifoldFlowLayout } from '../manifold/flow.js';
import { SbiError } from '../errors.js';
import { checkSeed, describe } from '../validate.js';
import { PassRecorder, acquireMlpLayers, groups1d, recordMlpForward, storage, upload, words, type MlpSpec } from './nn_webgpu.js';
import { submitAndRead } from './read_back.js';
import { bufferPool, u64Words, type PipelineKey, type WebGpuContext } from './webgpu.js';

const ELT = 64;
/** Rows per command buffer (default): bounds the MLP activations (rows × hidden floats) and one dispatch. */
const CHUNK_ROWS = 1 << 16;

export interface ManifoldWebGpuOptions {
  /**
   * Rows per command buffer, at most 65 536 (the default). Never changes a result: row i always
   * takes the blocks i·coords on.
   */
  chunkRows?: number;
}

function chunkRowsOf(options: ManifoldWebGpuOptions): number {
  const c = options.chunkRows ?? CHUNK_ROWS;
  if (!Number.isSafeInteger(c) || c < 1 || c > CHUNK_ROWS) throw new RangeError(`Expected an integer in [1, ${CHUNK_ROWS}] for \`chunkRows\` but received ${describe(c)}`);
  return c;
}
/** The widest ambient point the kernel holds per row (array<f32, 17>: S¹⁶ ⊂ ℝ¹⁷). */
const MAX_WIDTH = 17;
const CIRCLE_KIND = { spline: 0, moebius: 1, ncp: 2 } as const;

const key = (entryPoint: string): PipelineKey => ({ file: 'manifold/manifold_flow.wgsl', entryPoint, constants: { workgroup_size: ELT } });

/** Why this flow cannot run on the device, or true. Every shape flow.h builds runs today. */
export function manifoldFlowWebGpuSupport(flow: ManifoldFlow): true | { reason: string } {
  if (flow.outputWidth > MAX_WIDTH) return { reason: `a ${flow.spec.space} of dimension ${flow.spec.dim} has more than ${MAX_WIDTH} coordinates per point` };
  return true;
}

function checkSupported(flow: ManifoldFlow, op: string): void {
  const s = manifoldFlowWebGpuSupport(flow);
  if (s !== true) throw new SbiError(`${op} is not supported on the webgpu backend for this flow: ${s.reason}`, 'UNSUPPORTED_OP');
}

/** Four-bit state indices packed into two words. */
function nibbles(indices: readonly number[]): [number, number] {
  const w = [0, 0];
  indices.forEach((v, i) => { w[i >> 3]! |= v << (4 * (i & 7)); });
  return [w[0]! >>> 0, w[1]! >>> 0];
}

export interface MfUniforms {
  n: number;
  layer?: ManifoldFlowLayerLayout;
  epBase?: number;
  epStride?: number;
  mode?: number;
  seed?: bigint;
  stream?: bigint;
  firstRow?: number;
  /** Training (manifold_train_webgpu.ts): the target's TargetKind and a row's loss weight. */
  target?: number;
  lossScale?: number;
}

/** MfParams of manifold_flow.wgsl. */
export function mfUniforms(L: ManifoldFlowLayout, width: number, u: MfUniforms): Uint32Array<ArrayBuffer> {
  const f = u.layer;
  const featWidth = f ? f.cond.reduce((s, c) => s + (L.isAngle[c] ? 2 : 1), 0) : 0;
  const angleMask = L.isAngle.reduce((m, a, i) => (a ? m | (1 << i) : m), 0);
  const [a0, a1] = nibbles(f?.active ?? []);
  const [c0, c1] = nibbles(f?.cond ?? []);
  const [k0, k1] = u64Words(u.seed ?? 0n);
  const [s0, s1] = u64Words(u.stream ?? 0n);
  return words([
    u.n, L.coords, L.dim, L.space === 'sphere' ? 1 : 0,
    f?.active.length ?? 0, f?.cond.length ?? 0, featWidth, f?.interval ? 1 : 0,
    a0, a1, c0, c1,
    angleMask, CIRCLE_KIND[L.circleKind], L.bins, L.components,
    f?.perElement ?? 0, u.epBase ?? 0, u.epStride ?? 0, u.mode ?? 0,
    L.minBinWidth, L.minBinHeight, L.minDerivative, L.minAlpha,
    k0!, k1!, s0!, s1!,
    u.firstRow ?? 0, L.baseLogDensity, width, u.target ?? 0,
    u.lossScale ?? 0, 0, 0, 0,
  ], new Set([20, 21, 22, 23, 29, 32]));
}

/** The buffers of one flow call over chunks of up to `rows` rows; released together. */
class ManifoldDeviceState {
  readonly pool;
  readonly layout: ManifoldFlowLayout;
  readonly params: GPUBuffer;
  readonly state: GPUBuffer;
  readonly acc: GPUBuffer;
  readonly io: GPUBuffer;
  readonly feat: GPUBuffer;
  readonly mlp: GPUBuffer[];
  readonly width: number;
  constructor(readonly gpu: WebGpuContext, readonly flow: ManifoldFlow, readonly rows: number) {
    this.pool = bufferPool(gpu.device);
    this.layout = flow.layout();
    this.width = flow.outputWidth;
    const params = Float32Array.from(flow.params);
    this.params = this.pool.acquire(4 * Math.max(1, params.length), storage());
    upload(gpu.device.queue, this.params, params);
    this.state = this.pool.acquire(4 * rows * this.layout.coords, storage());
    this.acc = this.pool.acquire(4 * rows, storage());
    this.io = this.pool.acquire(4 * rows * this.width, storage());
    // Every conditioner has the same hidden widths: one set of layer buffers, sized for the widest input and output.
    const widest = this.layout.layers.filter((l) => l.sizes.length > 0).reduce<number[]>(
      (m, l) => (m.length === 0 ? [...l.sizes] : m.map((v, i) => Math.max(v, l.sizes[i]!))), []);
    this.feat = this.pool.acquire(4 * rows * Math.max(1, widest[0] ?? 1), storage());
    this.mlp = widest.length > 0 ? acquireMlpLayers(gpu.device, { sizes: widest, activation: 'tanh' }, rows) : [];
  }

  uniforms(u: MfUniforms): Uint32Array<ArrayBuffer> {
    return mfUniforms(this.layout, this.width, u);
  }

  /** Layer l's element parameters for n rows: the MLP of its features, or its constants. */
  recordLayer(rec: PassRecorder, l: number, n: number, entryPoint: 'mf_forward' | 'mf_inverse'): void {
    const f = this.layout.layers[l]!;
    const g = groups1d(n);
    let ep = this.params, epBase = f.paramOffset, epStride = 0;
    if (f.sizes.length > 0) {
      rec.dispatch(key('mf_features'), this.uniforms({ n, layer: f }), { 1: this.state, 4: this.feat }, g);
      const spec: MlpSpec = { sizes: f.sizes, activation: 'tanh' };
      recordMlpForward(rec, spec, this.params, f.paramOffset, this.feat, this.mlp, n);
      [ep, epBase, epStride] = [this.mlp[this.mlp.length - 1]!, 0, f.active.length * f.perElement];
    }
    rec.dispatch(key(entryPoint), this.uniforms({ n, layer: f, epBase, epStride }), { 1: this.state, 2: this.acc, 3: ep }, g);
  }

  /** Submits `rec` with copies of the first `floats` of each buffer, and reads them back. */
  read(rec: PassRecorder, reads: Array<[GPUBuffer, number]>): Promise<Float32Array[]> {
    return submitAndRead(this.gpu, 'manifold flow', rec, reads);
  }

  release(): void {
    this.pool.release(this.params, this.state, this.acc, this.io, this.feat, ...this.mlp);
  }
}

async function withState<R>(gpu: WebGpuContext, flow: ManifoldFlow, rows: number, f: (s: ManifoldDeviceState) => Promise<R>): Promise<R> {
  const s = new ManifoldDeviceState(gpu, flow, rows);
  try {
    return await f(s);
  } finally {
    s.release();
  }
}

/**
 * Checks points [N, W] as the native manifoldFlowLogProb does: whole rows, finite, and on Sᴰ
 * norms in [0.5, 2] (the kernel normalises them). Returns N.
 */
function checkPoints(flow: ManifoldFlow, x: unknown): number {
  const W = flow.outputWidth;
  if (!(x instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`x\` but received ${describe(x)}`);
  if (x.length % W !== 0) throw new RangeError(`Expected \`x\` to hold rows of ${W} values but it has ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new RangeError(`Expected finite values in \`x\` but \`x[${i}]\` is ${x[i]}`);
  }
  if (flow.spec.space === 'sphere') {
    for (let r = 0; r < x.length / W; r++) {
      let n2 = 0;
      for (let d = 0; d < W; d++) n2 += x[r * W + d]! ** 2;
      const norm = Math.sqrt(n2);
      if (!(norm >= 0.5 && norm <= 2)) throw new RangeError(`Expected unit vectors in \`x\` but row ${r} has norm ${norm}`);
    }
  }
  return x.length / W;
}

/** log q [N] of points x [N, W] (angles, or unit vectors in ℝ^{D+1}) under `flow`, f32 on the device. */
export async function manifoldFlowLogProbWebGpu(gpu: WebGpuContext, flow: ManifoldFlow, x: Float64Array, options: ManifoldWebGpuOptions = {}): Promise<Float64Array> {
  checkSupported(flow, 'manifold.flow_log_prob');
  const n = checkPoints(flow, x);
  const chunk = chunkRowsOf(options);
  const W = flow.outputWidth;
  const logProb = new Float64Array(n);
  if (n === 0) return logProb; // as the native path: no rows, no log q
  await withState(gpu, flow, Math.min(n, chunk), async (s) => {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      upload(gpu.device.queue, s.io, Float32Array.from(x.subarray(start * W, (start + rows) * W)));
      const rec = new PassRecorder(gpu);
      const g = groups1d(rows);
      rec.dispatch(key('mf_points'), s.uniforms({ n: rows }), { 1: s.state, 2: s.acc, 4: s.io }, g);
      for (let l = s.layout.layers.length - 1; l >= 0; l--) s.recordLayer(rec, l, rows, 'mf_inverse');
      rec.dispatch(key('mf_finish'), s.uniforms({ n: rows, mode: 1 }), { 1: s.state, 2: s.acc, 4: s.io }, g);
      const [lq] = await s.read(rec, [[s.acc, rows]]);
      logProb.set(lq!, start);
    }
  });
  return logProb;
}

/**
 * n draws [n, W] from `flow` and their log q, f32 on the device: row i from Philox blocks i·coords
 * on of (seed, stream), as ManifoldFlow.sample on the CPU.
 */
export async function manifoldFlowSampleWebGpu(
  gpu: WebGpuContext, flow: ManifoldFlow, n: number, seed: number | bigint, stream: number | bigint = 0, options: ManifoldWebGpuOptions = {},
): Promise<{ x: Float64Array; logProb: Float64Array }> {
  checkSupported(flow, 'manifold.flow_sample');
  const chunk = chunkRowsOf(options);
  const key64 = BigInt(checkSeed(seed, 'seed'));
  const stream64 = BigInt(checkSeed(stream, 'stream'));
  const coords = flow.coords;
  if (!Number.isSafeInteger(n) || n < 1 || n * coords >= 2 ** 32) {
    throw new RangeError(`Expected a positive integer below ${Math.floor(2 ** 32 / coords)} for \`n\` (Philox blocks are 32-bit on the device) but received ${describe(n)}`);
  }
  const W = flow.outputWidth;
  const x = new Float64Array(n * W);
  const logProb = new Float64Array(n);
  await withState(gpu, flow, Math.min(n, chunk), async (s) => {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const rec = new PassRecorder(gpu);
      const g = groups1d(rows);
      rec.dispatch(key('mf_base'), s.uniforms({ n: rows, seed: key64, stream: stream64, firstRow: start }), { 1: s.state, 2: s.acc }, g);
      for (let l = 0; l < s.layout.layers.length; l++) s.recordLayer(rec, l, rows, 'mf_forward');
      rec.dispatch(key('mf_finish'), s.uniforms({ n: rows, mode: 0 }), { 1: s.state, 2: s.acc, 4: s.io }, g);
      const [points, lq] = await s.read(rec, [[s.io, rows * W], [s.acc, rows]]);
      x.set(points!, start * W);
      logProb.set(lq!, start);
    }
  });
  return { x, logProb };
}
