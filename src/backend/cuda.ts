/**
 * The optional CUDA backend: the addon cuda/build/Release/sbi_engine_cuda.node, built by
 * `npm run build:cuda` (scripts/build_cuda.mjs) from the same portable kernel headers as the CPU
 * addon, with launchers in kernels/<family>/*.cu. It is loaded only when one of these functions
 * is called, never by the main addon. The CUDA runtime is linked statically, so the addon loads
 * on machines without a driver; there every op throws SbiError NO_CUDA_DEVICE.
 *
 * Row i of a batch uses Philox stream streamOffset + i, as on the CPU: Philox blocks are
 * bit-identical, and the samplers, simulators and dense layer are compiled without fused
 * multiply-adds (nvcc --fmad=false) from the CPU's expressions. See docs/backends.md.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SbiError } from '../errors.js';
import type { Distribution } from '../random.js';
import type { NnActivation, NnAdamOptions, NnArray } from '../native.js';
import { mlpParamCount } from '../inference/embedding.js';
import type { MlpBatch, MlpLoss, MlpSpec } from './nn_webgpu.js';
import { checkSize, energyArgs, leavesToArray, type Leaves, type TrellisModel } from '../trellis/trellis.js';
import { splitsToTree, type NestedTree } from '../trellis/hierarchy.js';
import type { ManifoldFlow, ManifoldFlowSpec } from '../manifold/flow.js';
import type { Phi4Flow } from '../lattice/flow.js';
import type { U1Flow } from '../lattice/u1_flow.js';
import { Phi4Action, type Phi4Coupling } from '../lattice/phi4.js';
import { U1Action, type U1Coupling } from '../lattice/u1.js';
import { checkPositiveInteger, describe } from '../validate.js';
import {
  checkConfigs, checkFlowSampleOptions, checkNotSymmetric, checkPhi4Flow, checkU1Flow,
  type LatticeFlowInverse, type LatticeFlowSampleOptions, type Phi4FlowDraws, type U1ActionValues, type U1FlowDraws,
} from './lattice_cpu.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where `npm run build:cuda` writes the addon. */
export const CUDA_ADDON_PATH = path.join(packageRoot, 'cuda', 'build', 'Release', 'sbi_engine_cuda.node');

/** What deviceInfo() of the addon reports; `error` says why there is no device. */
export interface CudaDeviceInfo {
  count: number;
  /** Name and compute capability of the current device, e.g. "NVIDIA H100 80GB HBM3, sm_90". */
  description?: string;
  error?: string;
}

export interface CudaSimulatorInfo {
  name: string;
  thetaDim: number;
  xDim: number;
  /** Design variables shared by all rows (e.g. √s for weinberg); 0: none. */
  designDim: number;
}

interface CudaAddon {
  init(options: { SbiError: typeof SbiError }): void;
  deviceInfo(): CudaDeviceInfo;
  philoxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: number | bigint, out: Uint32Array): void;
  sample(distribution: string, params: Float64Array, n: number, seed: number | bigint, streamOffset: number | bigint, out: Float64Array): void;
  samplerFill(distribution: 'uniform' | 'normal', seed: bigint, stream: bigint, n: number, out: Float64Array): void;
  simulators(): CudaSimulatorInfo[];
  simulate(options: {
    name: string; theta: Float64Array; n: number; seed: number | bigint; streamOffset?: number | bigint; design?: Float64Array;
    x: Float32Array; failed: Uint8Array;
  }): number;
  denseForward<A extends NnArray>(
    activation: NnActivation, n: number, inDim: number, outDim: number, x: A, w: A, b: A, y: A, pre?: A | null,
  ): void;
  mlpForward(activation: NnActivation, sizes: Int32Array, n: number, x: Float32Array, params: Float32Array, out: Float32Array): void;
  mlpGradients(
    activation: NnActivation, sizes: Int32Array, n: number, x: Float32Array, params: Float32Array, dout: Float32Array, grads: Float32Array,
  ): void;
  mlpTrain(
    activation: NnActivation, sizes: Int32Array, loss: MlpLoss, adam: NnAdamOptions, rows: Int32Array, x: Float32Array,
    target: Float32Array, params: Float32Array, losses: Float64Array,
  ): void;
  trellis(leaves: Float64Array, energy: 'ginkgo' | 'gaussian', params: Float64Array, marginals: boolean): CudaTrellisResult;
}

/** The addon's trellis result, as the CPU's native trellis (without the count and samples). */
interface CudaTrellisResult {
  logZ: number;
  mapLogLH: number;
  /** The MAP hierarchy's splits in pre-order, (parent mask, part holding its lowest leaf) pairs; null when no hierarchy has finite energy. */
  mapSplits: Uint32Array | null;
  /** P(cluster) by bitmask [2^N], when asked for. */
  marginals?: Float64Array;
}

/** The loaded CUDA addon: its device report and the simulators it has launchers for. */
export interface CudaBackend {
  /** Devices found (0 without a driver or GPU: every op then throws NO_CUDA_DEVICE). */
  deviceCount: number;
  device: CudaDeviceInfo;
  simulators: CudaSimulatorInfo[];
}

let addon: CudaAddon | undefined;

function loadAddon(): CudaAddon {
  if (addon) return addon;
  if (!fs.existsSync(CUDA_ADDON_PATH)) {
    throw new SbiError(
      `The CUDA backend is not built (no ${CUDA_ADDON_PATH}): run \`npm run build:cuda\` (needs nvcc, the CUDA toolkit)`,
      'BACKEND_UNAVAILABLE',
    );
  }
  let loaded: CudaAddon;
  try {
    loaded = createRequire(import.meta.url)(CUDA_ADDON_PATH) as CudaAddon;
  } catch (e) {
    throw new SbiError(
      `The CUDA addon ${CUDA_ADDON_PATH} did not load (${(e as Error).message}); rebuild it with \`npm run build:cuda\``,
      'BACKEND_UNAVAILABLE',
    );
  }
  loaded.init({ SbiError });
  addon = loaded;
  return addon;
}

/**
 * The loaded addon's exports as `T`, for the CUDA ops defined in other modules (cuda_flows.ts).
 * Throws BACKEND_UNAVAILABLE, naming `npm run build:cuda`, when the addon was not built.
 */
export function cudaAddonExports<T>(): T {
  return loadAddon() as unknown as T;
}

/**
 * Loads the CUDA addon (once) and reports its devices. Throws SbiError BACKEND_UNAVAILABLE,
 * naming `npm run build:cuda`, when the addon was not built. A missing driver or GPU is not an
 * error here: deviceCount is 0, `device.error` says why, and every op throws NO_CUDA_DEVICE.
 */
export function loadCudaBackend(): CudaBackend {
  const a = loadAddon();
  const device = a.deviceInfo();
  return { deviceCount: device.count, device, simulators: a.simulators() };
}

/** Number of CUDA devices (0 without a driver or GPU); BACKEND_UNAVAILABLE when not built. */
export function cudaDeviceCount(): number {
  return loadAddon().deviceInfo().count;
}

const toU64 = (v: number | bigint, name: string): bigint => {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  throw new RangeError(`Expected a non-negative safe integer or a bigint below 2^64 for \`${name}\` but received ${String(v)}`);
};

/**
 * `blocks` consecutive Philox4x32-10 blocks of the stream (seed, stream) from block `firstBlock`
 * (4 words each): the words PhiloxStream hands out on the CPU (kernels/random/philox.h).
 */
export function cudaPhiloxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: number | bigint, blocks: number): Uint32Array {
  if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > 2 ** 28) {
    throw new RangeError(`Expected an integer in [1, 2^28] for \`blocks\` but received ${blocks}`);
  }
  const out = new Uint32Array(4 * blocks);
  loadAddon().philoxBlocks(toU64(seed, 'seed'), toU64(stream, 'stream'), toU64(firstBlock, 'firstBlock'), out);
  return out;
}

/** Options of the CUDA batches: as the CPU's (sample i / row i uses Philox stream streamOffset + i). */
export interface CudaBatchOptions {
  seed: number | bigint;
  streamOffset?: number | bigint;
}

/**
 * n draws of a uniform or normal distribution, as `sample` on the CPU. Other distributions throw
 * SbiError UNSUPPORTED_OP (their samplers use libm functions that CUDA rounds differently).
 */
export function cudaSample(distribution: Distribution, n: number, options: CudaBatchOptions): Float64Array {
  let name: string;
  let params: Float64Array;
  if (distribution?.kind === 'uniform') [name, params] = ['uniform', Float64Array.of(distribution.low, distribution.high)];
  else if (distribution?.kind === 'normal') [name, params] = ['normal', Float64Array.of(distribution.loc, distribution.scale)];
  else throw new SbiError(`The CUDA backend samples "uniform" and "normal" only; received ${JSON.stringify(distribution?.kind)}`, 'UNSUPPORTED_OP');
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Expected a non-negative integer for \`n\` but received ${n}`);
  const out = new Float64Array(n);
  loadAddon().sample(name, params, n, toU64(options.seed, 'seed'), toU64(options.streamOffset ?? 0, 'streamOffset'), out);
  return out;
}

/**
 * n draws of ONE Philox stream (seed, stream) from its start, as the CPU's samplerFill
 * (sample_uniform_fill / sample_std_normal_fill): 'uniform' gives n uniform() draws on (0, 1);
 * 'normal' n standard normals, n/2 Box–Muller pairs (n even). float64, from the CPU's expressions.
 */
export function cudaSamplerFill(distribution: 'uniform' | 'normal', seed: number | bigint, stream: number | bigint, n: number): Float64Array {
  if (distribution !== 'uniform' && distribution !== 'normal') {
    throw new RangeError(`Expected "uniform" or "normal" for \`distribution\` but received ${JSON.stringify(distribution)}`);
  }
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 28) throw new RangeError(`Expected an integer in [1, 2^28] for \`n\` but received ${n}`);
  if (distribution === 'normal' && n % 2 !== 0) throw new RangeError(`Expected an even \`n\` (normals come in pairs) but received ${n}`);
  const out = new Float64Array(n);
  loadAddon().samplerFill(distribution, toU64(seed, 'seed'), toU64(stream, 'stream'), n, out);
  return out;
}

export interface CudaSimulationResult {
  /** [n, xDim] row-major; failed rows are NaN. */
  x: Float32Array;
  /** 1 where the row failed (the simulator said so, or x was not finite). */
  failed: Uint8Array;
  failedCount: number;
}

/**
 * Runs simulator `name` (one of loadCudaBackend().simulators) for θ [n, thetaDim] row-major, as the
 * CPU's native simulate. `design` ([designDim], shared by all rows) is required exactly when the
 * simulator has design variables (weinberg: √s in GeV).
 */
export function cudaSimulate(
  name: string, theta: Float64Array, n: number, options: CudaBatchOptions & { design?: Float64Array },
): CudaSimulationResult {
  const a = loadAddon();
  const spec = a.simulators().find((s) => s.name === name);
  if (!spec) {
    throw new SbiError(`No CUDA launcher for simulator ${JSON.stringify(name)}; CUDA simulators: ${a.simulators().map((s) => s.name).join(', ')}`, 'UNKNOWN_SIMULATOR');
  }
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Expected a positive integer for \`n\` but received ${n}`);
  const x = new Float32Array(n * spec.xDim);
  const failed = new Uint8Array(n);
  const failedCount = a.simulate({
    name, theta, n, seed: toU64(options.seed, 'seed'), streamOffset: toU64(options.streamOffset ?? 0, 'streamOffset'),
    ...(options.design !== undefined ? { design: options.design } : {}), x, failed,
  });
  return { x, failed, failedCount };
}

/**
 * y = act(x · wᵀ + b) (kernels/nn/dense.h), as the CPU's nnDenseForward: x [n, inDim], w
 * [outDim, inDim], b [outDim], y and pre [n, outDim]; all Float32Array or all Float64Array. pre
 * receives x · wᵀ + b (required for 'silu', optional otherwise).
 */
export function cudaDenseForward<A extends NnArray>(
  activation: NnActivation, n: number, inDim: number, outDim: number, x: A, w: A, b: A, y: A, pre?: A | null,
): void {
  loadAddon().denseForward(activation, n, inDim, outDim, x, w, b, y, pre);
}

const MLP_ACTIVATIONS: readonly NnActivation[] = ['identity', 'relu', 'tanh', 'elu', 'silu'];
const MAX_MLP_ROWS = 2 ** 24;

/** The layer widths as the addon takes them, checked as the CPU's nnMlpForward checks them. */
function mlpSizes(spec: MlpSpec): Int32Array {
  const { sizes, activation } = spec ?? {};
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.length > 65 || !sizes.every((s) => Number.isSafeInteger(s) && s >= 1 && s <= 4096)) {
    throw new RangeError(`Expected 2 to 65 layer widths, integers in [1, 4096], for \`sizes\` but received ${JSON.stringify(sizes)}`);
  }
  if (!MLP_ACTIVATIONS.includes(activation)) {
    throw new RangeError(`Expected one of ${MLP_ACTIVATIONS.join(', ')} for \`activation\` but received ${JSON.stringify(activation)}`);
  }
  return Int32Array.from(sizes);
}

function checkF32(a: unknown, name: string, length: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) throw new TypeError(`Expected a Float32Array for \`${name}\` but received ${Object.prototype.toString.call(a)}`);
  if (a.length !== length) throw new RangeError(`Expected ${length} elements in \`${name}\` but received ${a.length}`);
}

function checkRows(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_MLP_ROWS) throw new RangeError(`Expected an integer in [1, 2^24] for \`n\` but received ${n}`);
}

/**
 * An MLP's output [n, sizes[L]] for x [n, sizes[0]] in float32 (op nn.mlp_forward; kernels/nn/mlp.h's
 * parameter layout), as the CPU's cpuMlpForward: each dense layer one thread per output, its sum in
 * the CPU's order.
 */
export function cudaMlpForward(spec: MlpSpec, params: Float32Array, x: Float32Array, n: number): Float32Array {
  const sizes = mlpSizes(spec);
  checkRows(n);
  checkF32(params, 'params', mlpParamCount(sizes));
  checkF32(x, 'x', n * sizes[0]!);
  const out = new Float32Array(n * sizes[sizes.length - 1]!);
  loadAddon().mlpForward(spec.activation, sizes, n, x, params, out);
  return out;
}

/** The parameter gradients of Σ dout ⊙ output over the n rows (op nn.mlp_gradients), as cpuMlpGradients. */
export function cudaMlpGradients(spec: MlpSpec, params: Float32Array, x: Float32Array, dout: Float32Array, n: number): Float32Array {
  const sizes = mlpSizes(spec);
  checkRows(n);
  checkF32(params, 'params', mlpParamCount(sizes));
  checkF32(x, 'x', n * sizes[0]!);
  checkF32(dout, 'dout', n * sizes[sizes.length - 1]!);
  const grads = new Float32Array(params.length);
  loadAddon().mlpGradients(spec.activation, sizes, n, x, params, dout, grads);
  return grads;
}

/**
 * One Adam step per batch from `params` (not modified), m = v = 0 at the start: the final
 * parameters and each step's loss before its update (op nn.mlp_train), as cpuMlpTrain. The
 * parameters stay on the device between steps.
 */
export function cudaMlpTrain(
  spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions },
): { params: Float32Array; losses: Float64Array } {
  const sizes = mlpSizes(spec);
  checkF32(params, 'params', mlpParamCount(sizes));
  if (options?.loss !== 'bce' && options?.loss !== 'mse') throw new RangeError(`Expected "bce" or "mse" for \`loss\` but received ${JSON.stringify(options?.loss)}`);
  if (!Array.isArray(batches) || batches.length < 1) throw new RangeError('Expected at least one batch in `batches`');
  const inDim = sizes[0]!, outDim = sizes[sizes.length - 1]!;
  const rows = new Int32Array(batches.length);
  batches.forEach((b, i) => {
    const n = b?.x instanceof Float32Array ? b.x.length / inDim : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_MLP_ROWS) {
      throw new RangeError(`Expected \`batches[${i}].x\` to be a Float32Array of whole rows of ${inDim} values (1 to 2^24 rows)`);
    }
    checkF32(b.target, `batches[${i}].target`, n * outDim);
    rows[i] = n;
  });
  const total = rows.reduce((s, n) => s + n, 0);
  const x = new Float32Array(total * inDim), target = new Float32Array(total * outDim);
  let r = 0;
  batches.forEach((b, i) => {
    x.set(b.x, r * inDim);
    target.set(b.target, r * outDim);
    r += rows[i]!;
  });
  const out = params.slice();
  const losses = new Float64Array(batches.length);
  loadAddon().mlpTrain(spec.activation, sizes, options.loss, options.adam, rows, x, target, out, losses);
  return { params: out, losses };
}

/** The trellis passes' result on the device: as BackendTrellis. */
export interface CudaTrellis {
  logZ: number;
  mapLogLH: number;
  /** The MAP hierarchy; null when no hierarchy has finite energy. */
  mapTree: NestedTree | null;
  /** P(cluster) by bitmask [2^N], when asked for. */
  marginals?: Float64Array;
}

/**
 * The trellis's inside pass (log Z, the MAP energy and hierarchy: op trellis.inside) and, with
 * `marginals`, its marginal pass (P(cluster) by bitmask: op trellis.marginals), in double, for
 * N <= 22 leaves (kernels/trellis/trellis.h through kernels/trellis/trellis.cu).
 */
export function cudaTrellis(leaves: Leaves, model: TrellisModel, options: { marginals?: boolean } = {}): CudaTrellis {
  const x = leavesToArray(leaves);
  const n = checkSize(x);
  const [energy, params] = energyArgs(model);
  const r = loadAddon().trellis(x, energy, params, options.marginals === true);
  return { logZ: r.logZ, mapLogLH: r.mapLogLH, mapTree: r.mapSplits ? splitsToTree(r.mapSplits, n) : null, ...(r.marginals ? { marginals: r.marginals } : {}) };
}

// ---- The lattice and manifold-flow ops (kernels/lattice/*.cu, kernels/manifold/flow.cu; native/cuda/lattice_ops.cc,
// native/cuda/manifold_ops.cc). In double, as the CPU's kernels: one thread per configuration / draw / row
// running the CPU's portable functions (phi4.h, u1.h, flow_sampler.h, checkerboard_flow.h / gauge_flow.h's
// inverse passes, flow.h).

/** The addon's lattice and manifold-flow entry points (merged into the CudaAddon declaration above). */
interface CudaAddon {
  phi4Action(L: number, coupling: Float64Array, phi: Float64Array, action: Float64Array, grad?: Float64Array): void;
  u1Action(L: number, beta: number, theta: Float64Array, action: Float64Array, grad?: Float64Array, charge?: Float64Array): void;
  phi4FlowSample(shape: Int32Array, coupling: Float64Array, params: Float64Array, options: CudaLatticeSampleOptions,
    magnetization: Float64Array, action: Float64Array, logq: Float64Array, phi?: Float64Array): void;
  u1FlowSample(shape: Int32Array, coupling: Float64Array, params: Float64Array, options: CudaLatticeSampleOptions,
    charge: Float64Array, action: Float64Array, logq: Float64Array, theta?: Float64Array): void;
  phi4FlowInverse(shape: Int32Array, params: Float64Array, phi: Float64Array, z: Float64Array, logq: Float64Array): void;
  u1FlowInverse(shape: Int32Array, params: Float64Array, theta: Float64Array, z: Float64Array, logq: Float64Array): void;
  manifoldFlowSample(spec: ManifoldFlowSpec, params: Float64Array, n: number, seed: bigint, stream: bigint, x: Float64Array, logq: Float64Array): void;
  manifoldFlowLogProb(spec: ManifoldFlowSpec, params: Float64Array, x: Float64Array, logq: Float64Array): void;
}

interface CudaLatticeSampleOptions {
  seed: bigint;
  n: number;
  offset: number;
  symmetric?: boolean;
}

/** S(φ) [n] and ∂S/∂φ [n, L·L] of φ⁴ configurations φ [n, L·L] (op lattice.phi4_action), as cpuPhi4Action. */
export function cudaPhi4Action(coupling: Phi4Coupling, phi: Float64Array): { action: Float64Array; grad: Float64Array } {
  const target = new Phi4Action(coupling);
  checkConfigs(phi, target.sites, 'phi', `${target.sites} sites`);
  const action = new Float64Array(phi.length / target.sites), grad = new Float64Array(phi.length);
  loadAddon().phi4Action(target.L, Float64Array.of(target.m2, target.lambda), phi, action, grad);
  return { action, grad };
}

/** S(θ) [n], ∂S/∂θ [n, 2·L·L] and Q [n] of U(1) configurations θ [n, 2·L·L] (op lattice.u1_action), as cpuU1Action. */
export function cudaU1Action(coupling: U1Coupling, theta: Float64Array): U1ActionValues {
  const target = new U1Action(coupling);
  checkConfigs(theta, target.links, 'theta', `2·L·L = ${target.links} link angles`);
  const n = theta.length / target.links;
  const action = new Float64Array(n), grad = new Float64Array(theta.length), charge = new Float64Array(n);
  loadAddon().u1Action(target.L, target.beta, theta, action, grad, charge);
  return { action, grad, charge };
}

function abortIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
}

/**
 * n draws of the φ⁴ flow (op lattice.phi4_flow_sample), draw i from Philox stream offset + i of
 * seed, as the CPU sampler (`symmetric` included). One call: `onProgress` reports once, at the end.
 */
export function cudaPhi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions): Phi4FlowDraws {
  checkPhi4Flow(flow);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  abortIfAborted(options.signal);
  const out: Phi4FlowDraws = {
    logq: new Float64Array(n), action: new Float64Array(n), magnetization: new Float64Array(n), ...(keepPhi ? { phi: new Float64Array(n * flow.sites) } : {}),
  };
  loadAddon().phi4FlowSample(flow.nativeShape, flow.nativeCoupling, flow.params, { seed, n, offset, symmetric: options.symmetric === true },
    out.magnetization, out.action, out.logq, out.phi);
  options.onProgress?.(n, n);
  return out;
}

/** n draws of the U(1) flow (op lattice.u1_flow_sample), draw i from Philox stream offset + i of seed, as the CPU sampler. */
export function cudaU1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions): U1FlowDraws {
  checkU1Flow(flow);
  checkNotSymmetric(options);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  abortIfAborted(options.signal);
  const D = 2 * flow.coupling.L * flow.coupling.L;
  const out: U1FlowDraws = {
    logq: new Float64Array(n), action: new Float64Array(n), charge: new Float64Array(n), ...(keepPhi ? { theta: new Float64Array(n * D) } : {}),
  };
  loadAddon().u1FlowSample(flow.nativeShape, flow.nativeCoupling, flow.params, { seed, n, offset }, out.charge, out.action, out.logq, out.theta);
  options.onProgress?.(n, n);
  return out;
}

/** z = f⁻¹(φ) [n, L·L] and log q(φ) [n] of φ⁴ configurations φ [n, L·L] (op lattice.phi4_flow_log_prob), as cpuPhi4FlowLogProb. */
export function cudaPhi4FlowLogProb(flow: Phi4Flow, phi: Float64Array): LatticeFlowInverse {
  checkPhi4Flow(flow);
  checkConfigs(phi, flow.sites, 'phi', `${flow.sites} sites`);
  const z = new Float64Array(phi.length), logq = new Float64Array(phi.length / flow.sites);
  loadAddon().phi4FlowInverse(flow.nativeShape, flow.params, phi, z, logq);
  return { z, logq };
}

/** z = f⁻¹(θ') [n, 2·L·L] and log q(θ') [n] of U(1) configurations θ' [n, 2·L·L] (op lattice.u1_flow_log_prob), as cpuU1FlowLogProb. */
export function cudaU1FlowLogProb(flow: U1Flow, theta: Float64Array): LatticeFlowInverse {
  checkU1Flow(flow);
  const links = 2 * flow.coupling.L * flow.coupling.L;
  checkConfigs(theta, links, 'theta', `2·L·L = ${links} link angles`);
  const z = new Float64Array(theta.length), logq = new Float64Array(theta.length / links);
  loadAddon().u1FlowInverse(flow.nativeShape, flow.params, theta, z, logq);
  return { z, logq };
}

/** n draws [n, outputWidth] of a flow on Tᴰ / Sᴰ and their log q (op manifold.flow_sample), as ManifoldFlow.sample. */
export function cudaManifoldFlowSample(flow: ManifoldFlow, n: number, seed: number | bigint, stream: number | bigint = 0): { x: Float64Array; logProb: Float64Array } {
  checkPositiveInteger(n, 'n', 2 ** 40);
  const x = new Float64Array(n * flow.outputWidth), logProb = new Float64Array(n);
  loadAddon().manifoldFlowSample(flow.spec, flow.params, n, toU64(seed, 'seed'), toU64(stream, 'stream'), x, logProb);
  return { x, logProb };
}

/** log q [N] of points x [N, outputWidth] under a flow on Tᴰ / Sᴰ (op manifold.flow_log_prob), as ManifoldFlow.logProb. */
export function cudaManifoldFlowLogProb(flow: ManifoldFlow, x: Float64Array): Float64Array {
  if (!(x instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`x\` but received ${describe(x)}`);
  const logProb = new Float64Array(Math.floor(x.length / flow.outputWidth));
  loadAddon().manifoldFlowLogProb(flow.spec, flow.params, x, logProb);
  return logProb;
}
