/**
 * Argument handling shared by the lattice HMC baselines (kernels/lattice/hmc.h, native/lattice_hmc.h):
 * options checked here, chains of `size` doubles each, records [chains, steps] row-major.
 */
import type { NativeHmcOptions } from '../native.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { checkFinite, checkNonNegativeInteger, checkPositiveInteger, checkSeed, checkThreads, describe } from '../validate.js';

export interface HmcOptions {
  seed: number | bigint;
  /** Trajectories per chain. */
  steps: number;
  /** Independent chains (default 1); ignored when `init` is given (its configurations count). */
  chains?: number;
  leapfrogSteps: number;
  stepSize: number;
  /**
   * Each trajectory's step size is stepSize·(1 + stepJitter·(2u − 1)), u uniform (default 0.2):
   * a fixed trajectory length leaves Fourier modes with ωτ near a multiple of π almost frozen.
   */
  stepJitter?: number;
  /** Starting configurations [chains, size] (default: all zero). */
  init?: Float64Array;
  /** Index of the first trajectory (default 0): continuing with the steps done reproduces one long run. */
  stepOffset?: number;
  threads?: number;
}

export type HmcAsyncOptions = HmcOptions & { onProgress?: (done: number, total: number) => void; signal?: AbortSignal };

/** The raw records of a run: the model's observable and S after each trajectory. */
export interface HmcChains {
  chains: number;
  steps: number;
  /** The last configuration of each chain [chains, size]. */
  field: Float64Array;
  observable: Float64Array;
  action: Float64Array;
  /** 1 where trajectory (c, t) was accepted. */
  accepted: Uint8Array;
  /** Fraction of trajectories accepted. */
  acceptance: number;
}

/** The native call of one model: field, options and the three record arrays (then progress and cancel flag when async). */
export type HmcNativeCall<R> = (field: Float64Array, options: NativeHmcOptions, observable: Float64Array, action: Float64Array,
  accepted: Uint8Array, onProgress?: (done: number, total: number) => void, cancel?: Int32Array) => R;

function prepare(size: number, options: HmcOptions) {
  const seed = checkSeed(options.seed);
  const steps = checkPositiveInteger(options.steps, 'steps', 2 ** 32);
  const leapfrogSteps = checkPositiveInteger(options.leapfrogSteps, 'leapfrogSteps', 2 ** 20);
  const stepSize = checkFinite(options.stepSize, 'stepSize');
  if (!(stepSize > 0)) throw new RangeError(`Expected a positive \`stepSize\` but received ${stepSize}`);
  const stepJitter = options.stepJitter === undefined ? 0.2 : checkFinite(options.stepJitter, 'stepJitter');
  if (!(stepJitter >= 0 && stepJitter < 1)) throw new RangeError(`Expected \`stepJitter\` in [0, 1) but received ${stepJitter}`);
  const stepOffset = options.stepOffset === undefined ? 0 : checkNonNegativeInteger(options.stepOffset, 'stepOffset');
  let field: Float64Array;
  if (options.init !== undefined) {
    if (!(options.init instanceof Float64Array) || options.init.length === 0 || options.init.length % size !== 0) {
      throw new RangeError(`Expected \`init\` to be a Float64Array of whole configurations of ${size} values but received ${describe(options.init)}`);
    }
    field = Float64Array.from(options.init);
  } else {
    field = new Float64Array(checkPositiveInteger(options.chains ?? 1, 'chains', 2 ** 24) * size);
  }
  const chains = field.length / size;
  const nativeOptions: NativeHmcOptions = {
    seed, steps, leapfrogSteps, stepSize, stepJitter, stepOffset,
    ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
  };
  const result: HmcChains = {
    chains, steps, field,
    observable: new Float64Array(chains * steps),
    action: new Float64Array(chains * steps),
    accepted: new Uint8Array(chains * steps),
    acceptance: 0,
  };
  const finish = (): HmcChains => {
    let a = 0;
    for (const v of result.accepted) a += v;
    result.acceptance = a / result.accepted.length;
    return result;
  };
  return { nativeOptions, result, finish };
}

/** Runs HMC chains of `size` degrees of freedom through `call` on the thread pool. */
export function runHmc(size: number, options: HmcOptions, call: HmcNativeCall<void>): HmcChains {
  const { nativeOptions, result, finish } = prepare(size, options);
  call(result.field, nativeOptions, result.observable, result.action, result.accepted);
  return finish();
}

/** `runHmc` off the event loop: `onProgress(chainsDone, chains)`; aborting `signal` rejects with SbiError ABORTED. */
export async function runHmcAsync(size: number, options: HmcAsyncOptions, call: HmcNativeCall<Promise<void>>): Promise<HmcChains> {
  const { nativeOptions, result, finish } = prepare(size, options);
  if (options.signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    call(result.field, nativeOptions, result.observable, result.action, result.accepted, options.onProgress, cancel));
  return finish();
}
