/**
 * `FunctionSimulator`: a batched TypeScript/JavaScript simulator behind the `Simulator`
 * interface, run in-process (`fn`) or across a pool of worker threads (`module` + `export`,
 * since functions cannot be sent to workers).
 *
 * Worker entry: `function_worker.js` beside this file in the compiled package. When this module
 * runs from its TypeScript sources (vitest, tsx), the entry is `function_worker.ts` and each
 * worker first registers tsx's loader (`tsx/esm/api`, resolved from this package), because
 * Node 20 workers do not inherit the loader hooks of the main thread.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SbiError } from '../errors.js';
import { checkPositiveInteger, describe } from '../validate.js';
import { BatchRng, checkBatchOutput, streamAt, type BatchSimulatorFunction } from './batch_rng.js';
import type { ChunkRequest, FunctionWorkerData, SerializedError, WorkerReply } from './function_messages.js';
import type { SimulateArgs } from './call.js';
import { ChunkedSimulator, LanePool, type ChunkExecutor } from './rows.js';

interface FunctionSimulatorCommon {
  /** Shown in errors; default: the export or function name. */
  name?: string;
  thetaDim: number;
  xDim: number;
  /** Rows per chunk (default: about four chunks per worker, at most 4096). Never changes the result. */
  chunkSize?: number;
}

/** Runs `fn` on the calling thread, chunk by chunk (the event loop runs between chunks). */
export interface InProcessFunctionOptions extends FunctionSimulatorCommon {
  fn: BatchSimulatorFunction;
}

/** Runs the function exported by `module` on a pool of worker threads. */
export interface WorkerFunctionOptions extends FunctionSimulatorCommon {
  /** The module: a URL (e.g. `new URL('./mysim.js', import.meta.url)`) or a file path. */
  module: string | URL;
  /** Name of the export holding the batch function (default `default`). */
  export?: string;
  /** Worker threads (default: available parallelism). Never changes the result. */
  workers?: number;
}

export type FunctionSimulatorOptions = InProcessFunctionOptions | WorkerFunctionOptions;

function moduleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw new TypeError(`Expected a URL or a file path for \`module\` but received ${describe(module)}`);
  }
  if (module.startsWith('file:')) return new URL(module).href;
  return pathToFileURL(path.resolve(module)).href;
}

function reviveError(e: SerializedError): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}

/** Starts a worker on `function_worker` beside this module (see the module comment). */
function startWorker(data: FunctionWorkerData): Worker {
  const ext = path.extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./function_worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(entry, { workerData: data });
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (e) {
    throw new SbiError(
      'FunctionSimulator workers started from the TypeScript sources need the `tsx` package ' +
        `(a dev dependency) to load function_worker.ts; build with \`npm run build:ts\` to use the compiled worker. ` +
        `Cause: ${e instanceof Error ? e.message : String(e)}`,
      'SIMULATOR_LOAD_FAILED',
    );
  }
  const bootstrap =
    `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); ` +
    `return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

interface PendingChunk {
  id: number;
  first: number;
  last: number;
  resolve: (x: Float64Array) => void;
  reject: (e: SbiError) => void;
}

/** One worker thread; idle workers are unref'd so they never keep the process alive. */
class PooledWorker {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private pending: PendingChunk | undefined;
  private nextId = 0;
  /** Set once the worker is terminated or has died; a new one replaces it. */
  dead = false;

  constructor(private readonly label: string, data: FunctionWorkerData) {
    this.worker = startWorker(data);
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          if (!this.pending) this.worker.unref();
          resolve();
        } else if (reply.type === 'load-error') {
          this.kill();
          reject(new SbiError(`Could not load simulator ${this.label}: ${reply.error.message}`, 'SIMULATOR_LOAD_FAILED'));
        } else {
          this.settle(reply);
        }
      });
      const died = (what: string) => {
        const wasDead = this.dead;
        this.dead = true;
        const error = new SbiError(`The worker thread of simulator ${this.label} ${what}`, 'SIMULATOR_CRASHED');
        reject(error);
        if (!wasDead) this.failPending(error);
      };
      this.worker.on('error', (e) => died(`crashed: ${e instanceof Error ? e.message : String(e)}`));
      this.worker.on('exit', (code) => died(`exited with code ${code}`));
    });
    this.ready.catch(() => undefined); // observed by runChunk
  }

  private settle(reply: Extract<WorkerReply, { id: number }>): void {
    const p = this.pending;
    if (!p || p.id !== reply.id) return;
    this.pending = undefined;
    this.worker.unref();
    if (reply.type === 'done') {
      p.resolve(reply.x);
    } else if (reply.kind === 'invalid-output') {
      p.reject(new SbiError(reply.error.message, 'SIMULATOR_OUTPUT_INVALID'));
    } else {
      const error = new SbiError(
        `Simulator ${this.label} threw for rows ${p.first}..${p.last}: ${reply.error.message}`,
        'SIMULATOR_FAILED',
      );
      error.cause = reviveError(reply.error);
      p.reject(error);
    }
  }

  private failPending(error: SbiError): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(error);
  }

  async runChunk(req: Omit<ChunkRequest, 'id'>): Promise<Float64Array> {
    this.worker.ref();
    await this.ready;
    if (this.dead) throw new SbiError(`The worker thread of simulator ${this.label} was stopped`, 'SIMULATOR_CRASHED');
    return new Promise<Float64Array>((resolve, reject) => {
      const id = this.nextId++;
      this.pending = { id, first: req.start, last: req.start + req.n - 1, resolve, reject };
      this.worker.ref();
      this.worker.postMessage({ ...req, id } satisfies ChunkRequest, [req.theta.buffer as ArrayBuffer]);
    });
  }

  /** Terminates the worker; a chunk in flight is rejected. */
  kill(): Promise<void> {
    if (!this.dead) {
      this.dead = true;
      this.failPending(new SbiError(`The worker thread of simulator ${this.label} was stopped`, 'ABORTED'));
    }
    return this.worker.terminate().then(() => undefined);
  }
}

/**
 * A batched TypeScript/JavaScript simulator. Row i of a call uses Philox stream
 * `streamOffset + i` (through `rng.stream`), so the output is identical for any chunk size and
 * number of workers. Non-finite rows are NaN and flagged; an exception fails the call with a
 * `SimulationError` (code `SIMULATOR_FAILED`) whose `partial` keeps the rows already finished.
 * Calls on one simulator run one after another. `close()` terminates the worker pool.
 */
export class FunctionSimulator extends ChunkedSimulator {
  readonly name: string;
  readonly thetaDim: number;
  readonly xDim: number;
  protected readonly maxLanes: number;
  protected readonly chunkSize: number | undefined;
  protected readonly maxDefaultChunkSize = 4096;
  private readonly fn: BatchSimulatorFunction | undefined;
  private readonly workerData: FunctionWorkerData | undefined;
  private readonly pool = new LanePool<PooledWorker>();

  constructor(options: FunctionSimulatorOptions) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`Expected an options object for FunctionSimulator but received ${describe(options)}`);
    }
    this.thetaDim = checkPositiveInteger(options.thetaDim, 'thetaDim');
    this.xDim = checkPositiveInteger(options.xDim, 'xDim');
    this.chunkSize = options.chunkSize === undefined ? undefined : checkPositiveInteger(options.chunkSize, 'chunkSize');
    if ('fn' in options && options.fn !== undefined) {
      if (typeof options.fn !== 'function') {
        throw new TypeError(`Expected a function for \`fn\` but received ${describe(options.fn)}`);
      }
      if ('module' in options) throw new TypeError('Give either `fn` (in-process) or `module` (worker threads), not both');
      this.fn = options.fn;
      this.maxLanes = 1;
      this.name = options.name ?? (options.fn.name || 'function');
    } else if ('module' in options) {
      const exportName = options.export ?? 'default';
      if (typeof exportName !== 'string' || exportName.length === 0) {
        throw new TypeError(`Expected an export name for \`export\` but received ${describe(exportName)}`);
      }
      this.workerData = { moduleUrl: moduleHref(options.module), exportName };
      this.maxLanes =
        options.workers === undefined ? availableParallelism() : checkPositiveInteger(options.workers, 'workers', 1024);
      this.name = options.name ?? `${path.basename(new URL(this.workerData.moduleUrl).pathname)}#${exportName}`;
    } else {
      throw new TypeError('Expected `fn` (a batch function) or `module` (its module URL or path) for FunctionSimulator');
    }
  }

  /** Whether the function runs on worker threads. */
  get usesWorkers(): boolean {
    return this.workerData !== undefined;
  }

  protected executors(lanes: number, theta: Float64Array, args: SimulateArgs): ChunkExecutor[] {
    return this.fn ? [this.inProcessExecutor(this.fn, theta, args)] : this.workerExecutors(lanes, theta, args);
  }

  private inProcessExecutor(fn: BatchSimulatorFunction, theta: Float64Array, args: SimulateArgs): ChunkExecutor {
    const { thetaDim, xDim, name } = this;
    return {
      async run(start, count, rows) {
        await new Promise<void>((resolve) => setImmediate(resolve)); // let abort and I/O in between chunks
        const rng = new BatchRng(args.seed, streamAt(args.streamOffset, start), count);
        let out: unknown;
        try {
          out = await fn(theta.slice(start * thetaDim, (start + count) * thetaDim), count, rng);
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          const error = new SbiError(`Simulator ${name} threw for rows ${start}..${start + count - 1}: ${message}`, 'SIMULATOR_FAILED');
          error.cause = e;
          throw error;
        }
        const x = checkBatchOutput(out, count, xDim, start);
        for (let i = 0; i < count; i++) rows.put(start + i, x, i * xDim);
      },
      abort() {
        // A running function cannot be interrupted on its own thread; no further chunk starts.
      },
    };
  }

  private workerExecutors(lanes: number, theta: Float64Array, args: SimulateArgs): ChunkExecutor[] {
    const data = this.workerData as FunctionWorkerData;
    const { thetaDim, xDim } = this;
    return this.pool.take(lanes, () => new PooledWorker(this.name, data)).map((worker) => ({
      async run(start, count, rows) {
        const x = await worker.runChunk({
          start,
          n: count,
          xDim,
          theta: theta.slice(start * thetaDim, (start + count) * thetaDim),
          seed: args.seed,
          firstStream: streamAt(args.streamOffset, start),
        });
        for (let i = 0; i < count; i++) rows.put(start + i, x, i * xDim);
      },
      abort() {
        void worker.kill();
      },
    }));
  }

  protected async shutdown(): Promise<void> {
    await Promise.all(this.pool.drain().map((w) => w.kill()));
  }
}
