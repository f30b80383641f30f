/// <reference types="@webgpu/types" />
/**
 * The lattice kernels on the WebGPU device, batched over configurations (ops lattice.phi4_action,
 * lattice.u1_action, lattice.phi4_flow_sample, lattice.u1_flow_sample, lattice.phi4_flow_log_prob,
 * lattice.u1_flow_log_prob): kernels/lattice/phi4.wgsl,
 * u1.wgsl, checkerboard_flow.wgsl and gauge_flow.wgsl with kernels/nn/conv2d_circular.wgsl,
 * mirroring phi4.h, u1.h, checkerboard_flow.h, gauge_flow.h (with circle.h's NCP mixture) and
 * conv2d_circular.h in f32. Each call runs in chunks of configurations, one command buffer per
 * chunk; only the results come back.
 */
import { SbiError } from '../errors.js';
import type { Phi4Flow } from '../lattice/flow.js';
import type { U1Flow } from '../lattice/u1_flow.js';
import { Phi4Action, type Phi4Coupling } from '../lattice/phi4.js';
import { U1Action, type U1Coupling } from '../lattice/u1.js';
import {
  checkConfigs, checkFlowSampleOptions, checkNotSymmetric, checkPhi4Flow, checkU1Flow, type LatticeFlowInverse, type U1FlowDraws, type LatticeFlowSampleOptions, type Phi4FlowDraws,
  type U1ActionValues,
} from './lattice_cpu.js';
import { PassRecorder, storage, upload, words } from './nn_webgpu.js';
import { submitAndRead } from './read_back.js';
import { bufferPool, u64Words, type PipelineKey, type WebGpuContext, type WgslFile } from './webgpu.js';

const WG = 64;
const MAX_GROUPS = 65535;
/** Device memory one chunk of a call may take (the flow's working buffers), besides the parameters. */
const CHUNK_BYTES = 64 * 1024 * 1024;

export const key = (file: WgslFile, entryPoint: string): PipelineKey => ({ file, entryPoint, constants: { workgroup_size: WG } });
export const configKey = (file: WgslFile, entryPoint: string): PipelineKey => ({ file, entryPoint, constants: {} });

/** Workgroups for `count` elements of WG invocations each, as a 2-D dispatch (rows of at most 65 535). */
export function groups2d(count: number): [number, number] {
  const g = Math.ceil(count / WG);
  return g <= MAX_GROUPS ? [g, 1] : [MAX_GROUPS, Math.ceil(g / MAX_GROUPS)];
}

/** Configurations per chunk: at most 65 535 (one workgroup each), `floatsPerConfig` floats of buffers in CHUNK_BYTES and one binding. */
function chunkSize(ctx: WebGpuContext, floatsPerConfig: number, largestBinding: number): number {
  const binding = Math.floor(ctx.device.limits.maxStorageBufferBindingSize / (4 * largestBinding));
  return Math.max(1, Math.min(MAX_GROUPS, Math.floor(CHUNK_BYTES / (4 * floatsPerConfig)), binding));
}

/** Runs a per-configuration kernel over [n, width] inputs in chunks: outputs of `outWidths` floats per configuration. */
async function runPerConfig(ctx: WebGpuContext, what: string, k: PipelineKey, values: Float64Array, width: number,
  uniforms: (n: number) => Uint32Array<ArrayBuffer>, outputs: Record<number, number>): Promise<Float64Array[]> {
  const n = values.length / width;
  const widths = Object.values(outputs);
  const chunk = chunkSize(ctx, width + widths.reduce((a, b) => a + b, 0), Math.max(width, ...widths));
  const results = widths.map((w) => new Float64Array(n * w));
  const pool = bufferPool(ctx.device);
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const input = pool.acquire(4 * rows * width, storage());
    const outs = widths.map((w) => pool.acquire(4 * rows * w, storage()));
    try {
      upload(ctx.device.queue, input, new Float32Array(values.subarray(start * width, (start + rows) * width)));
      const rec = new PassRecorder(ctx);
      const bindings: Record<number, GPUBuffer> = { 1: input };
      Object.keys(outputs).forEach((b, i) => { bindings[Number(b)] = outs[i]!; });
      rec.dispatch(k, uniforms(rows), bindings, [rows, 1]);
      const got = await submitAndRead(ctx, what, rec, outs.map((b, i) => [b, rows * widths[i]!] as [GPUBuffer, number]));
      got.forEach((g, i) => results[i]!.set(g, start * widths[i]!));
    } finally {
      pool.release(input, ...outs);
    }
  }
  return results;
}

const F32_MAX = 3.4028234663852886e38;

/** The kernels take f32: every value must be finite there (NaN and values beyond the f32 range are not). */
export function checkF32Finite(a: Float64Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]!) <= F32_MAX)) throw new RangeError(`Expected finite values within the f32 range in \`${name}\` but element ${i} is ${a[i]}`);
  }
}

/**
 * S(φ) [n] and ∂S/∂φ [n, V] of φ⁴ configurations φ [n, V] (phi4_action_grad of phi4.wgsl); φ,
 * m² and λ are rounded to f32.
 */
export async function phi4ActionWebGpu(ctx: WebGpuContext, coupling: Phi4Coupling, phi: Float64Array): Promise<{ action: Float64Array; grad: Float64Array }> {
  const target = new Phi4Action(coupling);
  checkConfigs(phi, target.sites, 'phi', `${target.sites} sites`);
  checkF32Finite(phi, 'phi');
  const [action, grad] = await runPerConfig(ctx, 'lattice.phi4_action', configKey('lattice/phi4.wgsl', 'phi4_action_grad'), phi, target.sites,
    (n) => words([n, target.L, target.m2, target.lambda], new Set([2, 3])), { 2: 1, 3: target.sites });
  return { action: action!, grad: grad! };
}

/**
 * S(θ) [n], ∂S/∂θ [n, 2V] and the topological charge Q [n] of U(1) configurations θ [n, 2V]
 * (u1_action_grad_charge of u1.wgsl); θ and β are rounded to f32.
 */
export async function u1ActionWebGpu(ctx: WebGpuContext, coupling: U1Coupling, theta: Float64Array): Promise<U1ActionValues> {
  const target = new U1Action(coupling);
  checkConfigs(theta, target.links, 'theta', `2·L·L = ${target.links} link angles`);
  checkF32Finite(theta, 'theta');
  const [action, grad, charge] = await runPerConfig(ctx, 'lattice.u1_action', configKey('lattice/u1.wgsl', 'u1_action_grad_charge'), theta, target.links,
    (n) => words([n, target.L, target.beta, 0], new Set([2])), { 2: 1, 3: target.links, 4: 1 });
  return { action: action!, grad: grad!, charge: charge!.map((q) => q + 0) };  // −0 → +0, as the CPU's Q
}

export const ACT = { none: 0, leakyRelu: 1, tanh: 2 } as const;
/** Output channels per invocation of conv2d_circular.wgsl (CONV_OUT_TILE). */
const CONV_OUT_TILE = 4;

/** A coupling net of conv_net_circular.h: its convs (channels, activation) and parameters per net. */
export interface ConvNet {
  K: number;
  convs: Array<{ cIn: number; cOut: number; act: number }>;
  params: number;
}

export function convNet(cIn: number, hidden: number, depth: number, cOut: number, K: number, outAct: number): ConvNet {
  const convs = [];
  for (let k = 0; k <= depth; k++) convs.push({ cIn: k === 0 ? cIn : hidden, cOut: k === depth ? cOut : hidden, act: k === depth ? outAct : ACT.leakyRelu });
  return { K, convs, params: convs.reduce((a, c) => a + c.cOut * c.cIn * K * K + c.cOut, 0) };
}

/**
 * Records one net (parameters from element `offset`): `input` → the hidden planes → `output`. Hidden
 * output k goes to hidden[k mod hidden.length]: two planes in turn, or one per hidden layer (a tape).
 */
export function recordConvNet(rec: PassRecorder, net: ConvNet, params: GPUBuffer, offset: number, rows: number, L: number,
  input: GPUBuffer, hidden: readonly GPUBuffer[], output: GPUBuffer): void {
  let src = input, off = offset;
  net.convs.forEach((c, k) => {
    const dst = k === net.convs.length - 1 ? output : hidden[k % hidden.length]!;
    rec.dispatch(key('nn/conv2d_circular.wgsl', 'conv2d_circular'), words([rows, L, c.cIn, c.cOut, net.K, c.act, off, 0]),
      { 1: params, 2: src, 3: dst }, groups2d(rows * Math.ceil(c.cOut / CONV_OUT_TILE) * L * L));
    off += c.cOut * c.cIn * net.K * net.K + c.cOut;
    src = dst;
  });
}

/** The uniform block of gauge_flow.wgsl (and the start of checkerboard_flow.wgsl's): n, L, layer, one more word, the seed and the first stream. */
export function flowUniforms(rows: number, L: number, layer: number, extra: number, seed: bigint, stream: bigint): Uint32Array<ArrayBuffer> {
  const [k0, k1] = u64Words(seed);
  const [s0, s1] = u64Words(stream & ((1n << 64n) - 1n));
  return words([rows, L, layer, extra, k0!, k1!, s0!, s1!]);
}

/** checkerboard_flow.wgsl's uniform block: flowUniforms with the pass's direction, then `reflect` (cbf_inverse_start). */
export function cbfUniforms(rows: number, L: number, layer: number, mode: { inverse?: boolean; reflect?: boolean }, seed: bigint, stream: bigint): Uint32Array<ArrayBuffer> {
  return Uint32Array.from([...flowUniforms(rows, L, layer, mode.inverse ? 1 : 0, seed, stream), mode.reflect ? 1 : 0, 0]);
}

/** The uniforms of a checkerboard_flow.wgsl dispatch at layer l of a chunk, in one direction. */
type CbfUniforms = (layer: number, mode?: { inverse?: boolean; reflect?: boolean }) => Uint32Array<ArrayBuffer>;

/** The φ⁴ flow's working buffers of one chunk (checkerboard_flow.wgsl's bindings). */
interface Phi4InverseBuffers {
  /** [rows, V]: the configurations to invert (read) */
  x: GPUBuffer;
  /** [rows, V]: ±x, then z = f⁻¹(±x) */
  y: GPUBuffer;
  ld: GPUBuffer;
  input: GPUBuffer;
  hidden: [GPUBuffer, GPUBuffer];
  st: GPUBuffer;
  /** [rows]: log q(±x) */
  logq: GPUBuffer;
}

/**
 * Records checkerboard_flow_inverse over a chunk: from y = x (or −x with `reflect`), the layers in
 * reverse (cbf_mask, the net, cbf_couple's inverse), then log q = log N(z; 0, 1) − Σ s.
 */
function recordPhi4Inverse(rec: PassRecorder, cbf: CbfUniforms, layers: number, net: ConvNet,
  params: GPUBuffer, rows: number, L: number, reflect: boolean, b: Phi4InverseBuffers): void {
  const flowKey = (e: string) => key('lattice/checkerboard_flow.wgsl', e);
  const V = L * L;
  rec.dispatch(flowKey('cbf_inverse_start'), cbf(0, { reflect }), { 1: b.x, 2: b.ld, 7: b.y }, groups2d(rows * V));
  for (let l = layers - 1; l >= 0; l--) {
    rec.dispatch(flowKey('cbf_mask'), cbf(l), { 1: b.y, 3: b.input }, groups2d(rows * V));
    recordConvNet(rec, net, params, l * net.params, rows, L, b.input, b.hidden, b.st);
    rec.dispatch(flowKey('cbf_couple'), cbf(l, { inverse: true }), { 1: b.y, 2: b.ld, 4: b.st }, groups2d(rows * V));
  }
  rec.dispatch(configKey('lattice/checkerboard_flow.wgsl', 'cbf_log_q'), cbf(0, { inverse: true }), { 1: b.y, 2: b.ld, 5: b.logq }, [rows, 1]);
}

/**
 * z = f⁻¹(φ) and log q(φ) of given configurations φ [n, V] under the φ⁴ flow (op
 * lattice.phi4_flow_log_prob): checkerboard_flow_inverse in f32, the parameters and φ rounded to
 * f32 once per call.
 */
export async function phi4FlowLogProbWebGpu(ctx: WebGpuContext, flow: Phi4Flow, phi: Float64Array): Promise<LatticeFlowInverse> {
  checkPhi4Flow(flow);
  const { L } = flow.coupling;
  const { layers, hidden: H, depth, kernel: K } = flow.architecture;
  const V = L * L;
  checkConfigs(phi, V, 'phi', `${V} sites`);
  checkF32Finite(phi, 'phi');
  const n = phi.length / V;
  // x, y, ld, in [V] each, two hidden planes [H·V], s and t [2V]
  const chunk = chunkSize(ctx, 6 * V + 2 * H * V, Math.max(2, H) * V);
  const pool = bufferPool(ctx.device);
  const params = pool.acquire(4 * flow.params.length, storage());
  upload(ctx.device.queue, params, Float32Array.from(flow.params));
  const net = convNet(1, H, depth, 2, K, ACT.tanh);
  const out = { z: new Float64Array(n * V), logq: new Float64Array(n) };
  try {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const [x, y, ld, input, hidA, hidB, st, logq] = [V, V, V, V, H * V, H * V, 2 * V, 1].map((w) => pool.acquire(4 * rows * w, storage()));
      try {
        upload(ctx.device.queue, x!, new Float32Array(phi.subarray(start * V, (start + rows) * V)));
        const rec = new PassRecorder(ctx);
        const cbf: CbfUniforms = (layer, mode = {}) => cbfUniforms(rows, L, layer, mode, 0n, 0n);
        recordPhi4Inverse(rec, cbf, layers, net, params, rows, L, false, { x: x!, y: y!, ld: ld!, input: input!, hidden: [hidA!, hidB!], st: st!, logq: logq! });
        const [z, q] = await submitAndRead(ctx, 'lattice.phi4_flow_log_prob', rec, [[y!, rows * V], [logq!, rows]]);
        out.z.set(z!, start * V);
        out.logq.set(q!, start);
      } finally {
        pool.release(x!, y!, ld!, input!, hidA!, hidB!, st!, logq!);
      }
    }
  } finally {
    pool.release(params);
  }
  return out;
}

/**
 * n draws of the trained φ⁴ flow (Phi4Flow): draw i takes its base normals z from Philox stream
 * offset + i of seed exactly as the CPU sampler does (sample_std_normal_fill), then φ = f(z)
 * through every coupling layer (cbf_mask, the circular CNN, cbf_couple), log q(φ), S(φ) and M,
 * in f32. The parameters are rounded to f32 once per call. `symmetric`: the Z2-symmetrised
 * proposal as the CPU draws it (log q(−φ) by the inverse pass, log q_s, the flip from block 2⁶³).
 */
export async function phi4FlowSampleWebGpu(ctx: WebGpuContext, flow: Phi4Flow, options: LatticeFlowSampleOptions): Promise<Phi4FlowDraws> {
  checkPhi4Flow(flow);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  const first = BigInt(offset);
  const { L, m2, lambda } = flow.coupling;
  const { layers, hidden, depth, kernel: K } = flow.architecture;
  const V = L * L;
  const H = hidden;
  const symmetric = options.symmetric === true;
  // x, ld, in [V] each, two hidden planes [H·V], s and t [2V]; symmetric: −φ [V]
  const chunk = chunkSize(ctx, 6 * V + 2 * H * V, Math.max(2, H) * V);
  const pool = bufferPool(ctx.device);
  const params = pool.acquire(4 * flow.params.length, storage());
  upload(ctx.device.queue, params, Float32Array.from(flow.params));
  const net = convNet(1, H, depth, 2, K, ACT.tanh);
  const out: Phi4FlowDraws = {
    logq: new Float64Array(n), action: new Float64Array(n), magnetization: new Float64Array(n), ...(keepPhi ? { phi: new Float64Array(n * V) } : {}),
  };
  try {
    for (let start = 0; start < n; start += chunk) {
      if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
      const rows = Math.min(chunk, n - start);
      const [x, ld, input, hidA, hidB, st, logq, action, mag, y, logqOther] =
        [V, V, V, H * V, H * V, 2 * V, 1, 1, 1, symmetric ? V : 1, 1].map((w) => pool.acquire(4 * rows * w, storage()));
      try {
        const rec = new PassRecorder(ctx);
        const cbf: CbfUniforms = (layer, mode = {}) => cbfUniforms(rows, L, layer, mode, seed, first + BigInt(start));
        const flowKey = (e: string) => key('lattice/checkerboard_flow.wgsl', e);
        rec.dispatch(flowKey('cbf_base'), cbf(0), { 1: x!, 2: ld! }, groups2d(rows * Math.ceil(V / 8)));
        for (let l = 0; l < layers; l++) {
          rec.dispatch(flowKey('cbf_mask'), cbf(l), { 1: x!, 3: input! }, groups2d(rows * V));
          recordConvNet(rec, net, params, l * net.params, rows, L, input!, [hidA!, hidB!], st!);
          rec.dispatch(flowKey('cbf_couple'), cbf(l), { 1: x!, 2: ld!, 4: st! }, groups2d(rows * V));
        }
        rec.dispatch(configKey('lattice/checkerboard_flow.wgsl', 'cbf_log_q'), cbf(0), { 1: x!, 2: ld!, 5: logq! }, [rows, 1]);
        if (symmetric) {
          // log q(−φ) by the inverse pass of −φ, then log q_s and the flip
          recordPhi4Inverse(rec, cbf, layers, net, params, rows, L, true, { x: x!, y: y!, ld: ld!, input: input!, hidden: [hidA!, hidB!], st: st!, logq: logqOther! });
          rec.dispatch(flowKey('cbf_symmetric_log_q'), cbf(0), { 5: logq!, 6: logqOther! }, groups2d(rows));
          rec.dispatch(flowKey('cbf_flip'), cbf(0), { 1: x! }, groups2d(rows * V));
        }
        rec.dispatch(configKey('lattice/phi4.wgsl', 'phi4_observables'), words([rows, L, m2, lambda], new Set([2, 3])),
          { 1: x!, 2: action!, 4: mag! }, [rows, 1]);
        const reads: Array<[GPUBuffer, number]> = [[logq!, rows], [action!, rows], [mag!, rows], ...(out.phi ? [[x!, rows * V] as [GPUBuffer, number]] : [])];
        const [q, s, m, phi] = await submitAndRead(ctx, 'lattice.phi4_flow_sample', rec, reads);
        out.logq.set(q!, start);
        out.action.set(s!, start);
        out.magnetization.set(m!, start);
        out.phi?.set(phi!, start * V);
        options.onProgress?.(start + rows, n);
      } finally {
        pool.release(x!, ld!, input!, hidA!, hidB!, st!, logq!, action!, mag!, y!, logqOther!);
      }
    }
  } finally {
    pool.release(params);
  }
  return out;
}

/**
 * n draws of the gauge-equivariant U(1) flow (U1Flow): draw i takes its Haar-uniform links
 * 2π·uniform() from Philox stream offset + i of seed exactly as the CPU sampler does, then per
 * coupling layer the plaquettes and the net input (gf_net_input), the circular CNN and the NCP
 * mixture update of the active links (gf_couple); log q, S(θ') and Q, in f32. The links come
 * back in [0, 2π): compare them on the circle (a link within f32 rounding of 0 may sit at the
 * other end of the interval than the CPU's).
 */
export async function u1FlowSampleWebGpu(ctx: WebGpuContext, flow: U1Flow, options: LatticeFlowSampleOptions): Promise<U1FlowDraws> {
  checkU1Flow(flow);
  checkNotSymmetric(options);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  const first = BigInt(offset);
  const { L, beta } = flow.coupling;
  const { layers, hidden: H, depth, kernel, components } = flow.architecture;
  const V = L * L;
  const C = 2 * components + 1;
  // links [2V], ld, plaquettes [V], net input [2V], two hidden planes [H·V], net output [C·V]
  const chunk = chunkSize(ctx, 6 * V + 2 * H * V + C * V, Math.max(H, C, 2) * V);
  const pool = bufferPool(ctx.device);
  const params = pool.acquire(4 * flow.params.length, storage());
  upload(ctx.device.queue, params, Float32Array.from(flow.params));
  const net = convNet(2, H, depth, C, kernel, ACT.none);
  const out: U1FlowDraws = {
    logq: new Float64Array(n), action: new Float64Array(n), charge: new Float64Array(n), ...(keepPhi ? { theta: new Float64Array(n * 2 * V) } : {}),
  };
  try {
    for (let start = 0; start < n; start += chunk) {
      if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
      const rows = Math.min(chunk, n - start);
      const [x, ld, plaq, input, hidA, hidB, netOut, logq, action, charge] =
        [2 * V, V, V, 2 * V, H * V, H * V, C * V, 1, 1, 1].map((w) => pool.acquire(4 * rows * w, storage()));
      try {
        const rec = new PassRecorder(ctx);
        const gf = (layer: number) => flowUniforms(rows, L, layer, components, seed, first + BigInt(start));
        const flowKey = (e: string) => key('lattice/gauge_flow.wgsl', e);
        rec.dispatch(flowKey('gf_base'), gf(0), { 1: x!, 2: ld! }, groups2d(rows * V));
        for (let l = 0; l < layers; l++) {
          rec.dispatch(flowKey('gf_net_input'), gf(l), { 1: x!, 3: plaq!, 4: input! }, groups2d(rows * V));
          recordConvNet(rec, net, params, l * net.params, rows, L, input!, [hidA!, hidB!], netOut!);
          rec.dispatch(flowKey('gf_couple'), gf(l), { 1: x!, 2: ld!, 3: plaq!, 5: netOut! }, groups2d(rows * V));
        }
        rec.dispatch(configKey('lattice/gauge_flow.wgsl', 'gf_log_q'), gf(0), { 2: ld!, 6: logq! }, [rows, 1]);
        rec.dispatch(configKey('lattice/u1.wgsl', 'u1_observables'), words([rows, L, beta, 0], new Set([2])), { 1: x!, 2: action!, 4: charge! }, [rows, 1]);
        const reads: Array<[GPUBuffer, number]> = [[logq!, rows], [action!, rows], [charge!, rows], ...(out.theta ? [[x!, rows * 2 * V] as [GPUBuffer, number]] : [])];
        const [q, s, c, theta] = await submitAndRead(ctx, 'lattice.u1_flow_sample', rec, reads);
        out.logq.set(q!, start);
        out.action.set(s!, start);
        out.charge.set(c!.map((v) => v + 0), start);  // −0 → +0, as the CPU's Q
        out.theta?.set(theta!, start * 2 * V);
        options.onProgress?.(start + rows, n);
      } finally {
        pool.release(x!, ld!, plaq!, input!, hidA!, hidB!, netOut!, logq!, action!, charge!);
      }
    }
  } finally {
    pool.release(params);
  }
  return out;
}

/**
 * θ = f⁻¹(θ') (the prior's links) and log q(θ') of given U(1) configurations θ' [n, 2V] under the
 * gauge-equivariant flow (op lattice.u1_flow_log_prob): gauge_flow_inverse in f32 (per layer in
 * reverse: the plaquettes and the net input, the CNN, gf_couple_inverse's Newton inversion of
 * the NCP mixture), the parameters and θ' rounded to f32 once per call. The links come back in
 * [0, 2π): compare them on the circle.
 */
export async function u1FlowLogProbWebGpu(ctx: WebGpuContext, flow: U1Flow, theta: Float64Array): Promise<LatticeFlowInverse> {
  checkU1Flow(flow);
  const { L } = flow.coupling;
  const { layers, hidden: H, depth, kernel, components } = flow.architecture;
  const V = L * L;
  checkConfigs(theta, 2 * V, 'theta', `2·L·L = ${2 * V} link angles`);
  checkF32Finite(theta, 'theta');
  const n = theta.length / (2 * V);
  const C = 2 * components + 1;
  const chunk = chunkSize(ctx, 6 * V + 2 * H * V + C * V, Math.max(H, C, 2) * V);
  const pool = bufferPool(ctx.device);
  const params = pool.acquire(4 * flow.params.length, storage());
  upload(ctx.device.queue, params, Float32Array.from(flow.params));
  const net = convNet(2, H, depth, C, kernel, ACT.none);
  const out = { z: new Float64Array(n * 2 * V), logq: new Float64Array(n) };
  try {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const [x, ld, plaq, input, hidA, hidB, netOut, logq] = [2 * V, V, V, 2 * V, H * V, H * V, C * V, 1].map((w) => pool.acquire(4 * rows * w, storage()));
      try {
        upload(ctx.device.queue, x!, new Float32Array(theta.subarray(start * 2 * V, (start + rows) * 2 * V)));
        const rec = new PassRecorder(ctx);
        const gf = (layer: number) => flowUniforms(rows, L, layer, components, 0n, 0n);
        const flowKey = (e: string) => key('lattice/gauge_flow.wgsl', e);
        rec.dispatch(flowKey('gf_inverse_start'), gf(0), { 2: ld! }, groups2d(rows * V));
        for (let l = layers - 1; l >= 0; l--) {
          rec.dispatch(flowKey('gf_net_input'), gf(l), { 1: x!, 3: plaq!, 4: input! }, groups2d(rows * V));
          recordConvNet(rec, net, params, l * net.params, rows, L, input!, [hidA!, hidB!], netOut!);
          rec.dispatch(flowKey('gf_couple_inverse'), gf(l), { 1: x!, 2: ld!, 3: plaq!, 5: netOut! }, groups2d(rows * V));
        }
        rec.dispatch(configKey('lattice/gauge_flow.wgsl', 'gf_log_q'), gf(0), { 2: ld!, 6: logq! }, [rows, 1]);
        const [z, q] = await submitAndRead(ctx, 'lattice.u1_flow_log_prob', rec, [[x!, rows * 2 * V], [logq!, rows]]);
        out.z.set(z!, start * 2 * V);
        out.logq.set(q!, start);
      } finally {
        pool.release(x!, ld!, plaq!, input!, hidA!, hidB!, netOut!, logq!);
      }
    }
  } finally {
    pool.release(params);
  }
  return out;
}
