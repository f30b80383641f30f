/**
 * The mixture density network as NPE's / NLE's density estimator (`densityEstimator: 'mdn'`):
 * native training (native/mdn_trainer.h, the generic loop of native/trainer.h with sbi's
 * defaults) and the model file of kinds "NPE/mdn" / "NLE/mdn". The estimators reach it through
 * flow_estimator.ts, which dispatches on the kind; the posterior code is shared because an MDN
 * samples and evaluates z-scored float32 rows exactly as MAF does.
 */
import { SbiError } from '../errors.js';
import type { BackendName } from '../backend/backend.js';
import { trainMdnWebGpu } from '../backend/mdn_train_webgpu.js';
import { openWebGpu } from '../backend/webgpu.js';
import { MDN } from '../flows/mdn.js';
import type { ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import { native } from '../native.js';
import type { NativeMafTrainResult } from '../native.js';
import type { Prior } from '../priors.js';
import { whileAbortable, abortError } from '../simulators/call.js';
import { describe } from '../validate.js';
import { statNames } from './flow_estimator.js';
import type { FlowModelLayout, FlowTrainSummary, FlowTrainOptions } from './flow_estimator.js';

/** The layout version of MDN model files (metadata[layout.versionKey]). */
export const MDN_FILE_VERSION = 1;

/**
 * Trains a fresh MDN q(variable | context) on [n, dims.variable] and [n, dims.context] rows, on
 * the cpu (native) or, with backend 'webgpu', on the device (op flow.mdn_train: the CPU trainer's
 * split, shuffles, initialisation and batches; src/backend/mdn_train_webgpu.ts).
 */
export async function trainMdn(
  variable: Float64Array, context: Float64Array, dims: { variable: number; context: number },
  architecture: { hidden: number; hiddenLayers: number; components: number },
  nativeOptions: Record<string, unknown> & { seed: number | bigint }, options: FlowTrainOptions, backend: BackendName = 'cpu',
): Promise<{ flow: MDN; fit: NativeMafTrainResult }> {
  const flow = new MDN({ dim: dims.variable, contextDim: dims.context, ...architecture });
  if (options.signal?.aborted) throw abortError();
  if (backend === 'webgpu') {
    const { threads: _t, ...webgpuOptions } = nativeOptions;
    const fit = await trainMdnWebGpu(await openWebGpu(), flow, variable, context, {
      ...webgpuOptions, seed: nativeOptions.seed, ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}), ...(options.signal ? { signal: options.signal } : {}),
    });
    flow.params = fit.params;
    return { flow, fit };
  }
  const cancel = new Int32Array(1);
  const fit = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    native.mdnTrain(flow.arch, variable, context, nativeOptions, options.onEpoch, cancel));
  flow.params = fit.params;
  return { flow, fit };
}

/** The model file of a trained MDN estimator (as writeFlowModel for the flows). */
export function writeMdnModel(layout: FlowModelLayout, m: { prior: Prior; flow: MDN; fit: NativeMafTrainResult; summary: FlowTrainSummary }): ModelFile {
  const f = m.flow;
  const s = m.summary;
  const names = statNames(layout);
  return {
    kind: layout.kinds.mdn,
    metadata: {
      [layout.versionKey]: MDN_FILE_VERSION,
      prior: m.prior.spec,
      densityEstimator: 'mdn',
      mdn: {
        dim: f.dim, contextDim: f.contextDim, components: f.components, hidden: f.hidden, hiddenLayers: f.hiddenLayers,
        activation: 'relu', paramCount: f.paramCount,
      },
      training: { epochs: s.epochs, bestEpoch: s.bestEpoch, simulations: s.simulations, excludedSimulations: s.excludedSimulations },
    },
    tensors: {
      params: { data: Float32Array.from(f.params), shape: [f.paramCount] },
      [names.variableMean]: { data: m.fit.thetaMean, shape: [f.dim] },
      [names.variableStd]: { data: m.fit.thetaStd, shape: [f.dim] },
      [names.contextMean]: { data: m.fit.xMean, shape: [f.contextDim] },
      [names.contextStd]: { data: m.fit.xStd, shape: [f.contextDim] },
      trainLoss: { data: s.trainLoss, shape: [s.trainLoss.length] },
      validationLoss: { data: s.validationLoss, shape: [s.validationLoss.length] },
      bestValidationLoss: { data: Float64Array.of(s.bestValidationLoss), shape: [1] },
    },
  };
}

/** Validates an MDN model file of `layout` (kind already checked) and rebuilds prior, network and statistics. */
export function readMdnModel(layout: FlowModelLayout, file: ModelFile): { prior: Prior; flow: MDN; fit: NativeMafTrainResult; summary: FlowTrainSummary } {
  const reader = new ModelFileReader(file, layout.label);
  const invalid = (why: string) => reader.invalid(why);
  const meta = file.metadata;
  const version = meta[layout.versionKey];
  if (version !== MDN_FILE_VERSION) {
    throw new SbiError(`Unsupported ${layout.label} MDN layout version ${describe(version)} (this build reads ${MDN_FILE_VERSION})`, 'UNSUPPORTED_MODEL_VERSION');
  }
  if (meta.densityEstimator !== 'mdn') throw invalid(`densityEstimator ${describe(meta.densityEstimator)} does not match the kind "${file.kind}"`);
  const prior = reader.prior();
  const cfg = meta.mdn as Record<string, unknown> | undefined;
  if (typeof cfg !== 'object' || cfg === null || cfg.activation !== 'relu') throw invalid(`bad MDN configuration ${describe(cfg)}`);
  let flow: MDN;
  try {
    flow = new MDN({
      dim: cfg.dim as number, contextDim: cfg.contextDim as number, components: cfg.components as number,
      hidden: cfg.hidden as number, hiddenLayers: cfg.hiddenLayers as number,
    });
  } catch (e) {
    throw invalid(`bad MDN configuration (${(e as Error).message})`);
  }
  const thetaDim = layout.variable === 'theta' ? flow.dim : flow.contextDim;
  if (prior.dim !== thetaDim) throw invalid(`prior has ${prior.dim} dimensions but the MDN's θ has ${thetaDim}`);
  if (cfg.paramCount !== flow.paramCount) throw invalid(`paramCount ${describe(cfg.paramCount)} does not match the MDN configuration (${flow.paramCount} parameters)`);
  const params = reader.finiteTensor('params', Float32Array, flow.paramCount);
  const names = statNames(layout);
  const { count, ...losses } = reader.trainingSummary();
  flow.params = params;
  const fit: NativeMafTrainResult = {
    params, ...losses,
    thetaMean: reader.finiteTensor(names.variableMean, Float64Array, flow.dim),
    thetaStd: reader.finiteTensor(names.variableStd, Float64Array, flow.dim, true),
    xMean: reader.finiteTensor(names.contextMean, Float64Array, flow.contextDim),
    xStd: reader.finiteTensor(names.contextStd, Float64Array, flow.contextDim, true),
  };
  const summary: FlowTrainSummary = { ...losses, simulations: count('simulations', 1), excludedSimulations: count('excludedSimulations', 0) };
  return { prior, flow, fit, summary };
}
