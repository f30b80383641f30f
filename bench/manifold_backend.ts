// The manifold flows on WebGPU against the CPU (ops manifold.flow_sample / manifold.flow_log_prob):
// per flow, n draws on both backends from the same seed and stream — the largest difference of the
// points (angles on the circle) and of their log q — and log q of the CPU's draws on both; with the
// CPU time (user + sys of this process, which includes llvmpipe's threads) of each backend; and
// the device's log q of each of its draws against the CPU's log q at that drawn point (a draw
// can move where the sampling map amplifies the f32 rounding of its base point; its density
// should still be right).
// Flows: the CLI's targets trained by reverse KL on the CPU (500 steps, batch 256, seed 1), and the
// harness's configurations moved off their initialisation (test/backend_ops.test.ts).
//   npm run bench:manifold-backend [-- rows]
import { selectBackend } from '../src/backend/backend.js';
import { closeWebGpu } from '../src/backend/webgpu.js';
import { ManifoldFlow, type ManifoldFlowOptions } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';
import { PhiloxStream } from '../src/random/philox.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const rows = Number(process.argv[2] ?? 20_000);
const TWO_PI = 2 * Math.PI;

function maxDiff(a: Float64Array, b: Float64Array, period?: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    let d = Math.abs(a[i]! - b[i]!);
    if (period !== undefined) d = Math.min(d % period, period - (d % period));
    m = Math.max(m, d);
  }
  return m;
}

function maxAbs(a: Float64Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

async function cpuSeconds<T>(f: () => Promise<T>): Promise<[T, number]> {
  const c0 = process.cpuUsage();
  const r = await f();
  const c = process.cpuUsage(c0);
  return [r, (c.user + c.system) / 1e6];
}

const trainedFlows: Array<[string, ManifoldFlowOptions, string]> = [
  ['T² spline (torus-multimodal)', TARGETS['torus-multimodal']!.spec, 'torus-multimodal'],
  ['T² Möbius ×4 (torus-multimodal)', { ...TARGETS['torus-multimodal']!.spec, circleTransform: 'moebius' }, 'torus-multimodal'],
  ['T² spline autoregressive (torus-multimodal)', { ...TARGETS['torus-multimodal']!.spec, conditioner: 'autoregressive' }, 'torus-multimodal'],
  ['S² spline (sphere-vmf4)', TARGETS['sphere-vmf4']!.spec, 'sphere-vmf4'],
  ['S³ spline (sphere3-vmf4)', TARGETS['sphere3-vmf4']!.spec, 'sphere3-vmf4'],
];
const movedFlows: Array<[string, ManifoldFlowOptions]> = [
  ['T³ spline coupling, moved', { space: 'torus', dim: 3, bins: 6 }],
  ['S² NCP ×4, moved', { space: 'sphere', dim: 2, circleTransform: 'ncp' }],
];

const cpu = await selectBackend('cpu');
const webgpu = await selectBackend('webgpu');
const results = [];
const flows: Array<[string, ManifoldFlow]> = [];
for (const [label, spec, target] of trainedFlows) {
  const flow = new ManifoldFlow(spec, 1);
  await flow.train({ target: TARGETS[target]!.nativeTarget, steps: 500, batchSize: 256, seed: 1 });
  flows.push([label, flow]);
}
for (const [label, spec] of movedFlows) {
  const flow = new ManifoldFlow(spec, 3);
  const r = new PhiloxStream(0x5eed_0006n, 25n);
  for (let i = 0; i < flow.params.length; i++) flow.params[i]! += 0.1 * r.normal();
  flows.push([label, flow]);
}
for (const [label, flow] of flows) {
  const period = flow.spec.space === 'torus' ? TWO_PI : undefined;
  const [c, cpuSampleS] = await cpuSeconds(() => cpu.manifoldFlowSample(flow, rows, 17, 3));
  const [g, gpuSampleS] = await cpuSeconds(() => webgpu.manifoldFlowSample(flow, rows, 17, 3));
  const [lqCpu, cpuLogProbS] = await cpuSeconds(() => cpu.manifoldFlowLogProb(flow, c.x));
  const [lqGpu, gpuLogProbS] = await cpuSeconds(() => webgpu.manifoldFlowLogProb(flow, c.x));
  const atDrawn = await cpu.manifoldFlowLogProb(flow, g.x);
  const row = {
    flow: label, rows,
    points: maxDiff(g.x, c.x, period), sampleLogQ: maxDiff(g.logProb, c.logProb), drawnLogQ: maxDiff(g.logProb, atDrawn), logProb: maxDiff(lqGpu, lqCpu), maxAbsLogQ: maxAbs(c.logProb),
    cpuSampleS, gpuSampleS, cpuLogProbS, gpuLogProbS,
  };
  results.push(row);
  console.log(JSON.stringify(row));
}
await closeWebGpu();

const e = (v: number) => v.toExponential(1);
const table = [
  `${rows} rows per flow, seed 17, stream 3; ${webgpu.device}; ${machineDescription()}`,
  '',
  '| flow | max \\|Δ point\\| | max \\|Δ log q\\| of the draws | draws: \\|log q − cpu log q at the drawn point\\| | max \\|Δ log q\\| of given points | max \\|log q\\| | CPU time: sample cpu / webgpu | log q cpu / webgpu |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.flow} | ${e(r.points)} | ${e(r.sampleLogQ)} | ${e(r.drawnLogQ)} | ${e(r.logProb)} | ${r.maxAbsLogQ.toFixed(1)} | ${r.cpuSampleS.toFixed(2)} s / ${r.gpuSampleS.toFixed(2)} s | ${r.cpuLogProbS.toFixed(2)} s / ${r.gpuLogProbS.toFixed(2)} s |`),
].join('\n');
console.log(table);
writeResults('manifold_backend.json', { machine: machineDescription(), device: webgpu.device, rows, results });
replaceReadmeBlock('manifold-backend', table);
