/**
 * One interface over every kind of simulator: built-in native kernels, batched TypeScript
 * functions run on worker threads, and external programs speaking the line protocol.
 *
 * Seeding contract (all kinds): row i of a call with `seed` s and `streamOffset` o is
 * simulated from Philox stream (o + i) under key s, so the output of a row depends only on
 * (s, o + i, θ_i) — never on batch size, chunking, threads or backend.
 */
import { native, type ProgressCallback } from '../native.js';
import { SbiError } from '../errors.js';
import { checkFiniteArray } from '../validate.js';
import { abortError, checkSimulateArgs, whileAbortable } from './call.js';
import { backendForOp, type BackendRequest } from '../backend/backend.js';

export interface SimulateOptions {
  /** Philox key; a non-negative safe integer or a bigint below 2^64. */
  seed: number | bigint;
  /** First Philox stream (row i uses streamOffset + i). Default 0. */
  streamOffset?: number | bigint;
  /** Worker threads (default: all cores). Never changes the result. */
  threads?: number;
  /**
   * Where to run (default 'cpu'): 'webgpu', 'cuda' or 'auto' (docs/backends.md). The seed means
   * the same on every backend; float results agree with the CPU within the op's tolerance. A
   * backend named explicitly that cannot run this simulator is an UNSUPPORTED_OP error; 'auto'
   * then runs it on the CPU.
   */
  backend?: BackendRequest;
  /** Design variables, for simulators that have them (e.g. √s for `weinberg`). */
  design?: ArrayLike<number>;
  /** Also return the joint log-likelihood and joint score of the latent path. */
  gold?: boolean;
  /** With `gold`: reference parameters (one row, or one per sample) for the joint log-ratio. */
  thetaRef?: Float64Array;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface GoldValues {
  /** log p(x, z | θ), [n] */
  jointLogLikelihood: Float64Array;
  /** ∇_θ log p(x, z | θ), [n, thetaDim] */
  jointScore: Float64Array;
  /** log p(x, z | θ) − log p(x, z | θ_ref), [n]; present when `thetaRef` was given */
  jointLogRatio?: Float64Array;
}

export interface SimulationResult {
  /** [n, xDim], row-major; failed rows are NaN */
  x: Float32Array;
  n: number;
  /** [n]: 1 where the simulation failed (x row is NaN) */
  failed: Uint8Array;
  failedCount: number;
  gold?: GoldValues;
}

export interface Simulator {
  readonly name: string;
  readonly thetaDim: number;
  readonly xDim: number;
  readonly designDim: number;
  /** Whether `gold: true` is supported. */
  readonly hasGold: boolean;
  /** θ is [n, thetaDim] row-major. */
  simulate(theta: Float64Array, options: SimulateOptions): Promise<SimulationResult>;
}

/** A built-in simulator kernel (see `NativeSimulator.list()`). */
export class NativeSimulator implements Simulator {
  readonly name: string;
  readonly thetaDim: number;
  readonly xDim: number;
  readonly designDim: number;
  readonly hasGold: boolean;

  constructor(name: string) {
    const info = native.simulators().find((s) => s.name === name);
    if (!info) {
      const known = native.simulators().map((s) => s.name).join(', ');
      throw new SbiError(`Unknown simulator "${name}"; known: ${known}`, 'UNKNOWN_SIMULATOR');
    }
    this.name = info.name;
    this.thetaDim = info.thetaDim;
    this.xDim = info.xDim;
    this.designDim = info.designDim;
    this.hasGold = info.gold;
  }

  static list(): string[] {
    return native.simulators().map((s) => s.name);
  }

  private prepare(theta: Float64Array, options: SimulateOptions, copyInputs: boolean) {
    const { n, seed, streamOffset, threads, design, gold } = checkSimulateArgs(this, theta, options, { thetaValues: false, backends: true });
    let thetaRef: Float64Array | undefined;
    if (options.thetaRef !== undefined) {
      const ref = options.thetaRef;
      checkFiniteArray(ref, 'thetaRef', this.thetaDim);
      if (ref.length === this.thetaDim) {
        thetaRef = new Float64Array(n * this.thetaDim);
        for (let i = 0; i < n; i++) thetaRef.set(ref, i * this.thetaDim);
      } else if (ref.length === theta.length) {
        thetaRef = copyInputs ? ref.slice() : ref;
      } else {
        throw new RangeError(
          `Expected \`thetaRef\` to have ${this.thetaDim} or ${theta.length} elements but received ${ref.length}`,
        );
      }
    }
    const x = new Float32Array(n * this.xDim);
    const failed = new Uint8Array(n);
    const goldValues: GoldValues | undefined = gold
      ? {
          jointLogLikelihood: new Float64Array(n),
          jointScore: new Float64Array(n * this.thetaDim),
          ...(thetaRef ? { jointLogRatio: new Float64Array(n) } : {}),
        }
      : undefined;
    const args = {
      name: this.name,
      theta: copyInputs ? theta.slice() : theta,
      n,
      seed,
      streamOffset,
      x,
      failed,
      ...(goldValues
        ? {
            jointLogLikelihood: goldValues.jointLogLikelihood,
            jointScore: goldValues.jointScore,
            ...(thetaRef ? { jointLogRatio: goldValues.jointLogRatio, thetaRef } : {}),
          }
        : {}),
      ...(design ? { design } : {}),
      ...(threads !== undefined ? { threads } : {}),
    };
    return { args, result: { x, n, failed, failedCount: 0, ...(goldValues ? { gold: goldValues } : {}) } };
  }

  /** Synchronous run on the CPU thread pool: for small batches, or when blocking is fine. */
  simulateSync(theta: Float64Array, options: Omit<SimulateOptions, 'onProgress' | 'signal'>): SimulationResult {
    if (options.backend !== undefined && options.backend !== 'cpu' && options.backend !== 'auto') {
      throw new SbiError(`simulateSync runs on the cpu backend only; use simulate() for --backend ${options.backend}`, 'UNSUPPORTED_OP');
    }
    const { args, result } = this.prepare(theta, options, false);
    result.failedCount = native.simulate(args);
    return result;
  }

  /** Runs off the event loop; inputs are copied so the caller may reuse its arrays at once. */
  async simulate(theta: Float64Array, options: SimulateOptions): Promise<SimulationResult> {
    const { args, result } = this.prepare(theta, options, true);
    if (options.backend !== undefined && options.backend !== 'cpu') {
      const op = `simulate.${this.name}`;
      const backend = await backendForOp(options.backend, op);
      const cpuOnly = options.gold === true || options.thetaRef !== undefined;
      if (backend.name !== 'cpu' && cpuOnly && options.backend !== 'auto') {
        throw new SbiError(`${op} is not supported on the ${backend.name} backend with gold values: only the cpu computes them`, 'UNSUPPORTED_OP');
      }
      if (backend.name !== 'cpu' && !cpuOnly) {
        const r = await backend.simulate(this.name, args.theta, {
          seed: args.seed,
          streamOffset: args.streamOffset,
          ...(args.design ? { design: args.design } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return { x: r.x, n: result.n, failed: r.failed, failedCount: r.failedCount };
      }
    }
    const cancel = new Int32Array(1);
    if (options.signal?.aborted) throw abortError();
    result.failedCount = await whileAbortable(
      options.signal,
      () => Atomics.store(cancel, 0, 1),
      () => native.simulateAsync(args, options.onProgress, cancel),
    );
    return result;
  }
}
