/**
 * Gauge-equivariant coupling flow for 2-D U(1) lattice gauge theory (issue 5, item 4): Kanwar et
 * al., "Equivariant flow-based sampling for lattice gauge theory", PRL 125 (2020),
 * arXiv:2003.06413, with the architecture of the tutorial of Albergo et al., arXiv:2101.08176:
 * Haar-uniform prior links, 16 coupling layers, each updating one direction's links in every
 * fourth stripe through a mixture of non-compact projections (2 components, with a rotation) of
 * the active plaquettes, conditioned on cos P and sin P of the frozen plaquettes by a CNN of
 * circular 3×3 convolutions (hidden channels [8, 8]). log q is gauge invariant and the flow
 * commutes with gauge transformations. Kernels: kernels/lattice/gauge_flow.h; N-API:
 * native/lattice_flow.cc (u1Flow*). Trained by reverse KL against e^{−S}, S = −β Σ cos P; sampled
 * by flow-based independence Metropolis (flowMetropolis in src/lattice/flow.ts).
 */
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile, type ModelFile } from '../io/model_file.js';
import { native } from '../native.js';
import type { BackendRequest } from '../backend/backend.js';
import { checkFinite, checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';
import {
  checkTrainOptions, latticeTrainer, latticeModelFile, latticeSampleOptions, readLatticeModelFile, runCancellable, runLatticeTraining, trainAndSaveFromCli, type LatticeCliOptions, type LatticeCliSummary, type LatticeTrainingRecord,
  type LatticeTrainOptions,
} from './flow_common.js';
import type { U1Coupling } from './u1.js';

export const U1_FLOW_KIND = 'lattice/u1-flow';

export interface U1FlowArchitecture {
  /** Coupling layers (16 in the tutorial); layer l updates direction l mod 2 at stripe offset (l/2) mod 4. */
  layers: number;
  /** Channels of each hidden conv layer (8). */
  hidden: number;
  /** Hidden conv layers per coupling net (2: hidden channels [8, 8]). */
  depth: number;
  /** Odd kernel extent (3). */
  kernel: number;
  /** Components of the non-compact-projection mixture (2). */
  components: number;
}

export const U1_TUTORIAL_ARCHITECTURE: Readonly<U1FlowArchitecture> = Object.freeze({ layers: 16, hidden: 8, depth: 2, kernel: 3, components: 2 });

function checkArchitecture(a: Partial<U1FlowArchitecture> = {}): U1FlowArchitecture {
  const r = { ...U1_TUTORIAL_ARCHITECTURE, ...a };
  checkPositiveInteger(r.layers, 'layers', 1024);
  checkPositiveInteger(r.hidden, 'hidden', 1024);
  checkNonNegativeInteger(r.depth, 'depth');
  if (r.depth > 15) throw new RangeError(`Expected \`depth\` at most 15 but received ${r.depth}`);
  checkPositiveInteger(r.kernel, 'kernel', 15);
  if (r.kernel % 2 === 0) throw new RangeError(`Expected an odd \`kernel\` but received ${r.kernel}`);
  checkPositiveInteger(r.components, 'components', 16);
  return { layers: r.layers, hidden: r.hidden, depth: r.depth, kernel: r.kernel, components: r.components };
}

function checkCoupling(c: U1Coupling): U1Coupling {
  if (typeof c !== 'object' || c === null) throw new TypeError(`Expected a coupling { L, beta } but received ${describe(c)}`);
  const L = checkPositiveInteger(c.L, 'L', 1024);
  if (L % 4 !== 0) throw new RangeError(`Expected \`L\` a positive multiple of 4 (the plaquette stripes repeat every 4 sites) but received ${L}`);
  return { L, beta: checkFinite(c.beta, 'beta') };
}

function checkConfigs(a: unknown, D: number, name: string): Float64Array {
  if (!(a instanceof Float64Array) || a.length === 0 || a.length % D !== 0) {
    throw new RangeError(`Expected \`${name}\` to be a Float64Array of whole configurations of ${D} link angles but received ${describe(a)}`);
  }
  return a;
}

export interface U1FlowSamples {
  /** Topological charge Q of each draw. */
  charge: Float64Array;
  /** S(θ) = −β Σ cos P. */
  action: Float64Array;
  logq: Float64Array;
  /** The links [n, 2V] (with `keepTheta`). */
  theta?: Float64Array;
}

/** A trained (or freshly initialised) gauge-equivariant flow q(θ) for U(1) at `coupling`. */
export class U1Flow {
  readonly coupling: U1Coupling;
  readonly architecture: U1FlowArchitecture;
  readonly params: Float64Array;
  readonly training?: LatticeTrainingRecord;

  constructor(coupling: U1Coupling, architecture: Partial<U1FlowArchitecture>, params: Float64Array, training?: LatticeTrainingRecord) {
    this.coupling = checkCoupling(coupling);
    this.architecture = checkArchitecture(architecture);
    const P = U1Flow.paramCount(this.architecture);
    if (!(params instanceof Float64Array) || params.length !== P) {
      throw new RangeError(`Expected \`params\` to be a Float64Array of ${P} values but received ${describe(params)}`);
    }
    params.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new RangeError(`Expected finite \`params\` but params[${i}] is ${v}`);
    });
    this.params = params;
    if (training) this.training = training;
  }

  /** Parameters: per layer, convs 2→H, (H→H)×(depth−1), H→2K+1, each K² weights per channel pair plus biases. */
  static paramCount(a: U1FlowArchitecture): number {
    let n = 0;
    for (let k = 0; k <= a.depth; k++) {
      const cIn = k === 0 ? 2 : a.hidden, cOut = k === a.depth ? 2 * a.components + 1 : a.hidden;
      n += cOut * cIn * a.kernel * a.kernel + cOut;
    }
    return a.layers * n;
  }

  /** A flow with torch's default Conv2d initialisation U(±1/√fan_in), drawn by Philox from `seed`. */
  static init(coupling: U1Coupling, architecture: Partial<U1FlowArchitecture> = {}, seed: number | bigint = 0): U1Flow {
    const c = checkCoupling(coupling), a = checkArchitecture(architecture);
    const params = new Float64Array(U1Flow.paramCount(a));
    native.u1FlowInit(shapeOf(c.L, a), checkSeed(seed), params);
    return new U1Flow(c, a, params);
  }

  /** 2V link angles per configuration. */
  get links(): number {
    return 2 * this.coupling.L * this.coupling.L;
  }

  /** @internal The native shape [L, layers, hidden, depth, K, components]. */
  get nativeShape(): Int32Array {
    return shapeOf(this.coupling.L, this.architecture);
  }

  /** @internal [β]. */
  get nativeCoupling(): Float64Array {
    return Float64Array.of(this.coupling.beta);
  }

  /** θ = f(z) (links in [0, 2π)) and log q(θ) for prior draws z [n, 2V] (any angles). */
  forward(z: Float64Array, threads?: number): { theta: Float64Array; logq: Float64Array } {
    const n = checkConfigs(z, this.links, 'z').length / this.links;
    const theta = new Float64Array(z.length), logq = new Float64Array(n);
    native.u1FlowForward(this.nativeShape, this.params, z, theta, logq, threads === undefined ? undefined : checkThreads(threads));
    return { theta, logq };
  }

  /** z = f⁻¹(θ) (in [0, 2π)) and log q(θ) of configurations θ [n, 2V]. */
  inverse(theta: Float64Array, threads?: number): { z: Float64Array; logq: Float64Array } {
    const n = checkConfigs(theta, this.links, 'theta').length / this.links;
    const z = new Float64Array(theta.length), logq = new Float64Array(n);
    native.u1FlowInverse(this.nativeShape, this.params, theta, z, logq, threads === undefined ? undefined : checkThreads(threads));
    return { z, logq };
  }

  /**
   * log q(θ) and z = f⁻¹(θ) of configurations θ [n, 2V] (`inverse` with a choice of backend): `backend` 'cpu' (default: the native inverse in double), 'webgpu' (op
   * lattice.u1_flow_log_prob: f32, within the op's tolerance of the CPU, z on the circle), 'cuda' (the same inverse in double) or 'auto'.
   */
  async logProb(theta: Float64Array, options: { backend?: BackendRequest; threads?: number } = {}): Promise<{ z: Float64Array; logq: Float64Array }> {
    checkConfigs(theta, this.links, 'theta');
    if (options.backend !== undefined && options.backend !== 'cpu') {
      const { backendForOp } = await import('../backend/backend.js');
      const b = await backendForOp(options.backend, 'lattice.u1_flow_log_prob');
      if (b.name !== 'cpu') return b.u1FlowLogProb(this, theta);
    }
    return this.inverse(theta, options.threads);
  }

  /**
   * The reverse-KL loss mean(log q(f(z)) + S(f(z))) over prior draws z [n, 2V], its parameter
   * gradient and its gradient in z [n, 2V].
   */
  lossAndGrad(z: Float64Array): { loss: number; grad: Float64Array; gz: Float64Array } {
    checkConfigs(z, this.links, 'z');
    const grad = new Float64Array(this.params.length), gz = new Float64Array(z.length);
    const loss = native.u1FlowLossGrad(this.nativeShape, this.nativeCoupling, this.params, z, grad, gz);
    return { loss, grad, gz };
  }

  /**
   * n independent draws θ ~ q (draw i: Haar links from Philox stream offset + i of seed) with
   * their charge Q, action S(θ) and log q(θ); `keepTheta` also returns the links.
   * `backend` (default 'cpu', the native sampler in double): 'webgpu' draws on the device (op
   * lattice.u1_flow_sample: the same Philox links, the flow in f32, within the op's tolerance of
   * the CPU's draws, the links on the circle; `threads` does not apply), 'cuda' runs the CPU
   * sampler's per-draw function in double, one thread per draw (kernels/lattice/gauge_flow.cu),
   * 'auto' as selectBackend.
   */
  async sample(options: { n: number; seed: number | bigint; offset?: number; threads?: number; keepTheta?: boolean;
    backend?: BackendRequest; onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<U1FlowSamples> {
    const { n, nativeOptions } = latticeSampleOptions(options);
    if (options.backend !== undefined && options.backend !== 'cpu') {
      const { backendForOp } = await import('../backend/backend.js');
      const b = await backendForOp(options.backend, 'lattice.u1_flow_sample');
      if (b.name !== 'cpu') {
        const d = await b.u1FlowSample(this, {
          n, seed: nativeOptions.seed, ...(options.offset !== undefined ? { offset: options.offset } : {}), keepPhi: options.keepTheta === true,
          ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
        });
        return { charge: d.charge, action: d.action, logq: d.logq, ...(d.theta ? { theta: d.theta } : {}) };
      }
    }
    const out: U1FlowSamples = {
      charge: new Float64Array(n), action: new Float64Array(n), logq: new Float64Array(n),
      ...(options.keepTheta ? { theta: new Float64Array(n * this.links) } : {}),
    };
    await runCancellable(options.signal, (cancel) =>
      native.u1FlowSampleAsync(this.nativeShape, this.nativeCoupling, this.params, nativeOptions, out.charge, out.action,
        out.logq, out.theta, options.onProgress, cancel));
    return out;
  }

  /** The model file (kind "lattice/u1-flow", format of src/io/model_file.ts). */
  toModelFile(): ModelFile {
    return latticeModelFile(U1_FLOW_KIND, this);
  }

  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  static fromModelFile(file: ModelFile): U1Flow {
    const m = readLatticeModelFile<U1Coupling, U1FlowArchitecture>(file, U1_FLOW_KIND, 'u1 flow', {
      coupling: checkCoupling, architecture: checkArchitecture, paramCount: (_c, a) => U1Flow.paramCount(a),
    });
    return new U1Flow(m.coupling, m.architecture, m.params, m.training);
  }

  static decode(bytes: Uint8Array): U1Flow {
    return U1Flow.fromModelFile(decodeModelFile(bytes, { expectedKind: U1_FLOW_KIND }));
  }

  static load(path: string): U1Flow {
    return U1Flow.fromModelFile(loadModelFile(path, { expectedKind: U1_FLOW_KIND }));
  }
}

function shapeOf(L: number, a: U1FlowArchitecture): Int32Array {
  return Int32Array.of(L, a.layers, a.hidden, a.depth, a.kernel, a.components);
}

export interface TrainU1FlowOptions extends U1Coupling, Partial<U1FlowArchitecture>, LatticeTrainOptions {
  /** Where the steps run (default 'cpu'; 'webgpu': op lattice.u1_flow_train, f32). */
  backend?: BackendRequest;
}

export interface TrainU1FlowResult {
  model: U1Flow;
  /** Per step: the batch-mean reverse-KL loss mean(log q + S) (= KL(q‖p) − log Z) and the batch ESS fraction. */
  loss: Float64Array;
  ess: Float64Array;
  seconds: number;
}

/**
 * Trains a flow by reverse KL: each step draws `batch` Haar configurations (configuration b of
 * step t from Philox stream t·2³² + b of seed), pushes them through the flow and takes an Adam
 * step on mean(log q(θ) + S(θ)). Off the event loop; identical for any thread count.
 * `backend` (default 'cpu': the native trainer in double): 'webgpu' runs the steps on the device
 * (op lattice.u1_flow_train: the same draws, the passes and Adam in f32; `threads` does not apply;
 * a batch must fit one launch), 'auto' picks as selectBackend does.
 */
export async function trainU1Flow(options: TrainU1FlowOptions): Promise<TrainU1FlowResult> {
  const coupling = checkCoupling({ L: options.L, beta: options.beta });
  const keys = ['layers', 'hidden', 'depth', 'kernel', 'components'] as const;
  const arch = checkArchitecture(Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]])));
  const o = checkTrainOptions(options);
  const init = U1Flow.init(coupling, arch, o.seed);
  const train = await latticeTrainer(options.backend, 'lattice.u1_flow_train',
    (nativeOptions, onStep, cancel) => native.u1FlowTrain(init.nativeShape, init.nativeCoupling, init.params, nativeOptions, onStep, cancel),
    (b, o) => b.u1FlowTrain(init, o), options.signal);
  const r = await runLatticeTraining(o, options, train);
  return { model: new U1Flow(coupling, arch, r.params, r.record), loss: r.loss, ess: r.ess, seconds: r.seconds };
}

/** Options of `flow-train --target u1` (registered by the CLI's target registry). */
export interface U1FlowCliOptions extends LatticeCliOptions {
  beta: number;
}

/** Trains the tutorial's architecture and saves the model to `out`; returns the training summary. */
export async function trainU1FlowFromCli(options: U1FlowCliOptions): Promise<LatticeCliSummary> {
  return trainAndSaveFromCli(options, (o) => trainU1Flow({ ...o, L: options.lattice, beta: options.beta }));
}
