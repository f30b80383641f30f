/**
 * Throughput per op and backend (issue 6): Philox blocks/s, samples/s, simulations/s for every op
 * each available backend runs (simulators, trellis splits/s, MLP evaluation and training rows/s, MAF and MDN densities, samples and training rows/s, NRE log-ratios and training rows/s, manifold-flow densities and samples/s, lattice actions, flow draws, densities and training configurations/s), with the ratio to the CPU backend measured in the same run. A
 * WebGPU figure is end to end per call (θ upload, dispatch, read-back), like the API's use of it.
 * Prints a table, writes bench/results/backends.json and the table into bench/README.md.
 *
 *   npm run bench:backends [-- --quick] [-- --op <op>]
 *
 * --op runs one op of the table (printed only: results and README keep the full run's figures).
 *
 * Where there is no GPU the WebGPU backend runs on Mesa's llvmpipe (the CPU): those figures
 * say nothing about a GPU.
 */
import { BACKEND_NAMES, OPS, OP_NAMES, cpuBackend, selectBackend, type Backend, type OpName, type OpSpec } from '../src/backend/backend.js';
import { closeWebGpu } from '../src/backend/webgpu.js';
import { runtimeInfo } from '../src/runtime.js';
import { getTask, listTasks } from '../src/tasks/index.js';
import { GINKGO_PRESETS, simulateGinkgo } from '../src/trellis/ginkgo.js';
import { EmbeddingNet, mlpParamCount } from '../src/inference/embedding.js';
import { MAF } from '../src/flows/maf.js';
import { PhiloxStream } from '../src/random/philox.js';
import { drawBatchPairs, initialRatioParams, type RatioLossSpec } from '../src/backend/ratio_ops.js';
import { ManifoldFlow } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';
import { MDN } from '../src/flows/mdn.js';
import { Phi4Flow } from '../src/lattice/flow.js';
import { U1Flow } from '../src/lattice/u1_flow.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const quick = process.argv.includes('--quick');
const opIndex = process.argv.indexOf('--op');
const onlyOp = opIndex >= 0 ? process.argv[opIndex + 1] : undefined;
if (onlyOp !== undefined && !(OP_NAMES as readonly string[]).includes(onlyOp)) throw new RangeError(`--op: expected one of ${OP_NAMES.join(', ')} but received ${onlyOp}`);
const TRELLIS_LEAVES = quick ? 10 : 13;
const trellisJet = simulateGinkgo({ n: 1, seed: 3, ...GINKGO_PRESETS.w, minLeaves: TRELLIS_LEAVES, maxLeaves: TRELLIS_LEAVES }).jets[0]!;
const ROWS = quick ? 1 << 16 : 1 << 19;
const REPEATS = quick ? 2 : 3;

// Simulators that cost 10-100× more per row (ODE solves, 100 draws or a 92×92 product per row)
// run 1/8 of the rows, so that the whole benchmark stays within minutes on llvmpipe.
const HEAVY = new Set(['sir', 'lotka_volterra', 'slcp_distractors', 'bernoulli_glm', 'bernoulli_glm_raw']);

interface Case {
  unit: string;
  items: number;
  run: (b: Backend) => Promise<unknown>;
}

function caseOf(op: OpName): Case {
  if (op === 'philox.blocks') return { unit: 'Philox blocks/s', items: ROWS * 4, run: (b) => b.philoxBlocks(1, 0, 0n, ROWS * 4) };
  if (op === 'sampler.uniform') return { unit: 'uniforms/s', items: 1 << 20, run: (b) => b.sampleUniform(1, 0, 1 << 20) };
  if (op === 'sampler.normal') return { unit: 'normals/s', items: 1 << 20, run: (b) => b.sampleNormal(1, 0, 1 << 20) };
  if (op === 'trellis.inside' || op === 'trellis.marginals') {
    // one W jet of TRELLIS_LEAVES leaves; unit: (set, split) pairs of the pass, (3^N − 2^(N+1) + 1) / 2
    const leaves = trellisJet.leaves;
    const splits = (3 ** leaves.length - 2 ** (leaves.length + 1) + 1) / 2;
    const marginals = op === 'trellis.marginals';
    return { unit: 'splits/s', items: marginals ? 2 * splits : splits, run: (b) => b.trellis(leaves, GINKGO_PRESETS.w.model, { marginals }) };
  }
  if (op.startsWith('nn.')) {
    // the C2ST classifier of a 10-D task: widths 10 → 100 → 100 → 1, ReLU; batches of 200
    const spec = { sizes: [10, 100, 100, 1], activation: 'relu' as const };
    const n = quick ? 1 << 12 : 1 << 15;
    const params = Float32Array.from({ length: mlpParamCount(spec.sizes) }, (_, i) => Math.sin(i) * 0.1);
    const x = Float32Array.from({ length: n * 10 }, (_, i) => Math.cos(i));
    if (op === 'nn.mlp_forward') return { unit: 'rows/s', items: n, run: (b) => b.mlpForward(spec, params, x, n) };
    if (op === 'nn.mlp_gradients') return { unit: 'rows/s', items: n, run: (b) => b.mlpGradients(spec, params, x, new Float32Array(n).fill(1), n) };
    const batches = Array.from({ length: n / 200 | 0 }, (_, k) => ({
      x: x.subarray(k * 2000, (k + 1) * 2000),
      target: Float32Array.from({ length: 200 }, (_, i) => (i + k) % 2),
    }));
    return { unit: 'training samples/s', items: batches.length * 200, run: (b) => b.mlpTrain(spec, params, batches, { loss: 'bce', adam: { lr: 1e-3 } }) };
  }
  if (op.startsWith('flow.mdn_')) {
    // sbi's default MDN for two_moons: θ 2-D given x 2-D, 10 components, 2 hidden layers of 50 (ReLU)
    const mdn = new MDN({ dim: 2, contextDim: 2, components: 10, hidden: 50, hiddenLayers: 2 });
    mdn.params = Float32Array.from({ length: mdn.paramCount }, (_, i) => Math.sin(i) * 0.1);
    const n = quick ? 1 << 12 : 1 << 15;
    const c = Float32Array.of(0.1, -0.2);
    if (op === 'flow.mdn_sample') return { unit: 'samples/s', items: n, run: (b) => b.mdnSample(mdn, c, n, 5) };
    if (op === 'flow.mdn_train') {
      // training steps on batches of 200 rows (per-row context), as the MDN trainer takes them
      const rows = quick ? 1 << 11 : 1 << 13;
      const batches = Array.from({ length: rows / 200 | 0 }, (_, k) => ({
        y: Float32Array.from({ length: 400 }, (_, i) => Math.sin(i + 400 * k)),
        context: Float32Array.from({ length: 400 }, (_, i) => Math.cos(i + 400 * k)),
      }));
      return { unit: 'training samples/s', items: batches.length * 200, run: (b) => b.mdnTrain(mdn, batches) };
    }
    const y = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i));
    return { unit: 'densities/s', items: n, run: (b) => b.mdnLogProb(mdn, y, c) };
  }
  if (op === 'flow.maf_embedding_train') {
    // NPE with an embedding network for slcp_distractors' 100-dim x: [100, 64, 64, 10] into a MAF
    // of 5 layers (2 × 50 tanh) on θ 5-D; training steps on batches of 200 rows
    const maf = new MAF({ dim: 5, contextDim: 10, hidden: 50, hiddenLayers: 2, layers: 5, activation: 'tanh' }, { seed: 1, precision: 'float32' });
    const embedding = EmbeddingNet.init([100, 64, 64, 10], 1n);
    const rows = quick ? 1 << 10 : 1 << 12;
    const batches = Array.from({ length: rows / 200 | 0 }, (_, k) => ({
      theta: Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i + 1000 * k)),
      x: Float32Array.from({ length: 20_000 }, (_, i) => Math.cos(i + 20_000 * k)),
    }));
    return { unit: 'training samples/s', items: batches.length * 200, run: (b) => b.mafEmbeddingTrain(maf, embedding, batches) };
  }
  if (op.startsWith('flow.')) {
    // sbi's default MAF for two_moons: θ 2-D, x 2-D, 5 layers of MADEs with 2 hidden layers of 50
    const maf = new MAF({ dim: 2, contextDim: 2, hidden: 50, hiddenLayers: 2, layers: 5, activation: 'tanh' }, { seed: 1, precision: 'float32' });
    const n = quick ? 1 << 12 : 1 << 15;
    const x = Float32Array.of(0.1, -0.2);
    if (op === 'flow.maf_sample') return { unit: 'samples/s', items: n, run: (b) => b.mafSample(maf, x, n, 5) };
    if (op === 'flow.maf_train') {
      // training steps on batches of 200 rows (per-row context), as NPE's trainer takes them
      const rows = quick ? 1 << 11 : 1 << 13;
      const batches = Array.from({ length: rows / 200 | 0 }, (_, k) => ({
        theta: Float32Array.from({ length: 400 }, (_, i) => Math.sin(i + 400 * k)),
        x: Float32Array.from({ length: 400 }, (_, i) => Math.cos(i + 400 * k)),
      }));
      return { unit: 'training samples/s', items: batches.length * 200, run: (b) => b.mafTrain(maf, batches) };
    }
    const theta = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i));
    return { unit: 'densities/s', items: n, run: (b) => b.mafLogProb(maf, theta, x) };
  }
  if (op.startsWith('nre.')) {
    // sbi's NRE classifier for a 10-D task (gaussian_linear): 50 hidden, 2 residual blocks, ReLU
    const shape = { thetaDim: 10, xDim: 10, hidden: 50, blocks: 2 };
    const r = new PhiloxStream(1, 0);
    if (op === 'nre.log_ratio') {
      // the MCMC potential's call: θ rows at one observation
      const n = quick ? 1 << 12 : 1 << 15;
      const net = {
        ...shape, params: initialRatioParams(shape, 1), thetaMean: new Float64Array(10), thetaStd: new Float64Array(10).fill(1),
        xMean: new Float64Array(10), xStd: new Float64Array(10).fill(1),
      };
      const theta = Float64Array.from({ length: 10 * n }, () => r.normal());
      const x = Float64Array.from({ length: 10 }, () => r.normal());
      return { unit: 'pairs/s', items: n, run: (b) => b.nreLogRatio(net, theta, x) };
    }
    // NRE-B training steps (10 atoms: 2 000 pairs per batch of 200 rows), as NRE's trainer takes them
    const loss: RatioLossSpec = { variant: 'b', classes: 10, gamma: 1, lambda: 100 };
    const rows = quick ? 1000 : 4000;
    const batches = Array.from({ length: rows / 200 }, () => {
      const pairs = new Int32Array(2 * 200 * 10);
      drawBatchPairs(r, loss, Int32Array.from({ length: 200 }, (_, i) => i), pairs, 0);
      return {
        theta: Float32Array.from({ length: 2000 }, () => r.normal()), x: Float32Array.from({ length: 2000 }, () => r.normal()),
        pairTheta: Int32Array.from({ length: 2000 }, (_, p) => pairs[2 * p]!),
      };
    });
    if (op === 'nre.embedding_train') {
      // the same steps with an embedding network [10, 64, 10] of x trained jointly
      const eShape = { ...shape, embeddingSizes: [10, 64, 10] };
      const eParams = EmbeddingNet.init(eShape.embeddingSizes, 3n).params;
      return { unit: 'training rows/s', items: rows, run: (b) => b.nreEmbeddingTrain(eShape, initialRatioParams(eShape, 2), eParams, loss, batches) };
    }
    return { unit: 'training rows/s', items: rows, run: (b) => b.nreTrain(shape, initialRatioParams(shape, 2), loss, batches) };
  }
  if (op.startsWith('manifold.')) {
    // the CLI's S² flow (sphere-vmf4's architecture: 4 circle layers of 16 bins, 2 × 32 tanh), at its initialisation
    const flow = new ManifoldFlow(TARGETS['sphere-vmf4']!.spec, 1);
    const n = quick ? 1 << 12 : 1 << 15;
    if (op === 'manifold.flow_train') {
      // reverse-KL steps of 256 draws to sphere-vmf4 (the CLI's batch)
      const steps = quick ? 8 : 32;
      return { unit: 'training draws/s', items: steps * 256, run: (b) => b.manifoldFlowTrain(flow, { target: 'sphere-vmf4', steps, batchSize: 256, seed: 1 }) };
    }
    if (op === 'manifold.flow_sample') return { unit: 'samples/s', items: n, run: (b) => b.manifoldFlowSample(flow, n, 5) };
    const points = flow.sample(n, 6).x;
    return { unit: 'densities/s', items: n, run: (b) => b.manifoldFlowLogProb(flow, points) };
  }
  if (op.startsWith('lattice.')) {
    // actions: 2^12 configurations at L = 16; flow: the tutorial's architecture (16 layers, [8, 8],
    // 3×3) at L = 8, torch's initialisation (the cost does not depend on the parameters)
    const n = quick ? 1 << 10 : 1 << 12;
    const field = Float64Array.from({ length: 2 * n * 256 }, (_, i) => Math.sin(0.37 * i));
    if (op === 'lattice.phi4_action') return { unit: 'configurations/s', items: n, run: (b) => b.phi4Action({ L: 16, m2: -4, lambda: 8 }, field.subarray(0, n * 256)) };
    if (op === 'lattice.u1_action') return { unit: 'configurations/s', items: n, run: (b) => b.u1Action({ L: 16, beta: 2 }, field) };
    const draws = quick ? 128 : 512;
    // log q: the flow's own draws; training: 2 steps of 64 configurations
    const train = { steps: 2, batch: 64, learningRate: 1e-3, seed: 2 };
    if (op.startsWith('lattice.u1_flow')) {
      const u1 = U1Flow.init({ L: 8, beta: 2 }, {}, 1);
      if (op === 'lattice.u1_flow_train') return { unit: 'training configurations/s', items: train.steps * train.batch, run: (b) => b.u1FlowTrain(u1, train) };
      if (op === 'lattice.u1_flow_log_prob') {
        const theta = u1.forward(Float64Array.from({ length: draws * 128 }, (_, i) => (2.3 * i) % (2 * Math.PI))).theta;
        return { unit: 'densities/s', items: draws, run: (b) => b.u1FlowLogProb(u1, theta) };
      }
      return { unit: 'draws/s', items: draws, run: (b) => b.u1FlowSample(u1, { n: draws, seed: 2, keepPhi: false }) };
    }
    const flow = Phi4Flow.init({ L: 8, m2: -4, lambda: 8 }, {}, 1);
    if (op === 'lattice.phi4_flow_train') return { unit: 'training configurations/s', items: train.steps * train.batch, run: (b) => b.phi4FlowTrain(flow, train) };
    if (op === 'lattice.phi4_flow_log_prob') {
      const phi = flow.forward(Float64Array.from({ length: draws * 64 }, (_, i) => Math.sin(0.37 * i))).phi;
      return { unit: 'densities/s', items: draws, run: (b) => b.phi4FlowLogProb(flow, phi) };
    }
    return { unit: 'draws/s', items: draws, run: (b) => b.phi4FlowSample(flow, { n: draws, seed: 2, keepPhi: false }) };
  }
  const sim = (OPS[op] as OpSpec).simulator!;
  const task = listTasks().find((t) => t.simulator === sim)!;
  const rows = HEAVY.has(sim) ? ROWS / 8 : ROWS;
  const theta = getTask(task.name).prior.sample(rows, { seed: 1 });
  const design = task.design.length > 0 ? Float64Array.from(task.design, (d) => d.default) : undefined;
  return { unit: 'simulations/s', items: rows, run: (b) => b.simulate(sim, theta, { seed: 2, ...(design ? { design } : {}) }) };
}

async function rate(b: Backend, c: Case): Promise<number> {
  await c.run(b); // warm-up: pipeline compilation, buffer pool
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    await c.run(b);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return c.items / best;
}

const backends: Backend[] = [cpuBackend];
const unavailable: Record<string, string> = {};
for (const name of BACKEND_NAMES.filter((n) => n !== 'cpu')) {
  try {
    backends.push(await selectBackend(name));
  } catch (e) {
    unavailable[name] = (e as Error).message;
  }
}

const rows: Array<{ op: OpName; unit: string; items: number; rates: Record<string, number | string>; ratioToCpu: Record<string, number> }> = [];
for (const op of OP_NAMES.filter((o) => onlyOp === undefined || o === onlyOp)) {
  const others = backends.filter((b) => b.name !== 'cpu' && b.supportsOp(op) === true);
  if (others.length === 0) continue; // nothing to compare: the CPU figures are in bench:simulators
  const c = caseOf(op);
  const cpu = await rate(cpuBackend, c);
  const rates: Record<string, number | string> = { cpu };
  const ratioToCpu: Record<string, number> = {};
  for (const b of others) {
    rates[b.name] = await rate(b, c);
    ratioToCpu[b.name] = (rates[b.name] as number) / cpu;
  }
  rows.push({ op, unit: c.unit, items: c.items, rates, ratioToCpu });
  process.stderr.write(`${op}: ${JSON.stringify(rates)}\n`);
}
await closeWebGpu();

const fmt = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0));
const names = backends.filter((b) => b.name !== 'cpu').map((b) => b.name);
const header = `| op | unit | batch | cpu (${runtimeInfo().defaultThreads} threads) | ${names.map((n) => `${n} | ${n} / cpu`).join(' | ')} |`;
const lines = [header, `|${'---|'.repeat(4 + 2 * names.length)}`];
for (const r of rows) {
  const cells = names.map((n) => (typeof r.rates[n] === 'number' ? `${fmt(r.rates[n] as number)} | ${r.ratioToCpu[n]!.toFixed(2)}` : '— | —'));
  lines.push(`| ${r.op} | ${r.unit} | ${r.items} | ${fmt(r.rates.cpu as number)} | ${cells.join(' | ')} |`);
}
const devices = backends.map((b) => `${b.name}: ${b.device}`).join('; ');
const note = `Machine: ${machineDescription()}. Devices: ${devices}.${Object.keys(unavailable).length ? ` Unavailable: ${Object.entries(unavailable).map(([k, v]) => `${k} (${v})`).join('; ')}.` : ''} Batch: rows per call (simulators: the costly ones 1/8; design tasks at their default design), a ${TRELLIS_LEAVES}-leaf W jet (trellis), the 10-D C2ST classifier 10 → 100 → 100 → 1 on ${quick ? 4096 : 32768} rows in batches of 200 (nn), sbi's two_moons MAF (5 layers, 2 × 50 tanh) and MDN (10 components, 2 × 50 ReLU) on ${quick ? 4096 : 32768} rows (flow; training: ${quick ? 2000 : 8000} rows in batches of 200), NPE with an embedding [100, 64, 64, 10] of a 100-D x into a 5-layer MAF on 5-D θ (flow.maf_embedding_train: ${quick ? 1000 : 4000} rows in batches of 200), sbi's NRE classifier for 10-D θ and x (50 hidden, 2 blocks) on ${quick ? 4096 : 32768} pairs (nre.log_ratio) and ${quick ? 1000 : 4000} NRE-B training rows in batches of 200 (10 atoms: 2 000 pairs a step; nre.embedding_train: with an embedding [10, 64, 10] of x), the CLI's S² flow on ${quick ? 4096 : 32768} rows (manifold; manifold.flow_train: ${quick ? 8 : 32} reverse-KL steps of 256 draws to sphere-vmf4), ${quick ? 1024 : 4096} L = 16 configurations (lattice actions), ${quick ? 128 : 512} draws and densities of the tutorials' φ⁴ and U(1) flows at L = 8 (lattice.*_flow_sample, lattice.*_flow_log_prob), 2 training steps of 64 configurations (lattice.*_flow_train), best of ${REPEATS}; WebGPU end to end per call.`;
const table = `${lines.join('\n')}\n\n${note}`;
console.log(table);
if (onlyOp === undefined) writeResults('backends.json', { machine: machineDescription(), devices, unavailable, rows: ROWS, repeats: REPEATS, quick, results: rows });
if (!quick && onlyOp === undefined) replaceReadmeBlock('backends', table);
