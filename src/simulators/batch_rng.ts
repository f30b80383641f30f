/**
 * Per-row random streams for simulators written in TypeScript/JavaScript, and the checks on what
 * such a simulator returns. Loaded by worker threads too, so it imports no native code.
 */
import { SbiError } from '../errors.js';
import { PhiloxStream } from '../random/philox.js';

const U64_MASK = (1n << 64n) - 1n;

/** Philox stream number `first + i`, wrapping at 2^64 like the native uint64 arithmetic. */
export function streamAt(first: number | bigint, i: number): number | bigint {
  if (typeof first === 'number' && first + i <= Number.MAX_SAFE_INTEGER) return first + i;
  const s = (BigInt(first) + BigInt(i)) & U64_MASK;
  return s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}

/**
 * The random streams of one batch of rows: row i of the batch draws from Philox stream
 * `firstStream + i` under key `seed`, where `firstStream` = the call's `streamOffset` + the
 * batch's first row. So a row's variates do not depend on how the rows were split into batches
 * or spread over workers, and equal those a native kernel would draw for the same row.
 */
export class BatchRng {
  constructor(
    readonly seed: number | bigint,
    readonly firstStream: number | bigint,
    /** Rows in the batch. */
    readonly n: number,
  ) {}

  /** A fresh stream for row i (0 <= i < n), positioned at its first draw. */
  stream(i: number): PhiloxStream {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) {
      throw new RangeError(`Expected a row index in [0, ${this.n}) for \`rng.stream\` but received ${i}`);
    }
    return new PhiloxStream(this.seed, streamAt(this.firstStream, i));
  }
}

export type SimulatorOutput = Float32Array | Float64Array | number[];

/**
 * A batched simulator: θ is [n, thetaDim] row-major, the result [n, xDim] row-major. Row i must
 * draw its randomness from `rng.stream(i)` only. A row with any non-finite value counts as a
 * failed simulation; throwing fails the whole call.
 */
export type BatchSimulatorFunction = (
  theta: Float64Array,
  n: number,
  rng: BatchRng,
) => SimulatorOutput | Promise<SimulatorOutput>;

/** Checks the type and length of a batch function's result. */
export function checkBatchOutput(out: unknown, n: number, xDim: number, firstRow: number): ArrayLike<number> {
  const rows = `rows ${firstRow}..${firstRow + n - 1}`;
  if (!(out instanceof Float64Array || out instanceof Float32Array || Array.isArray(out))) {
    const what = out === null ? 'null' : ArrayBuffer.isView(out) ? out.constructor.name : typeof out;
    throw new SbiError(
      `Expected the simulator function to return a Float32Array, Float64Array or number[] for ${rows} but it returned ${what}`,
      'SIMULATOR_OUTPUT_INVALID',
    );
  }
  if (out.length !== n * xDim) {
    throw new SbiError(
      `Expected the simulator function to return ${n * xDim} values ([${n}, ${xDim}]) for ${rows} but it returned ${out.length}`,
      'SIMULATOR_OUTPUT_INVALID',
    );
  }
  if (Array.isArray(out)) {
    for (let k = 0; k < out.length; k++) {
      if (typeof out[k] !== 'number') {
        throw new SbiError(
          `Expected numbers from the simulator function but row ${firstRow + Math.floor(k / xDim)}, column ${k % xDim} is ${typeof out[k]}`,
          'SIMULATOR_OUTPUT_INVALID',
        );
      }
    }
  }
  return out;
}
