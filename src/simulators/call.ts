/**
 * What every `simulate` call shares, whatever runs it (native kernels, worker threads, external
 * programs): the checks of its arguments and the wiring of its abort signal.
 */
import { SbiError } from '../errors.js';
import { checkFiniteArray, checkMatrix, checkPositiveInteger, checkSeed, checkThreads } from '../validate.js';
import type { SimulateOptions, Simulator } from './simulator.js';
import type { BackendRequest } from '../backend/backend.js';

const BACKEND_REQUESTS: readonly BackendRequest[] = ['cpu', 'webgpu', 'cuda', 'auto'];

/** The checked arguments of one call. */
export interface SimulateArgs {
  /** Rows of θ. */
  n: number;
  seed: number | bigint;
  streamOffset: number | bigint;
  /** Cap on parallel threads, workers or processes for this call. */
  threads?: number;
  /** [designDim] values, for simulators that have design variables. */
  design?: Float64Array;
  /** Whether joint likelihoods were asked for (`gold` or `thetaRef`). */
  gold: boolean;
}

/**
 * Checks θ ([n, thetaDim], finite), the seeds, `threads`, and that `design` and `gold` match what
 * the simulator has. `thetaRef` is left to simulators with gold values. `thetaValues: false`
 * leaves the finiteness of θ to the native kernels, which check it themselves (with the same
 * message) in a vectorised pass — for big batches the check is a noticeable share of the call.
 */
export function checkSimulateArgs(
  sim: Pick<Simulator, 'name' | 'thetaDim' | 'designDim' | 'hasGold'>,
  theta: Float64Array,
  options: SimulateOptions,
  { thetaValues = true, backends = false }: { thetaValues?: boolean; backends?: boolean } = {},
): SimulateArgs {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('Expected an options object with at least `seed` for `simulate`');
  }
  const backend = options.backend;
  if (backend !== undefined && !BACKEND_REQUESTS.includes(backend)) {
    throw new RangeError(`Expected one of ${BACKEND_REQUESTS.join(', ')} for \`backend\` but received ${JSON.stringify(backend)}`);
  }
  // Only built-in simulators have kernels for other backends; 'auto' means the CPU for the rest.
  if (!backends && (backend === 'webgpu' || backend === 'cuda')) {
    throw new SbiError(`simulate.${sim.name} is not supported on the ${backend} backend: only built-in simulators run there; this one runs on the cpu`, 'UNSUPPORTED_OP');
  }
  const n = checkMatrix(theta, sim.thetaDim, 'theta');
  checkPositiveInteger(n, 'n (rows of theta)');
  if (thetaValues) checkFiniteArray(theta, 'theta', sim.thetaDim);
  const seed = checkSeed(options.seed, 'seed');
  const streamOffset = options.streamOffset === undefined ? 0 : checkSeed(options.streamOffset, 'streamOffset');
  const threads = options.threads === undefined ? undefined : checkThreads(options.threads);
  let design: Float64Array | undefined;
  if (sim.designDim > 0) {
    if (options.design === undefined) {
      throw new TypeError(`Simulator ${sim.name} needs \`design\` (${sim.designDim} values)`);
    }
    design = Float64Array.from(options.design);
    if (design.length !== sim.designDim) {
      throw new RangeError(`Expected ${sim.designDim} values for \`design\` but received ${design.length}`);
    }
    checkFiniteArray(design, 'design', sim.designDim);
  } else if (options.design !== undefined && options.design.length > 0) {
    throw new SbiError(`Simulator ${sim.name} has no design variables`, 'NO_DESIGN');
  }
  const gold = options.gold === true || options.thetaRef !== undefined;
  if (gold && !sim.hasGold) {
    throw new SbiError(`Simulator ${sim.name} does not provide joint likelihoods (gold)`, 'NO_GOLD');
  }
  return { n, seed, streamOffset, gold, ...(threads !== undefined ? { threads } : {}), ...(design ? { design } : {}) };
}

/** The error of a call stopped by its abort signal. */
export function abortError(): SbiError {
  return new SbiError('The operation was aborted', 'ABORTED');
}

/** Runs `body` with `onAbort` called once `signal` aborts (at once if it already has). */
export async function whileAbortable<T>(
  signal: AbortSignal | undefined,
  onAbort: () => void,
  body: () => Promise<T>,
): Promise<T> {
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await body();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
