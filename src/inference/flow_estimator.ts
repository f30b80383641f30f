/**
 * What the flow-based estimators share. NPE models q(θ | x) and NLE models q(x | θ): both are a
 * conditional MAF / NSF q(v | c) trained natively (native/flow_trainer.h), or a mixture density
 * network (mdn_estimator.ts, native/mdn_trainer.h), on z-scored pairs
 * (v, c), fed from the same store of simulations, saved in the same model-file layout. Only the
 * roles differ: `variable: 'theta'` (NPE) or `variable: 'x'` (NLE).
 */
import { SbiError } from '../errors.js';
import { backendForOp, type BackendName, type BackendRequest } from '../backend/backend.js';
import { trainMafWebGpu } from '../backend/flow_train_webgpu.js';
import { openWebGpu } from '../backend/webgpu.js';
import { MAF } from '../flows/maf.js';
import type { MAFConfig, MAFTransform } from '../flows/maf.js';
import { MDN, MDN_MAX_COMPONENTS } from '../flows/mdn.js';
import type { ModelFile } from '../io/model_file.js';
import { ModelFileReader } from '../io/model_reader.js';
import { native } from '../native.js';
import type { NativeEpochLosses, NativeMafTrainOptions, NativeMafTrainResult } from '../native.js';
import type { Prior } from '../priors.js';
import { deriveSeed, SeedPurpose } from '../seeds.js';
import { EmbeddingNet, readEmbeddingOptions } from './embedding.js';
import type { EmbeddingConfig, EmbeddingOptions } from './embedding.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { readMdnModel, trainMdn, writeMdnModel } from './mdn_estimator.js';
import {
  checkFiniteArray, checkMatrix, checkPositive, checkPositiveInteger, checkProbability, checkSeed, checkThreads, describe,
} from '../validate.js';

/** The normalizing-flow estimators: an elementwise transform in autoregressive or coupling MADEs. */
export type FlowKind = 'maf' | 'nsf' | 'maf-coupling' | 'nsf-coupling';
/** A flow, or 'mdn': a mixture density network. */
export type DensityEstimatorKind = FlowKind | 'mdn';

/** The trained conditional density: a flow, or a mixture density network. */
export type ConditionalDensity = MAF | MDN;

/**
 * Each flow kind's elementwise transform and whether its MADEs are coupling layers (passes = 2, or 1
 * for a 1-D variable: half the variables given the context, the other half given both) rather
 * than autoregressive (passes = dim). For dim ≤ 2 the two coincide.
 */
const FLOW_ESTIMATORS: Record<FlowKind, { transform: MAFTransform; coupling: boolean }> = {
  maf: { transform: { kind: 'affine' }, coupling: false },
  nsf: { transform: { kind: 'rqSpline', bins: 10, bound: 3 }, coupling: false },
  'maf-coupling': { transform: { kind: 'affine' }, coupling: true },
  'nsf-coupling': { transform: { kind: 'rqSpline', bins: 10, bound: 3 }, coupling: true },
};
export const FLOW_KINDS = Object.keys(FLOW_ESTIMATORS) as FlowKind[];
export const DENSITY_ESTIMATOR_KINDS: DensityEstimatorKind[] = [...FLOW_KINDS, 'mdn'];

/** The MADE degree groups of flow `kind` for a `dim`-dimensional variable. */
export function flowPasses(kind: FlowKind, dim: number): number {
  return FLOW_ESTIMATORS[kind].coupling ? Math.min(2, dim) : dim;
}

export interface FlowEstimatorOptions {
  prior: Prior;
  /**
   * 'maf': affine MAF; 'nsf': autoregressive rational-quadratic spline flow (10 bins, bound 3);
   * 'maf-coupling' / 'nsf-coupling': the same transforms in coupling layers (RealNVP-like /
   * coupling NSF), whose sampling takes 2 network passes per layer instead of dim;
   * 'mdn': mixture of `components` full-covariance Gaussians (sbi's MDN).
   */
  densityEstimator?: DensityEstimatorKind;
  /** 'mdn' only: mixture components (default 10, as sbi; at most 100). */
  components?: number;
  /** Hidden units per MADE layer, or per layer of the MDN's network (default 50, as sbi). */
  hidden?: number;
  /** Flow layers (default 5, as sbi). */
  layers?: number;
  /** Hidden layers per MADE (default 2). */
  hiddenLayers?: number;
  /**
   * NPE only: a jointly trained embedding network e(x) (ReLU MLP) whose output is the flow's
   * context, for high-dimensional x. Default: none (the z-scored x is the context).
   */
  embedding?: EmbeddingOptions;
}

export interface FlowArchitecture {
  hidden: number;
  layers: number;
  hiddenLayers: number;
  embedding?: EmbeddingConfig;
  /** 'mdn' only. */
  components?: number;
}

/** Training settings: sbi's defaults (batch 200, lr 5e-4, 10 % validation, patience 20, clip 5). */
export interface FlowTrainOptions extends NativeMafTrainOptions {
  onEpoch?: (losses: NativeEpochLosses) => void;
  signal?: AbortSignal;
  /**
   * Where training runs (op flow.maf_train, flow.maf_embedding_train with an embedding network,
   * flow.mdn_train; default 'cpu'): 'webgpu' trains a flow (MAF / NSF, autoregressive or coupling,
   * with or without an embedding network), or an MDN, on the WebGPU device, with the CPU trainer's
   * algorithm and randomness (src/backend/flow_train_webgpu.ts, mdn_train_webgpu.ts). 'auto' uses
   * the automatic backend where it can train, else the cpu.
   */
  backend?: BackendRequest;
}

/**
 * The backend that trains `densityEstimator` for `request` (op flow.maf_train, flow.maf_embedding_train
 * with an embedding network, or flow.mdn_train for an MDN): UNSUPPORTED_OP when a backend named
 * explicitly cannot, the cpu instead for 'auto'.
 */
export async function flowTrainingBackend(request: BackendRequest, densityEstimator: DensityEstimatorKind, embedding: boolean): Promise<BackendName> {
  if (request === 'cpu') return 'cpu';
  if (densityEstimator === 'mdn') return (await backendForOp(request, 'flow.mdn_train')).name;
  return (await backendForOp(request, embedding ? 'flow.maf_embedding_train' : 'flow.maf_train')).name;
}

export interface FlowTrainSummary {
  epochs: number;
  bestEpoch: number;
  /** Mean −log q of the modelled variable (θ for NPE, x for NLE) over the validation rows at the best epoch. */
  bestValidationLoss: number;
  trainLoss: Float64Array;
  validationLoss: Float64Array;
  /** Simulations trained on (training and validation rows) and those excluded as non-finite. */
  simulations: number;
  excludedSimulations: number;
}

/** Checks the constructor options of NPE / NLE. */
export function readEstimatorOptions(options: unknown): { prior: Prior; densityEstimator: DensityEstimatorKind; architecture: FlowArchitecture } {
  if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`prior\` but received ${describe(options)}`);
  const o = options as FlowEstimatorOptions;
  const prior = o.prior;
  if (typeof prior !== 'object' || prior === null || typeof prior.inSupport !== 'function' || typeof prior.dim !== 'number') {
    throw new TypeError(`Expected a Prior (createPrior or getTask(...).prior) for \`prior\` but received ${describe(prior)}`);
  }
  const kind = o.densityEstimator ?? 'maf';
  if (!DENSITY_ESTIMATOR_KINDS.includes(kind)) {
    throw new RangeError(`Expected "mdn", "maf-coupling", "nsf-coupling", "maf" or "nsf" for \`densityEstimator\` but received ${describe(kind)}`);
  }
  if (kind === 'mdn' && o.embedding !== undefined) throw new TypeError('Expected no `embedding` with densityEstimator "mdn" (embedding networks are trained with the flows only)');
  if (kind !== 'mdn' && o.components !== undefined) throw new TypeError(`Expected no \`components\` with densityEstimator ${describe(kind)} (it sets the mixture of "mdn")`);
  return {
    prior,
    densityEstimator: kind,
    architecture: {
      hidden: checkPositiveInteger(o.hidden ?? 50, 'hidden', 1 << 16),
      layers: checkPositiveInteger(o.layers ?? 5, 'layers', 256),
      hiddenLayers: checkPositiveInteger(o.hiddenLayers ?? 2, 'hiddenLayers', 64),
      ...(o.embedding !== undefined ? { embedding: readEmbeddingOptions(o.embedding)! } : {}),
      ...(kind === 'mdn' ? { components: checkPositiveInteger(o.components ?? 10, 'components', MDN_MAX_COMPONENTS) } : {}),
    },
  };
}

/** Simulations (θ, x) appended over rounds; rows with a non-finite x are excluded and counted. */
export class SimulationStore {
  private thetaRows: Float64Array[] = [];
  private xRows: Float64Array[] = [];
  xDim: number | undefined;
  /** Rows kept for training, and rows excluded because x held NaN or ±Infinity. */
  kept = 0;
  excluded = 0;
  /** What the last `append` kept and excluded. */
  last = { added: 0, excluded: 0 };

  constructor(readonly thetaDim: number) {}

  /** Adds θ [n, thetaDim] (finite) and x [n, xDim]; see NPE.appendSimulations. */
  append(theta: Float64Array, x: Float64Array | Float32Array, xDim?: number): { added: number; excluded: number } {
    const D = this.thetaDim;
    const n = checkMatrix(theta, D, 'theta');
    checkFiniteArray(theta, 'theta', D);
    if (!(x instanceof Float64Array || x instanceof Float32Array)) {
      throw new TypeError(`Expected a Float64Array or Float32Array for \`x\` ([n, xDim] row-major) but received ${describe(x)}`);
    }
    if (x.length === 0 || x.length % n !== 0) {
      throw new RangeError(`Expected \`x\` to hold n · xDim values with n = ${n} (the rows of theta) but received ${x.length}`);
    }
    const dim = x.length / n;
    if (xDim !== undefined && checkPositiveInteger(xDim, 'xDim') !== dim) {
      throw new RangeError(`Expected \`x\` to hold ${n} rows of xDim = ${xDim} values but it holds ${x.length}`);
    }
    if (this.xDim !== undefined && dim !== this.xDim) {
      throw new RangeError(`Expected \`x\` to hold rows of ${this.xDim} values (as the simulations appended before) but received ${x.length} values for ${n} rows`);
    }
    this.xDim = dim;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      let finite = true;
      for (let j = 0; j < dim && finite; j++) finite = Number.isFinite(x[i * dim + j]!);
      if (finite) keep.push(i);
    }
    const t = new Float64Array(keep.length * D);
    const xs = new Float64Array(keep.length * dim);
    keep.forEach((i, r) => {
      t.set(theta.subarray(i * D, (i + 1) * D), r * D);
      for (let j = 0; j < dim; j++) xs[r * dim + j] = x[i * dim + j]!;
    });
    this.thetaRows.push(t);
    this.xRows.push(xs);
    this.kept += keep.length;
    this.excluded += n - keep.length;
    this.last = { added: keep.length, excluded: n - keep.length };
    return { ...this.last };
  }

  /** Every kept θ [kept, thetaDim] and x [kept, xDim]; throws NO_SIMULATIONS when there are none. */
  data(label: string): { theta: Float64Array; x: Float64Array; xDim: number } {
    if (this.xDim === undefined || this.kept === 0) {
      throw new SbiError(
        `${label} has no simulations to train on${this.excluded > 0 ? ` (all ${this.excluded} had non-finite x)` : ''}; call appendSimulations first`,
        'NO_SIMULATIONS',
      );
    }
    return { theta: concat(this.thetaRows), x: concat(this.xRows), xDim: this.xDim };
  }
}

/**
 * Trains a fresh conditional flow q(variable | context) on [n, variableDim] and [n, contextDim]
 * rows (z-scored natively; the fit's `theta*` statistics are the variable's, `x*` the context's).
 */
export async function trainConditionalFlow(
  variable: Float64Array, context: Float64Array, dims: { variable: number; context: number },
  densityEstimator: DensityEstimatorKind, architecture: FlowArchitecture, options: FlowTrainOptions,
): Promise<{ flow: ConditionalDensity; fit: NativeMafTrainResult; embedding?: EmbeddingNet }> {
  if (typeof options !== 'object' || options === null) throw new TypeError(`Expected an options object with \`seed\` for \`train\` but received ${describe(options)}`);
  const seed = checkSeed(options.seed);
  if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function') {
    throw new TypeError(`Expected a function for \`onEpoch\` but received ${describe(options.onEpoch)}`);
  }
  // The native loop draws the split and shuffles from streams 0 and 1 of the training key; the
  // initialisation (stream = layer) uses a key derived from it.
  const trainingSeed = deriveSeed(seed, SeedPurpose.training);
  const nativeOptions = {
    seed: trainingSeed,
    ...(options.maxEpochs !== undefined ? { maxEpochs: checkPositiveInteger(options.maxEpochs, 'maxEpochs', 2 ** 31 - 1) } : {}),
    ...(options.batchSize !== undefined ? { batchSize: checkPositiveInteger(options.batchSize, 'batchSize', 1 << 20) } : {}),
    ...(options.learningRate !== undefined ? { learningRate: checkPositive(options.learningRate, 'learningRate') } : {}),
    ...(options.validationFraction !== undefined ? { validationFraction: checkProbability(options.validationFraction, 'validationFraction') } : {}),
    ...(options.stopAfterEpochs !== undefined ? { stopAfterEpochs: checkPositiveInteger(options.stopAfterEpochs, 'stopAfterEpochs') } : {}),
    ...(options.clipMaxNorm !== undefined ? { clipMaxNorm: checkPositive(options.clipMaxNorm, 'clipMaxNorm') } : {}),
    ...(options.threads !== undefined ? { threads: checkThreads(options.threads) } : {}),
  };
  const backend = await flowTrainingBackend(options.backend ?? 'cpu', densityEstimator, architecture.embedding !== undefined);
  if (densityEstimator === 'mdn') {
    const { hidden, hiddenLayers, components } = architecture;
    return trainMdn(variable, context, dims, { hidden, hiddenLayers, components: components ?? 10 }, nativeOptions, options, backend);
  }
  const { embedding: embeddingConfig, components: _, ...flowArchitecture } = architecture;
  // The embedding (stream l of a key derived from the training key for layer l) maps x to the flow's context.
  const embedding = embeddingConfig === undefined ? undefined
    : EmbeddingNet.init([dims.context, ...embeddingConfig.hidden, embeddingConfig.outputDim], deriveSeed(trainingSeed, 2));
  const flow = new MAF({
    dim: dims.variable,
    contextDim: embedding ? embedding.outputDim : dims.context,
    ...flowArchitecture,
    transform: FLOW_ESTIMATORS[densityEstimator].transform,
    passes: flowPasses(densityEstimator, dims.variable),
  }, { seed: deriveSeed(trainingSeed, 1), precision: 'float32' });
  const v = Float32Array.from(variable);
  const c = Float32Array.from(context);
  if (options.signal?.aborted) throw abortError();
  if (backend === 'webgpu') {
    const { threads: _t, ...webgpuOptions } = nativeOptions;
    const fit = await trainMafWebGpu(await openWebGpu(), flow, v, c, {
      ...webgpuOptions, ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}), ...(options.signal ? { signal: options.signal } : {}),
      ...(embedding ? { embedding } : {}),
    });
    flow.params = fit.params;
    if (embedding) {
      embedding.params = fit.embeddingParams!;
      return { flow, fit, embedding };
    }
    return { flow, fit };
  }
  const cancel = new Int32Array(1);
  const fit = await whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    native.mafTrain(flow.arch, flow.transform.kind, flow.hyper, flow.params as Float32Array, v, c,
      embedding ? { ...nativeOptions, embeddingSizes: embedding.sizes, embeddingParams: embedding.params } : nativeOptions,
      options.onEpoch, cancel));
  flow.params = fit.params;
  if (embedding) {
    embedding.params = fit.embeddingParams!;
    return { flow, fit, embedding };
  }
  return { flow, fit };
}

/** The summary of a native fit over `store`'s simulations. */
export function trainSummary(fit: NativeMafTrainResult, store: SimulationStore): FlowTrainSummary {
  return {
    epochs: fit.epochs, bestEpoch: fit.bestEpoch, bestValidationLoss: fit.bestValidationLoss, trainLoss: fit.trainLoss,
    validationLoss: fit.validationLoss, simulations: store.kept, excludedSimulations: store.excluded,
  };
}

/** A copy a caller may keep (the loss arrays are not shared with the estimator). */
export function copySummary(s: FlowTrainSummary): FlowTrainSummary {
  return { ...s, trainLoss: s.trainLoss.slice(), validationLoss: s.validationLoss.slice() };
}

/** A trained flow estimator as a model file holds it. */
export interface FlowModel {
  prior: Prior;
  densityEstimator: DensityEstimatorKind;
  flow: ConditionalDensity;
  /** z-scoring as the native fit names it: theta* = the flow's variable, x* = its context. */
  fit: NativeMafTrainResult;
  summary: FlowTrainSummary;
  /** The embedding network between x and the flow's context (NPE only), if any. */
  embedding?: EmbeddingNet;
}

/** The constructor options that rebuild an estimator with `flow`'s architecture. */
export function architectureOptions(flow: ConditionalDensity): Pick<FlowEstimatorOptions, 'hidden' | 'hiddenLayers' | 'layers' | 'components'> {
  return flow instanceof MDN ? { hidden: flow.hidden, hiddenLayers: flow.hiddenLayers, components: flow.components }
    : { hidden: flow.hidden, layers: flow.layers, hiddenLayers: flow.hiddenLayers };
}

/** How an estimator lays out its model file: kinds, version key, and which of θ / x the flow models. */
export interface FlowModelLayout {
  label: string;
  kinds: { maf: string; nsf: string; mdn: string };
  versionKey: string;
  version: number;
  /** The version written when the model has an embedding network (older readers reject it); both are read. */
  embeddingVersion?: number;
  variable: 'theta' | 'x';
}

/** Tensor names of the variable's and the context's statistics (the data's names, θ or x). */
export function statNames(layout: FlowModelLayout) {
  const [v, c] = layout.variable === 'theta' ? ['theta', 'x'] : ['x', 'theta'];
  return { variableMean: `${v}Mean`, variableStd: `${v}Std`, contextMean: `${c}Mean`, contextStd: `${c}Std` };
}

export function flowModelKind(layout: FlowModelLayout, flow: ConditionalDensity): string {
  if (flow instanceof MDN) return layout.kinds.mdn;
  return flow.transform.kind === 'rqSpline' ? layout.kinds.nsf : layout.kinds.maf;
}

/** The estimator kind that builds `flow` ('…-coupling' only where coupling differs, dim ≥ 3). */
function flowDensityEstimator(flow: MAF): DensityEstimatorKind {
  const base = flow.transform.kind === 'rqSpline' ? 'nsf' : 'maf';
  return flow.passes < flow.dim ? `${base}-coupling` : base;
}

/** The model file of a trained estimator: prior spec, flow configuration, parameters, z-scoring, losses. */
export function writeFlowModel(layout: FlowModelLayout, m: Omit<FlowModel, 'densityEstimator'>): ModelFile {
  const f = m.flow;
  if (f instanceof MDN) return writeMdnModel(layout, { prior: m.prior, flow: f, fit: m.fit, summary: m.summary });
  const s = m.summary;
  const names = statNames(layout);
  const e = m.embedding;
  if (e && layout.embeddingVersion === undefined) throw new TypeError(`${layout.label} model files hold no embedding network`);
  const contextDim = e ? e.inputDim : f.contextDim;
  return {
    kind: flowModelKind(layout, f),
    metadata: {
      [layout.versionKey]: e ? layout.embeddingVersion! : layout.version,
      ...(e ? { embedding: { sizes: Array.from(e.sizes), activation: 'relu', paramCount: e.paramCount } } : {}),
      prior: m.prior.spec,
      densityEstimator: flowDensityEstimator(f),
      flow: {
        dim: f.dim, contextDim: f.contextDim, hidden: f.hidden, hiddenLayers: f.hiddenLayers, layers: f.layers,
        passes: f.passes, activation: f.activation, transform: f.transform, paramCount: f.paramCount,
      },
      training: { epochs: s.epochs, bestEpoch: s.bestEpoch, simulations: s.simulations, excludedSimulations: s.excludedSimulations },
    },
    tensors: {
      // Parameters as trained (float32), statistics and losses as float64: exact bits.
      params: { data: Float32Array.from(f.params), shape: [f.paramCount] },
      [names.variableMean]: { data: m.fit.thetaMean, shape: [f.dim] },
      [names.variableStd]: { data: m.fit.thetaStd, shape: [f.dim] },
      [names.contextMean]: { data: m.fit.xMean, shape: [contextDim] },
      [names.contextStd]: { data: m.fit.xStd, shape: [contextDim] },
      ...(e ? { embeddingParams: { data: Float32Array.from(e.params), shape: [e.paramCount] } } : {}),
      trainLoss: { data: s.trainLoss, shape: [s.trainLoss.length] },
      validationLoss: { data: s.validationLoss, shape: [s.validationLoss.length] },
      bestValidationLoss: { data: Float64Array.of(s.bestValidationLoss), shape: [1] },
    },
  };
}

/** Validates decoded model file contents of `layout` and rebuilds prior, flow and statistics. */
export function readFlowModel(layout: FlowModelLayout, file: ModelFile): FlowModel {
  const { label, kinds } = layout;
  if (file.kind === kinds.mdn) return { ...readMdnModel(layout, file), densityEstimator: 'mdn' };
  const reader = new ModelFileReader(file, label);
  const invalid = (why: string) => reader.invalid(why);
  if (file.kind !== kinds.maf && file.kind !== kinds.nsf) {
    throw new SbiError(`Expected a model file of kind "${kinds.maf}", "${kinds.nsf}" or "${kinds.mdn}" but this one holds "${file.kind}"`, 'WRONG_MODEL_KIND');
  }
  const meta = file.metadata;
  const version = meta[layout.versionKey];
  const withEmbedding = layout.embeddingVersion !== undefined && version === layout.embeddingVersion;
  if (version !== layout.version && !withEmbedding) {
    const readable = layout.embeddingVersion !== undefined ? `${layout.version} and ${layout.embeddingVersion}` : `${layout.version}`;
    throw new SbiError(`Unsupported ${label} layout version ${describe(version)} (this build reads ${readable})`, 'UNSUPPORTED_MODEL_VERSION');
  }
  const densityEstimator = meta.densityEstimator as FlowKind;
  const fileTransform = file.kind === kinds.nsf ? 'rqSpline' : 'affine';
  if (!FLOW_KINDS.includes(densityEstimator) || FLOW_ESTIMATORS[densityEstimator].transform.kind !== fileTransform) {
    throw invalid(`densityEstimator ${describe(meta.densityEstimator)} does not match the kind "${file.kind}"`);
  }
  const prior = reader.prior();
  const cfg = meta.flow as Record<string, unknown> | undefined;
  if (typeof cfg !== 'object' || cfg === null) throw invalid('no flow configuration');
  const transform = cfg.transform as MAFConfig['transform'];
  if (typeof transform !== 'object' || transform === null || transform.kind !== fileTransform) {
    throw invalid(`flow transform ${describe((transform as { kind?: unknown } | undefined)?.kind)} does not match the kind "${file.kind}"`);
  }
  let flow: MAF;
  try {
    flow = new MAF({
      dim: cfg.dim as number, contextDim: cfg.contextDim as number, hidden: cfg.hidden as number, hiddenLayers: cfg.hiddenLayers as number,
      layers: cfg.layers as number, activation: cfg.activation as MAFConfig['activation'], transform,
      // Files written before coupling flows hold no `passes`: their flows are autoregressive.
      ...(cfg.passes !== undefined ? { passes: cfg.passes as number } : {}),
    }, { precision: 'float32' });
  } catch (e) {
    throw invalid(`bad flow configuration (${(e as Error).message})`);
  }
  if (flow.passes !== flowPasses(densityEstimator, flow.dim)) {
    throw invalid(`flow passes ${flow.passes} do not match densityEstimator "${densityEstimator}" (${flowPasses(densityEstimator, flow.dim)} for dim ${flow.dim})`);
  }
  if (flow.contextDim < 1) throw invalid('flow has no context (contextDim 0)');
  const thetaDim = layout.variable === 'theta' ? flow.dim : flow.contextDim;
  if (prior.dim !== thetaDim) throw invalid(`prior has ${prior.dim} dimensions but the flow's θ has ${thetaDim}`);
  if (cfg.paramCount !== flow.paramCount) {
    throw invalid(`paramCount ${describe(cfg.paramCount)} does not match the flow configuration (${flow.paramCount} parameters)`);
  }
  let embedding: EmbeddingNet | undefined;
  if (withEmbedding) {
    const em = meta.embedding as { sizes?: unknown; activation?: unknown; paramCount?: unknown } | undefined;
    const sizes = em?.sizes;
    if (typeof em !== 'object' || em === null || !Array.isArray(sizes) || sizes.length < 2 || sizes.length > 65 ||
      !sizes.every((v) => Number.isSafeInteger(v) && v >= 1 && v <= 1 << 16) || em.activation !== 'relu') {
      throw invalid(`bad embedding configuration ${describe(em)}`);
    }
    if (sizes[sizes.length - 1] !== flow.contextDim) {
      throw invalid(`embedding output width ${sizes[sizes.length - 1]} does not match the flow's contextDim ${flow.contextDim}`);
    }
    let count = 0;
    for (let l = 0; l + 1 < sizes.length; l++) count += sizes[l + 1] * (sizes[l] + 1);
    if (em.paramCount !== count) throw invalid(`embedding paramCount ${describe(em.paramCount)} does not match its widths (${count} parameters)`);
    const ep = reader.finiteTensor('embeddingParams', Float32Array, count);
    embedding = new EmbeddingNet(Int32Array.from(sizes as number[]), ep);
  }
  const contextWidth = embedding ? embedding.inputDim : flow.contextDim;
  const params = reader.finiteTensor('params', Float32Array, flow.paramCount);
  for (let j = 0; j < params.length; j++) {
    if (flow.mask[j] === 0 && params[j] !== 0) throw invalid(`masked parameter ${j} is ${params[j]} (must be 0): the parameters do not fit the architecture`);
  }
  const names = statNames(layout);
  const { count, ...losses } = reader.trainingSummary();
  flow.params = params;
  const fit: NativeMafTrainResult = {
    params, ...losses,
    thetaMean: reader.finiteTensor(names.variableMean, Float64Array, flow.dim),
    thetaStd: reader.finiteTensor(names.variableStd, Float64Array, flow.dim, true),
    xMean: reader.finiteTensor(names.contextMean, Float64Array, contextWidth),
    xStd: reader.finiteTensor(names.contextStd, Float64Array, contextWidth, true),
    ...(embedding ? { embeddingParams: embedding.params } : {}),
  };
  const summary: FlowTrainSummary = { ...losses, simulations: count('simulations', 1), excludedSimulations: count('excludedSimulations', 0) };
  return { prior, densityEstimator, flow, fit, summary, ...(embedding ? { embedding } : {}) };
}

/** An observation checked against `dim` and z-scored with (mean, std) into a float32 row. */
export function zScoredObservation(x: unknown, dim: number, mean: Float64Array, std: Float64Array): Float32Array {
  const isArray = Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
  if (!isArray) throw new TypeError(`Expected the observation \`x\` (${dim} numbers) but received ${describe(x)}`);
  const xs = x as ArrayLike<unknown>;
  if (xs.length !== dim) throw new RangeError(`Expected ${dim} values for \`x\` (as in the simulations) but received ${xs.length}`);
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    const v = xs[j];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`Expected finite numbers in \`x\` but index ${j} is ${describe(v)}`);
    out[j] = (v - mean[j]!) / std[j]!;
  }
  return out;
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
