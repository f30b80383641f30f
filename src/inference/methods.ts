/**
 * One inference run on a task, the way sbibm runs an algorithm: spend `budget` simulations
 * (⌊budget / rounds⌋ per round of a sequential method, the last round taking the remainder),
 * train, and draw `samples` posterior
 * samples at one observation, timing each phase. The CLI's `infer` and `bench/sbibm.ts` both run
 * through here, so the two always agree on what a method does.
 */
import { backendForOp, simulateOp, type BackendName, type BackendRequest } from '../backend/backend.js';
import type { ProgressCallback } from '../progress.js';
import { simulateFromPrior, type Task } from '../tasks/index.js';
import { checkPositiveInteger, describe } from '../validate.js';
import type { NativeEpochLosses } from '../native.js';
import type { EmbeddingOptions } from './embedding.js';
import { MCMCPosterior, type MCMCSampleOptions } from './mcmc_posterior.js';
import { NLE, SNLE } from './nle.js';
import { NPE, type DensityEstimatorKind, type NPEPosterior } from './npe.js';
import { flowTrainingBackend } from './flow_estimator.js';
import { NRE, SNRE, ratioBackend, type NREVariant } from './nre.js';
import { taskSimulator, type SimulatorFunction } from './sequential.js';
import { SNPE } from './snpe.js';

/** The methods of the CLI contract (sbibm's names in lower case; NRE variants spelled out). */
export const METHODS = ['npe', 'snpe', 'nle', 'snle', 'nre-a', 'nre-b', 'nre-c', 'bnre', 'snre'] as const;
export type MethodName = (typeof METHODS)[number];
/** Methods whose rounds focus on one observation (their posterior is not amortised). */
export const SEQUENTIAL_METHODS: readonly MethodName[] = ['snpe', 'snle', 'snre'];

export interface RunMethodOptions {
  method: MethodName;
  /** Simulations in all (every round together). */
  budget: number;
  /** The observation [task xDim]. */
  x: Float64Array;
  /** Posterior samples to draw. */
  samples: number;
  seed: number | bigint;
  threads?: number;
  /** Flow of NPE / SNPE / NLE / SNLE (default 'maf', as sbi). */
  densityEstimator?: DensityEstimatorKind;
  /**
   * A jointly trained embedding network of x (npe, snpe and the NRE methods; nle and snle have
   * none: x is the variable their flow models, not a condition).
   */
  embedding?: EmbeddingOptions;
  /** Epoch cap per training (default: early stopping only). */
  maxEpochs?: number;
  /** Rounds of a sequential method (default 10, as sbibm). */
  rounds?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /**
   * Where the stages with kernels for it run (default 'cpu'; docs/backends.md): the simulations
   * (op simulate.<simulator>), NPE's and SNPE's posterior draws (flow.maf_sample / flow.mdn_sample),
   * NPE's, SNPE's, NLE's and SNLE's training when the estimator is a flow (with or without NPE's embedding
   * network: flow.maf_train, flow.maf_embedding_train) or an MDN (flow.mdn_train), SNPE's truncation
   * (flow.maf_sample / flow.maf_log_prob, or the MDN's ops) and NLE's MCMC potential (flow.maf_log_prob /
   * flow.mdn_log_prob); the NRE methods' training (nre.train, nre.embedding_train) and their MCMC potential
   * (nre.log_ratio), SNRE's rounds included. Other work has CPU kernels only and runs there;
   * `stageBackends` says which stage ran where. A backend named explicitly that cannot simulate
   * the task is an UNSUPPORTED_OP error; 'auto' falls back.
   */
  backend?: BackendRequest;
  /** The slice sampler's settings for the MCMC methods (defaults: sbibm's 100 chains, 100 warm-up sweeps, thinning 10). */
  mcmc?: Pick<MCMCSampleOptions, 'chains' | 'warmup' | 'thin'>;
}

/** Where each stage of a run went (backend names), and why a stage stayed on the CPU. */
export interface StageBackends {
  simulate: BackendName;
  train: BackendName;
  sample: BackendName;
  /** Why stages ran on the cpu although another backend was asked for. */
  notes: string[];
}

/**
 * The density estimator sbibm ran each flow-based algorithm with (sbibm/algorithms/sbi: snpe.py's
 * `neural_net="nsf"` for NPE and SNPE, snle.py's `"maf"` for NLE and SNLE; 50 hidden units,
 * 5 transforms, as our defaults), which `bench/sbibm.ts` uses so its cells compare like with like.
 * It matters: an affine MAF cannot fit gaussian_mixture's posterior (a narrow and a wide Gaussian
 * with one centre) and scores C2ST ≈ 0.75 at any budget, which is what dropping the narrow
 * component scores; NSF reaches ≈ 0.56 at 10⁴ (docs/diagnostics.md).
 */
export const SBIBM_DENSITY_ESTIMATORS: Partial<Record<MethodName, DensityEstimatorKind>> = {
  npe: 'nsf', snpe: 'nsf', nle: 'maf', snle: 'maf',
};

/** A posterior as the runner and the calibration diagnostics use it (NPE's, or an MCMC posterior). */
export interface MethodPosterior {
  sample(n: number, options: {
    x: Float64Array; seed: number | bigint; signal?: AbortSignal; onProgress?: (done: number, total: number) => void;
    mcmc?: Pick<MCMCSampleOptions, 'chains' | 'warmup' | 'thin'>;
  }):
    Promise<{ samples: Float64Array; ess?: Float64Array; rhat?: Float64Array }>;
  logProb(theta: Float64Array, options: { x: Float64Array }): Promise<Float64Array>;
}

export interface TrainedMethod {
  method: MethodName;
  posterior: MethodPosterior;
  /** Whether the posterior is amortised (valid at any x) or focused on the observation it was trained for. */
  amortised: boolean;
  simulateSeconds: number;
  trainSeconds: number;
  /** Epochs trained, summed over rounds. */
  epochs: number;
  rounds: number;
  /** Simulations trained on, and those excluded because x was not finite. */
  simulations: number;
  excludedSimulations: number;
  /** Writes the trained estimator (the last round's) to a model file. */
  save(path: string): void;
}

export interface MethodRunResult extends Omit<TrainedMethod, 'posterior' | 'amortised'> {
  /** Where each stage ran. */
  backends: StageBackends;
  /** [samples, thetaDim] row-major. */
  samples: Float64Array;
  sampleSeconds: number;
  /** MCMC diagnostics per dimension (MCMC-based posteriors only). */
  ess?: Float64Array;
  rhat?: Float64Array;
}

type TrainOptions = Omit<RunMethodOptions, 'samples' | 'x'> & { budget: number; rounds: number; x?: Float64Array };
type Trainer = (task: Task, options: TrainOptions) => Promise<TrainedMethod>;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

function epochProgress(options: TrainOptions, round: number, rounds: number) {
  const report = options.onProgress;
  if (!report) return undefined;
  return (e: { epoch: number; trainLoss: number; validationLoss: number }) =>
    report({ phase: 'train', round, rounds, done: e.epoch, detail: `loss ${e.trainLoss.toFixed(4)} / validation ${e.validationLoss.toFixed(4)}` });
}

/** Native training options common to every estimator. */
function trainOptions(o: TrainOptions, round: number, rounds: number) {
  const onEpoch = epochProgress(o, round, rounds);
  return {
    seed: o.seed,
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.maxEpochs !== undefined ? { maxEpochs: o.maxEpochs } : {}),
    ...(onEpoch ? { onEpoch } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

async function simulateBudget(task: Task, o: TrainOptions) {
  const t0 = performance.now();
  o.onProgress?.({ phase: 'simulate', round: 1, rounds: 1, done: 0, total: o.budget });
  const sims = await simulateFromPrior(task, o.budget, {
    seed: o.seed, ...(o.threads ? { threads: o.threads } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(o.backend ? { backend: o.backend } : {}),
  });
  o.onProgress?.({ phase: 'simulate', round: 1, rounds: 1, done: o.budget, total: o.budget });
  return { sims, seconds: seconds(t0) };
}

/** What the trainers need of NPE, NLE and NRE. */
interface Estimator {
  appendSimulations(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): unknown;
  train(options: ReturnType<typeof trainOptions> & { backend?: BackendName }): Promise<{ epochs: number }>;
  buildPosterior(options?: { backend?: BackendName }): NPEPosterior | MCMCPosterior;
  save(path: string): void;
  readonly simulations: number;
  readonly excludedSimulations: number;
}

/**
 * NPE's direct sampler (its flow's draws on `backend`), or an MCMC posterior with its ESS / R̂ and
 * sweep progress (its potential on `backend`: NLE's flow; see mcmcSamplingBackend).
 */
function methodPosterior(posterior: NPEPosterior | MCMCPosterior, backend: BackendRequest = 'cpu'): MethodPosterior {
  if (posterior instanceof MCMCPosterior) {
    return {
      sample: async (n, { x, seed, signal, onProgress, mcmc }) => {
        const r = await posterior.sample(n, {
          ...mcmc, x, seed, ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}), ...(backend !== 'cpu' ? { backend } : {}),
        });
        return { samples: r.samples, ess: r.ess, rhat: r.rhat };
      },
      logProb: (theta, { x }) => posterior.logProb(theta, { x }),
    };
  }
  return {
    sample: async (n, { x, seed }) => ({ samples: backend === 'cpu' ? posterior.sample(n, { x, seed }) : await posterior.sampleAsync(n, { x, seed, backend }) }),
    logProb: async (theta, { x }) => posterior.logProb(theta, { x }),
  };
}

const flowOptions = (task: Task, o: TrainOptions) => ({ prior: task.prior, densityEstimator: o.densityEstimator ?? 'maf' });
const embeddingOption = (o: TrainOptions) => (o.embedding !== undefined ? { embedding: o.embedding } : {});
const npeOptions = (task: Task, o: TrainOptions) => ({ ...flowOptions(task, o), ...embeddingOption(o) });

/** An amortised method: `budget` prior simulations, one training. */
function amortisedTrainer(make: (task: Task, o: TrainOptions) => Estimator): Trainer {
  return async (task, o) => {
    const { sims, seconds: simulateSeconds } = await simulateBudget(task, o);
    const estimator = make(task, o);
    estimator.appendSimulations(sims.theta, sims.x, task.definition.xDim);
    const request = o.backend ?? 'cpu';
    const backend = await trainingBackend(o.method, request, o.densityEstimator ?? 'maf', o.embedding !== undefined);
    const t0 = performance.now();
    const summary = await estimator.train({ ...trainOptions(o, 1, 1), ...(backend !== 'cpu' ? { backend } : {}) });
    // NRE binds its MCMC potential (nre.log_ratio) to a backend when its posterior is built; NLE's
    // potential and NPE's draws take the backend per sample call
    const nre = NRE_METHODS.includes(o.method);
    const potential = nre ? await potentialBackend(request, o.embedding !== undefined) : 'cpu';
    const posterior = estimator.buildPosterior(potential !== 'cpu' ? { backend: potential } : {});
    const sampleOn = nre ? 'cpu' : posterior instanceof MCMCPosterior ? await mcmcSamplingBackend(o.method, request, o.densityEstimator ?? 'maf')
      : request === 'cuda' ? 'cpu' : request; // not routed to cuda's flow launchers yet (stageBackends notes it)
    return {
      method: o.method, posterior: methodPosterior(posterior, sampleOn), amortised: true, simulateSeconds, trainSeconds: seconds(t0),
      epochs: summary.epochs, rounds: 1, simulations: estimator.simulations, excludedSimulations: estimator.excludedSimulations,
      save: (path) => estimator.save(path),
    };
  };
}

/** What a sequential trainer hands to SNPE / SNLE / SNRE `run` (`onRound` gets the round's epochs). */
interface SequentialRun {
  x: Float64Array;
  rounds: number;
  simulationsPerRound: number[];
  seed: number | bigint;
  /** Every round's training settings; `backend` where the estimator trains on a device (SNPE's / SNLE's flow or MDN, SNRE's classifier). */
  train: Omit<ReturnType<typeof trainOptions>, 'seed' | 'signal'> & { backend?: BackendName };
  /** The proposals' MCMC (SNLE, SNRE); `backend` where the potential runs on a device. */
  mcmc: { onProgress?: (done: number, total: number) => void; backend?: BackendName };
  /** Where SNPE's truncation evaluates the previous posterior (its draws and log q). */
  truncation: BackendRequest;
  onRound: (epochs: number) => void;
  signal?: AbortSignal;
}

interface SequentialMethod {
  /** The estimator the rounds train (saved by `save`). */
  estimator: Estimator;
  run(r: SequentialRun): Promise<NPEPosterior | MCMCPosterior>;
}

/**
 * A sequential method: `rounds` rounds of ⌊budget / rounds⌋ simulations (the last round takes
 * the remainder) at `x`, through the task's simulator. `simulateSeconds` sums the simulator
 * calls; `trainSeconds` is the rest (training, and drawing the proposals of rounds ≥ 2).
 */
function sequentialTrainer(make: (task: Task, o: TrainOptions, simulator: SimulatorFunction) => SequentialMethod): Trainer {
  return async (task, o) => {
    if (o.x === undefined) {
      throw new RangeError(`Method ${o.method} is sequential: it needs the observation \`x\` (a Float64Array of ${task.definition.xDim} values) its rounds focus on`);
    }
    const { budget, rounds } = o;
    const perRound = Math.floor(budget / rounds);
    if (perRound < 1) throw new RangeError(`Expected \`budget\` (${budget}) to give every one of the ${rounds} \`rounds\` at least one simulation`);
    const sizes = Array.from({ length: rounds }, (_, r) => (r === rounds - 1 ? budget - perRound * (rounds - 1) : perRound));
    const report = o.onProgress;
    const simulate = taskSimulator(task, { ...(o.threads ? { threads: o.threads } : {}), ...(o.backend ? { backend: o.backend } : {}) });
    let round = 0;
    let simulateSeconds = 0;
    const simulator: SimulatorFunction = async (theta, rows, seed) => {
      round++;
      report?.({ phase: 'simulate', round, rounds, done: 0, total: rows });
      const t0 = performance.now();
      const x = await simulate(theta, rows, seed);
      simulateSeconds += seconds(t0);
      report?.({ phase: 'simulate', round, rounds, done: rows, total: rows });
      return x;
    };
    const method = make(task, o, simulator);
    const { seed: _seed, signal: _signal, onEpoch: _onEpoch, ...train } = trainOptions(o, 1, rounds);
    const request = o.backend ?? 'cpu';
    const trainOn = await trainingBackend(o.method, request, o.densityEstimator ?? 'maf', o.embedding !== undefined);
    const mcmcOn = o.method === 'snre' ? await potentialBackend(request, o.embedding !== undefined)
      : await mcmcSamplingBackend(o.method, request, o.densityEstimator ?? 'maf');
    const flowSampling = request === 'cuda' ? 'cpu' : request; // not routed to cuda's flow launchers yet (stageBackends notes it)
    let epochs = 0;
    const t0 = performance.now();
    const posterior = await method.run({
      x: o.x, rounds, simulationsPerRound: sizes, seed: o.seed,
      train: {
        ...train,
        ...(report ? { onEpoch: (e: NativeEpochLosses) => epochProgress(o, round, rounds)!(e) } : {}),
        ...(trainOn !== 'cpu' ? { backend: trainOn } : {}),
      },
      mcmc: {
        ...(report ? { onProgress: (done: number, total: number) => report({ phase: 'sample', round: round + 1, rounds, done, total }) } : {}),
        ...(mcmcOn !== 'cpu' ? { backend: mcmcOn } : {}),
      },
      truncation: flowSampling,
      onRound: (e) => { epochs += e; },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const estimator = method.estimator;
    return {
      method: o.method, posterior: methodPosterior(posterior, posterior instanceof MCMCPosterior ? mcmcOn : flowSampling), amortised: false, simulateSeconds, trainSeconds: seconds(t0) - simulateSeconds,
      epochs, rounds, simulations: estimator.simulations, excludedSimulations: estimator.excludedSimulations, save: (path) => estimator.save(path),
    };
  };
}

const nreTrainer = (variant: NREVariant) => amortisedTrainer((task, o) => new NRE({ prior: task.prior, variant, ...embeddingOption(o) }));

const TRAINERS: Record<MethodName, Trainer> = {
  npe: amortisedTrainer((task, o) => new NPE(npeOptions(task, o))),
  nle: amortisedTrainer((task, o) => new NLE(flowOptions(task, o))),
  'nre-a': nreTrainer('a'),
  'nre-b': nreTrainer('b'),
  'nre-c': nreTrainer('c'),
  bnre: nreTrainer('bnre'),
  snpe: sequentialTrainer((task, o, simulator) => {
    const snpe = new SNPE({ ...npeOptions(task, o), simulator });
    return {
      estimator: snpe.npe,
      run: ({ onRound, mcmc: _, truncation, ...r }) => snpe.run({ ...r, backend: truncation, onRound: (i) => onRound(i.posterior.summary.epochs) }),
    };
  }),
  snle: sequentialTrainer((task, o, simulator) => {
    const snle = new SNLE({ ...flowOptions(task, o), simulator });
    return { estimator: snle.nle, run: ({ onRound, truncation: _, ...r }) => snle.run({ ...r, onRound: (i) => onRound(i.posterior.summary.epochs) }) };
  }),
  // sbi's SNRE is NRE-B.
  snre: sequentialTrainer((task, o, simulator) => {
    const snre = new SNRE({ prior: task.prior, variant: 'b', ...embeddingOption(o), simulator });
    return { estimator: snre.nre, run: async ({ onRound, truncation: _, ...r }) => (await snre.run({ ...r, onRound: (i) => onRound(i.training.epochs) })).posterior };
  }),
};

/** The methods this build runs: all of METHODS (kept for callers written when only npe ran). */
export function implementedMethods(): MethodName[] {
  return [...METHODS];
}

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && (METHODS as readonly string[]).includes(value);
}

function checkMethod(method: unknown): Trainer {
  if (!isMethodName(method)) throw new RangeError(`Expected one of ${METHODS.join(', ')} for \`method\` but received ${describe(method)}`);
  return TRAINERS[method];
}

function checkObservation(task: Task, x: unknown): Float64Array {
  if (!(x instanceof Float64Array) || x.length !== task.definition.xDim) {
    throw new RangeError(`Expected a Float64Array of ${task.definition.xDim} values for \`x\` (task ${task.name}) but received ${describe(x)}`);
  }
  return x;
}

/**
 * Simulates `budget` draws (over the rounds of a sequential method, which need `x`: they focus on
 * that observation) and trains the method's estimator.
 */
export async function trainMethod(task: Task, options: Omit<RunMethodOptions, 'samples' | 'x'> & { x?: Float64Array }): Promise<TrainedMethod> {
  const trainer = checkMethod(options.method);
  const budget = checkPositiveInteger(options.budget, 'budget');
  const rounds = checkPositiveInteger(options.rounds ?? 10, 'rounds', 1000);
  if (options.x !== undefined) checkObservation(task, options.x);
  if (options.embedding !== undefined && (options.method === 'nle' || options.method === 'snle')) {
    throw new RangeError(`Method ${options.method} takes no \`embedding\`: its flow models the likelihood p(x | θ), whose variable is x itself (an embedding network conditions on x; use npe, snpe or an NRE method)`);
  }
  return trainer(task, { ...options, budget, rounds });
}

const NPE_METHODS: readonly MethodName[] = ['npe', 'snpe'];
/** The NRE methods (SNRE's rounds included): their training (nre.train) and MCMC potential (nre.log_ratio) have device kernels. */
const NRE_METHODS: readonly MethodName[] = ['nre-a', 'nre-b', 'nre-c', 'bnre', 'snre'];

/** Where an NRE run's MCMC potential (op nre.log_ratio) goes for `request`, as its training: 'webgpu' or the cpu. */
async function potentialBackend(request: BackendRequest, embedding: boolean): Promise<BackendName> {
  if (request === 'cuda' || request === 'cpu') return 'cpu';
  return (await ratioBackend(request === 'webgpu' ? request : 'auto', 'nre.log_ratio', embedding).catch(() => ({ name: 'cpu' as const }))).name;
}

/**
 * Where `method` trains for `request`: NPE's, SNPE's, NLE's and SNLE's flows (NPE's with or without an
 * embedding network) and MDNs on a backend that runs flow.maf_train / flow.maf_embedding_train /
 * flow.mdn_train (webgpu), the NRE methods' classifier on one that runs nre.train /
 * nre.embedding_train; the rest on the cpu (infer does not route to cuda's training launchers yet:
 * its runs train on the cpu).
 */
async function trainingBackend(method: MethodName, request: BackendRequest, densityEstimator: DensityEstimatorKind, embedding: boolean): Promise<BackendName> {
  if (request === 'cuda' || request === 'cpu') return 'cpu';
  if (NRE_METHODS.includes(method)) {
    return (await ratioBackend(request === 'webgpu' ? request : 'auto', 'nre.train', embedding).catch(() => ({ name: 'cpu' as const }))).name;
  }
  return flowTrainingBackend(request === 'webgpu' ? request : 'auto', densityEstimator, embedding).catch(() => 'cpu' as const);
}

/**
 * Where an MCMC posterior's potential runs for `request`: NLE's and SNLE's estimator on a backend
 * that runs flow.maf_log_prob (MAF / NSF) or flow.mdn_log_prob (MDN): webgpu; the slice sampler's
 * bookkeeping stays in TypeScript. Every other potential (NRE's classifiers) has cpu code only.
 */
async function mcmcSamplingBackend(method: MethodName, request: BackendRequest, densityEstimator: DensityEstimatorKind): Promise<BackendName> {
  if ((method !== 'nle' && method !== 'snle') || request === 'cpu' || request === 'cuda') return 'cpu';
  return (await backendForOp(request, densityEstimator === 'mdn' ? 'flow.mdn_log_prob' : 'flow.maf_log_prob')).name;
}

/**
 * Where a run of `method` on `task` puts each stage for `request` (resolving 'auto' and checking
 * that a backend named explicitly can simulate the task: UNSUPPORTED_OP otherwise).
 */
export async function stageBackends(
  task: Task, method: MethodName, request: BackendRequest = 'cpu', densityEstimator: DensityEstimatorKind = 'maf', embedding = false,
): Promise<StageBackends> {
  const op = simulateOp(task.definition.simulator) ?? `simulate.${task.definition.simulator}`;
  const simulate = (await backendForOp(request, op)).name;
  const notes: string[] = [];
  let sample: BackendName = 'cpu';
  const train = request === 'cpu' ? 'cpu' : await trainingBackend(method, request, densityEstimator, embedding);
  if (request !== 'cpu') {
    if (train === 'cpu') {
      // every method trains a flow / MDN (flow.maf_train / flow.mdn_train) or NRE's classifier (nre.train)
      const nre = NRE_METHODS.includes(method);
      const why = request === 'cuda' ? 'infer does not route training to the cuda launchers yet (none has run on a device)'
        : `no ${request} backend here can train`;
      notes.push(`training runs on the cpu: ${why}`);
    }
    if (NRE_METHODS.includes(method)) {
      // the slice sampler's bookkeeping stays in TypeScript; its one batched potential call per step runs here
      sample = await potentialBackend(request, embedding);
      if (sample === 'cpu') {
        notes.push(`sampling runs on the cpu: ${request === 'cuda' ? 'infer does not route sampling to the cuda launchers yet (none has run on a device)' : `no ${request} backend here runs nre.log_ratio`}`);
      }
    } else if (!NPE_METHODS.includes(method)) {
      // NLE and SNLE: the flow's likelihood is the potential
      sample = await mcmcSamplingBackend(method, request, densityEstimator);
      if (sample === 'cpu') {
        const why = request === 'cuda' ? 'infer does not route the likelihood to the cuda launchers yet (none has run on a device)' : `no ${request} backend here evaluates ${method}'s likelihood`;
        notes.push(`sampling runs on the cpu: ${why}`);
      }
    } else if (request === 'cuda') notes.push('sampling runs on the cpu: infer does not route sampling to the cuda launchers yet (none has run on a device)');
    else sample = (await backendForOp(request, densityEstimator === 'mdn' ? 'flow.mdn_sample' : 'flow.maf_sample')).name;
  }
  return { simulate, train, sample, notes };
}

/** Runs `options.method` on `task` at the observation `options.x`: train, then draw `samples`. */
export async function runMethod(task: Task, options: RunMethodOptions): Promise<MethodRunResult> {
  checkMethod(options.method);
  const samples = checkPositiveInteger(options.samples, 'samples', 2 ** 31);
  const x = checkObservation(task, options.x);
  const backends = await stageBackends(task, options.method, options.backend ?? 'cpu', options.densityEstimator ?? 'maf', options.embedding !== undefined);
  const { posterior, amortised: _, ...trained } = await trainMethod(task, options);
  const t0 = performance.now();
  const report = options.onProgress;
  const drawn = await posterior.sample(samples, {
    x, seed: options.seed, ...(options.mcmc ? { mcmc: options.mcmc } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(report ? { onProgress: (done: number, total: number) => report({ phase: 'sample', round: trained.rounds, rounds: trained.rounds, done, total }) } : {}),
  });
  report?.({ phase: 'sample', round: trained.rounds, rounds: trained.rounds, done: samples, total: samples });
  return {
    ...trained, backends, samples: drawn.samples, sampleSeconds: seconds(t0),
    ...(drawn.ess ? { ess: drawn.ess } : {}), ...(drawn.rhat ? { rhat: drawn.rhat } : {}),
  };
}
