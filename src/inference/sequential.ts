/**
 * The round loop of sequential methods (SNPE, SNLE, SNRE): round 1 draws θ from the prior, round
 * r > 1 from a proposal built on the posterior of round r − 1 at the observation; each round
 * simulates, appends to all earlier data and retrains. The methods supply the proposal, the
 * estimator's append / train, and how a posterior is built.
 *
 * Seeds: round r uses key k_r = derive(derive(seed, rounds), r); θ comes from derive(k_r, prior)
 * (or derive(k_r, sampling) for a proposal), x from derive(k_r, simulator), training from k_r.
 */
import type { BackendRequest } from '../backend/backend.js';
import { SbiError } from '../errors.js';
import type { Prior } from '../priors.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { abortError } from '../simulators/call.js';
import type { Task } from '../tasks/index.js';
import { checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';

/**
 * x [rows, xDim] for θ [rows, thetaDim]; row i must depend only on (seed, θ_i) for results to be
 * reproducible. Non-finite rows are failed simulations (excluded from training and counted).
 */
export type SimulatorFunction = (theta: Float64Array, rows: number, seed: bigint) => Float64Array | Float32Array | Promise<Float64Array | Float32Array>;

/** A task's native simulator as a SimulatorFunction (default design, `threads` workers). */
export function taskSimulator(task: Task, options: { threads?: number; backend?: BackendRequest } = {}): SimulatorFunction {
  const threads = options.threads === undefined ? undefined : checkThreads(options.threads);
  return async (theta, _rows, seed) => (await task.simulator.simulate(theta, {
    seed,
    ...(task.defaultDesign.length > 0 ? { design: task.defaultDesign } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  })).x;
}

/** What a round did, given to `onRound` after its training. */
export interface RoundInfo<P> {
  round: number;
  rounds: number;
  /** The round's θ [simulationsPerRound, thetaDim] and x [simulationsPerRound, xDim]. */
  theta: Float64Array;
  x: Float64Array | Float32Array;
  /** Simulations of this round kept and excluded (non-finite x). */
  added: number;
  excluded: number;
  /** The posterior after this round's training. */
  posterior: P;
}

export interface RunRoundsOptions<P> {
  prior: Prior;
  simulator: SimulatorFunction;
  rounds: number;
  /** Simulations of every round, or one count per round (an array of `rounds` counts). */
  simulationsPerRound: number | readonly number[];
  seed: number | bigint;
  /** θ [n, thetaDim] for round ≥ 2 from the previous round's posterior; `seed` is the round's sampling key. */
  proposal: (round: number, n: number, seed: bigint, previous: P) => Float64Array | Promise<Float64Array>;
  append: (theta: Float64Array, x: Float64Array | Float32Array) => { added: number; excluded: number };
  /** Retrains on everything appended so far; `seed` is the round's key. */
  train: (round: number, seed: bigint) => Promise<unknown>;
  build: () => P;
  onRound?: (info: RoundInfo<P>) => void | Promise<void>;
  signal?: AbortSignal;
}

/** The simulations of each round: one count for all rounds, or `rounds` counts. */
export function roundSizes(simulationsPerRound: number | readonly number[], rounds: number): number[] {
  if (Array.isArray(simulationsPerRound)) {
    const sizes = simulationsPerRound as readonly unknown[];
    if (sizes.length !== rounds) {
      throw new RangeError(`Expected ${rounds} counts (one per round) in \`simulationsPerRound\` but received ${sizes.length}`);
    }
    return sizes.map((v, r) => checkPositiveInteger(v, `simulationsPerRound[${r}]`, 2 ** 31));
  }
  const n = checkPositiveInteger(simulationsPerRound, 'simulationsPerRound', 2 ** 31);
  return new Array<number>(rounds).fill(n);
}

/** Runs the rounds and returns the last posterior. */
export async function runRounds<P>(o: RunRoundsOptions<P>): Promise<P> {
  const rounds = checkPositiveInteger(o.rounds, 'rounds', 1000);
  const perRound = roundSizes(o.simulationsPerRound, rounds);
  const base = deriveSeed(checkSeed(o.seed), SeedPurpose.rounds);
  if (typeof o.simulator !== 'function') throw new TypeError(`Expected a function (theta, rows, seed) => x for \`simulator\` but received ${describe(o.simulator)}`);
  if (o.onRound !== undefined && typeof o.onRound !== 'function') throw new TypeError(`Expected a function for \`onRound\` but received ${describe(o.onRound)}`);
  const dim = o.prior.dim;
  let posterior: P | undefined;
  for (let round = 1; round <= rounds; round++) {
    if (o.signal?.aborted) throw abortError();
    const key = deriveSeed(base, round);
    const n = perRound[round - 1]!;
    const theta = posterior === undefined
      ? o.prior.sample(n, { seed: deriveSeed(key, SeedPurpose.prior) })
      : await o.proposal(round, n, deriveSeed(key, SeedPurpose.sampling), posterior);
    if (!(theta instanceof Float64Array) || theta.length !== n * dim) {
      throw new SbiError(`The proposal of round ${round} must return a Float64Array of ${n} × ${dim} values but returned ${describe(theta)}`, 'BAD_PROPOSAL');
    }
    const x = await o.simulator(theta.slice(), n, deriveSeed(key, SeedPurpose.simulator));
    if (!(x instanceof Float64Array || x instanceof Float32Array) || x.length === 0 || x.length % n !== 0) {
      throw new SbiError(
        `The simulator must return a Float64Array or Float32Array of ${n} rows (n · xDim values) but returned ${describe(x)}`, 'BAD_SIMULATOR_OUTPUT');
    }
    const { added, excluded } = o.append(theta, x);
    if (o.signal?.aborted) throw abortError();
    await o.train(round, key);
    posterior = o.build();
    await o.onRound?.({ round, rounds, theta, x, added, excluded, posterior });
  }
  return posterior!;
}
