/**
 * The lattice ops (issue 6) on the cpu and webgpu backends, timed in CPU time of this process
 * (process.cpuUsage, user + system: llvmpipe runs its threads in-process), which a shared,
 * loaded machine disturbs less than wall time; the backends alternate A/B/A/B within the run, and
 * the table gives the median of the rounds for each. Also the agreement of the trained φ⁴ flow's
 * draws (bench/results/lattice_phi4_flow.bin) with the CPU's: max |webgpu − cpu| of φ, log q, S, M, and
 * of the trained U(1) flow's (lattice_u1_flow.bin): θ' on the circle, log q, S, Q; the inverse passes
 * (z, log q) on those draws; 10 training steps from each trained flow (parameters, losses).
 * Prints the table only (the figures are quoted in docs/backends.md).
 *
 *   npx tsx bench/lattice_backends.ts [--rounds 3] [--draws 512] [--train-steps 3]
 */
import { cpuBackend, selectBackend, type Backend } from '../src/backend/backend.js';
import { closeWebGpu } from '../src/backend/webgpu.js';
import { Phi4Flow } from '../src/lattice/flow.js';
import { U1Flow } from '../src/lattice/u1_flow.js';
import { machineDescription } from './common.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = arg('--rounds', 3);
const draws = arg('--draws', 512);
const configs = 1 << 12;

const webgpu = await selectBackend('webgpu');
const field = Float64Array.from({ length: 2 * configs * 256 }, (_, i) => Math.sin(0.37 * i));
const trained = Phi4Flow.load(new URL('results/lattice_phi4_flow.bin', import.meta.url).pathname);
const trainedU1 = U1Flow.load(new URL('results/lattice_u1_flow.bin', import.meta.url).pathname);
const phiDraws = (await trained.sample({ n: draws, seed: 4, keepPhi: true })).phi!;
const thetaDraws = (await trainedU1.sample({ n: draws, seed: 4, keepTheta: true })).theta!;
const trainSteps = arg('--train-steps', 3);
const cases: Array<{ op: string; what: string; items: number; run: (b: Backend) => Promise<unknown> }> = [
  { op: 'lattice.phi4_action', what: `${configs} configurations, L = 16`, items: configs, run: (b) => b.phi4Action({ L: 16, m2: -4, lambda: 8 }, field.subarray(0, configs * 256)) },
  { op: 'lattice.u1_action', what: `${configs} configurations, L = 16`, items: configs, run: (b) => b.u1Action({ L: 16, beta: 2 }, field) },
  { op: 'lattice.phi4_flow_sample', what: `${draws} draws, trained flow at L = 8 (16 layers, [8, 8])`, items: draws, run: (b) => b.phi4FlowSample(trained, { n: draws, seed: 2, keepPhi: false }) },
  { op: 'lattice.u1_flow_sample', what: `${draws} draws, trained flow at L = 8 (16 layers, [8, 8], 2 NCP components)`, items: draws, run: (b) => b.u1FlowSample(trainedU1, { n: draws, seed: 2, keepPhi: false }) },
  { op: 'lattice.phi4_flow_log_prob', what: `${draws} of its draws, trained φ⁴ flow`, items: draws, run: (b) => b.phi4FlowLogProb(trained, phiDraws) },
  { op: 'lattice.u1_flow_log_prob', what: `${draws} of its draws, trained U(1) flow`, items: draws, run: (b) => b.u1FlowLogProb(trainedU1, thetaDraws) },
  { op: 'lattice.phi4_flow_train', what: `${trainSteps} steps of 64, from the trained φ⁴ flow`, items: trainSteps, run: (b) => b.phi4FlowTrain(trained, { steps: trainSteps, batch: 64, learningRate: 1e-3, seed: 2 }) },
  { op: 'lattice.u1_flow_train', what: `${trainSteps} steps of 64, from the trained U(1) flow`, items: trainSteps, run: (b) => b.u1FlowTrain(trainedU1, { steps: trainSteps, batch: 64, learningRate: 1e-3, seed: 2 }) },
];

const cpuSeconds = async (f: () => Promise<unknown>) => {
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

const lines = ['| op | batch | cpu: CPU s | webgpu (llvmpipe): CPU s | webgpu / cpu |', '|---|---|---|---|---|'];
for (const c of cases) {
  await c.run(cpuBackend);
  await c.run(webgpu); // warm-up: pipelines, buffer pool
  const t: Record<'cpu' | 'webgpu', number[]> = { cpu: [], webgpu: [] };
  for (let r = 0; r < rounds; r++) {
    t.cpu.push(await cpuSeconds(() => c.run(cpuBackend)));
    t.webgpu.push(await cpuSeconds(() => c.run(webgpu)));
  }
  const [a, b] = [median(t.cpu), median(t.webgpu)];
  lines.push(`| ${c.op} | ${c.what} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(b / a).toFixed(1)} |`);
  process.stderr.write(`${c.op}: cpu ${t.cpu.map((v) => v.toFixed(3))} webgpu ${t.webgpu.map((v) => v.toFixed(3))}\n`);
}

const [g, c] = [await webgpu.phi4FlowSample(trained, { n: 1024, seed: 7, offset: 3 }), await cpuBackend.phi4FlowSample(trained, { n: 1024, seed: 7, offset: 3 })];
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let m = 0, s = 0;
  for (let i = 0; i < x.length; i++) {
    m = Math.max(m, Math.abs(x[i]! - y[i]!));
    s = Math.max(s, Math.abs(y[i]!));
  }
  return `${m.toExponential(1)} (max |cpu| ${s.toPrecision(3)})`;
};
const [gu, cu] = [await webgpu.u1FlowSample(trainedU1, { n: 1024, seed: 7, offset: 3 }), await cpuBackend.u1FlowSample(trainedU1, { n: 1024, seed: 7, offset: 3 })];
let circle = 0;
for (let i = 0; i < cu.theta!.length; i++) {
  const d = Math.abs(gu.theta![i]! - cu.theta![i]!);
  circle = Math.max(circle, Math.min(d, 2 * Math.PI - d));
}
// the inverse passes on the flows' own 1024 draws (rounded to f32, as the device takes them)
const phiF32 = Float64Array.from(Float32Array.from(c.phi!));
const [gi, ci] = [await webgpu.phi4FlowLogProb(trained, phiF32), await cpuBackend.phi4FlowLogProb(trained, phiF32)];
const thetaF32 = Float64Array.from(Float32Array.from(cu.theta!));
const [giu, ciu] = [await webgpu.u1FlowLogProb(trainedU1, thetaF32), await cpuBackend.u1FlowLogProb(trainedU1, thetaF32)];
let zCircle = 0;
for (let i = 0; i < ciu.z.length; i++) {
  const d = Math.abs(giu.z[i]! - ciu.z[i]!);
  zCircle = Math.max(zCircle, Math.min(d, 2 * Math.PI - d));
}
// 10 training steps from the trained flows (lr 1e-3): parameters and losses against the CPU's
const trainAgreement = async (run: (b: Backend) => Promise<{ params: Float64Array; loss: Float64Array }>, start: Float64Array) => {
  const [tg, tc] = [await run(webgpu), await run(cpuBackend)];
  let moved = 0;
  for (let i = 0; i < start.length; i++) moved = Math.max(moved, Math.abs(tc.params[i]! - start[i]!));
  return `parameters ${maxDiff(tg.params, tc.params)} (moved by up to ${moved.toExponential(1)}), losses ${maxDiff(tg.loss, tc.loss)}`;
};
const trainPhi4 = await trainAgreement((b) => b.phi4FlowTrain(trained, { steps: 10, batch: 64, learningRate: 1e-3, seed: 0x5eedn }), trained.params);
const trainU1 = await trainAgreement((b) => b.u1FlowTrain(trainedU1, { steps: 10, batch: 32, learningRate: 1e-3, seed: 0x5eedn }), trainedU1.params);
await closeWebGpu();
process.stdout.write(`Machine: ${machineDescription()}; webgpu: ${webgpu.device}. Median of ${rounds} alternating rounds.\n${lines.join('\n')}\n` +
  `trained φ⁴ flow, 1024 draws: max |webgpu − cpu| φ ${maxDiff(g.phi!, c.phi!)}, log q ${maxDiff(g.logq, c.logq)}, S ${maxDiff(g.action, c.action)}, M ${maxDiff(g.magnetization, c.magnetization)}\n` +
  `trained U(1) flow, 1024 draws: max |webgpu − cpu| θ' on the circle ${circle.toExponential(1)}, log q ${maxDiff(gu.logq, cu.logq)}, S ${maxDiff(gu.action, cu.action)}, Q ${maxDiff(gu.charge, cu.charge)}\n` +
  `lattice.phi4_flow_log_prob, those φ⁴ draws: z ${maxDiff(gi.z, ci.z)}, log q ${maxDiff(gi.logq, ci.logq)}\n` +
  `lattice.u1_flow_log_prob, those U(1) draws: z on the circle ${zCircle.toExponential(1)}, log q ${maxDiff(giu.logq, ciu.logq)}\n` +
  `lattice.phi4_flow_train, 10 steps of 64 from the trained φ⁴ flow: ${trainPhi4}\n` +
  `lattice.u1_flow_train, 10 steps of 32 from the trained U(1) flow: ${trainU1}\n`);
