/// <reference types="@webgpu/types" />
/**
 * MLPs on the WebGPU device (kernels/nn/dense.wgsl, mirroring kernels/nn/dense.h, loss.h,
 * adam.h and mlp.h): evaluation, gradients and Adam training steps with the parameters, Adam's
 * moments and every activation resident on the device. A training step is one command buffer
 * (forward, loss, backward, Adam); only the loss terms come back, once per call.
 *
 * The parameter layout is kernels/nn/mlp.h's (per layer W [out, in] then b [out]), so parameters
 * move between this and the CPU kernels unchanged. f32 throughout; agreement with the CPU's float
 * kernels is to f32 rounding of the sums (the K-sums run in tile order). See docs/backends.md.
 */
import type { NnActivation, NnAdamOptions } from '../native.js';
import { mlpParamCount } from '../inference/embedding.js';
import { inputLength, writeInput, type ArrayInput } from './device_array.js';
import { bufferPool, computePipeline, readStaging, submitChecked, type PipelineKey, type WebGpuContext } from './webgpu.js';

export interface MlpSpec {
  /** Layer widths [L + 1]: input, hidden…, output. */
  sizes: readonly number[];
  /** After every hidden layer; the last layer is linear. */
  activation: NnActivation;
}

export type MlpLoss = 'bce' | 'mse';

export interface MlpTrainOptions {
  loss: MlpLoss;
  adam: NnAdamOptions;
  /**
   * scikit-learn's L2 penalty alpha on the weights only (not the biases): each step's loss gains
   * (alpha / 2n) ‖W‖² and its gradient (alpha / n) W, n the batch's rows. Default 0.
   */
  l2?: number;
  /** Add Adam's ε after the bias correction of v, as scikit-learn does (adam.h adds it before). */
  epsilonAfterCorrection?: boolean;
}

/** One training batch: x [n, sizes[0]], target [n, sizes[L]]. */
export interface MlpBatch {
  x: Float32Array;
  target: Float32Array;
}

const ACTIVATION_CODE: Record<NnActivation, number> = { identity: 0, relu: 1, tanh: 2, elu: 3, silu: 4 };
const TILE = 16;
const ELT = 64;
const FILE = 'nn/dense.wgsl' as const;
const MAX_GROUPS = 65535;

function checkSpec(spec: MlpSpec): void {
  const { sizes, activation } = spec;
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isSafeInteger(s) && s >= 1 && s <= 1 << 16)) {
    throw new RangeError(`Expected at least two layer widths, integers in [1, 65536], for \`sizes\` but received ${JSON.stringify(sizes)}`);
  }
  if (!(activation in ACTIVATION_CODE)) {
    throw new RangeError(`Expected one of ${Object.keys(ACTIVATION_CODE).join(', ')} for \`activation\` but received ${JSON.stringify(activation)}`);
  }
}

function checkArray(a: unknown, name: string, length: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  if (a.length !== length) throw new RangeError(`Expected ${length} elements in \`${name}\` but received ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`\`${name}\` must be finite; element ${i} is ${a[i]}`);
  }
}

/** Uniform words: u32 fields as given, `floats` positions as f32 bit patterns. */
export function words(values: number[], floats: ReadonlySet<number> = new Set()): Uint32Array<ArrayBuffer> {
  const w = new Uint32Array(values.length);
  const f = new Float32Array(w.buffer);
  values.forEach((v, i) => {
    if (floats.has(i)) f[i] = v;
    else w[i] = v;
  });
  return w;
}

/** Records dispatches into one compute pass; uniform buffers come from the pool and go back after the submit. */
export class PassRecorder {
  private readonly uniforms: GPUBuffer[] = [];
  private readonly copies: [GPUBuffer, number, GPUBuffer, number, number][] = [];
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null;
  constructor(private readonly ctx: WebGpuContext) {
    this.encoder = ctx.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass();
  }

  dispatch(key: PipelineKey, uniform: Uint32Array<ArrayBuffer>, bindings: Record<number, GPUBuffer>, groups: [number, number]): void {
    const { device } = this.ctx;
    const pipeline = computePipeline(device, key);
    const u = bufferPool(device).acquire(uniform.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(u, 0, uniform);
    this.uniforms.push(u);
    const entries = [{ binding: 0, resource: { buffer: u } }];
    for (const [b, buffer] of Object.entries(bindings)) entries.push({ binding: Number(b), resource: { buffer } });
    this.pass!.setPipeline(pipeline);
    this.pass!.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    this.pass!.dispatchWorkgroups(groups[0], groups[1]);
  }

  /** A buffer copy recorded after the pass, in the same command buffer. */
  copyAfterPass(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.copies.push([src, srcOffset, dst, dstOffset, bytes]);
  }

  /** Ends the pass, records the copies and submits. */
  submit(): void {
    this.pass!.end();
    this.pass = null;
    for (const [src, so, dst, d, bytes] of this.copies.splice(0)) this.encoder.copyBufferToBuffer(src, so, dst, d, bytes);
    this.ctx.device.queue.submit([this.encoder.finish()]);
  }

  /** Returns the uniform buffers to the pool (after the submitted work has completed). */
  release(): void {
    bufferPool(this.ctx.device).release(...this.uniforms.splice(0));
  }
}

export function groups1d(count: number): [number, number] {
  const g = Math.ceil(count / ELT);
  if (g > MAX_GROUPS) throw new RangeError(`A WebGPU dispatch of ${count} elements exceeds ${MAX_GROUPS * ELT}`);
  return [g, 1];
}

function gemmGroups(m: number, n: number): [number, number] {
  const gx = Math.ceil(n / TILE), gy = Math.ceil(m / TILE);
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new RangeError(`A WebGPU matrix product of ${m} × ${n} exceeds ${MAX_GROUPS * TILE} rows or columns`);
  return [gx, gy];
}

interface GemmArgs {
  m: number;
  n: number;
  k: number;
  a: GPUBuffer;
  aOff?: number;
  b: GPUBuffer;
  bOff?: number;
  c: GPUBuffer;
  cOff?: number;
  transA?: boolean;
  transB?: boolean;
  /** Fused bias (in b at biasOff) and activation; Z at preOff in c for silu. */
  epilogue?: { activation: NnActivation; biasOff: number; preOff: number };
}

function recordGemm(rec: PassRecorder, g: GemmArgs): void {
  const act = g.epilogue ? ACTIVATION_CODE[g.epilogue.activation] : 0;
  const key: PipelineKey = {
    file: FILE,
    entryPoint: 'gemm',
    constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, EPILOGUE: g.epilogue ? 1 : 0, ACTIVATION: act },
  };
  const u = words([g.m, g.n, g.k, g.aOff ?? 0, g.bOff ?? 0, g.cOff ?? 0, g.epilogue?.biasOff ?? 0, g.epilogue?.preOff ?? 0]);
  rec.dispatch(key, u, { 1: g.a, 2: g.b, 3: g.c }, gemmGroups(g.m, g.n));
}

interface EltArgs {
  count: number;
  rows?: number;
  yOff?: number;
  preOff?: number;
  outOff?: number;
  kind?: number;
  scale?: number;
}

function eltWords(e: EltArgs): Uint32Array<ArrayBuffer> {
  return words([e.count, e.rows ?? 0, e.yOff ?? 0, e.preOff ?? 0, e.outOff ?? 0, e.kind ?? 0, e.scale ?? 0, 0], new Set([6]));
}

const eltKey = (entryPoint: string, activation = 0): PipelineKey => ({
  file: FILE,
  entryPoint,
  constants: { workgroup_size: ELT, ACTIVATION: activation },
});

// A function: the GPUBufferUsage global exists only once the webgpu module has loaded.
export const storage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/**
 * Records an MLP's forward (mlp_forward): the parameters at element `paramOffset` of `params`
 * (mlp.h layout), rows [n, sizes[0]] in `input`, layer l's output in layers[l] ([n, sizes[l+1]],
 * followed by Z for silu's hidden layers). The last layer is linear.
 */
export function recordMlpForward(
  rec: PassRecorder, spec: MlpSpec, params: GPUBuffer, paramOffset: number, input: GPUBuffer, layers: readonly GPUBuffer[], n: number,
): void {
  const { sizes, activation } = spec;
  const count = sizes.length - 1;
  let pOff = paramOffset;
  let x = input;
  for (let l = 0; l < count; l++) {
    const fanIn = sizes[l]!, fanOut = sizes[l + 1]!;
    const hidden = l + 1 < count;
    recordGemm(rec, {
      m: n, n: fanOut, k: fanIn, a: x, b: params, bOff: pOff, c: layers[l]!, transB: true,
      epilogue: { activation: hidden ? activation : 'identity', biasOff: pOff + fanOut * fanIn, preOff: n * fanOut },
    });
    x = layers[l]!;
    pOff += fanOut * (fanIn + 1);
  }
}

/** Buffers for recordMlpForward's layer outputs over n rows (from the pool; release them after). */
export function acquireMlpLayers(device: GPUDevice, spec: MlpSpec, n: number): GPUBuffer[] {
  const count = spec.sizes.length - 1;
  const silu = spec.activation === 'silu';
  return spec.sizes.slice(1).map((w, l) => bufferPool(device).acquire(4 * n * w * (silu && l + 1 < count ? 2 : 1), storage()));
}

export interface MlpBackwardBuffers {
  /** The parameters (mlp.h layout) at element paramOffset; the gradients land at the same offset of `grads`. */
  params: GPUBuffer;
  paramOffset: number;
  /** The forward's input rows [n, sizes[0]] and layer outputs (recordMlpForward's). */
  input: GPUBuffer;
  layers: readonly GPUBuffer[];
  /** dL/d(output) [n, sizes[L]]. */
  dOut: GPUBuffer;
  grads: GPUBuffer;
  /** Two buffers of n · max(sizes) floats each. */
  scratch: readonly [GPUBuffer, GPUBuffer];
  /** When given, dL/d(input) [n, sizes[0]] (the backward of the first layer's input too). */
  dInput: GPUBuffer | null;
}

/**
 * Records mlp_backward: parameter gradients (summed over the n rows, overwritten) of Σ dOut ⊙
 * output, and dL/d(input) when `dInput` is given.
 */
export function recordMlpBackward(rec: PassRecorder, spec: MlpSpec, b: MlpBackwardBuffers, n: number): void {
  const { sizes, activation } = spec;
  const count = sizes.length - 1;
  const [s0, s1] = b.scratch;
  let pOff = b.paramOffset + mlpParamCount(sizes);
  let dy = b.dOut; // dL/d(output) first; then dX of the layer above, in s0 or s1
  for (let l = count - 1; l >= 0; l--) {
    const fanIn = sizes[l]!, fanOut = sizes[l + 1]!;
    const hidden = l + 1 < count;
    pOff -= fanOut * (fanIn + 1);
    let dz = dy;
    if (hidden && activation !== 'identity') {
      rec.dispatch(eltKey('activation_backward', ACTIVATION_CODE[activation]), eltWords({ count: n * fanOut, yOff: 0, preOff: n * fanOut }),
        { 1: b.layers[l]!, 2: dy, 3: s1 }, groups1d(n * fanOut));
      dz = s1;
    }
    const input = l > 0 ? b.layers[l - 1]! : b.input;
    rec.dispatch(eltKey('column_sums'), eltWords({ count: fanOut, rows: n, outOff: pOff + fanOut * fanIn }), { 1: dz, 3: b.grads }, groups1d(fanOut));
    recordGemm(rec, { m: fanOut, n: fanIn, k: n, a: dz, b: input, c: b.grads, cOff: pOff, transA: true });
    const dx = l > 0 ? (dz === s0 ? s1 : s0) : b.dInput; // dX must not land in the buffer dZ is read from
    if (dx) {
      recordGemm(rec, { m: n, n: fanIn, k: fanOut, a: dz, b: b.params, bOff: pOff, c: dx });
      dy = dx;
    }
  }
}

/** Options of one recorded Adam step (kernels/nn/adam.h), checked by the caller. */
export interface AdamStepArgs {
  count: number;
  step: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/**
 * Records adam_step number `step` over `count` parameters: the bias corrections in double on the
 * host, rounded to f32 as adam.h rounds them to T. moments: m [count] then v [count].
 */
export function recordAdamStep(rec: PassRecorder, a: AdamStepArgs, grads: GPUBuffer, params: GPUBuffer, moments: GPUBuffer): void {
  const bias1 = 1 - a.beta1 ** a.step;
  const bias2Sqrt = Math.sqrt(1 - a.beta2 ** a.step);
  const u = words([a.count, a.decoupled ? 1 : 0, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, a.lr / bias1, bias2Sqrt, 0, 0, 0], new Set([2, 3, 4, 5, 6, 7, 8]));
  rec.dispatch(eltKey('adam'), u, { 1: grads, 2: params, 3: moments }, groups1d(a.count));
}

/** Records elementwise `entryPoint` of dense.wgsl (mask_multiply, clip_by_norm, sum_squares, column_sums over `rows`…) over `count` elements. */
export function recordElementwise(
  rec: PassRecorder, entryPoint: string, args: { count: number; rows?: number; scale?: number; yOff?: number; outOff?: number }, a: GPUBuffer, out: GPUBuffer,
): void {
  const single = entryPoint === 'sum_squares'; // one workgroup reduces everything
  rec.dispatch(eltKey(entryPoint), eltWords(args), { 1: a, 3: out }, single ? [1, 1] : groups1d(args.count));
}

/**
 * An MLP whose parameters, gradients, Adam moments and activations live on the WebGPU device.
 * Create with `WebGpuMlp.create`; call `destroy()` when done (the buffers go back to the pool).
 */
export class WebGpuMlp {
  readonly paramCount: number;
  private readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly moments: GPUBuffer;
  private adamStep = 0;
  /** Buffers sized for `rows` rows; regrown when a larger batch comes. */
  private rows = 0;
  private work: { x: GPUBuffer; layers: GPUBuffer[]; dy: GPUBuffer; dz: GPUBuffer; loss: GPUBuffer } | null = null;
  private destroyed = false;

  private constructor(private readonly ctx: WebGpuContext, readonly spec: MlpSpec, params: Float32Array) {
    this.paramCount = params.length;
    const pool = bufferPool(ctx.device);
    this.params = pool.acquire(4 * params.length, storage());
    upload(ctx.device.queue, this.params, params);
    this.grads = pool.acquire(4 * params.length, storage());
    this.moments = pool.acquire(8 * params.length, storage());
    ctx.device.queue.writeBuffer(this.moments, 0, new Float32Array(2 * params.length));
  }

  /** Uploads `params` (mlp.h layout, mlpParamCount(spec.sizes) values); Adam starts from zero moments. */
  static create(ctx: WebGpuContext, spec: MlpSpec, params: Float32Array): WebGpuMlp {
    checkSpec(spec);
    checkArray(params, 'params', mlpParamCount(spec.sizes));
    return new WebGpuMlp(ctx, { sizes: [...spec.sizes], activation: spec.activation }, params);
  }

  private get layers(): number {
    return this.spec.sizes.length - 1;
  }

  private checkAlive(): void {
    if (this.destroyed) throw new Error('This WebGpuMlp was destroyed');
  }

  private ensureRows(n: number): NonNullable<WebGpuMlp['work']> {
    if (this.work && n <= this.rows) return this.work;
    this.releaseWork();
    const { sizes } = this.spec;
    const pool = bufferPool(this.ctx.device);
    const maxWidth = Math.max(...sizes);
    const out = sizes[this.layers]!;
    this.work = {
      x: pool.acquire(4 * n * sizes[0]!, storage()),
      layers: acquireMlpLayers(this.ctx.device, this.spec, n),
      dy: pool.acquire(4 * n * maxWidth, storage()),
      dz: pool.acquire(4 * n * maxWidth, storage()),
      loss: pool.acquire(8 * n * out, storage()),
    };
    this.rows = n;
    return this.work;
  }

  private releaseWork(): void {
    if (!this.work) return;
    const w = this.work;
    bufferPool(this.ctx.device).release(w.x, ...w.layers, w.dy, w.dz, w.loss);
    this.work = null;
    this.rows = 0;
  }

  private recordForward(rec: PassRecorder, n: number): void {
    recordMlpForward(rec, this.spec, this.params, 0, this.work!.x, this.work!.layers, n);
  }

  /** Gradients into `grads` from dOut held in w.loss[0 .. n·out) (mlp_backward's order). */
  private recordBackward(rec: PassRecorder, n: number): void {
    const w = this.work!;
    recordMlpBackward(rec, this.spec, {
      params: this.params, paramOffset: 0, input: w.x, layers: w.layers, dOut: w.loss, grads: this.grads, scratch: [w.dy, w.dz], dInput: null,
    }, n);
  }

  private async read(buffer: GPUBuffer, floats: number, before?: PassRecorder): Promise<Float32Array> {
    const { device } = this.ctx;
    const pool = bufferPool(device);
    const staging = pool.acquire(4 * floats, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const rec = before ?? new PassRecorder(this.ctx);
    try {
      rec.copyAfterPass(buffer, 0, staging, 0, 4 * floats);
      await submitChecked(device, 'MLP', () => rec.submit());
      return await readStaging(staging, floats);
    } finally {
      rec.release();
      pool.release(staging);
    }
  }

  /** The network's output [n, sizes[L]] for x [n, sizes[0]]. */
  async forward(x: ArrayInput, n: number): Promise<Float32Array> {
    this.checkAlive();
    checkRows(n);
    checkInputLength(x, 'x', n * this.spec.sizes[0]!);
    const w = this.ensureRows(n);
    writeInput(this.ctx, w.x, x, 'x');
    const rec = new PassRecorder(this.ctx);
    this.recordForward(rec, n);
    return this.read(w.layers[this.layers - 1]!, n * this.spec.sizes[this.layers]!, rec);
  }

  /** Parameter gradients (summed over the batch, mlp_backward's) of Σ dout ⊙ output at x. */
  async gradients(x: ArrayInput, dout: ArrayInput, n: number): Promise<Float32Array> {
    this.checkAlive();
    checkRows(n);
    checkInputLength(x, 'x', n * this.spec.sizes[0]!);
    checkInputLength(dout, 'dout', n * this.spec.sizes[this.layers]!);
    const w = this.ensureRows(n);
    writeInput(this.ctx, w.x, x, 'x');
    writeInput(this.ctx, w.loss, dout, 'dout');
    const rec = new PassRecorder(this.ctx);
    this.recordForward(rec, n);
    this.recordBackward(rec, n);
    return this.read(this.grads, this.paramCount, rec);
  }

  /**
   * One Adam step per batch (forward, loss with torch's mean reduction, backward, adam_step), all
   * on the device; returns each step's loss (the terms summed in double on the host).
   */
  async train(batches: readonly MlpBatch[], options: MlpTrainOptions): Promise<Float64Array> {
    this.checkAlive();
    const { loss, adam } = options;
    const l2 = options.l2 ?? 0;
    if (!(l2 >= 0) || !Number.isFinite(l2)) throw new RangeError(`Expected a non-negative finite number for \`l2\` but received ${l2}`);
    if (loss !== 'bce' && loss !== 'mse') throw new RangeError(`Expected "bce" or "mse" for \`loss\` but received ${JSON.stringify(loss)}`);
    const lr = adam?.lr;
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`Expected a positive finite number for \`adam.lr\` but received ${lr}`);
    const beta1 = adam.beta1 ?? 0.9, beta2 = adam.beta2 ?? 0.999, eps = adam.eps ?? 1e-8, wd = adam.weightDecay ?? 0;
    for (const [name, v] of [['beta1', beta1], ['beta2', beta2]] as const) {
      if (!(v >= 0 && v < 1)) throw new RangeError(`Expected a number in [0, 1) for \`adam.${name}\` but received ${v}`);
    }
    if (!(eps > 0) || !(wd >= 0)) throw new RangeError(`Expected eps > 0 and weightDecay ≥ 0 but received ${eps} and ${wd}`);
    const { sizes } = this.spec;
    const inDim = sizes[0]!, outDim = sizes[this.layers]!;
    const rowsOf = batches.map((b, i) => {
      const n = b?.x instanceof Float32Array ? b.x.length / inDim : NaN;
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Expected batches[${i}].x to be a Float32Array of whole rows of ${inDim}`);
      checkArray(b.x, `batches[${i}].x`, n * inDim);
      checkArray(b.target, `batches[${i}].target`, n * outDim);
      checkRows(n);
      return n;
    });
    if (batches.length === 0) return new Float64Array(0);
    const w = this.ensureRows(Math.max(...rowsOf));
    const { device } = this.ctx;
    const pool = bufferPool(device);
    const offsets = rowsOf.map((_, i) => rowsOf.slice(0, i).reduce((s, n) => s + n * outDim, 0));
    const totalTerms = rowsOf.reduce((s, n) => s + n * outDim, 0);
    // after the loss terms: each step's Σ W² per layer, when there is an L2 penalty
    const penaltyAt = totalTerms;
    const stagingFloats = totalTerms + (l2 > 0 ? batches.length * this.layers : 0);
    const staging = pool.acquire(4 * stagingFloats, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const squares = l2 > 0 ? pool.acquire(4 * this.layers, storage()) : null;
    const recorders: PassRecorder[] = [];
    try {
      await submitChecked(device, 'MLP training', () => batches.forEach((b, i) => {
        const n = rowsOf[i]!;
        // queue order: this batch's upload lands after the previous step's work
        upload(device.queue, w.x, b.x);
        upload(device.queue, w.dz, b.target); // the targets ride in dz until the loss has read them
        const rec = new PassRecorder(this.ctx);
        recorders.push(rec);
        this.recordForward(rec, n);
        const count = n * outDim;
        rec.dispatch(eltKey('loss_terms'), eltWords({ count, yOff: 0, kind: loss === 'bce' ? 0 : 1, scale: 1 / count }),
          { 1: w.layers[this.layers - 1]!, 2: w.dz, 3: w.loss }, groups1d(count));
        this.recordBackward(rec, n);
        if (squares) {
          // sklearn's penalty (alpha / 2n) ‖W‖² on the weights, from the parameters before this step
          let pOff = 0;
          for (let l = 0; l < this.layers; l++) {
            const nw = sizes[l + 1]! * sizes[l]!;
            rec.dispatch(eltKey('sum_squares'), eltWords({ count: nw, yOff: pOff, outOff: l }), { 1: this.params, 3: squares }, [1, 1]);
            rec.dispatch(eltKey('add_scaled'), eltWords({ count: nw, yOff: pOff, outOff: pOff, scale: l2 / n }), { 1: this.params, 3: this.grads }, groups1d(nw));
            pOff += nw + sizes[l + 1]!;
          }
          rec.copyAfterPass(squares, 0, staging, 4 * (penaltyAt + i * this.layers), 4 * this.layers);
        }
        const step = ++this.adamStep;
        // sklearn adds ε after the bias correction: ε / sqrt(1 − β2ᵗ) in adam.h's arrangement
        const epsStep = options.epsilonAfterCorrection ? eps / Math.sqrt(1 - beta2 ** step) : eps;
        recordAdamStep(rec, { count: this.paramCount, step, lr, beta1, beta2, eps: epsStep, weightDecay: wd, decoupled: adam.decoupled === true },
          this.grads, this.params, this.moments);
        rec.copyAfterPass(w.loss, 4 * count, staging, 4 * offsets[i]!, 4 * count);
        rec.submit();
      }));
      const terms = await readStaging(staging, stagingFloats);
      return Float64Array.from(rowsOf, (n, i) => {
        let s = 0;
        for (let e = 0; e < n * outDim; e++) s += terms[offsets[i]! + e]!;
        let penalty = 0;
        if (l2 > 0) for (let l = 0; l < this.layers; l++) penalty += terms[penaltyAt + i * this.layers + l]!;
        return s / (n * outDim) + (0.5 * l2 * penalty) / n;
      });
    } finally {
      for (const r of recorders) r.release();
      pool.release(staging, ...(squares ? [squares] : []));
    }
  }

  /** The current parameters (mlp.h layout). */
  async getParams(): Promise<Float32Array> {
    this.checkAlive();
    return this.read(this.params, this.paramCount);
  }

  /** Returns every device buffer to the pool. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releaseWork();
    bufferPool(this.ctx.device).release(this.params, this.grads, this.moments);
  }
}

/** Copies a typed array (any backing buffer) into `buffer` from byte 0. */
export function upload(queue: GPUQueue, buffer: GPUBuffer, a: Float32Array): void {
  queue.writeBuffer(buffer, 0, a as Float32Array<ArrayBuffer>);
}

/** An input of exactly `length` values (a Float32Array or a webgpu DeviceArray). */
export function checkInputLength(a: ArrayInput, name: string, length: number): void {
  const got = inputLength(a, name, 'webgpu');
  if (got !== length) throw new RangeError(`Expected ${length} elements in \`${name}\` but received ${got}`);
}

export function checkRows(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > 1 << 22) throw new RangeError(`Expected an integer in [1, 2^22] for \`n\` but received ${n}`);
}
