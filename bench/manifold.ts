// Flows on S² and T² (docs/manifold.md): training steps/s and samples/s of the S² model on 1 and 2
// threads (same seeds, so identical parameters; ratio measured in this run), then KL / log Z / ESS
// reached by reverse KL for sphere-vmf4 and the three T² targets of Rezende et al. 2020.
//   npm run bench:manifold [-- sphere-steps [torus-steps]]
import { ManifoldFlow } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const sphereSteps = Number(process.argv[2] ?? 5000);
const torusSteps = Number(process.argv[3] ?? 2000);
const batchSize = 256;
const learningRate = 1e-3;
const sphereSpec = TARGETS['sphere-vmf4']!.spec;

// Throughput on 1 and 2 threads.
const timingSteps = 100, sampleN = 100_000;
const throughput: { threads: number; stepsPerSecond: number; msPerStep: number; samplesPerSecond: number; params: Float64Array }[] = [];
for (const threads of [1, 2]) {
  const flow = new ManifoldFlow(sphereSpec, 1);
  let t0 = performance.now();
  await flow.train({ target: 'sphere-vmf4', steps: timingSteps, batchSize, learningRate, seed: 1, threads, evalSize: 2 });
  const trainSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  flow.sample(sampleN, 2, { threads });
  const sampleSeconds = (performance.now() - t0) / 1000;
  throughput.push({ threads, stepsPerSecond: timingSteps / trainSeconds, msPerStep: 1000 * trainSeconds / timingSteps,
    samplesPerSecond: sampleN / sampleSeconds, params: flow.params });
}
const [one, two] = throughput as [typeof throughput[0], typeof throughput[0]];
const identical = one.params.every((v, i) => v === two.params[i]);

// Quality per target.
const quality = [];
for (const [name, steps] of [['sphere-vmf4', sphereSteps], ['torus-unimodal', torusSteps], ['torus-multimodal', torusSteps], ['torus-correlated', torusSteps]] as const) {
  const entry = TARGETS[name]!;
  const flow = new ManifoldFlow(entry.spec, 1);
  const t0 = performance.now();
  const r = await flow.train({ target: entry.nativeTarget, steps, batchSize, learningRate, seed: 1, evalSize: 20_000 });
  const seconds = (performance.now() - t0) / 1000;
  quality.push({ target: name, steps, seconds, spec: entry.spec, ...r.evaluation! });
  console.log(name, steps, r.evaluation);
}

const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10), batchSize, learningRate,
  throughput: throughput.map(({ params: _p, ...t }) => t), speedup2Threads: two.stepsPerSecond / one.stepsPerSecond,
  sampleSpeedup2Threads: two.samplesPerSecond / one.samplesPerSecond, identicalAcrossThreads: identical, quality,
};
writeResults('manifold.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const table = [
  `Measured ${result.date} on ${result.machine}. Adam lr ${learningRate}, batch ${batchSize}, double precision; ` +
    `KL / log Z / ESS from 20 000 fresh flow draws. Parameters after ${timingSteps} steps identical on 1 and 2 threads: ${identical}.`,
  '',
  '| S² model (sphere-vmf4 spec) | threads | training steps/s | ms/step | samples/s | ratio vs 1 thread (train / sample) |',
  '|---|---|---|---|---|---|',
  ...throughput.map((t) => `| ${sphereSpec.layers} circle layers, ${sphereSpec.bins} bins, MLP ${sphereSpec.hidden}×${sphereSpec.hiddenLayers} | ${t.threads} | ` +
    `${t.stepsPerSecond.toFixed(1)} | ${f(t.msPerStep, 2)} | ${t.samplesPerSecond.toFixed(0)} | ${f(t.stepsPerSecond / one.stepsPerSecond, 2)} / ${f(t.samplesPerSecond / one.samplesPerSecond, 2)} |`),
  '',
  '| target | steps | E[log q − log p̃] | log Z | KL(q‖p) | ESS % | time (s) |',
  '|---|---|---|---|---|---|---|',
  ...quality.map((q) => `| ${q.target} | ${q.steps} | ${f(q.kl)} | ${f(q.logZ)} | ${f(q.klNormalised)} | ${f(q.ess, 1)} | ${f(q.seconds, 1)} |`),
].join('\n');
replaceReadmeBlock('manifold', `## Flows on tori and spheres (issue 5) — \`npm run bench:manifold\`\n\n${table}`);
console.log(table);
