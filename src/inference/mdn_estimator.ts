/**
 * The mixture density network as NPE's / NLE's density estimator (`densityEstimator: 'mdn'`):
 * native training (native/mdn_trainer.h, the generic loop of native/trainer.h with sbi's
 * defaults) and the model file of kinds "NPE/mdn" / "NLE/mdn". The estimators reach it through
 * flow_estimator.ts, which dispatches on the kind; the posterior code is shared because an MDN
 * samples and evaluates z-scored float32 rows exactly as MAF does.
 */
import { SbiError } from '../errors.js';
import { MDN } from '../flows/mdn.js';
import type { ModelFile } from '../io/model_file.js';
import { native } from '../native.js';
import type { NativeMafTrainResult } from '../native.js';
import { createPrior } from '../priors.js';
import type { Prior, PriorSpec } from '../priors.js';
import { whileAbortable, abortError } from '../simulators/call.js';
import { describe } from '../validate.js';
import { statNames } from './flow_estimator.js';
import type { FlowModelLayout, FlowTrainSummary, FlowTrainOptions } from './flow_estimator.js';

/** The layout version of MDN model files (metadata[layout.versionKey]). */
export const MDN_FILE_VERSION = 1;

/** Trains a fresh MDN q(variable | context) on [n, dims.variable] and [n, dims.context] rows. */
export async function trainMdn(
  variable: Float64Array, context: Float64Array, dims: { variable: number; context: number },
  architecture: { hidden: number; hiddenLayers: number; components: number },
  nativeOptions: Record<string, unknown> & { seed: number | bigint }, options: FlowTrainOptions,
): Promise<{ flow: MDN; fit: NativeMafTrainResult }> {
  const flow = new MDN({ dim: dims.variable, contextDim: dims.context, ...architecture });
  if (options.signal?.aborted) throw abortError();
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
  const invalid = (why: string) => new SbiError(`Invalid ${layout.label} model file: ${why}`, 'INVALID_MODEL_FILE');
  const meta = file.metadata;
  const version = meta[layout.versionKey];
  if (version !== MDN_FILE_VERSION) {
    throw new SbiError(`Unsupported ${layout.label} MDN layout version ${describe(version)} (this build reads ${MDN_FILE_VERSION})`, 'UNSUPPORTED_MODEL_VERSION');
  }
  if (meta.densityEstimator !== 'mdn') throw invalid(`densityEstimator ${describe(meta.densityEstimator)} does not match the kind "${file.kind}"`);
  let prior: Prior;
  try {
    prior = createPrior(meta.prior as PriorSpec);
  } catch (e) {
    throw invalid(`bad prior spec (${(e as Error).message})`);
  }
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
  const tensor = <T extends Float32Array | Float64Array>(name: string, ctor: { new (n: number): T; name: string }, length: number): T => {
    const t = file.tensors[name];
    if (!t) throw invalid(`tensor "${name}" is missing`);
    if (!(t.data instanceof ctor) || t.shape.length !== 1 || t.data.length !== length) {
      throw invalid(`tensor "${name}" should be a ${ctor.name} of ${length} values but holds ${t.data.constructor.name} [${t.shape}]`);
    }
    return t.data as T;
  };
  const params = tensor('params', Float32Array, flow.paramCount);
  params.forEach((v, j) => {
    if (!Number.isFinite(v)) throw invalid(`parameter ${j} is ${v}`);
  });
  const stats = (name: string, length: number, positive: boolean) => {
    const v = tensor(name, Float64Array, length);
    v.forEach((a, i) => {
      if (!Number.isFinite(a) || (positive && !(a > 0))) throw invalid(`${name}[${i}] is ${a}`);
    });
    return v;
  };
  const names = statNames(layout);
  const training = meta.training as Record<string, unknown> | undefined;
  if (typeof training !== 'object' || training === null) throw invalid('no training summary');
  const count = (name: string, min: number) => {
    const v = training[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(`training.${name} is ${describe(v)}`);
    return v;
  };
  const epochs = count('epochs', 1);
  const bestEpoch = count('bestEpoch', 1);
  if (bestEpoch > epochs) throw invalid(`training.bestEpoch ${bestEpoch} exceeds epochs ${epochs}`);
  const trainLoss = tensor('trainLoss', Float64Array, epochs);
  const validationLoss = tensor('validationLoss', Float64Array, epochs);
  const bestValidationLoss = tensor('bestValidationLoss', Float64Array, 1)[0]!;
  flow.params = params;
  const fit: NativeMafTrainResult = {
    params, epochs, bestEpoch, bestValidationLoss, trainLoss, validationLoss,
    thetaMean: stats(names.variableMean, flow.dim, false), thetaStd: stats(names.variableStd, flow.dim, true),
    xMean: stats(names.contextMean, flow.contextDim, false), xStd: stats(names.contextStd, flow.contextDim, true),
  };
  const summary: FlowTrainSummary = {
    epochs, bestEpoch, bestValidationLoss, trainLoss, validationLoss,
    simulations: count('simulations', 1), excludedSimulations: count('excludedSimulations', 0),
  };
  return { prior, flow, fit, summary };
}
