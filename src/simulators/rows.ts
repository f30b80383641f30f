/**
 * What the user-provided simulators (functions on worker threads, external processes) share:
 * the call queue and lane pool (`ChunkedSimulator`), the row collector that keeps every
 * finished row, the chunk scheduler, and the error that carries the rows finished before a failure.
 */
import { SbiError } from '../errors.js';
import type { ProgressCallback } from '../native.js';
import { abortError, checkSimulateArgs, whileAbortable, type SimulateArgs } from './call.js';
import type { SimulateOptions, SimulationResult, Simulator } from './simulator.js';

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
  await whileAbortable(signal, () => fail(abortError()), () => Promise.all(executors.map(lane)));
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

/** Lanes (worker threads, processes) kept between calls; dead ones are replaced. */
export class LanePool<L extends { readonly dead: boolean }> {
  private lanes: L[] = [];

  /** `count` live lanes, starting new ones with `start`. */
  take(count: number, start: () => L): L[] {
    this.lanes = this.lanes.filter((lane) => !lane.dead);
    while (this.lanes.length < count) this.lanes.push(start());
    return this.lanes.slice(0, count);
  }

  /** Empties the pool, returning the lanes it held. */
  drain(): L[] {
    const lanes = this.lanes;
    this.lanes = [];
    return lanes;
  }
}

/**
 * A simulator without design variables or gold values whose calls run one after another, each
 * split by `runChunks` into chunks over parallel lanes. Subclasses give the lanes (`executors`)
 * and how to stop them (`shutdown`).
 */
export abstract class ChunkedSimulator implements Simulator {
  abstract readonly name: string;
  abstract readonly thetaDim: number;
  abstract readonly xDim: number;
  readonly designDim = 0;
  readonly hasGold = false;
  /** Most lanes one call uses (before the `threads` option and n cap it). */
  protected abstract readonly maxLanes: number;
  /** Rows per chunk set by the user; otherwise `defaultChunkSize` up to `maxDefaultChunkSize`. */
  protected abstract readonly chunkSize: number | undefined;
  protected abstract readonly maxDefaultChunkSize: number;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** The executors of `lanes` lanes for one call over `theta` (a copy the call owns). */
  protected abstract executors(lanes: number, theta: Float64Array, args: SimulateArgs): ChunkExecutor[];
  /** Stops the lanes for good; called by `close()` once no call is running. */
  protected abstract shutdown(): Promise<void>;

  simulate(theta: Float64Array, options: SimulateOptions): Promise<SimulationResult> {
    if (this.closed) return Promise.reject(this.closedError());
    let args: SimulateArgs;
    try {
      args = checkSimulateArgs(this, theta, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const thetaCopy = theta.slice();
    const run = this.queue.then(() => this.run(thetaCopy, args, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(theta: Float64Array, args: SimulateArgs, options: SimulateOptions): Promise<SimulationResult> {
    if (this.closed) throw this.closedError();
    const { n } = args;
    const maxLanes = Math.min(this.maxLanes, args.threads ?? Infinity, n);
    const chunkSize = this.chunkSize ?? defaultChunkSize(n, maxLanes, this.maxDefaultChunkSize);
    const lanes = Math.min(maxLanes, Math.ceil(n / chunkSize));
    const executors = this.executors(lanes, theta, args);
    return runChunks(n, chunkSize, executors, new RowCollector(n, this.xDim), options.onProgress, options.signal);
  }

  private closedError(): SbiError {
    return new SbiError(`Simulator ${this.name} is closed`, 'SIMULATOR_CLOSED');
  }

  /** Stops the lanes once the calls already started have settled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.shutdown();
  }
}
