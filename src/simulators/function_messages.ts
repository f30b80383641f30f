/** Messages between `FunctionSimulator` and its worker threads (`function_worker.ts`). */

export interface FunctionWorkerData {
  /** URL (href) of the module holding the simulator function. */
  moduleUrl: string;
  exportName: string;
}

/** Simulate rows [start, start + n) of the call. */
export interface ChunkRequest {
  id: number;
  start: number;
  n: number;
  xDim: number;
  /** [n, thetaDim] */
  theta: Float64Array;
  seed: number | bigint;
  /** Philox stream of the chunk's first row: the call's streamOffset + start. */
  firstStream: number | bigint;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'load-error'; error: SerializedError }
  /** x: [n, xDim] as returned (non-finite values included). */
  | { type: 'done'; id: number; x: Float64Array }
  /** The function threw ('threw') or returned something of the wrong type or length. */
  | { type: 'error'; id: number; kind: 'threw' | 'invalid-output'; error: SerializedError };
