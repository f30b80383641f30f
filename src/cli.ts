#!/usr/bin/env node
/**
 * sbi-engine command-line interface. Contract (stable; see README): `sbi-engine <command>
 * [options]`, options as `--name value` or `--name=value` (values may start with a minus sign),
 * tables as CSV with a header row, `--out -` for stdout, `--seed`, `--backend`, `--threads`.
 */
import { realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { SbiError } from './errors.js';
import type { BackendRequest } from './backend/backend.js';
import { closeWebGpu } from './backend/webgpu.js';
import { writeCsv, readCsvFile, type Columns } from './csv.js';
import { getTask, listTasks, hasReferenceData, referenceObservation, simulateFromPrior } from './tasks/index.js';
import { METHODS, SEQUENTIAL_METHODS, isMethodName, runMethod, stageBackends, trainMethod, type MethodName } from './inference/methods.js';
import { DENSITY_ESTIMATOR_KINDS, type DensityEstimatorKind } from './inference/flow_estimator.js';
import { coverageFromRanks, sbc } from './diagnostics/calibration.js';
import { ProgressLine } from './progress.js';
import { deriveSeed, SeedPurpose } from './seeds.js';
import type { SimulationResult } from './simulators/simulator.js';
import { c2st } from './diagnostics/c2st.js';
import { addTrellisCommands } from './trellis/cli.js';
import { addFlowCommands } from './manifold/cli.js';
import { addLatticeCommands } from './lattice/cli.js';

class UsageError extends Error {}

function parseNumberList(value: string, name: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out = parts.map(Number);
  parts.forEach((p, i) => {
    if (p === '' || !Number.isFinite(out[i])) {
      throw new UsageError(`--${name}: expected comma-separated finite numbers but "${p}" is not one (in "${value}")`);
    }
  });
  return out;
}

function parseInteger(value: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name}: expected an integer in [${min}, ${max}] but received "${value}"`);
  }
  return v;
}

function checkDensityEstimator(value: string): asserts value is DensityEstimatorKind {
  if (!(DENSITY_ESTIMATOR_KINDS as string[]).includes(value)) {
    throw new UsageError(`--density-estimator: expected one of ${DENSITY_ESTIMATOR_KINDS.join(', ')} but received "${value}"`);
  }
}

function parseSeed(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--seed: expected a non-negative integer but received "${value}"`);
  const s = BigInt(value.trim());
  if (s >= 1n << 64n) throw new UsageError(`--seed: expected an integer below 2^64 but received "${value}"`);
  return s;
}

/** Commands that run some of their ops on other backends (docs/backends.md). */
const BACKEND_COMMANDS = ['simulate', 'infer', 'coverage', 'c2st'];

/**
 * The --backend value. `simulate`, `infer` and `c2st` run ops on other backends (infer: the
 * simulations and NPE's posterior draws, saying on stderr which stage ran where; c2st: the
 * classifier, on webgpu); elsewhere webgpu and cuda are an error, never a silent run on the CPU.
 */
function checkBackend(value: string | undefined, command = ''): BackendRequest {
  if (value === undefined) return 'cpu';
  if (value !== 'cpu' && value !== 'webgpu' && value !== 'cuda' && value !== 'auto') {
    throw new UsageError(`--backend: expected one of cpu, webgpu, cuda, auto but received "${value}"`);
  }
  if (!BACKEND_COMMANDS.includes(command) && (value === 'webgpu' || value === 'cuda')) {
    throw new SbiError(`--backend ${value}: ${command || 'this command'} runs on the cpu backend only for now (${BACKEND_COMMANDS.join(', ')} have kernels on other backends)`, 'UNSUPPORTED_OP');
  }
  return value;
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--seed <int>', 'random seed (non-negative integer)', '0')
    .option('--threads <int>', 'worker threads (default: all cores)')
    .addOption(new Option('--backend <name>', 'compute backend: cpu, webgpu, cuda or auto (other than cpu: simulate, infer\'s simulations, NPE\'s and NLE\'s flow training, NPE\'s flow sampling and NLE\'s MCMC potential, c2st\'s classifier, so far)').default('cpu'));
}

async function commandTasks(opts: { out: string }): Promise<void> {
  const tasks = listTasks();
  const lines = ['name,theta_dim,x_dim,design,gold,reference,description'];
  for (const t of tasks) {
    const design = t.design.map((d) => `${d.name}=${d.default}`).join(' ');
    lines.push([t.name, t.thetaDim, t.xDim, design, t.gold, hasReferenceData(t.name), `"${t.description.replace(/"/g, '""')}"`].join(','));
  }
  const text = lines.join('\n') + '\n';
  if (opts.out === '-') process.stdout.write(text);
  else writeFileSync(opts.out, text);
}

interface SimulateCliOptions {
  task: string;
  theta?: string;
  thetaFile?: string;
  fromPrior?: boolean;
  n?: string;
  out: string;
  seed: string;
  threads?: string;
  backend?: string;
  design?: string;
  gold?: boolean;
  thetaRef?: string;
}

async function commandSimulate(opts: SimulateCliOptions): Promise<void> {
  const backend = checkBackend(opts.backend, 'simulate');
  const task = getTask(opts.task);
  const def = task.definition;
  const seed = parseSeed(opts.seed);
  const threads = opts.threads !== undefined ? parseInteger(opts.threads, 'threads', 1, 1024) : undefined;
  const sources = [opts.theta !== undefined, opts.thetaFile !== undefined, opts.fromPrior === true].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('simulate: give exactly one of --theta, --theta-file, --from-prior');

  let n = opts.n !== undefined ? parseInteger(opts.n, 'n', 1, 2 ** 40) : undefined;
  let theta: Float64Array;
  if (opts.fromPrior) {
    if (n === undefined) throw new UsageError('simulate --from-prior: --n is required');
    theta = task.prior.sample(n, { seed: deriveSeed(seed, SeedPurpose.prior), ...(threads ? { threads } : {}) });
  } else {
    let rows: Float64Array;
    if (opts.theta !== undefined) {
      rows = Float64Array.from(parseNumberList(opts.theta, 'theta'));
      if (rows.length !== def.thetaDim) {
        throw new UsageError(`--theta: task ${def.name} has ${def.thetaDim} parameters but ${rows.length} values were given`);
      }
    } else {
      const table = readCsvFile(opts.thetaFile!);
      if (table.cols !== def.thetaDim) {
        throw new UsageError(`--theta-file: task ${def.name} has ${def.thetaDim} parameters but ${opts.thetaFile} has ${table.cols} columns`);
      }
      rows = table.data;
    }
    const m = rows.length / def.thetaDim;
    if (n === undefined) {
      if (opts.theta !== undefined) throw new UsageError('simulate --theta: --n is required');
      n = m;
    } else if (m !== 1 && m !== n) {
      throw new UsageError(`--n ${n} does not match the ${m} rows of --theta-file (give --n ${m}, or a file with one row)`);
    }
    if (m === n) theta = rows;
    else {
      theta = new Float64Array(n * def.thetaDim);
      for (let i = 0; i < n; i++) theta.set(rows, i * def.thetaDim);
    }
  }

  let design: number[] | undefined;
  if (opts.design !== undefined) {
    if (def.design.length === 0) throw new UsageError(`--design: task ${def.name} has no design variables`);
    design = parseNumberList(opts.design, 'design');
    if (design.length !== def.design.length) {
      throw new UsageError(`--design: task ${def.name} has ${def.design.length} design variables (${def.design.map((d) => d.name).join(', ')}) but ${design.length} values were given`);
    }
  } else if (def.design.length > 0) {
    design = Array.from(task.defaultDesign);
  }
  let thetaRef: Float64Array | undefined;
  if (opts.thetaRef !== undefined) {
    if (!opts.gold) throw new UsageError('--theta-ref needs --gold');
    thetaRef = Float64Array.from(parseNumberList(opts.thetaRef, 'theta-ref'));
    if (thetaRef.length !== def.thetaDim) {
      throw new UsageError(`--theta-ref: task ${def.name} has ${def.thetaDim} parameters but ${thetaRef.length} values were given`);
    }
  }
  if (opts.gold && !def.gold) {
    throw new SbiError(`--gold: task ${def.name} has no joint likelihood (tasks with gold: ${listTasks().filter((t) => t.gold).map((t) => t.name).join(', ') || 'none'})`, 'NO_GOLD');
  }

  const showProgress = process.stderr.isTTY === true && n >= 100_000;
  const result: SimulationResult = await task.simulator.simulate(theta, {
    seed: deriveSeed(seed, SeedPurpose.simulator),
    backend,
    ...(threads ? { threads } : {}),
    ...(design ? { design } : {}),
    ...(opts.gold ? { gold: true } : {}),
    ...(thetaRef ? { thetaRef } : {}),
    ...(showProgress ? { onProgress: (done: number, total: number) => process.stderr.write(`\rsimulated ${done}/${total}`) } : {}),
  });
  if (showProgress) process.stderr.write('\n');

  const blocks: Columns[] = [];
  const names = (prefix: string, k: number) => Array.from({ length: k }, (_, i) => `${prefix}_${i + 1}`);
  if (opts.fromPrior) blocks.push({ names: names('theta', def.thetaDim), values: theta });
  blocks.push({ names: names('x', def.xDim), values: result.x });
  if (result.gold) {
    blocks.push({ names: ['joint_log_likelihood'], values: result.gold.jointLogLikelihood });
    blocks.push({ names: names('joint_score', def.thetaDim), values: result.gold.jointScore });
    if (result.gold.jointLogRatio) blocks.push({ names: ['joint_log_ratio'], values: result.gold.jointLogRatio });
  }
  await writeCsv(opts.out, n, blocks);
  if (result.failedCount > 0) {
    process.stderr.write(`sbi-engine: warning: ${result.failedCount} of ${n} simulations failed; their x rows are nan\n`);
  }
}

interface InferCliOptions {
  task: string;
  method: string;
  budget: string;
  observation?: string;
  xFile?: string;
  samples: string;
  out: string;
  seed: string;
  threads?: string;
  backend?: string;
  densityEstimator: string;
  embedding?: string;
  save?: string;
  maxEpochs?: string;
  rounds?: string;
  chains?: string;
  warmup?: string;
  thin?: string;
}

async function commandInfer(opts: InferCliOptions): Promise<void> {
  const backend = checkBackend(opts.backend, 'infer');
  if (!isMethodName(opts.method)) {
    throw new UsageError(`--method: expected one of ${METHODS.join(', ')} but received "${opts.method}"`);
  }
  const seed = parseSeed(opts.seed);
  const threads = opts.threads !== undefined ? parseInteger(opts.threads, 'threads', 1, 1024) : undefined;
  // Training needs ⌊0.1 n⌋ ≥ 1 validation rows.
  const budget = parseInteger(opts.budget, 'budget', 10, 2 ** 31 - 1);
  const samples = parseInteger(opts.samples, 'samples', 1, 2 ** 31);
  const maxEpochs = opts.maxEpochs !== undefined ? parseInteger(opts.maxEpochs, 'max-epochs', 1, 2 ** 31 - 1) : undefined;
  const rounds = opts.rounds !== undefined ? parseInteger(opts.rounds, 'rounds', 1, 1000) : undefined;
  const mcmc = {
    ...(opts.chains !== undefined ? { chains: parseInteger(opts.chains, 'chains', 1, 1 << 20) } : {}),
    ...(opts.warmup !== undefined ? { warmup: parseInteger(opts.warmup, 'warmup', 0, 2 ** 31 - 1) } : {}),
    ...(opts.thin !== undefined ? { thin: parseInteger(opts.thin, 'thin', 1, 2 ** 31 - 1) } : {}),
  };
  const estimator = opts.densityEstimator;
  checkDensityEstimator(estimator);
  if ((opts.observation !== undefined) === (opts.xFile !== undefined)) throw new UsageError('infer: give exactly one of --observation, --x-file');
  const embedding = opts.embedding !== undefined ? parseEmbedding(opts.embedding, opts.method) : undefined;

  const task = getTask(opts.task);
  const def = task.definition;
  let x: Float64Array;
  if (opts.observation !== undefined) {
    const k = parseInteger(opts.observation, 'observation', 1, 5);
    x = referenceObservation(def.name, k);
  } else {
    const table = readCsvFile(opts.xFile!);
    if (table.cols !== def.xDim || table.rows !== 1) {
      throw new UsageError(`--x-file: task ${def.name} needs one observation of ${def.xDim} values (one row) but ${opts.xFile} has ${table.rows} rows of ${table.cols} columns`);
    }
    x = table.data;
  }
  if (x.length !== def.xDim) throw new SbiError(`The observation of task ${def.name} has ${x.length} values but its simulator gives ${def.xDim}`, 'BAD_OBSERVATION');
  x.forEach((v, j) => {
    if (!Number.isFinite(v)) throw new UsageError(`observation: value ${j + 1} is ${v}; expected finite numbers`);
  });

  const progress = new ProgressLine(process.stderr);
  let result;
  try {
    result = await runMethod(task, {
      method: opts.method, budget, x, samples, seed, densityEstimator: estimator,
      ...(embedding ? { embedding } : {}),
      ...(threads ? { threads } : {}),
      ...(maxEpochs !== undefined ? { maxEpochs } : {}),
      ...(rounds !== undefined ? { rounds } : {}),
      ...(Object.keys(mcmc).length > 0 ? { mcmc } : {}),
      ...(progress.enabled ? { onProgress: progress.update } : {}),
      ...(backend !== 'cpu' ? { backend } : {}),
    });
  } finally {
    progress.end();
  }
  if (backend !== 'cpu') {
    const b = result.backends;
    process.stderr.write(`sbi-engine: infer --backend ${backend}: simulate on ${b.simulate}, train on ${b.train}, sample on ${b.sample}${b.notes.length ? ` (${b.notes.join('; ')})` : ''}\n`);
  }
  if (result.excludedSimulations > 0) {
    process.stderr.write(`sbi-engine: warning: ${result.excludedSimulations} of ${budget} simulations failed and were not trained on\n`);
  }
  if (opts.save !== undefined) result.save(opts.save);
  const names = Array.from({ length: def.thetaDim }, (_, i) => `parameter_${i + 1}`);
  await writeCsv(opts.out, samples, [{ names, values: result.samples }]);
}

/** `--embedding w1,..,K`: the embedding MLP's widths after x, hidden layers then the output width K. */
function parseEmbedding(text: string, method: MethodName): { hidden: number[]; outputDim: number } {
  if (method === 'nle' || method === 'snle') {
    throw new UsageError(`--embedding: method ${method} takes no embedding network: its flow models p(x | θ), whose variable is x itself (use npe, snpe or an NRE method)`);
  }
  const widths = text.split(',').map((w) => w.trim());
  if (widths.length > 64 || widths.some((w) => !/^[1-9][0-9]*$/.test(w) || Number(w) > 65536)) {
    throw new UsageError(`--embedding: expected 1 to 64 comma-separated widths in [1, 65536] (hidden layers, then the output width; e.g. 100,100,20) but received "${text}"`);
  }
  const n = widths.map(Number);
  return { hidden: n.slice(0, -1), outputDim: n[n.length - 1]! };
}

interface CoverageCliOptions {
  task: string;
  method: string;
  budget: string;
  observations: string;
  samples: string;
  levels?: string;
  bins?: string;
  out: string;
  ranksOut?: string;
  seed: string;
  threads?: string;
  backend?: string;
  densityEstimator: string;
  embedding?: string;
  maxEpochs?: string;
}

async function commandCoverage(opts: CoverageCliOptions): Promise<void> {
  const backend = checkBackend(opts.backend, 'coverage');
  if (!isMethodName(opts.method)) throw new UsageError(`--method: expected one of ${METHODS.join(', ')} but received "${opts.method}"`);
  if (SEQUENTIAL_METHODS.includes(opts.method)) {
    throw new UsageError(`--method ${opts.method}: coverage needs an amortised estimator (npe, nle, nre-a, nre-b, nre-c, bnre); a sequential one is only valid at its own observation`);
  }
  const seed = parseSeed(opts.seed);
  const threads = opts.threads !== undefined ? parseInteger(opts.threads, 'threads', 1, 1024) : undefined;
  const budget = parseInteger(opts.budget, 'budget', 10, 2 ** 31 - 1);
  const observations = parseInteger(opts.observations, 'observations', 2, 1e7);
  const samples = parseInteger(opts.samples, 'samples', 1, 1e7);
  const maxEpochs = opts.maxEpochs !== undefined ? parseInteger(opts.maxEpochs, 'max-epochs', 1, 2 ** 31 - 1) : undefined;
  const bins = opts.bins !== undefined ? parseInteger(opts.bins, 'bins', 2, samples + 1) : undefined;
  const levels = opts.levels !== undefined ? parseNumberList(opts.levels, 'levels') : undefined;
  levels?.forEach((a) => {
    if (!(a > 0 && a < 1)) throw new UsageError(`--levels: expected levels in (0, 1) but received ${a}`);
  });
  const estimator = opts.densityEstimator;
  checkDensityEstimator(estimator);
  const embedding = opts.embedding !== undefined ? parseEmbedding(opts.embedding, opts.method) : undefined;
  const task = getTask(opts.task);
  const progress = new ProgressLine(process.stderr);
  try {
    const stages = await stageBackends(task, opts.method, backend, estimator);
    const trained = await trainMethod(task, {
      method: opts.method, budget, seed, densityEstimator: estimator, ...(embedding ? { embedding } : {}),
      ...(threads ? { threads } : {}), ...(maxEpochs !== undefined ? { maxEpochs } : {}),
      ...(progress.enabled ? { onProgress: progress.update } : {}),
      ...(backend !== 'cpu' ? { backend } : {}),
    });
    // Fresh test pairs, independent of the training simulations.
    const pairs = await simulateFromPrior(task, observations, {
      seed: deriveSeed(seed, SeedPurpose.calibration), ...(threads ? { threads } : {}), ...(backend !== 'cpu' ? { backend } : {}),
    });
    const posterior = {
      sample: (n: number, o: { x: Float64Array; seed: bigint }) => trained.posterior.sample(n, o),
      logProb: (theta: Float64Array, o: { x: Float64Array }) => trained.posterior.logProb(theta, o),
    };
    const result = await sbc(posterior, {
      theta: pairs.theta, x: pairs.x, xDim: task.definition.xDim, samplesPerObservation: samples, seed,
      ...(bins !== undefined ? { bins } : {}),
      ...(progress.enabled ? { onProgress: (done: number, total: number) => progress.update({ phase: 'sample', round: 1, rounds: 1, done, total }) } : {}),
    });
    progress.end();
    const coverage = coverageFromRanks(result.logProbRanks!, samples, levels);
    await writeCsv(opts.out, coverage.levels.length, [
      { names: ['level'], values: coverage.levels },
      { names: ['coverage'], values: coverage.coverage },
      { names: ['standard_error'], values: coverage.standardError },
      { names: ['conservative'], values: Float64Array.from(coverage.conservative, (c) => (c ? 1 : 0)) },
    ]);
    if (opts.ranksOut !== undefined) {
      const dim = result.dim;
      const ranks = new Float64Array(observations * (dim + 1));
      for (let i = 0; i < observations; i++) {
        for (let d = 0; d < dim; d++) ranks[i * (dim + 1) + d] = result.ranks[i * dim + d]!;
        ranks[i * (dim + 1) + dim] = result.logProbRanks![i]!;
      }
      await writeCsv(opts.ranksOut, observations, [{ names: [...Array.from({ length: dim }, (_, d) => `rank_${d + 1}`), 'logprob_rank'], values: ranks }]);
    }
    if (backend !== 'cpu') {
      process.stderr.write(`sbi-engine: coverage --backend ${backend}: simulate on ${stages.simulate}, train on ${stages.train}, sample on ${stages.sample}${stages.notes.length ? ` (${stages.notes.join('; ')})` : ''}\n`);
    }
    const p = result.dimensions.map((u, d) => `sbc_p_${d + 1}=${u.pValue.toPrecision(3)}`).join(' ');
    process.stderr.write(`calibration_error=${coverage.calibrationError.toFixed(4)} ${p} logprob_rank_p=${result.logProb!.pValue.toPrecision(3)}\n`);
  } finally {
    progress.end();
  }
}

interface C2stCliOptions {
  seed: string;
  threads?: string;
  backend?: string;
  folds: string;
  maxEpochs?: string;
}

async function commandC2st(fileA: string, fileB: string, opts: C2stCliOptions): Promise<void> {
  const backend = checkBackend(opts.backend, 'c2st');
  const seed = parseSeed(opts.seed);
  const threads = opts.threads !== undefined ? parseInteger(opts.threads, 'threads', 1, 1024) : undefined;
  const folds = parseInteger(opts.folds, 'folds', 2, 1000);
  const maxEpochs = opts.maxEpochs !== undefined ? parseInteger(opts.maxEpochs, 'max-epochs', 1, 1e9) : undefined;
  const a = readCsvFile(fileA);
  const b = readCsvFile(fileB);
  if (a.cols !== b.cols) throw new UsageError(`c2st: ${fileA} has ${a.cols} columns but ${fileB} has ${b.cols}`);
  for (const [t, file] of [[a, fileA], [b, fileB]] as const) {
    if (t.rows < folds) throw new UsageError(`c2st: ${file} has ${t.rows} rows but ${folds}-fold cross-validation needs at least ${folds}`);
  }
  const accuracy = await c2st(a.data, b.data, a.cols, { seed, folds, backend, ...(threads ? { threads } : {}), ...(maxEpochs !== undefined ? { maxEpochs } : {}) });
  process.stdout.write(`${accuracy}\n`);
}

export function buildProgram(): Command {
  const program = new Command('sbi-engine')
    .description('Simulation-based inference engine: native simulators, estimators and diagnostics')
    .exitOverride()
    .showHelpAfterError();
  program
    .command('tasks')
    .description('list the tasks with their dimensions (CSV)')
    .option('--out <file>', 'output file, - for stdout', '-')
    .action(commandTasks);
  commonOptions(
    program
      .command('simulate')
      .description('simulate x for given θ, θ from a file, or θ drawn from the prior')
      .requiredOption('--task <name>', 'task name (see `sbi-engine tasks`)')
      .option('--theta <v1,v2,..>', 'one parameter vector, repeated --n times')
      .option('--theta-file <file.csv>', 'parameter vectors, one per row (header row first)')
      .option('--from-prior', 'draw θ from the task prior; output columns theta_1..,x_1..')
      .option('--n <int>', 'number of simulations')
      .requiredOption('--out <file.csv>', 'output file, - for stdout')
      .option('--design <v1,..>', "design variables (e.g. √s for weinberg)")
      .option('--gold', 'add joint_log_likelihood, joint_score_1.. (and joint_log_ratio with --theta-ref)')
      .option('--theta-ref <v1,..>', 'reference θ for joint_log_ratio (with --gold)'),
  ).action(commandSimulate);
  commonOptions(
    program
      .command('infer')
      .description('simulate --budget draws from the task prior, train the estimator and sample its posterior at the observation')
      .requiredOption('--task <name>', 'task name (see `sbi-engine tasks`)')
      .requiredOption('--method <name>', `inference method: ${METHODS.join(', ')}`)
      .requiredOption('--budget <int>', 'number of simulations')
      .option('--observation <k>', "the task's reference observation k (1..5)")
      .option('--x-file <file.csv>', 'the observation as one CSV row (header row first)')
      .requiredOption('--samples <int>', 'posterior samples to write')
      .requiredOption('--out <file.csv>', 'output file (columns parameter_1..), - for stdout')
      .option('--density-estimator <kind>', `npe, snpe, nle, snle: the conditional flow or mixture density network (mdn): ${DENSITY_ESTIMATOR_KINDS.join(', ')} (coupling: faster sampling for dim ≥ 3)`, 'maf')
      .option('--embedding <w1,..,K>', 'npe, snpe, nre-*, bnre, snre: a jointly trained ReLU embedding network of x, its widths after x: hidden layers, then the output width K (e.g. 100,100,20; one width: a linear map)')
      .option('--rounds <int>', 'sequential methods (snpe, snle, snre): rounds sharing the budget', '10')
      .option('--chains <int>', 'MCMC methods (nle, snle, nre-*, bnre, snre): slice-sampling chains for the posterior samples (default 100)')
      .option('--warmup <int>', 'MCMC methods: warm-up sweeps per chain, discarded (default 100)')
      .option('--thin <int>', 'MCMC methods: keep every thin-th sweep (default 10)')
      .option('--save <model.bin>', 'also write the trained estimator (NPE.load, NLE.load or NRE.load reads it; sequential methods: the last round\'s)')
      // Caps training epochs (default: early stopping only); for quick runs and tests.
      .addOption(new Option('--max-epochs <int>').hideHelp()),
  ).action(commandInfer);
  commonOptions(
    program
      .command('coverage')
      .description('train an amortised estimator, then simulation-based calibration and expected coverage on fresh prior-predictive pairs')
      .requiredOption('--task <name>', 'task name (see `sbi-engine tasks`)')
      .requiredOption('--method <name>', 'amortised method: npe, nle, nre-a, nre-b, nre-c, bnre')
      .requiredOption('--budget <int>', 'training simulations')
      .requiredOption('--observations <int>', 'test pairs (θ_i, x_i) from the prior predictive')
      .requiredOption('--samples <int>', 'posterior draws per test pair (L)')
      .requiredOption('--out <file.csv>', 'coverage table (level,coverage,standard_error,conservative), - for stdout')
      .option('--levels <a1,a2,..>', 'credibility levels in (0, 1) (default 0.05,0.10,..,0.95)')
      .option('--bins <int>', 'SBC histogram bins')
      .option('--ranks-out <file.csv>', 'also write the ranks (rank_1..rank_D,logprob_rank)')
      .option('--density-estimator <kind>', `npe, nle: the conditional flow or mixture density network (mdn): ${DENSITY_ESTIMATOR_KINDS.join(', ')} (coupling: faster sampling for dim ≥ 3)`, 'maf')
      .option('--embedding <w1,..,K>', 'npe, nre-*, bnre: a jointly trained ReLU embedding network of x (as for infer)')
      .addOption(new Option('--max-epochs <int>').hideHelp()),
  ).action(commandCoverage);
  commonOptions(
    program
      .command('c2st')
      .description("classifier two-sample test accuracy of B against the reference A (sbibm's c2st; 0.5 = indistinguishable)")
      .argument('<A.csv>', 'reference samples, one per row (header row first)')
      .argument('<B.csv>', 'samples to compare, same columns')
      .option('--folds <int>', 'cross-validation folds', '5')
      .option('--max-epochs <int>', "epoch cap per fold (default sbibm's 10000; lower departs from sbibm's C2ST)"),
  ).action(commandC2st);
  addTrellisCommands(program);
  addFlowCommands(program);
  addLatticeCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`sbi-engine: ${e.message}\n`);
      return 2;
    }
    const code = e instanceof SbiError ? ` [${e.code}]` : '';
    process.stderr.write(`sbi-engine: error${code}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await closeWebGpu(); // a live Dawn instance would keep the process from exiting
  }
}

// Run when executed directly (also through the npm bin symlink).
const invokedPath = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invokedPath === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
