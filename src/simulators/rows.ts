/**
 * What the user-provided simulators (functions on worker threads, external processes) share:
 * argument checks, the row collector that keeps every finished row, the chunk scheduler, and
 * the error that carries the rows finished before a failure.
 */
import { SbiError } from '../errors.js';
import type { ProgressCallback } from '../native.js';
import { checkFiniteArray, checkMatrix, checkPositiveInteger, checkSeed, checkThreads } from '../validate.js';
import type { SimulateOptions, SimulationResult } from './simulator.js';

/** The rows finished before a simulation call failed or was aborted. */
export interface PartialSimulationResult extends SimulationResult {
  /** [n]: 1 for rows that were simulated (their x and failed entries are final). */
  completed: Uint8Array;
  completedCount: number;
  // Rows not completed are NaN and flagged in `failed` too (and counted in `failedCount`), so
  // the partial result can be used like a full one that excludes failed rows.
}

/** A failed or aborted simulation call; `partial` keeps every row finished before it stopped. */
export class SimulationError extends SbiError {
  readonly partial: PartialSimulationResult;
  constructor(message: string, code: string, partial: PartialSimulationResult, cause?: unknown) {
    super(message, code);
    this.name = 'SimulationError';
    this.partial = partial;
    if (cause !== undefined) this.cause = cause;
  }
}

export interface UserRunArgs {
  n: number;
  seed: number | bigint;
  streamOffset: number | bigint;
  /** Cap on parallel workers or processes for this call. */
  threads?: number;
}

/** The checks of `NativeSimulator`, for simulators without design variables or gold values. */
export function checkUserSimulateArgs(
  sim: { name: string; thetaDim: number },
  theta: Float64Array,
  options: SimulateOptions,
): UserRunArgs {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('Expected an options object with at least `seed` for `simulate`');
  }
  const n = checkMatrix(theta, sim.thetaDim, 'theta');
  checkPositiveInteger(n, 'n (rows of theta)');
  checkFiniteArray(theta, 'theta', sim.thetaDim);
  const seed = checkSeed(options.seed, 'seed');
  const streamOffset = options.streamOffset === undefined ? 0 : checkSeed(options.streamOffset, 'streamOffset');
  if (options.design !== undefined && options.design.length > 0) {
    throw new SbiError(`Simulator ${sim.name} has no design variables`, 'NO_DESIGN');
  }
  if (options.gold === true || options.thetaRef !== undefined) {
    throw new SbiError(`Simulator ${sim.name} does not provide joint likelihoods (gold)`, 'NO_GOLD');
  }
  return {
    n,
    seed,
    streamOffset,
    ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
  };
}

/**
 * Collects simulated rows into float32 x. A row with a value that is not finite once rounded to
 * float32 is set to NaN and flagged, as native kernels do.
 */
export class RowCollector {
  readonly x: Float32Array;
  readonly failed: Uint8Array;
  readonly completed: Uint8Array;
  failedCount = 0;
  completedCount = 0;

  constructor(readonly n: number, readonly xDim: number) {
    this.x = new Float32Array(n * xDim);
    this.failed = new Uint8Array(n);
    this.completed = new Uint8Array(n);
  }

  /** Stores row `row` from `values[offset .. offset + xDim)`. */
  put(row: number, values: ArrayLike<number>, offset = 0): void {
    const d = this.xDim;
    const base = row * d;
    let ok = true;
    for (let j = 0; j < d; j++) {
      const v = (this.x[base + j] = values[offset + j]);
      if (!Number.isFinite(v)) ok = false;
    }
    if (!ok) {
      this.x.fill(NaN, base, base + d);
      this.failed[row] = 1;
      this.failedCount++;
    }
    if (this.completed[row] === 0) this.completedCount++;
    this.completed[row] = 1;
  }

  result(): SimulationResult {
    return { x: this.x, n: this.n, failed: this.failed, failedCount: this.failedCount };
  }

  /** The finished rows; the others become NaN and flagged. */
  partial(): PartialSimulationResult {
    const x = this.x.slice();
    const failed = this.failed.slice();
    let failedCount = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.completed[i] === 0) {
        x.fill(NaN, i * this.xDim, (i + 1) * this.xDim);
        failed[i] = 1;
      }
      failedCount += failed[i];
    }
    return {
      x,
      n: this.n,
      failed,
      failedCount,
      completed: this.completed.slice(),
      completedCount: this.completedCount,
    };
  }
}

/** One lane of parallel work: a worker thread or an external process. */
export interface ChunkExecutor {
  /** Simulates rows [start, start + count), storing each into `rows`; resolves once all are stored. */
  run(start: number, count: number, rows: RowCollector): Promise<void>;
  /** Stops the chunk in flight now (terminates the worker, kills the process); run() then settles promptly. */
  abort(): void;
}

function asSbiError(e: unknown): SbiError {
  if (e instanceof SbiError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const error = new SbiError(message, 'SIMULATOR_FAILED');
  error.cause = e;
  return error;
}

/**
 * Splits rows [0, n) into chunks of `chunkSize` handed to whichever executor is free. On the
 * first failure or on abort no further chunk starts and the chunks in flight are stopped; the
 * error is rethrown as a SimulationError carrying the rows finished so far.
 */
export async function runChunks(
  n: number,
  chunkSize: number,
  executors: ChunkExecutor[],
  rows: RowCollector,
  onProgress: ProgressCallback | undefined,
  signal: AbortSignal | undefined,
): Promise<SimulationResult> {
  let next = 0;
  let failure: SbiError | undefined;
  const busy = new Set<ChunkExecutor>();
  const fail = (e: unknown) => {
    if (failure !== undefined) return;
    failure = asSbiError(e);
    for (const executor of busy) executor.abort();
  };
  const onAbort = () => fail(new SbiError('The operation was aborted', 'ABORTED'));
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });

  const lane = async (executor: ChunkExecutor) => {
    while (failure === undefined && next < n) {
      const start = next;
      const count = Math.min(chunkSize, n - start);
      next += count;
      busy.add(executor);
      let error: unknown;
      let ok = true;
      try {
        await executor.run(start, count, rows);
      } catch (e) {
        ok = false;
        error = e;
      }
      busy.delete(executor); // before fail(): the executor that failed needs no stopping
      if (!ok) fail(error);
      if (failure === undefined && onProgress) {
        try {
          onProgress(rows.completedCount, n);
        } catch (e) {
          fail(e);
        }
      }
    }
  };
  try {
    await Promise.all(executors.map(lane));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) {
    const f: SbiError = failure;
    throw new SimulationError(f.message, f.code, rows.partial(), f.cause ?? (f.code === 'ABORTED' ? undefined : f));
  }
  return rows.result();
}

/** Default rows per chunk: about four chunks per lane (load balance), at most `max` rows. */
export function defaultChunkSize(n: number, lanes: number, max: number): number {
  return Math.max(1, Math.min(max, Math.ceil(n / (4 * lanes))));
}
