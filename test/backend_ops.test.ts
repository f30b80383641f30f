// The cross-backend agreement harness (issue 6): one table-driven test over every op of the op
// table (src/backend/backend.ts), each available backend against the CPU backend with the op's
// tolerance. An op a backend does not run, or a backend that cannot start here, is reported as
// a skipped case with the reason in its name, never as a pass. In CI (.ci/run installs Mesa) the
// WebGPU backend must start: it runs on llvmpipe there.
import { describe, expect, it } from 'vitest';
import {
  BACKEND_NAMES,
  OPS,
  OP_NAMES,
  backendForOp,
  cpuBackend,
  selectBackend,
  type Backend,
  type BackendName,
  type OpName,
  type OpSpec,
  type Tolerance,
} from '../src/backend/backend.js';
import { SbiError } from '../src/errors.js';
import { getTask, listTasks } from '../src/tasks/index.js';
import { GINKGO_PRESETS, simulateGinkgo } from '../src/trellis/ginkgo.js';
import type { Leaves, TrellisModel } from '../src/trellis/trellis.js';
import { PhiloxStream } from '../src/random/philox.js';
import { EmbeddingNet, mlpParamCount } from '../src/inference/embedding.js';
import { MAF } from '../src/flows/maf.js';
import { drawBatchPairs, initialRatioParams, ratioLogitsPerRow, ratioNetSize, type RatioLossSpec } from '../src/backend/ratio_ops.js';
import { ManifoldFlow, type ManifoldFlowOptions, type ManifoldTarget } from '../src/manifold/flow.js';
import { MDN } from '../src/flows/mdn.js';
import { Phi4Flow } from '../src/lattice/flow.js';
import { U1Flow } from '../src/lattice/u1_flow.js';

const SEED = 0x5eed_0006n;

/** The op's output on `b` for fixed inputs (the same for every backend). */
/** Flows on tori and spheres of the manifold ops: the CLI's defaults (T², S²), T³, S³, the autoregressive torus and the mixtures. */
const MANIFOLD_CASES: Array<[string, ManifoldFlowOptions]> = [
  ['T² spline coupling', { space: 'torus', dim: 2 }],
  ['T³ spline coupling', { space: 'torus', dim: 3, bins: 6 }],
  ['T³ spline autoregressive', { space: 'torus', dim: 3, layers: 2, conditioner: 'autoregressive' }],
  ['T² Möbius ×3', { space: 'torus', dim: 2, circleTransform: 'moebius', components: 3 }],
  ['S² spline', { space: 'sphere', dim: 2, bins: 16 }],
  ['S² NCP ×4', { space: 'sphere', dim: 2, circleTransform: 'ncp' }],
  ['S³ spline', { space: 'sphere', dim: 3, layers: 2 }],
];

/** Flows trained by op manifold.flow_train: every circle transform and conditioner on a native target (T², S², S³). */
const MANIFOLD_TRAIN_CASES: Array<[string, ManifoldFlowOptions, ManifoldTarget, number?]> = [
  ['T² spline coupling', { space: 'torus', dim: 2 }, 'torus-multimodal'],
  ['T² spline autoregressive', { space: 'torus', dim: 2, layers: 2, conditioner: 'autoregressive' }, 'torus-correlated'],
  ['T² Möbius ×3, clip 0.5', { space: 'torus', dim: 2, circleTransform: 'moebius', components: 3 }, 'torus-unimodal', 0.5],
  ['T² NCP ×4', { space: 'torus', dim: 2, circleTransform: 'ncp' }, 'torus-unimodal'],
  ['S² spline', { space: 'sphere', dim: 2, bins: 16 }, 'sphere-vmf4'],
  ['S² NCP ×4, clip 0.5', { space: 'sphere', dim: 2, circleTransform: 'ncp' }, 'sphere-vmf4', 0.5],
  ['S² Möbius ×4', { space: 'sphere', dim: 2, circleTransform: 'moebius' }, 'sphere-vmf4'],
  ['S³ spline', { space: 'sphere', dim: 3, layers: 2 }, 'sphere3-vmf4'],
];

/** A flow of `spec` moved far from its near-identity initialisation (log q up to ~7), the same on every backend. */
function manifoldCaseFlow(spec: ManifoldFlowOptions): ManifoldFlow {
  const flow = new ManifoldFlow(spec, 3);
  const r = new PhiloxStream(SEED, 25n);
  for (let i = 0; i < flow.params.length; i++) flow.params[i]! += 0.1 * r.normal();
  return flow;
}

async function runOp(b: Backend, op: OpName): Promise<Array<{ label: string; values: ArrayLike<number>; rowWidth?: number; period?: number }>> {
  const spec: OpSpec = OPS[op];
  if (op === 'philox.blocks') {
    // across the carry of the block index into its high word; not a whole number of workgroups
    return [{ label: 'blocks', values: await b.philoxBlocks(SEED, 77n, (1n << 32n) - 1000n, 4096 + 13) }];
  }
  if (op === 'sampler.uniform') return [{ label: 'uniform', values: await b.sampleUniform(SEED, 3n, 65_537) }];
  if (op === 'sampler.normal') return [{ label: 'normal', values: await b.sampleNormal(SEED, 3n, 65_538) }];
  if (op === 'trellis.inside' || op === 'trellis.marginals') {
    // W jets of 5 to 11 leaves and Gaussian-linkage points: log Z and MAP energy, or every cluster's marginal
    const { jets } = simulateGinkgo({ n: 6, seed: 11, ...GINKGO_PRESETS.w, minLeaves: 5, maxLeaves: 11 });
    const r = new PhiloxStream(SEED, 9n);
    const points = Float64Array.from({ length: 9 * 4 }, (_, i) => (i % 4 === 3 ? 0 : r.normal()));
    const cases: [string, Leaves, TrellisModel][] = [
      ...jets.map((j, i): [string, Leaves, TrellisModel] => [`W jet ${i} (${j.leaves.length} leaves)`, j.leaves, GINKGO_PRESETS.w.model]),
      ['9 Gaussian points', points, { kind: 'gaussian', sigma: 0.8 }],
    ];
    const out = [];
    for (const [label, leaves, model] of cases) {
      const t = await b.trellis(leaves, model, { marginals: op === 'trellis.marginals' });
      out.push(op === 'trellis.inside' ? { label, values: [t.logZ, t.mapLogLH] } : { label, values: t.marginals! });
    }
    return out;
  }
  if (op === 'nn.mlp_forward' || op === 'nn.mlp_gradients') {
    // every activation; widths and rows that are not multiples of the 16 × 16 tiles
    const out = [];
    for (const activation of ['identity', 'relu', 'tanh', 'elu', 'silu'] as const) {
      const spec = { sizes: [7, 33, 20, 3], activation };
      const n = 257;
      const r = new PhiloxStream(SEED, 21n);
      const f32 = (k: number, scale = 1) => Float32Array.from({ length: k }, () => scale * r.normal());
      const params = f32(mlpParamCount(spec.sizes), 0.3), x = f32(n * 7), dout = f32(n * 3);
      const values = op === 'nn.mlp_forward' ? await b.mlpForward(spec, params, x, n) : await b.mlpGradients(spec, params, x, dout, n);
      out.push({ label: activation, values });
    }
    return out;
  }
  if (op === 'nn.mlp_train') {
    // 10 Adam steps of a classifier (BCE, one logit) and a regressor (MSE, two outputs)
    const out = [];
    for (const loss of ['bce', 'mse'] as const) {
      const outDim = loss === 'bce' ? 1 : 2;
      const spec = { sizes: [5, 24, 24, outDim], activation: 'relu' as const };
      const r = new PhiloxStream(SEED, 22n);
      const f32 = (k: number, scale = 1) => Float32Array.from({ length: k }, () => scale * r.normal());
      const params = f32(mlpParamCount(spec.sizes), 0.3);
      const batches = Array.from({ length: 10 }, () => ({
        x: f32(64 * 5),
        target: loss === 'bce' ? Float32Array.from({ length: 64 }, () => (r.uniform() < 0.5 ? 1 : 0)) : f32(64 * outDim),
      }));
      const t = await b.mlpTrain(spec, params, batches, { loss, adam: { lr: 1e-3 } });
      out.push({ label: `${loss} params`, values: t.params }, { label: `${loss} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'flow.maf_log_prob' || op === 'flow.maf_sample') {
    // autoregressive, coupling and one-pass MADEs, every activation but identity, shared and per-row context
    const out = [];
    const cases = [
      ['affine', 'tanh', 3, 'shared'], ['affine', 'relu', 2, 'per row'], ['affine', 'elu', 1, 'shared'],
      ['rqSpline', 'silu', 3, 'per row'], ['rqSpline', 'relu', 2, 'per row'], ['rqSpline', 'tanh', 3, 'shared'],
    ] as const;
    for (const [kind, activation, passes, context] of cases) {
      const transform = kind === 'affine' ? { kind } : { kind, bins: 8, bound: 3 };
      const maf = new MAF({ dim: 3, contextDim: 2, hidden: 20, hiddenLayers: 2, layers: 3, activation, passes, transform }, { seed: 1, precision: 'float32' });
      const r = new PhiloxStream(SEED, 23n);
      for (let j = 0; j < maf.params.length; j++) if (maf.mask[j]) maf.params[j] = 0.3 * r.normal(); // far from the identity
      const n = 300;
      const x = Float32Array.from({ length: context === 'shared' ? 2 : 2 * n }, () => r.normal());
      const label = `${kind}, ${activation}, ${passes} passes, ${context} context`;
      if (op === 'flow.maf_log_prob') {
        const theta = Float32Array.from({ length: 3 * n }, () => r.normal());
        out.push({ label, values: await b.mafLogProb(maf, theta, x) });
      } else {
        const t = await b.mafSample(maf, x, n, SEED);
        out.push({ label: `${label} θ`, values: t.theta }, { label: `${label} log q`, values: t.logProb });
      }
    }
    return out;
  }
  if (op === 'flow.mdn_log_prob' || op === 'flow.mdn_sample') {
    // 1-D and 3-D y, one and several components, shared and per-row context; weights of scale 0.3
    // spread the mixture far from its near-uniform initialisation
    const out = [];
    const cases = [[1, 1, 'shared'], [1, 4, 'per row'], [3, 5, 'per row'], [3, 10, 'shared']] as const;
    for (const [dim, components, context] of cases) {
      const mdn = new MDN({ dim, contextDim: 2, components, hidden: 20, hiddenLayers: 2 });
      const r = new PhiloxStream(SEED, 25n);
      mdn.params = Float32Array.from({ length: mdn.paramCount }, () => 0.3 * r.normal());
      const n = 300;
      const c = Float32Array.from({ length: context === 'shared' ? 2 : 2 * n }, () => r.normal());
      const label = `D ${dim}, K ${components}, ${context} context`;
      if (op === 'flow.mdn_log_prob') {
        const y = Float32Array.from({ length: dim * n }, () => 1.5 * r.normal());
        out.push({ label, values: await b.mdnLogProb(mdn, y, c) });
      } else {
        out.push({ label: `${label} y`, values: await b.mdnSample(mdn, c, n, SEED), rowWidth: dim });
      }
    }
    return out;
  }
  if (op === 'flow.mdn_train') {
    // 8 Adam steps of 50–57 rows, per-row context; the wide y of the second case makes the
    // gradient norm exceed the clip (5)
    const out = [];
    const cases = [[2, 3, 1], [3, 5, 4], [1, 2, 1]] as const;
    for (const [dim, components, spread] of cases) {
      const mdn = new MDN({ dim, contextDim: 2, components, hidden: 20, hiddenLayers: 2 });
      const r = new PhiloxStream(SEED, 26n);
      mdn.params = Float32Array.from({ length: mdn.paramCount }, () => 0.2 * r.normal());
      const f32 = (k: number, scale = 1) => Float32Array.from({ length: k }, () => scale * r.normal());
      const batches = Array.from({ length: 8 }, (_, i) => ({ y: f32(dim * (50 + i), spread), context: f32(2 * (50 + i)) }));
      const t = await b.mdnTrain(mdn, batches, { learningRate: 1e-3 });
      const label = `D ${dim}, K ${components}, spread ${spread}`;
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'flow.maf_train') {
    // 8 Adam steps of an affine MAF and an NSF, autoregressive and coupling, per-row context; the
    // wide θ of the second and third cases makes the gradient norm exceed the clip (5)
    const out = [];
    const cases = [['affine', 'tanh', 3, 1], ['affine', 'relu', 2, 4], ['rqSpline', 'silu', 3, 2], ['rqSpline', 'relu', 2, 1]] as const;
    for (const [kind, activation, passes, spread] of cases) {
      const transform = kind === 'affine' ? { kind } : { kind, bins: 6, bound: 3 };
      const maf = new MAF({ dim: 3, contextDim: 2, hidden: 20, hiddenLayers: 2, layers: 3, activation, passes, transform }, { seed: 2, precision: 'float32' });
      const r = new PhiloxStream(SEED, 24n);
      for (let j = 0; j < maf.params.length; j++) if (maf.mask[j]) maf.params[j] = 0.3 * r.normal(); // far from the identity
      const f32 = (k: number, scale = 1) => Float32Array.from({ length: k }, () => scale * r.normal());
      const batches = Array.from({ length: 8 }, (_, i) => ({ theta: f32(3 * (50 + i), spread), x: f32(2 * (50 + i)) }));
      const t = await b.mafTrain(maf, batches, { learningRate: 1e-3 });
      const label = `${kind}, ${activation}, ${passes} passes`;
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'flow.maf_embedding_train') {
    // 8 Adam steps of a MAF / NSF whose context is an embedding of a 20- or 12-dim x (NPE's
    // embedding net: ReLU MLP, identity output), from EmbeddingNet's initialisation; two hidden
    // layers, and a single linear layer. The wide θ of the second case makes the gradient norm
    // exceed the clip (5), so the clip scales the flow's and the embedding's gradients together.
    const out = [];
    const cases = [['affine', 'tanh', 3, 1, [20, 30, 30, 4]], ['affine', 'relu', 2, 4, [20, 16, 4]], ['rqSpline', 'relu', 3, 2, [12, 4]]] as const;
    for (const [kind, activation, passes, spread, sizes] of cases) {
      const transform = kind === 'affine' ? { kind } : { kind, bins: 6, bound: 3 };
      const maf = new MAF({ dim: 3, contextDim: 4, hidden: 20, hiddenLayers: 2, layers: 3, activation, passes, transform }, { seed: 2, precision: 'float32' });
      const r = new PhiloxStream(SEED, 27n);
      for (let j = 0; j < maf.params.length; j++) if (maf.mask[j]) maf.params[j] = 0.3 * r.normal(); // far from the identity
      const embedding = EmbeddingNet.init([...sizes], SEED);
      const X = sizes[0];
      const f32 = (k: number, scale = 1) => Float32Array.from({ length: k }, () => scale * r.normal());
      const batches = Array.from({ length: 8 }, (_, i) => ({ theta: f32(3 * (50 + i), spread), x: f32(X * (50 + i)) }));
      const t = await b.mafEmbeddingTrain(maf, embedding, batches, { learningRate: 1e-3 });
      const label = `${kind}, ${activation}, ${passes} passes, embedding [${sizes.join(', ')}]`;
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} embedding params`, values: t.embeddingParams },
        { label: `${label} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'nre.log_ratio') {
    // sbi's classifier (50 hidden, 2 blocks) with weights far from their initialisation; x per row and one x for all rows
    const shape = { thetaDim: 3, xDim: 5, hidden: 50, blocks: 2 };
    const r = new PhiloxStream(SEED, 25n);
    const f64 = (k: number, scale = 1, shift = 0) => Float64Array.from({ length: k }, () => shift + scale * r.normal());
    const params = Float32Array.from({ length: ratioNetSize(shape).paramCount }, () => 0.25 * r.normal());
    const net = { ...shape, params, thetaMean: f64(3), thetaStd: f64(3, 0.2, 1), xMean: f64(5), xStd: f64(5, 0.2, 1) };
    const theta = f64(3 * 1025, 2);
    // with an embedding network [5, 16, 4] of z(x) (the classifier then takes 3 + 4 inputs)
    const eShape = { ...shape, embeddingSizes: [5, 16, 4] };
    const eParams = Float32Array.from({ length: ratioNetSize(eShape).paramCount }, () => 0.25 * r.normal());
    const eNet = { ...net, ...eShape, params: eParams, embeddingParams: Float32Array.from({ length: mlpParamCount([5, 16, 4]) }, () => 0.4 * r.normal()) };
    return [
      { label: 'per-row x', values: await b.nreLogRatio(net, theta, f64(5 * 1025, 2)) },
      { label: 'one x', values: await b.nreLogRatio(net, theta, f64(5, 2)) },
      { label: 'embedded, per-row x', values: await b.nreLogRatio(eNet, theta, f64(5 * 1025, 2)) },
      { label: 'embedded, one x', values: await b.nreLogRatio(eNet, theta, f64(5, 2)) },
    ];
  }
  if (op === 'nre.train') {
    // 8 steps of every loss from the CPU trainer's initialisation, batches of 40–47 rows, the CPU
    // trainer's contrast draws
    const out = [];
    const shape = { thetaDim: 3, xDim: 4, hidden: 20, blocks: 2 };
    for (const variant of ['a', 'b', 'c', 'bnre'] as const) {
      const loss: RatioLossSpec = { variant, classes: variant === 'b' ? 5 : variant === 'c' ? 3 : 2, gamma: 1.5, lambda: 100 };
      const A = ratioLogitsPerRow(loss);
      const r = new PhiloxStream(SEED, 26n);
      const batches = Array.from({ length: 8 }, (_, i) => {
        const nb = 40 + i;
        const pairs = new Int32Array(2 * nb * A);
        drawBatchPairs(r, loss, Int32Array.from({ length: nb }, (_, k) => k), pairs, 0);
        const f32 = (k: number) => Float32Array.from({ length: k }, () => r.normal());
        return { theta: f32(3 * nb), x: f32(4 * nb), pairTheta: Int32Array.from({ length: nb * A }, (_, p) => pairs[2 * p]!) };
      });
      const t = await b.nreTrain(shape, initialRatioParams(shape, SEED), loss, batches, { learningRate: 1e-3 });
      // NRE-B's loss is invariant to a shift of all logits: the parameters that shift them all
      // alike (b_out and the last block's b2, which feed the output linearly) have a gradient of 0
      // up to rounding, which Adam turns into steps of up to lr in a direction rounding picks, on
      // either backend. They are left out of the comparison; no loss or other gradient depends on them.
      const { inDim } = ratioNetSize(shape);
      const H = shape.hidden, b2 = H * (inDim + 1) + (2 * shape.blocks - 1) * H * (H + 1) + H * H;
      const params = variant === 'b' ? Float32Array.from([...t.params.subarray(0, b2), ...t.params.subarray(b2 + H, t.params.length - 1)]) : t.params;
      out.push({ label: `${variant} params${variant === 'b' ? ' (shift-invariant b2, b_out apart)' : ''}`, values: params }, { label: `${variant} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'nre.embedding_train') {
    // 8 steps of every loss with an embedding network [12, 16, 5] of a 12-dim x, batches of 40–47
    // rows. The embedding starts from EmbeddingNet's initialisation, the classifier from the CPU
    // trainer's moved by 0.2·N(0, 1): at the initialisation itself the blocks' second layers are
    // U(±1e-3), the logit is nearly linear in the features, and NRE-B's shift invariance leaves the
    // features' weights a gradient of ~1e-9, below Adam's ε, where Adam turns rounding into steps
    // (measured: W_in[14, 6] at |g| = 9.6e-10 ended 6.1e-5 apart after one step).
    const out = [];
    const shape = { thetaDim: 3, xDim: 12, hidden: 20, blocks: 2, embeddingSizes: [12, 16, 5] };
    for (const variant of ['a', 'b', 'c', 'bnre'] as const) {
      const loss: RatioLossSpec = { variant, classes: variant === 'b' ? 5 : variant === 'c' ? 3 : 2, gamma: 1.5, lambda: 100 };
      const A = ratioLogitsPerRow(loss);
      const r = new PhiloxStream(SEED, 28n);
      const batches = Array.from({ length: 8 }, (_, i) => {
        const nb = 40 + i;
        const pairs = new Int32Array(2 * nb * A);
        drawBatchPairs(r, loss, Int32Array.from({ length: nb }, (_, k) => k), pairs, 0);
        const f32 = (k: number) => Float32Array.from({ length: k }, () => r.normal());
        return { theta: f32(3 * nb), x: f32(12 * nb), pairTheta: Int32Array.from({ length: nb * A }, (_, p) => pairs[2 * p]!) };
      });
      const init = initialRatioParams(shape, SEED);
      for (let j = 0; j < init.length; j++) init[j]! += 0.2 * r.normal();
      const t = await b.nreEmbeddingTrain(shape, init, EmbeddingNet.init(shape.embeddingSizes, SEED).params, loss, batches, { learningRate: 1e-3 });
      // NRE-B's shift-invariant b2 (last block) and b_out are left out, as for nre.train
      const { inDim } = ratioNetSize(shape);
      const H = shape.hidden, b2 = H * (inDim + 1) + (2 * shape.blocks - 1) * H * (H + 1) + H * H;
      const params = variant === 'b' ? Float32Array.from([...t.params.subarray(0, b2), ...t.params.subarray(b2 + H, t.params.length - 1)]) : t.params;
      out.push({ label: `${variant} params${variant === 'b' ? ' (shift-invariant b2, b_out apart)' : ''}`, values: params },
        { label: `${variant} embedding params`, values: t.embeddingParams }, { label: `${variant} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'manifold.flow_log_prob' || op === 'manifold.flow_sample') {
    // 261 rows (not a whole number of workgroups; llvmpipe takes ~0.3 ms a row); log q at uniform points plus the seam
    // (angles 0 and just below 2π) or the poles; draws on stream 2^33 + 5. Angles are compared
    // on the circle (period 2π).
    const out = [];
    const n = 261;
    for (const [label, spec] of MANIFOLD_CASES) {
      const flow = manifoldCaseFlow(spec);
      const W = flow.outputWidth, torus = spec.space === 'torus';
      if (op === 'manifold.flow_sample') {
        const t = await b.manifoldFlowSample(flow, n, SEED, (1n << 33n) + 5n);
        out.push({ label: `${label} points`, values: t.x, ...(torus ? { period: 2 * Math.PI } : {}) }, { label: `${label} log q`, values: t.logProb });
        continue;
      }
      const r = new PhiloxStream(SEED, 26n);
      const x = new Float64Array(n * W);
      for (let i = 0; i < n; i++) {
        if (torus) {
          for (let d = 0; d < W; d++) x[i * W + d] = i < 2 ? [0, 2 * Math.PI - 1e-9][i]! : 2 * Math.PI * r.uniform();
          continue;
        }
        const g = Array.from({ length: W }, (_, d) => (i < 2 ? (d === W - 1 ? 1 - 2 * i : 0) : r.normal()));
        const norm = Math.hypot(...g);
        for (let d = 0; d < W; d++) x[i * W + d] = g[d]! / norm;
      }
      out.push({ label: `${label} log q`, values: await b.manifoldFlowLogProb(flow, x) });
    }
    return out;
  }
  if (op === 'manifold.flow_train') {
    // 6 reverse-KL steps of 67 draws (not a whole number of workgroups) from the moved flows, lr 1e-3; the
    // final parameters and every step's loss
    const out = [];
    for (const [label, spec, target, clipMaxNorm] of MANIFOLD_TRAIN_CASES) {
      const t = await b.manifoldFlowTrain(manifoldCaseFlow(spec), { target, steps: 6, batchSize: 67, seed: SEED, ...(clipMaxNorm ? { clipMaxNorm } : {}) });
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} losses`, values: t.losses });
    }
    return out;
  }
  if (op === 'lattice.phi4_action' || op === 'lattice.u1_action') {
    // L = 8, an odd L and a larger one, several configurations each, two couplings; f32 inputs
    // (WebGPU rounds its inputs to f32); U(1) angles in [−π, π) and unreduced ones up to ±3π
    const out = [];
    for (const [L, n] of [[8, 16], [5, 7], [12, 5]] as const) {
      const r = new PhiloxStream(SEED, 25n);
      if (op === 'lattice.phi4_action') {
        const phi = Float64Array.from(Float32Array.from({ length: n * L * L }, () => 1.5 * r.normal()));
        for (const c of [{ L, m2: -4, lambda: 8 }, { L, m2: 0.5, lambda: 0.1 }]) {
          const v = await b.phi4Action(c, phi);
          const label = `L ${L}, m2 ${c.m2}, lambda ${c.lambda}`;
          out.push({ label: `${label} S`, values: v.action, rowWidth: 1 }, { label: `${label} dS/dphi`, values: v.grad, rowWidth: L * L });
        }
      } else {
        for (const [beta, spread] of [[2, 1], [0.7, 3]] as const) {
          const theta = Float64Array.from(Float32Array.from({ length: n * 2 * L * L }, () => spread * Math.PI * (2 * r.uniform() - 1)));
          const v = await b.u1Action({ L, beta }, theta);
          const label = `L ${L}, beta ${beta}, |theta| < ${spread}π`;
          out.push({ label: `${label} S`, values: v.action, rowWidth: 1 }, { label: `${label} dS/dtheta`, values: v.grad, rowWidth: 2 * L * L },
            { label: `${label} Q`, values: v.charge, rowWidth: 1 });
        }
      }
    }
    return out;
  }
  if (op === 'lattice.phi4_flow_sample') {
    // the tutorial's architecture at L = 8, an odd L with a 5×5 kernel, and a net of one conv;
    // parameters: torch's initialisation moved by 0.1·N(0, 1) (far from any special point); the
    // Z2-symmetrised proposal (inverse pass of −φ, log q_s, the sign flip) at L = 8 and L = 7
    const out = [];
    const cases = [
      [8, 24, {}, false], [7, 9, { layers: 4, hidden: 4, depth: 1, kernel: 5 }, false], [6, 10, { layers: 3, hidden: 2, depth: 0, kernel: 3 }, false],
      [8, 16, {}, true], [7, 9, { layers: 4, hidden: 4, depth: 1, kernel: 5 }, true],
    ] as const;
    for (const [L, n, architecture, symmetric] of cases) {
      const flow = Phi4Flow.init({ L, m2: -4, lambda: 8 }, architecture, 3);
      const r = new PhiloxStream(SEED, 26n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const d = await b.phi4FlowSample(flow, { n, seed: SEED, offset: 5, symmetric });
      const label = `L ${L}, ${JSON.stringify(flow.architecture)}${symmetric ? ', symmetric' : ''}`;
      out.push({ label: `${label} phi`, values: d.phi!, rowWidth: L * L }, { label: `${label} log q`, values: d.logq, rowWidth: 1 },
        { label: `${label} S`, values: d.action, rowWidth: 1 }, { label: `${label} M`, values: d.magnetization, rowWidth: 1 });
    }
    return out;
  }
  if (op === 'lattice.u1_flow_sample') {
    // the tutorial's architecture at L = 8 and a small net at L = 4 (5×5 kernel, 3 NCP components);
    // parameters: torch's initialisation moved by 0.1·N(0, 1). The links are angles in [0, 2π),
    // compared on the circle: as cos θ' and sin θ'.
    const out = [];
    const cases = [[8, 12, {}], [4, 9, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 }]] as const;
    for (const [L, n, architecture] of cases) {
      const flow = U1Flow.init({ L, beta: 2 }, architecture, 3);
      const r = new PhiloxStream(SEED, 27n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const d = await b.u1FlowSample(flow, { n, seed: SEED, offset: 5 });
      const label = `L ${L}, ${JSON.stringify(flow.architecture)}`;
      out.push({ label: `${label} cos theta'`, values: d.theta!.map(Math.cos), rowWidth: 2 * L * L },
        { label: `${label} sin theta'`, values: d.theta!.map(Math.sin), rowWidth: 2 * L * L },
        { label: `${label} log q`, values: d.logq, rowWidth: 1 }, { label: `${label} S`, values: d.action, rowWidth: 1 },
        { label: `${label} Q`, values: d.charge, rowWidth: 1 });
    }
    return out;
  }
  if (op === 'lattice.phi4_flow_log_prob') {
    // the sampler's flows (torch's initialisation moved by 0.1·N(0, 1)); configurations: the flow's
    // own draws f(z) (the CPU's forward pass of Philox normals) and 1.5·N(0, 1) fields, rounded to f32
    const out = [];
    const cases = [[8, 24, {}], [7, 9, { layers: 4, hidden: 4, depth: 1, kernel: 5 }], [6, 10, { layers: 3, hidden: 2, depth: 0, kernel: 3 }]] as const;
    for (const [L, n, architecture] of cases) {
      const flow = Phi4Flow.init({ L, m2: -4, lambda: 8 }, architecture, 3);
      const r = new PhiloxStream(SEED, 28n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const V = L * L;
      const drawn = flow.forward(Float64Array.from({ length: n * V }, () => r.normal())).phi;
      const phi = Float64Array.from(Float32Array.from([...drawn, ...Array.from({ length: n * V }, () => 1.5 * r.normal())]));
      const d = await b.phi4FlowLogProb(flow, phi);
      const label = `L ${L}, ${JSON.stringify(flow.architecture)}`;
      out.push({ label: `${label} z`, values: d.z, rowWidth: V }, { label: `${label} log q`, values: d.logq, rowWidth: 1 });
    }
    return out;
  }
  if (op === 'lattice.phi4_flow_train') {
    // 3–4 Adam steps (lr 1e-3) from the sampler's flows (torch's initialisation moved by
    // 0.1·N(0, 1)): depth 1 and 0 nets, a 5×5 kernel, an odd L, the tutorial's architecture;
    // the draws of the CPU trainer (stream t·2³² + b of the seed)
    const out = [];
    const cases = [
      [6, 8, 3, { layers: 2, hidden: 4, depth: 1, kernel: 3 }], [7, 12, 4, { layers: 4, hidden: 4, depth: 1, kernel: 5 }],
      [6, 9, 4, { layers: 3, hidden: 2, depth: 0, kernel: 3 }], [8, 16, 3, {}],
    ] as const;
    for (const [L, batch, steps, architecture] of cases) {
      const flow = Phi4Flow.init({ L, m2: -4, lambda: 8 }, architecture, 3);
      const r = new PhiloxStream(SEED, 30n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const t = await b.phi4FlowTrain(flow, { steps, batch, learningRate: 1e-3, seed: SEED });
      const label = `L ${L}, batch ${batch}, ${JSON.stringify(flow.architecture)}`;
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} losses`, values: t.loss });
    }
    return out;
  }
  if (op === 'lattice.u1_flow_train') {
    // 3–4 Adam steps (lr 1e-3) from moved initialisations: depth 1 and 0 nets, 5×5 kernels, 1–3
    // NCP components, L = 4 and 8 (the tutorial's architecture); the CPU trainer's Haar draws
    const out = [];
    const cases = [
      [4, 8, 4, { layers: 2, hidden: 4, depth: 1, kernel: 3, components: 2 }], [4, 6, 3, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 }],
      [8, 5, 4, { layers: 3, hidden: 3, depth: 0, components: 1 }], [8, 8, 3, {}],
    ] as const;
    for (const [L, batch, steps, architecture] of cases) {
      const flow = U1Flow.init({ L, beta: 2 }, architecture, 3);
      const r = new PhiloxStream(SEED, 31n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const t = await b.u1FlowTrain(flow, { steps, batch, learningRate: 1e-3, seed: SEED });
      const label = `L ${L}, batch ${batch}, ${JSON.stringify(flow.architecture)}`;
      out.push({ label: `${label} params`, values: t.params }, { label: `${label} losses`, values: t.loss });
    }
    return out;
  }
  if (op === 'lattice.u1_flow_log_prob') {
    // the sampler's flows; configurations: the flow's own draws f(θ) (the CPU's forward pass of
    // Philox uniform links) and uniform links in [0, 2π), rounded to f32. The base links are
    // compared on the circle (period 2π).
    const out = [];
    const cases = [[8, 12, {}], [4, 9, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 }]] as const;
    for (const [L, n, architecture] of cases) {
      const flow = U1Flow.init({ L, beta: 2 }, architecture, 3);
      const r = new PhiloxStream(SEED, 29n);
      for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
      const links = () => Float64Array.from({ length: n * 2 * L * L }, () => 2 * Math.PI * r.uniform());
      const theta = Float64Array.from(Float32Array.from([...flow.forward(links()).theta, ...links()]));
      const d = await b.u1FlowLogProb(flow, theta);
      const label = `L ${L}, ${JSON.stringify(flow.architecture)}`;
      out.push({ label: `${label} z`, values: d.z, rowWidth: 2 * L * L, period: 2 * Math.PI }, { label: `${label} log q`, values: d.logq, rowWidth: 1 });
    }
    return out;
  }
  // simulate.*: θ from the prior of every task that uses the simulator (gaussian_linear serves two)
  const sim = spec.simulator!;
  const out = [];
  for (const def of listTasks().filter((t) => t.simulator === sim)) {
    const theta = getTask(def.name).prior.sample(4099, { seed: 12345 });
    // design variables: the task's defaults and, off them, 0.8 times the defaults
    const defaults = def.design.map((d) => d.default);
    const designs = defaults.length > 0 ? [Float64Array.from(defaults), Float64Array.from(defaults, (v) => 0.8 * v)] : [undefined];
    for (const design of designs) {
      const r = await b.simulate(sim, theta, { seed: SEED, streamOffset: 1n << 33n, ...(design ? { design } : {}) });
      const label = design ? `${def.name} (design ${Array.from(design).join(', ')})` : def.name;
      out.push({ label: `${label} x`, values: r.x, rowWidth: r.x.length / r.failed.length }, { label: `${label} failed`, values: r.failed });
    }
  }
  return out;
}

/**
 * Elements outside atol + rtol·|cpu| (+ rowRtol·max|cpu row|), the largest error, and where; with
 * `rowWidth`, also the rows that hold such an element (a tolerance's discordantRows allows a
 * fraction of them).
 */
function compare(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, rowWidth = 1, period?: number) {
  let bad = 0, maxErr = 0, firstBad = -1, badRows = 0;
  for (let row = 0; row * rowWidth < want.length; row++) {
    let rowScale = 0;
    for (let i = row * rowWidth; i < (row + 1) * rowWidth; i++) rowScale = Math.max(rowScale, Math.abs(want[i]!));
    const rowBound = tol.atol + (tol.rowRtol ?? 0) * rowScale;
    let rowBad = false;
    for (let i = row * rowWidth; i < (row + 1) * rowWidth; i++) {
      const g = got[i]!, w = want[i]!;
      const same = Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w));
      // with a period (angles): the distance on the circle, so 2π − ε and ε are 2ε apart
      const err = same ? 0 : period === undefined ? Math.abs(g - w) : Math.min(Math.abs(g - w) % period, period - (Math.abs(g - w) % period));
      if (!same && !(err <= rowBound + tol.rtol * Math.abs(w))) {
        bad++;
        rowBad = true;
        if (firstBad < 0) firstBad = i;
      }
      if (err > maxErr) maxErr = err;
    }
    if (rowBad) badRows++;
  }
  return { bad, maxErr, firstBad, badRows };
}

const others = BACKEND_NAMES.filter((n): n is Exclude<BackendName, 'cpu'> => n !== 'cpu');
const opened = new Map<BackendName, Backend | string>();
for (const name of others) {
  opened.set(name, await selectBackend(name).catch((e: Error) => e.message));
}

for (const name of others) {
  const b = opened.get(name)!;
  const title = typeof b === 'string' ? `${name} vs cpu — backend unavailable: ${b}` : `${name} (${b.device}) vs cpu`;
  describe(title, () => {
    for (const op of OP_NAMES) {
      const spec: OpSpec = OPS[op];
      const cpu = cpuBackend.supportsOp(op);
      if (cpu !== true) {
        it.skip(`${op}: not on the cpu reference — ${cpu.reason}`, () => {});
        continue;
      }
      if (typeof b === 'string') {
        it.skip(`${op}: ${name} unavailable`, () => {});
        continue;
      }
      const support = b.supportsOp(op);
      if (support !== true) {
        it.skip(`${op}: not supported on ${name} — ${support.reason}`, () => {});
        continue;
      }
      const tol = spec.tolerance;
      if (!tol) throw new Error(`${op} runs on ${name} but has no tolerance in the op table`);
      const extras = [tol.rowRtol ? `rowRtol ${tol.rowRtol}` : '', tol.discordantRows ? `rows apart ≤ ${tol.discordantRows}` : ''].filter(Boolean).join(', ');
      it(`${op} agrees with cpu within atol ${tol.atol}, rtol ${tol.rtol}${extras ? ` (${extras})` : ''}`, async () => {
        const [got, want] = [await runOp(b, op), await runOp(cpuBackend, op)];
        expect(got.map((g) => g.label)).toEqual(want.map((w) => w.label));
        for (let k = 0; k < want.length; k++) {
          expect(got[k]!.values.length, want[k]!.label).toBe(want[k]!.values.length);
          const label = want[k]!.label;
          // failed flags are integers: exact
          const c = compare(got[k]!.values, want[k]!.values, label.endsWith('failed') ? { atol: 0, rtol: 0 } : tol, want[k]!.rowWidth, want[k]!.period);
          const rowWidth = want[k]!.rowWidth;
          if (tol.discordantRows !== undefined && rowWidth !== undefined) {
            const rows = want[k]!.values.length / rowWidth;
            const allowed = Math.floor(tol.discordantRows * rows);
            expect(c.badRows, `${label}: ${c.badRows} of ${rows} rows outside tolerance (allowed: ${allowed}; first element at ${c.firstBad})`).toBeLessThanOrEqual(allowed);
          } else {
            expect(c.bad, `${label}: ${c.bad} of ${want[k]!.values.length} outside tolerance (first at ${c.firstBad}); max error ${c.maxErr}`).toBe(0);
          }
        }
      });
    }
  });
}

describe('the op table and backend selection', () => {
  it('has an op for every native simulator', async () => {
    const { native } = await import('../src/native.js');
    for (const s of native.simulators()) expect(OP_NAMES, s.name).toContain(`simulate.${s.name}`);
  });

  it('the CPU runs every op (it is the reference)', () => {
    for (const op of OP_NAMES) expect(cpuBackend.supportsOp(op), op).toBe(true);
  });

  it('an explicitly named backend that lacks an op is an UNSUPPORTED_OP error naming the op and the reason; auto falls back', async () => {
    const webgpu = opened.get('webgpu');
    if (typeof webgpu === 'string') {
      await expect(backendForOp('webgpu', 'simulate.weinberg')).rejects.toThrow(/webgpu|Mesa|adapter/);
      return;
    }
    const err = await backendForOp('webgpu', 'flow.sample').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SbiError);
    expect((err as SbiError).code).toBe('UNSUPPORTED_OP');
    expect((err as SbiError).message).toMatch(/flow\.sample is not supported on the webgpu backend: not in the op table/);
    expect((await backendForOp('auto', 'flow.sample')).name).toBe('cpu');
    expect((await backendForOp('webgpu', 'simulate.two_moons')).name).toBe('webgpu');
  });

  it('cuda says why it is unavailable; bad names are rejected by name', async () => {
    await expect(selectBackend('cuda')).rejects.toThrow(/cuda/i);
    await expect(selectBackend('metal' as BackendName)).rejects.toThrow(/`backend`/);
  });

  it('auto never picks a CPU-emulated WebGPU adapter', async () => {
    const webgpu = opened.get('webgpu');
    const auto = await selectBackend('auto');
    if (webgpu !== undefined && typeof webgpu !== 'string' && webgpu.device.includes('no GPU')) expect(auto.name).toBe('cpu');
    expect(['cpu', 'webgpu']).toContain(auto.name);
  });

  it('in CI the WebGPU backend must start (llvmpipe)', () => {
    const webgpu = opened.get('webgpu');
    if (process.env.CI && typeof webgpu === 'string') throw new Error(`CI: no WebGPU backend (${webgpu})`);
    expect(webgpu).toBeDefined();
  });
});
