/// <reference types="@webgpu/types" />
/**
 * Reverse-KL training of the φ⁴ flow on the WebGPU device (op lattice.phi4_flow_train), step for
 * step native/lattice_flow.cc's trainer (ReverseKl + adam_step) in f32:
 *   draw      z of configuration b of step t from Philox stream t·2³² + b (cbf_base: the CPU's normals)
 *   forward   φ = f(z) keeping every layer's input, the nets' hidden outputs and s, t (the tape of
 *             checkerboard_flow_forward), log q (cbf_log_q), S and ∂S/∂φ (phi4.wgsl's phi4_action_grad)
 *   backward  checkerboard_flow_backward from ∂ℓ/∂φ = ∂S/∂φ and ∂ℓ/∂ log q = 1 per configuration:
 *             cbf_couple_backward, the circular convs' input and parameter gradients
 *             (conv2d_circular.wgsl's backward; each parameter a tree sum over the batch, times 1/n:
 *             the gradient of the batch mean), cbf_add_frozen
 *   update    Adam (dense.wgsl's adam: kernels/nn/adam.h, β = 0.9, 0.999, ε = 1e-8)
 * The parameters and Adam's moments stay on the device across the call's steps; per step only the
 * batch's log q and S come back, for the loss mean(log q + S) and the ESS (summed in double on the
 * host, as the CPU does). The CPU trains in double: the two agree within the op's tolerance for a
 * few steps, and drift apart as f32 rounding feeds back through the steps.
 */
import { SbiError } from '../errors.js';
import type { Phi4Flow } from '../lattice/flow.js';
import type { U1Flow } from '../lattice/u1_flow.js';
import { checkFlowTrainOptions, checkPhi4Flow, checkU1Flow, type LatticeFlowTrainOptions, type LatticeFlowTrainResult } from './lattice_cpu.js';
import { ACT, cbfUniforms, configKey, convNet, flowUniforms, groups2d, key, recordConvNet, type ConvNet } from './lattice_webgpu.js';
import { checkNonNegativeInteger } from '../validate.js';
import { PassRecorder, recordAdamStep, storage, upload, words } from './nn_webgpu.js';
import { submitAndRead } from './read_back.js';
import { bufferPool, type WebGpuContext } from './webgpu.js';

const MAX_GROUPS = 65535;

/** One workgroup per element, as a 2-D grid (rows of at most 65 535). */
function perElementGroups(count: number): [number, number] {
  return count <= MAX_GROUPS ? [count, 1] : [MAX_GROUPS, Math.ceil(count / MAX_GROUPS)];
}

/**
 * What the φ⁴ and U(1) training states share: the batch bound, the conditioner nets (`net`, with
 * each conv's parameter offset) and the device buffers every step uses — the parameters (from the
 * flow's), Adam's moments (zero), the gradient, per-configuration log q and S, and the two planes
 * of the nets' backward pass. `widest`: the most channels of one net's planes.
 */
abstract class ConvFlowTrainState {
  readonly P: number;
  readonly B: number;
  readonly params: GPUBuffer;
  readonly moments: GPUBuffer;
  readonly grad: GPUBuffer;
  readonly logq: GPUBuffer;
  readonly action: GPUBuffer;
  readonly planes: [GPUBuffer, GPUBuffer];
  protected readonly convOffsets: number[] = [];
  /** A pooled storage buffer of `floats` f32 values. */
  protected readonly acquire: (floats: number) => GPUBuffer;

  constructor(protected readonly ctx: WebGpuContext, flowParams: Float64Array, batch: number, V: number, H: number, widest: number,
    protected readonly net: ConvNet) {
    const maxBatch = Math.min(MAX_GROUPS, Math.floor(ctx.device.limits.maxStorageBufferBindingSize / (4 * widest * V)));
    if (batch > maxBatch) throw new RangeError(`Expected \`batch\` of at most ${maxBatch} configurations (one launch on this device) but received ${batch}`);
    this.B = batch;
    this.P = flowParams.length;
    const K = net.K;
    net.convs.reduce((off, c) => (this.convOffsets.push(off), off + c.cOut * c.cIn * K * K + c.cOut), 0);
    const pool = bufferPool(ctx.device);
    this.acquire = (floats: number) => pool.acquire(4 * floats, storage());
    this.params = this.acquire(this.P);
    this.moments = this.acquire(2 * this.P);
    this.grad = this.acquire(this.P);
    this.logq = this.acquire(batch);
    this.action = this.acquire(batch);
    this.planes = [this.acquire(batch * H * V), this.acquire(batch * H * V)];
    upload(ctx.device.queue, this.params, Float32Array.from(flowParams));
    upload(ctx.device.queue, this.moments, new Float32Array(2 * this.P));
  }

  /**
   * Records step t's draws, the forward pass with its tape, log q and S, and the backward pass
   * into `grad` (the gradient of the batch mean of log q + S).
   */
  abstract recordLossGrad(rec: PassRecorder, seed: bigint, t: number): void;

  /** Gives the state's buffers back to the pool. */
  abstract release(): void;

  /** Gives the shared buffers and a subclass's `own` back to the pool. */
  protected releaseWith(...own: GPUBuffer[]): void {
    bufferPool(this.ctx.device).release(this.params, this.moments, this.grad, this.logq, this.action, ...this.planes, ...own);
  }
}

/** The device buffers of a training call: parameters, Adam's moments, the gradient and one batch's tape. */
class Phi4TrainState extends ConvFlowTrainState {
  /** xs[l]: layer l's input [B, V] (xs[0] = z), xs[layers] = φ */
  readonly xs: GPUBuffer[];
  /** hid[l][k]: hidden output k of layer l's net [B, H, V] */
  readonly hid: GPUBuffer[][];
  /** st[l]: s and t of layer l [B, 2, V] */
  readonly st: GPUBuffer[];
  readonly ld: GPUBuffer;
  readonly input: GPUBuffer;
  readonly gy: GPUBuffer;
  readonly gIn: GPUBuffer;
  readonly gst: GPUBuffer;

  constructor(ctx: WebGpuContext, private readonly flow: Phi4Flow, batch: number) {
    const { L } = flow.coupling;
    const { layers, hidden: H, depth, kernel: K } = flow.architecture;
    const V = L * L;
    super(ctx, flow.params, batch, V, H, Math.max(2, H), convNet(1, H, depth, 2, K, ACT.tanh));
    const acquire = this.acquire;
    this.xs = Array.from({ length: layers + 1 }, () => acquire(batch * V));
    this.hid = Array.from({ length: layers }, () => Array.from({ length: depth }, () => acquire(batch * H * V)));
    this.st = Array.from({ length: layers }, () => acquire(batch * 2 * V));
    [this.ld, this.input, this.gy, this.gIn] = [0, 1, 2, 3].map(() => acquire(batch * V)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    this.gst = acquire(batch * 2 * V);
  }

  /**
   * Records step t's draws (streams t·2³² + b of seed), the forward pass with its tape, log q, S and
   * ∂S/∂φ, and the backward pass into `grad` (the gradient of the batch mean of log q + S).
   */
  recordLossGrad(rec: PassRecorder, seed: bigint, t: number): void {
    const { B, net, xs, hid, st } = this;
    const { L, m2, lambda } = this.flow.coupling;
    const { layers } = this.flow.architecture;
    const V = L * L;
    const flowKey = (e: string) => key('lattice/checkerboard_flow.wgsl', e);
    const cbf = (layer: number) => cbfUniforms(B, L, layer, {}, seed, BigInt(t) << 32n);
    const sites = groups2d(B * V);
    rec.dispatch(flowKey('cbf_base'), cbf(0), { 1: xs[0]!, 2: this.ld }, groups2d(B * Math.ceil(V / 8)));
    for (let l = 0; l < layers; l++) {
      rec.dispatch(flowKey('cbf_copy'), cbf(l), { 1: xs[l]!, 7: xs[l + 1]! }, sites);
      rec.dispatch(flowKey('cbf_mask'), cbf(l), { 1: xs[l]!, 3: this.input }, sites);
      recordConvNet(rec, net, this.params, l * net.params, B, L, this.input, hid[l]!, st[l]!);
      rec.dispatch(flowKey('cbf_couple'), cbf(l), { 1: xs[l + 1]!, 2: this.ld, 4: st[l]! }, sites);
    }
    rec.dispatch(configKey('lattice/checkerboard_flow.wgsl', 'cbf_log_q'), cbf(0), { 1: xs[layers]!, 2: this.ld, 5: this.logq }, [B, 1]);
    rec.dispatch(configKey('lattice/phi4.wgsl', 'phi4_action_grad'), words([B, L, m2, lambda], new Set([2, 3])),
      { 1: xs[layers]!, 2: this.action, 3: this.gy }, [B, 1]);
    for (let l = layers - 1; l >= 0; l--) {
      rec.dispatch(flowKey('cbf_couple_backward'), cbf(l), { 1: xs[l]!, 4: st[l]!, 8: this.gy, 9: this.gst }, sites);
      rec.dispatch(flowKey('cbf_mask'), cbf(l), { 1: xs[l]!, 3: this.input }, sites);
      recordConvNetBackward(rec, net, this.convOffsets, this.params, l * net.params, B, L, this.input, hid[l]!, this.gst, this.planes, this.gIn, this.grad);
      rec.dispatch(flowKey('cbf_add_frozen'), cbf(l), { 8: this.gy, 10: this.gIn }, sites);
    }
  }

  release(): void {
    this.releaseWith(...this.xs, ...this.hid.flat(), ...this.st, this.ld, this.input, this.gy, this.gIn, this.gst);
  }
}

/** The device buffers of a U(1) training call: parameters, Adam's moments, the gradient and one batch's tape. */
class U1TrainState extends ConvFlowTrainState {
  /** xs[l]: layer l's input links [B, 2V] (xs[0] = the prior draw), xs[layers] = θ' */
  readonly xs: GPUBuffer[];
  readonly hid: GPUBuffer[][];
  /** netOut[l]: layer l's net output [B, 2K + 1, V] */
  readonly netOut: GPUBuffer[];
  readonly ld: GPUBuffer;
  readonly plaq: GPUBuffer;
  readonly input: GPUBuffer;
  readonly gy: GPUBuffer;
  readonly gp: GPUBuffer;
  readonly gnet: GPUBuffer;
  readonly gIn: GPUBuffer;
  readonly charge: GPUBuffer;

  constructor(ctx: WebGpuContext, private readonly flow: U1Flow, batch: number) {
    const { L } = flow.coupling;
    const { layers, hidden: H, depth, kernel: K, components } = flow.architecture;
    const V = L * L;
    const C = 2 * components + 1;
    super(ctx, flow.params, batch, V, H, Math.max(2, H, C), convNet(2, H, depth, C, K, ACT.none));
    const acquire = this.acquire;
    this.xs = Array.from({ length: layers + 1 }, () => acquire(batch * 2 * V));
    this.hid = Array.from({ length: layers }, () => Array.from({ length: depth }, () => acquire(batch * H * V)));
    this.netOut = Array.from({ length: layers }, () => acquire(batch * C * V));
    this.ld = acquire(batch * V);
    this.plaq = acquire(batch * V);
    this.input = acquire(batch * 2 * V);
    this.gy = acquire(batch * 2 * V);
    this.gp = acquire(batch * V);
    this.gnet = acquire(batch * C * V);
    this.gIn = acquire(batch * 2 * V);
    this.charge = acquire(batch);
  }

  /**
   * Records step t's Haar links (streams t·2³² + b of seed), the forward pass with its tape, log q,
   * S and ∂S/∂θ', and the backward pass into `grad` (the gradient of the batch mean of log q + S).
   */
  recordLossGrad(rec: PassRecorder, seed: bigint, t: number): void {
    const { B, net, xs, hid, netOut } = this;
    const { L, beta } = this.flow.coupling;
    const { layers, components } = this.flow.architecture;
    const V = L * L;
    const flowKey = (e: string) => key('lattice/gauge_flow.wgsl', e);
    const gf = (layer: number) => flowUniforms(B, L, layer, components, seed, BigInt(t) << 32n);
    const sites = groups2d(B * V);
    rec.dispatch(flowKey('gf_base'), gf(0), { 1: xs[0]!, 2: this.ld }, sites);
    for (let l = 0; l < layers; l++) {
      rec.dispatch(flowKey('gf_copy'), gf(l), { 1: xs[l]!, 11: xs[l + 1]! }, groups2d(B * 2 * V));
      rec.dispatch(flowKey('gf_net_input'), gf(l), { 1: xs[l]!, 3: this.plaq, 4: this.input }, sites);
      recordConvNet(rec, net, this.params, l * net.params, B, L, this.input, hid[l]!, netOut[l]!);
      rec.dispatch(flowKey('gf_couple'), gf(l), { 1: xs[l + 1]!, 2: this.ld, 3: this.plaq, 5: netOut[l]! }, sites);
    }
    rec.dispatch(configKey('lattice/gauge_flow.wgsl', 'gf_log_q'), gf(0), { 2: this.ld, 6: this.logq }, [B, 1]);
    rec.dispatch(configKey('lattice/u1.wgsl', 'u1_action_grad_charge'), words([B, L, beta, 0], new Set([2])),
      { 1: xs[layers]!, 2: this.action, 3: this.gy, 4: this.charge }, [B, 1]);
    for (let l = layers - 1; l >= 0; l--) {
      rec.dispatch(flowKey('gf_net_input'), gf(l), { 1: xs[l]!, 3: this.plaq, 4: this.input }, sites);
      rec.dispatch(flowKey('gf_couple_backward'), gf(l), { 3: this.plaq, 5: netOut[l]!, 7: this.gy, 8: this.gp, 9: this.gnet }, sites);
      recordConvNetBackward(rec, net, this.convOffsets, this.params, l * net.params, B, L, this.input, hid[l]!, this.gnet, this.planes, this.gIn, this.grad);
      rec.dispatch(flowKey('gf_add_frozen'), gf(l), { 4: this.input, 8: this.gp, 10: this.gIn }, sites);
      rec.dispatch(flowKey('gf_scatter'), gf(l), { 7: this.gy, 8: this.gp }, sites);
    }
  }

  release(): void {
    this.releaseWith(...this.xs, ...this.hid.flat(), ...this.netOut, this.ld, this.plaq, this.input, this.gy, this.gp, this.gnet, this.gIn, this.charge);
  }
}

/**
 * Records conv_net_backward of one net (parameters from element `offset`) over a batch: from
 * gOut = ∂ℓ/∂(net output), per conv from the last, the parameter gradient (summed over the batch,
 * times 1/B, written into `grad`) and the input gradient (LeakyReLU′ from the hidden outputs `hid`
 * of the layer below; the two `planes` in turn), ending in gIn = ∂ℓ/∂(net input).
 */
function recordConvNetBackward(rec: PassRecorder, net: ConvNet, convOffsets: readonly number[], params: GPUBuffer, offset: number, B: number, L: number,
  input: GPUBuffer, hid: readonly GPUBuffer[], gOutLast: GPUBuffer, planes: readonly [GPUBuffer, GPUBuffer], gIn: GPUBuffer, grad: GPUBuffer): void {
  const depth = net.convs.length - 1;
  const V = L * L;
  for (let k = depth; k >= 0; k--) {
    const c = net.convs[k]!;
    const xin = k > 0 ? hid[k - 1]! : input;
    const gOut = k === depth ? gOutLast : planes[(k + 1) % 2]!;
    const gx = k > 0 ? planes[k % 2]! : gIn;
    const u = (act: number) => words([B, L, c.cIn, c.cOut, net.K, act, offset + convOffsets[k]!, 1 / B], new Set([7]));
    rec.dispatch(configKey('nn/conv2d_circular.wgsl', 'conv2d_circular_backward_params'), u(0), { 2: xin, 4: gOut, 6: grad },
      perElementGroups(c.cOut * c.cIn * net.K * net.K + c.cOut));
    rec.dispatch(key('nn/conv2d_circular.wgsl', 'conv2d_circular_backward_input'), u(k > 0 ? ACT.leakyRelu : ACT.none),
      { 1: params, 2: xin, 4: gOut, 5: gx }, groups2d(B * c.cIn * V));
  }
}

/** The batch loss mean(log q + S) and the ESS fraction of the weights e^{−S − log q}, in double as the CPU. */
function lossAndEss(logq: Float32Array, action: Float32Array): { loss: number; ess: number } {
  const B = logq.length;
  let sum = 0, maxW = -Infinity;
  const logW = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    sum += logq[b]! + action[b]!;
    logW[b] = -action[b]! - logq[b]!;
    maxW = Math.max(maxW, logW[b]!);
  }
  let s1 = 0, s2 = 0;
  for (const w of logW) {
    const e = Math.exp(w - maxW);
    s1 += e;
    s2 += e * e;
  }
  return { loss: sum / B, ess: (s1 * s1) / (s2 * B) };
}

/**
 * `steps` Adam steps of the reverse-KL loss from the state's parameters; returns the parameters
 * after the last step and each step's loss and ESS fraction. Releases the state's buffers.
 */
async function runTrainSteps(ctx: WebGpuContext, state: ConvFlowTrainState, o: { steps: number; learningRate: number; seed: number | bigint },
  options: LatticeFlowTrainOptions, label: string): Promise<LatticeFlowTrainResult> {
  try {
    const out: LatticeFlowTrainResult = { params: new Float64Array(state.P), loss: new Float64Array(o.steps), ess: new Float64Array(o.steps) };
    for (let t = 0; t < o.steps; t++) {
      if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
      const rec = new PassRecorder(ctx);
      state.recordLossGrad(rec, BigInt(o.seed), t);
      recordAdamStep(rec, { count: state.P, step: t + 1, lr: o.learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
        state.grad, state.params, state.moments);
      const [q, s] = await submitAndRead(ctx, label, rec, [[state.logq, state.B], [state.action, state.B]]);
      const { loss, ess } = lossAndEss(q!, s!);
      if (!Number.isFinite(loss)) throw new SbiError(`${label}: the loss of step ${t + 1} is ${loss} (f32 overflow: try a lower learningRate)`, 'NON_FINITE');
      out.loss[t] = loss;
      out.ess[t] = ess;
      options.onStep?.({ step: t + 1, loss, ess });
    }
    const [p] = await submitAndRead(ctx, label, new PassRecorder(ctx), [[state.params, state.P]]);
    out.params.set(p!);
    return out;
  } finally {
    state.release();
  }
}

/**
 * `steps` Adam steps of the reverse-KL loss on batches of `batch` configurations from the φ⁴ flow's
 * parameters (rounded to f32) (op lattice.phi4_flow_train). A step's batch is one launch: its
 * tape must fit the device's storage bindings.
 */
export async function phi4FlowTrainWebGpu(ctx: WebGpuContext, flow: Phi4Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult> {
  checkPhi4Flow(flow);
  const o = checkFlowTrainOptions(options);
  return runTrainSteps(ctx, new Phi4TrainState(ctx, flow, o.batch), o, options, 'lattice.phi4_flow_train');
}

/** The same for the U(1) flow (op lattice.u1_flow_train): Haar links from the CPU trainer's streams. */
export async function u1FlowTrainWebGpu(ctx: WebGpuContext, flow: U1Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult> {
  checkU1Flow(flow);
  const o = checkFlowTrainOptions(options);
  return runTrainSteps(ctx, new U1TrainState(ctx, flow, o.batch), o, options, 'lattice.u1_flow_train');
}

/** One loss-and-gradient pass of `state` at step `step`'s draws: the draws (D values each), the loss and the gradient. */
async function lossGrad(ctx: WebGpuContext, state: ConvFlowTrainState & { xs: GPUBuffer[] }, seed: number | bigint, step: number, D: number, label: string):
Promise<{ z: Float64Array; loss: number; grad: Float64Array }> {
  try {
    const rec = new PassRecorder(ctx);
    state.recordLossGrad(rec, BigInt(seed), checkNonNegativeInteger(step, 'step'));
    const [z, q, s, g] = await submitAndRead(ctx, label, rec, [[state.xs[0]!, state.B * D], [state.logq, state.B], [state.action, state.B], [state.grad, state.P]]);
    return { z: Float64Array.from(z!), loss: lossAndEss(q!, s!).loss, grad: Float64Array.from(g!) };
  } finally {
    state.release();
  }
}

/**
 * The device's reverse-KL loss and parameter gradient for the draws of training step `step` (no
 * Adam step), with those draws z [batch, V]: what lattice.phi4_flow_train's steps are built on,
 * for checking the device's gradient against the CPU's lossAndGrad(z) at the same z.
 */
export async function phi4FlowLossGradWebGpu(ctx: WebGpuContext, flow: Phi4Flow, options: { batch: number; seed: number | bigint; step: number }):
Promise<{ z: Float64Array; loss: number; grad: Float64Array }> {
  checkPhi4Flow(flow);
  const { batch, seed } = checkFlowTrainOptions({ ...options, steps: 1, learningRate: 1 });
  return lossGrad(ctx, new Phi4TrainState(ctx, flow, batch), seed, options.step, flow.sites, 'lattice.phi4_flow_train');
}

/** The same for the U(1) flow: the draws z [batch, 2V] of step `step` (Haar links), the loss and the gradient. */
export async function u1FlowLossGradWebGpu(ctx: WebGpuContext, flow: U1Flow, options: { batch: number; seed: number | bigint; step: number }):
Promise<{ z: Float64Array; loss: number; grad: Float64Array }> {
  checkU1Flow(flow);
  const { batch, seed } = checkFlowTrainOptions({ ...options, steps: 1, learningRate: 1 });
  return lossGrad(ctx, new U1TrainState(ctx, flow, batch), seed, options.step, 2 * flow.coupling.L * flow.coupling.L, 'lattice.u1_flow_train');
}
