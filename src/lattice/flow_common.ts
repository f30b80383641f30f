/**
 * What the lattice flows (φ⁴: src/lattice/flow.ts, U(1): src/lattice/u1_flow.ts) share: the
 * checks and the run of a native reverse-KL training (native/lattice_flow.cc's shared trainer),
 * and the flow-based independence Metropolis chain over a flow's recorded draws.
 */
import type { Backend, BackendRequest } from '../backend/backend.js';
import type { LatticeFlowTrainOptions, LatticeFlowTrainResult } from '../backend/lattice_cpu.js';
import { SbiError } from '../errors.js';
import type { ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import type { NativeEpochLosses } from '../native.js';
import { PhiloxStream } from '../random/philox.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { checkFinite, checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';

/** Options of a reverse-KL training run common to every lattice flow. */
export interface LatticeTrainOptions {
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

/** What training records in a model (absent for an untrained flow). */
export interface LatticeTrainingRecord {
  steps: number;
  batch: number;
  learningRate: number;
  seed: string;
  finalLoss: number;
  finalEss: number;
}

export interface CheckedTrainOptions {
  steps: number;
  batch: number;
  learningRate: number;
  seed: number | bigint;
  threads?: number;
}

export function checkTrainOptions(options: LatticeTrainOptions): CheckedTrainOptions {
  const steps = checkPositiveInteger(options.steps, 'steps', 2 ** 32 - 1);
  const batch = checkPositiveInteger(options.batch ?? 64, 'batch', 2 ** 20);
  const learningRate = checkFinite(options.learningRate ?? 1e-3, 'learningRate');
  if (!(learningRate > 0 && learningRate <= 1)) throw new RangeError(`Expected \`learningRate\` in (0, 1] but received ${learningRate}`);
  const seed = checkSeed(options.seed);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError(`Expected a function for \`onProgress\` but received ${describe(options.onProgress)}`);
  }
  return { steps, batch, learningRate, seed, ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}) };
}

type NativeTrain = (options: { seed: number | bigint; steps: number; batchSize: number; learningRate: number; threads?: number },
  onStep: ((e: NativeEpochLosses) => void) | undefined, cancel: Int32Array) => Promise<{ params: Float64Array; loss: Float64Array; ess: Float64Array }>;

/**
 * The trainer of a run: the native one, or, when `backend` names another backend that runs `op`,
 * that backend's training op (the same draws and steps; `threads` does not apply there).
 */
export async function latticeTrainer(backend: BackendRequest | undefined, op: 'lattice.phi4_flow_train' | 'lattice.u1_flow_train', nativeTrain: NativeTrain,
  deviceTrain: (b: Backend, o: LatticeFlowTrainOptions) => Promise<LatticeFlowTrainResult>, signal?: AbortSignal): Promise<NativeTrain> {
  if ((backend ?? 'cpu') === 'cpu') return nativeTrain;
  const { backendForOp } = await import('../backend/backend.js');
  const b = await backendForOp(backend!, op);
  if (b.name === 'cpu') return nativeTrain;
  return (o, onStep) => deviceTrain(b, {
    steps: o.steps, batch: o.batchSize, learningRate: o.learningRate, seed: o.seed,
    ...(onStep ? { onStep: (p: { step: number; loss: number; ess: number }) => onStep({ epoch: p.step, trainLoss: p.loss, validationLoss: p.ess }) } : {}),
    ...(signal ? { signal } : {}),
  });
}

/**
 * Runs a native trainer off the event loop with progress and abort; returns its parameters, the
 * per-step loss and ESS, the wall time and the record (final loss and ESS: means of the last 100 steps).
 */
export async function runLatticeTraining(o: CheckedTrainOptions, options: LatticeTrainOptions, train: NativeTrain):
Promise<{ params: Float64Array; loss: Float64Array; ess: Float64Array; seconds: number; record: LatticeTrainingRecord }> {
  if (options.signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  const onStep = options.onProgress
    ? (e: NativeEpochLosses) => options.onProgress!({ step: e.epoch, steps: o.steps, loss: e.trainLoss, ess: e.validationLoss })
    : undefined;
  const t0 = performance.now();
  const r = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    train({ seed: o.seed, steps: o.steps, batchSize: o.batch, learningRate: o.learningRate, ...(o.threads !== undefined ? { threads: o.threads } : {}) },
      onStep, cancel));
  const seconds = (performance.now() - t0) / 1000;
  const tail = (a: Float64Array) => {
    const k = Math.min(a.length, 100);
    let s = 0;
    for (let i = a.length - k; i < a.length; i++) s += a[i]!;
    return s / k;
  };
  return {
    ...r, seconds,
    record: { steps: o.steps, batch: o.batch, learningRate: o.learningRate, seed: String(o.seed), finalLoss: tail(r.loss), finalEss: tail(r.ess) },
  };
}

/** Checks a chain's length and burn-in. */
export function checkChainOptions(options: { n: number; burnIn?: number; seed: number | bigint }): { n: number; burnIn: number; seed: number | bigint } {
  const n = checkPositiveInteger(options.n, 'n', 2 ** 40);
  if (n < 2) throw new RangeError(`Expected \`n\` of at least 2 but received ${n}`);
  const burnIn = checkNonNegativeInteger(options.burnIn ?? 0, 'burnIn');
  if (burnIn > n - 2) throw new RangeError(`Expected \`burnIn\` below n − 1 = ${n - 1} but received ${burnIn}`);
  return { n, burnIn, seed: checkSeed(options.seed) };
}

/**
 * The independence Metropolis chain over n flow draws (Albergo, Kanwar, Shanahan,
 * arXiv:1904.12072): draw i is proposed at step i and accepted with min(1, w_i / w_cur),
 * w = e^{−S}/q; the accept uniforms come from Philox stream 2⁶³ of `seed`. Returns the
 * observable after each step (burn-in dropped), the acceptance, the ESS fraction of the
 * importance weights, (Σw)² / (n Σw²), and the longest run of rejections.
 */
export function independenceChain(draws: { observable: Float64Array; action: Float64Array; logq: Float64Array }, seed: number | bigint,
  burnIn: number): { chain: Float64Array; acceptance: number; ess: number; longestRejectionRun: number } {
  const n = draws.logq.length;
  const logw = new Float64Array(n);
  let maxW = -Infinity;
  for (let i = 0; i < n; i++) {
    logw[i] = -draws.action[i]! - draws.logq[i]!;
    if (!Number.isFinite(logw[i]!)) throw new SbiError(`The flow produced a non-finite weight at draw ${i} (S = ${draws.action[i]}, log q = ${draws.logq[i]})`, 'NON_FINITE');
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
  chain[0] = draws.observable[0]!;
  for (let i = 1; i < n; i++) {
    const u = rng.uniform();
    if (Math.log(u) < logw[i]! - logw[cur]!) {
      cur = i;
      accepted++;
      run = 0;
    } else if (++run > longest) longest = run;
    chain[i] = draws.observable[cur]!;
  }
  return { chain: chain.slice(burnIn), acceptance: accepted / (n - 1), ess: (s1 * s1) / (n * s2), longestRejectionRun: longest };
}

/** Options every lattice target of `flow-train` takes (registered by the CLI's target registry). */
export interface LatticeCliOptions {
  lattice: number;
  steps: number;
  batch: number;
  seed: number | bigint;
  out: string;
  /** Adam's learning rate (default 1e-3, the tutorial's). */
  learningRate?: number;
  threads?: number;
  /** Where the steps run (trainPhi4Flow / trainU1Flow's `backend`; default 'cpu'). */
  backend?: BackendRequest;
  onProgress?: (p: { step: number; steps: number; loss: number; ess: number }) => void;
}

export interface LatticeCliSummary {
  steps: number;
  seconds: number;
  /** Mean loss and batch ESS of the last 100 steps. */
  loss: number;
  ess: number;
  out: string;
}

/** Trains with `train` (given the common options) and saves the model to `out`; returns the training summary. */
export async function trainAndSaveFromCli(options: LatticeCliOptions,
  train: (o: LatticeTrainOptions & { backend?: BackendRequest }) => Promise<{ model: { save(path: string): void; readonly training?: LatticeTrainingRecord }; seconds: number }>):
Promise<LatticeCliSummary> {
  if (typeof options.out !== 'string' || options.out.length === 0) throw new TypeError(`Expected a path for \`out\` but received ${describe(options.out)}`);
  const r = await train({
    steps: options.steps, batch: options.batch, seed: options.seed,
    ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  });
  r.model.save(options.out);
  return { steps: options.steps, seconds: r.seconds, loss: r.model.training!.finalLoss, ess: r.model.training!.finalEss, out: options.out };
}

/** The checked options of a lattice flow's native sampler: draw i from Philox stream offset + i of seed. */
export function latticeSampleOptions(options: { n: number; seed: number | bigint; offset?: number; threads?: number }): {
  n: number; nativeOptions: { seed: number | bigint; n: number; offset?: number; threads?: number };
} {
  const n = checkPositiveInteger(options.n, 'n', 2 ** 40);
  return {
    n,
    nativeOptions: {
      seed: checkSeed(options.seed), n,
      ...(options.offset !== undefined ? { offset: checkNonNegativeInteger(options.offset, 'offset') } : {}),
      ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
    },
  };
}

/** Runs a native job that polls a cancel flag, off the event loop; an abort of `signal` sets the flag (SbiError ABORTED). */
export async function runCancellable(signal: AbortSignal | undefined, run: (cancel: Int32Array) => Promise<unknown>): Promise<void> {
  if (signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  await whileAbortable(signal, () => Atomics.store(cancel, 0, 1), () => run(cancel));
}

/** What a lattice flow's model file holds (src/io/model_file.ts): kind, coupling, architecture, training record, parameters. */
export interface LatticeFlowContents<C, A> {
  coupling: C;
  architecture: A;
  params: Float64Array;
  training?: LatticeTrainingRecord;
}

export function latticeModelFile<C extends object, A extends object>(kind: string, flow: LatticeFlowContents<C, A>): ModelFile {
  return {
    kind,
    metadata: { coupling: { ...flow.coupling }, architecture: { ...flow.architecture }, ...(flow.training ? { training: flow.training } : {}) },
    tensors: { params: { data: flow.params, shape: [flow.params.length] } },
  };
}

/**
 * Reads a lattice flow's model file, checked: its kind (WRONG_MODEL_KIND), the coupling and
 * architecture (by the flow's own checks), and finite parameters of the architecture's count.
 */
export function readLatticeModelFile<C, A>(
  file: ModelFile, kind: string, label: string, check: { coupling(c: C): C; architecture(a: unknown): A; paramCount(c: C, a: A): number },
): LatticeFlowContents<C, A> {
  const r = new ModelFileReader(file, label);
  if (file.kind !== kind) throw new SbiError(`Expected a model file of kind "${kind}" but this one holds "${file.kind}"`, 'WRONG_MODEL_KIND');
  const m = file.metadata as { coupling?: C; architecture?: unknown; training?: LatticeTrainingRecord };
  let coupling: C, architecture: A;
  try {
    coupling = check.coupling(m.coupling as C);
    architecture = check.architecture(m.architecture);
  } catch (e) {
    throw r.invalid(`bad coupling or architecture (${(e as Error).message})`);
  }
  const params = r.finiteTensor('params', Float64Array, check.paramCount(coupling, architecture));
  return { coupling, architecture, params, ...(m.training ? { training: m.training } : {}) };
}
