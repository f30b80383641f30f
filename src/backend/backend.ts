/**
 * The compute backends behind one interface (issue 6): the op table shared by all backends, a
 * capability query per op, the CPU backend (the native addon), the WebGPU backend (WGSL kernels
 * under kernels/, src/backend/webgpu.ts) and backend selection.
 *
 * Backend choice never changes the meaning of a seed: every backend draws the same Philox words
 * for the same (seed, stream, counter); ops whose results are floating point agree with the CPU
 * within the op's tolerance (WGSL has f32 only), integer ops bit for bit. See docs/backends.md.
 */
import { native } from '../native.js';
import { SbiError } from '../errors.js';
import { checkSeed } from '../validate.js';
import type { NestedTree } from '../trellis/hierarchy.js';
import { runTrellisAsync, type Leaves, type TrellisModel } from '../trellis/trellis.js';
import { runTrellisWebGpu } from '../trellis/webgpu.js';
import { slcpDistractorsMixture } from './simulator_tables.js';
import type { NnAdamOptions } from '../native.js';
import {
  cudaMlpForward, cudaMlpGradients, cudaMlpTrain, cudaPhiloxBlocks, cudaSamplerFill, cudaSimulate, cudaTrellis, loadCudaBackend,
  type CudaBackend,
} from './cuda.js';
import {
  cudaManifoldFlowLogProb, cudaManifoldFlowSample, cudaPhi4Action, cudaPhi4FlowSample, cudaU1Action, cudaU1FlowSample,
  cudaPhi4FlowLogProb, cudaU1FlowLogProb,
} from './cuda.js';
import { cudaMafLogProb, cudaMafSample, cudaMdnLogProb, cudaMdnSample, cudaMdnTrainSteps, cudaNreLogRatio, cudaNreTrainSteps } from './cuda_flows.js';
import { GpuArray, HostArray, hostInput, inputLength, type ArrayInput, type DeviceArray } from './device_array.js';
import { cpuMlpForward, cpuMlpGradients, cpuMlpTrain } from './mlp_cpu.js';
import type { MAF } from '../flows/maf.js';
import type { MDN } from '../flows/mdn.js';
import { mdnLogProbWebGpu, mdnSampleWebGpu } from './mdn_webgpu.js';
import { cpuMdnTrainSteps } from './mdn_train_cpu.js';
import { mdnTrainStepsWebGpu, type MdnBatch } from './mdn_train_webgpu.js';
import { mafLogProbWebGpu, mafSampleWebGpu } from './flow_webgpu.js';
import { cpuMafEmbeddingTrainSteps, cpuMafTrainSteps } from './flow_train_cpu.js';
import { mafEmbeddingTrainStepsWebGpu, mafTrainStepsWebGpu, type MafBatch, type MafEmbedding, type MafStepOptions } from './flow_train_webgpu.js';
import type { ManifoldFlow } from '../manifold/flow.js';
import { manifoldFlowLogProbWebGpu, manifoldFlowSampleWebGpu } from './manifold_webgpu.js';
import { manifoldFlowTrainWebGpu, type ManifoldTrainStepOptions } from './manifold_train_webgpu.js';
import { cpuManifoldFlowTrainSteps } from './manifold_train_cpu.js';
import { WebGpuMlp, type MlpBatch, type MlpLoss, type MlpSpec } from './nn_webgpu.js';
import type { Phi4Flow } from '../lattice/flow.js';
import type { U1Flow } from '../lattice/u1_flow.js';
import type { Phi4Coupling } from '../lattice/phi4.js';
import type { U1Coupling } from '../lattice/u1.js';
import {
  cpuPhi4Action, cpuPhi4FlowSample, cpuU1Action, cpuU1FlowSample, type LatticeFlowSampleOptions, type Phi4FlowDraws, type U1ActionValues, type U1FlowDraws,
  cpuPhi4FlowLogProb, cpuU1FlowLogProb, type LatticeFlowInverse, cpuPhi4FlowTrain, cpuU1FlowTrain, type LatticeFlowTrainOptions, type LatticeFlowTrainResult,
} from './lattice_cpu.js';
import { phi4FlowTrainWebGpu, u1FlowTrainWebGpu } from './lattice_train_webgpu.js';
import { phi4ActionWebGpu, phi4FlowSampleWebGpu, u1ActionWebGpu, u1FlowSampleWebGpu } from './lattice_webgpu.js';
import { phi4FlowLogProbWebGpu, u1FlowLogProbWebGpu } from './lattice_webgpu.js';
import {
  cpuNreEmbeddingTrainSteps, cpuNreLogRatio, cpuNreTrainSteps, type RatioBatch, type RatioClassifier, type RatioLossSpec, type RatioShape, type RatioStepOptions,
} from './ratio_ops.js';
import { nreEmbeddingTrainStepsWebGpu, nreLogRatioWebGpu, nreTrainStepsWebGpu } from './resnet_webgpu.js';
import {
  MAX_BLOCKS,
  WORKGROUP,
  deviceTable,
  openWebGpu,
  philoxBlocksWebGpu,
  runKernel,
  u64Words,
  type WebGpuContext,
  type WgslFile,
} from './webgpu.js';

export type BackendName = 'cpu' | 'webgpu' | 'cuda';
export type BackendRequest = BackendName | 'auto';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'webgpu', 'cuda'];

/** Agreement with the CPU: |value − cpu| ≤ atol + rtol·|cpu| elementwise; both 0: bit-identical. */
export interface Tolerance {
  atol: number;
  rtol: number;
  /**
   * simulate.* ops: the fraction of rows allowed to differ beyond the bound, for a reason stated at
   * the op. Float ties: a decision u < p with p computed in f32 (double on the CPU) goes the other
   * way when u lies within p's rounding of p, and the row then follows another path. Set well
   * above the expected rate; 0 when absent.
   */
  discordantRows?: number;
  /**
   * simulate.* ops whose outputs are linear combinations of one row's draws (a matrix–vector
   * product), and the lattice ops (a row is one configuration's output): adds
   * rowRtol·max|cpu row| to the bound, since f32 error scales with the row's terms and an
   * element may cancel to far below them. 0 when absent.
   */
  rowRtol?: number;
}

export interface OpSpec {
  description: string;
  /**
   * Agreement with the CPU reference demanded by the harness (test/backend_ops.test.ts); set with
   * an op's first non-CPU kernel, from that kernel's error analysis.
   */
  tolerance?: Tolerance;
  /** For simulate.* ops: the native simulator's name. */
  simulator?: string;
}

const EXACT: Tolerance = { atol: 0, rtol: 0 };
// MLP ops: f32 on both sides, the K-sums in a different order (tiles against packed panels), so
// the error is a few ulp of the sum of |terms|; set from the measured maxima in docs/backends.md.
const MLP_FORWARD: Tolerance = { atol: 1e-5, rtol: 1e-5 };
const MLP_GRADIENTS: Tolerance = { atol: 5e-5, rtol: 1e-4 };
const MLP_TRAIN: Tolerance = { atol: 1e-5, rtol: 1e-4 };
// MAF / NSF: log q sums D log|det| terms and a base density over K layers of f32 MLPs; samples
// invert them. The spline's log-slope of a steep bin (random MADE outputs) is the widest: measured
// 4.8e-4 on log q ≈ −40 and 7e-5 on θ; the affine element's 7e-7 relative at log q ≈ −6800.
const MAF_LOG_PROB: Tolerance = { atol: 2e-3, rtol: 1e-5 };
const MAF_SAMPLE: Tolerance = { atol: 2e-3, rtol: 1e-4 };
// MAF training steps: f32 gradients summed in another order (tiles against the CPU's 50-row
// chunks), then Adam, which divides by √v: a gradient component near 0 amplifies its rounding
// into the step (up to ~lr). Measured after 8 steps at lr 1e-3: parameters within 8.6e-7 (affine)
// and 5.4e-7 (spline), losses within 1e-5 at ~30 (docs/backends.md); set ~20× wider.
const MAF_TRAIN: Tolerance = { atol: 2e-5, rtol: 1e-5 };
// MAF / NSF with an embedding network, trained jointly: the MAF's steps plus the embedding's
// tiled f32 products (forward, and the context gradient summed over the layers through its
// backward). Measured over the harness's 3 cases at lr 1e-3: after 8 steps the flow's parameters
// within 1.8e-7, the embedding's within 7.5e-8, losses within 2.3e-5 at ~44 (4.8e-7 relative);
// after 30 steps 4.5e-7, 1.1e-7 and 5.7e-7 relative. Set as flow.maf_train's. As there, a
// gradient component below Adam's ε (1e-8) turns its rounding into the step: a 60-dim x through
// [50, 50] into a SiLU NSF had one flow weight with |g| = 3.4e-9 end 2.7e-5 apart after one step.
const MAF_EMBEDDING_TRAIN: Tolerance = { atol: 2e-5, rtol: 1e-5 };
// NRE's residual classifier: f32 tiled sums against the CPU's float kernels. The log-ratio was
// bit-identical to the CPU's in every case measured (2 × 50 hidden, 2 blocks, logits up to ~10);
// 1e-5 allows a few ulp of reordered sums. Training steps: measured after 6–8 steps at lr 1e-3,
// parameters within 6e-8 and losses within 1.5e-6 (BNRE's λ = 100 multiplies its f32 balance);
// set ~10× wider, as for flow.maf_train.
const NRE_LOG_RATIO: Tolerance = { atol: 1e-5, rtol: 1e-5 };
const NRE_TRAIN: Tolerance = { atol: 2e-5, rtol: 1e-5 };
// NRE's classifier with an embedding network of x trained jointly: nre.train's steps plus the
// embedding's f32 tiled products and the features' gradient (A pairs per x row). Measured over
// the harness's 4 losses at lr 1e-3 (classifier moved from its initialisation; test/backend_ops):
// after 8 steps the classifier's parameters within 6e-8, the embedding's within 3e-8, losses
// within 1.4e-5 at ~8.6 (BNRE's λ = 100; others ≤ 2.2e-7); after 30 steps 2.1e-7, 1.2e-7 and
// 4.3e-6. Set as nre.train's. nre.log_ratio with an embedding was bit-identical to the CPU's.
const NRE_EMBEDDING_TRAIN: Tolerance = { atol: 2e-5, rtol: 1e-5 };
// Flows on Tᴰ / Sᴰ (kernels/manifold/flow.h in double on the CPU, manifold_flow.wgsl in f32).
// log q of given points sums a log-slope per layer and coordinate over 4–8 layers of f32 splines
// or mixtures: measured ≤ 4.1e-5 over 2·10⁴ points of trained S² / S³ flows (docs/backends.md),
// set 5× wider. A draw starts from an f32 base point (angles 2π·u to 2⁻²⁴ relative), which the
// sampling map amplifies where it stretches (low density: a few hundred times on trained S² / S³),
// so the point moves by up to 1.7e-4 and its log q by up to 4.7e-3 (the density there is steep);
// the device's log q at its own draw stays within 4.2e-5 of the CPU's at that point. Set ~2×
// the worst draw measured. The harness compares angles on the circle.
const MANIFOLD_LOG_PROB: Tolerance = { atol: 2e-4, rtol: 0 };
const MANIFOLD_SAMPLE: Tolerance = { atol: 1e-2, rtol: 0 };
// Reverse-KL training steps (manifold_flow_train.wgsl, f32, against the CPU's double): each
// step's loss is a batch mean of log q − log p̃ (f32 draws and layers, as MANIFOLD_SAMPLE's log q
// at a moved point), and Adam turns gradient components near 0 into steps of up to ~lr whose sign
// f32 rounding can flip. Set from the measured maxima in docs/backends.md.
// Measured after 6 steps of 67 draws from the harness's moved flows (every circle transform and
// conditioner, T², S², S³): parameters within 1.2e-5, losses within 3.3e-6; set ~8× wider. Longer
// runs drift further (after 30 steps: S² spline losses 1.9e-3, parameters 1.1e-4).
const MANIFOLD_TRAIN: Tolerance = { atol: 1e-4, rtol: 0 };
// MDN head (kernels/flows/mdn.wgsl): the conditioner's f32 products in tile order, then one
// log-sum-exp over K components of D-term quadratic forms; measured 9.5e-7 relative (3e-3 at
// log q ≈ −26 000 from random weights). Draws: a uniform() against the cumulative π in f32 (the
// CPU compares in double), then a back substitution; measured ≤ 0.07 of this bound over 8·10⁴
// rows with none apart. A component pick decided the other way at a float tie moves the whole
// row: allowed for 1e-3 of the rows, far above the expected ~1e-7 per row.
const MDN_LOG_PROB: Tolerance = { atol: 2e-3, rtol: 1e-5 };
const MDN_SAMPLE: Tolerance = { atol: 2e-3, rtol: 1e-4, discordantRows: 1e-3 };
// MDN training steps: as MAF_TRAIN (f32 gradients summed in another order, then Adam).
const MDN_TRAIN: Tolerance = { atol: 2e-5, rtol: 1e-5 };
// Lattice ops: f32 against the CPU's double. A sum over sites (S, Q's Σ wrap P, log q, M) is a tree
// of f32 partial sums, off by a few roundings of the sum of |terms|; a site's gradient is a few
// f32 terms of which the largest sets the error, so rowRtol scales with the configuration's
// largest |value| (rowWidth = one configuration of the output). docs/backends.md has the measured maxima.
// φ⁴ (terms λφ⁴ dominate: sums of same-signed terms): measured ≤ 7e-8 relative on S, ≤ 4e-8 of max|∂S/∂φ|.
const LATTICE_PHI4_ACTION: Tolerance = { atol: 1e-5, rtol: 1e-6, rowRtol: 1e-6 };
// U(1): |S| ≤ βV; cos and sin to ~1e-7 absolute, P rounded to f32 (|P| ≤ 4π: 1e-6), so
// |ΔS| ≲ 1e-7·βV and |Δ∂S/∂θ| ≲ 1e-6·β; Q is an integer (a plaquette within f32 rounding of ±π
// could wrap the other way: none seen). atol set for βV ≤ 1000 (the harness: ≤ 512).
const LATTICE_U1_ACTION: Tolerance = { atol: 1e-4, rtol: 1e-6, rowRtol: 2e-6 };
// φ⁴ flow draws (φ, log q, S, M): base normals ~3e-7 relative, then per layer three f32
// convolutions, tanh and e^s. S(φ) carries φ's rounding times ∂S/∂φ over V sites, which |S| does
// not bound (S cancels): atol covers it. Measured on the trained L = 8 flow
// (bench/results/lattice_phi4_flow.bin, 1024 draws): φ 1.0e-6, log q 1.3e-5 (|log q| ≤ 33),
// S 6.4e-5 (|S| ≤ 25), M 8.4e-6, and with `symmetric` (the inverse pass of −φ too) log q 8.0e-5;
// the harness's flows (random parameters, |φ| up to 9): φ 6.7e-6,
// log q 1.2e-5, S 0.155 at |S| ≈ 8e4 (2e-6 relative).
const LATTICE_PHI4_FLOW: Tolerance = { atol: 2e-4, rtol: 1e-5, rowRtol: 1e-5 };
// U(1) flow draws (θ' compared on the circle as cos θ', sin θ': a link within f32 rounding of 0
// may wrap to the other end of [0, 2π); log q, S, Q): uniform links rounded to f32, then per
// layer the plaquettes, the CNN and the NCP mixtures (common/angle.wgsl's sin, cos, atan2, samplers.wgsl's log).
// Measured on the trained L = 8 flow (bench/results/lattice_u1_flow.bin, 1024 draws): θ' 4.2e-5
// on the circle, log q 7.2e-5 (|log q| ≤ 222), S 1.3e-4 (|S| ≤ 104), Q identical.
const LATTICE_U1_FLOW: Tolerance = { atol: 5e-4, rtol: 5e-6, rowRtol: 5e-6 };
// The flows' inverse passes over given configurations (z = f⁻¹(x) and log q(x)), the same f32
// layers as the samplers' in reverse, from x rounded to f32. φ⁴, measured: the trained L = 8 flow's
// own 1024 draws z 4.5e-6, log q 5.3e-5 (|log q| ≤ 37); the harness's flows and 1.5·N(0, 1) fields
// z 1.4e-5 (|z| ≤ 19), log q 3.2e-4 at |log q| ≈ 580 (6e-7 relative). U(1) (z on the circle; the
// NCP mixtures inverted by Newton in f32, stopping at 2ε·2π): the trained L = 8 flow's draws z
// 1.7e-5, log q 5.0e-5 (|log q| ≤ 223); the harness's flows z 7.1e-6, log q 2.2e-5. Set as the samplers'.
const LATTICE_PHI4_FLOW_LOG_PROB: Tolerance = { atol: 2e-4, rtol: 1e-5, rowRtol: 1e-5 };
const LATTICE_U1_FLOW_LOG_PROB: Tolerance = { atol: 5e-4, rtol: 5e-6, rowRtol: 5e-6 };
// φ⁴ flow training steps (lattice.phi4_flow_train): the CPU trains in double, the device in f32
// (the same Philox draws; gradients as trees of f32 partial sums over the batch; Adam in f32).
// Measured at lr 1e-3: the harness's flows (random parameters, losses up to 9e4: |φ| up to ~10)
// after 3–4 steps, parameters within 1.6e-7 (moved by 3e-3), losses 2.4e-6 relative; the trained
// L = 8 flow (bench/results/lattice_phi4_flow.bin, batch 64, 10 steps): parameters 8.1e-7 (moved
// by 9.5e-3), losses 3.9e-5 at ≈ −8, ESS 3.4e-6. Set ~5× wider.
const LATTICE_PHI4_FLOW_TRAIN: Tolerance = { atol: 5e-6, rtol: 2e-5 };
// U(1) flow training steps (lattice.u1_flow_train): as φ⁴'s, through the NCP mixtures' f32
// derivatives. Measured at lr 1e-3 after 3–4 steps from random parameters: parameters within
// 1.4e-7 (moved by 3e-3) for the small nets, 1.3e-5 for the tutorial's at L = 8; losses 5e-8
// relative. Some parameters are sensitive: on the trained L = 8 flow (batch 32, 10 steps) a few
// of one layer's weights end 5e-4 apart (moved by 9.6e-3) while the device gradient at the CPU's
// parameters of each of those steps stays within 2.6e-5 (1e-5 of max|g|): the loss amplifies
// f32's differences along those directions through Adam; the gradient is not at fault.
// Set 4× the harness's worst.
const LATTICE_U1_FLOW_TRAIN: Tolerance = { atol: 5e-5, rtol: 2e-5 };

/**
 * The op table. Tolerances of f32 ops: the words are the CPU's; the transforms lose f32 rounding
 * (2^-24 relative per step) plus θ's rounding to f32 on upload. A uniform is one rounding
 * (rtol 2^-24, doubled); a normal a few (log, sqrt, sincos: ~3e-7 relative measured). A
 * simulator's atol is a few f32 ulp of its largest intermediate term, since x may cancel to
 * near 0: |θ| ≤ 10 for gaussian_mixture (ulp 1e-6), L·z up to ~400 for slcp on its prior box
 * (ulp 3e-5). docs/backends.md has the measured maxima.
 */
export const OPS = {
  'philox.blocks': { description: 'Philox4x32-10 blocks of (seed, stream) from a block index', tolerance: EXACT },
  'sampler.uniform': { description: 'uniform() draws of one stream, 53 bits on the CPU (sample_uniform_fill)', tolerance: { atol: 0, rtol: 1.2e-7 } },
  'sampler.normal': { description: 'N(0, 1) Box–Muller pairs of one stream (sample_std_normal_fill)', tolerance: { atol: 1e-6, rtol: 1e-6 } },
  'simulate.two_moons': { description: 'two_moons simulator', simulator: 'two_moons', tolerance: { atol: 1e-6, rtol: 1e-6 } },
  'simulate.gaussian_linear': { description: 'gaussian_linear / gaussian_linear_uniform simulator', simulator: 'gaussian_linear', tolerance: { atol: 1e-6, rtol: 1e-6 } },
  'simulate.gaussian_mixture': { description: 'gaussian_mixture simulator', simulator: 'gaussian_mixture', tolerance: { atol: 4e-6, rtol: 1e-6 } },
  'simulate.slcp': { description: 'slcp simulator', simulator: 'slcp', tolerance: { atol: 5e-5, rtol: 1e-6 } },
  // n = loc + L (z / √(χ²/ν)): f32 z (~3e-7 relative) through 92-term sums that can cancel, so the
  // error scales with the row (measured ≤ 3.5e-6 of max(1, max|x_row|) over 10⁵ rows). Categorical
  // pick and gamma accept tests are float comparisons: ≲ 1e-5 of rows expected to tie (0 of 10⁵ seen).
  // Measured figures: bench/backend_accuracy.ts (10⁵ rows per op), in bench/README.md.
  'simulate.slcp_distractors': { description: 'slcp_distractors simulator', simulator: 'slcp_distractors', tolerance: { atol: 2e-5, rtol: 1e-6, rowRtol: 2e-5, discordantRows: 1e-3 } },
  // Discrete outputs, bit-identical but for float ties: 100 decisions u < σ(ψ) per row, σ(ψ) off by
  // ≲ 2e-7 in f32, so ≲ 4e-5 of rows expected to tie (none in 3·10⁵ rows measured); Xᵀ y is exact.
  'simulate.bernoulli_glm': { description: 'bernoulli_glm simulator', simulator: 'bernoulli_glm', tolerance: { atol: 0, rtol: 0, discordantRows: 1e-3 } },
  'simulate.bernoulli_glm_raw': { description: 'bernoulli_glm_raw simulator', simulator: 'bernoulli_glm_raw', tolerance: { atol: 0, rtol: 0, discordantRows: 1e-3 } },
  // f32 Dormand–Prince (I within f32's range: linear state as on the CPU), then Binomial(1000, I/N).
  // p's f32 error moves a count across an inversion boundary: one apart (70–72 rows of 10⁵ differ,
  // most by ±1 only); rows apart: a BTRS round decided the other way shifts the later draws
  // (6–12 per 10⁵ rows, two runs).
  'simulate.sir': { description: 'sir simulator (Dormand–Prince ODE)', simulator: 'sir', tolerance: { atol: 1, rtol: 0, discordantRows: 2e-3 } },
  // f32 Dormand–Prince in log space (kernels/simulators/lotka_volterra.wgsl): f32 rounding over the
  // steps leaves ~1e-4 relative (10⁵ rows: 99.99% ≤ 3.7e-4, worst 1.2e-3). discordantRows covers
  // ill-conditioned dips (the recovery time amplifies relative error); none in 10⁵ rows since the
  // CPU's atol went from 1e-20 to 1e-300 (docs/backends.md).
  'simulate.lotka_volterra': { description: 'lotka_volterra simulator (Dormand–Prince ODE)', simulator: 'lotka_volterra', tolerance: { atol: 1e-12, rtol: 2e-3, discordantRows: 1e-3 } },
  // 20 decisions u < t per row, t off by ≲ 2e-7 in f32: ≲ 1e-5 of rows expected to tie (1 in 3·10⁵ measured)
  'simulate.galton_board': { description: 'galton_board simulator', simulator: 'galton_board', tolerance: { atol: 0, rtol: 0, discordantRows: 1e-3 } },
  // x ∈ [−1, 1] by Cardano + one Newton step in f32: measured |Δx| ≤ 9e-7 (10⁵ rows, √s from 40 to 500 GeV)
  'simulate.weinberg': { description: 'weinberg simulator (e⁺e⁻ → μ⁺μ⁻)', simulator: 'weinberg', tolerance: { atol: 2e-6, rtol: 0 } },
  // f32 log-sum-exp over up to 2^21 splits per set, Kahan-compensated: measured |Δ| ≤ 5e-6 for 8–16 leaves
  'trellis.inside': { description: 'trellis inside pass: log Z and the MAP energy over all hierarchies', tolerance: { atol: 1e-4, rtol: 1e-6 } },
  'trellis.marginals': { description: 'trellis marginal pass: P(cluster) of every cluster', tolerance: { atol: 1e-4, rtol: 0 } },
  'nn.mlp_forward': { description: 'MLP evaluation (dense layers as tiled matrix products, fused bias + activation)', tolerance: MLP_FORWARD },
  'nn.mlp_gradients': { description: 'MLP parameter gradients (backward through every dense layer)', tolerance: MLP_GRADIENTS },
  'nn.mlp_train': { description: 'MLP training steps: forward, BCE / MSE loss, backward, Adam', tolerance: MLP_TRAIN },
  'flow.maf_log_prob': { description: 'conditional MAF / NSF log q(θ | x) (affine or rational-quadratic spline element; MADEs as dense stacks)', tolerance: MAF_LOG_PROB },
  'flow.maf_sample': { description: 'conditional MAF / NSF samples θ ~ q(θ | x) and their log q (base normals from Philox)', tolerance: MAF_SAMPLE },
  'flow.maf_train': { description: 'conditional MAF / NSF training steps: forward, maf_nll_backward, mask, clip at global norm, Adam', tolerance: MAF_TRAIN },
  'flow.maf_embedding_train': { description: "conditional MAF / NSF training steps with an embedding network of x as the context (NPE's): embedding forward, maf_embedded_nll_backward, clip, Adam over both", tolerance: MAF_EMBEDDING_TRAIN },
  'nre.log_ratio': { description: "NRE's residual classifier: log r(θ, x) for a batch of pairs, with or without an embedding network of x (the MCMC potential of NRE's posterior)", tolerance: NRE_LOG_RATIO },
  'nre.train': { description: "NRE training steps: gather the pairs, forward, the NRE loss (A, B, C, BNRE), backward through the residual blocks, clip, Adam", tolerance: NRE_TRAIN },
  'nre.embedding_train': { description: "NRE training steps with an embedding network of x: embed the batch's x rows, gather the pairs on their features, forward, loss, backward through the blocks and the embedding, clip, Adam over both", tolerance: NRE_EMBEDDING_TRAIN },
  'manifold.flow_log_prob': { description: 'log q of points under a flow on a torus Tᴰ or a sphere Sᴰ (circular splines, Möbius / NCP mixtures, interval splines; tanh MLP conditioners)', tolerance: MANIFOLD_LOG_PROB },
  'manifold.flow_sample': { description: 'draws from a flow on Tᴰ / Sᴰ and their log q (base draws from Philox blocks i·coords of the stream)', tolerance: MANIFOLD_SAMPLE },
  'manifold.flow_train': { description: 'reverse-KL training steps of a flow on Tᴰ / Sᴰ to a native target: Philox base draws, forward, target log density, backward, clip, Adam', tolerance: MANIFOLD_TRAIN },
  'flow.mdn_log_prob': { description: 'mixture density network log q(y | c): ReLU conditioner, mixture weights, means, precision factors, log-sum-exp', tolerance: MDN_LOG_PROB },
  'flow.mdn_train': { description: 'mixture density network training steps: conditioner forward, mdn_row_backward, conditioner backward, clip at global norm, Adam', tolerance: MDN_TRAIN },
  'flow.mdn_sample': { description: 'mixture density network draws y ~ q(y | c): component by one uniform(), back substitution of D normals (Philox stream i)', tolerance: MDN_SAMPLE },
  'lattice.phi4_action': { description: 'φ⁴ action S(φ) and ∂S/∂φ of a batch of L×L configurations (kernels/lattice/phi4.h)', tolerance: LATTICE_PHI4_ACTION },
  'lattice.u1_action': { description: 'U(1) Wilson action S(θ), ∂S/∂θ and the topological charge Q of a batch of configurations (kernels/lattice/u1.h)', tolerance: LATTICE_U1_ACTION },
  'lattice.phi4_flow_sample': { description: 'φ⁴ checkerboard flow draws: Philox base normals, circular-CNN affine couplings → φ, log q, S, M; optionally the Z2-symmetrised proposal (kernels/lattice/checkerboard_flow.h)', tolerance: LATTICE_PHI4_FLOW },
  'lattice.u1_flow_sample': { description: 'U(1) gauge-equivariant flow draws: Philox Haar links, circular CNN, NCP circle mixtures → θ\', log q, S, Q (kernels/lattice/gauge_flow.h)', tolerance: LATTICE_U1_FLOW },
  'lattice.phi4_flow_log_prob': { description: 'φ⁴ checkerboard flow inverse pass of given configurations: z = f⁻¹(φ) and log q(φ) (checkerboard_flow_inverse)', tolerance: LATTICE_PHI4_FLOW_LOG_PROB },
  'lattice.phi4_flow_train': { description: 'φ⁴ checkerboard flow reverse-KL training steps: Philox base normals, forward with its tape, log q + S, backward through the couplings and circular convs, Adam', tolerance: LATTICE_PHI4_FLOW_TRAIN },
  'lattice.u1_flow_train': { description: 'U(1) gauge-equivariant flow reverse-KL training steps: Philox Haar links, forward with its tape, log q + S, backward through the NCP mixtures, plaquettes and circular convs, Adam', tolerance: LATTICE_U1_FLOW_TRAIN },
  'lattice.u1_flow_log_prob': { description: 'U(1) gauge-equivariant flow inverse pass of given links: θ = f⁻¹(θ\') by Newton on the NCP mixtures, log q(θ\') (gauge_flow_inverse)', tolerance: LATTICE_U1_FLOW_LOG_PROB },
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];

/** The op that simulates with native simulator `name` (undefined when the table lacks it). */
export function simulateOp(name: string): OpName | undefined {
  const op = `simulate.${name}`;
  return op in OPS ? (op as OpName) : undefined;
}

export interface BackendSimulateOptions {
  seed: number | bigint;
  /** Row i uses Philox stream streamOffset + i. Default 0. */
  streamOffset?: number | bigint;
  /** [designDim] design variables shared by all rows (e.g. √s); required iff the simulator has them. */
  design?: Float64Array;
  /** CPU only: worker threads (never changes the result). */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface BackendSimulation {
  /** [n, xDim]; failed rows are NaN */
  x: Float32Array;
  /** [n]: 1 where the row failed (non-finite) */
  failed: Uint8Array;
  failedCount: number;
}

export interface Backend {
  readonly name: BackendName;
  /** The device, in words. */
  readonly device: string;
  /** true, or why the op does not run here. */
  supportsOp(op: OpName): true | { reason: string };
  /** `blocks` Philox4x32-10 blocks of (seed, stream) from block `firstBlock`: 4 words each. */
  philoxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: bigint, blocks: number): Promise<Uint32Array>;
  /** n uniform() draws of stream (seed, stream) from its start, n in [1, 2^20]. */
  sampleUniform(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array>;
  /** n (even) standard normals, n/2 Box–Muller pairs of stream (seed, stream) from its start. */
  sampleNormal(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array>;
  /** Native simulator `simulator` on θ [n, thetaDim]. */
  simulate(simulator: string, theta: Float64Array, options: BackendSimulateOptions): Promise<BackendSimulation>;
  /** The trellis's log Z and MAP energy (ops trellis.inside) and, with marginals, P(cluster) by bitmask (trellis.marginals). */
  trellis(leaves: Leaves, model: TrellisModel, options?: { marginals?: boolean }): Promise<BackendTrellis>;
  /** An MLP's output [n, sizes[L]] for x [n, sizes[0]] (op nn.mlp_forward); params in kernels/nn/mlp.h's layout. */
  mlpForward(spec: MlpSpec, params: Float32Array, x: ArrayInput, n: number): Promise<Float32Array>;
  /** Parameter gradients of Σ dout ⊙ output, summed over the n rows (op nn.mlp_gradients). */
  mlpGradients(spec: MlpSpec, params: Float32Array, x: ArrayInput, dout: ArrayInput, n: number): Promise<Float32Array>;
  /** One Adam step per batch from params (not modified): the final parameters and each step's loss (op nn.mlp_train). */
  mlpTrain(spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions }): Promise<{ params: Float32Array; losses: Float64Array }>;
  /** log q(θ | x) [n] of a conditional MAF at θ [n, dim] (op flow.maf_log_prob), in f32. */
  mafLogProb(maf: MAF, theta: ArrayInput, x: ArrayInput | null): Promise<Float32Array>;
  /** n draws θ ~ q(θ | x) and their log q; row i from Philox stream i of seed (op flow.maf_sample). */
  mafSample(maf: MAF, x: ArrayInput | null, n: number, seed: number | bigint): Promise<{ theta: Float32Array; logProb: Float32Array }>;
  /**
   * One training step per batch of z-scored rows from maf.params (not modified): batch-mean
   * −log q, its gradient, clipping at global norm, Adam (op flow.maf_train); the final parameters
   * and each step's loss.
   */
  mafTrain(maf: MAF, batches: readonly MafBatch[], options?: MafStepOptions): Promise<{ params: Float32Array; losses: Float64Array }>;
  /**
   * As mafTrain with an embedding network (ReLU MLP, mlp.h layout) between each batch's x
   * [nb, embedding.sizes[0]] and the flow's context, trained jointly (op flow.maf_embedding_train).
   */
  mafEmbeddingTrain(maf: MAF, embedding: MafEmbedding, batches: readonly MafBatch[], options?: MafStepOptions): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }>;
  /** log q [N] of points x [N, W] (angles, or unit vectors in ℝ^{D+1}) under a torus / sphere flow (op manifold.flow_log_prob). */
  manifoldFlowLogProb(flow: ManifoldFlow, x: Float64Array): Promise<Float64Array>;
  /** n draws [n, W] and their log q; row i from Philox blocks i·coords on of (seed, stream) (op manifold.flow_sample). */
  manifoldFlowSample(flow: ManifoldFlow, n: number, seed: number | bigint, stream?: number | bigint): Promise<{ x: Float64Array; logProb: Float64Array }>;
  /**
   * `steps` reverse-KL training steps from flow.params (not modified), step t on Philox stream t
   * of the seed, then clipping and Adam (op manifold.flow_train): the final parameters and each
   * step's loss.
   */
  manifoldFlowTrain(flow: ManifoldFlow, options: ManifoldTrainStepOptions): Promise<{ params: Float64Array; losses: Float64Array }>;
  /**
   * The trained NRE classifier's log r(θ_i, x_i) for θ [n, thetaDim]; x one row per θ row or one
   * observation [xDim] for all (op nre.log_ratio).
   */
  nreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array>;
  /**
   * One NRE training step per batch of z-scored rows and their pairs from `params` (not
   * modified): the loss, its gradient, clipping at global norm, Adam (op nre.train); the final
   * parameters and each step's loss.
   */
  nreTrain(shape: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions): Promise<{ params: Float32Array; losses: Float64Array }>;
  /**
   * As nreTrain with the embedding network of shape.embeddingSizes (its parameters
   * `embeddingParams`) trained jointly (op nre.embedding_train); both final vectors and each step's loss.
   */
  nreEmbeddingTrain(shape: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }>;
  /** log q(y | c) [n] of an MDN at z-scored y [n, dim], context [contextDim] (all rows) or [n, contextDim] (op flow.mdn_log_prob), f32. */
  mdnLogProb(mdn: MDN, y: ArrayInput, context: ArrayInput): Promise<Float32Array>;
  /** n draws y ~ q(y | c) [n, dim] of an MDN; row i from Philox stream i of seed (op flow.mdn_sample). */
  mdnSample(mdn: MDN, context: ArrayInput, n: number, seed: number | bigint): Promise<Float32Array>;
  /** One step per batch of z-scored rows from mdn.params (not modified): batch-mean −log q, its gradient, clipping, Adam (op flow.mdn_train). */
  mdnTrain(mdn: MDN, batches: readonly MdnBatch[], options?: MafStepOptions): Promise<{ params: Float32Array; losses: Float64Array }>;
  /** S(φ) [n] and ∂S/∂φ [n, L·L] of φ⁴ configurations φ [n, L·L] (op lattice.phi4_action). */
  phi4Action(coupling: Phi4Coupling, phi: Float64Array): Promise<{ action: Float64Array; grad: Float64Array }>;
  /** S(θ) [n], ∂S/∂θ [n, 2·L·L] and Q [n] of U(1) configurations θ [n, 2·L·L] (op lattice.u1_action). */
  u1Action(coupling: U1Coupling, theta: Float64Array): Promise<U1ActionValues>;
  /** n draws φ ~ q of a φ⁴ flow with log q, S and M; draw i from Philox stream offset + i of seed (op lattice.phi4_flow_sample). */
  phi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions): Promise<Phi4FlowDraws>;
  /** n draws θ' ~ q of a U(1) flow with log q, S and Q; draw i from Philox stream offset + i of seed (op lattice.u1_flow_sample). */
  u1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions): Promise<U1FlowDraws>;
  /** z = f⁻¹(φ) and log q(φ) of φ⁴ configurations φ [n, L·L] (op lattice.phi4_flow_log_prob). */
  phi4FlowLogProb(flow: Phi4Flow, phi: Float64Array): Promise<LatticeFlowInverse>;
  /** θ = f⁻¹(θ') and log q(θ') of U(1) configurations θ' [n, 2·L·L] (op lattice.u1_flow_log_prob). */
  u1FlowLogProb(flow: U1Flow, theta: Float64Array): Promise<LatticeFlowInverse>;
  /** Reverse-KL Adam steps of a φ⁴ flow from its parameters, the CPU trainer's draws (op lattice.phi4_flow_train). */
  phi4FlowTrain(flow: Phi4Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult>;
  /** Reverse-KL Adam steps of a U(1) flow from its parameters, the CPU trainer's draws (op lattice.u1_flow_train). */
  u1FlowTrain(flow: U1Flow, options: LatticeFlowTrainOptions): Promise<LatticeFlowTrainResult>;
  /**
   * Copies finite f32 values to this backend once (a DeviceArray: device memory on webgpu, a host
   * copy on cpu), for the ops that take ArrayInput — so repeated calls do not upload them again.
   */
  upload(values: Float32Array): Promise<DeviceArray>;
}

export interface BackendTrellis {
  logZ: number;
  mapLogLH: number;
  mapTree: NestedTree | null;
  marginals?: Float64Array;
}

const MAX_SAMPLES = 1 << 20;
const U64 = (1n << 64n) - 1n;

function seedBig(v: unknown, name: string): bigint {
  return BigInt(checkSeed(v, name));
}

function checkBlocks(blocks: number): void {
  if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > MAX_BLOCKS) {
    throw new RangeError(`Expected an integer in [1, ${MAX_BLOCKS}] for \`blocks\` but received ${blocks}`);
  }
}

function checkFirstBlock(v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64) throw new RangeError(`Expected a bigint in [0, 2^64) for \`firstBlock\` but received ${String(v)}`);
  return v;
}

function checkSamples(n: number, even: boolean): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SAMPLES) throw new RangeError(`Expected an integer in [1, ${MAX_SAMPLES}] for \`n\` but received ${n}`);
  if (even && n % 2 !== 0) throw new RangeError(`Expected an even \`n\` (normals come in pairs) but received ${n}`);
}

interface SimInfo {
  thetaDim: number;
  xDim: number;
  designDim: number;
}

function simulatorInfo(name: string): SimInfo {
  const info = native.simulators().find((s) => s.name === name);
  if (!info) {
    throw new SbiError(`Unknown simulator "${name}"; known: ${native.simulators().map((s) => s.name).join(', ')}`, 'UNKNOWN_SIMULATOR');
  }
  return info;
}

function checkTheta(theta: Float64Array, info: SimInfo, name: string): number {
  if (!(theta instanceof Float64Array)) throw new TypeError('Expected a Float64Array for `theta`');
  if (theta.length === 0 || theta.length % info.thetaDim !== 0) {
    throw new RangeError(`Expected \`theta\` to hold whole rows of ${info.thetaDim} values for ${name} but received ${theta.length} values`);
  }
  for (let i = 0; i < theta.length; i++) {
    if (!Number.isFinite(theta[i])) {
      throw new RangeError(`Expected finite values in \`theta\` but row ${Math.floor(i / info.thetaDim)}, column ${i % info.thetaDim} is ${theta[i]}`);
    }
  }
  return theta.length / info.thetaDim;
}

function checkDesign(design: Float64Array | undefined, info: SimInfo, name: string): Float64Array | undefined {
  if (info.designDim === 0) {
    if (design !== undefined && design.length > 0) throw new SbiError(`Simulator ${name} has no design variables`, 'NO_DESIGN');
    return undefined;
  }
  if (!(design instanceof Float64Array)) throw new TypeError(`Simulator ${name} needs \`design\` (a Float64Array of ${info.designDim} values)`);
  if (design.length !== info.designDim) throw new RangeError(`Expected ${info.designDim} values for \`design\` but received ${design.length}`);
  for (let j = 0; j < design.length; j++) {
    if (!Number.isFinite(design[j])) throw new RangeError(`Expected finite values in \`design\` but value ${j} is ${design[j]}`);
  }
  return design;
}

const abortError = () => new SbiError('The operation was aborted', 'ABORTED');

/** The CPU backend: the native addon's kernels (the reference of every agreement test). */
class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly device = 'CPU (native addon)';

  supportsOp(op: OpName): true | { reason: string } {
    const sim = (OPS[op] as OpSpec).simulator;
    if (sim !== undefined && !native.simulators().some((s) => s.name === sim)) return { reason: `this build has no native simulator ${sim}` };
    return true;
  }

  async philoxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: bigint, blocks: number): Promise<Uint32Array> {
    const k = seedBig(seed, 'seed'), s = seedBig(stream, 'stream'), first = checkFirstBlock(firstBlock);
    checkBlocks(blocks);
    const counters = new Uint32Array(4 * blocks);
    const [s0, s1] = u64Words(s);
    const [lo0, hi0] = u64Words(first);
    for (let i = 0; i < blocks; i++) {
      const lo = lo0! + i; // < 2^53: exact; the part above 2^32 carries into the high word
      counters[4 * i] = lo >>> 0;
      counters[4 * i + 1] = (hi0! + Math.floor(lo / 4294967296)) >>> 0;
      counters[4 * i + 2] = s0!;
      counters[4 * i + 3] = s1!;
    }
    const out = new Uint32Array(4 * blocks);
    native.philox4x32(counters, Uint32Array.from(u64Words(k)), out);
    return out;
  }

  async sampleUniform(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, false);
    const out = new Float64Array(n + 3); // samplerFill appends 3 sequential draws (a test aid)
    native.samplerFill('uniform', seedBig(seed, 'seed'), seedBig(stream, 'stream'), 0, n, out, false);
    return out.slice(0, n);
  }

  async sampleNormal(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, true);
    const out = new Float64Array(n + 3);
    native.samplerFill('normal', seedBig(seed, 'seed'), seedBig(stream, 'stream'), 0, n, out, false);
    return out.slice(0, n);
  }

  async simulate(simulator: string, theta: Float64Array, options: BackendSimulateOptions): Promise<BackendSimulation> {
    const info = simulatorInfo(simulator);
    const n = checkTheta(theta, info, simulator);
    const design = checkDesign(options.design, info, simulator);
    const x = new Float32Array(n * info.xDim);
    const failed = new Uint8Array(n);
    const cancel = new Int32Array(1);
    if (options.signal?.aborted) throw abortError();
    const onAbort = () => Atomics.store(cancel, 0, 1);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const failedCount = await native.simulateAsync(
        {
          name: simulator,
          theta: theta.slice(),
          n,
          seed: checkSeed(options.seed, 'seed'),
          streamOffset: checkSeed(options.streamOffset ?? 0, 'streamOffset'),
          x,
          failed,
          ...(design ? { design: design.slice() } : {}),
          ...(options.threads !== undefined ? { threads: options.threads } : {}),
        },
        options.onProgress,
        cancel,
      );
      return { x, failed, failedCount };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async trellis(leaves: Leaves, model: TrellisModel, options: { marginals?: boolean } = {}): Promise<BackendTrellis> {
    const r = await runTrellisAsync(leaves, model, { marginals: options.marginals === true });
    return { logZ: r.logZ, mapLogLH: r.mapLogLH, mapTree: r.mapTree, ...(r.marginals ? { marginals: r.marginals } : {}) };
  }

  async mlpForward(spec: MlpSpec, params: Float32Array, x: ArrayInput, n: number): Promise<Float32Array> {
    return cpuMlpForward(spec, params, hostInput(x, 'x'), n);
  }

  async mlpGradients(spec: MlpSpec, params: Float32Array, x: ArrayInput, dout: ArrayInput, n: number): Promise<Float32Array> {
    return cpuMlpGradients(spec, params, hostInput(x, 'x'), hostInput(dout, 'dout'), n);
  }

  async mlpTrain(spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions }) {
    return cpuMlpTrain(spec, params, batches, options);
  }

  async mafLogProb(maf: MAF, theta: ArrayInput, x: ArrayInput | null): Promise<Float32Array> {
    return maf.logProbAndBase(hostInput(theta, 'theta'), x === null ? null : hostInput(x, 'x')).logProb;
  }

  async mafSample(maf: MAF, x: ArrayInput | null, n: number, seed: number | bigint) {
    return maf.sampleAndLogProb(n, x === null ? null : hostInput(x, 'x'), { seed }) as { theta: Float32Array; logProb: Float32Array };
  }

  async mafTrain(maf: MAF, batches: readonly MafBatch[], options?: MafStepOptions) {
    return cpuMafTrainSteps(maf, batches, options);
  }

  async mafEmbeddingTrain(maf: MAF, embedding: MafEmbedding, batches: readonly MafBatch[], options?: MafStepOptions) {
    return cpuMafEmbeddingTrainSteps(maf, embedding, batches, options);
  }

  async nreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array> {
    return cpuNreLogRatio(net, theta, x);
  }

  async nreTrain(shape: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions) {
    return cpuNreTrainSteps(shape, params, loss, batches, options);
  }

  async nreEmbeddingTrain(shape: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions) {
    return cpuNreEmbeddingTrainSteps(shape, params, embeddingParams, loss, batches, options);
  }

  async manifoldFlowLogProb(flow: ManifoldFlow, x: Float64Array): Promise<Float64Array> {
    return flow.logProb(x);
  }

  async manifoldFlowSample(flow: ManifoldFlow, n: number, seed: number | bigint, stream: number | bigint = 0) {
    return flow.sample(n, seed, { stream });
  }

  async manifoldFlowTrain(flow: ManifoldFlow, options: ManifoldTrainStepOptions) {
    return cpuManifoldFlowTrainSteps(flow, options);
  }

  async mdnLogProb(mdn: MDN, y: ArrayInput, context: ArrayInput): Promise<Float32Array> {
    return mdn.logProb(hostInput(y, 'y'), hostInput(context, 'context'));
  }

  async mdnSample(mdn: MDN, context: ArrayInput, n: number, seed: number | bigint): Promise<Float32Array> {
    return mdn.sample(n, hostInput(context, 'context'), { seed });
  }

  async mdnTrain(mdn: MDN, batches: readonly MdnBatch[], options?: MafStepOptions) {
    return cpuMdnTrainSteps(mdn, batches, options);
  }

  phi4Action(coupling: Phi4Coupling, phi: Float64Array) {
    return cpuPhi4Action(coupling, phi);
  }

  u1Action(coupling: U1Coupling, theta: Float64Array) {
    return cpuU1Action(coupling, theta);
  }

  phi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions) {
    return cpuPhi4FlowSample(flow, options);
  }

  u1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions) {
    return cpuU1FlowSample(flow, options);
  }

  phi4FlowLogProb(flow: Phi4Flow, phi: Float64Array) {
    return cpuPhi4FlowLogProb(flow, phi);
  }

  u1FlowLogProb(flow: U1Flow, theta: Float64Array) {
    return cpuU1FlowLogProb(flow, theta);
  }

  phi4FlowTrain(flow: Phi4Flow, options: LatticeFlowTrainOptions) {
    return cpuPhi4FlowTrain(flow, options);
  }

  u1FlowTrain(flow: U1Flow, options: LatticeFlowTrainOptions) {
    return cpuU1FlowTrain(flow, options);
  }

  async upload(values: Float32Array): Promise<DeviceArray> {
    return new HostArray(values);
  }
}

/** Simulators with a WGSL kernel: file and entry point (kernels/simulators/<name>.wgsl). */
const WGSL_SIMULATORS: Readonly<Record<string, WgslFile>> = {
  two_moons: 'simulators/two_moons.wgsl',
  gaussian_linear: 'simulators/gaussian_linear.wgsl',
  gaussian_mixture: 'simulators/gaussian_mixture.wgsl',
  slcp: 'simulators/slcp.wgsl',
  galton_board: 'simulators/galton_board.wgsl',
  bernoulli_glm: 'simulators/bernoulli_glm.wgsl',
  bernoulli_glm_raw: 'simulators/bernoulli_glm.wgsl',
  slcp_distractors: 'simulators/slcp_distractors.wgsl',
  lotka_volterra: 'simulators/lotka_volterra.wgsl',
  sir: 'simulators/sir.wgsl',
  weinberg: 'simulators/weinberg.wgsl',
};

/** Fixed data a WGSL simulator reads (bind group 1), built once per device. */
const WGSL_SIMULATOR_TABLES: Readonly<Record<string, () => Float32Array<ArrayBuffer>>> = {
  slcp_distractors: slcpDistractorsMixture,
};

/** Design variables a WGSL simulator can receive (SimParams.design, a vec4f). */
const MAX_WGSL_DESIGN = 4;

/** Why a simulator has no WGSL kernel yet. */
const WGSL_NOT_YET: Readonly<Record<string, string>> = {
};

/** The WebGPU backend: WGSL kernels through Dawn (a GPU, or llvmpipe where there is none). */
class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly device: string;
  constructor(private readonly ctx: WebGpuContext) {
    this.device = `${ctx.description}${ctx.fallback ? ' (OpenGL ES fallback, no GPU)' : ''}`;
  }

  supportsOp(op: OpName): true | { reason: string } {
    const sim = (OPS[op] as OpSpec).simulator;
    if (sim === undefined) return true;
    if (WGSL_SIMULATORS[sim]) return true;
    return { reason: WGSL_NOT_YET[sim] ?? 'no WGSL kernel yet' };
  }

  philoxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: bigint, blocks: number): Promise<Uint32Array> {
    return philoxBlocksWebGpu(this.ctx, seedBig(seed, 'seed'), seedBig(stream, 'stream'), firstBlock, blocks);
  }

  async trellis(leaves: Leaves, model: TrellisModel, options: { marginals?: boolean } = {}): Promise<BackendTrellis> {
    const r = await runTrellisWebGpu(leaves, model, { marginals: options.marginals === true, context: this.ctx });
    return { logZ: r.logZ, mapLogLH: r.mapLogLH, mapTree: r.mapTree, ...(r.marginals ? { marginals: r.marginals } : {}) };
  }

  /** Runs `f` on a device-resident copy of the MLP, released afterwards. */
  private async withMlp<R>(spec: MlpSpec, params: Float32Array, f: (mlp: WebGpuMlp) => Promise<R>): Promise<R> {
    const mlp = WebGpuMlp.create(this.ctx, spec, params);
    try {
      return await f(mlp);
    } finally {
      mlp.destroy();
    }
  }

  mlpForward(spec: MlpSpec, params: Float32Array, x: ArrayInput, n: number): Promise<Float32Array> {
    return this.withMlp(spec, params, (m) => m.forward(x, n));
  }

  mlpGradients(spec: MlpSpec, params: Float32Array, x: ArrayInput, dout: ArrayInput, n: number): Promise<Float32Array> {
    return this.withMlp(spec, params, (m) => m.gradients(x, dout, n));
  }

  mlpTrain(spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions }) {
    return this.withMlp(spec, params, async (m) => {
      const losses = await m.train(batches, options);
      return { params: await m.getParams(), losses };
    });
  }

  mafLogProb(maf: MAF, theta: ArrayInput, x: ArrayInput | null): Promise<Float32Array> {
    return mafLogProbWebGpu(this.ctx, maf, theta, x);
  }

  mafSample(maf: MAF, x: ArrayInput | null, n: number, seed: number | bigint) {
    return mafSampleWebGpu(this.ctx, maf, x, n, seed);
  }

  mafTrain(maf: MAF, batches: readonly MafBatch[], options?: MafStepOptions) {
    return mafTrainStepsWebGpu(this.ctx, maf, batches, options);
  }

  mafEmbeddingTrain(maf: MAF, embedding: MafEmbedding, batches: readonly MafBatch[], options?: MafStepOptions) {
    return mafEmbeddingTrainStepsWebGpu(this.ctx, maf, embedding, batches, options);
  }

  nreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array> {
    return nreLogRatioWebGpu(this.ctx, net, theta, x);
  }

  nreTrain(shape: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions) {
    return nreTrainStepsWebGpu(this.ctx, shape, params, loss, batches, options);
  }

  nreEmbeddingTrain(shape: RatioShape, params: Float32Array, embeddingParams: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions) {
    return nreEmbeddingTrainStepsWebGpu(this.ctx, shape, params, embeddingParams, loss, batches, options);
  }

  manifoldFlowLogProb(flow: ManifoldFlow, x: Float64Array): Promise<Float64Array> {
    return manifoldFlowLogProbWebGpu(this.ctx, flow, x);
  }

  manifoldFlowSample(flow: ManifoldFlow, n: number, seed: number | bigint, stream: number | bigint = 0) {
    return manifoldFlowSampleWebGpu(this.ctx, flow, n, seed, stream);
  }

  manifoldFlowTrain(flow: ManifoldFlow, options: ManifoldTrainStepOptions) {
    return manifoldFlowTrainWebGpu(this.ctx, flow, options);
  }

  mdnLogProb(mdn: MDN, y: ArrayInput, context: ArrayInput): Promise<Float32Array> {
    return mdnLogProbWebGpu(this.ctx, mdn, y, context);
  }

  mdnSample(mdn: MDN, context: ArrayInput, n: number, seed: number | bigint): Promise<Float32Array> {
    return mdnSampleWebGpu(this.ctx, mdn, context, n, seed);
  }

  mdnTrain(mdn: MDN, batches: readonly MdnBatch[], options?: MafStepOptions) {
    return mdnTrainStepsWebGpu(this.ctx, mdn, batches, options);
  }

  phi4Action(coupling: Phi4Coupling, phi: Float64Array) {
    return phi4ActionWebGpu(this.ctx, coupling, phi);
  }

  u1Action(coupling: U1Coupling, theta: Float64Array) {
    return u1ActionWebGpu(this.ctx, coupling, theta);
  }

  phi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions) {
    return phi4FlowSampleWebGpu(this.ctx, flow, options);
  }

  u1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions) {
    return u1FlowSampleWebGpu(this.ctx, flow, options);
  }

  phi4FlowLogProb(flow: Phi4Flow, phi: Float64Array) {
    return phi4FlowLogProbWebGpu(this.ctx, flow, phi);
  }

  u1FlowLogProb(flow: U1Flow, theta: Float64Array) {
    return u1FlowLogProbWebGpu(this.ctx, flow, theta);
  }

  phi4FlowTrain(flow: Phi4Flow, options: LatticeFlowTrainOptions) {
    return phi4FlowTrainWebGpu(this.ctx, flow, options);
  }

  u1FlowTrain(flow: U1Flow, options: LatticeFlowTrainOptions) {
    return u1FlowTrainWebGpu(this.ctx, flow, options);
  }

  async upload(values: Float32Array): Promise<DeviceArray> {
    return new GpuArray(this.ctx, values);
  }

  private async fill(entryPoint: string, seed: number | bigint, stream: number | bigint, n: number, valuesPerInvocation: number): Promise<Float64Array> {
    const out = await runKernel(this.ctx, {
      key: { file: 'random/sampler_fill.wgsl', entryPoint, constants: { workgroup_size: WORKGROUP } },
      uniforms: Uint32Array.from([...u64Words(seedBig(seed, 'seed')), ...u64Words(seedBig(stream, 'stream')), n, 0, 0, 0]),
      outputBytes: 4 * n,
      workgroups: Math.ceil(Math.ceil(n / valuesPerInvocation) / WORKGROUP),
    });
    return Float64Array.from(new Float32Array(out));
  }

  sampleUniform(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, false);
    return this.fill('uniform_fill', seed, stream, n, 2);
  }

  sampleNormal(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, true);
    return this.fill('normal_fill', seed, stream, n, 8);
  }

  async simulate(simulator: string, theta: Float64Array, options: BackendSimulateOptions): Promise<BackendSimulation> {
    const info = simulatorInfo(simulator);
    const file = WGSL_SIMULATORS[simulator];
    if (!file) {
      const op = simulateOp(simulator);
      throw unsupported(op ?? `simulate.${simulator}`, 'webgpu', WGSL_NOT_YET[simulator] ?? 'no WGSL kernel yet');
    }
    const n = checkTheta(theta, info, simulator);
    const design = checkDesign(options.design, info, simulator);
    if (info.designDim > MAX_WGSL_DESIGN) throw unsupported(`simulate.${simulator}`, 'webgpu', `more than ${MAX_WGSL_DESIGN} design variables`);
    // SimParams (sim_row.wgsl): key, stream offset, n, padding, then design: vec4f at byte 32
    const designWords = new Uint32Array(Float32Array.from({ length: MAX_WGSL_DESIGN }, (_, j) => design?.[j] ?? 0).buffer);
    const seed = seedBig(options.seed, 'seed');
    const offset = seedBig(options.streamOffset ?? 0, 'streamOffset');
    const x = new Float32Array(n * info.xDim);
    // Rows per launch: one dispatch dimension and one storage binding's size bound it.
    const maxBinding = this.ctx.device.limits.maxStorageBufferBindingSize;
    const chunk = Math.max(1, Math.min(MAX_BLOCKS, Math.floor(maxBinding / (4 * Math.max(info.thetaDim, info.xDim)))));
    const table = WGSL_SIMULATOR_TABLES[simulator];
    const tables = table ? [deviceTable(this.ctx.device, simulator, table)] : undefined;
    for (let start = 0; start < n; start += chunk) {
      if (options.signal?.aborted) throw abortError();
      const rows = Math.min(chunk, n - start);
      const out = await runKernel(this.ctx, {
        key: { file, entryPoint: simulator, constants: { workgroup_size: WORKGROUP } },
        uniforms: Uint32Array.from([...u64Words(seed), ...u64Words((offset + BigInt(start)) & U64), rows, 0, 0, 0, ...designWords]),
        inputs: [new Float32Array(theta.subarray(start * info.thetaDim, (start + rows) * info.thetaDim))],
        ...(tables ? { tables } : {}),
        outputBytes: 4 * rows * info.xDim,
        workgroups: Math.ceil(rows / WORKGROUP),
      });
      x.set(new Float32Array(out), start * info.xDim);
      options.onProgress?.(start + rows, n);
    }
    // As RunRows on the CPU: a row with a non-finite value is NaN and flagged.
    const failed = new Uint8Array(n);
    let failedCount = 0;
    const d = info.xDim;
    for (let k = 0; k < x.length; k++) {
      if (x[k]! - x[k]! === 0) continue; // finite (NaN and ±inf give NaN)
      const i = Math.floor(k / d);
      x.fill(NaN, i * d, (i + 1) * d);
      failed[i] = 1;
      failedCount++;
      k = (i + 1) * d - 1;
    }
    return { x, failed, failedCount };
  }
}

/** The CUDA launchers of the density estimators' ops (src/backend/cuda_flows.ts). */
const CUDA_FLOW_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'flow.maf_log_prob', 'flow.maf_sample', 'flow.mdn_log_prob', 'flow.mdn_sample', 'flow.mdn_train', 'nre.log_ratio', 'nre.train',
]);

/**
 * Whether the CUDA backend runs `op` (the simulators: those the addon has launchers for), or why
 * not: the CUDA backend's supportsOp, testable where no device exists.
 */
export function cudaOpSupport(op: OpName, simulators: ReadonlySet<string>): true | { reason: string } {
  if (op === 'philox.blocks' || op === 'sampler.uniform' || op === 'sampler.normal') return true;
  if (op === 'nn.mlp_forward' || op === 'nn.mlp_gradients' || op === 'nn.mlp_train') return true;
  if (op === 'trellis.inside' || op === 'trellis.marginals') return true;
  if (CUDA_FLOW_OPS.has(op)) return true;
  if (op === 'flow.maf_train') return { reason: "no CUDA launcher for MAF / NSF training yet (maf_nll_backward's per-layer MADE gradients)" };
  if (op === 'flow.maf_embedding_train' || op === 'nre.embedding_train') return { reason: 'no CUDA launcher for the embedding networks yet' };
  const sim = (OPS[op] as OpSpec).simulator;
  if (sim !== undefined) return simulators.has(sim) ? true : { reason: `no CUDA launcher for ${sim} yet (kernels/simulators/simulators.cu)` };
  if (op === 'manifold.flow_log_prob' || op === 'manifold.flow_sample') return true;
  if (op === 'manifold.flow_train') return { reason: 'no CUDA launcher for the manifold flows\' training yet' };
  if (op === 'lattice.phi4_action' || op === 'lattice.u1_action' || op === 'lattice.phi4_flow_sample' || op === 'lattice.u1_flow_sample') return true;
  if (op === 'lattice.phi4_flow_log_prob' || op === 'lattice.u1_flow_log_prob') return true;
  if (op.startsWith('lattice.')) return { reason: 'no CUDA launcher for this lattice op yet' };
  return { reason: 'no CUDA launcher yet' };
}

/**
 * The CUDA backend: the optional addon's kernels (src/backend/cuda.ts), the CPU's headers compiled
 * by nvcc. Its calls are synchronous on the device today (the event loop waits for a batch).
 * Exported for the tests, which construct it without a device (its ops then throw NO_CUDA_DEVICE);
 * use selectBackend('cuda').
 */
export class CudaBackendImpl implements Backend {
  readonly name = 'cuda' as const;
  readonly device: string;
  private readonly simulators: ReadonlySet<string>;
  constructor(info: CudaBackend) {
    this.device = info.device.description ?? 'CUDA device';
    this.simulators = new Set(info.simulators.map((s) => s.name));
  }

  supportsOp(op: OpName): true | { reason: string } {
    return cudaOpSupport(op, this.simulators);
  }

  async philoxBlocks(seed: number | bigint, stream: number | bigint, firstBlock: bigint, blocks: number): Promise<Uint32Array> {
    checkBlocks(blocks);
    return cudaPhiloxBlocks(seedBig(seed, 'seed'), seedBig(stream, 'stream'), checkFirstBlock(firstBlock), blocks);
  }

  private refuse(op: OpName): never {
    const s = this.supportsOp(op);
    throw unsupported(op, 'cuda', s === true ? 'no CUDA launcher yet' : s.reason);
  }

  async sampleUniform(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, false);
    return cudaSamplerFill('uniform', seedBig(seed, 'seed'), seedBig(stream, 'stream'), n);
  }

  async sampleNormal(seed: number | bigint, stream: number | bigint, n: number): Promise<Float64Array> {
    checkSamples(n, true);
    return cudaSamplerFill('normal', seedBig(seed, 'seed'), seedBig(stream, 'stream'), n);
  }

  async simulate(simulator: string, theta: Float64Array, options: BackendSimulateOptions): Promise<BackendSimulation> {
    const info = simulatorInfo(simulator);
    if (!this.simulators.has(simulator)) this.refuse(simulateOp(simulator) ?? ('simulate.' + simulator as OpName));
    const n = checkTheta(theta, info, simulator);
    const design = checkDesign(options.design, info, simulator);
    if (options.signal?.aborted) throw abortError();
    const r = cudaSimulate(simulator, theta, n, {
      seed: seedBig(options.seed, 'seed'),
      streamOffset: seedBig(options.streamOffset ?? 0, 'streamOffset'),
      ...(design ? { design } : {}),
    });
    options.onProgress?.(n, n);
    return r;
  }

  async trellis(leaves: Leaves, model: TrellisModel, options: { marginals?: boolean } = {}): Promise<BackendTrellis> {
    return cudaTrellis(leaves, model, { marginals: options.marginals === true });
  }

  /** A host input: CUDA has no DeviceArrays yet, so one from another backend is a TypeError naming it. */
  private hostArray(a: ArrayInput, name: string): Float32Array {
    inputLength(a, name, 'cuda');
    return a as Float32Array;
  }

  async mlpForward(spec: MlpSpec, params: Float32Array, x: ArrayInput, n: number): Promise<Float32Array> {
    return cudaMlpForward(spec, params, this.hostArray(x, 'x'), n);
  }

  async mlpGradients(spec: MlpSpec, params: Float32Array, x: ArrayInput, dout: ArrayInput, n: number): Promise<Float32Array> {
    return cudaMlpGradients(spec, params, this.hostArray(x, 'x'), this.hostArray(dout, 'dout'), n);
  }

  async mlpTrain(spec: MlpSpec, params: Float32Array, batches: readonly MlpBatch[], options: { loss: MlpLoss; adam: NnAdamOptions }) {
    return cudaMlpTrain(spec, params, batches, options);
  }

  async mafLogProb(maf: MAF, theta: ArrayInput, x: ArrayInput | null): Promise<Float32Array> {
    return cudaMafLogProb(maf, this.hostArray(theta, 'theta'), x === null ? null : this.hostArray(x, 'x'));
  }

  async mafSample(maf: MAF, x: ArrayInput | null, n: number, seed: number | bigint) {
    return cudaMafSample(maf, x === null ? null : this.hostArray(x, 'x'), n, seed);
  }

  async mafTrain(): Promise<{ params: Float32Array; losses: Float64Array }> {
    this.refuse('flow.maf_train');
  }

  async mafEmbeddingTrain(): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }> {
    this.refuse('flow.maf_embedding_train');
  }

  async nreLogRatio(net: RatioClassifier, theta: Float64Array, x: Float64Array): Promise<Float64Array> {
    return cudaNreLogRatio(net, theta, x);
  }

  async nreTrain(shape: RatioShape, params: Float32Array, loss: RatioLossSpec, batches: readonly RatioBatch[], options?: RatioStepOptions) {
    return cudaNreTrainSteps(shape, params, loss, batches, options);
  }

  async nreEmbeddingTrain(): Promise<{ params: Float32Array; embeddingParams: Float32Array; losses: Float64Array }> {
    this.refuse('nre.embedding_train');
  }

  async manifoldFlowLogProb(flow: ManifoldFlow, x: Float64Array): Promise<Float64Array> {
    return cudaManifoldFlowLogProb(flow, x);
  }

  async manifoldFlowSample(flow: ManifoldFlow, n: number, seed: number | bigint, stream: number | bigint = 0) {
    return cudaManifoldFlowSample(flow, n, seed, stream);
  }

  async manifoldFlowTrain(): Promise<{ params: Float64Array; losses: Float64Array }> {
    this.refuse('manifold.flow_train');
  }

  async mdnLogProb(mdn: MDN, y: ArrayInput, context: ArrayInput): Promise<Float32Array> {
    return cudaMdnLogProb(mdn, this.hostArray(y, 'y'), this.hostArray(context, 'context'));
  }

  async mdnSample(mdn: MDN, context: ArrayInput, n: number, seed: number | bigint): Promise<Float32Array> {
    return cudaMdnSample(mdn, this.hostArray(context, 'context'), n, seed);
  }

  async mdnTrain(mdn: MDN, batches: readonly MdnBatch[], options?: MafStepOptions) {
    return cudaMdnTrainSteps(mdn, batches, options);
  }

  async phi4Action(coupling: Phi4Coupling, phi: Float64Array) {
    return cudaPhi4Action(coupling, phi);
  }

  async u1Action(coupling: U1Coupling, theta: Float64Array) {
    return cudaU1Action(coupling, theta);
  }

  async phi4FlowSample(flow: Phi4Flow, options: LatticeFlowSampleOptions) {
    return cudaPhi4FlowSample(flow, options);
  }

  async u1FlowSample(flow: U1Flow, options: LatticeFlowSampleOptions) {
    return cudaU1FlowSample(flow, options);
  }

  async phi4FlowLogProb(flow: Phi4Flow, phi: Float64Array) {
    return cudaPhi4FlowLogProb(flow, phi);
  }

  async u1FlowLogProb(flow: U1Flow, theta: Float64Array) {
    return cudaU1FlowLogProb(flow, theta);
  }

  async phi4FlowTrain(): Promise<LatticeFlowTrainResult> {
    this.refuse('lattice.phi4_flow_train');
  }

  async u1FlowTrain(): Promise<LatticeFlowTrainResult> {
    this.refuse('lattice.u1_flow_train');
  }

  async upload(): Promise<DeviceArray> {
    throw new SbiError('DeviceArrays are not supported on the cuda backend yet: its ops take host arrays', 'UNSUPPORTED_OP');
  }
}

let cudaBackendInstance: CudaBackendImpl | undefined;

/**
 * The CUDA backend, or why there is none: the addon is not built (BACKEND_UNAVAILABLE naming
 * `npm run build:cuda`), or it is built but finds no device (BACKEND_UNAVAILABLE with CUDA's reason).
 */
function openCudaBackend(): CudaBackendImpl {
  if (cudaBackendInstance) return cudaBackendInstance;
  let info: CudaBackend;
  try {
    info = loadCudaBackend();
  } catch (e) {
    throw new SbiError(`--backend cuda: ${(e as Error).message}`, 'BACKEND_UNAVAILABLE');
  }
  if (info.deviceCount < 1) throw new SbiError(`--backend cuda: the CUDA addon is built but ${info.device.error ?? 'no CUDA device was found'}`, 'BACKEND_UNAVAILABLE');
  return (cudaBackendInstance = new CudaBackendImpl(info));
}

function unsupported(op: string, backend: BackendName, reason: string): SbiError {
  return new SbiError(`${op} is not supported on the ${backend} backend: ${reason}`, 'UNSUPPORTED_OP');
}

export const cpuBackend: Backend = new CpuBackend();

const webgpuBackends = new WeakMap<WebGpuContext, WebGpuBackend>();

/** Why `selectBackend('cuda')` would fail here, or null when a CUDA device is usable. */
export function cudaUnavailableReason(): string | null {
  try {
    openCudaBackend();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The backend for `requested`: 'cpu'; 'webgpu' (a GPU adapter, else Mesa's llvmpipe through
 * OpenGL ES; BACKEND_UNAVAILABLE naming the Mesa packages when neither exists); 'cuda'; or
 * 'auto' (the default): cuda if its addon is built and a device exists, else webgpu on a hardware adapter,
 * else cpu — a CPU-emulated WebGPU adapter is never chosen automatically.
 */
export async function selectBackend(requested: BackendRequest = 'auto'): Promise<Backend> {
  switch (requested) {
    case 'cpu':
      return cpuBackend;
    case 'webgpu': {
      const ctx = await openWebGpu();
      let b = webgpuBackends.get(ctx);
      if (!b) webgpuBackends.set(ctx, (b = new WebGpuBackend(ctx)));
      return b;
    }
    case 'cuda':
      return openCudaBackend();
    case 'auto': {
      if (cudaUnavailableReason() === null) return openCudaBackend();
      const ctx = await openWebGpu().catch(() => undefined);
      if (ctx && !ctx.fallback) return selectBackend('webgpu');
      return cpuBackend;
    }
    default:
      throw new RangeError(`Expected one of cpu, webgpu, cuda, auto for \`backend\` but received ${JSON.stringify(requested)}`);
  }
}

/**
 * The backend that runs `op` for `requested`. An explicitly named backend that cannot run it is
 * an UNSUPPORTED_OP error naming the op and the reason, never a silent fallback; with 'auto' the
 * op runs on the CPU instead.
 */
export async function backendForOp(requested: BackendRequest, op: OpName | string): Promise<Backend> {
  const backend = await selectBackend(requested);
  const support: true | { reason: string } = op in OPS ? backend.supportsOp(op as OpName) : { reason: 'not in the op table' };
  if (support === true || (backend.name === 'cpu' && !(op in OPS))) return backend; // the CPU runs every native simulator
  if (backend.name === 'cpu') throw unsupported(op, 'cpu', support.reason);
  if (requested === 'auto') return cpuBackend;
  throw unsupported(op, backend.name, support.reason);
}
