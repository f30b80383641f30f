// Flows on S² and T² (docs/manifold.md): training steps/s and samples/s of the S² model on 1 and 2
// threads (same seeds, so identical parameters; ratio measured in this run), then KL / log Z / ESS
// reached by reverse KL for sphere-vmf4 and the three T² targets of Rezende et al. 2020.
//   npm run bench:manifold [-- sphere-steps [torus-steps]]
// With --kinds, instead: the flow variants (Möbius / NCP mixture circle layers, autoregressive
// torus layers, S³) against the spline flow on the same target, trained in the same run with the
// same steps, batch, learning rate and seed (KL, ESS, steps/s and their ratios to the spline row).
//   npm run bench:manifold -- --kinds [steps [s3-steps]]
import { ManifoldFlow, type ManifoldFlowSpec } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const batchSize = 256;
const learningRate = 1e-3;
const f = (x: number, d = 3) => x.toFixed(d);

/** Modified Bessel function I_ν(x), ν = 0, 1, by its power series. */
function besselI(nu: 0 | 1, x: number): number {
  let term = (x / 2) ** nu, sum = 0;
  for (let m = 0; m < 60; m++) {
    sum += term;
    term *= (x / 2) ** 2 / ((m + 1) * (m + 1 + nu));
  }
  return sum;
}

/** The exact log Z = log ∫ p̃ of the targets (sums of vMF kernels, or products of von Mises factors). */
const EXACT_LOG_Z: Record<string, number> = {
  'torus-multimodal': 2 * Math.log(2 * Math.PI * besselI(0, 1)),  // mean of three translates of the unimodal density
  'sphere-vmf4': Math.log(4 * 4 * Math.PI * Math.sinh(10) / 10),  // 4 ∫_{S²} exp(10 μᵀx) dA
  'sphere3-vmf4': Math.log(4 * (2 * Math.PI) ** 2 * besselI(1, 10) / 10),  // 4 ∫_{S³} exp(10 νᵀx) dA
};

async function benchKinds(steps: number, s3Steps: number): Promise<void> {
  const mixture = { components: 4 } as const;
  // Per target: the spline flow of the CLI registry first (the baseline), then the variants.
  const groups: { target: string; steps: number; rows: [string, Partial<ManifoldFlowSpec>][] }[] = [
    { target: 'torus-multimodal', steps, rows: [
      ['spline, coupling', {}],
      ['Möbius ×4, coupling', { circleTransform: 'moebius', ...mixture }],
      ['NCP ×4, coupling', { circleTransform: 'ncp', ...mixture }],
      ['spline, autoregressive', { conditioner: 'autoregressive' }],
      ['Möbius ×4, autoregressive', { circleTransform: 'moebius', conditioner: 'autoregressive', ...mixture }],
    ] },
    { target: 'sphere-vmf4', steps, rows: [
      ['spline', {}],
      ['Möbius ×4', { circleTransform: 'moebius', ...mixture }],
      ['NCP ×4', { circleTransform: 'ncp', ...mixture }],
    ] },
    { target: 'sphere3-vmf4', steps: s3Steps, rows: [
      ['spline', {}],
      ['Möbius ×4', { circleTransform: 'moebius', ...mixture }],
    ] },
  ];
  const rows = [];
  for (const g of groups) {
    const entry = TARGETS[g.target]!;
    let baseline: { stepsPerSecond: number; klNormalised: number } | undefined;
    for (const [label, variant] of g.rows) {
      const spec = { ...entry.spec, ...variant };
      const flow = new ManifoldFlow(spec, 1);
      const t0 = performance.now();
      const r = await flow.train({ target: entry.nativeTarget, steps: g.steps, batchSize, learningRate, seed: 1, evalSize: 20_000 });
      const seconds = (performance.now() - t0) / 1000;
      const ev = r.evaluation!;
      const row = { target: g.target, label, spec: flow.spec, params: flow.paramCount, steps: g.steps, seconds,
        stepsPerSecond: g.steps / seconds, ...ev, exactLogZ: EXACT_LOG_Z[g.target]! };
      baseline ??= row;
      rows.push({ ...row, speedRatio: row.stepsPerSecond / baseline.stepsPerSecond, klRatio: ev.klNormalised / baseline.klNormalised });
      console.log(g.target, label, f(ev.klNormalised), f(ev.ess, 1), f(row.stepsPerSecond, 1));
    }
  }
  const result = { machine: machineDescription(), date: new Date().toISOString().slice(0, 10), batchSize, learningRate, rows };
  writeResults('manifold_kinds.json', result);
  const table = [
    `Measured ${result.date} on ${result.machine}. Adam lr ${learningRate}, batch ${batchSize}, seed 1, double precision; ` +
      'architectures of the CLI registry with the variant applied (T²: 4 coupling layers or 4 autoregressive blocks, S² / S³: ' +
      '4 circle layers after the interval layers; MLPs 32×2; splines 8 bins on T², 16 on spheres); KL / log Z / ESS from ' +
      '20 000 fresh draws; exact log Z from the targets\' closed forms. Ratios are to the first (spline) row of the same ' +
      'target, measured in the same run.',
    '',
    '| target | angle layers | params | steps | KL(q‖p) | ESS % | log Z (exact) | steps/s | steps/s ratio | KL ratio |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.target} | ${r.label} | ${r.params} | ${r.steps} | ${f(r.klNormalised)} | ${f(r.ess, 1)} | ${f(r.logZ)} (${f(r.exactLogZ)}) | ` +
      `${f(r.stepsPerSecond, 1)} | ${f(r.speedRatio, 2)} | ${f(r.klRatio, 2)} |`),
  ].join('\n');
  replaceReadmeBlock('manifold-kinds', `## Flow variants on tori and spheres (issue 5) — \`npm run bench:manifold -- --kinds\`\n\n${table}`);
  console.log(table);
}

if (process.argv[2] === '--kinds') {
  await benchKinds(Number(process.argv[3] ?? 2000), Number(process.argv[4] ?? 4000));
  process.exit(0);
}

const sphereSteps = Number(process.argv[2] ?? 5000);
const torusSteps = Number(process.argv[3] ?? 2000);
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
