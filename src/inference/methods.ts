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
import { NPE, type DensityEstimatorKind } from './npe.js';

/** The methods of the CLI contract (sbibm's names in lower case; NRE variants spelled out). */
export const METHODS = ['npe', 'snpe', 'nle', 'snle', 'nre-a', 'nre-b', 'nre-c', 'bnre', 'snre'] as const;
export type MethodName = (typeof METHODS)[number];

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

export interface MethodRunResult {
  method: MethodName;
  /** [samples, thetaDim] row-major. */
  samples: Float64Array;
  simulateSeconds: number;
  trainSeconds: number;
  sampleSeconds: number;
  /** Epochs trained, summed over rounds. */
  epochs: number;
  rounds: number;
  /** Simulations trained on, and those excluded because x was not finite. */
  simulations: number;
  excludedSimulations: number;
  /** MCMC diagnostics per dimension (MCMC-based posteriors only). */
  ess?: Float64Array;
  rhat?: Float64Array;
  /** Writes the trained estimator (the last round's) to a model file. */
  save(path: string): void;
}

type Runner = (task: Task, options: Required<Pick<RunMethodOptions, 'budget' | 'samples' | 'rounds'>> & RunMethodOptions) => Promise<MethodRunResult>;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

function epochProgress(options: RunMethodOptions, round: number, rounds: number) {
  const report = options.onProgress;
  if (!report) return undefined;
  return (e: { epoch: number; trainLoss: number; validationLoss: number }) =>
    report({ phase: 'train', round, rounds, done: e.epoch, detail: `loss ${e.trainLoss.toFixed(4)} / validation ${e.validationLoss.toFixed(4)}` });
}

const runNpe: Runner = async (task, o) => {
  let t0 = performance.now();
  o.onProgress?.({ phase: 'simulate', round: 1, rounds: 1, done: 0, total: o.budget });
  const sims = await simulateFromPrior(task, o.budget, { seed: o.seed, ...(o.threads ? { threads: o.threads } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  o.onProgress?.({ phase: 'simulate', round: 1, rounds: 1, done: o.budget, total: o.budget });
  const simulateSeconds = seconds(t0);
  const npe = new NPE({ prior: task.prior, densityEstimator: o.densityEstimator ?? 'maf' });
  npe.appendSimulations(sims.theta, sims.x, task.definition.xDim);
  t0 = performance.now();
  const onEpoch = epochProgress(o, 1, 1);
  const summary = await npe.train({
    seed: o.seed,
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.maxEpochs !== undefined ? { maxEpochs: o.maxEpochs } : {}),
    ...(onEpoch ? { onEpoch } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const trainSeconds = seconds(t0);
  t0 = performance.now();
  const samples = npe.buildPosterior().sample(o.samples, { x: o.x, seed: o.seed });
  o.onProgress?.({ phase: 'sample', round: 1, rounds: 1, done: o.samples, total: o.samples });
  return {
    method: o.method, samples, simulateSeconds, trainSeconds, sampleSeconds: seconds(t0), epochs: summary.epochs, rounds: 1,
    simulations: npe.simulations, excludedSimulations: npe.excludedSimulations, save: (path) => npe.save(path),
  };
};

const RUNNERS: Partial<Record<MethodName, Runner>> = { npe: runNpe };

/** The methods this build runs (the others answer METHOD_NOT_IMPLEMENTED). */
export function implementedMethods(): MethodName[] {
  return METHODS.filter((m) => RUNNERS[m] !== undefined);
}

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && (METHODS as readonly string[]).includes(value);
}

/** Runs `options.method` on `task` at the observation `options.x`. */
export async function runMethod(task: Task, options: RunMethodOptions): Promise<MethodRunResult> {
  if (!isMethodName(options.method)) throw new RangeError(`Expected one of ${METHODS.join(', ')} for \`method\` but received ${describe(options.method)}`);
  const runner = RUNNERS[options.method];
  if (!runner) {
    throw new SbiError(`Method ${options.method} is not implemented yet; implemented: ${implementedMethods().join(', ')}`, 'METHOD_NOT_IMPLEMENTED');
  }
  const budget = checkPositiveInteger(options.budget, 'budget');
  const samples = checkPositiveInteger(options.samples, 'samples', 2 ** 31);
  const rounds = checkPositiveInteger(options.rounds ?? 10, 'rounds', 1000);
  if (!(options.x instanceof Float64Array) || options.x.length !== task.definition.xDim) {
    throw new RangeError(`Expected a Float64Array of ${task.definition.xDim} values for \`x\` (task ${task.name}) but received ${describe(options.x)}`);
  }
  return runner(task, { ...options, budget, samples, rounds });
}
