/**
 * Normalizing flow for φ⁴ theory (issue 5, item 4), the architecture of Albergo et al.,
 * "Introduction to normalizing flows for lattice field theory" (arXiv:2101.08176): prior
 * N(0, 1) per site, affine coupling layers on alternating checkerboard masks, each net a CNN of
 * circular 3×3 convolutions (hidden channels [8, 8], LeakyReLU, tanh output) giving s and t.
 * Kernels: kernels/lattice/checkerboard_flow.h; N-API: native/lattice_flow.cc. Trained by reverse
 * KL against e^{−S}; sampled by flow-based independence Metropolis.
 */
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile, type ModelFile } from '../io/model_file.js';
import { native } from '../native.js';
import { checkFinite, checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';
import { integratedAutocorrelation } from './autocorrelation.js';
import {
  checkChainOptions, checkTrainOptions, independenceChain, latticeModelFile, latticeTrainer, latticeSampleOptions, readLatticeModelFile, runCancellable, runLatticeTraining, trainAndSaveFromCli, type LatticeCliOptions,
  type LatticeCliSummary, type LatticeTrainingRecord, type LatticeTrainOptions,
} from './flow_common.js';
import { twoPointSusceptibility, type Phi4Coupling, type SusceptibilityEstimate } from './phi4.js';
import { U1Flow } from './u1_flow.js';
import type { BackendRequest } from '../backend/backend.js';

export const PHI4_FLOW_KIND = 'lattice/phi4-flow';

export interface Phi4FlowArchitecture {
  /** Coupling layers (16 in the tutorial). */
  layers: number;
  /** Channels of each hidden conv layer (8). */
  hidden: number;
  /** Hidden conv layers per coupling net (2: hidden channels [8, 8]). */
  depth: number;
  /** Odd kernel extent (3). */
  kernel: number;
}

export const TUTORIAL_ARCHITECTURE: Readonly<Phi4FlowArchitecture> = Object.freeze({ layers: 16, hidden: 8, depth: 2, kernel: 3 });

function checkArchitecture(a: Partial<Phi4FlowArchitecture> = {}): Phi4FlowArchitecture {
  const r = { ...TUTORIAL_ARCHITECTURE, ...a };
  checkPositiveInteger(r.layers, 'layers', 1024);
  checkPositiveInteger(r.hidden, 'hidden', 1024);
  checkNonNegativeInteger(r.depth, 'depth');
  if (r.depth > 15) throw new RangeError(`Expected \`depth\` at most 15 but received ${r.depth}`);
  checkPositiveInteger(r.kernel, 'kernel', 15);
  if (r.kernel % 2 === 0) throw new RangeError(`Expected an odd \`kernel\` but received ${r.kernel}`);
  return { layers: r.layers, hidden: r.hidden, depth: r.depth, kernel: r.kernel };
}

function checkCoupling(c: Phi4Coupling): Phi4Coupling {
  if (typeof c !== 'object' || c === null) throw new TypeError(`Expected a coupling { L, m2, lambda } but received ${describe(c)}`);
  const L = checkPositiveInteger(c.L, 'L', 1024);
  if (L < 2) throw new RangeError(`Expected \`L\` of at least 2 but received ${L}`);
  const m2 = checkFinite(c.m2, 'm2');
  const lambda = checkFinite(c.lambda, 'lambda');
  if (lambda < 0 || (lambda === 0 && m2 <= 0)) {
    throw new RangeError(`Expected lambda > 0, or lambda = 0 with m2 > 0 (a normalisable e^-S), but received m2 = ${m2}, lambda = ${lambda}`);
  }
  return { L, m2, lambda };
}

function checkConfigs(a: unknown, V: number, name: string): Float64Array {
  if (!(a instanceof Float64Array) || a.length === 0 || a.length % V !== 0) {
    throw new RangeError(`Expected \`${name}\` to be a Float64Array of whole configurations of ${V} sites but received ${describe(a)}`);
  }
  return a;
}

/** A trained (or freshly initialised) flow q(φ) for the φ⁴ action with `coupling`. */
export class Phi4Flow {
  readonly coupling: Phi4Coupling;
  readonly architecture: Phi4FlowArchitecture;
  readonly params: Float64Array;
  /** What training recorded (absent for an untrained flow). */
  readonly training?: LatticeTrainingRecord;

  constructor(coupling: Phi4Coupling, architecture: Partial<Phi4FlowArchitecture>, params: Float64Array,
    training?: Phi4Flow['training']) {
    this.coupling = checkCoupling(coupling);
    this.architecture = checkArchitecture(architecture);
    const P = Phi4Flow.paramCount(this.coupling.L, this.architecture);
    if (!(params instanceof Float64Array) || params.length !== P) {
      throw new RangeError(`Expected \`params\` to be a Float64Array of ${P} values but received ${describe(params)}`);
    }
    params.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new RangeError(`Expected finite \`params\` but params[${i}] is ${v}`);
    });
    this.params = params;
    if (training) this.training = training;
  }

  /** Parameters of the flow: per layer, convs 1→H, (H→H)×(depth−1), H→2, each K² weights per channel pair plus biases. */
  static paramCount(_L: number, a: Phi4FlowArchitecture): number {
    let n = 0;
    for (let k = 0; k <= a.depth; k++) {
      const cIn = k === 0 ? 1 : a.hidden, cOut = k === a.depth ? 2 : a.hidden;
      n += cOut * cIn * a.kernel * a.kernel + cOut;
    }
    return a.layers * n;
  }

  /** A flow with torch's default Conv2d initialisation U(±1/√fan_in), drawn by Philox from `seed`. */
  static init(coupling: Phi4Coupling, architecture: Partial<Phi4FlowArchitecture> = {}, seed: number | bigint = 0): Phi4Flow {
    const c = checkCoupling(coupling), a = checkArchitecture(architecture);
    const params = new Float64Array(Phi4Flow.paramCount(c.L, a));
    native.phi4FlowInit(shapeOf(c.L, a), checkSeed(seed), params);
    return new Phi4Flow(c, a, params);
  }

  get sites(): number {
    return this.coupling.L * this.coupling.L;
  }

  /** @internal The native shape [L, layers, hidden, depth, K]. */
  get nativeShape(): Int32Array {
    return shapeOf(this.coupling.L, this.architecture);
  }

  /** @internal [m², λ]. */
  get nativeCoupling(): Float64Array {
    return Float64Array.of(this.coupling.m2, this.coupling.lambda);
  }

  /** φ = f(z) and log q(φ) for base draws z [n, V]. */
  forward(z: Float64Array, threads?: number): { phi: Float64Array; logq: Float64Array } {
    const n = checkConfigs(z, this.sites, 'z').length / this.sites;
    const phi = new Float64Array(z.length), logq = new Float64Array(n);
    native.phi4FlowForward(this.nativeShape, this.params, z, phi, logq, threads === undefined ? undefined : checkThreads(threads));
    return { phi, logq };
  }

  /** z = f⁻¹(φ) and log q(φ) of configurations φ [n, V]. */
  inverse(phi: Float64Array, threads?: number): { z: Float64Array; logq: Float64Array } {
    const n = checkConfigs(phi, this.sites, 'phi').length / this.sites;
    const z = new Float64Array(phi.length), logq = new Float64Array(n);
    native.phi4FlowInverse(this.nativeShape, this.params, phi, z, logq, threads === undefined ? undefined : checkThreads(threads));
    return { z, logq };
  }

  /**
   * log q(φ) and z = f⁻¹(φ) of configurations φ [n, V] (`inverse` with a choice of backend):
   * `backend` 'cpu' (default: the native inverse in double), 'webgpu' (op
   * lattice.phi4_flow_log_prob: f32, within the op's tolerance of the CPU), 'cuda' (the same
   * inverse in double, one thread per configuration) or 'auto'.
   */
  async logProb(phi: Float64Array, options: { backend?: BackendRequest; threads?: number } = {}): Promise<{ z: Float64Array; logq: Float64Array }> {
    checkConfigs(phi, this.sites, 'phi');
    if (options.backend !== undefined && options.backend !== 'cpu') {
      const { backendForOp } = await import('../backend/backend.js');
      const b = await backendForOp(options.backend, 'lattice.phi4_flow_log_prob');
      if (b.name !== 'cpu') return b.phi4FlowLogProb(this, phi);
    }
    return this.inverse(phi, options.threads);
  }

  /** The reverse-KL loss mean(log q(f(z)) + S(f(z))) over base draws z [n, V], and its parameter gradient. */
  lossAndGrad(z: Float64Array): { loss: number; grad: Float64Array } {
    checkConfigs(z, this.sites, 'z');
    const grad = new Float64Array(this.params.length);
    const loss = native.phi4FlowLossGrad(this.nativeShape, this.nativeCoupling, this.params, z, grad);
    return { loss, grad };
  }

  /**
   * n independent draws φ ~ q (draw i from Philox stream offset + i of seed) with their
   * magnetization M, action S(φ) and log q(φ); `keepPhi` also returns the configurations.
   * `symmetric` draws from the Z2-symmetrised proposal q_s(φ) = ½(q(φ) + q(−φ)) of the action's
   * symmetry φ → −φ instead: f(z) is flipped to −f(z) with probability ½ (the uniform from block 2⁶³
   * of the draw's stream) and log q_s is the log-sum-exp of log q(φ) and log q(−φ) (the inverse
   * pass) minus log 2. A flow that favours one sign of M (or misses a mode) is repaired exactly:
   * q_s is a normalised density with q_s(φ) = q_s(−φ), so independence Metropolis stays exact.
   * `backend` (default 'cpu', the native sampler in double): 'webgpu' draws on the device (op
   * lattice.phi4_flow_sample: the same Philox base normals, the flow in f32, within the op's
   * tolerance of the CPU's draws, `symmetric` included; `threads` does not apply), 'cuda' runs the
   * CPU sampler's per-draw function in double, one thread per draw (kernels/lattice/checkerboard_flow.cu),
   * 'auto' picks as selectBackend does.
   */
  async sample(options: { n: number; seed: number | bigint; offset?: number; threads?: number; keepPhi?: boolean;
    symmetric?: boolean; backend?: BackendRequest; onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<FlowSamples> {
    if (options.symmetric !== undefined && typeof options.symmetric !== 'boolean') {
      throw new TypeError(`Expected a boolean for \`symmetric\` but received ${describe(options.symmetric)}`);
    }
    const { n, nativeOptions } = latticeSampleOptions(options);
    const backend = options.backend ?? 'cpu';
    if (backend !== 'cpu') {
      const { backendForOp } = await import('../backend/backend.js');
      const b = await backendForOp(backend, 'lattice.phi4_flow_sample');
      if (b.name !== 'cpu') {
        const d = await b.phi4FlowSample(this, {
          n, seed: nativeOptions.seed, ...(options.offset !== undefined ? { offset: options.offset } : {}), keepPhi: options.keepPhi === true,
          ...(options.symmetric ? { symmetric: true } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
        });
        return { magnetization: d.magnetization, action: d.action, logq: d.logq, ...(d.phi ? { phi: d.phi } : {}) };
      }
    }
    const out: FlowSamples = {
      magnetization: new Float64Array(n), action: new Float64Array(n), logq: new Float64Array(n),
      ...(options.keepPhi ? { phi: new Float64Array(n * this.sites) } : {}),
    };
    await runCancellable(options.signal, (cancel) =>
      native.phi4FlowSampleAsync(this.nativeShape, this.nativeCoupling, this.params, { ...nativeOptions, ...(options.symmetric ? { symmetric: true } : {}) },
        out.magnetization, out.action, out.logq, out.phi, options.onProgress, cancel));
    return out;
  }

  /** The model file (kind "lattice/phi4-flow", format of src/io/model_file.ts). */
  toModelFile(): ModelFile {
    return latticeModelFile(PHI4_FLOW_KIND, this);
  }

  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  static fromModelFile(file: ModelFile): Phi4Flow {
    const m = readLatticeModelFile<Phi4Coupling, Phi4FlowArchitecture>(file, PHI4_FLOW_KIND, 'phi4 flow', {
      coupling: checkCoupling, architecture: checkArchitecture, paramCount: (c, a) => Phi4Flow.paramCount(c.L, a),
    });
    return new Phi4Flow(m.coupling, m.architecture, m.params, m.training);
  }

  static decode(bytes: Uint8Array): Phi4Flow {
    return Phi4Flow.fromModelFile(decodeModelFile(bytes, { expectedKind: PHI4_FLOW_KIND }));
  }

  static load(path: string): Phi4Flow {
    return Phi4Flow.fromModelFile(loadModelFile(path, { expectedKind: PHI4_FLOW_KIND }));
  }
}

function shapeOf(L: number, a: Phi4FlowArchitecture): Int32Array {
  return Int32Array.of(L, a.layers, a.hidden, a.depth, a.kernel);
}

export interface FlowSamples {
  magnetization: Float64Array;
  action: Float64Array;
  logq: Float64Array;
  phi?: Float64Array;
}

export interface TrainPhi4FlowOptions extends Phi4Coupling, Partial<Phi4FlowArchitecture>, LatticeTrainOptions {
  /** Where the steps run (default 'cpu'; 'webgpu': op lattice.phi4_flow_train, f32). */
  backend?: BackendRequest;
  /**
   * Start from this flow's parameters instead of a fresh initialisation (same coupling and
   * architecture): continues a training run, e.g. at a lower learning rate (Adam's moments start
   * afresh; use another seed so the steps draw new configurations).
   */
  init?: Phi4Flow;
}

export interface TrainPhi4FlowResult {
  model: Phi4Flow;
  /** Per step: the batch-mean reverse-KL loss mean(log q + S) (= KL(q‖p) − log Z) and the batch ESS fraction. */
  loss: Float64Array;
  ess: Float64Array;
  seconds: number;
}

/**
 * Trains a flow by reverse KL: each step draws `batch` base configurations (configuration b of
 * step t from Philox stream t·2³² + b of seed), pushes them through the flow and takes an Adam
 * step on mean(log q(φ) + S(φ)). Off the event loop; identical for any thread count.
 * `backend` (default 'cpu': the native trainer in double): 'webgpu' runs the steps on the device
 * (op lattice.phi4_flow_train: the same draws, the forward and backward passes and Adam in f32;
 * `threads` does not apply; a batch must fit one launch), 'auto' picks as selectBackend does.
 */
export async function trainPhi4Flow(options: TrainPhi4FlowOptions): Promise<TrainPhi4FlowResult> {
  const coupling = checkCoupling({ L: options.L, m2: options.m2, lambda: options.lambda });
  const arch = checkArchitecture({
    ...(options.layers !== undefined ? { layers: options.layers } : {}), ...(options.hidden !== undefined ? { hidden: options.hidden } : {}),
    ...(options.depth !== undefined ? { depth: options.depth } : {}), ...(options.kernel !== undefined ? { kernel: options.kernel } : {}),
  });
  const o = checkTrainOptions(options);
  if (options.init !== undefined) {
    const i = options.init;
    if (!(i instanceof Phi4Flow)) throw new TypeError(`Expected a Phi4Flow for \`init\` but received ${describe(i)}`);
    const same = (Object.keys(coupling) as Array<keyof Phi4Coupling>).every((k) => i.coupling[k] === coupling[k]) &&
      (Object.keys(arch) as Array<keyof Phi4FlowArchitecture>).every((k) => i.architecture[k] === arch[k]);
    if (!same) {
      throw new RangeError(`Expected \`init\` with the coupling ${JSON.stringify(coupling)} and architecture ${JSON.stringify(arch)} ` +
        `but received ${JSON.stringify(i.coupling)} and ${JSON.stringify(i.architecture)}`);
    }
  }
  const init = options.init ?? Phi4Flow.init(coupling, arch, o.seed);
  const train = await latticeTrainer(options.backend, 'lattice.phi4_flow_train',
    (nativeOptions, onStep, cancel) => native.phi4FlowTrain(init.nativeShape, init.nativeCoupling, init.params, nativeOptions, onStep, cancel),
    (b, o) => b.phi4FlowTrain(init, o), options.signal);
  const r = await runLatticeTraining(o, options, train);
  return { model: new Phi4Flow(coupling, arch, r.params, r.record), loss: r.loss, ess: r.ess, seconds: r.seconds };
}

export interface FlowMetropolisOptions {
  /** Chain length (proposals). */
  n: number;
  seed: number | bigint;
  /** Chain records dropped from the start (default 0: the chain starts from a flow draw, already in equilibrium up to q ≠ p). */
  burnIn?: number;
  threads?: number;
  /**
   * φ⁴ only: propose from the Z2-symmetrised flow q_s(φ) = ½(q(φ) + q(−φ)) (Phi4Flow.sample's
   * `symmetric`; about twice the cost per proposal: one inverse pass more). Default false.
   */
  symmetric?: boolean;
  /**
   * Where the proposals are drawn (Phi4Flow.sample's or U1Flow.sample's `backend`; default 'cpu').
   * The chain itself runs on the host.
   */
  backend?: BackendRequest;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface FlowMetropolisResult {
  n: number;
  /** Fraction of proposals accepted. */
  acceptance: number;
  /** χ₂ from the chain with the τ_int-corrected error. */
  susceptibility: SusceptibilityEstimate;
  /** ESS of the importance weights p/q of the proposals, as a fraction of n. */
  ess: number;
  /** Chain magnetisation M after each step (burn-in dropped). */
  magnetization: Float64Array;
  /** Longest run of consecutive rejections. */
  longestRejectionRun: number;
}

export interface U1FlowMetropolisResult {
  n: number;
  /** Fraction of proposals accepted. */
  acceptance: number;
  /** ⟨Q²⟩ from the chain with its τ_int-corrected error and τ_int(Q²) (the "topological susceptibility"; χ_Q = ⟨Q²⟩/V). */
  meanQ2: { value: number; error: number; tau: number; tauError: number };
  /** τ_int of Q itself, to set beside HMC's. */
  tauQ: { tau: number; tauError: number };
  /** ESS of the importance weights p/q of the proposals, as a fraction of n. */
  ess: number;
  /** Chain topological charge Q after each step (burn-in dropped). */
  charge: Float64Array;
  /** Longest run of consecutive rejections. */
  longestRejectionRun: number;
}

/**
 * Flow-based independence Metropolis (Albergo, Kanwar, Shanahan, arXiv:1904.12072): proposals
 * x' ~ q independent of the state, accepted with min(1, w(x')/w(x)), w = e^{−S}/q. Proposal i
 * is Philox stream i of seed (the flow's `sample`); the accept uniforms come from one further
 * stream of the same seed (2⁶³), so the chain is fixed by the seed for any thread count.
 * φ⁴ (Phi4Flow): χ₂ and τ_int of M²/V; U(1) (U1Flow): ⟨Q²⟩, τ_int(Q) and τ_int(Q²).
 */
export async function flowMetropolis(model: U1Flow, options: FlowMetropolisOptions): Promise<U1FlowMetropolisResult>;
export async function flowMetropolis(model: Phi4Flow, options: FlowMetropolisOptions): Promise<FlowMetropolisResult>;
export async function flowMetropolis(model: Phi4Flow | U1Flow, options: FlowMetropolisOptions): Promise<FlowMetropolisResult | U1FlowMetropolisResult> {
  if (!(model instanceof Phi4Flow) && !(model instanceof U1Flow)) {
    throw new TypeError(`Expected a Phi4Flow or U1Flow for \`model\` but received ${describe(model)}`);
  }
  const { n, burnIn, seed } = checkChainOptions(options);
  const sampleOptions = {
    n, seed, ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
  };
  if (options.symmetric !== undefined && typeof options.symmetric !== 'boolean') {
    throw new TypeError(`Expected a boolean for \`symmetric\` but received ${describe(options.symmetric)}`);
  }
  if (model instanceof U1Flow) {
    if (options.symmetric) throw new RangeError('Expected `symmetric` false for a U1Flow: the symmetrised proposal is implemented for φ⁴ (φ → −φ) only');
    const s = await model.sample({ ...sampleOptions, ...(options.backend ? { backend: options.backend } : {}) });
    const c = independenceChain({ observable: s.charge, action: s.action, logq: s.logq }, seed, burnIn);
    const q2 = integratedAutocorrelation(c.chain.map((q) => q * q));
    const tq = integratedAutocorrelation(c.chain);
    return {
      n, acceptance: c.acceptance, ess: c.ess, charge: c.chain, longestRejectionRun: c.longestRejectionRun,
      meanQ2: { value: q2.mean, error: q2.meanError, tau: q2.tau, tauError: q2.tauError }, tauQ: { tau: tq.tau, tauError: tq.tauError },
    };
  }
  const s = await model.sample({ ...sampleOptions, ...(options.symmetric ? { symmetric: true } : {}), ...(options.backend ? { backend: options.backend } : {}) });
  const c = independenceChain({ observable: s.magnetization, action: s.action, logq: s.logq }, seed, burnIn);
  return {
    n, acceptance: c.acceptance, susceptibility: twoPointSusceptibility(c.chain, model.sites), ess: c.ess,
    magnetization: c.chain, longestRejectionRun: c.longestRejectionRun,
  };
}

/** Options of `flow-train --target phi4` (registered by the CLI's target registry). */
export interface Phi4FlowCliOptions extends LatticeCliOptions {
  m2: number;
  lambda: number;
}

/** Trains the tutorial's architecture and saves the model to `out`; returns the training summary. */
export async function trainPhi4FlowFromCli(options: Phi4FlowCliOptions): Promise<LatticeCliSummary> {
  return trainAndSaveFromCli(options, (o) => trainPhi4Flow({ ...o, L: options.lattice, m2: options.m2, lambda: options.lambda }));
}
