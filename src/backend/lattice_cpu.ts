/**
 * The lattice ops on the CPU backend (the native addon, double precision): lattice.phi4_action,
 * lattice.u1_action, the flows' samplers (lattice.*_flow_sample) and inverse passes
 * (lattice.*_flow_log_prob), the reference of the agreement harness. The
 * WebGPU versions are in lattice_webgpu.ts.
 */
import { Phi4Flow } from '../lattice/flow.js';
import { Phi4Action, type Phi4Coupling } from '../lattice/phi4.js';
import { U1Action, type U1Coupling } from '../lattice/u1.js';
import { U1Flow } from '../lattice/u1_flow.js';
import { native, type NativeEpochLosses } from '../native.js';
import { abortError, whileAbortable } from '../simulators/call.js';
import { checkNonNegativeInteger, checkPositiveInteger, checkSeed, describe } from '../validate.js';

export interface LatticeFlowSampleOptions {
  n: number;
  seed: number | bigint;
  /** Draw i uses Philox stream offset + i (default 0). */
  offset?: number;
  /**
   * φ⁴ only: draw from the Z2-symmetrised proposal ½(q(φ) + q(−φ)) (Phi4Flow.sample's `symmetric`).
   * Default false.
   */
  symmetric?: boolean;
  /** Return the configurations (φ, or the U(1) flow's θ'; default true); false leaves them out. */
  keepPhi?: boolean;
  /** Called as draws complete (per chunk of draws on webgpu). */
  onProgress?: (done: number, total: number) => void;
  /** Aborting rejects with SbiError ABORTED (checked between chunks on webgpu). */
  signal?: AbortSignal;
}

/** n draws of the φ⁴ flow, as the CPU sampler records them. */
export interface Phi4FlowDraws {
  /** φ [n, L·L] (absent with keepPhi: false) */
  phi?: Float64Array;
  /** log q(φ) [n] */
  logq: Float64Array;
  /** S(φ) [n] */
  action: Float64Array;
  /** M = Σ_x φ_x [n] */
  magnetization: Float64Array;
}

/** n draws of the U(1) flow, as the CPU sampler records them. */
export interface U1FlowDraws {
  /** θ' [n, 2·L·L], links in [0, 2π) (absent with keepPhi: false) */
  theta?: Float64Array;
  /** log q(θ') [n] */
  logq: Float64Array;
  /** S(θ') [n] */
  action: Float64Array;
  /** Q [n] */
  charge: Float64Array;
}

/** The inverse pass of a lattice flow over given configurations (ops lattice.phi4_flow_log_prob, lattice.u1_flow_log_prob). */
export interface LatticeFlowInverse {
  /** z = f⁻¹(x) [n, D]: the base point of each configuration (φ⁴: the normals; U(1): the prior's links) */
  z: Float64Array;
  /** log q(x) [n] */
  logq: Float64Array;
}

export interface U1ActionValues {
  /** S(θ) [n] */
  action: Float64Array;
  /** ∂S/∂θ [n, 2·L·L] */
  grad: Float64Array;
  /** the topological charge Q [n] (integers) */
  charge: Float64Array;
}

/** The checked n, seed and first stream of a flow sampling call. */
export function checkFlowSampleOptions(o: LatticeFlowSampleOptions): { n: number; seed: bigint; offset: number; keepPhi: boolean } {
  if (typeof o !== 'object' || o === null) throw new TypeError(`Expected an options object { n, seed, offset? } but received ${describe(o)}`);
  const n = checkPositiveInteger(o.n, 'n', 2 ** 40);
  const seed = BigInt(checkSeed(o.seed));
  const offset = o.offset === undefined ? 0 : checkNonNegativeInteger(o.offset, 'offset');
  if (o.symmetric !== undefined && typeof o.symmetric !== 'boolean') throw new TypeError(`Expected a boolean for \`symmetric\` but received ${describe(o.symmetric)}`);
  if (o.keepPhi !== undefined && typeof o.keepPhi !== 'boolean') throw new TypeError(`Expected a boolean for \`keepPhi\` but received ${describe(o.keepPhi)}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(`Expected a function for \`onProgress\` but received ${describe(o.onProgress)}`);
  return { n, seed, offset, keepPhi: o.keepPhi ?? true };
}

/** The U(1) flow has no symmetrised proposal (its target has no φ → −φ symmetry). */
export function checkNotSymmetric(o: LatticeFlowSampleOptions): void {
  if (o?.symmetric) throw new RangeError('Expected `symmetric` false for a U1Flow: the symmetrised proposal is implemented for φ⁴ (φ → −φ) only');
}

/** A Phi4Flow (what lattice.phi4_flow_sample samples). */
export function checkPhi4Flow(flow: unknown): asserts flow is Phi4Flow {
  if (!(flow instanceof Phi4Flow)) throw new TypeError(`Expected a Phi4Flow for \`flow\` but received ${describe(flow)}`);
}

/** A U1Flow (what lattice.u1_flow_sample samples). */
export function checkU1Flow(flow: unknown): asserts flow is U1Flow {
  if (!(flow instanceof U1Flow)) throw new TypeError(`Expected a U1Flow for \`flow\` but received ${describe(flow)}`);
}

/** Configurations [n, width] (n ≥ 1) as a Float64Array; `what` describes one configuration. */
export function checkConfigs(a: unknown, width: number, name: string, what: string): asserts a is Float64Array {
  if (!(a instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`${name}\` but received ${describe(a)}`);
  if (a.length === 0 || a.length % width !== 0) {
    throw new RangeError(`Expected \`${name}\` to hold one or more configurations of ${what} but it has ${a.length} values`);
  }
}

export async function cpuPhi4Action(coupling: Phi4Coupling, phi: Float64Array): Promise<{ action: Float64Array; grad: Float64Array }> {
  const target = new Phi4Action(coupling);
  checkConfigs(phi, target.sites, 'phi', `${target.sites} sites`);
  return target.actionAndGrad(phi);
}

export async function cpuU1Action(coupling: U1Coupling, theta: Float64Array): Promise<U1ActionValues> {
  const target = new U1Action(coupling);
  checkConfigs(theta, target.links, 'theta', `2·L·L = ${target.links} link angles`);
  const { action, grad } = target.actionAndGrad(theta);
  return { action, grad, charge: target.topologicalCharge(theta) };
}

export async function cpuPhi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions): Promise<Phi4FlowDraws> {
  checkPhi4Flow(flow);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  const s = await flow.sample({
    n, seed, offset, keepPhi, ...(options.symmetric ? { symmetric: true } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
  });
  return { logq: s.logq, action: s.action, magnetization: s.magnetization, ...(s.phi ? { phi: s.phi } : {}) };
}

export async function cpuU1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions): Promise<U1FlowDraws> {
  checkU1Flow(flow);
  checkNotSymmetric(options);
  const { n, seed, offset, keepPhi } = checkFlowSampleOptions(options);
  const s = await flow.sample({
    n, seed, offset, keepTheta: keepPhi, ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}),
  });
  return { logq: s.logq, action: s.action, charge: s.charge, ...(s.theta ? { theta: s.theta } : {}) };
}

export async function cpuPhi4FlowLogProb(flow: Phi4Flow, phi: Float64Array): Promise<LatticeFlowInverse> {
  checkPhi4Flow(flow);
  checkConfigs(phi, flow.sites, 'phi', `${flow.sites} sites`);
  return flow.inverse(phi);
}

export async function cpuU1FlowLogProb(flow: U1Flow, theta: Float64Array): Promise<LatticeFlowInverse> {
  checkU1Flow(flow);
  const links = 2 * flow.coupling.L * flow.coupling.L;
  checkConfigs(theta, links, 'theta', `2·L·L = ${links} link angles`);
  return flow.inverse(theta);
}

/** Options of a reverse-KL training call (ops lattice.phi4_flow_train, lattice.u1_flow_train): native/lattice_flow.cc's trainer. */
export interface LatticeFlowTrainOptions {
  /** Adam steps; step t draws configuration b from Philox stream t·2³² + b of seed. */
  steps: number;
  /** Configurations per step. */
  batch: number;
  /** Adam's learning rate (β = 0.9, 0.999, ε = 1e-8; the moments start at 0). */
  learningRate: number;
  seed: number | bigint;
  /** Called after every step with the batch's loss mean(log q + S) and the ESS fraction of its weights. */
  onStep?: (p: { step: number; loss: number; ess: number }) => void;
  /** Aborting rejects with SbiError ABORTED (checked between steps). */
  signal?: AbortSignal;
}

/** The trained parameters and, per step, the batch loss and ESS fraction. */
export interface LatticeFlowTrainResult {
  params: Float64Array;
  loss: Float64Array;
  ess: Float64Array;
}

/** The checked options of a training call. */
export function checkFlowTrainOptions(o: LatticeFlowTrainOptions): { steps: number; batch: number; learningRate: number; seed: number | bigint } {
  if (typeof o !== 'object' || o === null) throw new TypeError(`Expected an options object { steps, batch, learningRate, seed } but received ${describe(o)}`);
  const steps = checkPositiveInteger(o.steps, 'steps', 2 ** 32 - 1);
  const batch = checkPositiveInteger(o.batch, 'batch', 2 ** 20);
  if (!(typeof o.learningRate === 'number' && o.learningRate > 0 && o.learningRate <= 1)) {
    throw new RangeError(`Expected \`learningRate\` in (0, 1] but received ${describe(o.learningRate)}`);
  }
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw new TypeError(`Expected a function for \`onStep\` but received ${describe(o.onStep)}`);
  return { steps, batch, learningRate: o.learningRate, seed: checkSeed(o.seed) };
}

/** Reverse-KL training steps of the φ⁴ flow from its parameters, by the native trainer (double). */
export async function cpuPhi4FlowTrain(flow: Phi4Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult> {
  checkPhi4Flow(flow);
  const o = checkFlowTrainOptions(options);
  if (options.signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  const onStep = options.onStep ? (e: NativeEpochLosses) => options.onStep!({ step: e.epoch, loss: e.trainLoss, ess: e.validationLoss }) : undefined;
  return whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    native.phi4FlowTrain(flow.nativeShape, flow.nativeCoupling, flow.params, { seed: o.seed, steps: o.steps, batchSize: o.batch, learningRate: o.learningRate }, onStep, cancel));
}

/** Reverse-KL training steps of the U(1) flow from its parameters, by the native trainer (double). */
export async function cpuU1FlowTrain(flow: U1Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult> {
  checkU1Flow(flow);
  const o = checkFlowTrainOptions(options);
  if (options.signal?.aborted) throw abortError();
  const cancel = new Int32Array(1);
  const onStep = options.onStep ? (e: NativeEpochLosses) => options.onStep!({ step: e.epoch, loss: e.trainLoss, ess: e.validationLoss }) : undefined;
  return whileAbortable(options.signal, () => Atomics.store(cancel, 0, 1), () =>
    native.u1FlowTrain(flow.nativeShape, flow.nativeCoupling, flow.params, { seed: o.seed, steps: o.steps, batchSize: o.batch, learningRate: o.learningRate }, onStep, cancel));
}
