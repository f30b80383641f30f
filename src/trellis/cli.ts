/**
 * `sbi-engine ginkgo` and `sbi-engine trellis` (same option conventions as src/cli.ts: `--name
 * value`, `--seed`, `--threads`, `--out -` for stdout, exit code 2 for usage errors).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SbiError } from '../errors.js';
import { simulateGinkgo, GINKGO_PRESETS, type GinkgoModel } from './ginkgo.js';
import { beamSearch, clusterMarginals, greedyClustering, runTrellis, TRELLIS_MAX_LEAVES } from './trellis.js';
import { runTrellisWebGpu } from './webgpu.js';
import { finiteOrNull, jetsFileFromSimulation, parseJetsFile } from './json.js';
import { lambdaGridPosterior } from './lambda.js';
import { integer, positive, seedOf, usage, writeOut as write } from '../cli_args.js';

interface GinkgoCliOptions {
  n: string; seed: string; threads?: string; out: string; preset: string; minLeaves?: string; maxLeaves?: string; maxTries?: string;
  lambda?: string; lambdaRoot?: string; tCut?: string; mass?: string; momentum?: string;
}

function commandGinkgo(this: Command, o: GinkgoCliOptions): void {
  const preset = GINKGO_PRESETS[o.preset as keyof typeof GINKGO_PRESETS];
  if (!preset) usage(this, `--preset: expected one of ${Object.keys(GINKGO_PRESETS).join(', ')} but received "${o.preset}"`);
  const model: GinkgoModel = {
    kind: 'ginkgo',
    lambda: positive(this, o.lambda, 'lambda') ?? preset.model.lambda,
    lambdaRoot: positive(this, o.lambdaRoot, 'lambda-root') ?? preset.model.lambdaRoot,
    tCut: positive(this, o.tCut, 't-cut', true) ?? preset.model.tCut,
  };
  const root = { mass: positive(this, o.mass, 'mass') ?? preset.root.mass, momentum: positive(this, o.momentum, 'momentum', true) ?? preset.root.momentum };
  const maxLeaves = integer(this, o.maxLeaves, 'max-leaves', 1, 4096);
  const minLeaves = integer(this, o.minLeaves, 'min-leaves', 1, maxLeaves ?? 4096);
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const maxTries = integer(this, o.maxTries, 'max-tries', 1, 2 ** 30);
  const r = simulateGinkgo({
    n: integer(this, o.n, 'n', 1, 2 ** 24)!, seed: seedOf(this, o.seed), model, root,
    ...(minLeaves !== undefined ? { minLeaves } : {}), ...(maxLeaves !== undefined ? { maxLeaves } : {}),
    ...(maxTries !== undefined ? { maxTries } : {}), ...(threads !== undefined ? { threads } : {}),
  });
  if (r.failed > 0) process.stderr.write(`sbi-engine ginkgo: ${r.failed} jets stayed outside the leaf range and were left out\n`);
  write(o.out, JSON.stringify(jetsFileFromSimulation(model, root, r.jets, r.failed)) + '\n');
}

interface TrellisCliOptions {
  in: string; out: string; seed: string; threads?: string; marginals?: boolean; marginalThreshold: string; samples?: string;
  beamWidth: string; lambdaGrid?: string; backend: string;
}

async function commandTrellis(this: Command, o: TrellisCliOptions): Promise<void> {
  if (o.backend !== 'cpu' && o.backend !== 'webgpu') usage(this, `--backend must be cpu or webgpu for the trellis but received ${o.backend}`);
  const gpu = o.backend === 'webgpu';
  let text: string;
  try {
    text = readFileSync(o.in === '-' ? 0 : o.in, 'utf8');
  } catch (e) {
    throw new SbiError(`Cannot read --in ${o.in}: ${(e as Error).message}`, 'FILE_NOT_FOUND');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SbiError(`--in ${o.in} is not JSON: ${(e as Error).message}`, 'INVALID_JETS_FILE');
  }
  const jets = parseJetsFile(data);
  const threads = integer(this, o.threads, 'threads', 1, 1024);
  const samples = integer(this, o.samples, 'samples', 0, 2 ** 24) ?? 0;
  const beamWidth = integer(this, o.beamWidth, 'beam-width', 1, 1024)!;
  const threshold = positive(this, o.marginalThreshold, 'marginal-threshold', true)!;
  const seed = seedOf(this, o.seed);
  const grid = o.lambdaGrid === undefined ? undefined : o.lambdaGrid.split(',').map((s) => positive(this, s.trim(), 'lambda-grid')!);
  jets.forEach((j, i) => {
    if (j.leaves.length > TRELLIS_MAX_LEAVES)
      throw new SbiError(`jets[${i}] has ${j.leaves.length} leaves; the trellis handles at most ${TRELLIS_MAX_LEAVES}`, 'TOO_MANY_LEAVES');
  });
  if (gpu && samples > 0) {
    throw new SbiError('Exact samples of hierarchies (--samples) run on the cpu backend only: the walk down the trellis is sequential per sample', 'UNSUPPORTED_OP');
  }
  const results = [];
  for (const j of jets) {
    // webgpu: log Z, MAP and marginals in f32 on the device; the exact count (128-bit integers) is not computed there
    const r = gpu
      ? { ...(await runTrellisWebGpu(j.leaves, j.model, { marginals: o.marginals === true })), nTrees: null, samples: undefined }
      : runTrellis(j.leaves, j.model, { marginals: o.marginals === true, samples, seed, ...(threads ? { threads } : {}) });
    const greedy = greedyClustering(j.leaves, j.model), beam = beamSearch(j.leaves, j.model, beamWidth);
    results.push({
      nLeaves: r.nLeaves, logZ: finiteOrNull(r.logZ), nTrees: r.nTrees, mapLogLH: finiteOrNull(r.mapLogLH), mapTree: r.mapTree,
      greedyLogLH: finiteOrNull(greedy.logLH), beamLogLH: finiteOrNull(beam.logLH), seconds: r.seconds,
      ...(o.marginals ? { marginals: clusterMarginals(r, threshold) } : {}),
      ...(r.samples ? { samples: r.samples } : {}),
      ...(gpu ? { backend: 'webgpu' } : {}),
    });
  }
  const out: Record<string, unknown> = { jets: results };
  if (grid) {
    const model = jets[0]?.model;
    if (!model || model.kind !== 'ginkgo') usage(this, '--lambda-grid needs jets with a ginkgo model');
    const g = lambdaGridPosterior(jets.map((j) => j.leaves), model, grid, threads ? { threads } : {});
    out.lambdaGrid = { lambda: g.grid, logLikelihood: g.logLikelihood.map(finiteOrNull), posterior: g.posterior, posteriorMean: g.posteriorMean };
  }
  write(o.out, JSON.stringify(out) + '\n');
}

export function addTrellisCommands(program: Command): void {
  program
    .command('ginkgo')
    .description('simulate Ginkgo jets (leaves, generating tree, gold) as JSON')
    .requiredOption('--n <int>', 'number of jets')
    .requiredOption('--out <file.json>', 'output file, - for stdout')
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--preset <w|qcd>', 'W jets (M = 80, λ_root = 3) or QCD jets (M = 30, λ_root = 1.5)', 'w')
    .option('--min-leaves <int>', 'redraw jets with fewer leaves')
    .option('--max-leaves <int>', 'redraw jets with more leaves (default 256)')
    .option('--max-tries <int>', 'draws per jet before giving up (default 100000)')
    .option('--lambda <x>', 'split rate below the root')
    .option('--lambda-root <x>', 'split rate of the root')
    .option('--t-cut <x>', 'mass² below which a node is a leaf')
    .option('--mass <x>', 'jet mass M')
    .option('--momentum <x>', 'jet momentum |p| (along (1,1,1)/√3)')
    .action(commandGinkgo);
  program
    .command('trellis')
    .description('exact log Z, count, MAP (and marginals, samples) of each jet by the trellis, with greedy and beam baselines')
    .requiredOption('--in <jets.json>', 'jets file (as written by `sbi-engine ginkgo`), - for stdin')
    .requiredOption('--out <result.json>', 'output file, - for stdout')
    .option('--seed <int>', 'random seed for --samples', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .option('--marginals', 'add the clusters with marginal probability >= --marginal-threshold')
    .option('--marginal-threshold <p>', 'smallest cluster probability listed', '0.01')
    .option('--samples <int>', 'exact posterior samples of hierarchies per jet')
    .option('--beam-width <int>', 'beam width of the beam-search baseline', '10')
    .option('--lambda-grid <v1,v2,..>', 'also the exact marginal likelihood of all jets on this grid of λ and the posterior (flat prior)')
    .option('--backend <cpu|webgpu>', 'where log Z, the MAP and the marginals run (webgpu: f32, no count, no samples)', 'cpu')
    .action(commandTrellis);
}
