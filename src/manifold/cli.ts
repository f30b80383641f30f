/**
 * `sbi-engine flow-train` and `sbi-engine flow-sample`: flows on tori and spheres trained by
 * reverse KL to a named target, saved in the checksummed model file (src/io/model_file.ts), and
 * sampled to CSV. Same option conventions as src/cli.ts (`--name value`, `--seed`, `--threads`,
 * `--out -` for stdout, exit code 2 for usage errors).
 *
 * Targets live in a registry (TARGETS): each names its manifold, the default architecture and
 * how to build the flow and train it, so lattice targets (phi4, u1) can join with their own
 * options without touching the commands.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadModelFile, saveModelFile } from '../io/model_file.js';
import { trainPhi4FlowFromCli } from '../lattice/flow.js';
import type { LatticeCliOptions, LatticeCliSummary } from '../lattice/flow_common.js';
import { trainU1FlowFromCli } from '../lattice/u1_flow.js';
import {
  ManifoldFlow, MODEL_KIND, type CircleTransformKind, type ManifoldFlowOptions, type ManifoldTarget, type TorusConditioner,
} from './flow.js';
import { finite, integer, positive, seedOf, usage } from '../cli_args.js';
import type { BackendRequest } from '../backend/backend.js';

export interface FlowTargetEntry {
  /** One line for --help and the unknown-target error. */
  description: string;
  /** The flow architecture for this target (before --layers / --bins / --hidden overrides). */
  spec: ManifoldFlowOptions;
  /** The native target name passed to ManifoldFlow.train. */
  nativeTarget: ManifoldTarget;
}

const torus = (description: string, nativeTarget: ManifoldTarget): FlowTargetEntry => ({
  description,
  spec: { space: 'torus', dim: 2, layers: 4, bins: 8, hidden: 32, hiddenLayers: 2 },
  nativeTarget,
});

/** Known targets of `flow-train --target` (docs/manifold.md gives their densities). */
export const TARGETS: Record<string, FlowTargetEntry> = {
  'sphere-vmf4': {
    description: 'S²: mixture of four von Mises-Fisher densities, κ = 10 (Rezende et al. 2020)',
    spec: { space: 'sphere', dim: 2, layers: 4, bins: 16, hidden: 32, hiddenLayers: 2 },
    nativeTarget: 'sphere-vmf4',
  },
  'torus-unimodal': torus('T²: exp(cos(θ₁ − 4.18) + cos(θ₂ − 5.96))', 'torus-unimodal'),
  'torus-multimodal': torus('T²: mean of three unimodal densities (Rezende et al. 2020)', 'torus-multimodal'),
  'torus-correlated': torus('T²: exp(cos(θ₁ + θ₂ − 1.94))', 'torus-correlated'),
  'sphere3-vmf4': {
    description: 'S³ ≅ SU(2): mixture of four bumps exp(10 νₖᵀx), i.e. exp(5 Re tr(Vₖ† U)) (docs/manifold.md)',
    spec: { space: 'sphere', dim: 3, layers: 4, bins: 16, hidden: 32, hiddenLayers: 2 },
    nativeTarget: 'sphere3-vmf4',
  },
};

const CIRCLE_TRANSFORMS = ['spline', 'moebius', 'ncp'] as const satisfies readonly CircleTransformKind[];
const CONDITIONERS = ['coupling', 'autoregressive'] as const satisfies readonly TorusConditioner[];

/** An option restricted to `values`, or undefined when absent; anything else is a usage error. */
function choice<V extends string>(cmd: Command, value: string | undefined, name: string, values: readonly V[]): V | undefined {
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) usage(cmd, `--${name}: expected one of ${values.join(', ')} but received "${value}"`);
  return value as V;
}

interface TrainOpts {
  target: string; steps: string; batch?: string; seed: string; out: string; lr: string;
  threads?: string; layers?: string; bins?: string; hidden?: string; evalSize: string; quiet?: boolean;
  circleTransform?: string; components?: string; conditioner?: string; backend: string;
  lattice?: string; m2?: string; lambda?: string; beta?: string;
}

interface LatticeTargetEntry {
  /** One line for --help and the unknown-target error. */
  description: string;
  /** Reads the target's own options (usage error when missing), trains with the common ones and saves; returns the summary's label. */
  train(cmd: Command, o: TrainOpts, common: LatticeCliOptions): Promise<{ label: string; summary: LatticeCliSummary }>;
}

/** Lattice targets: trained by their own native trainers (src/lattice), saved as their own model kinds. */
const LATTICE_TARGETS: Record<string, LatticeTargetEntry> = {
  phi4: {
    description: 'φ⁴ on an L×L lattice (--lattice L --m2 --lambda): checkerboard affine coupling flow (arXiv:2101.08176); sample with flow-mcmc',
    async train(cmd, o, common) {
      const m2 = finite(cmd, o.m2, 'm2');
      const lambda = finite(cmd, o.lambda, 'lambda');
      if (m2 === undefined || lambda === undefined) usage(cmd, '--target phi4 needs --lattice, --m2 and --lambda');
      return { label: `phi4  L ${common.lattice}  m2 ${m2}  lambda ${lambda}`, summary: await trainPhi4FlowFromCli({ ...common, m2, lambda }) };
    },
  },
  u1: {
    description: 'U(1) gauge theory on an L×L lattice, L a multiple of 4 (--lattice L --beta): gauge-equivariant coupling flow (arXiv:2003.06413); sample with flow-mcmc',
    async train(cmd, o, common) {
      const beta = finite(cmd, o.beta, 'beta');
      if (beta === undefined) usage(cmd, '--target u1 needs --lattice and --beta');
      if (common.lattice % 4 !== 0) usage(cmd, `--lattice: expected a multiple of 4 for --target u1 but received ${common.lattice}`);
      return { label: `u1  L ${common.lattice}  beta ${beta}`, summary: await trainU1FlowFromCli({ ...common, beta }) };
    },
  },
};

async function trainLatticeTarget(cmd: Command, o: TrainOpts, entry: LatticeTargetEntry): Promise<void> {
  const lattice = integer(cmd, o.lattice, 'lattice', 2, 4096);
  if (lattice === undefined) usage(cmd, `--target ${o.target} needs --lattice`);
  const threads = integer(cmd, o.threads, 'threads', 1, 1024);
  // the tutorial's batch, 64, unless given
  const steps = integer(cmd, o.steps, 'steps', 1, 1e9)!;
  const batch = integer(cmd, o.batch ?? '64', 'batch', 1, 1 << 20)!;
  const seed = seedOf(cmd, o.seed);
  const backend = choice(cmd, o.backend, 'backend', ['cpu', 'webgpu', 'auto'] as const)!;
  let lastLine = 0;
  const { label, summary: r } = await entry.train(cmd, o, {
    lattice, steps, batch, seed, out: o.out, learningRate: positive(cmd, o.lr, 'lr')!, ...(threads ? { threads } : {}), backend,
    ...(o.quiet ? {} : {
      onProgress: (p: { step: number; steps: number; loss: number }) => {
        const now = performance.now();
        if (now - lastLine < 1000 && p.step !== p.steps) return;
        lastLine = now;
        process.stderr.write(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}\n`);
      },
    }),
  });
  process.stdout.write(`target ${label}  steps ${r.steps}  batch ${batch}  ` +
    `${(1000 * r.seconds / r.steps).toFixed(3)} ms/step\nfinal loss mean(log q + S) ${r.loss.toFixed(4)}  batch ESS ${(100 * r.ess).toFixed(1)} %  -> ${r.out}\n`);
}

async function commandTrain(this: Command, o: TrainOpts): Promise<void> {
  const backend = choice(this, o.backend, 'backend', BACKENDS)!;
  const lattice = LATTICE_TARGETS[o.target];
  if (lattice) {
    if (backend === 'cuda') usage(this, `--backend: the lattice targets (${Object.keys(LATTICE_TARGETS).join(', ')}) train on cpu, webgpu or auto (no CUDA launcher for their training), but received "cuda"`);
    return trainLatticeTarget(this, o, lattice);
  }
  const entry = TARGETS[o.target];
  if (!entry) usage(this, `--target: unknown target "${o.target}"; known targets: ${[...Object.keys(TARGETS), ...Object.keys(LATTICE_TARGETS)].join(', ')}`);
  const steps = integer(this, o.steps, 'steps', 1, 1e9)!;
  const batchSize = integer(this, o.batch ?? '256', 'batch', 1, 1 << 20)!;
  const learningRate = positive(this, o.lr, 'lr')!;
  const evalSize = integer(this, o.evalSize, 'eval-size', 2, 1 << 26)!;
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const seed = seedOf(this, o.seed);
  const spec: ManifoldFlowOptions = {
    ...entry.spec,
    layers: integer(this, o.layers, 'layers', 1, 62) ?? entry.spec.layers,
    bins: integer(this, o.bins, 'bins', 1, 256) ?? entry.spec.bins,
    hidden: integer(this, o.hidden, 'hidden', 1, 4096) ?? entry.spec.hidden,
    components: integer(this, o.components, 'components', 1, 64) ?? entry.spec.components,
    circleTransform: choice(this, o.circleTransform, 'circle-transform', CIRCLE_TRANSFORMS) ?? entry.spec.circleTransform,
    conditioner: choice(this, o.conditioner, 'conditioner', CONDITIONERS) ?? entry.spec.conditioner,
  };
  const flow = new ManifoldFlow(spec, seed);
  const started = performance.now();
  let lastLine = 0;
  const result = await flow.train({
    target: entry.nativeTarget, steps, batchSize, learningRate, seed, evalSize, backend,
    ...(threads ? { threads } : {}),
    onProgress: o.quiet ? undefined : (p) => {
      const now = performance.now();
      if (now - lastLine < 1000 && p.step !== p.steps) return;
      lastLine = now;
      process.stderr.write(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}\n`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const ev = result.evaluation!;
  saveModelFile(o.out, flow.toModelFile({
    target: o.target,
    training: { steps: result.steps, batchSize, learningRate, seed: seed.toString(), seconds, backend },
    evaluation: ev,
  }));
  process.stdout.write(
    `target ${o.target}  steps ${result.steps}  batch ${batchSize}  backend ${backend}  ${(1000 * seconds / result.steps).toFixed(3)} ms/step\n` +
    `KL E[log q - log p~] ${ev.kl.toFixed(4)}  log Z ${ev.logZ.toFixed(4)}  KL(q||p) ${ev.klNormalised.toFixed(4)}  ESS ${ev.ess.toFixed(1)} %  (${ev.samples} draws)\n`,
  );
}

interface SampleOpts { model: string; n: string; seed: string; out: string; threads?: string; backend: string }

const BACKENDS = ['cpu', 'webgpu', 'cuda', 'auto'] as const satisfies readonly BackendRequest[];

async function commandSample(this: Command, o: SampleOpts): Promise<void> {
  const n = integer(this, o.n, 'n', 1, 1e8)!;
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const seed = seedOf(this, o.seed);
  const backend = choice(this, o.backend, 'backend', BACKENDS)!;
  const flow = ManifoldFlow.fromModelFile(loadModelFile(o.model, { expectedKind: MODEL_KIND }), `manifold flow (${o.model})`);
  const { x, logProb } = await flow.sampleAsync(n, seed, { ...(threads ? { threads } : {}), backend });
  const W = flow.outputWidth;
  const names = flow.spec.space === 'sphere'
    ? Array.from({ length: W }, (_, i) => `x_${i + 1}`)
    : Array.from({ length: W }, (_, i) => `angle_${i + 1}`);
  const lines = [[...names, 'log_q'].join(',')];
  for (let i = 0; i < n; i++) {
    const row: string[] = [];
    for (let d = 0; d < W; d++) row.push(String(x[i * W + d]));
    row.push(String(logProb[i]));
    lines.push(row.join(','));
  }
  const text = lines.join('\n') + '\n';
  if (o.out === '-') process.stdout.write(text);
  else writeFileSync(o.out, text);
}

export function addFlowCommands(program: Command): void {
  program
    .command('flow-train')
    .description('train a flow on a torus or sphere by reverse KL to a target and save it')
    .requiredOption('--target <name>', `target density: ${[...Object.keys(TARGETS), ...Object.keys(LATTICE_TARGETS)].join(', ')}`)
    .requiredOption('--out <model.bin>', 'model file')
    .option('--steps <int>', 'Adam steps', '2000')
    .option('--batch <int>', 'flow draws per step (default 256; phi4, u1: 64)')
    .option('--lr <x>', 'Adam learning rate', '1e-3')
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--layers <int>', 'coupling layers or autoregressive blocks (torus), circle layers (sphere)')
    .option('--bins <int>', 'spline bins')
    .option('--hidden <int>', 'hidden units per MLP layer')
    .option('--circle-transform <kind>', `transform of the angle layers: ${CIRCLE_TRANSFORMS.join(', ')} (default spline)`)
    .option('--components <int>', 'mixture components of moebius / ncp (default 4)')
    .option('--conditioner <kind>', `torus layers: ${CONDITIONERS.join(', ')} (default coupling)`)
    .option('--eval-size <int>', 'flow draws for the final KL / ESS', '4096')
    .option('--backend <name>', 'torus / sphere targets: cpu (double), webgpu (f32 WGSL kernels, the same Philox draws), cuda or auto; lattice targets: cpu, webgpu (f32) or auto', 'cpu')
    .option('--lattice <L>', 'phi4, u1: lattice extent (u1: a multiple of 4)')
    .option('--m2 <x>', 'phi4: mass term m²')
    .option('--lambda <x>', 'phi4: quartic coupling λ')
    .option('--beta <x>', 'u1: gauge coupling β')
    .option('--quiet', 'no progress lines on stderr')
    .action(commandTrain);
  program
    .command('flow-sample')
    .description('draw samples and their log q from a saved torus / sphere flow as CSV')
    .requiredOption('--model <model.bin>', 'model file written by flow-train')
    .requiredOption('--n <int>', 'number of samples')
    .requiredOption('--out <samples.csv>', 'output file, - for stdout')
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--backend <name>', 'cpu, webgpu (f32 WGSL kernels, the same Philox draws), cuda or auto', 'cpu')
    .action(commandSample);
}
