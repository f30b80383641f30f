/**
 * Worker-thread entry of `FunctionSimulator`: imports the user's module once, then simulates the
 * chunks it is sent. Messages are typed in `function_messages.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchRng, checkBatchOutput, type BatchSimulatorFunction } from './batch_rng.js';
import type { ChunkRequest, FunctionWorkerData, WorkerReply } from './function_messages.js';

if (!parentPort) throw new Error('function_worker is a worker_threads entry; FunctionSimulator starts it');
const port = parentPort;
const { moduleUrl, exportName } = workerData as FunctionWorkerData;

function describeError(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  return { name: 'Error', message: String(e) };
}

function post(reply: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

async function load(): Promise<BatchSimulatorFunction> {
  const mod = (await import(moduleUrl)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    const exported = Object.keys(mod).join(', ') || 'nothing';
    throw new Error(`Module ${moduleUrl} has no function export "${exportName}" (it exports ${exported})`);
  }
  return fn as BatchSimulatorFunction;
}

try {
  const fn = await load();
  port.on('message', async (req: ChunkRequest) => {
    let out: unknown;
    try {
      out = await fn(req.theta, req.n, new BatchRng(req.seed, req.firstStream, req.n));
    } catch (e) {
      post({ type: 'error', id: req.id, kind: 'threw', error: describeError(e) });
      return;
    }
    try {
      const checked = checkBatchOutput(out, req.n, req.xDim, req.start);
      // A copy: the function may keep reusing the array it returned.
      const x = checked instanceof Float64Array ? checked.slice() : Float64Array.from(checked);
      post({ type: 'done', id: req.id, x }, [x.buffer as ArrayBuffer]);
    } catch (e) {
      post({ type: 'error', id: req.id, kind: 'invalid-output', error: describeError(e) });
    }
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'load-error', error: describeError(e) });
}
