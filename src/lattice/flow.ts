/**
 * Normalizing flow for φ⁴ theory (issue 5, item 4), the architecture of Albergo et al.,
 * "Introduction to normalizing flows for lattice field theory" (arXiv:2101.08176): prior
 * N(0, 1) per site, affine coupling layers on alternating checkerboard masks, each net a CNN of
 * circular 3×3 convolutions (hidden channels [8, 8], LeakyReLU, tanh output) giving s and t.
 * Kernels: kernels/lattice/checkerboard_flow.h; N-API: native/lattice_flow.cc. Trained by reverse
 * KL against e^{−S}; sampled by flow-based independence Metropolis.
 */
import { SbiError } from '../errors.js';
import { decodeModelFile, encodeModelFile, loadModelFile, saveModelFile, type ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import { native } from '../native.js';
import { PhiloxStream } from '../random/philox.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { checkFinite, checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';
import { twoPointSusceptibility, type Phi4Coupling, type SusceptibilityEstimate } from './phi4.js';

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
  readonly training?: { steps: number; batch: number; learningRate: number; seed: string; finalLoss: number; finalEss: number };

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
   */
  async sample(options: { n: number; seed: number | bigint; offset?: number; threads?: number; keepPhi?: boolean;
    onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<FlowSamples> {
    const n = checkPositiveInteger(options.n, 'n', 2 ** 40);
    const nativeOptions = {
      seed: checkSeed(options.seed), n,
      ...(options.offset !== undefined ? { offset: checkNonNegativeInteger(options.offset, 'offset') } : {}),
      ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
    };
    const out: FlowSamples = {
      magnetization: new Float64Array(n), action: new Float64Array(n), logq: new Float64Array(n),
      ...(options.keepPhi ? { phi: new Float64Array(n * this.sites) } : {}),
    };
    if (options.signal?.aborted) throw abortError();
    const cancel = new Int32Array(1);
    await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
      native.phi4FlowSampleAsync(this.nativeShape, this.nativeCoupling, this.params, nativeOptions, out.magnetization, out.action,
        out.logq, out.phi, options.onProgress, cancel));
    return out;
  }

  /** The model file (kind "lattice/phi4-flow", format of src/io/model_file.ts). */
  toModelFile(): ModelFile {
    return {
      kind: PHI4_FLOW_KIND,
      metadata: { coupling: { ...this.coupling }, architecture: { ...this.architecture }, ...(this.training ? { training: this.training } : {}) },
      tensors: { params: { data: this.params, shape: [this.params.length] } },
    };
  }

  encode(): Uint8Array {
    return encodeModelFile(this.toModelFile());
  }

  save(path: string): void {
    saveModelFile(path, this.toModelFile());
  }

  static fromModelFile(file: ModelFile): Phi4Flow {
    const r = new ModelFileReader(file, 'phi4 flow');
    if (file.kind !== PHI4_FLOW_KIND) throw new SbiError(`Expected a model file of kind "${PHI4_FLOW_KIND}" but this one holds "${file.kind}"`, 'WRONG_MODEL_KIND');
    const m = file.metadata as { coupling?: Phi4Coupling; architecture?: Phi4FlowArchitecture; training?: Phi4Flow['training'] };
    let coupling: Phi4Coupling, architecture: Phi4FlowArchitecture;
    try {
      coupling = checkCoupling(m.coupling as Phi4Coupling);
      architecture = checkArchitecture(m.architecture);
    } catch (e) {
      throw r.invalid(`bad coupling or architecture (${(e as Error).message})`);
    }
    const params = r.finiteTensor('params', Float64Array, Phi4Flow.paramCount(coupling.L, architecture));
    return new Phi4Flow(coupling, architecture, params, m.training);
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

export interface TrainPhi4FlowOptions extends Phi4Coupling, Partial<Phi4FlowArchitecture> {
  steps: number;
  /** Configurations per step (64). */
  batch?: number;
  /** Adam's learning rate (1e-3, as the tutorial). */
  learningRate?: number;
  seed: number | bigint;
  threads?: number;
  /** Called after every step with the batch's loss and the ESS (fraction) of its importance weights. */
  onProgress?: (p: { step: number; steps: number; loss: number; ess: number }) => void;
  signal?: AbortSignal;
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
 */
export async function trainPhi4Flow(options: TrainPhi4FlowOptions): Promise<TrainPhi4FlowResult> {
  const coupling = checkCoupling({ L: options.L, m2: options.m2, lambda: options.lambda });
  const arch = checkArchitecture({
    ...(options.layers !== undefined ? { layers: options.layers } : {}), ...(options.hidden !== undefined ? { hidden: options.hidden } : {}),
    ...(options.depth !== undefined ? { depth: options.depth } : {}), ...(options.kernel !== undefined ? { kernel: options.kernel } : {}),
  });
  const steps = checkPositiveInteger(options.steps, 'steps', 2 ** 32 - 1);
  const batch = checkPositiveInteger(options.batch ?? 64, 'batch', 2 ** 20);
  const learningRate = checkFinite(options.learningRate ?? 1e-3, 'learningRate');
  if (!(learningRate > 0 && learningRate <= 1)) throw new RangeError(`Expected \`learningRate\` in (0, 1] but received ${learningRate}`);
  const seed = checkSeed(options.seed);
  const threads = options.threads === undefined ? undefined : checkThreads(options.threads);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError(`Expected a function for \`onProgress\` but received ${describe(options.onProgress)}`);
  }
  const init = Phi4Flow.init(coupling, arch, seed);
  if (options.signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  const onStep = options.onProgress
    ? (e: { epoch: number; trainLoss: number; validationLoss: number }) =>
      options.onProgress!({ step: e.epoch, steps, loss: e.trainLoss, ess: e.validationLoss })
    : undefined;
  const t0 = performance.now();
  const r = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    native.phi4FlowTrain(init.nativeShape, init.nativeCoupling, init.params,
      { seed, steps, batchSize: batch, learningRate, ...(threads !== undefined ? { threads } : {}) }, onStep, cancel));
  const seconds = (performance.now() - t0) / 1000;
  const tail = (a: Float64Array) => {
    const k = Math.min(a.length, 100);
    let s = 0;
    for (let i = a.length - k; i < a.length; i++) s += a[i]!;
    return s / k;
  };
  const model = new Phi4Flow(coupling, arch, r.params, {
    steps, batch, learningRate, seed: String(seed), finalLoss: tail(r.loss), finalEss: tail(r.ess),
  });
  return { model, loss: r.loss, ess: r.ess, seconds };
}

export interface FlowMetropolisOptions {
  /** Chain length (proposals). */
  n: number;
  seed: number | bigint;
  /** Chain records dropped from the start (default 0: the chain starts from a flow draw, already in equilibrium up to q ≠ p). */
  burnIn?: number;
  threads?: number;
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

/**
 * Flow-based independence Metropolis (Albergo, Kanwar, Shanahan, arXiv:1904.12072): proposals
 * φ' ~ q independent of the state, accepted with min(1, w(φ')/w(φ)), w = e^{−S}/q. Proposal i
 * is Philox stream i of seed (Phi4Flow.sample); the accept uniforms come from one further stream
 * of the same seed (2⁶³), so the chain is fixed by the seed for any thread count.
 */
export async function flowMetropolis(model: Phi4Flow, options: FlowMetropolisOptions): Promise<FlowMetropolisResult> {
  if (!(model instanceof Phi4Flow)) throw new TypeError(`Expected a Phi4Flow for \`model\` but received ${describe(model)}`);
  const n = checkPositiveInteger(options.n, 'n', 2 ** 40);
  if (n < 2) throw new RangeError(`Expected \`n\` of at least 2 but received ${n}`);
  const burnIn = checkNonNegativeInteger(options.burnIn ?? 0, 'burnIn');
  if (burnIn > n - 2) throw new RangeError(`Expected \`burnIn\` below n − 1 = ${n - 1} but received ${burnIn}`);
  const seed = checkSeed(options.seed);
  const s = await model.sample({
    n, seed, ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
  });
  const logw = new Float64Array(n);
  let maxW = -Infinity;
  for (let i = 0; i < n; i++) {
    logw[i] = -s.action[i]! - s.logq[i]!;
    if (!Number.isFinite(logw[i]!)) throw new SbiError(`The flow produced a non-finite weight at draw ${i} (S = ${s.action[i]}, log q = ${s.logq[i]})`, 'NON_FINITE');
    if (logw[i]! > maxW) maxW = logw[i]!;
  }
  let s1 = 0, s2 = 0;
  for (const w of logw) {
    const e = Math.exp(w - maxW);
    s1 += e;
    s2 += e * e;
  }
  const rng = new PhiloxStream(seed, 1n << 63n);
  const chain = new Float64Array(n);
  let cur = 0, accepted = 0, run = 0, longest = 0;
  chain[0] = s.magnetization[0]!;
  for (let i = 1; i < n; i++) {
    const u = rng.uniform();
    if (Math.log(u) < logw[i]! - logw[cur]!) {
      cur = i;
      accepted++;
      run = 0;
    } else if (++run > longest) longest = run;
    chain[i] = s.magnetization[cur]!;
  }
  const kept = chain.subarray(burnIn);
  return {
    n, acceptance: accepted / (n - 1), susceptibility: twoPointSusceptibility(kept, model.sites), ess: (s1 * s1) / (n * s2),
    magnetization: Float64Array.from(kept), longestRejectionRun: longest,
  };
}

/** Options of `flow-train --target phi4` (registered by the CLI's target registry). */
export interface Phi4FlowCliOptions {
  lattice: number;
  m2: number;
  lambda: number;
  steps: number;
  batch: number;
  seed: number | bigint;
  out: string;
  /** Adam's learning rate (default 1e-3, the tutorial's). */
  learningRate?: number;
  threads?: number;
  onProgress?: (p: { step: number; steps: number; loss: number; ess: number }) => void;
}

/** Trains the tutorial's architecture and saves the model to `out`; returns the training summary. */
export async function trainPhi4FlowFromCli(options: Phi4FlowCliOptions): Promise<{ steps: number; seconds: number; loss: number; ess: number; out: string }> {
  if (typeof options.out !== 'string' || options.out.length === 0) throw new TypeError(`Expected a path for \`out\` but received ${describe(options.out)}`);
  const r = await trainPhi4Flow({
    L: options.lattice, m2: options.m2, lambda: options.lambda, steps: options.steps, batch: options.batch, seed: options.seed,
    ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  r.model.save(options.out);
  return { steps: options.steps, seconds: r.seconds, loss: r.model.training!.finalLoss, ess: r.model.training!.finalEss, out: options.out };
}
