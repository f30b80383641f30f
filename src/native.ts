/** Loads the compiled addon (build/Release/sbi_engine.node) and hands it the error class. */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SbiError } from './errors.js';

export interface NativeSimulateOptions {
  name: string;
  theta: Float64Array;
  n: number;
  seed: number | bigint;
  streamOffset?: number | bigint;
  x: Float32Array;
  failed: Uint8Array;
  jointLogLikelihood?: Float64Array;
  jointScore?: Float64Array;
  jointLogRatio?: Float64Array;
  thetaRef?: Float64Array;
  design?: Float64Array;
  threads?: number;
}

export interface NativeSimulatorInfo {
  name: string;
  thetaDim: number;
  xDim: number;
  designDim: number;
  gold: boolean;
}

export type ProgressCallback = (done: number, total: number) => void;

export interface NativeAddon {
  init(options: { SbiError: typeof SbiError }): void;
  runtimeInfo(): { hardwareThreads: number; defaultThreads: number; detectedIsa: string; activeIsa: string };
  setThreads(threads: number): void;
  setIsa(isa: string): void;
  philox4x32(counters: Uint32Array, key: Uint32Array, out: Uint32Array): void;
  sample(
    distribution: string, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads?: number,
  ): void;
  sampleAsync(
    distribution: string, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads: number | undefined,
    onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<void>;
  /**
   * Prior draws (kernels/random/prior.h): `parts` holds (kind, dim, params offset) triples with
   * kind 0 boxUniform, 1 normal, 2 logNormal, 3 multivariate normal (loc, Cholesky factor);
   * out is [n, Σ dim]; row i uses Philox stream streamOffset + i.
   */
  samplePrior(
    parts: Int32Array, params: Float64Array, n: number, seed: number | bigint,
    streamOffset: number | bigint, out: Float64Array, threads?: number,
  ): void;
  simulators(): NativeSimulatorInfo[];
  simulate(options: NativeSimulateOptions): number;
  simulateAsync(
    options: NativeSimulateOptions, onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<number>;
  /**
   * Noise-free summaries of the ODE simulators before observation noise — 'sir': I(t_k) in
   * persons (10 values); 'lotka_volterra': prey then predator at t_k (20 values) — for θ
   * [n, thetaDim] into out [n, summaryDim]. rtol / atol default to the simulator's. Returns the
   * number of failed solves; their rows are NaN.
   */
  odeSolution(
    task: string, theta: Float64Array, n: number, rtol: number | undefined, atol: number | undefined,
    out: Float64Array,
  ): number;
  /** Branch-free kernels/common/vecmath.h functions on the active ISA path (for tests). */
  vecmath(name: 'exp' | 'log', x: Float64Array, out: Float64Array): void;
  vecmath(name: 'sincos2pi', x: Float64Array, out: Float64Array, out2: Float64Array): void;
  /** Bulk samplers vs. the sequential draws they must equal (for tests); out holds n + 3 values. */
  samplerFill(
    kind: 'normal' | 'uniform', seed: number | bigint, stream: number | bigint, leadWords: number, n: number,
    out: Float64Array, sequential: boolean,
  ): void;
  /**
   * Elementwise flow transforms of kernels/flows/ over n elements, in the arrays' precision
   * (all Float64Array or all Float32Array). 'rqSpline': hyper = [bins, bound, minBinWidth,
   * minBinHeight, minDerivative], params [n, 3·bins − 1]; 'affine': hyper = [scaleBound], params
   * [n, 2]. 'forward' writes y and the elementwise log|dy/dx| (either may be null to run the
   * value-only or log-det-only kernel); 'inverse' takes y in `x` and writes x and log|dx/dy|.
   */
  flowTransform<A extends Float64Array | Float32Array>(
    transform: 'rqSpline' | 'affine', direction: 'forward' | 'inverse', hyper: Float64Array, x: A, params: A,
    y: A | null, ladj: A | null,
  ): void;
  /** Backward of the forward pass: dL/dx [n] and dL/dparams [n, P] from dL/dy and dL/dlog|dy/dx| [n]. */
  flowTransformBackward<A extends Float64Array | Float32Array>(
    transform: 'rqSpline' | 'affine', hyper: Float64Array, x: A, params: A, gy: A, gl: A, gx: A, gparams: A,
  ): void;
  // Modules added by later families extend this interface here.
  [name: string]: unknown;
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function load(): NativeAddon {
  const candidates = [
    path.join(packageRoot, 'build', 'Release', 'sbi_engine.node'),
    path.join(packageRoot, 'build', 'Debug', 'sbi_engine.node'),
  ];
  let lastError: unknown;
  for (const file of candidates) {
    try {
      const addon = require(file) as NativeAddon;
      addon.init({ SbiError });
      return addon;
    } catch (e) {
      lastError = e;
    }
  }
  throw new SbiError(
    `Could not load the native addon (looked in ${candidates.join(', ')}); run \`npm install\` or \`npm run build\`. ` +
      `Cause: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    'ADDON_NOT_FOUND',
  );
}

export const native: NativeAddon = load();
export { packageRoot };
