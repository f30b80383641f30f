/**
 * One inference run on a task, the way sbibm runs an algorithm: spend `budget` simulations
 * (split evenly over the rounds of a sequential method), train, and draw `samples` posterior
 * samples at one observation, timing each phase. The CLI's `infer` and `bench/sbibm.ts` both run
 * through here, so the two always agree on what a method does.
 */
import { SbiError } from '../errors.js';
import type { ProgressCallback } from '../progress.js';
import { simulateFromPrior, type Task } from '../tasks/index.js';
import { checkPositiveInteger, describe } from '../validate.js';
import { NPE, type DensityEstimatorKind, type NPEPosterior } from './npe.js';

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
  /** Epoch cap per training (default: early stopping only). */
  maxEpochs?: number;
  /** Rounds of a sequential method (default 10, as sbibm). */
  rounds?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** A posterior as the runner and the calibration diagnostics use it (NPE's, or an MCMC posterior). */
export interface MethodPosterior {
  sample(n: number, options: { x: Float64Array; seed: number | bigint; signal?: AbortSignal; onProgress?: (done: number, total: number) => void }):
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
  const sims = await simulateFromPrior(task, o.budget, { seed: o.seed, ...(o.threads ? { threads: o.threads } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  o.onProgress?.({ phase: 'simulate', round: 1, rounds: 1, done: o.budget, total: o.budget });
  return { sims, seconds: seconds(t0) };
}

function npePosterior(posterior: NPEPosterior): MethodPosterior {
  return {
    sample: async (n, { x, seed }) => ({ samples: posterior.sample(n, { x, seed }) }),
    logProb: async (theta, { x }) => posterior.logProb(theta, { x }),
  };
}

const trainNpe: Trainer = async (task, o) => {
  const { sims, seconds: simulateSeconds } = await simulateBudget(task, o);
  const npe = new NPE({ prior: task.prior, densityEstimator: o.densityEstimator ?? 'maf' });
  npe.appendSimulations(sims.theta, sims.x, task.definition.xDim);
  const t0 = performance.now();
  const summary = await npe.train(trainOptions(o, 1, 1));
  return {
    method: o.method, posterior: npePosterior(npe.buildPosterior()), amortised: true, simulateSeconds, trainSeconds: seconds(t0),
    epochs: summary.epochs, rounds: 1, simulations: npe.simulations, excludedSimulations: npe.excludedSimulations, save: (path) => npe.save(path),
  };
};

const TRAINERS: Partial<Record<MethodName, Trainer>> = { npe: trainNpe };

/** The methods this build runs (the others answer METHOD_NOT_IMPLEMENTED). */
export function implementedMethods(): MethodName[] {
  return METHODS.filter((m) => TRAINERS[m] !== undefined);
}

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && (METHODS as readonly string[]).includes(value);
}

function checkMethod(method: unknown): Trainer {
  if (!isMethodName(method)) throw new RangeError(`Expected one of ${METHODS.join(', ')} for \`method\` but received ${describe(method)}`);
  const trainer = TRAINERS[method];
  if (!trainer) throw new SbiError(`Method ${method} is not implemented yet; implemented: ${implementedMethods().join(', ')}`, 'METHOD_NOT_IMPLEMENTED');
  return trainer;
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
  return trainer(task, { ...options, budget, rounds });
}

/** Runs `options.method` on `task` at the observation `options.x`: train, then draw `samples`. */
export async function runMethod(task: Task, options: RunMethodOptions): Promise<MethodRunResult> {
  checkMethod(options.method);
  const samples = checkPositiveInteger(options.samples, 'samples', 2 ** 31);
  const x = checkObservation(task, options.x);
  const { posterior, amortised: _, ...trained } = await trainMethod(task, options);
  const t0 = performance.now();
  const report = options.onProgress;
  const drawn = await posterior.sample(samples, {
    x, seed: options.seed,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(report ? { onProgress: (done: number, total: number) => report({ phase: 'sample', round: trained.rounds, rounds: trained.rounds, done, total }) } : {}),
  });
  report?.({ phase: 'sample', round: trained.rounds, rounds: trained.rounds, done: samples, total: samples });
  return {
    ...trained, samples: drawn.samples, sampleSeconds: seconds(t0),
    ...(drawn.ess ? { ess: drawn.ess } : {}), ...(drawn.rhat ? { rhat: drawn.rhat } : {}),
  };
}
