/** Every kind of simulator behind the one `Simulator` interface. */
export {
  NativeSimulator,
  type GoldValues,
  type SimulateOptions,
  type SimulationResult,
  type Simulator,
} from './simulator.js';
export {
  FunctionSimulator,
  type FunctionSimulatorOptions,
  type InProcessFunctionOptions,
  type WorkerFunctionOptions,
} from './function.js';
export { BatchRng, type BatchSimulatorFunction, type SimulatorOutput } from './batch_rng.js';
export { ProcessSimulator, type ProcessSimulatorOptions } from './process.js';
export { PROTOCOL_VERSION } from './protocol.js';
export { SimulationError, type PartialSimulationResult } from './rows.js';
export { PhiloxStream } from '../random/philox.js';
